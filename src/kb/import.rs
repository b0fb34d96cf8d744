//! Bulk import of knowledge-base articles from CSV or JSON Lines, e.g. a help desk's export or
//! the Bitext responses. The upload is read and validated whole before anything is stored: one bad
//! row rejects the file with every error listed by line (the first 100). The
//! valid articles become a job's payload; the job embeds and saves them in batches, reporting
//! progress and a checkpoint after each, so a restart resumes where it stopped.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::App;
use crate::domain::kb::{ArticleData, ArticleInput};
use crate::domain::new_id;
use crate::domain::upload::{FileFormat, truncate_errors};
use crate::domain::validation::FieldError;
use crate::error::{Error, Result};
use crate::jobs::{JobContext, JobError, JobResult};
use crate::store::jobs::Report;
use crate::store::kb::SaveAs;

/// The job kind.
pub const KIND: &str = "kb_import";
/// Most articles one import may hold.
pub const MAX_ARTICLES: usize = 50_000;
/// Articles embedded and saved together.
const BATCH: usize = 16;

/// Which CSV columns hold which field; defaults are the field names themselves. JSON Lines
/// objects use the field names of `ArticleInput` directly.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// `csv` or `jsonl`; by default taken from the `Content-Type`.
    pub format: Option<FileFormat>,
    /// Column with the title (default `title`).
    pub title_column: Option<String>,
    /// Column with the body (default `body`).
    pub body_column: Option<String>,
    /// Column with the tenant's own id (default `external_id`; optional column). Rows repeating
    /// an id already seen in the file are skipped and counted.
    pub external_id_column: Option<String>,
    /// Column with tags separated by `;` or `|` (default `tags`; optional column).
    pub tags_column: Option<String>,
    /// Column with the product (default `product`; optional column).
    pub product_column: Option<String>,
    /// Column with the category (default `category`; optional column).
    pub category_column: Option<String>,
    /// Column with the language (default `language`; optional column).
    pub language_column: Option<String>,
    /// Language of rows that do not say (default `es`).
    pub language: Option<String>,
}

/// One article of an import, with the id it gets if it is new.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    id: String,
    article: serde_json::Value,
}

/// The job's input.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    items: Vec<Item>,
    skipped_duplicates: usize,
}

/// Where an interrupted import got to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    next: usize,
    created: usize,
    replaced: usize,
}

/// What a finished import reports as its job's `result`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub articles: usize,
    pub created: usize,
    pub replaced: usize,
    /// Rows whose external id already appeared earlier in the file.
    pub skipped_duplicates: usize,
}

/// Reads and validates an upload; `Err(Validation)` lists the bad rows by line.
pub fn parse(body: &[u8], format: FileFormat, options: &ImportOptions) -> Result<Vec<ArticleData>> {
    let text = std::str::from_utf8(body).map_err(|e| Error::Malformed {
        detail: format!("the file is not UTF-8 (at byte {})", e.valid_up_to()),
        field: None,
    })?;
    let rows = match format {
        FileFormat::Jsonl => jsonl_rows(text),
        FileFormat::Csv => csv_rows(text, options)?,
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let mut articles = Vec::new();
    for (line, row) in rows {
        let parsed = row.and_then(|mut input| {
            if input.language.is_empty() {
                input.language = options.language.clone().unwrap_or_else(|| "es".into());
            }
            input.parse()
        });
        match parsed {
            Ok(article) => articles.push(article),
            Err(row_errors) => errors.extend(row_errors.into_iter().map(|e| e.at_line(line))),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(truncate_errors(errors)));
    }
    if articles.is_empty() {
        return Err(Error::validation("", "the file holds no articles"));
    }
    if articles.len() > MAX_ARTICLES {
        return Err(Error::validation(
            "",
            format!(
                "the file holds {} articles; at most {MAX_ARTICLES} per import",
                articles.len()
            ),
        ));
    }
    Ok(articles)
}

type Row = std::result::Result<ArticleInput, Vec<FieldError>>;

fn jsonl_rows(text: &str) -> Vec<(u64, Row)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let mut deserializer = serde_json::Deserializer::from_str(line);
            let row = serde_path_to_error::deserialize::<_, ArticleInput>(&mut deserializer)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let field = if path == "." { String::new() } else { path };
                    vec![FieldError::new(field, e.inner().to_string())]
                });
            (i as u64 + 1, row)
        })
        .collect()
}

