//! Blobs in an `object_store` store: S3 or an S3-compatible service (MinIO, Ceph RGW) at scale,
//! and object_store's local-filesystem and in-memory stores. Objects are named `sha256/<hash>`
//! (under the URL's prefix); uploads stream from the staged file in multipart chunks, and bytes
//! already present are not uploaded again.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::{BlobFuture, BlobStore, ByteStream, Staged, is_sha256};
use crate::error::{Error, Result};

pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    name: String,
}

fn fail(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("object store: {what}: {e}"))
}

fn location(sha256: &str) -> Result<ObjectPath> {
    if !is_sha256(sha256) {
        return Err(Error::Internal(format!("{sha256:?} is not a sha256")));
    }
    Ok(ObjectPath::from(format!("sha256/{sha256}")))
}

impl ObjectBlobs {
    /// object_store's local filesystem under `root` (created if missing).
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| fail("creating the root", e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(root)
            .map_err(|e| fail("opening", e))?;
        Ok(Self {
            store: Arc::new(store),
            name: format!("object_store LocalFileSystem at {}", root.display()),
        })
    }

    /// S3 or an S3-compatible store: `s3://bucket[/prefix]`. Credentials, region and endpoint come
    /// from the standard `AWS_*` environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, …); options in the URL's query string
    /// (`?endpoint=http://minio:9000&allow_http=true&region=us-east-1`) override them.
    pub fn s3(url: &str) -> Result<Self> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        crate::init_tls();
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = base
            .strip_prefix("s3://")
            .ok_or_else(|| fail("configuration", format!("{base:?} is not an s3:// URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(fail("configuration", "the s3:// URL names no bucket"));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|e| fail("configuration", format!("option {key:?}: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder.build().map_err(|e| fail("configuration", e))?;
        let prefix = prefix.trim_matches('/');
        let name = format!("object_store S3 at s3://{bucket}/{prefix}");
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self { store, name })
    }

    /// object_store's in-memory store (gone when the process ends): tests only.
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(object_store::memory::InMemory::new()),
            name: "object_store InMemory".into(),
        }
    }

    async fn head_size(&self, path: &ObjectPath) -> Result<Option<u64>> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(fail("head", e)),
        }
    }
}

const CHUNK: usize = 1024 * 1024;

impl BlobStore for ObjectBlobs {
    fn put(&self, staged: Staged) -> BlobFuture<'_, bool> {
        Box::pin(async move {
            let path = location(&staged.sha256)?;
            if self.head_size(&path).await?.is_some() {
                return Ok(false);
            }
            let mut file = tokio::fs::File::open(&staged.path)
                .await
                .map_err(|e| fail("opening the staged file", e))?;
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| fail("starting an upload", e))?;
            let mut writer = WriteMultipart::new(upload);
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = file
                    .read(&mut buf)
                    .await
                    .map_err(|e| fail("reading the staged file", e))?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(4)
                    .await
                    .map_err(|e| fail("uploading", e))?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map_err(|e| fail("finishing", e))?;
            Ok(true)
        })
    }

    fn size<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<u64>> {
        Box::pin(async move { self.head_size(&location(sha256)?).await })
    }

    fn read<'a>(&'a self, sha256: &'a str, range: Range<u64>) -> BlobFuture<'a, ByteStream> {
        Box::pin(async move {
            let path = location(sha256)?;
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let result = self
                .store
                .get_opts(&path, options)
                .await
                .map_err(|e| fail("get", e))?;
            Ok(result
                .into_stream()
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed())
        })
    }

    fn list(&self) -> BlobFuture<'_, Vec<String>> {
        Box::pin(async move {
            let prefix = ObjectPath::from("sha256");
            let metas: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|e| fail("list", e))?;
            let mut found: Vec<String> = metas
                .into_iter()
                .filter_map(|m| m.location.filename().map(str::to_owned))
                .filter(|name| is_sha256(name))
                .collect();
            found.sort();
            Ok(found)
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
