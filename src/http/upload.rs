//! Reading a file upload (knowledge-base imports, datasets): its format from the query or the
//! `Content-Type`, the body up to `ABCALL_MAX_UPLOAD_BYTES`, and gzip (`Content-Encoding: gzip`)
//! with the same limit applied after decompression, so a small bomb cannot fill the memory.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, header};

use crate::domain::upload::FileFormat;
use crate::error::{Error, Result};

/// The decompressed bytes of an upload and their format.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    format: Option<FileFormat>,
    limit: usize,
) -> Result<(FileFormat, Vec<u8>)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(format) = format.or_else(|| FileFormat::from_content_type(content_type)) else {
        return Err(Error::UnsupportedMediaType(
            "send text/csv or application/x-ndjson (JSON Lines), or say ?format=csv|jsonl",
        ));
    };
    let gzipped = match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None | Some(b"identity") => false,
        Some(b"gzip") => true,
        Some(_) => {
            return Err(Error::UnsupportedMediaType(
                "Content-Encoding must be gzip or identity",
            ));
        }
    };
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge(format!("the upload is larger than {limit} bytes")))?;
    let bytes = if gzipped {
        tokio::task::spawn_blocking(move || gunzip(&bytes, limit))
            .await
            .map_err(|e| Error::Internal(format!("decompressing the upload failed: {e}")))??
    } else {
        bytes.to_vec()
    };
    Ok((format, bytes))
}

/// Decompresses a gzip upload, refusing to grow past `limit` bytes (413).
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Malformed {
            detail: format!("the body is not valid gzip: {e}"),
            field: None,
        })?;
    if out.len() > limit {
        return Err(Error::PayloadTooLarge(format!(
            "the upload is larger than {limit} bytes once decompressed"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_bounded() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&vec![b'a'; 10_000]).unwrap();
        let packed = encoder.finish().unwrap();
        assert_eq!(gunzip(&packed, 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            gunzip(&packed, 9_999),
            Err(Error::PayloadTooLarge(_))
        ));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(Error::Malformed { .. })
        ));
    }
}
