//! The full-text index of what customers wrote and said: one document per PQR (subject and
//! description, written with the PQR) and per transcribed call (written with the transcript),
//! and emails once the email channel stores them. Searched per tenant with SQLite's FTS5 or
//! PostgreSQL's GIN-indexed `tsvector`; both fold case and accents and match whole words (or
//! prefixes), so the two stores find the same documents.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::{Any, AnyRow};

use super::sql::Sql;
use super::{Backend, Db, from_millis, to_millis};
use crate::domain::search::{self, Term};
use crate::error::Result;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A PQR's subject and description.
    Incident,
    /// A call's transcript.
    Call,
    /// An email (from the email channel).
    Email,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Incident => "incident",
            DocKind::Call => "call",
            DocKind::Email => "email",
        }
    }

    fn parse(value: &str) -> Option<DocKind> {
        [DocKind::Incident, DocKind::Call, DocKind::Email]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// Something to make searchable.
pub struct Document<'a> {
    pub kind: DocKind,
    /// The PQR's or call's id.
    pub ref_id: &'a str,
    pub incident_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    /// The call's agent; a PQR's agent is its assignee at search time.
    pub agent: Option<&'a str>,
    pub at: Timestamp,
    pub title: &'a str,
    pub body: &'a str,
}

/// FTS5 reads the tenant as one token of its own column.
fn tenant_token(tenant_id: &str) -> String {
    format!("t{}", tenant_id.replace('-', ""))
}

/// Adds or replaces a document, through `executor` (the transaction that stores what it indexes).
pub async fn index<'e, E>(
    executor: E,
    backend: Backend,
    tenant_id: &str,
    doc: &Document<'_>,
) -> Result<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let (extra_column, extra_value) = match backend {
        Backend::Sqlite => ("tenant_token", tenant_token(tenant_id)),
        Backend::Postgres => (
            "folded",
            search::fold(&format!("{} {}", doc.title, doc.body)),
        ),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO search_docs (tenant_id, kind, ref_id, incident_id, customer_id, agent, at, \
         title, body, {extra_column}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (tenant_id, kind, ref_id) DO UPDATE SET incident_id = excluded.incident_id, \
         customer_id = excluded.customer_id, agent = excluded.agent, at = excluded.at, \
         title = excluded.title, body = excluded.body, {extra_column} = excluded.{extra_column}"
    )))
    .bind(tenant_id)
    .bind(doc.kind.as_str())
    .bind(doc.ref_id)
    .bind(doc.incident_id)
    .bind(doc.customer_id)
    .bind(doc.agent)
    .bind(to_millis(doc.at))
    .bind(doc.title)
    .bind(doc.body)
    .bind(extra_value)
    .execute(executor)
    .await?;
    Ok(())
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first (BM25 on SQLite, `ts_rank` on PostgreSQL), newest among equals.
    #[default]
    Relevance,
    /// Newest first.
    Recent,
}

/// `GET /v1/search`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words that must all occur (accents and case do not matter); `factur*` matches words that
    /// start so. Up to 12 words.
    pub q: String,
    pub kind: Option<DocKind>,
    /// Documents dated at or after (a PQR's registration, a call's start), RFC 3339.
    #[param(value_type = Option<String>)]
    pub from: Option<Timestamp>,
    /// Documents dated before, RFC 3339.
    #[param(value_type = Option<String>)]
    pub to: Option<Timestamp>,
    /// A call's agent, or a PQR's assignee.
    pub agent: Option<String>,
    pub customer_id: Option<String>,
    pub sort: Option<SearchSort>,
    /// 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Results to skip, up to 1,000 (`next_offset` of the previous page).
    pub offset: Option<u32>,
}

/// One document found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub kind: DocKind,
    /// The PQR's or call's id.
    pub id: String,
    pub incident_id: Option<String>,
    pub customer_id: Option<String>,
    pub agent: Option<String>,
    pub at: Timestamp,
    pub title: String,
    /// The text around the first match.
    pub snippet: String,
    /// Higher is a better match (comparable within one response only).
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Pass as `offset` for the next page; null on the last.
    pub next_offset: Option<u32>,
}

/// Validated search filters.
pub struct SearchFilter {
    pub terms: Vec<Term>,
    pub kind: Option<DocKind>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub agent: Option<String>,
    pub customer_id: Option<String>,
    pub sort: SearchSort,
    pub limit: u32,
    pub offset: u32,
}

/// Characters of text shown around a match.
const SNIPPET_CHARS: usize = 160;

