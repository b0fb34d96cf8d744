//! Machine learning: local models only, loaded from files the installer verified.

pub mod embed;
pub mod insights;
pub mod metrics;
pub mod registry;
pub mod stt;
pub mod tabular;
pub mod text;
pub mod transcription;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("model {model} is not installed; run `abcall models install {model}`")]
    NotInstalled { model: String },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid {what}: {detail}")]
    Format {
        path: std::path::PathBuf,
        what: &'static str,
        detail: String,
    },
    /// whisper.cpp refused a request or failed while transcribing.
    #[error("speech recognition: {0}")]
    Speech(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("model files: {0}")]
    Install(#[from] crate::models::InstallError),
    /// The data cannot train a model (too few rows of a class, a solver failure).
    #[error("training failed: {0}")]
    Training(String),
}
