//! Field-level validation errors shared by every domain parser.
//!
//! Domain types parse raw input once; when input is bad they report *every* field at fault so a
//! client can fix a request in one round trip. The HTTP layer turns these into RFC 9457 problems.

use serde::Serialize;

/// One field at fault, named by its JSON path (e.g. `location.region` or `[12].email`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// For uploaded files (CSV, JSONL): the 1-based line the bad value is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            line: None,
        }
    }

    /// Places the error on a line of an uploaded file.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Re-roots the error under a parent path, so nested parsers stay unaware of where they sit.
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

/// Collects field errors while a parser keeps going, then yields a value or all the errors.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    /// Keeps the value when it parsed, records its errors (re-rooted at `field`) when it did not.
    pub fn take<T>(&mut self, field: &str, result: Result<T, Vec<FieldError>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                self.0.extend(errors.into_iter().map(|e| e.under(field)));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no error was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// Trims a required text field and checks its length in characters.
pub fn required_text(
    errors: &mut Errors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, "must not be empty");
        None
    } else if trimmed.chars().count() > max_chars {
        errors.add(field, format!("must be at most {max_chars} characters"));
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// Like [`required_text`] for optional fields: blank becomes `None`.
pub fn optional_text(
    errors: &mut Errors,
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    let trimmed = value.map(str::trim).filter(|v| !v.is_empty())?;
    if trimmed.chars().count() > max_chars {
        errors.add(field, format!("must be at most {max_chars} characters"));
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// A BCP 47 language tag such as `es` or `es-PE` (letters, digits and hyphens, trimmed).
pub fn language_tag(errors: &mut Errors, field: &str, value: &str) -> String {
    let tag = value.trim();
    if tag.is_empty()
        || tag.len() > 35
        || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errors.add(field, "must be a language tag such as es or es-PE");
    }
    tag.to_owned()
}

/// The language of texts and messages when none is given.
pub fn default_language() -> String {
    "es".to_owned()
}