/// The FTS5 query: the tenant's token, and every term in the title or body.
fn fts5_query(tenant_id: &str, terms: &[Term]) -> String {
    let words: Vec<String> = terms
        .iter()
        .map(|t| {
            if t.prefix {
                format!("\"{}\" *", t.word)
            } else {
                format!("\"{}\"", t.word)
            }
        })
        .collect();
    format!(
        "tenant_token : {} AND {{title body}} : ({})",
        tenant_token(tenant_id),
        words.join(" AND ")
    )
}

/// The tsquery: every term, prefixes as `word:*`.
fn tsquery(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| {
            if t.prefix {
                format!("{}:*", t.word)
            } else {
                t.word.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

pub async fn search(db: &Db, tenant_id: &str, filter: &SearchFilter) -> Result<SearchResults> {
    const SELECT: &str = "SELECT d.kind, d.ref_id, d.incident_id, d.customer_id, \
        COALESCE(d.agent, i.assignee) AS agent, d.at, d.title, d.body";
    const JOIN: &str = "LEFT JOIN incidents i ON d.kind = 'incident' AND i.id = d.incident_id";
    let mut sql = match db.backend {
        Backend::Sqlite => {
            // CROSS JOIN makes the full-text match the outer loop: otherwise SQLite may walk the
            // tenant's documents and evaluate the match once per document (30 s at 200k).
            let mut sql = Sql::new(&format!(
                "{SELECT}, -bm25(search_fts, 0.0, 2.0, 1.0) AS score FROM search_fts \
                 CROSS JOIN search_docs d {JOIN} WHERE search_fts MATCH "
            ));
            sql.bind(fts5_query(tenant_id, &filter.terms));
            sql.push(" AND d.id = search_fts.rowid AND d.tenant_id = ")
                .bind(tenant_id.to_owned());
            sql
        }
        Backend::Postgres => {
            let mut sql = Sql::new(&format!(
                "{SELECT}, CAST(ts_rank(d.words, q.query) AS DOUBLE PRECISION) AS score \
                 FROM search_docs d {JOIN} CROSS JOIN (SELECT to_tsquery('simple', "
            ));
            sql.bind(tsquery(&filter.terms));
            sql.push(") AS query) q WHERE d.words @@ q.query AND d.tenant_id = ")
                .bind(tenant_id.to_owned());
            sql
        }
    };
    if let Some(kind) = filter.kind {
        sql.push(" AND d.kind = ").bind(kind.as_str().to_owned());
    }
    if let Some(from) = filter.from {
        sql.push(" AND d.at >= ").bind(to_millis(from));
    }
    if let Some(to) = filter.to {
        sql.push(" AND d.at < ").bind(to_millis(to));
    }
    if let Some(customer) = &filter.customer_id {
        sql.push(" AND d.customer_id = ").bind(customer.clone());
    }
    if let Some(agent) = &filter.agent {
        sql.push(" AND COALESCE(d.agent, i.assignee) = ")
            .bind(agent.clone());
    }
    sql.push(match filter.sort {
        SearchSort::Relevance => " ORDER BY score DESC, d.at DESC, d.id DESC",
        SearchSort::Recent => " ORDER BY d.at DESC, d.id DESC",
    });
    // One more than asked: whether there is a next page.
    sql.push(" LIMIT ")
        .bind(i64::from(filter.limit) + 1)
        .push(" OFFSET ")
        .bind(i64::from(filter.offset));
    let rows = sql.fetch_all(&db.reader).await?;
    let more = rows.len() > filter.limit as usize;
    let items = rows
        .iter()
        .take(filter.limit as usize)
        .map(|row| hit(row, &filter.terms))
        .collect::<Result<Vec<_>>>()?;
    Ok(SearchResults {
        next_offset: more.then_some(filter.offset + filter.limit),
        items,
    })
}

fn hit(row: &AnyRow, terms: &[Term]) -> Result<SearchHit> {
    let kind: String = row.try_get("kind")?;
    let body: String = row.try_get("body")?;
    Ok(SearchHit {
        kind: DocKind::parse(&kind).unwrap_or(DocKind::Incident),
        id: row.try_get("ref_id")?,
        incident_id: row.try_get("incident_id")?,
        customer_id: row.try_get("customer_id")?,
        agent: row.try_get("agent")?,
        at: from_millis(row.try_get("at")?),
        title: row.try_get("title")?,
        snippet: search::snippet(&body, terms, SNIPPET_CHARS),
        score: row.try_get("score")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_the_tenant_and_every_term() {
        let terms = search::parse_query("cobro factur*").unwrap();
        assert_eq!(
            fts5_query("0190-ab", &terms),
            "tenant_token : t0190ab AND {title body} : (\"cobro\" AND \"factur\" *)"
        );
        assert_eq!(tsquery(&terms), "cobro & factur:*");
    }
}
