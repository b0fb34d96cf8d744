//! Converts a CTranslate2 Whisper model (faster-whisper's `model.bin`) into the legacy ggml file
//! that whisper.cpp (and so whisper-rs) loads. The registries carry Whisper base only in the
//! CTranslate2 form; the weights are the same, only the container and names differ.
//!
//! The ggml file, little-endian throughout:
//! 1. `u32` magic `0x67676d6c` ("ggml") and eleven `i32` hyper-parameters: n_vocab, n_audio_ctx,
//!    n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head,
//!    n_text_layer, n_mels, ftype (1 = f16);
//! 2. the mel filter bank: `i32` n_mel, `i32` n_fft, then n_mel × n_fft `f32` (from openai-whisper's
//!    `mel_filters.npz`);
//! 3. the byte-level BPE vocabulary: `i32` count, then per token `i32` length and its bytes (the
//!    base64 column of `multilingual.tiktoken`, in rank order; whisper.cpp adds the special tokens);
//! 4. the tensors, each `i32` rank, `i32` name length, `i32` type (0 f32, 1 f16), the dims
//!    innermost first, the name, and the row-major data. Names are the PyTorch names of OpenAI's
//!    checkpoint. whisper.cpp checks every tensor's type: matrices and conv kernels are f16;
//!    vectors, the conv biases (stored as `[n, 1]`) and both positional embeddings are f32.
//!
//! CTranslate2 fuses projections that Whisper keeps apart: self-attention Q/K/V in one matrix and
//! cross-attention K/V in another. They are split by rows here. Whisper's key projection has no
//! bias; CTranslate2 stores zeros there, which the converter checks rather than drops blindly.

use std::io::{self, Read, Write};

use base64::Engine;
use half::f16;

use super::ct2::{self, DType};

pub const MAGIC: u32 = 0x6767_6d6c;

/// The header fields of a ggml Whisper file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }
}

/// The inputs of a conversion, all read into memory (≈ 150 MB for base).
pub struct Inputs<'a> {
    /// CTranslate2 `model.bin`.
    pub model: &'a mut dyn Read,
    /// openai-whisper's `mel_filters.npz`.
    pub mel_filters_npz: &'a mut dyn Read,
    /// openai-whisper's `multilingual.tiktoken`.
    pub tiktoken: &'a mut dyn Read,
}

/// Where to take a tensor's data from: rows `[start, start + rows)` of a CTranslate2 variable
/// (a row being everything after the first dimension).
struct Source<'a> {
    variable: &'a ct2::Variable,
    start: usize,
    rows: usize,
}

/// One tensor to write.
struct Tensor<'a> {
    name: String,
    /// Dims outermost first, as in PyTorch.
    shape: Vec<usize>,
    f32: bool,
    source: Source<'a>,
}

fn var<'a>(model: &'a ct2::Model, name: &str) -> Result<&'a ct2::Variable, String> {
    model
        .get(name)
        .ok_or_else(|| format!("the CTranslate2 model has no variable {name}"))
}

fn int(model: &ct2::Model, name: &str) -> Result<i32, String> {
    var(model, name)?
        .as_int()
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| format!("{name} is not a scalar integer"))
}

fn dim(v: &ct2::Variable, axis: usize) -> Result<i32, String> {
    v.shape
        .get(axis)
        .and_then(|&d| i32::try_from(d).ok())
        .ok_or_else(|| format!("{} has shape {:?}", v.name, v.shape))
}

fn count_layers(model: &ct2::Model, side: &str) -> i32 {
    (0..)
        .take_while(|i| {
            model
                .get(&format!("{side}/layer_{i}/ffn/linear_0/weight"))
                .is_some()
        })
        .count() as i32
}

/// Reads the header fields out of the CTranslate2 model's shapes and attributes.
fn hparams(model: &ct2::Model) -> Result<Hparams, String> {
    let embeddings = var(model, "decoder/embeddings/weight")?;
    let audio_pos = var(model, "encoder/position_encodings/encodings")?;
    let text_pos = var(model, "decoder/position_encodings/encodings")?;
    let conv1 = var(model, "encoder/conv1/weight")?;
    Ok(Hparams {
        n_vocab: dim(embeddings, 0)?,
        n_audio_ctx: dim(audio_pos, 0)?,
        n_audio_state: dim(audio_pos, 1)?,
        n_audio_head: int(model, "encoder/num_heads")?,
        n_audio_layer: count_layers(model, "encoder"),
        n_text_ctx: dim(text_pos, 0)?,
        n_text_state: dim(embeddings, 1)?,
        n_text_head: int(model, "decoder/num_heads")?,
        n_text_layer: count_layers(model, "decoder"),
        n_mels: dim(conv1, 1)?,
        ftype: 1,
    })
}

