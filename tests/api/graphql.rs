//! The GraphQL API: the same data as REST, the same keys, roles and tenant scoping, typed
//! validation errors on upserts, and the depth and complexity limits.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Reply, TestApp, spawn_app};

both_backends!(
    queries_return_what_rest_returns,
    another_tenant_gets_null_and_empty_lists,
    nesting_and_cost_are_limited,
    roles_are_checked_per_field,
    upserts_validate_like_rest_and_store_all_or_nothing,
    requests_without_a_valid_key_get_401,
);

const CUSTOMER: &str = "id externalId name documentId email phone customerType segment \
    importance { tier score } contactPreferences { preferredChannel allowedChannels language } \
    location { region department province district } attributes createdAt updatedAt";

const INCIDENT: &str = "id channel kind subject description customerId product \
    location { region department province district } impact urgency priority state \
    escalationLevel assignee rejectedBy rejectionReason resolution externalRef \
    sla { firstResponseDueAt resolutionDueAt firstResponseAt } resolvedAt closedAt createdAt \
    updatedAt version";

const INVOICE: &str = "id kind period status issuer number currency planId planName \
    planFeeMinor lines { channel description quantity unitPriceMinor amountMinor } incidents \
    subtotalMinor taxMinor totalMinor taxName taxRateBp paidMinor creditsInvoiceId voidReason \
    createdAt updatedAt issuedAt paidAt voidedAt \
    payments { id invoiceId amountMinor reference receivedOn createdAt }";

const KPIS: &str = "from to timeZone \
    volume { total byChannel { key count } byKind { key count } byHour byWeekday byDay { date count } } \
    topProducts { key count } customerTypes { key count } \
    outcomes { total resolved rejected open reopened resolutionRate firstContactResolutionRate \
        slaComplianceRate firstResponseComplianceRate nonConformityRate } \
    timeToResolution { key count } backlogAge { key count } \
    rejections { company customer unattributed \
        byPlace { department province district company customer unattributed } topReasons { key count } } \
    conversion { rate byContractor { contractor resolved rejected conversionRate } } \
    satisfaction { responses satisfied csat meanScore byScore { key count } } \
    risk { key count } churn { key count }";

/// Fields whose REST values are enum values (`in_progress`), which GraphQL spells `IN_PROGRESS`.
const ENUM_FIELDS: [&str; 13] = [
    "channel",
    "kind",
    "state",
    "priority",
    "impact",
    "urgency",
    "customer_type",
    "tier",
    "preferred_channel",
    "allowed_channels",
    "rejected_by",
    "status",
    "currency",
];

fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A REST body as GraphQL spells it: camelCase keys, UPPER_CASE enum values.
fn as_graphql(rest: &Value) -> Value {
    match rest {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if ENUM_FIELDS.contains(&key.as_str()) {
                        upper(value)
                    } else if key == "attributes" {
                        value.clone() // free JSON, the same on both
                    } else {
                        as_graphql(value)
                    };
                    (camel(key), value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(as_graphql).collect()),
        other => other.clone(),
    }
}

fn upper(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.to_uppercase()),
        Value::Array(items) => Value::Array(items.iter().map(upper).collect()),
        other => other.clone(),
    }
}

