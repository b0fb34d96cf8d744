//! The KPI rollups count exactly what the PQRs themselves count. Every PQR of the data set is in
//! the department of Lima, so `GET /v1/kpis` (served from the rollups) and the same request with
//! `department=Lima` (counted over the PQR rows) must return the same document, after a mix of
//! registrations, assignments, escalations, resolutions, rejections, reopenings and closings spread
//! over hours — and again after the rollups are dropped and rebuilt at start-up.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(rollups_count_what_the_rows_count);

const CHANNELS: [&str; 6] = ["phone", "email", "chat", "chatbot", "app", "web"];
const KINDS: [&str; 4] = ["reclamo", "queja", "peticion", "sugerencia"];
const DISTRICTS: [(&str, &str); 4] = [
    ("Lima", "Miraflores"),
    ("Lima", "Surco"),
    ("Huaral", "Huaral"),
    ("Cañete", "San Vicente"),
];

async fn step(app: &TestApp, id: &str, body: Value) {
    app.move_to(id, body).await;
}

/// The same KPIs counted both ways.
async fn both_ways(app: &TestApp, range: &str) -> (Value, Value) {
    let rolled = app.get(&format!("/v1/kpis?{range}")).await;
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    let rows = app.get(&format!("/v1/kpis?{range}&department=Lima")).await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    (rolled.body, rows.body)
}

