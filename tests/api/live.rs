//! The live feed over Server-Sent Events: a tenant's own events as they happen, replay after a
//! reconnect with `Last-Event-ID`, `reset` when the gap cannot be filled, nothing of other tenants.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    the_live_feed_streams_replays_and_stays_within_the_tenant,
    live_call_activity_is_counted_by_direction_and_published,
);

/// An open event stream and the bytes read but not yet parsed.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

/// One parsed event.
#[derive(Debug)]
struct Sse {
    event: String,
    id: String,
    data: Value,
}

async fn open(app: &TestApp, key: &str, last_event_id: Option<&str>) -> Stream {
    let mut request = app
        .client
        .get(format!("{}/v1/live", app.base))
        .bearer_auth(key);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.expect("stream opens");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    Stream {
        response,
        buffer: String::new(),
    }
}

impl Stream {
    /// The next event other than `counters` (sent when the stream opens and every minute).
    async fn next(&mut self) -> Sse {
        loop {
            let event = self.next_any().await;
            if event.event != "counters" {
                return event;
            }
        }
    }

    /// The next `counters` event.
    async fn next_counters(&mut self) -> Sse {
        loop {
            let event = self.next_any().await;
            if event.event == "counters" {
                return event;
            }
        }
    }

    /// The next event that is not a keep-alive comment; fails after 10 s.
    async fn next_any(&mut self) -> Sse {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    event: "message".into(),
                    id: String::new(),
                    data: Value::Null,
                };
                let mut seen = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                        seen = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data = serde_json::from_str(v.trim()).unwrap_or(Value::Null);
                        seen = true;
                    }
                }
                if seen {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("stream readable")
                .expect("stream still open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn the_live_feed_streams_replays_and_stays_within_the_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let b_key = app.other_tenant("Tenant B").await;
    let mut a = open(&app, &app.key, None).await;
    let mut b = open(&app, &b_key, None).await;

    let first = app.new_incident(json!({ "channel": "chat" })).await;
    let created = a.next().await;
    assert_eq!(created.event, "incident.created");
    assert_eq!(created.data["data"]["id"], first["id"]);
    assert_eq!(created.data["data"]["channel"], "chat");
    assert!(!created.id.is_empty());
    app.move_to(
        first["id"].as_str().unwrap(),
        json!({ "to": "assigned", "assignee": "ana.quispe" }),
    )
    .await;
    let changed = a.next().await;
    assert_eq!(changed.event, "incident.changed");
    assert_eq!(changed.data["data"]["state"], "assigned");
    assert_eq!(changed.data["data"]["assignee"], "ana.quispe");

    // B's stream carries B's PQR first: none of A's events reached it.
    let own = app
        .call(
            Method::POST,
            "/v1/incidents",
            &b_key,
            Some(json!({
                "channel": "web", "kind": "peticion", "subject": "Cambio de plan",
                "description": "Quisiera pasar al plan de 200 Mbps."
            })),
        )
        .await;
    assert_eq!(own.status, 201);
    let seen_by_b = b.next().await;
    assert_eq!(seen_by_b.event, "incident.created");
    assert_eq!(seen_by_b.data["data"]["id"], own.body["id"]);

    // A dashboard drops, two PQRs arrive, it reconnects with the last id it saw.
    drop(a);
    let missed = [
        app.new_incident(json!({ "channel": "phone" })).await,
        app.new_incident(json!({ "channel": "email" })).await,
    ];
    let mut again = open(&app, &app.key, Some(&changed.id)).await;
    for pqr in &missed {
        let event = again.next().await;
        assert_eq!(event.event, "incident.created");
        assert_eq!(event.data["data"]["id"], pqr["id"]);
    }
    let live = app.new_incident(json!({ "channel": "app" })).await;
    assert_eq!(again.next().await.data["data"]["id"], live["id"]);

    // An id from before a restart (another epoch) cannot be resumed: the client must reload.
    let mut stale = open(&app, &app.key, Some("1-3")).await;
    assert_eq!(stale.next().await.event, "reset");

    // A manager's read-only key may watch; no key may not.
    let viewer = app.key_with_role("viewer").await;
    open(&app, &viewer, None).await;
    let anonymous = app
        .client
        .get(format!("{}/v1/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A dashboard that never disconnects does not hold up a graceful shutdown: its stream ends.
    let mut held = open(&app, &app.key, None).await;
    held.next_counters().await;
    let mut app = app;
    tokio::time::timeout(Duration::from_secs(20), app.restart(|_| {}))
        .await
        .expect("the server stops while a live stream is open");
    let ended = tokio::time::timeout(Duration::from_secs(10), held.response.chunk()).await;
    assert!(
        matches!(ended, Ok(Ok(None)) | Ok(Err(_))),
        "the stream ends with the server: {ended:?}"
    );
}

async fn event(app: &TestApp, key: &str, body: Value) -> crate::helpers::Reply {
    app.call(Method::POST, "/v1/calls/events", key, Some(body))
        .await
}

async fn live_call_activity_is_counted_by_direction_and_published(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut stream = open(&app, &app.key, None).await;
    let first = stream.next_counters().await;
    assert_eq!(
        first.data["active_calls"],
        json!({ "inbound": 0, "outbound": 0 })
    );

    // Times from ten minutes ago (calls older than a day that never ended are not counted).
    let base = jiff::Timestamp::now().as_second() - 600;
    let at = |secs: i64| {
        jiff::Timestamp::from_second(base + secs)
            .unwrap()
            .to_string()
    };
    let started = [
        ("pbx-1", "inbound", at(0)),
        ("pbx-2", "outbound", at(5)),
        ("pbx-3", "inbound", at(9)),
    ];
    for (call_ref, direction, at) in started {
        let reply = event(
            &app,
            &app.key,
            json!({ "event": "started", "call_ref": call_ref, "direction": direction,
                    "agent": "rosa.huaman", "at": at }),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.body["call"]["direction"], direction);
    }
    // The platform retries an event: nothing changes, nothing is published.
    let retried = event(
        &app,
        &app.key,
        json!({ "event": "started", "call_ref": "pbx-1", "direction": "inbound" }),
    )
    .await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.body["call"]["started_at"], at(0));
    assert_eq!(
        retried.body["active"],
        json!({ "inbound": 2, "outbound": 1 })
    );
    let ended = event(
        &app,
        &app.key,
        json!({ "event": "ended", "call_ref": "pbx-1", "at": at(270) }),
    )
    .await;
    assert_eq!(ended.status, 201, "{}", ended.body);
    assert_eq!(ended.body["call"]["ended_at"], at(270));
    assert_eq!(ended.body["active"], json!({ "inbound": 1, "outbound": 1 }));
    let again = event(
        &app,
        &app.key,
        json!({ "event": "ended", "call_ref": "pbx-1" }),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);

    // Bad events name the field at fault and change nothing.
    let unknown = event(
        &app,
        &app.key,
        json!({ "event": "ended", "call_ref": "pbx-9" }),
    )
    .await;
    unknown.assert_problem(422, "validation");
    assert_eq!(unknown.fields(), ["call_ref"]);
    let no_direction = event(
        &app,
        &app.key,
        json!({ "event": "started", "call_ref": "pbx-4" }),
    )
    .await;
    no_direction.assert_problem(422, "validation");
    assert_eq!(no_direction.fields(), ["direction"]);
    let early = event(
        &app,
        &app.key,
        json!({ "event": "ended", "call_ref": "pbx-2", "at": at(-3_600) }),
    )
    .await;
    early.assert_problem(422, "validation");
    assert_eq!(early.fields(), ["at"]);
    let typo = event(
        &app,
        &app.key,
        json!({ "event": "finished", "call_ref": "pbx-2" }),
    )
    .await;
    assert_eq!(typo.status, 400, "{}", typo.body);

    // Dashboards saw each change once, in order, with the direction.
    let seen: Vec<(String, Value, Value)> = {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let e = stream.next().await;
            seen.push((
                e.event,
                e.data["data"]["call_ref"].clone(),
                e.data["data"]["direction"].clone(),
            ));
        }
        seen
    };
    assert_eq!(
        seen,
        [
            ("call.started".to_owned(), json!("pbx-1"), json!("inbound")),
            ("call.started".to_owned(), json!("pbx-2"), json!("outbound")),
            ("call.started".to_owned(), json!("pbx-3"), json!("inbound")),
            ("call.ended".to_owned(), json!("pbx-1"), json!("inbound")),
        ]
    );

    // Wallboards read the calls going on now, longest first; a new stream starts from them.
    let active = app.get("/v1/calls/active").await;
    assert_eq!(active.status, 200, "{}", active.body);
    assert_eq!(active.body["inbound"], 1);
    assert_eq!(active.body["outbound"], 1);
    let refs: Vec<&str> = active.body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["pbx-2", "pbx-3"]);
    let mut later = open(&app, &app.key, None).await;
    assert_eq!(
        later.next_counters().await.data["active_calls"],
        json!({ "inbound": 1, "outbound": 1 })
    );

    // Another tenant neither sees nor ends these calls; a viewer reads but does not report.
    let b_key = app.other_tenant("Tenant B").await;
    let b_active = app
        .call(Method::GET, "/v1/calls/active", &b_key, None)
        .await;
    assert_eq!(b_active.body["inbound"], 0);
    assert_eq!(b_active.body["calls"], json!([]));
    let b_end = event(
        &app,
        &b_key,
        json!({ "event": "ended", "call_ref": "pbx-2" }),
    )
    .await;
    b_end.assert_problem(422, "validation");
    assert_eq!(app.get("/v1/calls/active").await.body["outbound"], 1);
    let viewer = app.key_with_role("viewer").await;
    let watched = app
        .call(Method::GET, "/v1/calls/active", &viewer, None)
        .await;
    assert_eq!(watched.status, 200);
    event(
        &app,
        &viewer,
        json!({ "event": "ended", "call_ref": "pbx-2" }),
    )
    .await
    .assert_problem(403, "forbidden");
}
