//! Request extractors that turn every bad input into a problem+json naming the field at fault:
//! JSON bodies, query strings, and the caller's identity from the API key.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::App;
use crate::domain::access::{Action, Principal};
use crate::error::{Error, Problem};
use crate::store::tenants;

/// A JSON body, read but not yet parsed: handlers check the caller's role first and then call
/// [`JsonBody::parse`], so a forbidden caller learns nothing about the body's validity.
pub struct JsonBody<T> {
    headers: HeaderMap,
    body: Bytes,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// Parses strictly (types, enums, unknown fields) and reports the failing path.
    pub fn parse(&self) -> Result<T, Error> {
        parse_json(&self.headers, &self.body)
    }

    /// Like [`JsonBody::parse`], but an empty body means every field's default.
    pub fn parse_or_default(&self) -> Result<T, Error>
    where
        T: Default,
    {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        self.parse()
    }
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = read_body(req, state).await?;
        Ok(JsonBody {
            headers,
            body,
            _type: std::marker::PhantomData,
        })
    }
}

/// Reads the whole body, reporting an oversize body as 413.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        let slug = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload-too-large"
        } else {
            "malformed-request"
        };
        Problem::new(status, slug, rejection.body_text())
    })
}

/// Checks the content type and parses `body` as `T`.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !(mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")) {
        return Err(Error::UnsupportedMediaType(
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(malformed)?;
    deserializer.end().map_err(|e| Error::Malformed {
        detail: format!("trailing characters after the JSON value: {e}"),
        field: None,
    })?;
    Ok(value)
}

/// Parses JSON that arrived without its own headers (a multipart part) as strictly as a body.
pub fn parse_json_part<T: DeserializeOwned>(part: &str, body: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        Error::Malformed {
            detail: format!("the {part} part: {}", e.inner()),
            field: Some(if path == "." { part.to_owned() } else { path }),
        }
    })?;
    deserializer.end().map_err(|e| Error::Malformed {
        detail: format!("the {part} part has trailing characters: {e}"),
        field: Some(part.to_owned()),
    })?;
    Ok(value)
}

/// Parses a query string strictly, like [`ApiQuery`], for handlers that read it only sometimes.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(malformed)
}

fn malformed<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> Error {
    let path = error.path().to_string();
    let field = (path != ".").then_some(path);
    Error::Malformed {
        detail: error.inner().to_string(),
        field,
    }
}

/// A query string parsed strictly, with the failing parameter reported.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(malformed)
    }
}

/// The authenticated caller. The tenant comes from the key, never from the request.
pub struct Caller(pub Principal);

impl Caller {
    /// The principal, if its role allows `action`.
    pub fn require(&self, action: Action) -> Result<&Principal, Error> {
        self.0
            .require(action)
            .map_err(|(role, action)| Error::Forbidden {
                role: role.as_str(),
                action: action.describe().to_owned(),
            })?;
        Ok(&self.0)
    }
}

/// The bearer secret of the `Authorization` header.
fn bearer(parts: &Parts) -> Result<&str, Error> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(Error::Unauthorized(
            "send an API key as Authorization: Bearer <key>",
        ))?;
    header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Error::Unauthorized(
            "the Authorization header must be Bearer <key>",
        ))
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        tenants::authenticate(&app.db, secret)
            .await?
            .map(Caller)
            .ok_or(Error::Unauthorized("unknown or revoked API key"))
    }
}

/// ABCall's back office, authenticated by an operator key (`abcall operator-keys create`).
/// Tenant keys are refused here whatever their role: no tenant reaches another's billing.
pub struct Operator(pub crate::store::billing::OperatorKey);

impl FromRequestParts<Arc<App>> for Operator {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        crate::store::billing::authenticate_operator(&app.db, secret)
            .await?
            .map(Operator)
            .ok_or(Error::Unauthorized(
                "back-office routes need an operator key (abcall operator-keys create)",
            ))
    }
}

/// Page of a list: `?limit=&cursor=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
