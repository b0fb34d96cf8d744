//! Decoding a recording into mono f32 samples, streamed to a sink, with every failure of the
//! bytes (truncated, corrupt, unsupported codec inside a known container) reported as a
//! [`DecodeError`] rather than a panic: decoders run under `catch_unwind` as a last resort.

use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::Container;

/// What a decoded recording is.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub container: Container,
    /// e.g. `pcm_s16le`, `pcm_mulaw`, `pcm_alaw`, `mp3`, `flac`, `vorbis`, `opus`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// Samples per channel decoded.
    pub frames: u64,
}

impl AudioInfo {
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Why the bytes could not be decoded; the message is shown to the client (422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the {container} file is corrupt: {detail}")]
    Corrupt {
        container: &'static str,
        detail: String,
    },
    #[error(
        "the {container} file is truncated: its header announces {expected_secs:.2} s of audio \
         but only {decoded_secs:.2} s are present"
    )]
    Truncated {
        container: &'static str,
        expected_secs: f64,
        decoded_secs: f64,
    },
    #[error("the {container} file holds no audio samples")]
    Empty { container: &'static str },
    #[error("the {container} file uses a codec that is not accepted: {detail}")]
    Unsupported {
        container: &'static str,
        detail: String,
    },
}

/// A file that announces its length and delivers less than this share of it is truncated.
const COMPLETE_SHARE: f64 = 0.98;
/// More undecodable packets than this share (and at least a few) make a file corrupt.
const MAX_BAD_PACKETS: f64 = 0.05;
/// When decodable packets cover less than this share of the file's bytes (tags aside), the rest
/// is garbage: an MP3 without a length header overwritten in the middle decodes its first frames
/// and then finds no more.
const MIN_DECODED_BYTES_SHARE: f64 = 0.5;

/// Size of a leading ID3v2 tag (which may hold cover art), from its syncsafe length.
fn id3_size(path: &Path) -> u64 {
    use std::io::Read;
    let mut head = [0u8; 10];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    if read.is_err() || &head[..3] != b"ID3" {
        return 0;
    }
    let size = head[6..10]
        .iter()
        .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
    size + 10
}

/// Decoded samples as they come: `(sample_rate, channels, interleaved samples)`.
pub(super) type Sink<'a> = &'a mut dyn FnMut(u32, usize, &[f32]);

/// Decodes `path` (sniffed as `container`), calling `sink(sample_rate, mono)` with each block of
/// samples as it is decoded (channels averaged).
pub fn decode_file(
    path: &Path,
    container: Container,
    sink: &mut dyn FnMut(u32, &[f32]),
) -> Result<AudioInfo, DecodeError> {
    let mut mono = Vec::new();
    decode_interleaved(path, container, &mut |rate, channels, interleaved| {
        downmix(interleaved, channels, &mut mono);
        sink(rate, &mono);
    })
}

/// Runs the decoder of `container` under `catch_unwind`.
fn decode_interleaved(
    path: &Path,
    container: Container,
    sink: Sink<'_>,
) -> Result<AudioInfo, DecodeError> {
    let name = container.name();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match container {
        Container::OggOpus => super::opus::decode(path, sink),
        _ => decode_symphonia(path, container, sink),
    }));
    outcome.unwrap_or_else(|_| {
        Err(DecodeError::Corrupt {
            container: name,
            detail: "the decoder failed on malformed data".into(),
        })
    })
}

/// The whole recording as mono samples at its own rate.
pub fn decode_mono(
    path: &Path,
    container: Container,
) -> Result<(AudioInfo, Vec<f32>), DecodeError> {
    let mut samples = Vec::new();
    let info = decode_file(path, container, &mut |_, block| {
        samples.extend_from_slice(block)
    })?;
    Ok((info, samples))
}

/// The whole recording with each channel kept apart, at its own rate: the transcription job
/// transcribes the two sides of a stereo call (agent and caller) separately.
pub fn decode_channels(
    path: &Path,
    container: Container,
) -> Result<(AudioInfo, Vec<Vec<f32>>), DecodeError> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let info = decode_interleaved(path, container, &mut |_, count, interleaved| {
        let count = count.max(1);
        if channels.len() < count {
            // A stream that gains channels midway: pad the new ones with silence.
            let frames = channels.first().map_or(0, Vec::len);
            channels.resize_with(count, || vec![0.0; frames]);
        }
        for frame in interleaved.chunks_exact(count) {
            for (channel, sample) in channels.iter_mut().zip(frame) {
                channel.push(*sample);
            }
        }
    })?;
    Ok((info, channels))
}

