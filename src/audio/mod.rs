//! Call audio: what a file is (sniffed from its bytes, not its `Content-Type`) and its decoded
//! samples, streamed to a sink in mono as they are decoded (so a long call is never held whole as
//! samples), or with each channel kept apart for transcription. Recordings are decoded on demand
//! from the stored original: the transcription job calls [`decode_channels`] rather than keeping
//! a second, decoded copy.
//!
//! WAV (PCM, IEEE float, µ-law, A-law, IMA ADPCM), MP3, FLAC and Ogg Vorbis go through symphonia;
//! Ogg Opus through the `ogg` demuxer and the pure-Rust `opus-decoder`.

mod decode;
mod opus;
mod sniff;

pub use decode::{AudioInfo, DecodeError, decode_channels, decode_file, decode_mono};
pub use sniff::{ACCEPTED, Container, sniff};
