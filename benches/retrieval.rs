//! Knowledge-base retrieval quality and embedding speed on the Bitext customer-support set
//! (`../shared/data/text/bitext_customer_support_train.csv`): the knowledge base holds one answer
//! per intent (the first of each), every customer utterance is a query, and a hit is the answer
//! of the utterance's own intent. Reports recall@1 and @3 for pure vector search and for the
//! hybrid ranking at several keyword weights, plus e5-small's embedding throughput.
//!
//! Then measures search latency of the qdrant-edge index at `--chunks` vectors (default 100,000,
//! 90% of them one tenant's), before and after building its HNSW index.
//!
//! `cargo bench --bench retrieval -- [--data PATH] [--limit N] [--chunks N]`; models from
//! `ABCALL_MODELS_DIR`.

use std::path::PathBuf;
use std::time::Instant;

use abcall::domain::kb::{keyword_overlap, terms};
use abcall::kb::index::{EdgeIndex, IndexedChunk, SearchFilter, VectorIndex};
use abcall::ml::embed::{Embedder, Purpose};
use abcall::models::Installer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let data = value("--data").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/text/bitext_customer_support_train.csv")
    });
    let limit: usize = value("--limit").map_or(usize::MAX, |v| v.parse().expect("a number"));
    let models = std::env::var_os("ABCALL_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache"));
    let embedder =
        Embedder::e5_small(&Installer::new(models).expect("manifest")).expect("e5-small installed");

    let mut reader =
        csv::Reader::from_path(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let mut queries: Vec<(String, String)> = Vec::new();
    let mut answers: Vec<(String, String)> = Vec::new();
    for record in reader.deserialize::<std::collections::HashMap<String, String>>() {
        let record = record.expect("a CSV row");
        let intent = record["intent"].clone();
        if !answers.iter().any(|(i, _)| *i == intent) {
            answers.push((intent.clone(), record["response"].clone()));
        }
        queries.push((intent, record["instruction"].clone()));
    }
    queries.truncate(limit);

    let passages: Vec<&str> = answers.iter().map(|(_, a)| a.as_str()).collect();
    let started = Instant::now();
    let answer_vectors = embedder
        .embed(&passages, Purpose::Passage)
        .expect("embed answers");
    let texts: Vec<&str> = queries.iter().map(|(_, q)| q.as_str()).collect();
    let query_started = Instant::now();
    let query_vectors = embedder
        .embed(&texts, Purpose::Query)
        .expect("embed queries");
    let query_time = query_started.elapsed();
    eprintln!(
        "embedded {} answers and {} queries in {:.1} s",
        answers.len(),
        queries.len(),
        started.elapsed().as_secs_f64()
    );

    let overlaps: Vec<Vec<f32>> = queries
        .iter()
        .map(|(_, q)| {
            let query_terms = terms(q);
            passages
                .iter()
                .map(|p| keyword_overlap(&query_terms, p))
                .collect()
        })
        .collect();
    println!("| ranking | recall@1 | recall@3 |");
    println!("| --- | --- | --- |");
    for weight in [0.0f32, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3] {
        let (mut at1, mut at3) = (0usize, 0usize);
        for (qi, (intent, _)) in queries.iter().enumerate() {
            let mut scored: Vec<(f32, &str)> = answer_vectors
                .iter()
                .zip(&answers)
                .enumerate()
                .map(|(ai, (vector, (answer_intent, _)))| {
                    let cosine: f32 = vector
                        .iter()
                        .zip(&query_vectors[qi])
                        .map(|(a, b)| a * b)
                        .sum();
                    (cosine + weight * overlaps[qi][ai], answer_intent.as_str())
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            at1 += usize::from(scored[0].1 == intent);
            at3 += usize::from(scored.iter().take(3).any(|(_, i)| i == intent));
        }
        let n = queries.len() as f64;
        let label = if weight == 0.0 {
            "vector only".to_owned()
        } else {
            format!("vector + {weight} × keyword overlap")
        };
        println!(
            "| {label} | {:.1}% | {:.1}% |",
            100.0 * at1 as f64 / n,
            100.0 * at3 as f64 / n
        );
    }
    println!(
        "\ne5-small: {:.0} queries/s embedded ({} queries, {} intents, 2 cores)",
        queries.len() as f64 / query_time.as_secs_f64(),
        queries.len(),
        answers.len()
    );

    let chunks: usize = value("--chunks").map_or(100_000, |v| v.parse().expect("a number"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(search_latency(chunks, &query_vectors));
}

/// Deterministic pseudo-random unit vectors (xorshift), so runs are comparable.
fn random_unit(seed: u64, dimension: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..dimension)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

async fn search_latency(chunks: usize, queries: &[Vec<f32>]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let dimension = queries[0].len();
    let index = EdgeIndex::open(dir.path(), dimension).expect("index");
    let loaded = Instant::now();
    for start in (0..chunks).step_by(1_000) {
        let batch = (start..(start + 1_000).min(chunks))
            .map(|i| IndexedChunk {
                id: uuid::Uuid::now_v7(),
                tenant_id: if i % 10 == 0 { "other" } else { "bench" }.into(),
                article_id: format!("a{}", i / 4),
                product: None,
                language: "es".into(),
                vector: random_unit(i as u64, dimension),
            })
            .collect();
        index.upsert(batch).await.expect("upsert");
    }
    let load_time = loaded.elapsed();
    let measure = |label: &'static str| {
        let index = &index;
        async move {
            let mut latencies = Vec::new();
            for query in queries.iter().take(1_000) {
                let started = Instant::now();
                let hits = index
                    .search("bench", query.clone(), SearchFilter::default(), 10)
                    .await
                    .expect("search");
                latencies.push(started.elapsed());
                assert_eq!(hits.len(), 10);
            }
            latencies.sort();
            let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
            println!(
                "| {label} | {chunks} | {:.2} ms | {:.2} ms |",
                at(0.5).as_secs_f64() * 1000.0,
                at(0.95).as_secs_f64() * 1000.0
            );
        }
    };
    println!(
        "\nloaded {chunks} chunks in {:.1} s\n\n| index | chunks | p50 | p95 |\n| --- | --- | --- | --- |",
        load_time.as_secs_f64()
    );
    measure("qdrant-edge, appendable segment (exact scan)").await;
    let optimized = Instant::now();
    index.optimize().await.expect("optimize");
    let optimize_time = optimized.elapsed();
    measure("qdrant-edge after optimize (HNSW)").await;
    println!("\noptimize took {:.1} s", optimize_time.as_secs_f64());
}
