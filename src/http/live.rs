//! `GET /v1/live`: the tenant's activity as Server-Sent Events, for wallboards and dashboards.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Caller;
use crate::App;
use crate::domain::access::Action;
use crate::error::{Problem, Result};
use crate::live::{LiveEvent, Resume};
use crate::store::call_sessions;

/// How often the per-minute counters are sent.
const COUNTERS_EVERY: Duration = Duration::from_secs(60);

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(live))
}

fn sse(event: &LiveEvent) -> Event {
    Event::default()
        .id(event.id.clone())
        .event(event.kind)
        .json_data(event)
        .unwrap_or_else(|_| Event::default().event(event.kind))
}

/// What a connection still has to send before waiting on the channel.
struct Connection {
    pending: VecDeque<Event>,
    receiver: tokio::sync::broadcast::Receiver<Arc<LiveEvent>>,
    counters: tokio::time::Interval,
    app: Arc<App>,
    tenant_id: String,
}

/// The tenant's events as they happen: `incident.created`, `incident.changed`,
/// `incident.scored`, `incident.surveyed`, `alert`, `call.started` and `call.ended` (from
/// `POST /v1/calls/events`, with the direction), `call.recorded`, `call.transcribed`; and
/// `counters` when the stream opens and every minute after (events of the last minute by kind,
/// and the calls going on now by direction). Reconnect with `Last-Event-ID` to get what was
/// missed in the last ten minutes; a `reset` event means the gap is too old (or the server
/// restarted) and the client should reload.
#[utoipa::path(get, path = "/v1/live", tag = "incidents",
    params(("Last-Event-ID" = Option<String>, Header, description = "id of the last event received")),
    responses((status = 200, description = "an event stream", content_type = "text/event-stream",
        body = LiveEvent), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn live(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let (resume, receiver) = app.live.subscribe(&principal.tenant_id, last);
    let pending = match resume {
        Some(Resume::Replay(events)) => events.iter().map(|e| sse(e)).collect(),
        Some(Resume::Reset) => VecDeque::from([Event::default().event("reset").data("{}")]),
        None => VecDeque::new(),
    };
    // The first tick is at once: a dashboard starts from the current counts.
    let counters = tokio::time::interval(COUNTERS_EVERY);
    let connection = Connection {
        pending,
        receiver,
        counters,
        app: app.clone(),
        tenant_id: principal.tenant_id.clone(),
    };
    let stream = futures_util::stream::unfold(connection, |mut c| async move {
        if let Some(event) = c.pending.pop_front() {
            return Some((Ok(event), c));
        }
        let event = tokio::select! {
            received = c.receiver.recv() => match received {
                Ok(event) => sse(&event),
                // Too slow to keep up: tell the client to reload rather than skip silently.
                Err(RecvError::Lagged(_)) => Event::default().event("reset").data("{}"),
                Err(RecvError::Closed) => return None,
            },
            _ = c.counters.tick() => {
                let counts = c.app.live.counters(&c.tenant_id);
                let active = call_sessions::active(&c.app.db, &c.tenant_id, c.app.clock.now())
                    .await
                    .inspect_err(|error| tracing::warn!(%error, "counting active calls"))
                    .ok();
                Event::default()
                    .event("counters")
                    .json_data(serde_json::json!({ "last_minute": counts, "active_calls": active }))
                    .unwrap_or_else(|_| Event::default().event("counters"))
            }
        };
        Some((Ok(event), c))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
