//! PQR registration, lifecycle, SLA, idempotency, listing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    lifecycle_happy_path,
    every_invalid_transition_is_refused_with_the_allowed_states,
    transitions_need_their_fields,
    sla_due_skips_closed_hours_and_holidays,
    idempotent_create_returns_the_first_incident,
    list_filters_and_cursor_pagination,
);

async fn lifecycle_happy_path(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("CLI-1").await;
    let created = app
        .new_incident(
            json!({ "customer_id": customer["id"], "impact": "high", "urgency": "medium" }),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["state"], "registered");
    assert_eq!(created["priority"], "high");
    assert_eq!(created["escalation_level"], 0);
    assert!(created["sla"]["first_response_at"].is_null());

    let assigned = app
        .move_to(id, json!({ "to": "assigned", "assignee": "ana.quispe" }))
        .await;
    assert_eq!(assigned["assignee"], "ana.quispe");
    assert!(assigned["sla"]["first_response_at"].is_string());
    app.move_to(id, json!({ "to": "in_progress" })).await;
    let escalated = app
        .move_to(
            id,
            json!({ "to": "escalated", "reason": "requiere visita técnica" }),
        )
        .await;
    assert_eq!(escalated["escalation_level"], 1);
    let level2 = app
        .move_to(id, json!({ "to": "escalated", "reason": "falla masiva" }))
        .await;
    assert_eq!(level2["escalation_level"], 2);
    let resolved = app
        .move_to(
            id,
            json!({ "to": "resolved", "resolution": "se cambió el router" }),
        )
        .await;
    assert_eq!(resolved["resolution"], "se cambió el router");
    assert!(resolved["resolved_at"].is_string());
    let closed = app.move_to(id, json!({ "to": "closed" })).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["version"], 7);

    let timeline = app.get(&format!("/v1/incidents/{id}/events")).await;
    assert_eq!(timeline.status, 200);
    let events = timeline.body.as_array().unwrap();
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["to_state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "registered",
            "assigned",
            "in_progress",
            "escalated",
            "escalated",
            "resolved",
            "closed"
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[1]["actor"]["name"], "admin");
    assert_eq!(events[1]["actor"]["role"], "admin");
    assert_eq!(events[3]["data"]["reason"], "requiere visita técnica");

    // Rejected and reopened are part of the lifecycle too.
    let other = app.new_incident(json!({})).await;
    let other_id = other["id"].as_str().unwrap();
    let rejected = app
        .move_to(
            other_id,
            json!({ "to": "rejected", "rejected_by": "customer", "reason": "el cliente no brindó datos" }),
        )
        .await;
    assert_eq!(rejected["rejected_by"], "customer");
    assert_eq!(rejected["rejection_reason"], "el cliente no brindó datos");
    let reopened = app
        .move_to(
            other_id,
            json!({ "to": "reopened", "reason": "el cliente envió sus datos" }),
        )
        .await;
    assert!(reopened["rejected_by"].is_null());
    app.move_to(
        other_id,
        json!({ "to": "resolved", "resolution": "atendido" }),
    )
    .await;
}

/// Drives a fresh PQR into `state` through valid steps.
async fn incident_in(app: &TestApp, state: &str) -> String {
    let id = app.new_incident(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assign = json!({ "to": "assigned", "assignee": "ana" });
    let resolve = json!({ "to": "resolved", "resolution": "ok" });
    let steps: Vec<Value> = match state {
        "registered" => vec![],
        "assigned" => vec![assign],
        "in_progress" => vec![json!({ "to": "in_progress" })],
        "escalated" => vec![json!({ "to": "escalated", "reason": "r" })],
        "resolved" => vec![resolve],
        "closed" => vec![resolve, json!({ "to": "closed" })],
        "rejected" => vec![json!({ "to": "rejected", "reason": "r", "rejected_by": "company" })],
        "reopened" => vec![resolve, json!({ "to": "reopened", "reason": "r" })],
        other => panic!("unknown state {other}"),
    };
    for step in steps {
        app.move_to(&id, step).await;
    }
    id
}

const STATES: [&str; 8] = [
    "registered",
    "assigned",
    "in_progress",
    "escalated",
    "resolved",
    "closed",
    "rejected",
    "reopened",
];

fn allowed(from: &str) -> Vec<&'static str> {
    match from {
        "registered" | "reopened" => vec![
            "assigned",
            "in_progress",
            "escalated",
            "resolved",
            "rejected",
        ],
        "assigned" => vec![
            "assigned",
            "in_progress",
            "escalated",
            "resolved",
            "rejected",
        ],
        "in_progress" => vec!["assigned", "escalated", "resolved", "rejected"],
        "escalated" => vec![
            "escalated",
            "assigned",
            "in_progress",
            "resolved",
            "rejected",
        ],
        "resolved" => vec!["closed", "reopened"],
        "rejected" => vec!["reopened"],
        "closed" => vec![],
        other => panic!("unknown state {other}"),
    }
}

