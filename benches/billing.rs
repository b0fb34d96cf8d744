//! Invoice and KPI latency at scale: one tenant with `--events` PQRs in one month (default
//! 2,000,000), on SQLite and PostgreSQL, over real HTTP on loopback.
//!
//! The PQRs and their billing events are written straight into `incidents` and
//! `billing_events` in large batches (what registering and working that many PQRs would leave
//! there), spread over channels, kinds, states, places, contractors and resolution times, with a
//! mid-month price change; every PQR has scores (risk label, churn probability) and a third of the
//! solved ones a survey answer. Then it measures:
//! - `GET /v1/billing` (the month so far, aggregated from the events on each request);
//! - drafting the month's invoice (`POST /v1/operator/tenants/{id}/invoices`, same aggregation);
//! - `GET /v1/invoices/{id}` of the issued invoice (JSON, CSV) — what a client opens;
//! - `GET /v1/kpis` over the whole month (every KPI in one response, from the rollups), and the
//!   same for one department (counted over the PQR rows);
//! - rebuilding the rollups from the rows (what start-up does for data older than the rollups);
//! - `POST /v1/reports`, a mix of kinds, groupings and formats, one at a time; then `--reports`
//!   of them (default 3,000: 100 a minute for 30 minutes) sent open-loop at `--report-rate` a
//!   second (default 50: the half hour compressed into one minute).
//!
//! `cargo bench --bench billing -- [--backend sqlite|postgres|both] [--events N] [--rounds N]
//! [--reports N] [--report-rate R]`

use std::time::{Duration, Instant};

