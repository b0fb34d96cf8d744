//! Live call activity: the telephony platform reports calls as they start and end, and
//! wallboards read the calls going on now by direction (also pushed on `GET /v1/live`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Caller, JsonBody};
use crate::App;
use crate::domain::access::Action;
use crate::domain::call::{CallEventKind, CallEventRequest};
use crate::error::{Error, Problem, Result};
use crate::store::call_sessions::{self, ActiveCalls, CallSession};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(call_event))
        .routes(routes!(active_calls))
}

/// What `POST /v1/calls/events` answers: the call as recorded and the calls going on now.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct CallEventReply {
    call: CallSession,
    active: ActiveCalls,
}

/// A call started or ended on the telephony platform (PBX, dialler, CTI bridge). Published on
/// the live feed as `call.started` / `call.ended` with the direction; a retried event (same
/// `call_ref`) answers 200 and publishes nothing. 201 when the event changed something.
#[utoipa::path(post, path = "/v1/calls/events", tag = "calls", request_body = CallEventRequest,
    responses(
        (status = 201, body = CallEventReply, description = "recorded"),
        (status = 200, body = CallEventReply, description = "a repeat of an event already recorded"),
        (status = 422, body = Problem, description = "a field at fault, or an end without a start")))]
async fn call_event(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: JsonBody<CallEventRequest>,
) -> Result<Response> {
    let principal = caller.require(Action::CreateIncidents)?;
    let event = body.parse()?.parse().map_err(Error::Validation)?;
    let now = app.clock.now();
    let at = event.at.unwrap_or(now);
    let tenant_id = &principal.tenant_id;
    let (session, changed) = match event.kind {
        CallEventKind::Started => call_sessions::start(&app.db, tenant_id, &event, at).await?,
        CallEventKind::Ended => call_sessions::end(&app.db, tenant_id, &event.call_ref, at).await?,
    };
    if changed {
        let kind = match event.kind {
            CallEventKind::Started => "call.started",
            CallEventKind::Ended => "call.ended",
        };
        let duration_secs = session
            .ended_at
            .map(|end| end.duration_since(session.started_at).as_secs_f64());
        app.live.publish(
            tenant_id,
            kind,
            json!({
                "call_ref": session.call_ref, "direction": session.direction,
                "agent": session.agent, "customer_id": session.customer_id,
                "started_at": session.started_at, "ended_at": session.ended_at,
                "duration_secs": duration_secs,
            }),
        );
    }
    let active = call_sessions::active(&app.db, tenant_id, now).await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CallEventReply {
            call: session,
            active,
        }),
    )
        .into_response())
}

/// The calls going on now.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct ActiveCallsReply {
    #[serde(flatten)]
    counts: ActiveCalls,
    /// The longest-running first, at most 200.
    calls: Vec<CallSession>,
}

/// Calls in progress by direction, and the calls themselves (longest first), for wallboards.
#[utoipa::path(get, path = "/v1/calls/active", tag = "calls",
    responses((status = 200, body = ActiveCallsReply)))]
async fn active_calls(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<ActiveCallsReply>> {
    let principal = caller.require(Action::ReadIncidents)?;
    let now = app.clock.now();
    Ok(Json(ActiveCallsReply {
        counts: call_sessions::active(&app.db, &principal.tenant_id, now).await?,
        calls: call_sessions::list_active(&app.db, &principal.tenant_id, now, 200).await?,
    }))
}