async fn rollups_count_what_the_rows_count(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let types = ["person", "business"];
    let mut customers = Vec::new();
    for (i, customer_type) in types.iter().enumerate() {
        let reply = app
            .post(
                "/v1/customers",
                json!({ "external_id": format!("R{i}"), "name": "Cliente", "customer_type": customer_type }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        customers.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let mut ids = Vec::new();
    for i in 0..48usize {
        let (province, district) = DISTRICTS[i % DISTRICTS.len()];
        let levels = ["high", "medium", "low"];
        let (impact, urgency) = (levels[i % 3], levels[(i / 2) % 3]);
        let mut body = json!({
            "channel": CHANNELS[i % CHANNELS.len()],
            "kind": KINDS[(i / 3) % KINDS.len()],
            "impact": impact,
            "urgency": urgency,
            "location": { "region": "Perú", "department": "Lima", "province": province, "district": district },
        });
        if i % 5 != 0 {
            body["product"] = json!(["Internet Hogar", "Telefonía Móvil", "TV Cable"][i % 3]);
        }
        if i % 4 != 0 {
            body["customer_id"] = json!(customers[i % customers.len()]);
        }
        ids.push(
            app.new_incident(body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        if i % 12 == 11 {
            app.app().clock.advance(SignedDuration::from_mins(50));
        }
    }
    // Another tenant's PQRs never count.
    let other = app.other_tenant("Otra").await;
    let reply = app
        .call(
            Method::POST,
            "/v1/incidents",
            &other,
            Some(
                json!({ "channel": "phone", "kind": "reclamo", "subject": "x", "description": "y",
                "location": { "department": "Lima" } }),
            ),
        )
        .await;
    assert_eq!(reply.status, 201);

    let contractor =
        |i: usize| json!({ "to": "assigned", "assignee": format!("contratista-{}", i % 3) });
    let resolve = json!({ "to": "resolved", "resolution": "Servicio restablecido." });
    let reasons = ["Fuera de cobertura", "Cliente desistió", "Duplicado"];
    for round in 0..3usize {
        app.app().clock.advance(SignedDuration::from_hours(2));
        for (i, id) in ids.iter().enumerate() {
            let by = ["company", "customer"][(i / 8) % 2];
            let reject = json!({ "to": "rejected", "rejected_by": by, "reason": reasons[i % reasons.len()] });
            match (i % 8, round) {
                (0, 0) | (1, 0) | (2, 0) => step(&app, id, contractor(i)).await,
                (0, 1) => step(&app, id, resolve.clone()).await,
                (0, 2) => step(&app, id, json!({ "to": "closed" })).await,
                (1, 1) => {
                    step(
                        &app,
                        id,
                        json!({ "to": "escalated", "reason": "Planta externa" }),
                    )
                    .await
                }
                (1, 2) => step(&app, id, resolve.clone()).await,
                (2, 1) => step(&app, id, reject).await,
                (2, 2) => {
                    step(
                        &app,
                        id,
                        json!({ "to": "reopened", "reason": "Sigue sin servicio" }),
                    )
                    .await
                }
                (3, 0) => step(&app, id, resolve.clone()).await,
                (3, 1) => {
                    step(
                        &app,
                        id,
                        json!({ "to": "reopened", "reason": "No funciona" }),
                    )
                    .await
                }
                (3, 2) => step(&app, id, contractor(i + 1)).await,
                (4, 1) => step(&app, id, reject).await,
                (5, 0) => step(&app, id, json!({ "to": "in_progress" })).await,
                (5, 2) => step(&app, id, resolve.clone()).await,
                (6, 2) => step(&app, id, reject).await,
                _ => {} // 7: stays registered
            }
        }
    }
    answer_surveys_and_score(&app, &ids).await;
    app.app().clock.advance(SignedDuration::from_hours(30));

    let lima = jiff::tz::TimeZone::get("America/Lima").unwrap();
    let today = lima.to_datetime(app.app().clock.now()).date();
    let range = format!(
        "from={}&to={}",
        today.checked_sub(jiff::Span::new().days(3)).unwrap(),
        today
    );
    let (rolled, rows) = both_ways(&app, &range).await;
    assert_eq!(rolled["volume"]["total"], 48);
    assert_eq!(rolled, rows);
    // Every part of the document has something in it, so the comparison is not vacuous.
    let o = &rolled["outcomes"];
    for field in ["resolved", "rejected", "open", "reopened"] {
        assert!(o[field].as_i64().unwrap() > 0, "{field}: {o}");
    }
    assert!(rolled["rejections"]["company"].as_i64().unwrap() > 0);
    assert!(rolled["rejections"]["customer"].as_i64().unwrap() > 0);
    assert!(
        !rolled["rejections"]["by_place"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        rolled["conversion"]["by_contractor"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    assert_eq!(rolled["customer_types"].as_array().unwrap().len(), 3);
    assert_eq!(
        rolled["satisfaction"]["responses"], 18,
        "{}",
        rolled["satisfaction"]
    );
    let scored = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|c| c["key"] != "unscored" && c["count"].as_i64() > Some(0))
            .count()
    };
    assert_eq!(scored(&rolled["risk"]), 3, "{}", rolled["risk"]);
    assert!(scored(&rolled["churn"]) >= 3, "{}", rolled["churn"]);
    // Reports group by the same scores.
    let report = app
        .post(
            "/v1/reports",
            json!({ "kind": "outcomes", "from": today.checked_sub(jiff::Span::new().days(3)).unwrap(),
                    "to": today, "group_by": ["risk"] }),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let by_risk: Vec<(String, i64)> = report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["risk"].as_str().unwrap().to_owned(),
                r["pqrs"].as_i64().unwrap(),
            )
        })
        .collect();
    let risk_counts: Vec<(String, i64)> = rolled["risk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = risk_counts.clone();
    sorted.sort();
    assert_eq!(by_risk, sorted, "{}", report.body);
    assert!(
        rolled["backlog_age"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["count"].as_i64() > Some(0))
    );
    // Narrowed by channel and kind, both ways still agree.
    let (rolled, rows) = both_ways(&app, &format!("{range}&channel=chat&kind=queja")).await;
    assert_eq!(rolled, rows);
    let (rolled, rows) = both_ways(&app, &format!("{range}&kind=reclamo")).await;
    assert!(rolled["volume"]["total"].as_i64().unwrap() > 0);
    assert_eq!(rolled, rows);

    // Dropped rollups (as for PQRs stored before rollups existed) are rebuilt at start-up.
    let db = app.app().db.writer.clone();
    for sql in [
        "DELETE FROM kpi_hourly",
        "DELETE FROM kpi_daily",
        "DELETE FROM kpi_rollup_builds",
        "UPDATE incidents SET local_day = NULL, customer_type = NULL",
        "UPDATE incident_insights SET risk_label = NULL, churn_range = NULL",
    ] {
        sqlx::query(sql)
            .execute(&db)
            .await
            .expect("rollups dropped");
    }
    app.restart(|_| {}).await;
    let (rolled, rows) = both_ways(&app, &range).await;
    assert_eq!(rolled["volume"]["total"], 48);
    assert_eq!(rolled["customer_types"].as_array().unwrap().len(), 3);
    assert_eq!(
        scored(&rolled["risk"]),
        3,
        "scores refilled: {}",
        rolled["risk"]
    );
    assert_eq!(rolled, rows);
}

/// Survey answers on every solved PQR, and insights as the scoring job stores them on every
/// third PQR, re-scored once so the rollups move a PQR between risk labels and churn ranges.
async fn answer_surveys_and_score(app: &TestApp, ids: &[String]) {
    let db = &app.app().db;
    let tenant_id: String = sqlx::query_scalar("SELECT tenant_id FROM incidents WHERE id = $1")
        .bind(&ids[0])
        .fetch_one(&db.reader)
        .await
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        if matches!(i % 8, 0 | 1 | 5) {
            let score = (i % 5) as i64 + 1;
            let reply = app
                .post(
                    &format!("/v1/incidents/{id}/survey"),
                    json!({ "score": score }),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        if i % 3 == 0 {
            for round in 0..2 {
                let label = ["alto", "medio", "bajo"][(i / 3 + round) % 3];
                let insights = json!({
                    "risk": { "label": label },
                    "churn": { "probability": ((i + 7 * round) % 48) as f64 / 48.0 },
                });
                abcall::store::insights::save(db, &tenant_id, id, &insights)
                    .await
                    .unwrap();
            }
        }
    }
}
