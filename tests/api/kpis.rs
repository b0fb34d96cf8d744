//! KPIs on a small hand-made data set equal the values computed by hand (see the comments), on
//! both backends; filters narrow them; other tenants' PQRs never count.

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(kpis_equal_the_hand_computed_values);

fn counts(value: &Value) -> Vec<(String, i64)> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, i64)> {
    items.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

async fn customer(app: &TestApp, external_id: &str, customer_type: &str) -> String {
    let reply = app
        .post(
            "/v1/customers",
            json!({ "external_id": external_id, "name": "Cliente", "customer_type": customer_type }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A critical PQR (24x7 SLA: first response 15 min, resolution 240 min).
async fn pqr(app: &TestApp, fields: Value) -> String {
    let mut body = json!({ "impact": "high", "urgency": "high" });
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = app.new_incident(body).await;
    assert_eq!(created["priority"], "critical");
    created["id"].as_str().unwrap().to_owned()
}

fn at(place: (&str, &str, &str)) -> Value {
    json!({ "region": "Perú", "department": place.0, "province": place.1, "district": place.2 })
}

async fn kpis_equal_the_hand_computed_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let c1 = customer(&app, "C1", "person").await;
    let c2 = customer(&app, "C2", "business").await;
    let miraflores = ("Lima", "Lima", "Miraflores");
    let cayma = ("Arequipa", "Arequipa", "Cayma");
    let internet = "Internet Hogar";
    let movil = "Telefonía Móvil";
    let p1 = pqr(&app, json!({ "channel": "phone", "kind": "reclamo", "product": internet, "customer_id": c1, "location": at(miraflores) })).await;
    let p2 = pqr(&app, json!({ "channel": "phone", "kind": "queja", "product": internet, "customer_id": c2, "location": at(("Lima", "Lima", "Surco")) })).await;
    let p3 = pqr(
        &app,
        json!({ "channel": "web", "kind": "reclamo", "product": movil, "location": at(cayma) }),
    )
    .await;
    let p4 = pqr(&app, json!({ "channel": "email", "kind": "peticion", "product": internet, "customer_id": c1, "location": at(miraflores) })).await;
    let p5 = pqr(&app, json!({ "channel": "chat", "kind": "reclamo", "customer_id": c2, "location": at(miraflores) })).await;
    let p6 = pqr(
        &app,
        json!({ "channel": "web", "kind": "sugerencia", "product": movil, "location": at(cayma) }),
    )
    .await;
    let mut created: Vec<Timestamp> = Vec::new();
    for id in [&p1, &p2, &p3, &p4, &p5, &p6] {
        let pqr = app.get(&format!("/v1/incidents/{id}")).await.body;
        created.push(pqr["created_at"].as_str().unwrap().parse().unwrap());
    }
    // Another tenant's PQR never counts.
    let b = app.other_tenant("Tenant B").await;
    let other = app
        .call(
            Method::POST,
            "/v1/incidents",
            &b,
            Some(json!({ "channel": "phone", "kind": "reclamo", "subject": "x", "description": "y", "product": internet })),
        )
        .await;
    assert_eq!(other.status, 201);

    let reject =
        |by: &str, reason: &str| json!({ "to": "rejected", "rejected_by": by, "reason": reason });
    let resolve = json!({ "to": "resolved", "resolution": "Se restableció el servicio." });
    // At once: three rejections (first response in time for each).
    app.move_to(&p3, reject("company", "Fuera de cobertura"))
        .await;
    app.move_to(&p6, reject("customer", "Cliente desistió"))
        .await;
    app.move_to(
        &p5,
        json!({ "to": "assigned", "assignee": "contratista-a" }),
    )
    .await;
    app.move_to(&p5, reject("company", "Fuera de cobertura"))
        .await;
    // One hour later: P1 assigned and resolved (first response late, resolution in time, FCR).
    app.app().clock.advance(SignedDuration::from_hours(1));
    app.move_to(
        &p1,
        json!({ "to": "assigned", "assignee": "contratista-a" }),
    )
    .await;
    app.move_to(&p1, resolve.clone()).await;
    // Six hours after registration: P2 escalated then resolved, P4 resolved, reopened, resolved.
    app.app().clock.advance(SignedDuration::from_hours(5));
    app.move_to(
        &p2,
        json!({ "to": "assigned", "assignee": "contratista-b" }),
    )
    .await;
    app.move_to(
        &p2,
        json!({ "to": "escalated", "reason": "Requiere planta externa" }),
    )
    .await;
    app.move_to(&p2, resolve.clone()).await;
    app.move_to(&p4, resolve.clone()).await;
    app.move_to(
        &p4,
        json!({ "to": "reopened", "reason": "El cliente sigue sin servicio" }),
    )
    .await;
    app.move_to(&p4, resolve.clone()).await;
    // Surveys: P1 very satisfied, P2 dissatisfied.
    for (id, score) in [(&p1, 5), (&p2, 2)] {
        let reply = app
            .post(
                &format!("/v1/incidents/{id}/survey"),
                json!({ "score": score }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    // Hours and dates on the tenant's (default) Lima wall clock, from the stored times.
    let lima = jiff::tz::TimeZone::get("America/Lima").unwrap();
    let mut by_hour = vec![0i64; 24];
    let mut by_day = std::collections::BTreeMap::new();
    for at in &created {
        let local = lima.to_datetime(*at);
        by_hour[local.hour() as usize] += 1;
        *by_day.entry(local.date().to_string()).or_insert(0i64) += 1;
    }
    let day = lima.to_datetime(created[0]).date();
    let range = format!(
        "from={}&to={}",
        day.yesterday().unwrap(),
        day.tomorrow().unwrap()
    );
    let reply = app.get(&format!("/v1/kpis?{range}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let k = &reply.body;
    assert_eq!(k["time_zone"], "America/Lima");

    // Volume: 6 PQRs.
    assert_eq!(k["volume"]["total"], 6);
    assert_eq!(
        counts(&k["volume"]["by_channel"]),
        pairs(&[("phone", 2), ("web", 2), ("chat", 1), ("email", 1)])
    );
    assert_eq!(
        counts(&k["volume"]["by_kind"]),
        pairs(&[
            ("reclamo", 3),
            ("peticion", 1),
            ("queja", 1),
            ("sugerencia", 1)
        ])
    );
    assert_eq!(k["volume"]["by_hour"], json!(by_hour));
    let days: Vec<Value> = by_day
        .iter()
        .map(|(date, count)| json!({ "date": date, "count": count }))
        .collect();
    assert_eq!(k["volume"]["by_day"], json!(days));
    assert_eq!(
        counts(&k["top_products"]),
        pairs(&[(internet, 3), (movil, 2)])
    );
    let mut types = counts(&k["customer_types"]);
    types.sort();
    assert_eq!(
        types,
        pairs(&[("business", 2), ("person", 2), ("unknown", 2)])
    );

    // Outcomes: 3 resolved (P1, P2, P4), 3 rejected; FCR only P1 (P2 escalated, P4 reopened);
    // resolution SLA met by P1 (1 h ≤ 4 h), missed by P2 and P4 (6 h); first response in time
    // for P3, P5, P6 (at once), late for P1 (1 h), P2 and P4 (6 h) against 15 min.
    let o = &k["outcomes"];
    assert_eq!(
        (
            o["total"].as_i64(),
            o["resolved"].as_i64(),
            o["rejected"].as_i64(),
            o["open"].as_i64(),
            o["reopened"].as_i64()
        ),
        (Some(6), Some(3), Some(3), Some(0), Some(1))
    );
    assert_eq!(o["resolution_rate"], 0.5);
    assert_eq!(
        o["first_contact_resolution_rate"].as_f64().unwrap(),
        1.0 / 3.0
    );
    assert_eq!(o["sla_compliance_rate"].as_f64().unwrap(), 1.0 / 3.0);
    assert_eq!(o["first_response_compliance_rate"], 0.5);
    assert_eq!(o["non_conformity_rate"].as_f64().unwrap(), 1.0 / 6.0);
    assert_eq!(
        counts(&k["time_to_resolution"]),
        pairs(&[
            ("< 4 h", 1),
            ("4–24 h", 2),
            ("1–3 d", 0),
            ("3–7 d", 0),
            ("≥ 7 d", 0)
        ])
    );
    assert!(counts(&k["backlog_age"]).iter().all(|(_, n)| *n == 0));

    // Claro: rejections by attribution and place, top reasons, conversion by contractor.
    let r = &k["rejections"];
    assert_eq!(
        (r["company"].as_i64(), r["customer"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        r["by_place"],
        json!([
            { "department": "Arequipa", "province": "Arequipa", "district": "Cayma", "company": 1, "customer": 1, "unattributed": 0 },
            { "department": "Lima", "province": "Lima", "district": "Miraflores", "company": 1, "customer": 0, "unattributed": 0 }
        ])
    );
    assert_eq!(
        counts(&r["top_reasons"]),
        pairs(&[("Fuera de cobertura", 2), ("Cliente desistió", 1)])
    );
    assert_eq!(k["conversion"]["rate"], 0.5);
    assert_eq!(
        k["conversion"]["by_contractor"],
        json!([
            { "contractor": "contratista-a", "resolved": 1, "rejected": 1, "conversion_rate": 0.5 },
            { "contractor": "contratista-b", "resolved": 1, "rejected": 0, "conversion_rate": 1.0 }
        ])
    );

    // CSAT: 1 of 2 answers is a 4 or 5; mean (5 + 2) / 2. No models: every PQR unscored.
    assert_eq!(
        k["satisfaction"],
        json!({
            "responses": 2, "satisfied": 1, "csat": 0.5, "mean_score": 3.5,
            "by_score": [
                { "key": "1", "count": 0 }, { "key": "2", "count": 1 }, { "key": "3", "count": 0 },
                { "key": "4", "count": 0 }, { "key": "5", "count": 1 }
            ]
        })
    );
    assert_eq!(k["risk"], json!([{ "key": "unscored", "count": 6 }]));
    assert_eq!(
        counts(&k["churn"]),
        pairs(&[
            ("0–20%", 0),
            ("20–40%", 0),
            ("40–60%", 0),
            ("60–80%", 0),
            ("80–100%", 0),
            ("unscored", 6)
        ])
    );

    // Filters narrow every figure; a range without PQRs has null rates.
    let web = app.get(&format!("/v1/kpis?{range}&channel=web")).await.body;
    assert_eq!(
        (
            web["outcomes"]["total"].as_i64(),
            web["outcomes"]["rejected"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let lima_only = app
        .get(&format!("/v1/kpis?{range}&department=Lima"))
        .await
        .body;
    assert_eq!(lima_only["volume"]["total"], 4);
    let empty = app.get("/v1/kpis?from=2026-01-01&to=2026-01-31").await.body;
    assert_eq!(empty["outcomes"]["total"], 0);
    assert!(empty["outcomes"]["resolution_rate"].is_null());

    // Custom reports over the same PQRs.
    let (from, to) = (day.yesterday().unwrap(), day.tomorrow().unwrap());
    let report = |body: Value| {
        let mut body = body;
        body["from"] = json!(from.to_string());
        body["to"] = json!(to.to_string());
        app.post("/v1/reports", body)
    };
    let conversion = report(json!({ "kind": "conversion", "group_by": ["contractor"] })).await;
    assert_eq!(conversion.status, 200, "{}", conversion.body);
    assert_eq!(
        conversion.body["columns"],
        json!(["contractor", "resolved", "rejected", "conversion_rate"])
    );
    // P4 (resolved) and P3, P6 (rejected) were never assigned.
    assert_eq!(
        conversion.body["rows"],
        json!([
            { "contractor": null, "resolved": 1, "rejected": 2, "conversion_rate": 1.0 / 3.0 },
            { "contractor": "contratista-a", "resolved": 1, "rejected": 1, "conversion_rate": 0.5 },
            { "contractor": "contratista-b", "resolved": 1, "rejected": 0, "conversion_rate": 1.0 }
        ])
    );
    let rejections = report(json!({ "kind": "rejections", "group_by": ["channel"] })).await;
    assert_eq!(
        rejections.body["rows"],
        json!([
            { "channel": "chat", "pqrs": 1, "rejected": 1, "rejected_by_company": 1, "rejected_by_customer": 0, "rejection_rate": 1.0 },
            { "channel": "email", "pqrs": 1, "rejected": 0, "rejected_by_company": 0, "rejected_by_customer": 0, "rejection_rate": 0.0 },
            { "channel": "phone", "pqrs": 2, "rejected": 0, "rejected_by_company": 0, "rejected_by_customer": 0, "rejection_rate": 0.0 },
            { "channel": "web", "pqrs": 2, "rejected": 2, "rejected_by_company": 1, "rejected_by_customer": 1, "rejection_rate": 1.0 }
        ])
    );
    let totals = report(json!({ "kind": "outcomes", "filters": { "channel": "phone" } })).await;
    assert_eq!(
        totals.body["rows"],
        json!([{ "pqrs": 2, "resolved": 2, "rejected": 0, "open": 0, "resolution_rate": 1.0 }])
    );
    let by_district = report(json!({ "kind": "volume", "group_by": ["district", "kind"] })).await;
    assert_eq!(
        by_district.body["rows"],
        json!([
            { "district": "Cayma", "kind": "reclamo", "pqrs": 1 },
            { "district": "Cayma", "kind": "sugerencia", "pqrs": 1 },
            { "district": "Miraflores", "kind": "peticion", "pqrs": 1 },
            { "district": "Miraflores", "kind": "reclamo", "pqrs": 2 },
            { "district": "Surco", "kind": "queja", "pqrs": 1 }
        ])
    );
    let by_month = report(json!({ "kind": "volume", "group_by": ["month"] })).await;
    let months: i64 = by_month.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pqrs"].as_i64().unwrap())
        .sum();
    assert_eq!(months, 6);
    let csv = report(json!({ "kind": "volume", "group_by": ["kind"], "format": "csv" })).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.body,
        "kind,pqrs\npeticion,1\nqueja,1\nreclamo,3\nsugerencia,1\n"
    );
    let bad = app
        .post(
            "/v1/reports",
            json!({ "kind": "volume", "group_by": ["product", "district"] }),
        )
        .await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.fields(), ["from", "to", "group_by[1]"]);
    app.post(
        "/v1/reports",
        json!({ "kind": "everything", "period": "2026-11" }),
    )
    .await
    .assert_problem(400, "malformed-request");
    // Tenant B sees only its own PQR.
    let theirs = app
        .call(
            Method::POST,
            "/v1/reports",
            &b,
            Some(json!({ "kind": "volume", "from": from.to_string(), "to": to.to_string() })),
        )
        .await;
    assert_eq!(theirs.body["rows"], json!([{ "pqrs": 1 }]));

    // Bad input and roles.
    let backwards = app.get("/v1/kpis?from=2026-11-30&to=2026-11-01").await;
    backwards.assert_problem(422, "validation");
    assert_eq!(backwards.fields(), ["to"]);
    let bad_date = app.get("/v1/kpis?from=2026-13-01").await;
    bad_date.assert_problem(400, "malformed-request");
    assert_eq!(bad_date.fields(), ["from"]);
    app.get("/v1/kpis?channel=fax")
        .await
        .assert_problem(400, "malformed-request");
    let agent = app.key_with_role("agent").await;
    app.call(Method::GET, "/v1/kpis", &agent, None)
        .await
        .assert_problem(403, "forbidden");
    app.call(
        Method::POST,
        "/v1/reports",
        &agent,
        Some(json!({ "kind": "volume", "period": "2026-11" })),
    )
    .await
    .assert_problem(403, "forbidden");
    let viewer = app.key_with_role("viewer").await;
    assert_eq!(
        app.call(Method::GET, "/v1/kpis", &viewer, None)
            .await
            .status,
        200
    );
}