/// Averages interleaved channels into `out`.
fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    out.clear();
    let channels = channels.max(1);
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() / channels as f32),
    );
}

fn codec_name(codec: symphonia::core::codecs::CodecType) -> String {
    use symphonia::core::codecs::*;
    let known = [
        (CODEC_TYPE_PCM_S16LE, "pcm_s16le"),
        (CODEC_TYPE_PCM_S24LE, "pcm_s24le"),
        (CODEC_TYPE_PCM_S32LE, "pcm_s32le"),
        (CODEC_TYPE_PCM_U8, "pcm_u8"),
        (CODEC_TYPE_PCM_F32LE, "pcm_f32le"),
        (CODEC_TYPE_PCM_F64LE, "pcm_f64le"),
        (CODEC_TYPE_PCM_MULAW, "pcm_mulaw"),
        (CODEC_TYPE_PCM_ALAW, "pcm_alaw"),
        (CODEC_TYPE_ADPCM_IMA_WAV, "adpcm_ima"),
        (CODEC_TYPE_ADPCM_MS, "adpcm_ms"),
        (CODEC_TYPE_MP3, "mp3"),
        (CODEC_TYPE_FLAC, "flac"),
        (CODEC_TYPE_VORBIS, "vorbis"),
    ];
    known
        .iter()
        .find(|(c, _)| *c == codec)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| format!("{codec}"))
}

