//! Tenants never see each other's data: every route that takes an id answers 404 to another
//! tenant's key, and lists never include another tenant's rows.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(another_tenant_gets_404_on_every_id_route);

async fn another_tenant_gets_404_on_every_id_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("A-1").await;
    let customer_id = customer["id"].as_str().unwrap();
    let incident = app
        .new_incident(json!({ "customer_id": customer_id }))
        .await;
    let incident_id = incident["id"].as_str().unwrap();
    // A solved and surveyed PQR, for the survey routes.
    let surveyed = app.new_incident(json!({})).await;
    let surveyed_id = surveyed["id"].as_str().unwrap();
    app.move_to(
        surveyed_id,
        json!({ "to": "resolved", "resolution": "Listo." }),
    )
    .await;
    let answered = app
        .post(
            &format!("/v1/incidents/{surveyed_id}/survey"),
            json!({ "score": 5 }),
        )
        .await;
    assert_eq!(answered.status, 201, "{}", answered.body);
    let agent_key_id = {
        let reply = app
            .post(
                "/v1/tenants/me/keys",
                json!({ "name": "agente", "role": "agent" }),
            )
            .await;
        reply.body["id"].as_str().unwrap().to_owned()
    };
    let article = app
        .post(
            "/v1/kb/articles",
            json!({ "title": "Reinicio del módem", "body": "Desconecte el módem 30 segundos." }),
        )
        .await;
    assert_eq!(article.status, 201, "{}", article.body);
    let article_id = article.body["id"].as_str().unwrap().to_owned();
    let import = app
        .upload(
            "/v1/kb/imports",
            &app.key,
            "text/csv",
            "title,body\nFactura,Pague en línea.\n".as_bytes(),
            false,
        )
        .await;
    assert_eq!(import.status, 202, "{}", import.body);
    let job_id = import.body["id"].as_str().unwrap().to_owned();
    app.wait_for_job(&job_id).await;
    let mut tiny = String::from("plan,tenure,churn\n");
    for i in 0..12 {
        tiny.push_str(&format!(
            "p{},{i},{}\n",
            i % 3,
            if i % 2 == 0 { "yes" } else { "no" }
        ));
    }
    let dataset = app
        .upload(
            "/v1/datasets?name=mini&kind=tabular&target=churn",
            &app.key,
            "text/csv",
            tiny.as_bytes(),
            false,
        )
        .await;
    assert_eq!(dataset.status, 201, "{}", dataset.body);
    let dataset_id = dataset.body["id"].as_str().unwrap().to_owned();
    let training = app
        .post("/v1/models", json!({ "dataset_id": dataset_id }))
        .await;
    let trained = app
        .wait_for_job(training.body["id"].as_str().unwrap())
        .await;
    assert_eq!(trained["state"], "succeeded", "{trained}");
    let model_id = trained["result"]["model_id"].as_str().unwrap().to_owned();
    let operator = abcall::store::billing::create_operator_key(&app.app().db, "facturación")
        .await
        .expect("operator key")
        .1;
    let tenant_a = app.get("/v1/tenants/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let period = app.get("/v1/billing").await.body["period"].clone();
    let draft = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant_a}/invoices"),
            &operator,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let invoice_id = draft.body["id"].as_str().unwrap().to_owned();
    let wav = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech-8k.wav"),
    )
    .unwrap();
    let call = app
        .upload(
            "/v1/calls?direction=inbound&started_at=2026-12-01T15:00:00Z&ended_at=2026-12-01T15:00:02Z",
            &app.key,
            "audio/wav",
            &wav,
            false,
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.body);
    let call_id = call.body["id"].as_str().unwrap().to_owned();
    let attachment = app
        .upload(
            &format!("/v1/incidents/{incident_id}/attachments?name=nota.txt"),
            &app.key,
            "text/plain",
            "nota".as_bytes(),
            false,
        )
        .await;
    assert_eq!(attachment.status, 201, "{}", attachment.body);
    let attachment_path = format!(
        "/v1/incidents/{incident_id}/attachments/{}",
        attachment.body["id"].as_str().unwrap()
    );
    let b = app.other_tenant("Tenant B").await;

    let customer_body = json!({ "external_id": "A-1", "name": "Intruso" });
    let routes = [
        (Method::GET, "/v1/customers/{id}", customer_id, None),
        (
            Method::PUT,
            "/v1/customers/{id}",
            customer_id,
            Some(customer_body),
        ),
        (Method::GET, "/v1/customers/{id}/360", customer_id, None),
        (Method::GET, "/v1/incidents/{id}", incident_id, None),
        (
            Method::POST,
            "/v1/incidents/{id}/transitions",
            incident_id,
            Some(json!({ "to": "in_progress" })),
        ),
        (Method::GET, "/v1/incidents/{id}/events", incident_id, None),
        (
            Method::DELETE,
            "/v1/tenants/me/keys/{id}",
            agent_key_id.as_str(),
            None,
        ),
        (
            Method::GET,
            "/v1/kb/articles/{id}",
            article_id.as_str(),
            None,
        ),
        (
            Method::PUT,
            "/v1/kb/articles/{id}",
            article_id.as_str(),
            Some(json!({ "title": "Intruso", "body": "Texto ajeno" })),
        ),
        (
            Method::DELETE,
            "/v1/kb/articles/{id}",
            article_id.as_str(),
            None,
        ),
        (
            Method::GET,
            "/v1/incidents/{id}/suggestions",
            incident_id,
            None,
        ),
        (Method::GET, "/v1/jobs/{id}", job_id.as_str(), None),
        (
            Method::GET,
            "/v1/incidents/{id}/insights",
            incident_id,
            None,
        ),
        (Method::GET, "/v1/datasets/{id}", dataset_id.as_str(), None),
        (
            Method::DELETE,
            "/v1/datasets/{id}",
            dataset_id.as_str(),
            None,
        ),
        (Method::GET, "/v1/models/{id}", model_id.as_str(), None),
        (Method::DELETE, "/v1/models/{id}", model_id.as_str(), None),
        (
            Method::POST,
            "/v1/models/{id}/activate",
            model_id.as_str(),
            None,
        ),
        (Method::POST, "/v1/jobs/{id}/cancel", job_id.as_str(), None),
        (Method::GET, "/v1/invoices/{id}", invoice_id.as_str(), None),
        (Method::GET, "/v1/calls/{id}", call_id.as_str(), None),
        (Method::GET, "/v1/calls/{id}/audio", call_id.as_str(), None),
        (
            Method::GET,
            "/v1/calls/{id}/transcript",
            call_id.as_str(),
            None,
        ),
        (
            Method::POST,
            "/v1/calls/{id}/transcription",
            call_id.as_str(),
            Some(json!({ "language": "es" })),
        ),
        (
            Method::GET,
            "/v1/incidents/{id}/attachments",
            incident_id,
            None,
        ),
        (
            Method::POST,
            "/v1/incidents/{id}/attachments",
            incident_id,
            Some(json!({ "texto": "intruso" })),
        ),
        (Method::GET, "/v1/incidents/{id}/survey", surveyed_id, None),
        (
            Method::POST,
            "/v1/incidents/{id}/survey",
            surveyed_id,
            Some(json!({ "score": 1 })),
        ),
        // The whole path is the "id" here: both of its ids are tenant A's.
        (
            Method::GET,
            "/v1/incidents/{id}/attachments/{attachment_id}",
            attachment_path.as_str(),
            None,
        ),
    ];

    // Every route with an id in its path must be listed above: a new one fails here until added.
    // Back-office routes take no tenant key at all (tests/api/billing.rs checks they refuse one).
    let openapi = app.get("/openapi.json").await.body;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if !path.contains('{') || path.starts_with("/v1/operator/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            assert!(
                routes
                    .iter()
                    .any(|(m, p, _, _)| m.as_str() == method && p == path),
                "{method} {path} is not covered by the tenant isolation test"
            );
        }
    }

    for (method, template, id, body) in &routes {
        let path = if template.contains("{attachment_id}") {
            (*id).to_owned()
        } else {
            template.replace("{id}", id)
        };
        let reply = app.call(method.clone(), &path, &b, body.clone()).await;
        reply.assert_problem(404, "not-found");
        // And the owner still reaches it (so the 404 is isolation, not a broken route).
        if *method == Method::GET {
            let own = app.get(&path).await;
            assert_eq!(own.status, 200, "{method} {path}: {}", own.body);
        }
    }

    // Nothing changed for tenant A.
    let still = app.get(&format!("/v1/customers/{customer_id}")).await;
    assert_eq!(still.body["name"], "María Quispe");
    let still = app.get(&format!("/v1/incidents/{incident_id}")).await;
    assert_eq!(still.body["state"], "registered");
    let still = app
        .get(&format!("/v1/incidents/{surveyed_id}/survey"))
        .await;
    assert_eq!(still.body["score"], 5);
    let keys = app.get("/v1/tenants/me/keys").await;
    assert!(
        keys.body
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["revoked_at"].is_null())
    );

    // Lists are scoped too, and B cannot attach A's customer to its PQR.
    let still = app.get(&format!("/v1/kb/articles/{article_id}")).await;
    assert_eq!(still.body["title"], "Reinicio del módem");
    for list in [
        "/v1/customers",
        "/v1/incidents",
        "/v1/tenants/me/keys",
        "/v1/kb/articles",
        "/v1/jobs",
        "/v1/datasets",
        "/v1/models",
        "/v1/invoices",
    ] {
        let reply = app.call(Method::GET, list, &b, None).await;
        assert_eq!(reply.status, 200);
        let text = reply.body.to_string();
        assert!(
            !text.contains(customer_id)
                && !text.contains(incident_id)
                && !text.contains(&job_id)
                && !text.contains(&article_id)
                && !text.contains(&dataset_id)
                && !text.contains(&model_id)
                && !text.contains(&invoice_id),
            "{list}: {text}"
        );
    }
    let filtered = app
        .call(
            Method::GET,
            &format!("/v1/incidents?customer_id={customer_id}"),
            &b,
            None,
        )
        .await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 0);
    let borrow = app
        .call(
            Method::POST,
            "/v1/incidents",
            &b,
            Some(json!({
                "channel": "web", "kind": "queja", "subject": "x", "description": "y",
                "customer_id": customer_id
            })),
        )
        .await;
    borrow.assert_problem(422, "validation");
    assert_eq!(borrow.fields(), ["customer_id"]);
    // B's own tenant view is B's.
    let me = app.call(Method::GET, "/v1/tenants/me", &b, None).await;
    assert_eq!(me.body["name"], "Tenant B");
}
