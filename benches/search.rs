//! Full-text search latency (`GET /v1/search`) over real HTTP on loopback, on SQLite (FTS5) and
//! PostgreSQL (GIN `tsvector`): one tenant with `--docs` PQR-like Spanish texts (default
//! 200,000; half of them a transcript-length paragraph) and a second tenant with a tenth as many,
//! written through the service's own indexing function. Queries: a common word, a rare word, two
//! words, a prefix, a word with a customer filter, and a common word newest-first; each
//! `--rounds` times (default 200), reporting p50 / p95 / p99.
//!
//! `cargo bench --bench search -- [--backend sqlite|postgres|both] [--docs N] [--rounds N]`

use std::time::{Duration, Instant};

use abcall::store::search::{DocKind, Document, index};
use abcall::testkit;

/// A small deterministic generator, so both backends index the same texts.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.next() % words.len()]
    }
}

const PROBLEMS: &[&str] = &[
    "no tengo internet desde ayer",
    "la señal del celular es muy débil",
    "me llegó un cobro duplicado en la factura",
    "el módem se reinicia solo",
    "quiero la portabilidad de mi número",
    "la velocidad contratada no llega",
    "no me llegó la factura electrónica",
    "el técnico no vino a la visita programada",
    "cortaron el servicio aunque pagué a tiempo",
    "el decodificador de televisión no enciende",
    "quiero dar de baja el plan",
    "me cobraron una penalidad que no corresponde",
];
const FILLER: &[&str] = &[
    "buenos",
    "días",
    "llamo",
    "porque",
    "desde",
    "hace",
    "una",
    "semana",
    "el",
    "servicio",
    "funciona",
    "mal",
    "ya",
    "reporté",
    "varias",
    "veces",
    "y",
    "nadie",
    "me",
    "da",
    "solución",
    "necesito",
    "que",
    "lo",
    "revisen",
    "pronto",
    "trabajo",
    "en",
    "casa",
    "mi",
    "hijo",
    "estudia",
    "por",
    "favor",
    "gracias",
    "señorita",
    "agente",
    "atención",
    "cliente",
    "reclamo",
    "número",
    "contrato",
    "plan",
    "hogar",
    "fibra",
    "óptica",
    "router",
    "antena",
    "zona",
    "distrito",
    "lima",
    "arequipa",
    "cusco",
    "trujillo",
    "piura",
    "chiclayo",
    "tacna",
];

fn text(rng: &mut Lcg, words: usize) -> String {
    let mut out = String::from(rng.pick(PROBLEMS));
    for _ in 0..words {
        out.push(' ');
        out.push_str(rng.pick(FILLER));
    }
    // A few rare words, about one document in a hundred each.
    if rng.next().is_multiple_of(100) {
        out.push_str(" osiptel");
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1_000.0)
}

async fn bench(backend: &str, docs: usize, rounds: usize) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = testkit::bench_config(backend, dir.path())
        .await
        .expect("PostgreSQL reachable");
    let server = testkit::start(config).await.expect("server starts");
    let app = server.app.clone();
    let (tenant, key) = abcall::store::tenants::create_tenant(&app.db, "Bench")
        .await
        .expect("tenant");
    let (other, _) = abcall::store::tenants::create_tenant(&app.db, "Other")
        .await
        .expect("tenant");
    let loaded = Instant::now();
    let mut rng = Lcg(7);
    let start = jiff::Timestamp::now().as_millisecond() - 365 * 24 * 3_600_000;
    for (tenant_id, count) in [(&tenant.id, docs), (&other.id, docs / 10)] {
        let mut written = 0;
        while written < count {
            let mut tx = app.db.writer.begin().await.expect("transaction");
            for i in written..(written + 1_000).min(count) {
                let id = format!("doc-{i:08}");
                let customer = format!("cust-{}", i % 5_000);
                // Half are transcript-length (about 120 words), half PQR-length (about 25).
                let body = text(&mut rng, if i % 2 == 0 { 120 } else { 25 });
                let at = jiff::Timestamp::from_millisecond(
                    start + (i as i64 * 15_773) % (365 * 24 * 3_600_000),
                )
                .expect("in range");
                index(
                    &mut *tx,
                    app.db.backend,
                    tenant_id,
                    &Document {
                        kind: if i % 2 == 0 {
                            DocKind::Call
                        } else {
                            DocKind::Incident
                        },
                        ref_id: &id,
                        incident_id: None,
                        customer_id: Some(&customer),
                        agent: Some(["rosa", "ana", "luis"][i % 3]),
                        at,
                        title: rng.pick(PROBLEMS),
                        body: &body,
                    },
                )
                .await
                .expect("indexed");
            }
            tx.commit().await.expect("commit");
            written = (written + 1_000).min(count);
        }
    }
    if backend == "postgres" {
        sqlx::query("ANALYZE search_docs")
            .execute(&app.db.writer)
            .await
            .expect("analyze");
    }
    let load_secs = loaded.elapsed().as_secs_f64();

    let client = reqwest::Client::new();
    let queries = [
        ("common word", "q=internet"),
        ("rare word", "q=osiptel"),
        ("two words", "q=cobro%20duplicado"),
        ("prefix", "q=factur*"),
        ("word + customer", "q=internet&customer_id=cust-42"),
        ("common, newest first", "q=servicio&sort=recent"),
    ];
    let mut cells = Vec::new();
    for (name, query) in queries {
        let url = format!("{}/v1/search?{query}&limit=20", server.base);
        let mut latencies = Vec::with_capacity(rounds);
        let mut found = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let response = client
                .get(&url)
                .bearer_auth(&key.secret)
                .send()
                .await
                .expect("request");
            assert!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            let body: serde_json::Value = response.json().await.expect("json");
            latencies.push(started.elapsed());
            found = body["items"].as_array().map_or(0, Vec::len);
        }
        latencies.sort();
        cells.push(format!(
            "{name}: {} / {} / {} ({found} hits shown)",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
        ));
    }
    server.stop().await;
    let mut rows = vec![format!(
        "| {backend} | (indexing {docs} + {} documents) | {load_secs:.0} s in all |",
        docs / 10
    )];
    for cell in cells {
        let (name, figures) = cell.split_once(": ").expect("formatted above");
        rows.push(format!("| {backend} | {name} | {figures} |"));
    }
    rows
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
    let docs = value("--docs").map_or(200_000, |v| v.parse().expect("a number"));
    let rounds = value("--rounds").map_or(200, |v| v.parse().expect("a number"));
    println!("| backend | query | p50 / p95 / p99 ms |");
    println!("| --- | --- | --- |");
    for backend in &backends {
        for row in bench(backend, docs, rounds).await {
            println!("{row}");
        }
    }
}