async fn every_invalid_transition_is_refused_with_the_allowed_states(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut refused = 0;
    for from in STATES {
        let id = incident_in(&app, from).await;
        let expected = allowed(from);
        for to in STATES.iter().filter(|to| !expected.contains(to)) {
            // Carry every field any target needs, so only the lifecycle can refuse.
            let body = json!({ "to": to, "assignee": "ana", "reason": "r", "resolution": "ok" });
            let reply = app
                .post(&format!("/v1/incidents/{id}/transitions"), body)
                .await;
            reply.assert_problem(409, "invalid-transition");
            let allowed_now: Vec<&str> = reply.body["allowed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(allowed_now, expected, "{from} -> {to}");
            refused += 1;
        }
        // A refused move leaves the PQR untouched.
        let current = app.get(&format!("/v1/incidents/{id}")).await;
        assert_eq!(current.body["state"], from);
    }
    assert_eq!(
        refused, 37,
        "8 states x 8 targets minus the 27 allowed moves"
    );
}

async fn transitions_need_their_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_incident(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/incidents/{id}/transitions");
    for (body, fields) in [
        (json!({ "to": "assigned" }), vec!["assignee"]),
        (json!({ "to": "escalated" }), vec!["reason"]),
        (json!({ "to": "resolved" }), vec!["resolution"]),
        (json!({ "to": "rejected" }), vec!["reason", "rejected_by"]),
        (
            json!({ "to": "escalated", "reason": "r", "level": 9 }),
            vec!["level"],
        ),
        (
            json!({ "to": "in_progress", "rejected_by": "company" }),
            vec!["rejected_by"],
        ),
    ] {
        let reply = app.post(&path, body.clone()).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.fields(), fields, "{body}");
    }
    let unknown = app
        .post(
            "/v1/incidents/0190a000-0000-7000-8000-000000000000/transitions",
            json!({ "to": "in_progress" }),
        )
        .await;
    unknown.assert_problem(404, "not-found");
    let events = app.get(&format!("/v1/incidents/{id}/events")).await;
    assert_eq!(
        events.body.as_array().unwrap().len(),
        1,
        "refused moves leave no event"
    );
}

fn ts(value: &Value) -> jiff::Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

