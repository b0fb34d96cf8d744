//! Health, readiness, metrics, OpenAPI and the offline docs viewer.

use crate::both_backends;
use crate::helpers::{Backend, reply, spawn_app};

both_backends!(health_metrics_and_docs);

async fn health_metrics_and_docs(backend: Backend) {
    let app = spawn_app(backend).await;
    let get = |path: &str| {
        let request = app.client.get(format!("{}{path}", app.base));
        async move { request.send().await.expect("sent") }
    };
    assert_eq!(reply(get("/healthz").await).await.body["status"], "ok");
    assert_eq!(reply(get("/readyz").await).await.body["status"], "ready");

    app.get("/v1/incidents").await;
    let metrics = get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("route=\"/v1/incidents\"")
            && l.contains("status=\"200\"")),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));

    let openapi = reply(get("/openapi.json").await).await.body;
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/incidents",
        "/v1/customers/bulk",
        "/v1/tenants/me/keys",
        "/v1/customers/{id}/360",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing");
    }

    // The viewer is served from the binary: no CDN, no network.
    let page = get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page must not load remote assets"
    );
    let config = get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("/openapi.json"), "{config}");
    assert_eq!(get("/docs/swagger-ui-bundle.js").await.status(), 200);

    // Responses are compressed when the client asks.
    let compressed = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    assert!(compressed.headers().contains_key("x-request-id"));
}
