//! Blobs as plain files under `<root>/<aa>/<bb>/<sha256>`: a staged (fsync'd) file is renamed
//! into place and the directory fsync'd, so a crash leaves the whole blob or none of it; bytes
//! already present are not written again.

use std::ops::Range;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{BlobFuture, BlobStore, ByteStream, Staged, is_sha256};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct FsBlobs {
    root: PathBuf,
}

impl FsBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of a blob (whether or not it exists).
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(Error::Internal(format!("{sha256:?} is not a sha256")));
        }
        Ok(self
            .root
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256))
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{what} {}: {e}", path.display()))
}

fn put_blocking(target: PathBuf, staged: Staged) -> Result<bool> {
    if target.exists() {
        return Ok(false);
    }
    let dir = target
        .parent()
        .ok_or_else(|| Error::Internal(format!("{} has no directory", target.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    // The staged file was fsync'd; a concurrent put of the same bytes renames identical content.
    staged
        .path
        .persist(&target)
        .map_err(|e| io("renaming into", &target, e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing", dir, e))?;
    Ok(true)
}

impl BlobStore for FsBlobs {
    fn put(&self, staged: Staged) -> BlobFuture<'_, bool> {
        Box::pin(async move {
            let target = self.path_of(&staged.sha256)?;
            tokio::task::spawn_blocking(move || put_blocking(target, staged))
                .await
                .map_err(|e| Error::Internal(format!("blob task: {e}")))?
        })
    }

    fn size<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<u64>> {
        Box::pin(async move {
            let path = self.path_of(sha256)?;
            match tokio::fs::metadata(&path).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io("reading", &path, e)),
            }
        })
    }

    fn read<'a>(&'a self, sha256: &'a str, range: Range<u64>) -> BlobFuture<'a, ByteStream> {
        Box::pin(async move {
            let path = self.path_of(sha256)?;
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| io("opening", &path, e))?;
            file.seek(std::io::SeekFrom::Start(range.start))
                .await
                .map_err(|e| io("seeking", &path, e))?;
            let remaining = range.end.saturating_sub(range.start);
            let reader = file.take(remaining);
            let stream = futures_util::stream::unfold(reader, |mut reader| async move {
                let mut buf = vec![0u8; 64 * 1024];
                match reader.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(axum::body::Bytes::from(buf)), reader))
                    }
                    Err(e) => Some((Err(e), reader)),
                }
            });
            Ok(stream.boxed())
        })
    }

    fn list(&self) -> BlobFuture<'_, Vec<String>> {
        Box::pin(async move {
            let root = self.root.clone();
            tokio::task::spawn_blocking(move || {
                let mut found = Vec::new();
                let Ok(first) = std::fs::read_dir(&root) else {
                    return Ok(found);
                };
                for a in first.flatten() {
                    for b in std::fs::read_dir(a.path()).into_iter().flatten().flatten() {
                        for f in std::fs::read_dir(b.path()).into_iter().flatten().flatten() {
                            let name = f.file_name().to_string_lossy().into_owned();
                            if is_sha256(&name) {
                                found.push(name);
                            }
                        }
                    }
                }
                found.sort();
                Ok(found)
            })
            .await
            .map_err(|e| Error::Internal(format!("blob task: {e}")))?
        })
    }

    fn describe(&self) -> String {
        format!("files under {}", self.root.display())
    }
}
