//! Full-text search over a tenant's PQR texts: words found whatever their accents and case,
//! prefixes, every filter, paging, the query's syntax kept out of the index, clear errors, and
//! nothing of another tenant. (Transcripts are searched in tests/api/transcripts.rs.)

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(search_finds_the_tenants_words_with_filters_and_paging);

fn ids(reply: &Value) -> Vec<String> {
    reply["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply}"))
        .iter()
        .map(|hit| hit["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(app: &TestApp, key: &str, query: &str) -> Value {
    let reply = app
        .call(Method::GET, &format!("/v1/search?{query}"), key, None)
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.body
}

async fn search_finds_the_tenants_words_with_filters_and_paging(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("CL-100").await;
    let customer_id = customer["id"].as_str().unwrap();
    let billing = app
        .new_incident(json!({
            "subject": "Cobro duplicado en la facturación",
            "description": "Me cobraron dos veces el plan de diciembre. Pido la devolución del cobro.",
            "customer_id": customer_id,
        }))
        .await;
    let outage = app
        .new_incident(json!({
            "subject": "Sin señal en Cañete",
            "description": "Desde el lunes no hay señal móvil ni internet en mi distrito.",
        }))
        .await;
    let invoice = app
        .new_incident(json!({
            "subject": "Factura no llegó",
            "description": "No recibí la factura electrónica de noviembre en mi correo.",
        }))
        .await;
    let (billing, outage, invoice) = (
        billing["id"].as_str().unwrap(),
        outage["id"].as_str().unwrap(),
        invoice["id"].as_str().unwrap(),
    );
    app.move_to(
        outage,
        json!({ "to": "assigned", "assignee": "ana.quispe" }),
    )
    .await;
    let key = app.key.clone();

    // Accents and case do not matter; every word must occur.
    let found = search(&app, &key, "q=FACTURACION").await;
    assert_eq!(ids(&found), [billing]);
    let hit = &found["items"][0];
    assert_eq!(hit["kind"], "incident");
    assert_eq!(hit["title"], "Cobro duplicado en la facturación");
    assert_eq!(hit["customer_id"], customer_id);
    assert!(hit["score"].as_f64().unwrap() > 0.0, "{hit}");
    assert_eq!(ids(&search(&app, &key, "q=senal%20canete").await), [outage]);
    assert_eq!(
        ids(&search(&app, &key, "q=cobro%20noviembre").await),
        Vec::<String>::new()
    );
    // A snippet of the description around the first match, in its own spelling.
    let snippet = search(&app, &key, "q=devolucion").await["items"][0]["snippet"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(snippet.contains("devolución"), "{snippet}");
    // Whole words unless a prefix is asked for.
    assert!(ids(&search(&app, &key, "q=factur").await).is_empty());
    let mut prefixed = ids(&search(&app, &key, "q=factur*").await);
    prefixed.sort();
    let mut expected = vec![billing.to_owned(), invoice.to_owned()];
    expected.sort();
    assert_eq!(prefixed, expected);

    // Filters: kind, customer, agent (a PQR's assignee), dates.
    assert_eq!(
        ids(&search(&app, &key, &format!("q=factur*&customer_id={customer_id}")).await),
        [billing]
    );
    assert_eq!(
        ids(&search(&app, &key, "q=internet&agent=ana.quispe").await),
        [outage]
    );
    assert!(ids(&search(&app, &key, "q=factur*&agent=ana.quispe").await).is_empty());
    assert!(ids(&search(&app, &key, "q=factur*&kind=call").await).is_empty());
    assert_eq!(
        ids(&search(&app, &key, "q=factur*&kind=incident").await).len(),
        2
    );
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    assert!(ids(&search(&app, &key, &format!("q=factur*&from={tomorrow}")).await).is_empty());
    assert_eq!(
        ids(&search(
            &app,
            &key,
            &format!("q=factur*&from={yesterday}&to={tomorrow}")
        )
        .await)
        .len(),
        2
    );

    // Newest first, one per page.
    let first = search(&app, &key, "q=factur*&sort=recent&limit=1").await;
    assert_eq!(ids(&first), [invoice]);
    assert_eq!(first["next_offset"], 1);
    let second = search(&app, &key, "q=factur*&sort=recent&limit=1&offset=1").await;
    assert_eq!(ids(&second), [billing]);
    assert!(second["next_offset"].is_null());

    // The index's own syntax is just words here.
    assert!(ids(&search(&app, &key, "q=tenant_token%3A*%20OR%20NEAR(cobro)").await).is_empty());
    assert_eq!(
        ids(&search(&app, &key, "q=%22cobro%22%20AND").await),
        Vec::<String>::new()
    );
    assert_eq!(ids(&search(&app, &key, "q=(cobro)").await), [billing]);

    // Bad input names the parameter.
    for (query, field) in [
        ("q=%20%2A%20", "q"),
        ("q=cobro&limit=0", "limit"),
        ("q=cobro&offset=5000", "offset"),
        (&*format!("q=cobro&from={tomorrow}&to={yesterday}"), "to"),
    ] {
        let reply = app.get(&format!("/v1/search?{query}")).await;
        reply.assert_problem(422, "validation");
        assert_eq!(reply.fields(), [field], "{query}");
    }
    let unknown = app.get("/v1/search?q=cobro&tenant_id=x").await;
    unknown.assert_problem(400, "malformed-request");
    let kind = app.get("/v1/search?q=cobro&kind=fax").await;
    kind.assert_problem(400, "malformed-request");
    app.get("/v1/search")
        .await
        .assert_problem(400, "malformed-request");

    // Another tenant with the same words finds only its own, and A never sees B's.
    let b_key = app.other_tenant("Tenant B").await;
    let own = app
        .call(
            Method::POST,
            "/v1/incidents",
            &b_key,
            Some(json!({
                "channel": "web", "kind": "reclamo", "subject": "Cobro duplicado",
                "description": "Me llegó un cobro duplicado en la factura."
            })),
        )
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(
        ids(&search(&app, &b_key, "q=cobro").await),
        [own.body["id"].as_str().unwrap()]
    );
    assert_eq!(ids(&search(&app, &key, "q=cobro").await), [billing]);
    // A viewer may search.
    let viewer = app.key_with_role("viewer").await;
    assert_eq!(ids(&search(&app, &viewer, "q=cobro").await), [billing]);
}