async fn graphql_as(app: &TestApp, key: &str, query: &str, variables: Value) -> Reply {
    let reply = app
        .call(
            Method::POST,
            "/graphql",
            key,
            Some(json!({ "query": query, "variables": variables })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

/// Runs a query with the admin key; it must succeed without errors.
async fn graphql(app: &TestApp, query: &str, variables: Value) -> Value {
    let reply = graphql_as(app, &app.key, query, variables).await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    reply.body["data"].clone()
}

/// The `extensions.code` of every error of a reply.
fn codes(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn queries_return_what_rest_returns(backend: Backend) {
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
    let created = app.post("/v1/customers", full).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let customer_id = created.body["id"].as_str().unwrap().to_owned();
    app.new_customer("AND-0002").await;
    let first = app
        .new_incident(json!({ "customer_id": customer_id, "product": "Internet Hogar", "external_ref": "T-1" }))
        .await;
    let first_id = first["id"].as_str().unwrap();
    app.move_to(first_id, json!({ "to": "assigned", "assignee": "ana" }))
        .await;
    app.move_to(
        first_id,
        json!({ "to": "resolved", "resolution": "se cambió el router" }),
    )
    .await;
    let second = app
        .new_incident(json!({ "customer_id": customer_id, "channel": "web", "kind": "queja" }))
        .await;
    let second_id = second["id"].as_str().unwrap();

    // One customer, every field, with its PQRs nested: the same as the REST bodies.
    let query = format!(
        "query($id: String!) {{ customer(id: $id) {{ {CUSTOMER} \
           incidents(first: 10) {{ items {{ {INCIDENT} customer {{ id }} }} nextCursor }} }} }}"
    );
    let data = graphql(&app, &query, json!({ "id": customer_id })).await;
    let mut customer = data["customer"].clone();
    let nested = customer
        .as_object_mut()
        .unwrap()
        .remove("incidents")
        .unwrap();
    let rest_customer = app.get(&format!("/v1/customers/{customer_id}")).await.body;
    assert_eq!(customer, as_graphql(&rest_customer));
    let rest_incidents = app
        .get(&format!("/v1/incidents?customer_id={customer_id}&limit=10"))
        .await
        .body;
    let mut items = nested["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second_id);
    for item in &mut items {
        let parent = item.as_object_mut().unwrap().remove("customer").unwrap();
        assert_eq!(parent["id"], customer_id.as_str());
    }
    assert_eq!(Value::Array(items), as_graphql(&rest_incidents["items"]));
    assert!(nested["nextCursor"].is_null());

    // A PQR by id, and its timeline.
    let query = format!(
        "{{ incident(id: \"{first_id}\") {{ {INCIDENT} events {{ seq kind toState actor {{ name role }} }} }} }}"
    );
    let data = graphql(&app, &query, json!({})).await;
    let mut incident = data["incident"].clone();
    let events = incident.as_object_mut().unwrap().remove("events").unwrap();
    let rest_incident = app.get(&format!("/v1/incidents/{first_id}")).await.body;
    assert_eq!(incident, as_graphql(&rest_incident));
    assert_eq!(incident["state"], "RESOLVED");
    let states: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["toState"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["REGISTERED", "ASSIGNED", "RESOLVED"]);

    // Lists page with the same cursors as REST.
    let page =
        "query($after: String) { customers(first: 1, after: $after) { items { id } nextCursor } }";
    let one = graphql(&app, page, json!({})).await;
    let rest_one = app.get("/v1/customers?limit=1").await.body;
    assert_eq!(
        one["customers"]["items"][0]["id"],
        rest_one["items"][0]["id"]
    );
    assert_eq!(one["customers"]["nextCursor"], rest_one["next_cursor"]);
    let two = graphql(
        &app,
        page,
        json!({ "after": one["customers"]["nextCursor"] }),
    )
    .await;
    let rest_two = app
        .get(&format!(
            "/v1/customers?limit=1&cursor={}",
            rest_one["next_cursor"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(
        two["customers"]["items"][0]["id"],
        rest_two["items"][0]["id"]
    );
    let filtered = graphql(
        &app,
        "{ customers(filter: { tier: GOLD, customerType: BUSINESS }) { items { externalId } } \
           incidents(filter: { state: RESOLVED }) { items { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        filtered["customers"]["items"],
        json!([{ "externalId": "AND-0001" }])
    );
    assert_eq!(filtered["incidents"]["items"], json!([{ "id": first_id }]));

    // KPIs: what GET /v1/kpis computes.
    let kpis = graphql(&app, &format!("{{ kpis {{ {KPIS} }} }}"), json!({})).await;
    let rest_kpis = app.get("/v1/kpis").await;
    assert_eq!(rest_kpis.status, 200, "{}", rest_kpis.body);
    assert_eq!(kpis["kpis"], as_graphql(&rest_kpis.body));
    assert_eq!(kpis["kpis"]["volume"]["total"], 2);
    let range = graphql(
        &app,
        "query($from: Date, $to: Date) { kpis(from: $from, to: $to, filter: { channel: WEB }) { from to volume { total } } }",
        json!({ "from": rest_kpis.body["from"], "to": rest_kpis.body["to"] }),
    )
    .await;
    assert_eq!(range["kpis"]["volume"]["total"], 1);
    assert_eq!(range["kpis"]["from"], rest_kpis.body["from"]);

    // Invoices: an issued one with a payment, as GET /v1/invoices/{id} shows it.
    let op = abcall::store::billing::create_operator_key(&app.app().db, "facturación")
        .await
        .expect("operator key")
        .1;
    let tenant = app.get("/v1/tenants/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let period = app.get("/v1/billing").await.body["period"].clone();
    let draft = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/invoices"),
            &op,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let invoice_id = draft.body["id"].as_str().unwrap().to_owned();
    app.app()
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 32));
    let issued = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/invoices/{invoice_id}/issue"),
            &op,
            None,
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let paid = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/invoices/{invoice_id}/payments"),
            &op,
            Some(json!({ "amount_minor": 100, "reference": "OP-1", "received_on": "2026-12-05" })),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let data = graphql(
        &app,
        &format!("{{ invoice(id: \"{invoice_id}\") {{ {INVOICE} }} invoices(filter: {{ status: ISSUED }}) {{ items {{ id }} nextCursor }} }}"),
        json!({}),
    )
    .await;
    let rest_invoice = app.get(&format!("/v1/invoices/{invoice_id}")).await.body;
    assert_eq!(data["invoice"], as_graphql(&rest_invoice));
    assert_eq!(data["invoice"]["payments"].as_array().unwrap().len(), 1);
    assert_eq!(
        data["invoices"],
        json!({ "items": [{ "id": invoice_id }], "nextCursor": null })
    );
}

async fn another_tenant_gets_null_and_empty_lists(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("A-1").await;
    let customer_id = customer["id"].as_str().unwrap();
    let incident = app
        .new_incident(json!({ "customer_id": customer_id }))
        .await;
    let incident_id = incident["id"].as_str().unwrap();
    let op = abcall::store::billing::create_operator_key(&app.app().db, "facturación")
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
            &op,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let invoice_id = draft.body["id"].as_str().unwrap().to_owned();
    let b = app.other_tenant("Tenant B").await;
    b_registers_its_own(&app, &b).await;

    // By id: null, and no error (as REST's 404 says nothing about whether the id exists).
    let by_id = format!(
        "{{ customer(id: \"{customer_id}\") {{ id name }} incident(id: \"{incident_id}\") {{ id }} \
           invoice(id: \"{invoice_id}\") {{ id }} }}"
    );
    let reply = graphql_as(&app, &b, &by_id, json!({})).await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    assert_eq!(
        reply.body["data"],
        json!({ "customer": null, "incident": null, "invoice": null })
    );
    // The owner reaches them through the same query, so null above is isolation.
    let own = graphql(&app, &by_id, json!({})).await;
    assert_eq!(own["customer"]["id"], customer_id);
    assert_eq!(own["incident"]["id"], incident_id);
    assert_eq!(own["invoice"]["id"], invoice_id.as_str());

    // Lists, filters and nested lists never include A's rows.
    let lists = format!(
        "{{ customers {{ items {{ id incidents(first: 20) {{ items {{ id customer {{ id }} }} }} }} }} \
           incidents {{ items {{ id customerId customer {{ id }} }} }} \
           byCustomer: incidents(filter: {{ customerId: \"{customer_id}\" }}) {{ items {{ id }} }} \
           invoices {{ items {{ id }} }} }}"
    );
    let reply = graphql_as(&app, &b, &lists, json!({})).await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    let text = reply.body.to_string();
    for id in [customer_id, incident_id, invoice_id.as_str()] {
        assert!(!text.contains(id), "{text}");
    }
    assert_eq!(
        reply.body["data"]["customers"]["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(reply.body["data"]["byCustomer"]["items"], json!([]));

    // B upserting A's external id makes B's own customer; A's is untouched.
    let upsert = graphql_as(
        &app,
        &b,
        "mutation { upsertCustomer(input: { externalId: \"A-1\", name: \"Intruso\" }) { customer { id name } created errors { field } } }",
        json!({}),
    )
    .await;
    let payload = &upsert.body["data"]["upsertCustomer"];
    assert_eq!(payload["created"], true, "{}", upsert.body);
    assert_ne!(payload["customer"]["id"], customer_id);
    let still = app.get(&format!("/v1/customers/{customer_id}")).await;
    assert_eq!(still.body["name"], "María Quispe");
}

/// B's own customer and PQR, so B's lists are not empty for want of data.
async fn b_registers_its_own(app: &TestApp, b: &str) {
    let customer = app
        .call(
            Method::POST,
            "/v1/customers",
            b,
            Some(json!({ "external_id": "B-1", "name": "Cliente B" })),
        )
        .await;
    assert_eq!(customer.status, 201, "{}", customer.body);
    let incident = app
        .call(
            Method::POST,
            "/v1/incidents",
            b,
            Some(json!({
                "channel": "web", "kind": "queja", "subject": "x", "description": "y",
                "customer_id": customer.body["id"]
            })),
        )
        .await;
    assert_eq!(incident.status, 201, "{}", incident.body);
}

async fn nesting_and_cost_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let customer = app.new_customer("C-1").await;
    app.new_incident(json!({ "customer_id": customer["id"] }))
        .await;

    // Ten levels is the most: this one (customer → incidents → customer → incidents →
    // customer → importance → tier) runs.
    let ten = "{ customers(first: 5) { items { incidents(first: 5) { items { customer { \
        incidents(first: 5) { items { customer { importance { tier } } } } } } } } } }";
    let data = graphql(&app, ten, json!({})).await;
    let inner = &data["customers"]["items"][0]["incidents"]["items"][0]["customer"];
    assert_eq!(
        inner["incidents"]["items"][0]["customer"]["importance"]["tier"],
        "STANDARD"
    );

    // Eleven is refused before anything runs, with a message that says the limit.
    let eleven = "{ customers(first: 5) { items { incidents(first: 5) { items { customer { \
        incidents(first: 5) { items { customer { incidents(first: 5) { items { id } } } } } } } } } } }";
    let reply = graphql_as(&app, &app.key, eleven, json!({})).await;
    assert_eq!(codes(&reply), ["QUERY_TOO_DEEP"], "{}", reply.body);
    assert!(
        reply.body.get("data").is_none_or(Value::is_null),
        "{}",
        reply.body
    );
    let message = reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("11 levels") && message.contains("at most 10"),
        "{message}"
    );
    // Fragments do not hide depth.
    let fragments = "query { customers { ...C } } \
        fragment C on CustomerPage { items { incidents { ...I } } } \
        fragment I on IncidentPage { items { customer { incidents { items { customer { incidents { items { customer { id } } } } } } } } }";
    let reply = graphql_as(&app, &app.key, fragments, json!({})).await;
    assert_eq!(codes(&reply), ["QUERY_TOO_DEEP"], "{}", reply.body);

    // Cost: 200 customers × 200 PQRs each is refused; the same shape with small pages runs.
    let wide =
        "{ customers(first: 200) { items { id incidents(first: 200) { items { id subject } } } } }";
    let reply = graphql_as(&app, &app.key, wide, json!({})).await;
    assert_eq!(codes(&reply), ["QUERY_TOO_COMPLEX"], "{}", reply.body);
    let message = reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 10000"), "{message}");
    let narrow =
        "{ customers(first: 20) { items { id incidents(first: 5) { items { id subject } } } } }";
    graphql(&app, narrow, json!({})).await;
    // Variables count too.
    let reply = graphql_as(
        &app,
        &app.key,
        "query($n: Int) { customers(first: $n) { items { id incidents(first: $n) { items { id } } } } }",
        json!({ "n": 200 }),
    )
    .await;
    assert_eq!(codes(&reply), ["QUERY_TOO_COMPLEX"], "{}", reply.body);

    // KPIs are costly: a few aliases are fine, ten are refused.
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("k{i}: kpis {{ volume {{ total }} }}"))
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    graphql(&app, &aliases(3), json!({})).await;
    let reply = graphql_as(&app, &app.key, &aliases(10), json!({})).await;
    assert_eq!(codes(&reply), ["QUERY_TOO_COMPLEX"], "{}", reply.body);

    // A full page of every field of incidents is within the limit.
    graphql(
        &app,
        &format!("{{ incidents(first: 200) {{ items {{ {INCIDENT} }} }} }}"),
        json!({}),
    )
    .await;

    // Page sizes are REST's: 1 to 200, and cursors are checked.
    let reply = graphql_as(
        &app,
        &app.key,
        "{ customers(first: 201) { items { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(codes(&reply), ["BAD_USER_INPUT"], "{}", reply.body);
    assert_eq!(
        reply.body["errors"][0]["extensions"]["fields"][0]["field"],
        "first"
    );
    let reply = graphql_as(
        &app,
        &app.key,
        "{ incidents(first: 0) { items { id } } customers(after: \"nope\") { items { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        codes(&reply),
        ["BAD_USER_INPUT", "BAD_USER_INPUT"],
        "{}",
        reply.body
    );

    // Introspection stays on, and the usual tools' deep introspection query is not refused.
    let introspection = "{ __schema { queryType { name } types { name fields { name type { \
        kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
        ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } } } }";
    let data = graphql(&app, introspection, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}

async fn roles_are_checked_per_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.new_customer("C-1").await;
    let viewer = app.key_with_role("viewer").await;
    let agent = app.key_with_role("agent").await;
    let data_team = app.key_with_role("data").await;
    let upsert = "mutation { upsertCustomer(input: { externalId: \"V-1\", name: \"Nuevo\" }) \
        { customer { id } created errors { field message } } }";

    // Viewers read but do not write; nothing is stored.
    let reply = graphql_as(&app, &viewer, upsert, json!({})).await;
    assert_eq!(codes(&reply), ["FORBIDDEN"], "{}", reply.body);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("viewer")
    );
    let none = app.get("/v1/customers?external_id=V-1").await;
    assert_eq!(none.body["items"], json!([]));
    let reply = graphql_as(
        &app,
        &viewer,
        "{ customers { items { externalId } } kpis { volume { total } } invoices { items { id } } }",
        json!({}),
    )
    .await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    assert_eq!(
        reply.body["data"]["customers"]["items"][0]["externalId"],
        "C-1"
    );

    // Agents work PQRs but see neither KPIs nor billing: those fields are null with FORBIDDEN,
    // and the rest of the answer is still there.
    let reply = graphql_as(
        &app,
        &agent,
        "{ customers { items { externalId } } kpis { volume { total } } invoices { items { id } } }",
        json!({}),
    )
    .await;
    let mut forbidden = codes(&reply);
    forbidden.sort();
    assert_eq!(forbidden, ["FORBIDDEN", "FORBIDDEN"], "{}", reply.body);
    assert_eq!(reply.body["data"]["kpis"], Value::Null);
    assert_eq!(reply.body["data"]["invoices"], Value::Null);
    assert_eq!(
        reply.body["data"]["customers"]["items"][0]["externalId"],
        "C-1"
    );
    let reply = graphql_as(&app, &agent, upsert, json!({})).await;
    assert_eq!(codes(&reply), ["FORBIDDEN"], "{}", reply.body);

    // The data team writes customers, as on REST.
    let reply = graphql_as(&app, &data_team, upsert, json!({})).await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    assert_eq!(reply.body["data"]["upsertCustomer"]["created"], true);
}

async fn upserts_validate_like_rest_and_store_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let upsert_one = "mutation($input: CustomerInput!) { upsertCustomer(input: $input) { \
        customer { id externalId name importance { tier score } contactPreferences { language } attributes } \
        created errors { field message } } }";
    let input = json!({
        "externalId": "U-1", "name": "  María Quispe ", "email": "maria@correo.pe",
        "importance": { "tier": "GOLD", "score": 70 }, "attributes": { "plan": "Fibra" }
    });
    let data = graphql(&app, upsert_one, json!({ "input": input })).await;
    let payload = &data["upsertCustomer"];
    assert_eq!(payload["created"], true);
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(payload["customer"]["name"], "María Quispe");
    assert_eq!(payload["customer"]["contactPreferences"]["language"], "es");
    let id = payload["customer"]["id"].as_str().unwrap().to_owned();
    let rest = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(
        rest.body["importance"],
        json!({ "tier": "gold", "score": 70.0 })
    );
    assert_eq!(rest.body["attributes"], json!({ "plan": "Fibra" }));

    // The same external id again updates that customer.
    let mut changed = input.clone();
    changed["name"] = json!("María Q.");
    let data = graphql(&app, upsert_one, json!({ "input": changed })).await;
    assert_eq!(data["upsertCustomer"]["created"], false);
    assert_eq!(data["upsertCustomer"]["customer"]["id"], id.as_str());
    assert_eq!(
        app.get(&format!("/v1/customers/{id}")).await.body["name"],
        "María Q."
    );

    // Every bad field is named, in GraphQL's spelling, and nothing is stored.
    let bad = json!({
        "externalId": "X 1", "name": "", "email": "no-es-correo",
        "importance": { "score": 101 }, "contactPreferences": { "language": "es PE" }
    });
    let data = graphql(&app, upsert_one, json!({ "input": bad })).await;
    let payload = &data["upsertCustomer"];
    assert!(payload["customer"].is_null());
    let fields: Vec<&str> = payload["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "externalId",
            "name",
            "email",
            "importance.score",
            "contactPreferences.language"
        ]
    );
    assert!(
        payload["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("e-mail")
    );
    let not_object = graphql(
        &app,
        upsert_one,
        json!({ "input": { "externalId": "U-2", "name": "N", "attributes": [1] } }),
    )
    .await;
    assert_eq!(
        not_object["upsertCustomer"]["errors"],
        json!([{ "field": "attributes", "message": "must be a JSON object" }])
    );

    // Bulk: all or nothing, errors under [index].
    let upsert_many = "mutation($inputs: [CustomerInput!]!) { upsertCustomers(inputs: $inputs) { \
        created updated ids { externalId id } errors { field message } } }";
    let item = |i: usize| json!({ "externalId": format!("B-{i}"), "name": format!("Cliente {i}") });
    let mut batch: Vec<Value> = (0..5).map(item).collect();
    batch[1]["email"] = json!("sin-arroba");
    batch[3]["contactPreferences"] = json!({ "language": "" });
    let data = graphql(&app, upsert_many, json!({ "inputs": batch })).await;
    let payload = &data["upsertCustomers"];
    let fields: Vec<&str> = payload["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["[1].email", "[3].contactPreferences.language"]);
    assert_eq!(payload["ids"], json!([]));
    let count = |body: &Value| body["items"].as_array().unwrap().len();
    assert_eq!(count(&app.get("/v1/customers?limit=200").await.body), 1);

    // An external id twice in one batch is refused by the store's own rule, also typed.
    let mut twice: Vec<Value> = (0..3).map(item).collect();
    twice[2]["externalId"] = json!("B-0");
    let data = graphql(&app, upsert_many, json!({ "inputs": twice })).await;
    assert_eq!(
        data["upsertCustomers"]["errors"][0]["field"],
        "[2].externalId"
    );
    assert_eq!(count(&app.get("/v1/customers?limit=200").await.body), 1);
    let empty = graphql(&app, upsert_many, json!({ "inputs": [] })).await;
    assert_eq!(empty["upsertCustomers"]["errors"][0]["field"], "");

    // A good batch, with U-1 updated and four created, in request order.
    let mut good: Vec<Value> = (0..4).map(item).collect();
    good.push(json!({ "externalId": "U-1", "name": "María Quispe" }));
    let data = graphql(&app, upsert_many, json!({ "inputs": good })).await;
    let payload = &data["upsertCustomers"];
    assert_eq!(
        (payload["created"].as_i64(), payload["updated"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(payload["ids"][4], json!({ "externalId": "U-1", "id": id }));
    assert_eq!(count(&app.get("/v1/customers?limit=200").await.body), 5);

    // A wrongly typed input never reaches the resolver: GraphQL's own error names it.
    let reply = graphql_as(
        &app,
        &app.key,
        upsert_one,
        json!({ "input": { "externalId": "U-3", "name": "N", "importance": { "score": "alto" } } }),
    )
    .await;
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("score"),
        "{}",
        reply.body
    );
    assert_eq!(count(&app.get("/v1/customers?limit=200").await.body), 5);
}

async fn requests_without_a_valid_key_get_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let query = json!({ "query": "{ customers { items { id } } }" });
    let anonymous = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&query)
        .send()
        .await
        .unwrap();
    let reply = crate::helpers::reply(anonymous).await;
    reply.assert_problem(401, "unauthorized");
    app.call(Method::POST, "/graphql", "not-a-key", Some(query.clone()))
        .await
        .assert_problem(401, "unauthorized");
    // Authenticated, a body that is not a GraphQL request is REST's 400 problem.
    let reply = app
        .call(
            Method::POST,
            "/graphql",
            &app.key,
            Some(json!({ "query": 5 })),
        )
        .await;
    reply.assert_problem(400, "malformed-request");

    // The schema is public, like /openapi.json, and is the committed SDL.
    let sdl = app
        .client
        .get(format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(sdl.status(), 200);
    assert!(
        sdl.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/abcall.graphql"),
    )
    .unwrap();
    assert_eq!(sdl.text().await.unwrap(), committed);

    let openapi = app.get("/openapi.json").await.body;
    assert!(openapi["paths"]["/graphql"]["post"].is_object());
    assert!(openapi["paths"]["/graphql"]["get"].is_object());
}