/// The tensor list in the order of OpenAI's checkpoint (whisper.cpp finds them by name, but the
/// same order makes the file comparable byte for byte with one converted from PyTorch).
fn plan<'a>(model: &'a ct2::Model, hp: &Hparams) -> Result<Vec<Tensor<'a>>, String> {
    let mut tensors = Vec::new();
    let whole = |ct2_name: &str, name: &str, f32: bool| -> Result<Tensor<'a>, String> {
        let variable = var(model, ct2_name)?;
        Ok(Tensor {
            name: name.to_owned(),
            shape: variable.shape.clone(),
            f32: f32 || variable.shape.len() < 2,
            source: Source {
                variable,
                start: 0,
                rows: variable.shape.first().copied().unwrap_or(1),
            },
        })
    };
    // Rows `part * n .. (part + 1) * n` of a fused projection.
    let slice = |ct2_name: &str, name: &str, part: usize, n: usize| -> Result<Tensor<'a>, String> {
        let variable = var(model, ct2_name)?;
        if variable.shape.first().copied() < Some((part + 1) * n) {
            return Err(format!(
                "{ct2_name} is too small to split: {:?}",
                variable.shape
            ));
        }
        let mut shape = variable.shape.clone();
        shape[0] = n;
        Ok(Tensor {
            name: name.to_owned(),
            f32: shape.len() < 2,
            shape,
            source: Source {
                variable,
                start: part * n,
                rows: n,
            },
        })
    };
    let linear = |t: &mut Vec<Tensor<'a>>, ct2: &str, name: &str| -> Result<(), String> {
        t.push(whole(
            &format!("{ct2}/weight"),
            &format!("{name}.weight"),
            false,
        )?);
        t.push(whole(
            &format!("{ct2}/bias"),
            &format!("{name}.bias"),
            true,
        )?);
        Ok(())
    };
    let norm = |t: &mut Vec<Tensor<'a>>, ct2: &str, name: &str| -> Result<(), String> {
        t.push(whole(
            &format!("{ct2}/gamma"),
            &format!("{name}.weight"),
            true,
        )?);
        t.push(whole(
            &format!("{ct2}/beta"),
            &format!("{name}.bias"),
            true,
        )?);
        Ok(())
    };
    let audio = hp.n_audio_state as usize;
    let text = hp.n_text_state as usize;
    // Fused self-attention: rows are Q, K, V.
    let self_attention =
        |t: &mut Vec<Tensor<'a>>, ct2: &str, name: &str, n: usize| -> Result<(), String> {
            let (w, b) = (
                format!("{ct2}/linear_0/weight"),
                format!("{ct2}/linear_0/bias"),
            );
            zero_rows(var(model, &b)?, n, n)?;
            t.push(slice(&w, &format!("{name}.query.weight"), 0, n)?);
            t.push(slice(&b, &format!("{name}.query.bias"), 0, n)?);
            t.push(slice(&w, &format!("{name}.key.weight"), 1, n)?);
            t.push(slice(&w, &format!("{name}.value.weight"), 2, n)?);
            t.push(slice(&b, &format!("{name}.value.bias"), 2, n)?);
            linear(t, &format!("{ct2}/linear_1"), &format!("{name}.out"))
        };
    // The feed-forward block of a layer: two linears, then its layer norm.
    let ffn = |t: &mut Vec<Tensor<'a>>, c: &str, n: &str| -> Result<(), String> {
        linear(t, &format!("{c}/ffn/linear_0"), &format!("{n}.mlp.0"))?;
        linear(t, &format!("{c}/ffn/linear_1"), &format!("{n}.mlp.2"))?;
        norm(t, &format!("{c}/ffn/layer_norm"), &format!("{n}.mlp_ln"))
    };

    let mut pos = whole(
        "encoder/position_encodings/encodings",
        "encoder.positional_embedding",
        true,
    )?;
    pos.f32 = true;
    tensors.push(pos);
    for conv in ["conv1", "conv2"] {
        tensors.push(whole(
            &format!("encoder/{conv}/weight"),
            &format!("encoder.{conv}.weight"),
            false,
        )?);
        // whisper.cpp adds the conv bias as a [n, 1] column, in f32.
        let mut bias = whole(
            &format!("encoder/{conv}/bias"),
            &format!("encoder.{conv}.bias"),
            true,
        )?;
        bias.shape.push(1);
        tensors.push(bias);
    }
    for i in 0..hp.n_audio_layer {
        let (c, n) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        self_attention(
            &mut tensors,
            &format!("{c}/self_attention"),
            &format!("{n}.attn"),
            audio,
        )?;
        norm(
            &mut tensors,
            &format!("{c}/self_attention/layer_norm"),
            &format!("{n}.attn_ln"),
        )?;
        ffn(&mut tensors, &c, &n)?;
    }
    norm(&mut tensors, "encoder/layer_norm", "encoder.ln_post")?;

    tensors.push(whole(
        "decoder/position_encodings/encodings",
        "decoder.positional_embedding",
        true,
    )?);
    tensors.push(whole(
        "decoder/embeddings/weight",
        "decoder.token_embedding.weight",
        false,
    )?);
    for i in 0..hp.n_text_layer {
        let (c, n) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        self_attention(
            &mut tensors,
            &format!("{c}/self_attention"),
            &format!("{n}.attn"),
            text,
        )?;
        norm(
            &mut tensors,
            &format!("{c}/self_attention/layer_norm"),
            &format!("{n}.attn_ln"),
        )?;
        // Cross-attention: Q alone, then K and V fused.
        let cross = format!("{c}/attention");
        linear(
            &mut tensors,
            &format!("{cross}/linear_0"),
            &format!("{n}.cross_attn.query"),
        )?;
        let (w, b) = (
            format!("{cross}/linear_1/weight"),
            format!("{cross}/linear_1/bias"),
        );
        zero_rows(var(model, &b)?, 0, text)?;
        tensors.push(slice(&w, &format!("{n}.cross_attn.key.weight"), 0, text)?);
        tensors.push(slice(&w, &format!("{n}.cross_attn.value.weight"), 1, text)?);
        tensors.push(slice(&b, &format!("{n}.cross_attn.value.bias"), 1, text)?);
        linear(
            &mut tensors,
            &format!("{cross}/linear_2"),
            &format!("{n}.cross_attn.out"),
        )?;
        norm(
            &mut tensors,
            &format!("{cross}/layer_norm"),
            &format!("{n}.cross_attn_ln"),
        )?;
        ffn(&mut tensors, &c, &n)?;
    }
    norm(&mut tensors, "decoder/layer_norm", "decoder.ln")?;
    Ok(tensors)
}

