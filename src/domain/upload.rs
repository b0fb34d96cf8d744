//! What every file upload shares (knowledge-base imports, datasets): its format and how its
//! row-level errors are reported.

use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// The file format of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Jsonl,
}

impl FileFormat {
    /// From a `Content-Type` (parameters ignored).
    pub fn from_content_type(value: &str) -> Option<FileFormat> {
        match value
            .split(';')
            .next()?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "text/csv" | "application/csv" => Some(FileFormat::Csv),
            "application/jsonl"
            | "application/x-ndjson"
            | "application/x-jsonlines"
            | "application/jsonlines" => Some(FileFormat::Jsonl),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Jsonl => "jsonl",
        }
    }
}

/// Errors listed when an upload is rejected; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 100;

/// Keeps the first [`MAX_LISTED_ERRORS`] errors and says how many there were.
pub fn truncate_errors(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    let total = errors.len();
    if total > MAX_LISTED_ERRORS {
        errors.truncate(MAX_LISTED_ERRORS);
        errors.push(FieldError::new(
            "",
            format!("{total} errors in all; the first {MAX_LISTED_ERRORS} are listed"),
        ));
    }
    errors
}
