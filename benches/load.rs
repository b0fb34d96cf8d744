//! Load harness for the service's latency and throughput targets, over real HTTP on loopback,
//! on SQLite and PostgreSQL:
//! - PQR registration: throughput and p50/p99 at a fixed concurrency;
//! - customer 360 view: p50/p99 with 100k customers and their PQRs in the store.
//!
//! `cargo bench --bench load -- [--backend sqlite|postgres|both] [--creates N] [--customers N]
//! [--views N] [--concurrency C]`. Server and client share this process (and the machine's cores),
//! so the figures are conservative. PostgreSQL comes from `ABCALL_TEST_POSTGRES_URL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abcall::testkit;
use serde_json::{Value, json};

struct Options {
    backends: Vec<&'static str>,
    creates: usize,
    customers: usize,
    views: usize,
    concurrency: usize,
}

fn options() -> Options {
    let mut options = Options {
        backends: vec!["sqlite", "postgres"],
        creates: 20_000,
        customers: 100_000,
        views: 5_000,
        concurrency: 32,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = || value.parse::<usize>().expect("a number");
        match args[i].as_str() {
            "--backend" => {
                options.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    _ => vec!["sqlite", "postgres"],
                }
            }
            "--creates" => options.creates = number(),
            "--customers" => options.customers = number(),
            "--views" => options.views = number(),
            "--concurrency" => options.concurrency = number(),
            // `cargo bench` passes --bench; ignore flags we do not know.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

/// Latencies of one run and its wall time.
struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Sends `total` requests made by `make(i)` with `concurrency` in flight; every one must succeed.
async fn drive<F>(client: &reqwest::Client, total: usize, concurrency: usize, make: F) -> Run
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, make, next) = (client.clone(), make.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return latencies;
                    }
                    let sent = Instant::now();
                    let response = make(&client, i).send().await.expect("request sent");
                    let status = response.status();
                    let body = response.bytes().await.expect("body");
                    assert!(
                        status.is_success(),
                        "{status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    Run {
        latencies,
        wall: started.elapsed(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn bench_backend(backend: &str, options: &Options) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = testkit::bench_config(backend, dir.path())
        .await
        .expect("PostgreSQL reachable");
    let server = testkit::start(config).await.expect("server starts");
    let (_, key) = abcall::store::tenants::create_tenant(&server.app.db, "Bench")
        .await
        .expect("tenant");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .expect("client");
    let base = server.base.clone();

    // Customers, loaded through the bulk endpoint in batches of 10k.
    let loaded = Instant::now();
    let mut customer_ids: Vec<String> = Vec::with_capacity(options.customers);
    for start in (0..options.customers).step_by(10_000) {
        let end = (start + 10_000).min(options.customers);
        let items: Vec<Value> = (start..end)
            .map(|i| {
                json!({
                    "external_id": format!("C{i:07}"),
                    "name": format!("Cliente {i}"),
                    "phone": format!("+519{i:08}"),
                    "segment": (["prepago", "postpago", "hogar"][i % 3]),
                    "attributes": { "tenure_months": i % 72 }
                })
            })
            .collect();
        let response = client
            .post(format!("{base}/v1/customers/bulk"))
            .bearer_auth(&key.secret)
            .json(&items)
            .send()
            .await
            .expect("bulk sent");
        assert!(
            response.status().is_success(),
            "bulk: {}",
            response.status()
        );
        let body: Value = response.json().await.expect("bulk body");
        for item in body["ids"].as_array().expect("ids") {
            customer_ids.push(item["id"].as_str().expect("id").to_owned());
        }
    }
    let load_time = loaded.elapsed();
    let customer_ids = Arc::new(customer_ids);

    // PQR registration: a warm-up, then the measured run. Every PQR names a customer (spread
    // over all of them), so the store checks the customer and the 360 view has history.
    let body = |i: usize, ids: &[String]| {
        json!({
            "channel": (["phone", "email", "chat", "chatbot", "app", "web"][i % 6]),
            "kind": "reclamo",
            "subject": "Internet intermitente",
            "description": "El servicio se corta varias veces al día desde el lunes.",
            "customer_id": ids[(i * 7_919) % ids.len()],
            "location": { "department": "Lima", "province": "Lima", "district": "Surco" }
        })
    };
    let create = {
        let (base, secret, ids) = (base.clone(), key.secret.clone(), customer_ids.clone());
        move |client: &reqwest::Client, i: usize| {
            client
                .post(format!("{base}/v1/incidents"))
                .bearer_auth(&secret)
                .json(&body(i, &ids))
        }
    };
    drive(&client, 1_000, options.concurrency, create.clone()).await;
    let creates = drive(&client, options.creates, options.concurrency, create).await;

    // The 360 view of random customers.
    let view = {
        let (base, secret, ids) = (base.clone(), key.secret.clone(), customer_ids.clone());
        move |client: &reqwest::Client, i: usize| {
            let id = &ids[(i * 104_729 + 13) % ids.len()];
            client
                .get(format!("{base}/v1/customers/{id}/360"))
                .bearer_auth(&secret)
        }
    };
    let views = drive(&client, options.views, options.concurrency.min(16), view).await;

    // The seed's asks: 500 PQRs/min at peak, 360 view in < 1.5 s.
    let seed_peak_per_second = 500.0 / 60.0;
    vec![
        format!(
            "| {backend} | PQR create ({} req, {} in flight) | {:.0} req/s | {} | {} | {:.0}x the seed's 500/min peak |",
            options.creates,
            options.concurrency,
            creates.per_second(),
            ms(creates.percentile(0.50)),
            ms(creates.percentile(0.99)),
            creates.per_second() / seed_peak_per_second
        ),
        format!(
            "| {backend} | customer 360 ({} customers, {} PQRs, {} req) | {:.0} req/s | {} | {} | {:.0}x under the seed's 1.5 s |",
            options.customers,
            options.creates + 1_000,
            options.views,
            views.per_second(),
            ms(views.percentile(0.50)),
            ms(views.percentile(0.99)),
            1.5 / views.percentile(0.99).as_secs_f64()
        ),
        format!(
            "| {backend} | bulk upsert of {} customers (10k per request) | {:.0} rows/s | | | |",
            options.customers,
            options.customers as f64 / load_time.as_secs_f64()
        ),
    ]
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("| backend | what | throughput | p50 | p99 | vs seed |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for backend in &options.backends {
        for row in runtime.block_on(bench_backend(backend, &options)) {
            println!("{row}");
        }
    }
}