fn decode_symphonia(
    path: &Path,
    container: Container,
    sink: Sink<'_>,
) -> Result<AudioInfo, DecodeError> {
    let name = container.name();
    let corrupt = |detail: String| DecodeError::Corrupt {
        container: name,
        detail,
    };
    let file = std::fs::File::open(path).map_err(|e| corrupt(format!("unreadable: {e}")))?;
    let file_size = file
        .metadata()
        .map(|m| m.len())
        .unwrap_or(0)
        .saturating_sub(id3_size(path));
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(container.extension());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => DecodeError::Unsupported {
                container: name,
                detail: what.to_owned(),
            },
            other => corrupt(format!("its header cannot be read ({other})")),
        })?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(DecodeError::Empty { container: name })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = codec_name(params.codec);
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unsupported {
            container: name,
            detail: format!("{codec} ({e})"),
        })?;
    let mut info = AudioInfo {
        container,
        codec,
        sample_rate: params.sample_rate.unwrap_or(0),
        channels: params.channels.map_or(0, |c| c.count() as u16),
        frames: 0,
    };
    let (mut packets, mut bad, mut decoded_bytes) = (0u64, 0u64, 0u64);
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(corrupt(format!("cannot read its packets ({e})"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(decoded) => {
                decoded_bytes += packet.data.len() as u64;
                let spec = *decoded.spec();
                let frames = decoded.frames();
                if frames == 0 {
                    continue;
                }
                let buf = match &mut buffer {
                    Some(buf) if buf.capacity() >= decoded.capacity() * spec.channels.count() => {
                        buf
                    }
                    slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                };
                buf.copy_interleaved_ref(decoded);
                info.sample_rate = spec.rate;
                info.channels = spec.channels.count() as u16;
                let count = spec.channels.count().max(1);
                info.frames += (buf.samples().len() / count) as u64;
                sink(spec.rate, count, buf.samples());
            }
            Err(SymphoniaError::DecodeError(_)) => bad += 1,
            Err(SymphoniaError::IoError(_)) => bad += 1,
            Err(e) => return Err(corrupt(format!("decoding failed ({e})"))),
        }
    }
    if bad > 2 && bad as f64 > MAX_BAD_PACKETS * packets as f64 {
        return Err(corrupt(format!(
            "{bad} of {packets} packets could not be decoded"
        )));
    }
    if info.frames == 0 {
        return Err(DecodeError::Empty { container: name });
    }
    if file_size > 4_096 && (decoded_bytes as f64) < MIN_DECODED_BYTES_SHARE * file_size as f64 {
        return Err(corrupt(format!(
            "only {decoded_bytes} of its {file_size} bytes hold decodable audio"
        )));
    }
    if let (Some(expected), Some(rate)) = (params.n_frames, params.sample_rate)
        && (info.frames as f64) < COMPLETE_SHARE * expected as f64
    {
        return Err(DecodeError::Truncated {
            container: name,
            expected_secs: expected as f64 / f64::from(rate),
            decoded_secs: info.duration_secs(),
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    #[test]
    fn fixtures_decode_to_their_length() {
        for (file, frames, rate) in [
            ("speech-16k.wav", 32_000, 16_000),
            ("speech-8k-mulaw.wav", 16_000, 8_000),
            ("speech-8k-alaw.wav", 16_000, 8_000),
            ("speech.flac", 32_000, 16_000),
            // symphonia leaves Vorbis end padding (under one block) in; Opus is cut at the
            // final granule position.
            ("speech.ogg", 32_000, 16_000),
            ("speech.opus", 96_000, 48_000),
        ] {
            let path = fixture(file);
            let head = std::fs::read(&path).unwrap();
            let container = crate::audio::sniff(&head[..64]).unwrap();
            let (info, samples) = decode_mono(&path, container).unwrap();
            let slack = if file == "speech.ogg" { 1_024 } else { 0 };
            assert!(
                (frames..=frames + slack).contains(&info.frames),
                "{file}: {} frames",
                info.frames
            );
            assert_eq!(samples.len() as u64, info.frames, "{file}");
            assert_eq!(info.sample_rate, rate, "{file}");
            assert!(
                samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
                "{file}"
            );
        }
    }

    #[test]
    fn decoded_codecs_agree_on_the_signal() {
        // µ-law and A-law of the same 8 kHz excerpt are close to its 16-bit PCM.
        let pcm = decode_mono(&fixture("speech-8k.wav"), Container::Wav)
            .unwrap()
            .1;
        for file in ["speech-8k-mulaw.wav", "speech-8k-alaw.wav"] {
            let coded = decode_mono(&fixture(file), Container::Wav).unwrap().1;
            let error: f32 = pcm
                .iter()
                .zip(&coded)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                / pcm.len() as f32;
            let power: f32 = pcm.iter().map(|a| a * a).sum::<f32>() / pcm.len() as f32;
            // G.711 gives about 38 dB SNR on speech; demand 25.
            assert!(10.0 * (power / error).log10() > 25.0, "{file}");
        }
    }

    #[test]
    fn truncated_and_garbage_files_are_errors_not_panics() {
        let flac = std::fs::read(fixture("speech.flac")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let half = dir.path().join("half.flac");
        std::fs::write(&half, &flac[..flac.len() / 2]).unwrap();
        assert!(matches!(
            decode_mono(&half, Container::Flac),
            Err(DecodeError::Truncated { .. })
        ));
        // Random bytes claimed to be each container.
        let noise: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for container in [
            Container::Wav,
            Container::Mp3,
            Container::Flac,
            Container::OggVorbis,
            Container::OggOpus,
        ] {
            let path = dir.path().join(container.name());
            std::fs::write(&path, &noise).unwrap();
            assert!(decode_mono(&path, container).is_err(), "{container:?}");
        }
    }

    #[test]
    fn stereo_channels_are_kept_apart_or_averaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..8_000 {
            let tone = (i as f32 * 0.3).sin() * 16_000.0;
            writer.write_sample(tone as i16).unwrap();
            writer.write_sample(0i16).unwrap();
        }
        writer.finalize().unwrap();
        let (info, channels) = decode_channels(&path, Container::Wav).unwrap();
        assert_eq!((info.channels, info.frames), (2, 8_000));
        assert_eq!(channels.len(), 2);
        assert!(channels.iter().all(|c| c.len() == 8_000));
        assert!(channels[0].iter().any(|s| s.abs() > 0.4));
        assert!(channels[1].iter().all(|s| *s == 0.0));
        let (_, mono) = decode_mono(&path, Container::Wav).unwrap();
        assert!((mono[10] - channels[0][10] / 2.0).abs() < 1e-6);
    }
}
