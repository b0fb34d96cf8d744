//! Knowledge base over HTTP with the real e5-small model: articles, search across Spanish and
//! English, suggestions for a PQR, and strict tenant separation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_with};

both_backends!(
    search_and_suggestions_find_the_right_article,
    articles_are_validated_replaced_and_deleted,
    without_the_model_the_knowledge_base_is_unavailable,
    on_a_qdrant_server_search_is_tenant_scoped_and_survives_a_restart,
);

const ARTICLES: [(&str, &str, &str); 4] = [
    (
        "KB-INT",
        "Internet caído en el hogar",
        "Si se quedó sin internet, reinicie el módem: desconéctelo 30 segundos y vuelva a conectarlo. \
         Si la luz LOS está en rojo, hay una avería en la fibra y programaremos una visita técnica.",
    ),
    (
        "KB-POR",
        "Portabilidad numérica",
        "Para llevar su número a otro operador solicite la portabilidad con su DNI. \
         El cambio se completa en 24 horas y no pierde su número.",
    ),
    (
        "KB-FAC",
        "Cobros indebidos en el recibo",
        "Si ve un cobro duplicado o que no reconoce en su recibo, presente un reclamo: revisaremos \
         la facturación y le devolveremos el monto cobrado de más.",
    ),
    (
        "KB-SEN",
        "Sin señal móvil en interiores",
        "Si su celular no tiene señal dentro de casa, active y desactive el modo avión y verifique \
         la cobertura de su zona en nuestra web.",
    ),
];

async fn load(app: &TestApp, key: &str, suffix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (external_id, title, body) in ARTICLES {
        let reply = app
            .call(
                Method::POST,
                "/v1/kb/articles",
                key,
                Some(json!({
                    "external_id": format!("{external_id}{suffix}"),
                    "title": format!("{title}{suffix}"),
                    "body": body,
                    "tags": ["demo"],
                    "product": "internet_hogar",
                })),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    ids
}

fn titles(reply: &Value) -> Vec<String> {
    reply
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_and_suggestions_find_the_right_article(backend: Backend) {
    let app = spawn_app(backend).await;
    search_scenario(&app).await;
}

/// The same, with vectors on a Qdrant server (`ABCALL_TEST_QDRANT_URL`, e.g.
/// `http://127.0.0.1:6334`) in a collection of the test's own; then the server keeps them across
/// a restart of the service. Skipped when no server is named.
async fn on_a_qdrant_server_search_is_tenant_scoped_and_survives_a_restart(backend: Backend) {
    let Ok(url) = std::env::var("ABCALL_TEST_QDRANT_URL") else {
        eprintln!("ABCALL_TEST_QDRANT_URL is not set: Qdrant server test skipped");
        return;
    };
    let collection = format!("abcall_test_{}", uuid::Uuid::now_v7().simple());
    let mut app = spawn_with(backend, |c| {
        c.qdrant_url = Some(url.clone());
        c.qdrant_collection = collection.clone();
    })
    .await;
    search_scenario(&app).await;
    app.restart(|_| {}).await;
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "quiero llevar mi número a otro operador", "k": 1 }),
        )
        .await;
    assert_eq!(
        titles(&reply.body),
        ["Portabilidad numérica"],
        "{}",
        reply.body
    );
    // No point of the collection is stored on local disk.
    assert!(!app.data_dir().join("vectors").exists());
    // Drop the test's collection so runs do not pile up on a shared server.
    qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .expect("client")
        .delete_collection(&collection)
        .await
        .expect("collection dropped");
}

