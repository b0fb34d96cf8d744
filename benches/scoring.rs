//! Scoring latency per PQR: what the `score_incident` job spends on one PQR (one e5-small
//! embedding of subject + description, the risk, category and sentiment text models, and the
//! customer's churn model with the retention offer), and `POST /v1/score` with a text over HTTP.
//!
//! Sets up the demo tenant (its customers, PQRs and the four demo models trained from `data/`)
//! in a temporary directory on SQLite, then scores the PQRs one after another.
//!
//! `cargo bench --bench scoring -- [--rounds N]`; models from `ABCALL_MODELS_DIR`.

use std::time::{Duration, Instant};

use abcall::config::Config;
use abcall::testkit;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: n = {}, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("at least one sample")),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(10, |v| v.parse().expect("a number"));
    let models = std::env::var_os("ABCALL_MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache")
        });
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        data_dir: dir.path().to_owned(),
        models_dir: models,
        ..Config::default()
    };
    let server = testkit::start(config).await.expect("server starts");
    let app = server.app.clone();
    let (tenant_id, key) = abcall::demo::install(&app.db).await.expect("demo tenant");
    let jobs = abcall::demo::install_models(&app, &tenant_id)
        .await
        .expect("training queued");
    app.jobs_ready.notify_waiters();
    let trained = Instant::now();
    for id in &jobs {
        loop {
            let job = abcall::store::jobs::get(&app.db, &tenant_id, id)
                .await
                .expect("job");
            match job.state.as_str() {
                "succeeded" => break,
                "failed" | "cancelled" => panic!("training {id} ended {}", job.state.as_str()),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    println!(
        "demo models trained in {:.1} s",
        trained.elapsed().as_secs_f64()
    );

    let pqrs = abcall::store::incidents::list(
        &app.db,
        &tenant_id,
        abcall::store::incidents::IncidentFilter {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await
    .expect("demo PQRs")
    .items;
    // Warm-up: loads the embedder and every model into the cache.
    abcall::ml::insights::score_incident(&app, &tenant_id, &pqrs[0])
        .await
        .expect("scored");

    let mut job_latencies = Vec::new();
    for _ in 0..rounds {
        for pqr in &pqrs {
            let started = Instant::now();
            let scores = abcall::ml::insights::score_incident(&app, &tenant_id, pqr)
                .await
                .expect("scored");
            job_latencies.push(started.elapsed());
            assert!(!scores["risk"].is_null(), "{scores}");
        }
    }
    report(
        "score_incident (embed + risk/category/sentiment + churn + offer)",
        job_latencies,
    );

    let client = reqwest::Client::new();
    let mut http_latencies = Vec::new();
    for _ in 0..rounds {
        for pqr in &pqrs {
            let started = Instant::now();
            let response = client
                .post(format!("{}/v1/score", server.base))
                .bearer_auth(&key)
                .json(&serde_json::json!({
                    "model": "risk",
                    "text": format!("{}\n{}", pqr.subject, pqr.description)
                }))
                .send()
                .await
                .expect("sent");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("body");
            http_latencies.push(started.elapsed());
        }
    }
    report(
        "POST /v1/score (text, risk model) over HTTP",
        http_latencies,
    );
    server.stop().await;
}
