//! Speech-to-text on the real Whisper base model, converted by the installer
//! (`abcall models install whisper-base`; `scripts/test` does it). Checks the converted ggml file
//! against the facts of upstream ggml-base.bin, then transcribes a FLEURS Spanish clip at 16 kHz
//! and as 8 kHz µ-law telephone audio.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use abcall::ml::stt::{self, Options, Transcriber, wer};
use abcall::models::{Installer, whisper_ggml};

fn installer() -> Installer {
    let dir = std::env::var_os("ABCALL_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache"));
    Installer::new(dir).expect("built-in manifest")
}

fn ggml_path() -> PathBuf {
    installer()
        .verified_path(stt::MODEL, stt::MODEL_FILE)
        .unwrap()
        .expect("whisper-base installed: run `abcall models install whisper-base`")
}

/// Loaded once for the whole binary, as the service does.
fn whisper() -> &'static Transcriber {
    static MODEL: OnceLock<Transcriber> = OnceLock::new();
    MODEL.get_or_init(|| Transcriber::whisper_base(&installer()).expect("whisper-base installed"))
}

fn clip() -> (stt::wav::Audio, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech");
    let audio = stt::wav::read(&dir.join("fleurs-es-000.wav")).unwrap();
    let reference = std::fs::read_to_string(dir.join("fleurs-es-000.txt")).unwrap();
    (audio, reference)
}

#[test]
fn the_converted_model_has_upstream_ggml_base_layout() {
    let path = ggml_path();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        147_951_465,
        "the size of upstream ggml-base.bin"
    );
    let mut file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let summary = whisper_ggml::summary(&mut file).unwrap();
    let hp = summary.hparams;
    assert_eq!(
        hp,
        whisper_ggml::Hparams {
            n_vocab: 51_865,
            n_audio_ctx: 1_500,
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 6,
            n_text_ctx: 448,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 6,
            n_mels: 80,
            ftype: 1,
        }
    );
    assert_eq!(summary.mel_shape, (80, 201));
    assert_eq!(summary.n_tokens, 50_257);
    // 5 + 6 × 15 + 2 encoder tensors, 2 + 6 × 24 + 2 decoder tensors, each name once.
    assert_eq!(summary.tensors.len(), 245);
    let mut names: Vec<&str> = summary.tensors.iter().map(|t| t.0.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 245);
    let embedding = summary
        .tensors
        .iter()
        .find(|t| t.0 == "decoder.token_embedding.weight")
        .unwrap();
    assert_eq!(
        (embedding.1.as_slice(), embedding.2),
        ([512, 51_865].as_slice(), 1)
    );
}

#[test]
fn a_spanish_clip_is_transcribed_with_a_low_word_error_rate() {
    let (audio, reference) = clip();
    assert_eq!(audio.rate, stt::SAMPLE_RATE);
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    let options = Options {
        progress: Some(std::sync::Arc::new(move |p| seen.lock().unwrap().push(p))),
        ..Options::default()
    };
    let transcript = whisper().transcribe(&audio.channels[0], &options).unwrap();
    let rate = wer::wer(&reference, &transcript.text);
    eprintln!("WER {rate:.3}: {}", transcript.text);
    assert_eq!(transcript.language, "es");
    // Measured 0.103 here (3 of 29 words); a broken conversion (e.g. swapped K/V) gives garbage.
    assert!(rate <= 0.2, "WER {rate}: {}", transcript.text);
    let first = &transcript.segments[0];
    let last = transcript.segments.last().unwrap();
    assert!(first.start_ms < 1_000 && first.end_ms > first.start_ms);
    assert!(last.end_ms <= 13_000, "the clip lasts 12.84 s: {last:?}");
    assert!(
        !progress.lock().unwrap().is_empty(),
        "progress was reported"
    );
}

/// G.711 µ-law companding of one sample in [-1, 1] and back (what a phone line does to audio).
fn mu_law_round_trip(x: f32) -> f32 {
    const MU: f32 = 255.0;
    let y = x.signum() * (1.0 + MU * x.abs().min(1.0)).ln() / (1.0 + MU).ln();
    // 8 bits: 256 levels over [-1, 1].
    let y = (y * 127.0).round() / 127.0;
    y.signum() * ((1.0 + MU).powf(y.abs()) - 1.0) / MU
}

#[test]
fn telephone_audio_at_8_khz_mu_law_is_transcribed_too() {
    let (audio, reference) = clip();
    let phone: Vec<f32> = stt::resample(&audio.channels[0], 16_000, 8_000)
        .into_iter()
        .map(mu_law_round_trip)
        .collect();
    let transcripts = whisper()
        .transcribe_channels(&[phone], 8_000, &Options::default())
        .unwrap();
    let rate = wer::wer(&reference, &transcripts[0].text);
    eprintln!("8 kHz µ-law WER {rate:.3}: {}", transcripts[0].text);
    assert!(rate <= 0.35, "WER {rate}: {}", transcripts[0].text);
}

#[test]
fn language_detection_finds_spanish() {
    let (audio, _) = clip();
    let options = Options {
        language: None,
        ..Options::default()
    };
    let transcript = whisper().transcribe(&audio.channels[0], &options).unwrap();
    assert_eq!(transcript.language, "es");
}

#[test]
fn an_unknown_language_is_an_error_not_a_guess() {
    let options = Options {
        language: Some("xx".into()),
        ..Options::default()
    };
    let error = whisper().transcribe(&[0.0; 16_000], &options).unwrap_err();
    assert!(error.to_string().contains("unknown language"), "{error}");
}
