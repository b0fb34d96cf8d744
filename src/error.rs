//! The crate's error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Every failure a client can see is one variant here with a stable `type` slug, so clients can
//! branch on it. Database and unexpected errors are logged with their cause and reach the client
//! as a bare 500 without internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::incident::State;
use crate::domain::validation::FieldError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this key's role ({role}) may not {action}")]
    Forbidden { role: &'static str, action: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body or query could not be read as the expected shape (syntax, types, unknown fields).
    #[error("{detail}")]
    Malformed {
        detail: String,
        field: Option<String>,
    },
    /// The request was well-formed but some fields break the rules.
    #[error("{} field(s) are invalid", .0.len())]
    Validation(Vec<FieldError>),
    #[error("cannot move from {from:?} to {to:?}")]
    InvalidTransition {
        from: State,
        to: State,
        allowed: &'static [State],
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A part of the service is not ready on this installation (e.g. a model is not installed).
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Malformed { .. } => StatusCode::BAD_REQUEST,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::InvalidTransition { .. } | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::Malformed { .. } => "malformed-request",
            Error::Validation(_) => "validation",
            Error::InvalidTransition { .. } => "invalid-transition",
            Error::Conflict(_) => "conflict",
            Error::UnsupportedMediaType(_) => "unsupported-media-type",
            Error::PayloadTooLarge(_) => "payload-too-large",
            Error::Unavailable(_) => "unavailable",
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => "internal",
        }
    }

    fn into_problem(self) -> Problem {
        let status = self.status();
        let mut problem = Problem::new(status, self.slug(), self.to_string());
        match self {
            Error::Malformed {
                field: Some(field),
                detail,
            } => problem.errors = vec![FieldError::new(field, detail)],
            Error::Validation(errors) => problem.errors = errors,
            Error::InvalidTransition { allowed, .. } => problem.allowed = Some(allowed),
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                problem.detail = "An unexpected error occurred; it has been logged.".into();
            }
            _ => {}
        }
        problem
    }
}

impl From<crate::kb::index::IndexError> for Error {
    /// An unreachable Qdrant server is an outage of a dependency (503); anything else is ours.
    fn from(error: crate::kb::index::IndexError) -> Self {
        match error {
            crate::kb::index::IndexError::Server(_) => {
                tracing::error!(%error, "vector index unavailable");
                Error::Unavailable("the vector index is unavailable; try again shortly".into())
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::ml::MlError> for Error {
    /// A model that is not installed makes its feature unavailable (503), not broken (500).
    fn from(error: crate::ml::MlError) -> Self {
        match error {
            crate::ml::MlError::NotInstalled { .. } => Error::Unavailable(error.to_string()),
            crate::ml::MlError::Training(detail) => Error::validation("", detail),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.into_problem().into_response()
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Fields at fault, for validation and malformed-request problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For invalid transitions: the states the PQR may move to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<&'static [State]>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            allowed: None,
        }
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"abcall\""),
            );
        }
        response
    }
}
