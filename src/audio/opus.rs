//! Ogg Opus (RFC 7845): the `ogg` crate splits pages into packets, `opus-decoder` decodes them at
//! 48 kHz. Mono and stereo streams (channel mapping family 0) are accepted.

use std::io::BufReader;
use std::path::Path;

use super::Container;
use super::decode::{AudioInfo, DecodeError, Sink};

const RATE: u32 = 48_000;

pub(super) fn decode(path: &Path, sink: Sink<'_>) -> Result<AudioInfo, DecodeError> {
    let corrupt = |detail: String| DecodeError::Corrupt {
        container: "ogg_opus",
        detail,
    };
    let file = std::fs::File::open(path).map_err(|e| corrupt(format!("unreadable: {e}")))?;
    let mut reader = ogg::PacketReader::new(BufReader::new(file));
    let mut next = |what: &str| match reader.read_packet() {
        Ok(Some(packet)) => Ok(Some(packet)),
        Ok(None) => Ok(None),
        Err(e) => Err(corrupt(format!("{what}: {e}"))),
    };
    let head = next("reading OpusHead")?.ok_or(DecodeError::Empty {
        container: "ogg_opus",
    })?;
    let data = &head.data;
    if data.len() < 19 || !data.starts_with(b"OpusHead") {
        return Err(corrupt("the first packet is not an OpusHead".into()));
    }
    let serial = head.stream_serial();
    let channels = usize::from(data[9]);
    let pre_skip = usize::from(u16::from_le_bytes([data[10], data[11]]));
    let mapping_family = data[18];
    if !(1..=2).contains(&channels) || mapping_family != 0 {
        return Err(DecodeError::Unsupported {
            container: "ogg_opus",
            detail: format!("{channels} channels with mapping family {mapping_family}"),
        });
    }
    let mut decoder = opus_decoder::OpusDecoder::new(RATE, channels)
        .map_err(|e| corrupt(format!("decoder: {e}")))?;
    let mut info = AudioInfo {
        container: Container::OggOpus,
        codec: "opus".into(),
        sample_rate: RATE,
        channels: channels as u16,
        frames: 0,
    };
    // 120 ms is the longest Opus packet.
    let mut pcm = vec![0f32; 5_760 * channels];
    let mut to_skip = pre_skip;
    let mut seen_tags = false;
    // Each packet's samples (interleaved) are held back until the next one arrives, so the last
    // can be cut to the stream's final granule position (the encoder pads the end).
    let mut held: Vec<f32> = Vec::new();
    let mut final_granule = None;
    while let Some(packet) = next("reading a page")? {
        if packet.stream_serial() != serial {
            continue;
        }
        if !seen_tags {
            seen_tags = true;
            if packet.data.starts_with(b"OpusTags") {
                continue;
            }
        }
        let frames = decoder
            .decode_float(&packet.data, &mut pcm, false)
            .map_err(|e| corrupt(format!("an Opus packet cannot be decoded ({e})")))?;
        if !held.is_empty() {
            info.frames += (held.len() / channels) as u64;
            sink(RATE, channels, &held);
        }
        let skip = to_skip.min(frames);
        to_skip -= skip;
        held.clear();
        held.extend_from_slice(&pcm[skip * channels..frames * channels]);
        if packet.last_in_stream() {
            final_granule = Some(packet.absgp_page());
        }
    }
    if let Some(granule) = final_granule {
        // Granule positions count 48 kHz samples including the pre-skip.
        let total = granule.saturating_sub(pre_skip as u64);
        let allowed = total.saturating_sub(info.frames);
        let allowed = usize::try_from(allowed).unwrap_or(usize::MAX / channels);
        held.truncate(allowed.saturating_mul(channels));
    }
    if !held.is_empty() {
        info.frames += (held.len() / channels) as u64;
        sink(RATE, channels, &held);
    }
    if info.frames == 0 {
        return Err(DecodeError::Empty {
            container: "ogg_opus",
        });
    }
    Ok(info)
}
