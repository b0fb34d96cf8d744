//! Recognises the accepted audio containers from a file's first bytes.

/// The 415 answer to anything else: the accepted formats, in words.
pub const ACCEPTED: &str = "the audio must be one of: WAV (PCM 8/16/24-bit or float, µ-law, \
    A-law, IMA ADPCM), MP3, FLAC, Ogg Vorbis, Ogg Opus; the format is read from the bytes";

/// An accepted container (and for Ogg, its codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Mp3,
    Flac,
    OggVorbis,
    OggOpus,
}

impl Container {
    /// The media type the original is served with.
    pub fn media_type(self) -> &'static str {
        match self {
            Container::Wav => "audio/wav",
            Container::Mp3 => "audio/mpeg",
            Container::Flac => "audio/flac",
            Container::OggVorbis | Container::OggOpus => "audio/ogg",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Mp3 => "mp3",
            Container::Flac => "flac",
            Container::OggVorbis => "ogg_vorbis",
            Container::OggOpus => "ogg_opus",
        }
    }

    /// The file extension symphonia's probe is hinted with.
    pub(super) fn extension(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Mp3 => "mp3",
            Container::Flac => "flac",
            Container::OggVorbis | Container::OggOpus => "ogg",
        }
    }
}

/// The container of a file from its first bytes (64 are enough), or `None` when it is not one
/// of the accepted ones.
pub fn sniff(head: &[u8]) -> Option<Container> {
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Some(Container::Wav);
    }
    if head.starts_with(b"fLaC") {
        return Some(Container::Flac);
    }
    if head.starts_with(b"OggS") && head.len() > 27 {
        // The first page holds the codec's identification packet after the segment table.
        let start = 27 + usize::from(head[26]);
        let packet = head.get(start..).unwrap_or_default();
        if packet.starts_with(b"OpusHead") {
            return Some(Container::OggOpus);
        }
        if packet.starts_with(b"\x01vorbis") {
            return Some(Container::OggVorbis);
        }
        return None;
    }
    if head.starts_with(b"ID3") {
        return Some(Container::Mp3);
    }
    // An MPEG audio frame header: 11 sync bits, then Layer III.
    if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 && (head[1] >> 1) & 0b11 == 0b01
    {
        return Some(Container::Mp3);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_bytes() {
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some(Container::Wav));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(Container::Flac));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0"), Some(Container::Mp3));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64]), Some(Container::Mp3));
        let mut ogg = b"OggS\0\x02".to_vec();
        ogg.resize(26, 0);
        ogg.push(1); // one segment
        ogg.push(19); // its length
        let mut opus = ogg.clone();
        opus.extend_from_slice(b"OpusHead\x01\x01");
        assert_eq!(sniff(&opus), Some(Container::OggOpus));
        ogg.extend_from_slice(b"\x01vorbis\0\0");
        assert_eq!(sniff(&ogg), Some(Container::OggVorbis));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b"RIFF\x24\0\0\0AVI "), None);
        assert_eq!(sniff(b""), None);
    }
}