fn csv_rows(text: &str, options: &ImportOptions) -> Result<Vec<(u64, Row)>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::validation("", format!("unreadable CSV header: {e}")))?
        .clone();
    let column =
        |chosen: &Option<String>, default: &str, required: bool| -> Result<Option<usize>> {
            let name = chosen.as_deref().unwrap_or(default);
            match headers.iter().position(|h| h.trim() == name) {
                Some(index) => Ok(Some(index)),
                None if required || chosen.is_some() => Err(Error::validation(
                    format!("{default}_column"),
                    format!(
                        "the CSV header has no column {name:?} (it has: {})",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                )),
                None => Ok(None),
            }
        };
    let title = column(&options.title_column, "title", true)?;
    let body = column(&options.body_column, "body", true)?;
    let external_id = column(&options.external_id_column, "external_id", false)?;
    let tags = column(&options.tags_column, "tags", false)?;
    let product = column(&options.product_column, "product", false)?;
    let category = column(&options.category_column, "category", false)?;
    let language = column(&options.language_column, "language", false)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                rows.push((line, Err(vec![FieldError::new("", e.to_string())])));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |index: Option<usize>| {
            index
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let input = ArticleInput {
            external_id: get(external_id),
            title: get(title).unwrap_or_default(),
            body: get(body).unwrap_or_default(),
            tags: get(tags)
                .map(|t| {
                    t.split([';', '|'])
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            language: get(language).unwrap_or_default(),
            product: get(product),
            category: get(category),
        };
        rows.push((line, Ok(input)));
    }
    Ok(rows)
}

/// Drops rows whose external id appeared earlier in the file; returns how many.
fn drop_repeated_ids(articles: &mut Vec<ArticleData>) -> usize {
    let before = articles.len();
    let mut seen = HashSet::new();
    articles.retain(|a| {
        a.external_id
            .as_ref()
            .is_none_or(|id| seen.insert(id.clone()))
    });
    before - articles.len()
}

/// Queues the validated articles as an import job and returns it.
pub async fn enqueue(
    app: &App,
    tenant_id: &str,
    mut articles: Vec<ArticleData>,
) -> Result<crate::store::jobs::Job> {
    let skipped_duplicates = drop_repeated_ids(&mut articles);
    let items = articles
        .into_iter()
        .map(|article| {
            Ok(Item {
                id: new_id(),
                article: serde_json::to_value(article)
                    .map_err(|e| Error::Internal(format!("article does not serialise: {e}")))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let payload = serde_json::to_value(Payload {
        items,
        skipped_duplicates,
    })
    .map_err(|e| Error::Internal(format!("import does not serialise: {e}")))?;
    crate::jobs::enqueue(app, tenant_id, KIND, &payload).await
}

/// The job: embeds and saves the articles in batches, resuming after the last checkpoint.
pub async fn run(app: &Arc<App>, ctx: &mut JobContext) -> JobResult {
    let payload: Payload = serde_json::from_value(ctx.payload.clone())
        .map_err(|e| JobError::Failed(format!("unreadable import payload: {e}")))?;
    let mut at: Checkpoint = match &ctx.checkpoint {
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| JobError::Failed(format!("unreadable import checkpoint: {e}")))?,
        None => Checkpoint::default(),
    };
    let knowledge = app.knowledge().await?;
    let total = payload.items.len();
    while at.next < total {
        let end = (at.next + BATCH).min(total);
        let batch = payload.items[at.next..end]
            .iter()
            .map(|item| {
                // Validated at upload; checked again so a payload can never bypass the rules.
                let input: ArticleInput = serde_json::from_value(item.article.clone())
                    .map_err(|e| JobError::Failed(format!("unreadable stored article: {e}")))?;
                let data = input.parse().map_err(Error::Validation)?;
                Ok((SaveAs::Import(item.id.as_str()), data))
            })
            .collect::<std::result::Result<Vec<_>, JobError>>()?;
        for (_, created) in knowledge.save_all(&ctx.tenant_id, &batch).await? {
            if created {
                at.created += 1;
            } else {
                at.replaced += 1;
            }
        }
        at.next = end;
        ctx.progress(Report {
            done: end as i64,
            total: Some(total as i64),
            message: Some(format!("{end} of {total} articles indexed")),
            checkpoint: Some(serde_json::to_value(&at).unwrap_or_default()),
        })
        .await?;
    }
    serde_json::to_value(ImportSummary {
        articles: total,
        created: at.created,
        replaced: at.replaced,
        skipped_duplicates: payload.skipped_duplicates,
    })
    .map_err(|e| JobError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_options() -> ImportOptions {
        ImportOptions::default()
    }

    #[test]
    fn csv_with_mapped_columns_becomes_articles() {
        let text = "intent,response,flags\ncancel_order,\"Para cancelar, llame.\",B\n";
        let options = ImportOptions {
            title_column: Some("intent".into()),
            body_column: Some("response".into()),
            external_id_column: Some("intent".into()),
            ..csv_options()
        };
        let articles = parse(text.as_bytes(), FileFormat::Csv, &options).unwrap();
        assert_eq!(articles.len(), 1);
        assert_eq!(articles[0].title, "cancel_order");
        assert_eq!(articles[0].body, "Para cancelar, llame.");
        assert_eq!(articles[0].external_id.as_deref(), Some("cancel_order"));
        assert_eq!(articles[0].language, "es");
    }

    #[test]
    fn bad_rows_are_listed_by_line_and_column() {
        let text = "title,body,tags\nok,fine,a;b\n,missing title,\nno body,,\n";
        let Err(Error::Validation(errors)) =
            parse(text.as_bytes(), FileFormat::Csv, &csv_options())
        else {
            panic!("expected a validation error");
        };
        let found: Vec<(Option<u64>, &str)> =
            errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(found, vec![(Some(3), "title"), (Some(4), "body")]);
    }

    #[test]
    fn a_missing_column_names_the_option_to_set() {
        let text = "name,text\nx,y\n";
        let Err(Error::Validation(errors)) =
            parse(text.as_bytes(), FileFormat::Csv, &csv_options())
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "title_column");
        assert!(errors[0].message.contains("name, text"), "{errors:?}");
    }

    #[test]
    fn jsonl_reports_the_line_and_path_of_a_wrong_type() {
        let text =
            "{\"title\":\"a\",\"body\":\"b\"}\n\n{\"title\":\"c\",\"body\":\"d\",\"tags\":\"x\"}\n";
        let Err(Error::Validation(errors)) =
            parse(text.as_bytes(), FileFormat::Jsonl, &csv_options())
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3));
        assert_eq!(errors[0].field, "tags");
    }

    #[test]
    fn repeated_external_ids_keep_the_first() {
        let text = "external_id,title,body\na,first,x\nb,other,y\na,second,z\n";
        let mut articles = parse(text.as_bytes(), FileFormat::Csv, &csv_options()).unwrap();
        assert_eq!(drop_repeated_ids(&mut articles), 1);
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].title, "first");
    }
}
