//! Sends a stored blob as a response, honouring a single `Range` (206 with `Content-Range`, 416
//! when unsatisfiable) and always announcing `Accept-Ranges: bytes`. The body streams from the
//! blob store; nothing is read whole into memory.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::App;
use crate::domain::byte_range::{RangeAnswer, resolve};
use crate::error::{Error, Problem, Result};

/// What is being sent.
pub struct Download<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub media_type: &'a str,
}

pub async fn send(app: &App, blob: Download<'_>, request: &HeaderMap) -> Result<Response> {
    let range = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let size = blob.size;
    let (status, slice) = match resolve(range.as_deref(), size) {
        RangeAnswer::Unsatisfiable => {
            let mut response = Problem::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                format!("the file has {size} bytes; ask for a range within them"),
            )
            .into_response();
            let headers = response.headers_mut();
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        RangeAnswer::Full => (StatusCode::OK, 0..size),
        RangeAnswer::Partial(range) => (StatusCode::PARTIAL_CONTENT, range),
    };
    let body = if slice.is_empty() {
        Body::empty()
    } else {
        if app.blobs.size(blob.sha256).await?.is_none() {
            tracing::error!(
                sha256 = blob.sha256,
                "a recorded blob is missing from the store"
            );
            return Err(Error::Internal(format!("blob {} is missing", blob.sha256)));
        }
        Body::from_stream(app.blobs.read(blob.sha256, slice.clone()).await?)
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let value = |v: String| HeaderValue::from_str(&v).ok();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(v) = value(blob.media_type.to_owned()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = value((slice.end - slice.start).to_string()) {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    if let Some(v) = value(format!("\"{}\"", blob.sha256)) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Some(v) = value(format!("bytes {}-{}/{size}", slice.start, slice.end - 1))
    {
        headers.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}
