//! Streams an upload into a temporary file next to the blob store while hashing and counting it,
//! so the sha256 is known (and the size limit enforced) before anything is stored.

use std::path::{Path, PathBuf};

use sha2::Digest;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// Where uploads are staged, and how large one may be.
#[derive(Debug, Clone)]
pub struct Stager {
    dir: PathBuf,
    limit: u64,
}

/// A fully written, fsync'd upload with its hash and size; the file is removed when dropped
/// unless a store took it.
#[derive(Debug)]
pub struct Staged {
    pub path: tempfile::TempPath,
    pub sha256: String,
    pub size: u64,
    /// The first bytes, for sniffing the type.
    pub head: Vec<u8>,
}

/// An upload being written.
pub struct Staging {
    file: tokio::fs::File,
    path: tempfile::TempPath,
    hasher: sha2::Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
}

const HEAD_BYTES: usize = 64;

impl Stager {
    pub fn new(dir: impl Into<PathBuf>, limit: u64) -> Self {
        Self {
            dir: dir.into(),
            limit,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens a new temporary file.
    pub async fn begin(&self) -> Result<Staging> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| Error::Internal(format!("creating {}: {e}", self.dir.display())))?;
        let dir = self.dir.clone();
        let temp = tokio::task::spawn_blocking(move || tempfile::NamedTempFile::new_in(dir))
            .await
            .map_err(|e| Error::Internal(format!("staging task: {e}")))?
            .map_err(|e| Error::Internal(format!("creating a staging file: {e}")))?;
        let (file, path) = temp.into_parts();
        Ok(Staging {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: sha2::Sha256::new(),
            size: 0,
            limit: self.limit,
            head: Vec::new(),
        })
    }

    /// Stages `bytes` already in memory (tests, small files).
    pub async fn stage_bytes(&self, bytes: &[u8]) -> Result<Staged> {
        let mut staging = self.begin().await?;
        staging.write(bytes).await?;
        staging.finish().await
    }
}

impl Staging {
    /// Appends a chunk; 413 once the upload passes the limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(Error::PayloadTooLarge(format!(
                "the file is larger than {} bytes",
                self.limit
            )));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| Error::Internal(format!("writing a staging file: {e}")))
    }

    /// Flushes and fsyncs the file and returns it with its hash.
    pub async fn finish(mut self) -> Result<Staged> {
        let fail = |e: std::io::Error| Error::Internal(format!("syncing a staging file: {e}"));
        self.file.flush().await.map_err(fail)?;
        self.file.sync_all().await.map_err(fail)?;
        let digest = self.hasher.finalize();
        Ok(Staged {
            path: self.path,
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            size: self.size,
            head: self.head,
        })
    }
}
