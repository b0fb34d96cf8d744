//! How failures reach a GraphQL client: as GraphQL errors whose `extensions.code` names the kind
//! of failure (`FORBIDDEN`, `BAD_USER_INPUT`, …), built from the crate's [`Error`] so REST and
//! GraphQL fail for the same reasons with the same words.
//!
//! Resolvers return [`Failure`], which deliberately does not implement `Display`: async-graphql
//! turns any `Display` error into a bare message, so a store error reaching `?` untranslated
//! would show its internals. With `Failure` that does not compile; every path goes through
//! [`From<Error>`] below, which logs internal errors and shows only a generic message.

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::domain::validation::FieldError;
use crate::error::Error;

/// A resolver's failure: a GraphQL error with `extensions.code` set.
#[derive(Debug, Clone)]
pub struct Failure(async_graphql::Error);

/// What resolvers return.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl From<Failure> for async_graphql::Error {
    fn from(failure: Failure) -> Self {
        failure.0
    }
}

fn coded(message: impl Into<String>, code: &str) -> async_graphql::Error {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    async_graphql::Error {
        message: message.into(),
        source: None,
        extensions: Some(extensions),
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::Unauthorized(_) => "UNAUTHENTICATED",
            Error::Forbidden { .. } => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Malformed { .. } | Error::Validation(_) => "BAD_USER_INPUT",
            Error::InvalidTransition { .. } | Error::Conflict(_) => "CONFLICT",
            Error::UnsupportedMediaType(_) | Error::PayloadTooLarge(_) => "BAD_REQUEST",
            Error::Unavailable(_) => "UNAVAILABLE",
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
                tracing::error!(%error, "GraphQL resolver failed");
                return Failure(coded(
                    "An unexpected error occurred; it has been logged.",
                    "INTERNAL",
                ));
            }
        };
        let mut graphql = coded(error.to_string(), code);
        let fields = match error {
            Error::Validation(errors) => errors,
            Error::Malformed {
                field: Some(field),
                detail,
            } => vec![FieldError::new(field, detail)],
            _ => Vec::new(),
        };
        if !fields.is_empty()
            && let Some(extensions) = graphql.extensions.as_mut()
        {
            extensions.set("fields", field_errors_value(&fields));
        }
        Failure(graphql)
    }
}

/// `[{field, message}]` with GraphQL field paths, for `extensions.fields`.
fn field_errors_value(errors: &[FieldError]) -> Value {
    Value::List(
        errors
            .iter()
            .map(|e| {
                let mut object = async_graphql::indexmap::IndexMap::new();
                object.insert(
                    async_graphql::Name::new("field"),
                    Value::String(graphql_path(&e.field)),
                );
                object.insert(
                    async_graphql::Name::new("message"),
                    Value::String(e.message.clone()),
                );
                Value::Object(object)
            })
            .collect(),
    )
}

/// A REST field path in GraphQL's spelling: `[3].contact_preferences.language` becomes
/// `[3].contactPreferences.language`, the names of the GraphQL input the client sent.
pub fn graphql_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper_next = false;
    for c in path.chars() {
        if c == '_' {
            upper_next = true;
            continue;
        }
        if upper_next && c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            if upper_next {
                out.push('_');
            }
            out.push(c);
        }
        upper_next = false;
    }
    if upper_next {
        out.push('_');
    }
    out
}

/// A query refused before it runs because of its shape (see `limits`).
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the query nests fields {depth} levels deep; at most {max} are allowed (introspection \
         fields do not count)"
    )]
    TooDeep { depth: usize, max: usize },
    #[error("fragments spread within fragments more than {max} levels deep; flatten the query")]
    FragmentsTooNested { max: usize },
    #[error(
        "the query's complexity is {complexity}; at most {max} is allowed. Each field costs 1 and \
         a list costs its items' fields times `first` (50 when not given): ask for smaller pages \
         or fewer nested lists"
    )]
    TooComplex { complexity: usize, max: usize },
}

impl LimitError {
    /// As a request-level GraphQL error (no `data`), with `extensions.code`.
    pub fn into_server_error(self) -> ServerError {
        let code = match self {
            LimitError::TooDeep { .. } | LimitError::FragmentsTooNested { .. } => "QUERY_TOO_DEEP",
            LimitError::TooComplex { .. } => "QUERY_TOO_COMPLEX",
        };
        let mut error = ServerError::new(self.to_string(), None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", code);
        error.extensions = Some(extensions);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_paths_become_graphql_paths() {
        assert_eq!(graphql_path("email"), "email");
        assert_eq!(graphql_path("external_id"), "externalId");
        assert_eq!(
            graphql_path("[3].contact_preferences.language"),
            "[3].contactPreferences.language"
        );
        assert_eq!(graphql_path("importance.score"), "importance.score");
        assert_eq!(graphql_path(""), "");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let failure: async_graphql::Error =
            Failure::from(Error::Internal("secret table name".into())).into();
        assert!(!failure.message.contains("secret"));
        let code = failure.extensions.unwrap().get("code").cloned();
        assert_eq!(code, Some(Value::String("INTERNAL".into())));
    }

    #[test]
    fn validation_errors_carry_their_fields() {
        let failure: async_graphql::Error =
            Failure::from(Error::validation("contact_preferences.language", "bad")).into();
        let extensions = failure.extensions.unwrap();
        assert_eq!(
            extensions.get("code"),
            Some(&Value::String("BAD_USER_INPUT".into()))
        );
        let fields = extensions
            .get("fields")
            .unwrap()
            .clone()
            .into_json()
            .unwrap();
        assert_eq!(
            fields,
            serde_json::json!([{ "field": "contactPreferences.language", "message": "bad" }])
        );
    }
}
