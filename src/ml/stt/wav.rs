//! Minimal WAV reading for the command line and tests: PCM (8 to 32 bit) or 32-bit float, any
//! rate, any channel count, via `hound`. The service's uploads go through the general audio
//! decoder (all formats, G.711 included); this only has to open the files we measure with.

use std::path::Path;

use crate::ml::MlError;

/// Decoded audio, one vector of samples in [-1, 1] per channel.
#[derive(Debug, Clone)]
pub struct Audio {
    pub rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.channels
            .first()
            .map_or(0.0, |c| c.len() as f64 / f64::from(self.rate.max(1)))
    }
}

pub fn read(path: &Path) -> Result<Audio, MlError> {
    let format = |detail: String| MlError::Format {
        path: path.to_owned(),
        what: "WAV file (PCM or float)",
        detail,
    };
    let mut reader = hound::WavReader::open(path).map_err(|e| format(e.to_string()))?;
    let spec = reader.spec();
    let count = usize::from(spec.channels);
    if count == 0 || spec.sample_rate == 0 {
        return Err(format("no channels or a zero sample rate".into()));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| format(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| format(e.to_string()))?
        }
    };
    let mut channels = vec![Vec::with_capacity(interleaved.len() / count); count];
    for frame in interleaved.chunks_exact(count) {
        for (channel, sample) in channels.iter_mut().zip(frame) {
            channel.push(*sample);
        }
    }
    Ok(Audio {
        rate: spec.sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stereo_16_bit_pcm_into_separate_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for (left, right) in [(16_384i16, -32_768i16), (0, 8_192)] {
            writer.write_sample(left).unwrap();
            writer.write_sample(right).unwrap();
        }
        writer.finalize().unwrap();
        let audio = read(&path).unwrap();
        assert_eq!(audio.rate, 8_000);
        assert_eq!(audio.channels, vec![vec![0.5, 0.0], vec![-1.0, 0.25]]);
        assert!((audio.seconds() - 2.0 / 8_000.0).abs() < 1e-12);
    }

    #[test]
    fn a_non_wav_file_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        std::fs::write(&path, b"not a wav").unwrap();
        assert!(matches!(read(&path), Err(MlError::Format { .. })));
    }
}