use abcall::testkit;
use jiff::SignedDuration;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn timed(
    rounds: usize,
    mut call: impl AsyncFnMut() -> reqwest::Response,
) -> (Duration, Duration) {
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let response = call().await;
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.expect("body");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

async fn bench(
    backend: &str,
    events: usize,
    rounds: usize,
    report_count: usize,
    report_rate: f64,
) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = testkit::bench_config(backend, dir.path())
        .await
        .expect("PostgreSQL reachable");
    let server = testkit::start(config).await.expect("server starts");
    let app = server.app.clone();
    let (tenant, key) = abcall::store::tenants::create_tenant(&app.db, "Bench")
        .await
        .expect("tenant");
    let (_, operator) = abcall::store::billing::create_operator_key(&app.db, "bench")
        .await
        .expect("operator key");
    let zone = abcall::billing::tenant_zone(&app.db, &tenant.id)
        .await
        .expect("zone");
    let period = abcall::domain::billing::Period::containing(app.clock.now(), &zone);
    let (start, _) = period.bounds(&zone);

    let loaded = Instant::now();
    let channels = ["phone", "email", "chat", "chatbot", "app", "web"];
    let kinds = ["reclamo", "queja", "peticion", "sugerencia"];
    let places = [
        ("Lima", "Lima", "Miraflores"),
        ("Lima", "Lima", "Surco"),
        ("Arequipa", "Arequipa", "Cayma"),
        ("Cusco", "Cusco", "Wanchaq"),
        ("La Libertad", "Trujillo", "Trujillo"),
    ];
    let month_ms = 28 * 24 * 3_600_000i64;
    let batch = 500;
    let mut written = 0;
    while written < events {
        let n = batch.min(events - written);
        let mut pqrs = String::from(
            "INSERT INTO incidents (id, tenant_id, channel, kind, subject, description, product, \
             region, department, province, district, impact, urgency, priority, state, \
             escalation_level, assignee, rejected_by, rejection_reason, first_response_due_at, \
             resolution_due_at, first_response_at, resolved_at, created_at, updated_at, version) VALUES ",
        );
        let mut billed = String::from(
            "INSERT INTO billing_events (tenant_id, incident_id, channel, period, \
             unit_price_minor, currency, occurred_at) VALUES ",
        );
        // Every PQR scored (risk label, churn range); a third of the solved ones surveyed.
        let mut scored = String::from(
            "INSERT INTO incident_insights (tenant_id, incident_id, insights, scored_at, \
             risk_label, churn_range) VALUES ",
        );
        let mut surveyed = String::from(
            "INSERT INTO incident_surveys (tenant_id, incident_id, score, comment, answered_at) \
             VALUES ",
        );
        let mut surveys = 0;
        for i in written..written + n {
            if i > written {
                pqrs.push_str(", ");
                billed.push_str(", ");
                scored.push_str(", ");
            }
            let id = format!("pqr-{i:08}");
            let channel = channels[i % 6];
            let at = start.as_millisecond() + (i as i64 * 7_919) % month_ms;
            let price = if i < events / 2 { 350 } else { 300 };
            let (department, province, district) = places[i % places.len()];
            let hours = |h: i64| h * 3_600_000;
            // A mix of outcomes: resolved fast or slow, rejected (by company or customer), open.
            let (state, first, resolved, rejected_by, reason) = match i % 10 {
                0..=4 => (
                    "resolved",
                    Some(at + hours(1)),
                    Some(at + hours(1 + (i % 48) as i64)),
                    None,
                    None,
                ),
                5 | 6 => (
                    "closed",
                    Some(at + hours(2)),
                    Some(at + hours(30)),
                    None,
                    None,
                ),
                7 => (
                    "rejected",
                    Some(at + hours(1)),
                    None,
                    Some("company"),
                    Some("Fuera de cobertura"),
                ),
                8 => (
                    "rejected",
                    Some(at + hours(1)),
                    None,
                    Some("customer"),
                    Some("Cliente desistió"),
                ),
                _ => ("in_progress", Some(at + hours(3)), None, None, None),
            };
            let opt = |v: Option<i64>| v.map_or("NULL".to_owned(), |v| v.to_string());
            let text = |v: Option<&str>| v.map_or("NULL".to_owned(), |v| format!("'{v}'"));
            pqrs.push_str(&format!(
                "('{id}', '{tenant}', '{channel}', '{kind}', 'Internet intermitente', \
                 'El servicio se corta varias veces al día.', 'Plan {plan}', 'Perú', \
                 '{department}', '{province}', '{district}', 'medium', 'medium', 'medium', \
                 '{state}', 0, 'contratista-{contractor}', {rejected_by}, {reason}, {first_due}, \
                 {resolution_due}, {first}, {resolved}, {at}, {at}, 1)",
                tenant = tenant.id,
                kind = kinds[i % 4],
                plan = i % 12,
                contractor = i % 7,
                rejected_by = text(rejected_by),
                reason = text(reason),
                first_due = at + hours(4),
                resolution_due = at + hours(24),
                first = opt(first),
                resolved = opt(resolved),
            ));
            billed.push_str(&format!(
                "('{}', '{id}', '{channel}', '{period}', {}, 'PEN', {at})",
                tenant.id,
                price + (i % 6) as i64,
            ));
            let risk = ["bajo", "medio", "alto"][i % 3];
            let churn = (i % 100) as f64 / 100.0;
            scored.push_str(&format!(
                "('{}', '{id}', '{{\"risk\":{{\"label\":\"{risk}\"}},\"churn\":{{\"probability\":{churn}}}}}', \
                 {at}, '{risk}', '{}')",
                tenant.id,
                abcall::domain::rollup::churn_range(churn).expect("finite"),
            ));
            if resolved.is_some() && i % 3 == 0 {
                if surveys > 0 {
                    surveyed.push_str(", ");
                }
                surveys += 1;
                surveyed.push_str(&format!(
                    "('{}', '{id}', {}, NULL, {})",
                    tenant.id,
                    1 + (i / 3) % 5,
                    at + hours(50),
                ));
            }
        }
        let mut tx = app.db.writer.begin().await.expect("tx");
        let statements = [pqrs, billed, scored, surveyed];
        for sql in statements.into_iter().take(if surveys > 0 { 4 } else { 3 }) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .expect("rows written");
        }
        tx.commit().await.expect("commit");
        written += n;
    }
    if backend == "postgres" {
        // One statement at a time: VACUUM cannot run inside the implicit transaction of a batch.
        for table in [
            "billing_events",
            "incidents",
            "incident_insights",
            "incident_surveys",
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
                .execute(&app.db.writer)
                .await
                .expect("vacuum");
        }
    } else {
        sqlx::raw_sql("ANALYZE")
            .execute(&app.db.writer)
            .await
            .expect("analyze");
    }
    let load = loaded.elapsed();
    // The rows above bypass registration, so their rollups are built the way older data's are.
    let rebuilt = Instant::now();
    abcall::store::rollups::rebuild(&app.db, &tenant.id, &zone)
        .await
        .expect("rollups rebuilt");
    let rebuild = rebuilt.elapsed();

    let client = reqwest::Client::new();
    let base = server.base.clone();
    let overview = timed(rounds, async || {
        client
            .get(format!("{base}/v1/billing"))
            .bearer_auth(&key.secret)
            .send()
            .await
            .expect("sent")
    })
    .await;
    let drafts = format!("{base}/v1/operator/tenants/{}/invoices", tenant.id);
    let draft = timed(rounds, async || {
        client
            .post(&drafts)
            .bearer_auth(&operator)
            .json(&serde_json::json!({ "period": period }))
            .send()
            .await
            .expect("sent")
    })
    .await;
    let invoice = abcall::store::billing::invoice_for_period(&app.db, &tenant.id, period)
        .await
        .expect("read")
        .expect("drafted");
    assert_eq!(invoice.amounts.incidents, events as i64);
    app.clock.advance(SignedDuration::from_hours(24 * 32));
    let issued = client
        .post(format!("{drafts}/{}/issue", invoice.id))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("sent");
    assert!(issued.status().is_success(), "{}", issued.status());
    let url = format!("{base}/v1/invoices/{}", invoice.id);
    let json = timed(rounds, async || {
        client
            .get(&url)
            .bearer_auth(&key.secret)
            .send()
            .await
            .expect("sent")
    })
    .await;
    let csv = timed(rounds, async || {
        client
            .get(format!("{url}?format=csv"))
            .bearer_auth(&key.secret)
            .send()
            .await
            .expect("sent")
    })
    .await;
    let (first_day, last_day) = {
        let (from, to) = period.bounds(&zone);
        let last = to
            .checked_sub(SignedDuration::from_secs(1))
            .expect("a month");
        (zone.to_datetime(from).date(), zone.to_datetime(last).date())
    };
    let kpis_url = format!("{base}/v1/kpis?from={first_day}&to={last_day}");
    let kpis = timed(rounds.min(20), async || {
        client
            .get(&kpis_url)
            .bearer_auth(&key.secret)
            .send()
            .await
            .expect("sent")
    })
    .await;
    // A drill-down by place is counted over the PQR rows (the rollups are not keyed on place).
    let by_place_url = format!("{kpis_url}&department=Lima");
    let kpis_by_place = timed(rounds.min(3), async || {
        client
            .get(&by_place_url)
            .bearer_auth(&key.secret)
            .send()
            .await
            .expect("sent")
    })
    .await;
    let reports: Vec<serde_json::Value> = report_mix(period);
    let mut next = 0;
    let report = timed(rounds, async || {
        next += 1;
        client
            .post(format!("{base}/v1/reports"))
            .bearer_auth(&key.secret)
            .json(&reports[next % reports.len()])
            .send()
            .await
            .expect("sent")
    })
    .await;
    let sustained = sustained_reports(
        &client,
        &base,
        &key.secret,
        &reports,
        report_count,
        report_rate,
    )
    .await;
    server.stop().await;
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let second = format!(
        "| {backend} | {:.1} s | {} / {} | {} / {} | {} reports at {report_rate}/s: {} / {} / {} ms, {} failed |",
        rebuild.as_secs_f64(),
        ms(kpis_by_place.0),
        ms(kpis_by_place.1),
        ms(report.0),
        ms(report.1),
        sustained.sent,
        ms(sustained.p50),
        ms(sustained.p99),
        ms(sustained.max),
        sustained.failed,
    );
    vec![
        second,
        format!(
            "| {backend} | {events} PQRs in {:.0} s | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} |",
            load.as_secs_f64(),
            ms(overview.0),
            ms(overview.1),
            ms(draft.0),
            ms(draft.1),
            ms(json.0),
            ms(json.1),
            ms(csv.0),
            ms(csv.1),
            ms(kpis.0),
            ms(kpis.1),
        ),
    ]
}

