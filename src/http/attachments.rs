//! Files attached to a PQR (photos of a bill, a contract, a screenshot): upload, list, download
//! with ranges. The type is read from the bytes; the bytes go to the blob store.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Caller, parse_query};
use super::{download, intake, location};
use crate::App;
use crate::domain::access::Action;
use crate::domain::attachment;
use crate::error::{Error, Problem, Result};
use crate::store::attachments::{self, Attachment, NewAttachment};
use crate::store::blobs::Stager;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_attachments, upload_attachment))
        .routes(routes!(get_attachment))
}

/// `?name=` for a raw upload.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NameQuery {
    /// The file name to keep with the attachment.
    name: Option<String>,
}

async fn require_incident(app: &App, tenant_id: &str, incident_id: &str) -> Result<()> {
    if attachments::incident_exists(&app.db, tenant_id, incident_id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("incident"))
    }
}

/// Attaches a file to a PQR: the raw body (with `?name=`), or `multipart/form-data` with a
/// `file` part. Images, PDF, office documents and plain text, up to ABCALL_MAX_ATTACHMENT_BYTES.
#[utoipa::path(post, path = "/v1/incidents/{id}/attachments", tag = "incidents", params(NameQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, body = Attachment),
        (status = 404, body = Problem),
        (status = 413, body = Problem),
        (status = 415, body = Problem, description = "not an accepted kind of file (the detail lists them)")))]
async fn upload_attachment(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(incident_id): Path<String>,
    request: Request,
) -> Result<Response> {
    let principal = match caller.require(Action::CreateIncidents) {
        Ok(principal) => principal.clone(),
        Err(e) => return intake::refuse(request, e).await,
    };
    if let Err(e) = require_incident(&app, &principal.tenant_id, &incident_id).await {
        return intake::refuse(request, e).await;
    }
    let stager = Stager::new(app.staging_dir.clone(), app.config.max_attachment_bytes);
    let (staged, name) = if intake::is_multipart(&request) {
        let intake = intake::multipart(request, &stager, "file", &[]).await?;
        (intake.file, intake.file_name)
    } else {
        let query: NameQuery = parse_query(request.uri().query().unwrap_or(""))?;
        (intake::raw(request.into_body(), &stager).await?, query.name)
    };
    let name = name
        .map(|n| n.trim().chars().take(255).collect::<String>())
        .filter(|n| !n.is_empty());
    let media_type =
        attachment::sniff(&staged.head).ok_or(Error::UnsupportedMediaType(attachment::ACCEPTED))?;
    let (sha256, size) = (staged.sha256.clone(), staged.size);
    app.blobs.put(staged).await?;
    let settings = app.settings.get(&app.db, &principal).await?;
    let stored = attachments::insert(
        &app.db,
        &principal.tenant_id,
        &NewAttachment {
            incident_id: &incident_id,
            name: name.as_deref(),
            media_type,
            sha256: &sha256,
            size,
        },
        app.clock.now(),
        settings.settings.recordings.retention_years,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        location(format!(
            "/v1/incidents/{incident_id}/attachments/{}",
            stored.id
        )),
        Json(stored),
    )
        .into_response())
}

/// The PQR's attachments, oldest first.
#[utoipa::path(get, path = "/v1/incidents/{id}/attachments", tag = "incidents",
    responses((status = 200, body = Vec<Attachment>), (status = 404, body = Problem)))]
async fn list_attachments(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(incident_id): Path<String>,
) -> Result<Json<Vec<Attachment>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    require_incident(&app, &principal.tenant_id, &incident_id).await?;
    Ok(Json(
        attachments::list(&app.db, &principal.tenant_id, &incident_id).await?,
    ))
}

/// The attachment's bytes. Supports a single `Range: bytes=…` (206, or 416).
#[utoipa::path(get, path = "/v1/incidents/{id}/attachments/{attachment_id}", tag = "incidents",
    params(("Range" = Option<String>, Header, description = "bytes=a-b, bytes=a- or bytes=-n")),
    responses(
        (status = 200, description = "the whole file"),
        (status = 206, description = "the requested bytes"),
        (status = 404, body = Problem),
        (status = 416, body = Problem)))]
async fn get_attachment(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((incident_id, attachment_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = caller.require(Action::ReadIncidents)?;
    let found =
        attachments::get(&app.db, &principal.tenant_id, &incident_id, &attachment_id).await?;
    download::send(
        &app,
        download::Download {
            sha256: &found.sha256,
            size: found.size,
            media_type: &found.media_type,
        },
        &headers,
    )
    .await
}