async fn sla_due_skips_closed_hours_and_holidays(backend: Backend) {
    let app = spawn_app(backend).await;
    // Open every day 00:00–12:00 UTC, closed tomorrow (UTC). Medium PQRs get 720 business
    // minutes (one full window); critical ones run around the clock.
    let mut settings = app.get("/v1/tenants/me").await.body["settings"].clone();
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let tomorrow = today.tomorrow().unwrap();
    let window = json!([{ "start": "00:00", "end": "12:00" }]);
    settings["business_hours"] = json!({
        "timezone": "UTC",
        "weekly": {
            "monday": window, "tuesday": window, "wednesday": window, "thursday": window,
            "friday": window, "saturday": window, "sunday": window
        },
        "holidays": [tomorrow.to_string()]
    });
    settings["sla"]["medium"] = json!({
        "first_response_minutes": 60, "resolution_minutes": 720, "business_hours_only": true
    });
    settings["sla"]["critical"] = json!({
        "first_response_minutes": 30, "resolution_minutes": 90, "business_hours_only": false
    });
    let put = app
        .call(
            Method::PUT,
            "/v1/tenants/me/settings",
            &app.key,
            Some(settings),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);

    let medium = app.new_incident(json!({})).await;
    let created = ts(&medium["created_at"]);
    let due = ts(&medium["sla"]["resolution_due_at"]);
    let day = created.to_zoned(jiff::tz::TimeZone::UTC).date();
    let midnight =
        |date: jiff::civil::Date| date.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    let hour = jiff::SignedDuration::from_hours(1);
    // Tomorrow is a holiday, so the window after today's is the day after tomorrow's.
    let day_after = day.tomorrow().unwrap().tomorrow().unwrap();
    let expected = if created < midnight(day) + hour * 12 {
        // Today's remaining minutes, then the rest of the window two days later.
        midnight(day_after) + (created.duration_since(midnight(day)))
    } else {
        midnight(day_after) + hour * 12
    };
    if day == today {
        assert_eq!(due, expected, "created {created}");
    }
    let critical = app
        .new_incident(json!({ "impact": "high", "urgency": "high" }))
        .await;
    assert_eq!(critical["priority"], "critical");
    let created = ts(&critical["created_at"]);
    assert_eq!(
        ts(&critical["sla"]["first_response_due_at"]),
        created + jiff::SignedDuration::from_mins(30)
    );
    assert_eq!(
        ts(&critical["sla"]["resolution_due_at"]),
        created + jiff::SignedDuration::from_mins(90)
    );
}

async fn idempotent_create_returns_the_first_incident(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({
        "channel": "chatbot", "kind": "peticion", "subject": "Cambio de plan",
        "description": "Quiero cambiar a un plan de mayor velocidad."
    });
    let send = |key: &'static str, body: Value| {
        let request = app
            .client
            .post(format!("{}/v1/incidents", app.base))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { crate::helpers::reply(request.send().await.unwrap()).await }
    };
    let first = send("retry-123", body.clone()).await;
    assert_eq!(first.status, 201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let second = send("retry-123", body.clone()).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.body["id"], first.body["id"]);

    // Concurrent retries of a new key still create exactly one PQR.
    let racers: Vec<_> = (0..6).map(|_| send("race-1", body.clone())).collect();
    let replies = futures_join_all(racers).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);

    let list = app.get("/v1/incidents").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // The same key with another body is a client error, not a silent replay.
    let mut changed = body.clone();
    changed["subject"] = json!("Otra cosa");
    let misuse = send("retry-123", changed).await;
    misuse.assert_problem(422, "validation");
    assert_eq!(misuse.fields(), ["Idempotency-Key"]);
}

async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

async fn list_filters_and_cursor_pagination(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("CLI-9").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let channel = if i % 2 == 0 { "email" } else { "web" };
        let district = if i < 3 { "Miraflores" } else { "Surco" };
        let body = app
            .new_incident(json!({
                "channel": channel,
                "customer_id": if i == 0 { customer["id"].clone() } else { Value::Null },
                "location": { "department": "Lima", "district": district }
            }))
            .await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let resolved = &ids[1];
    app.move_to(resolved, json!({ "to": "resolved", "resolution": "ok" }))
        .await;

    // Newest first, three per page, no duplicates, last page has no cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/incidents?limit=3&cursor={c}"),
            None => "/v1/incidents?limit=3".to_owned(),
        };
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let count = |path: &str| {
        let path = path.to_owned();
        let app = &app;
        async move {
            let reply = app.get(&path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            reply.body["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/v1/incidents?channel=email").await, 4);
    assert_eq!(count("/v1/incidents?district=Surco").await, 4);
    assert_eq!(
        count("/v1/incidents?channel=web&district=Miraflores").await,
        1
    );
    assert_eq!(count("/v1/incidents?state=resolved").await, 1);
    assert_eq!(
        count("/v1/incidents?state=registered&priority=medium").await,
        6
    );
    assert_eq!(
        count(&format!(
            "/v1/incidents?customer_id={}",
            customer["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    assert_eq!(
        count(&format!("/v1/incidents?created_from={future}")).await,
        0
    );
    assert_eq!(
        count(&format!("/v1/incidents?created_to={future}")).await,
        7
    );
}