async fn search_scenario(app: &TestApp) {
    let other = app.other_tenant("Tenant B").await;
    let mine = load(app, &app.key, "").await;
    let theirs = load(app, &other, " (B)").await;

    for (query, expected) in [
        (
            "Se cayó el internet de mi casa y el módem tiene una luz roja",
            "Internet caído en el hogar",
        ),
        (
            "quiero cambiarme de operador con mi mismo número",
            "Portabilidad numérica",
        ),
        (
            "How do I keep my phone number when switching carriers?",
            "Portabilidad numérica",
        ),
        ("me cobraron dos veces", "Cobros indebidos en el recibo"),
    ] {
        let reply = app
            .post("/v1/kb/search", json!({ "query": query, "k": 3 }))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let found = titles(&reply.body);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0], expected, "{query}: {}", reply.body);
        for hit in reply.body.as_array().unwrap() {
            let id = hit["article_id"].as_str().unwrap();
            assert!(
                mine.iter().any(|m| m == id),
                "{query}: another tenant's article {id}"
            );
            assert!(!theirs.iter().any(|t| t == id));
            assert!(hit["score"].as_f64().unwrap() > 0.0);
            assert!(!hit["passage"].as_str().unwrap().is_empty());
        }
    }

    // "No tengo internet" is close to both outages, the home one and the mobile one; e5-small
    // puts "sin señal móvil" a hair above (0.90 vs 0.87), so ask only that both come first.
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "No tengo internet desde ayer", "k": 2 }),
        )
        .await;
    let mut found = titles(&reply.body);
    found.sort();
    assert_eq!(
        found,
        [
            "Internet caído en el hogar",
            "Sin señal móvil en interiores"
        ]
    );

    // The other tenant sees only its own copies.
    let reply = app
        .call(
            Method::POST,
            "/v1/kb/search",
            &other,
            Some(json!({ "query": "sin internet" })),
        )
        .await;
    assert!(titles(&reply.body).iter().all(|t| t.ends_with("(B)")));

    let incident = app
        .new_incident(json!({
            "subject": "Cobro doble en mi recibo de mayo",
            "description": "Me cobraron dos veces el cargo fijo y quiero la devolución."
        }))
        .await;
    let reply = app
        .get(&format!(
            "/v1/incidents/{}/suggestions",
            incident["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let found = titles(&reply.body);
    assert_eq!(found.len(), 3);
    assert_eq!(found[0], "Cobros indebidos en el recibo");

    for (body, field) in [
        (json!({ "query": "" }), "query"),
        (json!({ "query": "hola", "k": 0 }), "k"),
    ] {
        let reply = app.post("/v1/kb/search", body).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.fields(), [field]);
    }
}

async fn articles_are_validated_replaced_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let invalid = app
        .post(
            "/v1/kb/articles",
            json!({ "title": "", "body": " ", "tags": [""] }),
        )
        .await;
    invalid.assert_problem(422, "validation");
    assert_eq!(invalid.fields(), ["title", "body", "tags[0]"]);

    let ids = load(&app, &app.key, "").await;
    let path = format!("/v1/kb/articles/{}", ids[0]);

    // Posting an external id again replaces that article instead of adding a copy.
    let again = app
        .post(
            "/v1/kb/articles",
            json!({ "external_id": "KB-POR", "title": "Portabilidad numérica", "body": "Nuevo texto." }),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], ids[1].as_str());
    assert_eq!(
        app.get("/v1/kb/articles").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let replaced = app
        .call(
            Method::PUT,
            &path,
            &app.key,
            Some(json!({
                "external_id": "KB-INT",
                "title": "Horario de tiendas",
                "body": "Nuestras tiendas atienden de lunes a sábado de 9 a 20 horas."
            })),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["id"], ids[0].as_str());

    // The old text is gone from the index, the new one is found.
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "¿a qué hora abren las tiendas?", "k": 1 }),
        )
        .await;
    assert_eq!(titles(&reply.body), ["Horario de tiendas"]);
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "reiniciar el módem", "k": 4 }),
        )
        .await;
    assert!(
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["passage"].as_str().is_some_and(|p| !p.contains("módem")))
    );

    // A second article may not take an external id that is in use.
    let clash = app
        .call(
            Method::PUT,
            &format!("/v1/kb/articles/{}", ids[1]),
            &app.key,
            Some(json!({ "external_id": "KB-INT", "title": "x", "body": "y" })),
        )
        .await;
    clash.assert_problem(409, "conflict");

    let deleted = app.call(Method::DELETE, &path, &app.key, None).await;
    assert_eq!(deleted.status, 204);
    app.get(&path).await.assert_problem(404, "not-found");
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "horario de tiendas", "k": 5 }),
        )
        .await;
    assert_eq!(reply.body.as_array().unwrap().len(), 3);
    assert!(!titles(&reply.body).contains(&"Horario de tiendas".to_owned()));
    let list = app.get("/v1/kb/articles").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);

    // `abcall kb reindex` rebuilds the index from the database: same answers afterwards.
    let knowledge = app.app().knowledge().await.unwrap();
    assert_eq!(
        knowledge.reindex(None).await.unwrap(),
        3,
        "one chunk per article"
    );
    let reply = app
        .post(
            "/v1/kb/search",
            json!({ "query": "me cobraron dos veces", "k": 1 }),
        )
        .await;
    assert_eq!(titles(&reply.body), ["Cobros indebidos en el recibo"]);

    let viewer = app.key_with_role("viewer").await;
    let forbidden = app
        .call(
            Method::POST,
            "/v1/kb/articles",
            &viewer,
            Some(json!({ "title": "t", "body": "b" })),
        )
        .await;
    forbidden.assert_problem(403, "forbidden");
}

async fn without_the_model_the_knowledge_base_is_unavailable(backend: Backend) {
    let empty = tempfile::tempdir().unwrap();
    let models = empty.path().to_owned();
    let app = spawn_with(backend, move |config| config.models_dir = models).await;
    let reply = app
        .post("/v1/kb/articles", json!({ "title": "t", "body": "b" }))
        .await;
    reply.assert_problem(503, "unavailable");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("abcall models install e5-small")
    );
    // Nothing half-stored, and the rest of the service works.
    assert_eq!(app.get("/v1/kb/articles").await.body["items"], json!([]));
    assert_eq!(app.get("/v1/incidents").await.status, 200);
}

/// The demo tenant's Spanish knowledge base answers customers' own wording (no title words):
/// 36 questions in `data/demo/kb_queries.json`, each with the article(s) that answer it.
/// Measured: recall@1 63.9%, recall@3 83.3%; the floor below catches regressions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_knowledge_base_answers_customers_questions() {
    let app = spawn_app(Backend::Sqlite).await;
    let tenant = app.get("/v1/tenants/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let knowledge = app.app().knowledge().await.unwrap();
    abcall::demo::install_knowledge(&knowledge, &tenant)
        .await
        .unwrap();
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../../data/demo/kb_queries.json")).expect("query set");
    let (mut at1, mut at3, mut misses) = (0, 0, Vec::new());
    for case in &cases {
        let reply = app
            .post("/v1/kb/search", json!({ "query": case["query"], "k": 3 }))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let found: Vec<&str> = reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["external_id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        if expected.contains(&found[0]) {
            at1 += 1;
        }
        if found.iter().any(|f| expected.contains(f)) {
            at3 += 1;
        } else {
            misses.push(format!("{} -> {found:?}", case["query"]));
        }
    }
    let n = cases.len() as f64;
    eprintln!(
        "demo KB: recall@1 {:.1}%, recall@3 {:.1}% over {} questions; misses: {misses:#?}",
        100.0 * at1 as f64 / n,
        100.0 * at3 as f64 / n,
        cases.len()
    );
    assert!(at3 as f64 / n >= 0.8, "recall@3 {at3}/{n}: {misses:#?}");
}
