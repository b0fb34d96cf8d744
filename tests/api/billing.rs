//! Billing: every PQR billed once at the price in force when it was registered, invoices whose
//! totals are the sum of their lines, the lifecycle (draft → issued → paid, void + credit note),
//! and the back office's routes closed to tenant keys.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    invoices_add_up_across_channels_and_a_mid_month_price_change,
    a_retried_pqr_is_billed_once,
    voiding_issues_a_credit_note_and_numbers_stay_gapless,
    billing_input_is_validated_and_back_office_routes_are_closed_to_tenants,
);

const PRICES: [(&str, i64); 6] = [
    ("phone", 400),
    ("email", 150),
    ("chat", 200),
    ("chatbot", 50),
    ("app", 100),
    ("web", 90),
];

fn prices(overrides: &[(&str, i64)]) -> Value {
    let mut prices = json!({});
    for (channel, price) in PRICES {
        prices[channel] = json!(price);
    }
    for (channel, price) in overrides {
        prices[*channel] = json!(price);
    }
    prices
}

async fn tenant_id(app: &TestApp, key: &str) -> String {
    let me = app.call(Method::GET, "/v1/tenants/me", key, None).await;
    me.body["id"].as_str().unwrap().to_owned()
}

async fn operator(app: &TestApp) -> String {
    abcall::store::billing::create_operator_key(&app.app().db, "facturación")
        .await
        .expect("operator key")
        .1
}

async fn register(app: &TestApp, channel: &str, n: usize) {
    for _ in 0..n {
        app.new_incident(json!({ "channel": channel })).await;
    }
}