/// Values of a vector as f32, whatever float type it is stored in.
fn floats(v: &ct2::Variable) -> Result<Vec<f32>, String> {
    match v.dtype {
        DType::F32 => Ok(v
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        DType::F16 => Ok(v
            .data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        other => Err(format!(
            "{} is {other:?}; only f16 and f32 models can be converted",
            v.name
        )),
    }
}

/// Checks that `bias[start..start + n]` is zero: a key bias whisper.cpp has no place for.
fn zero_rows(bias: &ct2::Variable, start: usize, n: usize) -> Result<(), String> {
    let values = floats(bias)?;
    match values.get(start..start + n) {
        Some(part) if part.iter().all(|&x| x == 0.0) => Ok(()),
        Some(_) => Err(format!(
            "{} has a non-zero key bias, which whisper.cpp cannot represent",
            bias.name
        )),
        None => Err(format!("{} is too short to split", bias.name)),
    }
}

/// Writes a tensor's data in the target type.
fn write_data(out: &mut dyn Write, t: &Tensor) -> Result<(), String> {
    let v = t.source.variable;
    let row = v.shape.iter().skip(1).product::<usize>().max(1);
    let size = v.dtype.size();
    let bytes = &v.data[t.source.start * row * size..(t.source.start + t.source.rows) * row * size];
    let io = |e: io::Error| e.to_string();
    match (v.dtype, t.f32) {
        (DType::F16, false) | (DType::F32, true) => out.write_all(bytes).map_err(io),
        (DType::F16, true) => {
            let mut buf = Vec::with_capacity(bytes.len() * 2);
            for b in bytes.chunks_exact(2) {
                buf.extend(f16::from_le_bytes([b[0], b[1]]).to_f32().to_le_bytes());
            }
            out.write_all(&buf).map_err(io)
        }
        (DType::F32, false) => {
            let mut buf = Vec::with_capacity(bytes.len() / 2);
            for b in bytes.chunks_exact(4) {
                let x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                buf.extend(f16::from_f32(x).to_le_bytes());
            }
            out.write_all(&buf).map_err(io)
        }
        (other, _) => Err(format!(
            "{} is {other:?}; only f16 and f32 models can be converted",
            v.name
        )),
    }
}

/// The mel filter bank for `n_mels` bins, from the `mel_{n}.npy` member of the npz archive:
/// (rows, columns, row-major values).
fn mel_filters(npz: &mut dyn Read, n_mels: i32) -> Result<(usize, usize, Vec<f32>), String> {
    let mut bytes = Vec::new();
    npz.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes))
        .map_err(|e| format!("mel_filters.npz: {e}"))?;
    let member = format!("mel_{n_mels}.npy");
    let mut npy = Vec::new();
    zip.by_name(&member)
        .map_err(|_| format!("mel_filters.npz has no {member}"))?
        .read_to_end(&mut npy)
        .map_err(|e| e.to_string())?;
    parse_npy_f32_2d(&npy).map_err(|e| format!("{member}: {e}"))
}

