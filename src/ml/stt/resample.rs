//! Sample-rate conversion to Whisper's 16 kHz: a windowed-sinc (Blackman) low-pass evaluated at
//! each output instant. Call audio arrives at 8 kHz (telephony), 44.1 or 48 kHz (apps, recorders);
//! Whisper needs 16 kHz. Written here rather than pulling an FFT resampler crate: it is small, has
//! no state to carry between calls (we resample whole recordings) and is tested below.
//!
//! The filter cuts at 92% of the lower Nyquist frequency with 24 zero crossings each side, so
//! downsampling does not fold high frequencies back and upsampling does not leave images. For a
//! rational ratio the filter phases repeat, so they are computed once into a table.

/// Fraction of the lower Nyquist frequency that is kept.
const ROLLOFF: f64 = 0.92;
/// Zero crossings of the sinc on each side of the centre.
const ZEROS: f64 = 24.0;
/// Most distinct phases precomputed; rarer ratios compute coefficients per sample.
const MAX_TABLE_PHASES: u64 = 4_096;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Blackman-windowed sinc low-pass; `cutoff` in cycles per input sample.
struct Kernel {
    cutoff: f64,
    half_width: f64,
}

impl Kernel {
    fn at(&self, x: f64) -> f64 {
        if x.abs() >= self.half_width {
            return 0.0;
        }
        let arg = 2.0 * self.cutoff * x;
        let sinc = if arg == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        // Blackman window over [-half_width, half_width].
        let phase = std::f64::consts::PI * (x / self.half_width + 1.0);
        let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
        2.0 * self.cutoff * sinc * window
    }

    /// Coefficients for input samples `base - reach + 1 ..= base + reach` around the output
    /// instant `base + frac`, normalised to unit DC gain.
    fn taps(&self, frac: f64, reach: i64) -> Vec<f32> {
        let mut taps: Vec<f64> = (-reach + 1..=reach)
            .map(|j| self.at(frac - j as f64))
            .collect();
        let sum: f64 = taps.iter().sum();
        if sum.abs() > f64::EPSILON {
            taps.iter_mut().for_each(|t| *t /= sum);
        }
        taps.into_iter().map(|t| t as f32).collect()
    }
}

/// Resamples a mono signal from `from` Hz to `to` Hz. Samples beyond the ends count as silence.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let (from, to) = (u64::from(from), u64::from(to));
    let g = gcd(from, to);
    // Output sample n sits at input position n * down / up.
    let (up, down) = (to / g, from / g);
    let cutoff = 0.5 * (to as f64 / from as f64).min(1.0) * ROLLOFF;
    let kernel = Kernel {
        cutoff,
        half_width: ZEROS / (2.0 * cutoff),
    };
    let reach = kernel.half_width.ceil() as i64;
    let table: Option<Vec<Vec<f32>>> = (up <= MAX_TABLE_PHASES).then(|| {
        (0..up)
            .map(|phase| kernel.taps(phase as f64 / up as f64, reach))
            .collect()
    });
    let len = (input.len() as u64 * up).div_ceil(down);
    let last = input.len() as i64 - 1;
    (0..len)
        .map(|n| {
            let position = n * down;
            let (base, phase) = ((position / up) as i64, position % up);
            let computed;
            let taps = match &table {
                Some(table) => &table[phase as usize],
                None => {
                    computed = kernel.taps(phase as f64 / up as f64, reach);
                    &computed
                }
            };
            let first = base - reach + 1;
            let mut acc = 0f32;
            if first >= 0 && base + reach <= last {
                let window = &input[first as usize..=(base + reach) as usize];
                for (x, t) in window.iter().zip(taps) {
                    acc += x * t;
                }
            } else {
                for (k, t) in (first..=base + reach).zip(taps) {
                    if (0..=last).contains(&k) {
                        acc += input[k as usize] * t;
                    }
                }
            }
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    /// RMS over the middle half, away from the edges where the signal starts from silence.
    fn rms_middle(x: &[f32]) -> f64 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        (mid.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
    }

    #[test]
    fn same_rate_and_empty_input_pass_through() {
        assert_eq!(resample(&[0.1, 0.2], 16_000, 16_000), vec![0.1, 0.2]);
        assert!(resample(&[], 8_000, 16_000).is_empty());
    }

    #[test]
    fn lengths_follow_the_ratio() {
        assert_eq!(resample(&vec![0.0; 8_000], 8_000, 16_000).len(), 16_000);
        assert_eq!(resample(&vec![0.0; 48_000], 48_000, 16_000).len(), 16_000);
        assert_eq!(resample(&vec![0.0; 44_100], 44_100, 16_000).len(), 16_000);
        assert_eq!(resample(&[0.0; 3], 48_000, 16_000).len(), 1);
    }

    #[test]
    fn a_telephone_tone_is_upsampled_faithfully() {
        // 1 kHz at 8 kHz -> 16 kHz must equal the same tone sampled at 16 kHz.
        let out = resample(&tone(1_000.0, 8_000, 1.0), 8_000, 16_000);
        let expected = tone(1_000.0, 16_000, 1.0);
        let worst = out[4_000..12_000]
            .iter()
            .zip(&expected[4_000..12_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 2e-3, "max error {worst}");
    }

    #[test]
    fn constant_signals_keep_their_level() {
        for (from, to) in [
            (8_000, 16_000),
            (44_100, 16_000),
            (48_000, 16_000),
            (22_050, 16_000),
        ] {
            let out = resample(&vec![0.5; from as usize], from, to);
            let mid = &out[out.len() / 4..3 * out.len() / 4];
            assert!(mid.iter().all(|v| (v - 0.5).abs() < 1e-3), "{from} -> {to}");
        }
    }

    #[test]
    fn downsampling_keeps_speech_band_and_removes_what_would_alias() {
        for from in [48_000, 44_100] {
            let kept = rms_middle(&resample(&tone(3_000.0, from, 1.0), from, 16_000));
            assert!(
                (kept - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.01,
                "{from}: {kept}"
            );
            // 10 kHz cannot exist at 16 kHz; unfiltered it would fold to 6 kHz.
            let folded = rms_middle(&resample(&tone(10_000.0, from, 1.0), from, 16_000));
            assert!(folded < 0.001, "{from}: {folded} (-60 dB is 0.0007)");
        }
    }
}
