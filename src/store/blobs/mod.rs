//! Content-addressed storage of uploaded files (call recordings, PQR attachments).
//!
//! Bytes are stored once under their sha256, whoever uploads them; who owns them, and for how
//! long they must be kept, lives in the `blobs` table per tenant ([`meta`]). Two backends sit
//! behind [`BlobStore`]: plain files on local disk ([`FsBlobs`], the default: fsync + atomic
//! rename) and the `object_store` crate ([`ObjectBlobs`]: its local-filesystem and in-memory
//! stores here; S3 and other clouds are the same code once the crate's feature is compiled in).
//! Uploads are first streamed into a [`Staged`] file while they are hashed, so no request holds
//! a whole recording in memory.

mod fs;
pub mod meta;
mod object;
mod staging;
pub mod verify;

use std::future::Future;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::Stream;

pub use fs::FsBlobs;
pub use object::ObjectBlobs;
pub use staging::{Staged, Stager};

use crate::error::{Error, Result};

pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;
/// A blob's bytes (or a slice of them) as they are read.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What the service needs from a place that keeps bytes by their sha256.
pub trait BlobStore: Send + Sync {
    /// Stores a staged file under its sha256. Returns `false` when those bytes were already
    /// stored (nothing is written twice). Durable when it returns.
    fn put(&self, staged: Staged) -> BlobFuture<'_, bool>;
    /// The stored size, or `None` when no blob has this hash.
    fn size<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<u64>>;
    /// Bytes `range` of a blob (the range must lie within it and not be empty).
    fn read<'a>(&'a self, sha256: &'a str, range: Range<u64>) -> BlobFuture<'a, ByteStream>;
    /// The hashes of every stored blob.
    fn list(&self) -> BlobFuture<'_, Vec<String>>;
    /// Where the blobs are, for logs and the CLI.
    fn describe(&self) -> String;
}

/// The blob store named by `url` (`ABCALL_BLOB_URL`), or files under `<data_dir>/blobs`:
/// `s3://bucket[/prefix][?options]` (S3 or an S3-compatible service), `file:///path`
/// (object_store's local filesystem) or `memory://` (in memory, for tests).
pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn BlobStore>> {
    match url {
        None => Ok(Arc::new(FsBlobs::new(
            data_dir.join("blobs").join("sha256"),
        ))),
        Some(url) => {
            if let Some(path) = url.strip_prefix("file://") {
                Ok(Arc::new(ObjectBlobs::local(Path::new(path))?))
            } else if url == "memory://" || url == "memory:" {
                Ok(Arc::new(ObjectBlobs::in_memory()))
            } else if url.starts_with("s3://") {
                Ok(Arc::new(ObjectBlobs::s3(url)?))
            } else {
                Err(Error::Internal(format!(
                    "ABCALL_BLOB_URL must start with s3://, file:// or memory://, not {:?}",
                    crate::config::redact_url(url)
                )))
            }
        }
    }
}

/// Whether `value` looks like a sha256 in lower-case hex (so it can name a file safely).
pub fn is_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads a whole blob (for decoding); callers bound the size through the upload limit.
pub async fn read_all(store: &dyn BlobStore, sha256: &str) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let size = store.size(sha256).await?.ok_or(Error::NotFound("blob"))?;
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    if size == 0 {
        return Ok(out);
    }
    let mut stream = store.read(sha256, 0..size).await?;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.map_err(|e| Error::Internal(format!("reading blob: {e}")))?);
    }
    Ok(out)
}

/// Writes a whole blob to `path` as it streams in (the audio decoders read files).
pub async fn copy_to_file(store: &dyn BlobStore, sha256: &str, path: &Path) -> Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let size = store.size(sha256).await?.ok_or(Error::NotFound("blob"))?;
    let failed = |e: std::io::Error| Error::Internal(format!("copying blob {sha256}: {e}"));
    let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
    if size > 0 {
        let mut stream = store.read(sha256, 0..size).await?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.map_err(failed)?)
                .await
                .map_err(failed)?;
        }
    }
    file.flush().await.map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests;
