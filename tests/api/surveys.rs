//! Satisfaction surveys: answered once, only on solved PQRs, validated field by field, recorded on
//! the timeline, and invisible to other tenants.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(a_survey_is_answered_once_on_a_solved_pqr);

async fn a_survey_is_answered_once_on_a_solved_pqr(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_incident(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/incidents/{id}/survey");

    // Not solved yet: a conflict that says why.
    let early = app.post(&path, json!({ "score": 5 })).await;
    early.assert_problem(409, "conflict");
    assert!(
        early.body["detail"]
            .as_str()
            .unwrap()
            .contains("registered")
    );

    app.move_to(
        &id,
        json!({ "to": "resolved", "resolution": "Se cambió el router." }),
    )
    .await;
    // Every bad field is named; nothing is stored.
    let bad = app
        .post(&path, json!({ "score": 9, "comment": "x".repeat(2_001) }))
        .await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.fields(), ["score", "comment"]);
    app.post(&path, json!({ "score": 4, "stars": 4 }))
        .await
        .assert_problem(400, "malformed-request");
    app.get(&path).await.assert_problem(404, "not-found");

    // A viewer may not answer; a channel may.
    let viewer = app.key_with_role("viewer").await;
    app.call(Method::POST, &path, &viewer, Some(json!({ "score": 4 })))
        .await
        .assert_problem(403, "forbidden");
    let channel = app.key_with_role("channel").await;
    let answered = app
        .call(
            Method::POST,
            &path,
            &channel,
            Some(json!({ "score": 4, "comment": "  Me atendieron rápido.  " })),
        )
        .await;
    assert_eq!(answered.status, 201, "{}", answered.body);
    assert_eq!(answered.body["score"], 4);
    assert_eq!(answered.body["comment"], "Me atendieron rápido.");
    assert_eq!(app.get(&path).await.body, answered.body);

    // Once only.
    let again = app.post(&path, json!({ "score": 1 })).await;
    again.assert_problem(409, "conflict");
    assert_eq!(app.get(&path).await.body["score"], 4);

    // On the timeline, by the channel's key; the PQR's version moved on.
    let events = app.get(&format!("/v1/incidents/{id}/events")).await.body;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "survey", "{last}");
    assert_eq!(last["data"]["score"], 4);
    assert_eq!(last["actor"]["role"], "channel");
    assert_eq!(
        app.get(&format!("/v1/incidents/{id}")).await.body["version"],
        3
    );

    // Another tenant neither sees nor answers it.
    let other = app.other_tenant("Otra").await;
    app.call(Method::GET, &path, &other, None)
        .await
        .assert_problem(404, "not-found");
    app.call(Method::POST, &path, &other, Some(json!({ "score": 1 })))
        .await
        .assert_problem(404, "not-found");
    assert_eq!(app.get(&path).await.body["score"], 4);
}
