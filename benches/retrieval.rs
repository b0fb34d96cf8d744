//! Knowledge-base retrieval quality and embedding speed on the Bitext customer-support set
//! (`../shared/data/text/bitext_customer_support_train.csv`): the knowledge base holds one answer
//! per intent (the first of each), every customer utterance is a query, and a hit is the answer
//! of the utterance's own intent. Reports recall@1 and @3 for pure vector search and for the
//! hybrid ranking at several keyword weights, plus e5-small's embedding throughput.
//!
//! `cargo bench --bench retrieval -- [--data PATH] [--limit N]`; models from `ABCALL_MODELS_DIR`.

use std::path::PathBuf;
use std::time::Instant;

use abcall::domain::kb::{keyword_overlap, terms};
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
}