/// (channel, quantity, unit price, amount) of each line.
fn lines(amounts: &Value) -> Vec<(String, i64, i64, i64)> {
    amounts["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["channel"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
                l["unit_price_minor"].as_i64().unwrap(),
                l["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Moves the server's clock past the end of the current month.
fn next_month(app: &TestApp) {
    app.app().clock.advance(SignedDuration::from_hours(24 * 32));
}

async fn invoices_add_up_across_channels_and_a_mid_month_price_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = operator(&app).await;
    let tenant = tenant_id(&app, &app.key).await;
    let terms = app
        .call(
            Method::PUT,
            &format!("/v1/operator/tenants/{tenant}/billing"),
            &op,
            Some(json!({
                "plan_id": "estandar-pen", "tax_name": "IGV", "tax_rate_bp": 1800,
                "issuer": "abcall-pe", "prices": prices(&[])
            })),
        )
        .await;
    assert_eq!(terms.status, 200, "{}", terms.body);
    assert_eq!(terms.body["account"]["issuer"], "ABCALL-PE");
    assert_eq!(terms.body["current_prices"]["prices"]["phone"], 400);

    register(&app, "phone", 3).await;
    register(&app, "web", 2).await;
    register(&app, "email", 1).await;
    // The negotiated rate changes mid-month: PQRs already registered keep their price.
    let change = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/price-lists"),
            &op,
            Some(json!({ "prices": prices(&[("phone", 300), ("web", 70)]) })),
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.body);
    register(&app, "phone", 2).await;
    register(&app, "web", 1).await;

    let expected_lines = vec![
        ("phone".to_owned(), 2, 300, 600),
        ("phone".to_owned(), 3, 400, 1_200),
        ("email".to_owned(), 1, 150, 150),
        ("web".to_owned(), 1, 70, 70),
        ("web".to_owned(), 2, 90, 180),
    ];
    // Plan 150,000 + lines 2,200 = 152,200; IGV 18% = 27,396; total 179,596 (hand-computed).
    let (subtotal, tax, total) = (152_200, 27_396, 179_596);
    let overview = app.get("/v1/billing").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let mtd = &overview.body["month_to_date"];
    assert_eq!(lines(mtd), expected_lines);
    assert_eq!(mtd["incidents"], 9);
    assert_eq!(
        (
            mtd["subtotal_minor"].as_i64(),
            mtd["tax_minor"].as_i64(),
            mtd["total_minor"].as_i64()
        ),
        (Some(subtotal), Some(tax), Some(total))
    );
    let period = overview.body["period"].as_str().unwrap().to_owned();

    let drafts = format!("/v1/operator/tenants/{tenant}/invoices");
    let draft = app
        .call(
            Method::POST,
            &drafts,
            &op,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    assert_eq!(draft.body["status"], "draft");
    assert!(draft.body["number"].is_null());
    assert_eq!(lines(&draft.body), expected_lines);
    assert_eq!(draft.body["total_minor"], total);
    let id = draft.body["id"].as_str().unwrap().to_owned();
    let again = app
        .call(
            Method::POST,
            &drafts,
            &op,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());

    // A month still running cannot be issued.
    let issue = format!("/v1/operator/tenants/{tenant}/invoices/{id}/issue");
    app.call(Method::POST, &issue, &op, None)
        .await
        .assert_problem(409, "conflict");
    next_month(&app);
    let issued = app.call(Method::POST, &issue, &op, None).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["status"], "issued");
    assert_eq!(issued.body["number"], "F001-00000001");
    assert_eq!(issued.body["total_minor"], total);

    // Issued means frozen: new PQRs, a redraft or a second issue change nothing.
    register(&app, "chat", 2).await;
    app.call(
        Method::POST,
        &drafts,
        &op,
        Some(json!({ "period": period })),
    )
    .await
    .assert_problem(409, "conflict");
    app.call(Method::POST, &issue, &op, None)
        .await
        .assert_problem(409, "conflict");
    let seen = app.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(lines(&seen.body), expected_lines);
    assert_eq!(seen.body["total_minor"], total);
    assert_eq!(seen.body["payments"], json!([]));
    let listed = app.get(&format!("/v1/invoices?period={period}")).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0]["id"], id.as_str());

    // CSV for the client's accounting and a printable page.
    let csv = app.get(&format!("/v1/invoices/{id}?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.body.as_str().unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 1 + 1 + expected_lines.len() + 3, "{text}");
    assert!(
        rows.contains(&"PQR registradas por teléfono,phone,3,4.00,12.00,PEN"),
        "{text}"
    );
    assert_eq!(rows.last().unwrap(), &"Total,,,,1795.96,PEN");
    let page = app
        .client
        .get(format!("{}/v1/invoices/{id}", app.base))
        .bearer_auth(&app.key)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Factura F001-00000001") && html.contains("PEN 1,795.96"),
        "{html}"
    );

    // Payments: partial, a repeated bank reference, an overpayment, then the rest.
    let pay = format!("/v1/operator/tenants/{tenant}/invoices/{id}/payments");
    let payment = |amount: i64, reference: &str| json!({ "amount_minor": amount, "reference": reference, "received_on": "2026-12-05" });
    let first = app
        .call(Method::POST, &pay, &op, Some(payment(100_000, "OP-551")))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["invoice"]["status"], "issued");
    assert_eq!(first.body["invoice"]["paid_minor"], 100_000);
    app.call(Method::POST, &pay, &op, Some(payment(10, "OP-551")))
        .await
        .assert_problem(409, "conflict");
    let over = app
        .call(Method::POST, &pay, &op, Some(payment(total, "OP-552")))
        .await;
    over.assert_problem(422, "validation");
    assert_eq!(over.fields(), ["amount_minor"]);
    let rest = app
        .call(
            Method::POST,
            &pay,
            &op,
            Some(payment(total - 100_000, "OP-553")),
        )
        .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["invoice"]["status"], "paid");
    assert!(rest.body["invoice"]["paid_at"].is_string());
    let paid = app.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(paid.body["payments"].as_array().unwrap().len(), 2);
    // A paid invoice is not voided.
    app.call(
        Method::POST,
        &format!("/v1/operator/tenants/{tenant}/invoices/{id}/void"),
        &op,
        Some(json!({ "reason": "error" })),
    )
    .await
    .assert_problem(409, "conflict");

    // The next month's PQRs are billed in the next month.
    let overview = app.get("/v1/billing").await;
    assert_ne!(overview.body["period"], period.as_str());
    assert_eq!(
        lines(&overview.body["month_to_date"]),
        [("chat".to_owned(), 2, 200, 400)]
    );
}

