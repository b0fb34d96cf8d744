//! Customer CRUD, bulk upsert (all or nothing) and the 360 view.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    create_get_replace_and_list,
    bulk_upsert_of_ten_thousand_is_all_or_nothing,
    view_360_gathers_the_customers_pqrs,
);

async fn create_get_replace_and_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let full = json!({
        "external_id": "AND-0001",
        "name": "Comercial Los Andes S.A.C.",
        "document_id": "20123456789",
        "email": "contacto@losandes.pe",
        "phone": "+51987000111",
        "customer_type": "business",
        "segment": "empresas",
        "importance": { "tier": "gold", "score": 81.5 },
        "contact_preferences": { "preferred_channel": "email", "allowed_channels": ["email", "phone"], "language": "es-PE" },
        "location": { "region": "Perú", "department": "Arequipa", "province": "Arequipa", "district": "Yanahuara" },
        "attributes": { "plan": "Fibra 600", "tenure_months": 30 }
    });
    let created = app.post("/v1/customers", full.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(created.headers["location"].to_str().unwrap().ends_with(&id));
    for key in [
        "external_id",
        "name",
        "importance",
        "contact_preferences",
        "location",
        "attributes",
    ] {
        assert_eq!(created.body[key], full[key], "{key}");
    }
    assert_eq!(
        app.get(&format!("/v1/customers/{id}")).await.body,
        created.body
    );

    let duplicate = app.post("/v1/customers", full.clone()).await;
    duplicate.assert_problem(409, "conflict");

    let mut changed = full.clone();
    changed["importance"] = json!({ "tier": "platinum", "score": 95 });
    changed["segment"] = json!("corporativo");
    let replaced = app
        .call(
            Method::PUT,
            &format!("/v1/customers/{id}"),
            &app.key,
            Some(changed),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["importance"]["tier"], "platinum");
    assert_eq!(replaced.body["id"], id.as_str());
    assert_eq!(replaced.body["created_at"], created.body["created_at"]);

    app.new_customer("AND-0002").await;
    let by_external = app.get("/v1/customers?external_id=AND-0001").await;
    assert_eq!(by_external.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_external.body["items"][0]["id"], id.as_str());
    let platinum = app
        .get("/v1/customers?tier=platinum&customer_type=business")
        .await;
    assert_eq!(platinum.body["items"].as_array().unwrap().len(), 1);
    let all = app.get("/v1/customers?limit=1").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    assert!(all.body["next_cursor"].is_string());

    let invalid = app
        .post(
            "/v1/customers",
            json!({ "external_id": "X 1", "name": "", "email": "no-es-correo", "importance": { "score": 101 } }),
        )
        .await;
    invalid.assert_problem(422, "validation");
    assert_eq!(
        invalid.fields(),
        ["external_id", "name", "email", "importance.score"]
    );
}

fn bulk_item(i: usize, name: &str) -> Value {
    json!({
        "external_id": format!("BULK-{i:05}"),
        "name": format!("{name} {i}"),
        "phone": format!("+5198{i:07}"),
        "segment": if i.is_multiple_of(3) { "prepago" } else { "postpago" },
        "attributes": { "tenure_months": i % 72, "monthly_charge_pen": 49.9 }
    })
}

async fn count_customers(app: &crate::helpers::TestApp) -> usize {
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers?limit=200&cursor={c}"),
            None => "/v1/customers?limit=200".to_owned(),
        };
        let page = app.get(&path).await;
        total += page.body["items"].as_array().unwrap().len();
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return total,
        }
    }
}

async fn bulk_upsert_of_ten_thousand_is_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let items: Vec<Value> = (0..10_000).map(|i| bulk_item(i, "Cliente")).collect();
    let reply = app.post("/v1/customers/bulk", Value::Array(items)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["created"], 10_000);
    assert_eq!(reply.body["updated"], 0);
    let first_id = reply.body["ids"][0]["id"].clone();
    assert_eq!(reply.body["ids"][0]["external_id"], "BULK-00000");

    // Half updated, half new: ids of existing customers are kept.
    let items: Vec<Value> = (5_000..15_000)
        .map(|i| bulk_item(i, "Renombrado"))
        .collect();
    let reply = app.post("/v1/customers/bulk", Value::Array(items)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["created"], 5_000);
    assert_eq!(reply.body["updated"], 5_000);
    let updated = app.get("/v1/customers?external_id=BULK-05000").await;
    assert_eq!(updated.body["items"][0]["name"], "Renombrado 5000");
    let untouched = app
        .get(&format!("/v1/customers/{}", first_id.as_str().unwrap()))
        .await;
    assert_eq!(untouched.body["name"], "Cliente 0");
    assert_eq!(count_customers(&app).await, 15_000);

    // One bad batch stores nothing and names every bad item.
    let mut items: Vec<Value> = (20_000..20_100).map(|i| bulk_item(i, "Nuevo")).collect();
    items[3]["email"] = json!("roto");
    items[50]["importance"] = json!({ "tier": "diamond" });
    items[70]["external_id"] = items[71]["external_id"].clone();
    items[99]["name"] = json!("");
    let reply = app.post("/v1/customers/bulk", Value::Array(items)).await;
    reply.assert_problem(422, "validation");
    let fields = reply.fields();
    for expected in ["[3].email", "[50].importance.tier", "[99].name"] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    assert_eq!(count_customers(&app).await, 15_000);

    // Duplicates inside one request are reported once the items are valid.
    let mut items: Vec<Value> = (30_000..30_010).map(|i| bulk_item(i, "Dup")).collect();
    items[9]["external_id"] = items[2]["external_id"].clone();
    let reply = app.post("/v1/customers/bulk", Value::Array(items)).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.fields(), ["[9].external_id"]);
    assert_eq!(count_customers(&app).await, 15_000);

    let empty = app.post("/v1/customers/bulk", json!([])).await;
    empty.assert_problem(422, "validation");
}

async fn view_360_gathers_the_customers_pqrs(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("V-1").await;
    let customer_id = customer["id"].as_str().unwrap();
    let other = app.new_customer("V-2").await;
    let open = app
        .new_incident(json!({ "customer_id": customer_id, "subject": "Lentitud en horas punta" }))
        .await;
    let done = app
        .new_incident(json!({ "customer_id": customer_id }))
        .await;
    app.new_incident(json!({ "customer_id": other["id"] }))
        .await;
    app.move_to(
        done["id"].as_str().unwrap(),
        json!({ "to": "resolved", "resolution": "se reprogramó la visita" }),
    )
    .await;

    let view = app.get(&format!("/v1/customers/{customer_id}/360")).await;
    assert_eq!(view.status, 200, "{}", view.body);
    let body = &view.body;
    assert_eq!(body["customer"]["id"], customer_id);
    assert_eq!(body["customer"]["importance"]["tier"], "standard");
    let ids = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("open_incidents"), [open["id"].as_str().unwrap()]);
    assert_eq!(
        ids("recent_incidents"),
        [done["id"].as_str().unwrap(), open["id"].as_str().unwrap()]
    );
    assert_eq!(body["stats"]["total_incidents"], 2);
    assert_eq!(body["stats"]["open_incidents"], 1);
    let interactions = body["last_interactions"].as_array().unwrap();
    assert_eq!(
        interactions.len(),
        3,
        "two registrations and one resolution"
    );
    assert_eq!(interactions[0]["to_state"], "resolved");
    assert_eq!(body["stats"]["last_contact_at"], interactions[0]["at"]);
    assert!(body["insights"]["risk"].is_null());
    assert!(body["insights"].as_object().unwrap().contains_key("churn"));
}
