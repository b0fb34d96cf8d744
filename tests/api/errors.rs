//! Bad input of every kind gets a 4xx problem+json naming the field, never a 500.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, reply, spawn_app, spawn_with};

both_backends!(malformed_bodies_name_the_field, oversize_and_odd_requests);

async fn malformed_bodies_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = json!({ "channel": "phone", "kind": "queja", "subject": "s", "description": "d" });
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("channel", json!("fax")), "channel"),
        (with("kind", json!("felicitacion")), "kind"),
        (with("subject", json!(42)), "subject"),
        (with("colour", json!("red")), "."),
        (
            with("location", json!({ "planet": "Marte" })),
            "location.planet",
        ),
        (with("impact", json!("extreme")), "impact"),
    ] {
        let reply = app.post("/v1/incidents", body.clone()).await;
        reply.assert_problem(400, "malformed-request");
        if field != "." {
            assert_eq!(reply.fields(), [field], "{body}");
        }
    }
    let missing = app
        .post(
            "/v1/incidents",
            json!({ "channel": "phone", "kind": "queja" }),
        )
        .await;
    missing.assert_problem(400, "malformed-request");
    assert!(missing.body["detail"].as_str().unwrap().contains("subject"));

    let invalid = app
        .post("/v1/incidents", with("subject", json!("   ")))
        .await;
    invalid.assert_problem(422, "validation");
    assert_eq!(invalid.fields(), ["subject"]);

    for query in [
        "/v1/incidents?state=lost",
        "/v1/incidents?limit=abc",
        "/v1/incidents?created_from=yesterday",
        "/v1/incidents?sort=desc",
    ] {
        app.get(query)
            .await
            .assert_problem(400, "malformed-request");
    }
    let limit = app.get("/v1/incidents?limit=0").await;
    limit.assert_problem(422, "validation");
    assert_eq!(limit.fields(), ["limit"]);
    let cursor = app.get("/v1/incidents?cursor=not-a-cursor").await;
    assert_eq!(cursor.fields(), ["cursor"]);

    // Nothing above was stored.
    let list = app.get("/v1/incidents").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
}

async fn oversize_and_odd_requests(backend: Backend) {
    let app = spawn_with(backend, |config| config.max_body_bytes = 64 * 1024).await;
    let send = |builder: reqwest::RequestBuilder| async move {
        reply(builder.send().await.expect("sent")).await
    };
    let url = format!("{}/v1/incidents", app.base);

    let raw = |content_type: &'static str, body: Vec<u8>| {
        let request = app
            .client
            .post(&url)
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(body);
        send(request)
    };

    let big = json!({ "channel": "web", "kind": "queja", "subject": "s", "description": "x".repeat(100_000) });
    send(app.client.post(&url).bearer_auth(&app.key).json(&big))
        .await
        .assert_problem(413, "payload-too-large");

    let bad_utf8 =
        b"{\"channel\":\"web\",\"kind\":\"queja\",\"subject\":\"\xff\xfe\",\"description\":\"d\"}"
            .to_vec();
    raw("application/json", bad_utf8)
        .await
        .assert_problem(400, "malformed-request");

    raw("application/json", "{\"channel\": \"web\",".into())
        .await
        .assert_problem(400, "malformed-request");

    raw("text/plain", "hola".into())
        .await
        .assert_problem(415, "unsupported-media-type");

    send(app.client.patch(&url).bearer_auth(&app.key))
        .await
        .assert_problem(405, "method-not-allowed");
    send(app.client.get(format!("{}/v2/nothing", app.base)))
        .await
        .assert_problem(404, "not-found");
    send(
        app.client
            .post(format!("{}/v1/customers/bulk", app.base))
            .bearer_auth(&app.key)
            .json(&json!({ "not": "an array" })),
    )
    .await
    .assert_problem(400, "malformed-request");
    send(
        app.client
            .get(&url)
            .header("authorization", format!("Basic {}", app.key)),
    )
    .await
    .assert_problem(401, "unauthorized");
}