async fn a_retried_pqr_is_billed_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({
        "channel": "email", "kind": "reclamo", "subject": "Cobro duplicado",
        "description": "Me cobraron dos veces el recibo de noviembre."
    });
    let mut sends = Vec::new();
    for _ in 0..4 {
        let request = app
            .client
            .post(format!("{}/v1/incidents", app.base))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "correo-8841")
            .json(&body);
        sends.push(async move { crate::helpers::reply(request.send().await.unwrap()).await });
    }
    for reply in futures_join(sends).await {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let overview = app.get("/v1/billing").await;
    assert_eq!(
        lines(&overview.body["month_to_date"]),
        [("email".to_owned(), 1, 120, 120)]
    );
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

async fn voiding_issues_a_credit_note_and_numbers_stay_gapless(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = operator(&app).await;
    let b_key = app.other_tenant("Tenant B").await;
    let tenants = [
        tenant_id(&app, &app.key).await,
        tenant_id(&app, &b_key).await,
    ];
    register(&app, "web", 2).await;
    let period = app.get("/v1/billing").await.body["period"]
        .as_str()
        .unwrap()
        .to_owned();
    next_month(&app);
    let mut ids = Vec::new();
    for tenant in &tenants {
        let draft = app
            .call(
                Method::POST,
                &format!("/v1/operator/tenants/{tenant}/invoices"),
                &op,
                Some(json!({ "period": period })),
            )
            .await;
        assert_eq!(draft.status, 201, "{}", draft.body);
        ids.push(draft.body["id"].as_str().unwrap().to_owned());
    }
    // Tenant B registered nothing: its invoice is the plan fee alone.
    let mut numbers = Vec::new();
    for (tenant, id) in tenants.iter().zip(&ids) {
        let issued = app
            .call(
                Method::POST,
                &format!("/v1/operator/tenants/{tenant}/invoices/{id}/issue"),
                &op,
                None,
            )
            .await;
        assert_eq!(issued.status, 200, "{}", issued.body);
        numbers.push(issued.body["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers, ["F001-00000001", "F001-00000002"]);

    let (a, a_invoice) = (&tenants[0], &ids[0]);
    let void = format!("/v1/operator/tenants/{a}/invoices/{a_invoice}/void");
    let missing_reason = app
        .call(Method::POST, &void, &op, Some(json!({ "reason": " " })))
        .await;
    missing_reason.assert_problem(422, "validation");
    assert_eq!(missing_reason.fields(), ["reason"]);
    let voided = app
        .call(
            Method::POST,
            &void,
            &op,
            Some(json!({ "reason": "Tarifa web mal aplicada" })),
        )
        .await;
    assert_eq!(voided.status, 200, "{}", voided.body);
    assert_eq!(voided.body["invoice"]["status"], "void");
    let note = &voided.body["credit_note"];
    assert_eq!(note["kind"], "credit_note");
    assert_eq!(note["number"], "FC01-00000001");
    assert_eq!(note["credits_invoice_id"], a_invoice.as_str());
    assert_eq!(
        note["total_minor"].as_i64().unwrap(),
        -voided.body["invoice"]["total_minor"].as_i64().unwrap()
    );
    // The tenant sees both documents; the month can be billed again, with the next number.
    let documents = app.get(&format!("/v1/invoices?period={period}")).await;
    assert_eq!(documents.body["items"].as_array().unwrap().len(), 2);
    let notes = app.get("/v1/invoices?kind=credit_note").await;
    assert_eq!(notes.body["items"][0]["number"], "FC01-00000001");
    let redraft = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{a}/invoices"),
            &op,
            Some(json!({ "period": period })),
        )
        .await;
    assert_eq!(redraft.status, 201, "{}", redraft.body);
    let reissued = app
        .call(
            Method::POST,
            &format!(
                "/v1/operator/tenants/{a}/invoices/{}/issue",
                redraft.body["id"].as_str().unwrap()
            ),
            &op,
            None,
        )
        .await;
    assert_eq!(reissued.body["number"], "F001-00000003");
    // B cannot see A's documents, nor A B's.
    let b_list = app.call(Method::GET, "/v1/invoices", &b_key, None).await;
    assert_eq!(b_list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(b_list.body["items"][0]["id"], ids[1].as_str());
}

async fn billing_input_is_validated_and_back_office_routes_are_closed_to_tenants(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = operator(&app).await;
    let tenant = tenant_id(&app, &app.key).await;

    // Every back-office route refuses a tenant's admin key (and a missing key).
    let openapi = app.get("/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/operator/") {
            continue;
        }
        let path = path.replace("{tenant_id}", &tenant).replace("{id}", "x");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            app.call(method.clone(), &path, &app.key, Some(json!({})))
                .await
                .assert_problem(401, "unauthorized");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} back-office routes found");

    // Who may read billing: admin and viewer, not agents or channels.
    let viewer = app.key_with_role("viewer").await;
    let agent = app.key_with_role("agent").await;
    assert_eq!(
        app.call(Method::GET, "/v1/billing", &viewer, None)
            .await
            .status,
        200
    );
    app.call(Method::GET, "/v1/invoices", &agent, None)
        .await
        .assert_problem(403, "forbidden");

    let billing = format!("/v1/operator/tenants/{tenant}/billing");
    let bad_terms = app
        .call(
            Method::PUT,
            &billing,
            &op,
            Some(json!({
                "plan_id": "x", "tax_name": "", "tax_rate_bp": 20000, "issuer": "ABCALL-PE",
                "prices": prices(&[("web", -1)])
            })),
        )
        .await;
    bad_terms.assert_problem(422, "validation");
    assert_eq!(
        bad_terms.fields(),
        ["plan_id", "tax_name", "tax_rate_bp", "prices.web"]
    );
    let unknown_plan = app
        .call(
            Method::PUT,
            &billing,
            &op,
            Some(json!({ "plan_id": "oro", "tax_name": "IGV", "tax_rate_bp": 1800, "issuer": "ABCALL-PE" })),
        )
        .await;
    assert_eq!(unknown_plan.fields(), ["plan_id"]);
    // Moving a tenant to a plan in pesos needs prices in pesos…
    let cop = json!({ "plan_id": "estandar-cop", "tax_name": "IVA", "tax_rate_bp": 1900, "issuer": "ABCALL-CO" });
    let no_prices = app
        .call(Method::PUT, &billing, &op, Some(cop.clone()))
        .await;
    no_prices.assert_problem(422, "validation");
    assert_eq!(no_prices.fields(), ["prices"]);
    // …and is refused once the tenant has been billed in soles.
    register(&app, "app", 1).await;
    let mut with_prices = cop.clone();
    with_prices["prices"] = prices(&[]);
    app.call(Method::PUT, &billing, &op, Some(with_prices))
        .await
        .assert_problem(409, "conflict");

    let past = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/price-lists"),
            &op,
            Some(json!({ "effective_from": "2020-01-01T00:00:00Z", "prices": prices(&[]) })),
        )
        .await;
    past.assert_problem(422, "validation");
    assert_eq!(past.fields(), ["effective_from"]);

    let bad_period = app
        .call(
            Method::POST,
            &format!("/v1/operator/tenants/{tenant}/invoices"),
            &op,
            Some(json!({ "period": "2026-13" })),
        )
        .await;
    bad_period.assert_problem(400, "malformed-request");
    assert_eq!(bad_period.fields(), ["period"]);
    app.get("/v1/invoices?status=sent")
        .await
        .assert_problem(400, "malformed-request");
    app.call(
        Method::GET,
        "/v1/operator/tenants/00000000-0000-0000-0000-000000000000/billing",
        &op,
        None,
    )
    .await
    .assert_problem(404, "not-found");

    let plan = app
        .call(
            Method::POST,
            "/v1/operator/plans",
            &op,
            Some(json!({ "id": "premium-clp", "name": "Premium (CLP)", "currency": "CLP", "monthly_fee_minor": 900000 })),
        )
        .await;
    assert_eq!(plan.status, 201, "{}", plan.body);
    let duplicate = app
        .call(
            Method::POST,
            "/v1/operator/plans",
            &op,
            Some(json!({ "id": "premium-clp", "name": "Otra", "currency": "CLP", "monthly_fee_minor": 1 })),
        )
        .await;
    duplicate.assert_problem(409, "conflict");
    let plans = app.call(Method::GET, "/v1/operator/plans", &op, None).await;
    assert_eq!(plans.body.as_array().unwrap().len(), 4);
}