/// A 2-D little-endian f32 C-order `.npy` array (format versions 1 to 3).
fn parse_npy_f32_2d(npy: &[u8]) -> Result<(usize, usize, Vec<f32>), String> {
    if npy.len() < 10 || &npy[..6] != b"\x93NUMPY" {
        return Err("not an .npy array".into());
    }
    let (header_len, start) = match npy[6] {
        1 => (u16::from_le_bytes([npy[8], npy[9]]) as usize, 10),
        2 | 3 if npy.len() >= 12 => (
            u32::from_le_bytes([npy[8], npy[9], npy[10], npy[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = npy
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("'descr':'<f4'") || !compact.contains("'fortran_order':False") {
        return Err(format!(
            "expected little-endian f32 in C order, got {header}"
        ));
    }
    let shape = compact
        .split_once("'shape':(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(dims, _)| {
            dims.split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
        })
        .ok_or("no shape in the .npy header")?
        .map_err(|_| "bad shape in the .npy header")?;
    let [rows, cols] = shape[..] else {
        return Err(format!("expected a 2-D array, got shape {shape:?}"));
    };
    let data = &npy[start + header_len..];
    if data.len() != rows * cols * 4 {
        return Err(format!(
            "{} data bytes for shape ({rows}, {cols})",
            data.len()
        ));
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((rows, cols, values))
}

/// The token byte strings of a `.tiktoken` file (`base64 rank` per line), in rank order.
fn tokens(tiktoken: &mut dyn Read) -> Result<Vec<Vec<u8>>, String> {
    let mut text = String::new();
    tiktoken
        .read_to_string(&mut text)
        .map_err(|e| format!("tiktoken: {e}"))?;
    let mut tokens = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let (token, rank) = line
            .split_once(' ')
            .ok_or_else(|| format!("tiktoken line {}: expected `token rank`", i + 1))?;
        if rank.trim().parse::<usize>() != Ok(i) {
            return Err(format!("tiktoken line {}: rank {rank} out of order", i + 1));
        }
        // Padding is dropped before decoding: the last line of multilingual.tiktoken is a lone
        // "=", which Python's decoder (and so every ggml file) reads as the empty token.
        tokens.push(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(token.trim_end_matches('='))
                .map_err(|e| format!("tiktoken line {}: {e}", i + 1))?,
        );
    }
    Ok(tokens)
}

fn put_i32(out: &mut dyn Write, v: i32) -> Result<(), String> {
    out.write_all(&v.to_le_bytes()).map_err(|e| e.to_string())
}

fn count(n: usize, what: &str) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{what} ({n}) does not fit the ggml header"))
}

/// Converts; returns the header written. Errors describe what in the inputs is wrong.
pub fn convert(inputs: Inputs, out: &mut dyn Write) -> Result<Hparams, String> {
    let model = ct2::read(inputs.model).map_err(|e| format!("model.bin: {e}"))?;
    if model.spec != "WhisperSpec" {
        return Err(format!(
            "model.bin holds a {}, not a WhisperSpec",
            model.spec
        ));
    }
    let hp = hparams(&model)?;
    let (mel_rows, mel_cols, mel) = mel_filters(inputs.mel_filters_npz, hp.n_mels)?;
    let tokens = tokens(inputs.tiktoken)?;
    let tensors = plan(&model, &hp)?;

    out.write_all(&MAGIC.to_le_bytes())
        .map_err(|e| e.to_string())?;
    for field in hp.fields() {
        put_i32(out, field)?;
    }
    put_i32(out, count(mel_rows, "mel bins")?)?;
    put_i32(out, count(mel_cols, "mel columns")?)?;
    let mut buf = Vec::with_capacity(mel.len() * 4);
    mel.iter().for_each(|x| buf.extend(x.to_le_bytes()));
    out.write_all(&buf).map_err(|e| e.to_string())?;
    put_i32(out, count(tokens.len(), "tokens")?)?;
    for token in &tokens {
        put_i32(out, count(token.len(), "token length")?)?;
        out.write_all(token).map_err(|e| e.to_string())?;
    }
    for t in &tensors {
        put_i32(out, count(t.shape.len(), "rank")?)?;
        put_i32(out, count(t.name.len(), "name length")?)?;
        put_i32(out, if t.f32 { 0 } else { 1 })?;
        for &d in t.shape.iter().rev() {
            put_i32(out, count(d, "dimension")?)?;
        }
        out.write_all(t.name.as_bytes())
            .map_err(|e| e.to_string())?;
        write_data(out, t)?;
    }
    Ok(hp)
}

/// What a ggml Whisper file holds, read back without its data (for checks and tests).
#[derive(Debug, Clone)]
pub struct Summary {
    pub hparams: Hparams,
    /// (n_mel, n_fft) of the filter bank.
    pub mel_shape: (i32, i32),
    pub n_tokens: i32,
    /// (name, dims innermost first, type: 0 f32 / 1 f16).
    pub tensors: Vec<(String, Vec<i32>, i32)>,
}

fn get_i32(r: &mut dyn Read) -> io::Result<i32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_le_bytes(b))
}

fn skip(r: &mut dyn Read, n: u64) -> io::Result<()> {
    let skipped = io::copy(&mut r.take(n), &mut io::sink())?;
    if skipped == n {
        Ok(())
    } else {
        Err(io::ErrorKind::UnexpectedEof.into())
    }
}

/// Reads a ggml Whisper file's header, filter-bank shape, vocabulary size and tensor index.
pub fn summary(r: &mut dyn Read) -> Result<Summary, String> {
    fn bad(what: &'static str) -> impl Fn(io::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    let magic = get_i32(r).map_err(bad("magic"))? as u32;
    if magic != MAGIC {
        return Err(format!("magic {magic:#x} is not ggml"));
    }
    let mut f = [0i32; 11];
    for field in &mut f {
        *field = get_i32(r).map_err(bad("header"))?;
    }
    let hparams = Hparams {
        n_vocab: f[0],
        n_audio_ctx: f[1],
        n_audio_state: f[2],
        n_audio_head: f[3],
        n_audio_layer: f[4],
        n_text_ctx: f[5],
        n_text_state: f[6],
        n_text_head: f[7],
        n_text_layer: f[8],
        n_mels: f[9],
        ftype: f[10],
    };
    let mel_shape = (
        get_i32(r).map_err(bad("mel"))?,
        get_i32(r).map_err(bad("mel"))?,
    );
    let mel_values = u64::try_from(i64::from(mel_shape.0) * i64::from(mel_shape.1))
        .map_err(|_| "negative mel shape")?;
    skip(r, mel_values * 4).map_err(bad("mel"))?;
    let n_tokens = get_i32(r).map_err(bad("tokens"))?;
    for _ in 0..n_tokens {
        let len = get_i32(r).map_err(bad("tokens"))?;
        skip(r, u64::try_from(len).map_err(|_| "negative token length")?).map_err(bad("tokens"))?;
    }
    let mut tensors = Vec::new();
    loop {
        let mut first = [0; 4];
        match r.read(&mut first[..1]) {
            Ok(0) => break,
            Ok(_) => r.read_exact(&mut first[1..]).map_err(bad("tensor"))?,
            Err(e) => return Err(format!("tensor: {e}")),
        }
        let rank = i32::from_le_bytes(first);
        let name_len = get_i32(r).map_err(bad("tensor"))?;
        let kind = get_i32(r).map_err(bad("tensor"))?;
        if !(1..=4).contains(&rank) || !(0..=1).contains(&kind) || !(1..=256).contains(&name_len) {
            return Err(format!(
                "tensor {}: implausible rank {rank}, type {kind} or name length {name_len}",
                tensors.len()
            ));
        }
        let dims = (0..rank)
            .map(|_| get_i32(r))
            .collect::<io::Result<Vec<_>>>()
            .map_err(bad("tensor"))?;
        let mut name = vec![0; name_len as usize];
        r.read_exact(&mut name).map_err(bad("tensor"))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let elements: i64 = dims.iter().map(|&d| i64::from(d)).product();
        let bytes = u64::try_from(elements * if kind == 0 { 4 } else { 2 })
            .map_err(|_| format!("{name}: negative size"))?;
        skip(r, bytes).map_err(|e| format!("{name}: {e}"))?;
        tensors.push((name, dims, kind));
    }
    Ok(Summary {
        hparams,
        mel_shape,
        n_tokens,
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ct2::tests::write as write_ct2;

    fn f16s(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
        values
            .into_iter()
            .flat_map(|x| f16::from_f32(x).to_le_bytes())
            .collect()
    }

    /// A whole Whisper model in miniature: state 2, one layer each side, vocabulary 3.
    fn tiny_model(key_bias: f32) -> Vec<u8> {
        let s = 2usize;
        let mut vars: Vec<(String, Vec<usize>, u8, Vec<u8>)> = vec![
            (
                "encoder/num_heads".into(),
                vec![],
                2,
                1i16.to_le_bytes().to_vec(),
            ),
            (
                "decoder/num_heads".into(),
                vec![],
                2,
                1i16.to_le_bytes().to_vec(),
            ),
            (
                "encoder/conv1/weight".into(),
                vec![s, 4, 3],
                4,
                f16s((0..24).map(|i| i as f32)),
            ),
            ("encoder/conv1/bias".into(), vec![s], 4, f16s([0.5, 1.5])),
            (
                "encoder/conv2/weight".into(),
                vec![s, s, 3],
                4,
                f16s([0.0; 12]),
            ),
            ("encoder/conv2/bias".into(), vec![s], 4, f16s([0.0; 2])),
            (
                "encoder/position_encodings/encodings".into(),
                vec![5, s],
                4,
                f16s([0.25; 10]),
            ),
            (
                "decoder/position_encodings/encodings".into(),
                vec![4, s],
                4,
                f16s([0.0; 8]),
            ),
            (
                "decoder/embeddings/weight".into(),
                vec![3, s],
                4,
                f16s([1.0; 6]),
            ),
        ];
        let mut linear = |name: String, rows: usize, cols: usize, bias: Vec<f32>| {
            vars.push((
                format!("{name}/weight"),
                vec![rows, cols],
                4,
                f16s((0..rows * cols).map(|i| i as f32)),
            ));
            vars.push((format!("{name}/bias"), vec![rows], 4, f16s(bias)));
        };
        for side in ["encoder", "decoder"] {
            let l = format!("{side}/layer_0");
            linear(
                format!("{l}/self_attention/linear_0"),
                3 * s,
                s,
                vec![1.0, 2.0, key_bias, 0.0, 5.0, 6.0],
            );
            linear(format!("{l}/self_attention/linear_1"), s, s, vec![0.0; 2]);
            linear(format!("{l}/ffn/linear_0"), 4 * s, s, vec![0.0; 8]);
            linear(format!("{l}/ffn/linear_1"), s, 4 * s, vec![0.0; 2]);
            if side == "decoder" {
                linear(format!("{l}/attention/linear_0"), s, s, vec![0.0; 2]);
                linear(
                    format!("{l}/attention/linear_1"),
                    2 * s,
                    s,
                    vec![0.0, 0.0, 7.0, 8.0],
                );
                linear(format!("{l}/attention/linear_2"), s, s, vec![0.0; 2]);
            }
        }
        let mut norm = |name: String| {
            vars.push((format!("{name}/gamma"), vec![s], 4, f16s([1.0; 2])));
            vars.push((format!("{name}/beta"), vec![s], 4, f16s([0.0; 2])));
        };
        for l in ["encoder/layer_0", "decoder/layer_0"] {
            norm(format!("{l}/self_attention/layer_norm"));
            norm(format!("{l}/ffn/layer_norm"));
        }
        norm("decoder/layer_0/attention/layer_norm".into());
        norm("encoder/layer_norm".into());
        norm("decoder/layer_norm".into());
        let refs: Vec<(&str, &[usize], u8, Vec<u8>)> = vars
            .iter()
            .map(|(n, s, c, d)| (n.as_str(), s.as_slice(), *c, d.clone()))
            .collect();
        write_ct2(
            &refs,
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        )
    }

    fn npz(rows: usize, cols: usize) -> Vec<u8> {
        let header =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}\n");
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend((header.len() as u16).to_le_bytes());
        npy.extend(header.as_bytes());
        (0..rows * cols).for_each(|i| npy.extend((i as f32).to_le_bytes()));
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        zip.start_file(
            format!("mel_{rows}.npy"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&npy).unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn convert_tiny(key_bias: f32) -> Result<Vec<u8>, String> {
        let model = tiny_model(key_bias);
        let npz = npz(4, 3);
        let tiktoken = "IQ== 0\n= 1\n";
        let mut out = Vec::new();
        convert(
            Inputs {
                model: &mut model.as_slice(),
                mel_filters_npz: &mut npz.as_slice(),
                tiktoken: &mut tiktoken.as_bytes(),
            },
            &mut out,
        )?;
        Ok(out)
    }

    #[test]
    fn a_tiny_model_converts_to_the_layout_whisper_cpp_reads() {
        let out = convert_tiny(0.0).unwrap();
        let summary = summary(&mut out.as_slice()).unwrap();
        let hp = summary.hparams;
        assert_eq!(
            hp.fields(),
            [3, 5, 2, 1, 1, 4, 2, 1, 1, 4, 1],
            "vocab, audio ctx/state/head/layer, text ctx/state/head/layer, mels, f16"
        );
        assert_eq!((summary.mel_shape, summary.n_tokens), ((4, 3), 2));
        // 5 + 15 + 2 in the encoder, 2 + 24 + 2 in the decoder.
        assert_eq!(summary.tensors.len(), 50);
        let find = |name: &str| {
            summary
                .tensors
                .iter()
                .find(|t| t.0 == name)
                .unwrap()
                .clone()
        };
        assert_eq!(find("encoder.conv1.weight").1, vec![3, 4, 2]);
        assert_eq!(find("encoder.conv1.weight").2, 1, "conv kernels are f16");
        assert_eq!(
            find("encoder.conv1.bias").1,
            vec![1, 2],
            "conv bias is an [n, 1] column"
        );
        assert_eq!(find("encoder.conv1.bias").2, 0);
        assert_eq!(find("encoder.positional_embedding").2, 0);
        assert_eq!(find("decoder.positional_embedding").2, 0);
        assert_eq!(find("decoder.token_embedding.weight").2, 1);
        assert_eq!(find("encoder.blocks.0.attn.key.weight").1, vec![2, 2]);
        assert_eq!(find("decoder.blocks.0.cross_attn.value.bias").1, vec![2]);
        assert!(
            summary
                .tensors
                .iter()
                .all(|t| t.0 != "decoder.blocks.0.attn.key.bias")
        );
        // The first tensor is the audio positional embedding, in f32 after its header.
        // Tokens: "!" (4 + 1 bytes) and the empty token "=" (4 + 0).
        let tensors_start = 4 + 44 + 8 + 4 * 3 * 4 + 4 + 5 + 4;
        let header = 12 + 8 + "encoder.positional_embedding".len();
        let first = &out[tensors_start + header..tensors_start + header + 4];
        assert_eq!(f32::from_le_bytes(first.try_into().unwrap()), 0.25);
    }

    #[test]
    fn fused_projections_are_split_by_rows() {
        let out = convert_tiny(0.0).unwrap();
        // The value bias of self-attention is the third third of the fused bias: [5, 6].
        let name = b"encoder.blocks.0.attn.value.bias";
        let at = out.windows(name.len()).position(|w| w == name).unwrap() + name.len();
        let values: Vec<f32> = out[at..at + 8]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(values, [5.0, 6.0]);
        // The key weight is rows 2..4 of the fused [6, 2] matrix: values 4..8, in f16.
        let name = b"encoder.blocks.0.attn.key.weight";
        let at = out.windows(name.len()).position(|w| w == name).unwrap() + name.len();
        let values: Vec<f32> = out[at..at + 8]
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        assert_eq!(values, [4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn a_key_bias_is_refused_rather_than_dropped() {
        let error = convert_tiny(0.5).unwrap_err();
        assert!(error.contains("non-zero key bias"), "{error}");
    }
}
