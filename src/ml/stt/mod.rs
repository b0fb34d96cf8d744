//! Speech-to-text with Whisper base (multilingual) through whisper.cpp (`whisper-rs`).
//!
//! The model is the ggml file the installer converts from faster-whisper's CTranslate2 weights
//! (`abcall models install whisper-base`). It is loaded once per process and shared: a
//! [`Transcriber`] is `Sync`, and each call gets its own decoding state, so calls may run in
//! parallel (each using `threads` cores). Input is 16 kHz mono `f32`; [`resample`] brings other
//! rates there, and [`Transcriber::transcribe_channels`] keeps the two sides of a stereo call
//! apart (agent and caller are usually one channel each). Spanish is the default language.

pub mod resample;
pub mod wav;
pub mod wer;
pub mod windows;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use super::MlError;
use crate::models::Installer;

pub use resample::resample;

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;

/// The installed model's name and file.
pub const MODEL: &str = "whisper-base";
pub const MODEL_FILE: &str = "ggml-base.bin";

/// Called with the percentage done (0..=100) as whisper.cpp works through 30-second windows.
pub type Progress = Arc<dyn Fn(u8) + Send + Sync>;

/// How to transcribe.
#[derive(Clone)]
pub struct Options {
    /// An ISO 639-1 code such as `es`, or `None` to detect the language from the first window.
    pub language: Option<String>,
    /// CPU threads for this call.
    pub threads: usize,
    /// 1 decodes greedily (fastest); more runs a beam search of that width.
    pub beam_size: usize,
    pub progress: Option<Progress>,
}

impl Default for Options {
    /// Spanish, greedy, two threads (the two cores of the reference machine).
    fn default() -> Self {
        Options {
            language: Some("es".into()),
            threads: 2,
            beam_size: 1,
            progress: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("language", &self.language)
            .field("threads", &self.threads)
            .field("beam_size", &self.beam_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A stretch of speech with its text; times from the start of the audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// The language used (given or detected), as an ISO 639-1 code.
    pub language: String,
    pub segments: Vec<Segment>,
    /// The segments' texts joined by spaces.
    pub text: String,
}

fn whisper_error(what: &str) -> impl FnOnce(whisper_rs::WhisperError) -> MlError + '_ {
    move |e| MlError::Speech(format!("{what}: {e}"))
}

pub struct Transcriber {
    context: WhisperContext,
    path: PathBuf,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber")
            .field("path", &self.path)
            .finish()
    }
}

impl Transcriber {
    /// Loads a whisper.cpp ggml model file (≈ 150 MB for base; takes a fraction of a second).
    pub fn load(path: &Path) -> Result<Transcriber, MlError> {
        // whisper.cpp logs every load and run to stderr; send that to tracing instead, once.
        static LOGS: Once = Once::new();
        LOGS.call_once(whisper_rs::install_logging_hooks);
        if !path.is_file() {
            return Err(MlError::Io {
                path: path.to_owned(),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let text = path.to_str().ok_or_else(|| MlError::Format {
            path: path.to_owned(),
            what: "model path",
            detail: "not valid UTF-8".into(),
        })?;
        let context = WhisperContext::new_with_params(text, WhisperContextParameters::default())
            .map_err(|e| MlError::Format {
                path: path.to_owned(),
                what: "whisper.cpp ggml model",
                detail: e.to_string(),
            })?;
        Ok(Transcriber {
            context,
            path: path.to_owned(),
        })
    }

    /// Whisper base from the installed, verified files.
    pub fn whisper_base(installer: &Installer) -> Result<Transcriber, MlError> {
        let path =
            installer
                .verified_path(MODEL, MODEL_FILE)?
                .ok_or_else(|| MlError::NotInstalled {
                    model: MODEL.to_owned(),
                })?;
        Transcriber::load(&path)
    }

    /// The Whisper base transcriber of a models directory, loaded once per process and shared.
    pub fn shared(models_dir: &Path) -> Result<Arc<Transcriber>, MlError> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Transcriber>>>> = OnceLock::new();
        let mut loaded = LOADED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(transcriber) = loaded.get(models_dir) {
            return Ok(transcriber.clone());
        }
        let installer = Installer::new(models_dir.to_owned()).map_err(|e| MlError::Format {
            path: models_dir.to_owned(),
            what: "models manifest",
            detail: e.to_string(),
        })?;
        let transcriber = Arc::new(Transcriber::whisper_base(&installer)?);
        loaded.insert(models_dir.to_owned(), transcriber.clone());
        Ok(transcriber)
    }

    /// Transcribes 16 kHz mono audio.
    pub fn transcribe(&self, samples: &[f32], options: &Options) -> Result<Transcript, MlError> {
        let language = match options.language.as_deref() {
            None | Some("auto") => None,
            Some(code) => Some(
                whisper_rs::get_lang_id(code)
                    .and_then(whisper_rs::get_lang_str)
                    .ok_or_else(|| MlError::Speech(format!("unknown language {code:?}")))?,
            ),
        };
        let mut state = self
            .context
            .create_state()
            .map_err(whisper_error("creating a decoding state"))?;
        let mut params = if options.beam_size > 1 {
            FullParams::new(SamplingStrategy::BeamSearch {
                beam_size: options.beam_size as i32,
                patience: -1.0,
            })
        } else {
            FullParams::new(SamplingStrategy::Greedy { best_of: 1 })
        };
        params.set_n_threads(options.threads.clamp(1, 64) as i32);
        params.set_language(Some(language.unwrap_or("auto")));
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        if let Some(progress) = options.progress.clone() {
            params.set_progress_callback_safe(move |percent: i32| {
                progress(percent.clamp(0, 100) as u8)
            });
        }
        // Whisper needs at least one second; shorter clips are padded with silence.
        let padded;
        let samples = if samples.len() < SAMPLE_RATE as usize {
            padded = [samples, &vec![0.0; SAMPLE_RATE as usize - samples.len()]].concat();
            &padded[..]
        } else {
            samples
        };
        state
            .full(params, samples)
            .map_err(whisper_error("transcribing"))?;
        let language = whisper_rs::get_lang_str(state.full_lang_id_from_state())
            .or(language)
            .unwrap_or("und")
            .to_owned();
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment
                .to_str_lossy()
                .map_err(whisper_error("reading a segment"))?
                .trim()
                .to_owned();
            if text.is_empty() {
                continue;
            }
            // whisper.cpp counts time in centiseconds.
            segments.push(Segment {
                start_ms: segment.start_timestamp().max(0) as u64 * 10,
                end_ms: segment.end_timestamp().max(0) as u64 * 10,
                text,
            });
        }
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Transcript {
            language,
            segments,
            text,
        })
    }

