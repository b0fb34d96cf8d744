//! Cutting a long recording into windows for Whisper, which hears 30 seconds at a time. A window
//! is the unit of progress and of resumption for the transcription job, so the cuts depend on
//! the samples alone (the same audio always gives the same windows). Each cut falls at the
//! quietest moment of the window's last fifth — between words, not through one — and a window
//! without speech is marked, so the model is not asked to transcribe silence (Whisper tends to
//! invent text for it).

use std::ops::Range;

/// A stretch of the recording, in samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub samples: Range<usize>,
    /// Whether any 20 ms frame in it is loud enough to be speech.
    pub speech: bool,
}

/// Frames quieter than this RMS (−46 dBFS) cannot be speech, even on a quiet telephone line.
const SPEECH_RMS: f32 = 0.005;

fn frame_rms(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    (frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32).sqrt()
}

/// Windows of about `length_secs` seconds covering `samples` (at `rate`) end to end. The last
/// window may be up to a fifth longer rather than leave a sliver behind.
pub fn windows(samples: &[f32], rate: u32, length_secs: u32) -> Vec<Window> {
    let frame = (rate as usize / 50).max(1);
    let target = (rate as usize * length_secs.max(1) as usize).max(frame);
    let mut out = Vec::new();
    let mut start = 0;
    while start < samples.len() {
        let remaining = samples.len() - start;
        let end = if remaining <= target + target / 5 {
            samples.len()
        } else {
            quietest_cut(samples, start + target - target / 5, start + target, frame)
        };
        let speech = samples[start..end]
            .chunks(frame)
            .any(|f| frame_rms(f) >= SPEECH_RMS);
        out.push(Window {
            samples: start..end,
            speech,
        });
        start = end;
    }
    out
}

/// The middle of the quietest frame between `from` and `to`.
fn quietest_cut(samples: &[f32], from: usize, to: usize, frame: usize) -> usize {
    let mut best = (f32::INFINITY, to);
    let mut at = from;
    while at + frame <= to {
        let rms = frame_rms(&samples[at..at + frame]);
        if rms < best.0 {
            best = (rms, at + frame / 2);
        }
        at += frame;
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16_000;

    fn tone(secs: f32) -> Vec<f32> {
        (0..(secs * RATE as f32) as usize)
            .map(|i| (i as f32 * 0.2).sin() * 0.3)
            .collect()
    }

    fn silence(secs: f32) -> Vec<f32> {
        vec![0.0; (secs * RATE as f32) as usize]
    }

    #[test]
    fn cuts_fall_in_the_pause_and_cover_everything() {
        // Speech, a half-second pause at 26 s, speech, a pause at 53 s, speech: 70 s in all.
        let audio = [
            tone(26.0),
            silence(0.5),
            tone(26.5),
            silence(0.5),
            tone(16.5),
        ]
        .concat();
        let cut = windows(&audio, RATE, 30);
        assert_eq!(cut.len(), 3, "{cut:?}");
        assert_eq!(cut[0].samples.start, 0);
        assert_eq!(cut.last().unwrap().samples.end, audio.len());
        for pair in cut.windows(2) {
            assert_eq!(pair[0].samples.end, pair[1].samples.start);
        }
        let first_cut = cut[0].samples.end as f32 / RATE as f32;
        assert!((26.0..26.5).contains(&first_cut), "{first_cut}");
        let second_cut = cut[1].samples.end as f32 / RATE as f32;
        assert!((53.0..53.5).contains(&second_cut), "{second_cut}");
        assert!(cut.iter().all(|w| w.speech));
        // The same samples always give the same windows (a resumed job relies on it).
        assert_eq!(windows(&audio, RATE, 30), cut);
    }

    #[test]
    fn silent_windows_are_marked_and_short_tails_are_kept_together() {
        let audio = [tone(10.0), silence(40.0), tone(3.0)].concat();
        let cut = windows(&audio, RATE, 20);
        let speech: Vec<bool> = cut.iter().map(|w| w.speech).collect();
        assert_eq!(speech, [true, false, true], "{cut:?}");
        // The first cut falls in the silence at 16 s, the second at 32 s; the 21 s left fit in
        // one window (up to 24 s) rather than leave a sliver.
        assert_eq!(cut.len(), 3);
        assert!(windows(&tone(23.0), RATE, 20).len() == 1);
        assert!(windows(&[], RATE, 30).is_empty());
    }
}
