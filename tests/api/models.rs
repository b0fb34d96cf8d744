//! Per-tenant datasets, training, the model registry and scoring, end to end over HTTP: two
//! tenants train churn models on different schemas (IBM Telco and `mlc_churn`), each scores only
//! its own customers, activation and rollback change the scores, and a restart keeps everything.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    two_tenants_train_their_own_churn_models,
    a_broken_dataset_is_rejected_by_line_and_nothing_is_stored,
    text_models_classify_pqr_texts,
);

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/churn")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Keeps the header and every `keep`-th data row: smaller uploads, same schema.
fn sample(csv: &[u8], keep: usize) -> Vec<u8> {
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        if i % keep == 0 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

async fn upload(app: &TestApp, key: &str, query: &str, csv: &[u8]) -> Value {
    let reply = app
        .upload(&format!("/v1/datasets?{query}"), key, "text/csv", csv, true)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn train(app: &TestApp, key: &str, body: Value) -> Value {
    let reply = app.call(Method::POST, "/v1/models", key, Some(body)).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let job = app.wait_for_job_as(&id, key).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["result"].clone()
}

async fn score(app: &TestApp, key: &str, body: Value) -> Value {
    let reply = app.call(Method::POST, "/v1/score", key, Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn telco_customer() -> Value {
    json!({
        "gender": "Female", "SeniorCitizen": "0", "Partner": "No", "Dependents": "No",
        "tenure": 2, "PhoneService": "Yes", "MultipleLines": "No",
        "InternetService": "Fiber optic", "OnlineSecurity": "No", "OnlineBackup": "No",
        "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "Yes",
        "StreamingMovies": "Yes", "Contract": "Month-to-month", "PaperlessBilling": "Yes",
        "PaymentMethod": "Electronic check", "MonthlyCharges": 95.5, "TotalCharges": 191.0
    })
}

async fn two_tenants_train_their_own_churn_models(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let other = app.other_tenant("Costa Cable").await;
    let telco = sample(&data("telco_churn_train.csv"), 2);
    let mlc = sample(&data("mlc_churn.csv"), 2);

    let dataset = upload(
        &app,
        &app.key,
        "name=telco&kind=tabular&target=Churn",
        &telco,
    )
    .await;
    let column = |name: &str| {
        dataset["schema"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(column("customerID")["type"], "identifier");
    assert_eq!(column("tenure")["type"], "numeric");
    assert_eq!(column("Contract")["type"], "categorical");
    assert_eq!(column("Churn")["type"], "boolean");
    assert_eq!(column("TotalCharges")["type"], "numeric");
    assert_eq!(dataset["sha256"].as_str().unwrap().len(), 64);
    let theirs = upload(&app, &other, "name=mlc&kind=tabular&target=churn", &mlc).await;

    let mine = train(
        &app,
        &app.key,
        json!({ "dataset_id": dataset["id"], "name": "churn" }),
    )
    .await;
    assert_eq!(mine["version"], 1);
    assert_eq!(mine["active"], true);
    assert!(mine["roc_auc"].as_f64().unwrap() > 0.8, "{mine}");
    let their_model = train(
        &app,
        &other,
        json!({ "dataset_id": theirs["id"], "algorithms": ["logistic_regression"] }),
    )
    .await;
    assert_eq!(their_model["name"], "churn");

    // The registry shows metrics from cross-validation.
    let listed = app.get("/v1/models?name=churn").await.body;
    let v1 = &listed[0];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(v1["dataset_sha256"], dataset["sha256"]);
    let metrics = &v1["metrics"];
    assert_eq!(metrics["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(
        metrics["evaluation"]["confusion"].as_array().unwrap().len(),
        2
    );
    assert!(!metrics["importances"].as_array().unwrap().is_empty());

    // Each tenant scores with its own model, on its own schema.
    let risky = score(
        &app,
        &app.key,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    assert_eq!(risky["model_id"], mine["model_id"]);
    assert!(risky["probability"].as_f64().unwrap() > 0.5, "{risky}");
    assert!(!risky["reasons"].as_array().unwrap().is_empty(), "{risky}");
    let mut loyal = telco_customer();
    loyal["Contract"] = json!("Two year");
    loyal["tenure"] = json!(70);
    let loyal = score(&app, &app.key, json!({ "model": "churn", "record": loyal })).await;
    assert!(loyal["probability"].as_f64().unwrap() < risky["probability"].as_f64().unwrap());
    let theirs_scored = score(
        &app,
        &other,
        json!({ "model": "churn", "record": { "number_customer_service_calls": 6, "international_plan": "yes" } }),
    )
    .await;
    assert_eq!(theirs_scored["model_id"], their_model["model_id"]);

    // Customers: scored from their attributes, and only by their own tenant.
    let customer = app
        .post(
            "/v1/customers",
            json!({ "external_id": "T-1", "name": "Rosa Huamán", "attributes": telco_customer() }),
        )
        .await;
    assert_eq!(customer.status, 201, "{}", customer.body);
    let customer_id = customer.body["id"].as_str().unwrap();
    let by_customer = score(
        &app,
        &app.key,
        json!({ "model": "churn", "customer_id": customer_id }),
    )
    .await;
    assert_eq!(by_customer["probability"], risky["probability"]);
    let incident = app
        .new_incident(json!({ "customer_id": customer_id }))
        .await;
    let insights = wait_for_insights(&app, incident["id"].as_str().unwrap()).await;
    assert_eq!(
        insights["churn"]["probability"], risky["probability"],
        "{insights}"
    );
    let view = app
        .get(&format!("/v1/customers/{customer_id}/360"))
        .await
        .body;
    assert_eq!(
        view["insights"]["churn"]["probability"],
        risky["probability"]
    );
    assert!(view["insights"]["churn"]["reasons"].as_array().is_some());
    // Above the default 50% threshold, a new customer gets the offer for short tenures.
    assert_eq!(insights["offer"]["code"], "VEL-X2-3M", "{insights}");
    assert_eq!(view["insights"]["offer"]["code"], "VEL-X2-3M");
    assert!(
        view["insights"]["offer"]["reasons"][1]
            .as_str()
            .unwrap()
            .contains("antigüedad"),
        "{view}"
    );
    app.call(
        Method::POST,
        "/v1/score",
        &other,
        Some(json!({ "model": "churn", "customer_id": customer_id })),
    )
    .await
    .assert_problem(404, "not-found");
    app.call(
        Method::GET,
        &format!("/v1/models/{}", mine["model_id"].as_str().unwrap()),
        &other,
        None,
    )
    .await
    .assert_problem(404, "not-found");
    let their_list = app.call(Method::GET, "/v1/models", &other, None).await.body;
    assert_eq!(their_list.as_array().unwrap().len(), 1);
    assert_eq!(their_list[0]["id"], their_model["model_id"]);

    // A second version (without the contract column) is registered inactive; activating it
    // changes the scores and activating v1 again rolls back.
    let without_contract: Vec<u8> = {
        let text = String::from_utf8(telco.clone()).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let drop = header.iter().position(|h| *h == "Contract").unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(',').collect();
            let kept: Vec<&str> = fields
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, f)| *f)
                .collect();
            out.push_str(&kept.join(","));
            out.push('\n');
        }
        out.into_bytes()
    };
    let second = upload(
        &app,
        &app.key,
        "name=telco-sin-contrato&kind=tabular&target=Churn",
        &without_contract,
    )
    .await;
    let v2 = train(
        &app,
        &app.key,
        json!({ "dataset_id": second["id"], "name": "churn", "algorithms": ["logistic_regression"] }),
    )
    .await;
    assert_eq!(
        (v2["version"].as_i64(), v2["active"].as_bool()),
        (Some(2), Some(false))
    );
    let still_v1 = score(
        &app,
        &app.key,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    assert_eq!(still_v1["version"], 1);
    let v2_id = v2["model_id"].as_str().unwrap();
    let activated = app
        .post(&format!("/v1/models/{v2_id}/activate"), json!({}))
        .await;
    assert_eq!(activated.status, 200, "{}", activated.body);
    let with_v2 = score(
        &app,
        &app.key,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    assert_eq!(with_v2["version"], 2);
    assert_ne!(with_v2["probability"], risky["probability"]);
    let v1_id = mine["model_id"].as_str().unwrap();
    app.post(&format!("/v1/models/{v1_id}/activate"), json!({}))
        .await;
    let rolled_back = score(
        &app,
        &app.key,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    assert_eq!(rolled_back["probability"], risky["probability"]);
    app.call(
        Method::DELETE,
        &format!("/v1/models/{v1_id}"),
        &app.key,
        None,
    )
    .await
    .assert_problem(409, "conflict");

    // A restart keeps models, versions and finished jobs.
    app.restart(|_| {}).await;
    let after = score(
        &app,
        &app.key,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    assert_eq!(after["probability"], risky["probability"]);
    assert_eq!(after["version"], 1);
    let jobs = app.get("/v1/jobs?kind=train_model").await.body;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 2);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/models/{v2_id}"),
            &app.key,
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        app.get("/v1/models").await.body.as_array().unwrap().len(),
        1
    );

    // Roles: an agent may score but not train; a channel key may not read models.
    let agent = app.key_with_role("agent").await;
    score(
        &app,
        &agent,
        json!({ "model": "churn", "record": telco_customer() }),
    )
    .await;
    app.call(
        Method::POST,
        "/v1/models",
        &agent,
        Some(json!({ "dataset_id": dataset["id"] })),
    )
    .await
    .assert_problem(403, "forbidden");
    let channel = app.key_with_role("channel").await;
    app.call(Method::GET, "/v1/models", &channel, None)
        .await
        .assert_problem(403, "forbidden");
}

async fn a_broken_dataset_is_rejected_by_line_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let broken =
        "customer,tenure,plan,churn\nC1,3,mensual,yes\nC2,40,anual\nC3,1,mensual,\nC4,x,anual,no\n";
    let reply = app
        .upload(
            "/v1/datasets?name=roto&kind=tabular&target=churn",
            &app.key,
            "text/csv",
            broken.as_bytes(),
            false,
        )
        .await;
    reply.assert_problem(422, "validation");
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 3, "{}", reply.body);
    assert!(errors[0]["message"].as_str().unwrap().contains("fields"));

    // Well-formed rows but a missing target value.
    let reply = app
        .upload(
            "/v1/datasets?name=roto&kind=tabular&target=churn",
            &app.key,
            "text/csv",
            b"customer,tenure,churn\nC1,3,yes\nC2,4,\nC3,5,no\n",
            false,
        )
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.body["errors"][0]["line"], 3);
    assert_eq!(reply.body["errors"][0]["field"], "churn");

    for (query, field) in [
        ("name=x&kind=tabular&target=baja", "target"),
        ("name=x&kind=tabla&target=churn", "kind"),
        (
            "name=x&kind=text_labels&text_column=customer",
            "label_columns",
        ),
    ] {
        let reply = app
            .upload(
                &format!("/v1/datasets?{query}"),
                &app.key,
                "text/csv",
                b"customer,tenure,churn\nC1,3,yes\nC2,4,no\n",
                false,
            )
            .await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.fields(), [field], "{query}: {}", reply.body);
    }
    assert_eq!(app.get("/v1/datasets").await.body["items"], json!([]));
    // Nothing reached the disk either.
    assert!(!app.data_dir().join("datasets").exists());

    app.post("/v1/models", json!({ "dataset_id": "nope" }))
        .await
        .assert_problem(422, "validation");
    let good = app
        .upload(
            "/v1/datasets?name=ok&kind=tabular&target=churn",
            &app.key,
            "text/csv",
            b"customer,tenure,churn\nC1,3,yes\nC2,4,no\n",
            false,
        )
        .await;
    let reply = app
        .post(
            "/v1/models",
            json!({ "dataset_id": good.body["id"], "algorithms": ["svm"] }),
        )
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.fields(), ["algorithms"]);
    app.post("/v1/score", json!({ "model": "churn", "record": {} }))
        .await
        .assert_problem(422, "validation");
}

/// The demo tenant's labelled PQR texts (`data/demo/pqr_labels.csv`, Spanish): a risk model and
/// a category model from one upload, then texts it has not seen.
async fn text_models_classify_pqr_texts(backend: Backend) {
    let app = spawn_app(backend).await;
    let csv = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo/pqr_labels.csv"),
    )
    .unwrap();
    let dataset = upload(
        &app,
        &app.key,
        "name=pqr&kind=text_labels&text_column=texto&label_columns=riesgo,categoria",
        &csv,
    )
    .await;
    assert_eq!(dataset["schema"]["text_column"], "texto");
    let risk = train(
        &app,
        &app.key,
        json!({ "dataset_id": dataset["id"], "name": "risk" }),
    )
    .await;
    assert_eq!(risk["active"], true, "{risk}");
    let category = train(
        &app,
        &app.key,
        json!({ "dataset_id": dataset["id"], "target": "categoria", "name": "category" }),
    )
    .await;
    assert!(category["accuracy"].as_f64().unwrap() > 0.5, "{category}");
    let model = app
        .get(&format!(
            "/v1/models/{}",
            risk["model_id"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(
        model["metrics"]["classes"],
        json!(["alto", "bajo", "medio"])
    );
    assert_eq!(
        model["metrics"]["features"],
        "multilingual-e5-small sentence embeddings"
    );

    let scored = score(
        &app,
        &app.key,
        json!({ "model": "category", "text": "Me llegó un cobro que no reconozco en la factura" }),
    )
    .await;
    assert_eq!(scored["label"], "facturacion", "{scored}");
    let high = score(
        &app,
        &app.key,
        json!({ "model": "risk", "text": "Es el quinto reclamo, si no me solucionan hoy me voy a otra compañía y los denuncio" }),
    )
    .await;
    let low = score(
        &app,
        &app.key,
        json!({ "model": "risk", "text": "Muchas gracias por la ayuda, todo funciona bien" }),
    )
    .await;
    let p_high = |reply: &Value| {
        reply["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == "alto")
            .unwrap()[1]
            .as_f64()
            .unwrap()
    };
    assert!(p_high(&high) > p_high(&low), "{high} vs {low}");
    assert_eq!(high["label"], "alto", "{high}");

    // Every new PQR is scored by a job after its 201.
    let incident = app
        .new_incident(json!({
            "subject": "Cobro duplicado en mi factura",
            "description": "Me cobraron dos veces el mismo mes, exijo la devolución o me voy a otra empresa"
        }))
        .await;
    let id = incident["id"].as_str().unwrap();
    let insights = wait_for_insights(&app, id).await;
    assert_eq!(insights["category"]["label"], "facturacion", "{insights}");
    assert_eq!(insights["risk"]["name"], "risk");
    assert!(
        insights["sentiment"].is_null(),
        "no sentiment model: {insights}"
    );
    assert!(insights["churn"].is_null(), "no churn model: {insights}");

    // A text model wants text, a label column must be declared.
    app.post(
        "/v1/score",
        json!({ "model": "risk", "record": { "a": 1 } }),
    )
    .await
    .assert_problem(422, "validation");
    app.post(
        "/v1/models",
        json!({ "dataset_id": dataset["id"], "target": "sentimiento" }),
    )
    .await
    .assert_problem(422, "validation");
}

/// Polls a PQR's insights until its scoring job has run.
async fn wait_for_insights(app: &TestApp, incident_id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let reply = app
            .get(&format!("/v1/incidents/{incident_id}/insights"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        if reply.body["status"] == "scored" {
            return reply.body;
        }
        assert!(std::time::Instant::now() < deadline, "{}", reply.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
