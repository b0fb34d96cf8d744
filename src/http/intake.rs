//! Streams an upload's file into the blob staging area: either the whole raw body, or one part
//! of a `multipart/form-data` body (the others are handed back as small text parts). Size limits
//! are enforced while streaming.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::store::blobs::{Staged, Stager};

/// The staged file, its client-given name, and the other (text) parts by name.
pub struct Intake {
    pub file: Staged,
    pub file_name: Option<String>,
    pub parts: HashMap<String, Vec<u8>>,
}

/// Largest text part (metadata) accepted.
const MAX_TEXT_PART: usize = 64 * 1024;

pub fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

fn bad(detail: String, field: Option<&str>) -> Error {
    Error::Malformed {
        detail,
        field: field.map(str::to_owned),
    }
}

/// Most of a refused upload read (and thrown away) before answering, so the client sees the
/// answer instead of a connection closed while it was still sending.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Returns `error` after reading and discarding the body (up to [`DRAIN_LIMIT`] bytes).
pub async fn refuse<T>(request: Request, error: Error) -> Result<T> {
    let mut stream = request.into_body().into_data_stream();
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
    }
    Err(error)
}

/// Stages the whole body.
pub async fn raw(body: Body, stager: &Stager) -> Result<Staged> {
    let mut staging = stager.begin().await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the body could not be read: {e}"), None))?;
        staging.write(&chunk).await?;
    }
    staging.finish().await
}

/// Stages the part named `file_part`; keeps the parts named in `text_parts`; refuses others.
pub async fn multipart(
    request: Request,
    stager: &Stager,
    file_part: &str,
    text_parts: &[&str],
) -> Result<Intake> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad(format!("the multipart body is malformed: {e}"), None))?;
    let mut file = None;
    let mut parts = HashMap::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("the multipart body is malformed: {e}"), None))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == file_part {
            if file.is_some() {
                return Err(bad(format!("send one {name} part"), Some(&name)));
            }
            let file_name = field.file_name().map(str::to_owned);
            let mut staging = stager.begin().await?;
            while let Some(chunk) = field.chunk().await.map_err(|e| {
                bad(
                    format!("the {name} part could not be read: {e}"),
                    Some(&name),
                )
            })? {
                staging.write(&chunk).await?;
            }
            file = Some((staging.finish().await?, file_name));
        } else if text_parts.contains(&name.as_str()) {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| {
                bad(
                    format!("the {name} part could not be read: {e}"),
                    Some(&name),
                )
            })? {
                text.extend_from_slice(&chunk);
                if text.len() > MAX_TEXT_PART {
                    return Err(Error::PayloadTooLarge(format!(
                        "the {name} part is larger than {MAX_TEXT_PART} bytes"
                    )));
                }
            }
            parts.insert(name, text);
        } else {
            let expected = std::iter::once(file_part)
                .chain(text_parts.iter().copied())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(bad(
                format!("unexpected part {name:?}; the parts are: {expected}"),
                Some(&name),
            ));
        }
    }
    let (file, file_name) =
        file.ok_or_else(|| Error::validation(file_part, "the multipart body has no such part"))?;
    Ok(Intake {
        file,
        file_name,
        parts,
    })
}