/// The reports a BI client asks for: every kind, grouped by dates, channels, kinds and attributes,
/// JSON and CSV.
fn report_mix(period: abcall::domain::billing::Period) -> Vec<serde_json::Value> {
    use serde_json::json;
    let period = period.to_string();
    vec![
        json!({ "kind": "outcomes", "period": period, "group_by": ["date", "channel"] }),
        json!({ "kind": "conversion", "period": period, "group_by": ["contractor"] }),
        json!({ "kind": "rejections", "period": period, "group_by": ["district", "kind"], "format": "csv" }),
        json!({ "kind": "volume", "period": period, "group_by": ["product"], "filters": { "channel": "phone" } }),
        json!({ "kind": "volume", "period": period, "group_by": ["month", "channel", "kind"] }),
        json!({ "kind": "outcomes", "period": period, "group_by": ["customer_type", "date"], "format": "csv" }),
        json!({ "kind": "rejections", "period": period, "group_by": ["rejection_reason"] }),
        json!({ "kind": "outcomes", "period": period }),
    ]
}

struct Sustained {
    sent: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// Sends `count` reports at a fixed rate (open loop: a slow answer does not delay the next
/// request), the way 100 reports a minute for 30 minutes arrive, compressed in time.
async fn sustained_reports(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    reports: &[serde_json::Value],
    count: usize,
    rate: f64,
) -> Sustained {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        tick.tick().await;
        let request = client
            .post(format!("{base}/v1/reports"))
            .bearer_auth(key)
            .json(&reports[i % reports.len()]);
        tasks.spawn(async move {
            let started = Instant::now();
            let ok = match request.send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            (started.elapsed(), ok)
        });
    }
    let mut latencies = Vec::with_capacity(count);
    let mut failed = 0;
    while let Some(result) = tasks.join_next().await {
        let (elapsed, ok) = result.expect("task");
        latencies.push(elapsed);
        failed += usize::from(!ok);
    }
    latencies.sort();
    Sustained {
        sent: count,
        failed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        max: *latencies.last().expect("reports sent"),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let backends: Vec<String> = match value("--backend").as_deref() {
        Some("both") | None => vec!["sqlite".into(), "postgres".into()],
        Some(one) => vec![one.to_owned()],
    };
    let events = value("--events").map_or(2_000_000, |v| v.parse().expect("a number"));
    let rounds = value("--rounds").map_or(50, |v| v.parse().expect("a number"));
    // 100 reports a minute for 30 minutes is 3,000 reports; by default they arrive 30 times
    // faster (50 a second, one minute).
    let report_count = value("--reports").map_or(3_000, |v| v.parse().expect("a number"));
    let report_rate: f64 = value("--report-rate").map_or(50.0, |v| v.parse().expect("a number"));
    let mut rows = Vec::new();
    for backend in &backends {
        rows.push(bench(backend, events, rounds, report_count, report_rate).await);
    }
    println!(
        "| backend | data | GET /v1/billing p50 / p99 ms | draft p50 / p99 ms | \
         GET invoice JSON p50 / p99 ms | CSV p50 / p99 ms | GET /v1/kpis (month) p50 / p99 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        println!("{}", row[1]);
    }
    println!();
    println!(
        "| backend | rollup rebuild | GET /v1/kpis?department= (rows) p50 / p99 ms | \
         POST /v1/reports p50 / p99 ms | sustained reports p50 / p99 / max |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for row in &rows {
        println!("{}", row[0]);
    }
}