    /// Transcribes each channel of a recording on its own (agent and caller kept apart), at any
    /// sample rate.
    pub fn transcribe_channels(
        &self,
        channels: &[Vec<f32>],
        rate: u32,
        options: &Options,
    ) -> Result<Vec<Transcript>, MlError> {
        channels
            .iter()
            .map(|channel| self.transcribe(&resample(channel, rate, SAMPLE_RATE), options))
            .collect()
    }
}

/// The channels of a recording to transcribe one by one: two sides of a stereo call stay apart,
/// but a "stereo" file whose channels carry the same signal is one voice track, transcribed once.
pub fn speaker_channels(mut channels: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    if channels.len() > 1 {
        let first = &channels[0];
        let power: f32 = first
            .iter()
            .map(|s| s * s)
            .sum::<f32>()
            .max(f32::MIN_POSITIVE);
        let same = channels[1..].iter().all(|other| {
            let difference: f32 = first
                .iter()
                .zip(other)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            other.len() == first.len() && difference <= power * 1e-4
        });
        if same {
            channels.truncate(1);
        }
    }
    channels
}

#[cfg(test)]
mod tests {
    use super::speaker_channels;

    #[test]
    fn copies_of_one_signal_are_one_channel_and_two_voices_stay_two() {
        let voice: Vec<f32> = (0..1_000).map(|i| (i as f32 * 0.1).sin()).collect();
        let other: Vec<f32> = (0..1_000).map(|i| (i as f32 * 0.37).cos()).collect();
        assert_eq!(
            speaker_channels(vec![voice.clone(), voice.clone()]).len(),
            1
        );
        assert_eq!(speaker_channels(vec![voice.clone(), other]).len(), 2);
        assert_eq!(
            speaker_channels(vec![voice.clone(), vec![0.0; 1_000]]).len(),
            2
        );
        assert_eq!(speaker_channels(vec![voice]).len(), 1);
    }
}
