#!/usr/bin/env python3
"""scikit-learn peer for abcall's churn model: 5-fold ROC AUC on a churn CSV.

Why: DESIGN.md asks for churn AUC (IBM Telco >= 0.85) measured against
scikit-learn gradient boosting in the same run. This script is that peer. Its
preprocessing and folds are spelled out below so the Rust side can do exactly
the same thing and be compared row for row (`--folds-out`).

Run (from the repo root):
    python3 -m venv ~/.cache/abcall/peers-venv-sklearn
    ~/.cache/abcall/peers-venv-sklearn/bin/pip install \
        scikit-learn==1.9.1 numpy==2.4.6 pandas==3.1.1
    ~/.cache/abcall/peers-venv-sklearn/bin/python benches/peers/churn_sklearn.py
    ~/.cache/abcall/peers-venv-sklearn/bin/python benches/peers/churn_sklearn.py \
        data/churn/mlc_churn.csv --target churn --positive yes --folds-out /tmp/folds.txt

Rules (the Rust side implements the same):
  * Cells are read as text (RFC 4180 CSV, UTF-8, first row = header) and
    trimmed of surrounding ASCII whitespace. A cell is blank if empty after trim.
  * Label: y = 1 if the target cell == --positive, else 0. Target not a feature.
  * A cell "is a number" if it matches [+-]?(digits[.digits*]|.digits)([eE][+-]?digits)?
    (no nan/inf). Column typing is decided on the whole file:
      - id-like: every cell non-blank, not a number, and all distinct -> dropped;
      - numeric: every non-blank cell is a number (blanks = missing);
      - otherwise categorical (blank is its own category "").
  * Folds (no shuffling): rows in file order; within each class separately the
    k-th row of that class (0-based) goes to fold k % 5.
  * Per fold, fitted on the training rows only:
      - numeric: missing -> training mean of the non-missing values; then
        standardise with that mean and the population std (ddof 0) of the
        imputed training column; std 0 -> 1; no non-missing value -> mean 0.
      - categorical: one-hot over the categories seen in training, sorted by
        code point; an unseen category at test time -> all zeros.
      - feature order: numeric columns (file order), then each categorical
        column (file order) with its sorted categories.
  * Models: LogisticRegression(max_iter=1000) and
    GradientBoostingClassifier(random_state=0), otherwise defaults.
    Score = predict_proba[:, 1]; metric = roc_auc_score per fold.
  * Fit seconds = wall time of model.fit only (preprocessing timed apart).
    BLAS/OpenMP threads are limited to --threads (default 1).
Output: per-fold table, mean/std (ddof 0) per model, and a last line of JSON.
"""
import argparse
import csv
import json
import re
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
ASCII_WS = " \t\r\n\x0b\x0c"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = [h.strip(ASCII_WS) for h in rows[0]]
    body = [[c.strip(ASCII_WS) for c in r] for r in rows[1:] if r]
    for i, r in enumerate(body):
        if len(r) != len(header):
            sys.exit(f"{path}: data row {i} has {len(r)} cells, header has {len(header)}")
    return header, body


def type_columns(header, body, target):
    numeric, categorical, dropped = [], [], []
    for j, name in enumerate(header):
        if name == target:
            continue
        col = [r[j] for r in body]
        is_num = [NUMBER.match(c) is not None for c in col]
        if all(c != "" and not n for c, n in zip(col, is_num)) and len(set(col)) == len(col):
            dropped.append(j)
        elif all(n or c == "" for c, n in zip(col, is_num)):
            numeric.append(j)
        else:
            categorical.append(j)
    return numeric, categorical, dropped


def make_folds(y, k):
    folds = np.empty(len(y), dtype=np.int64)
    seen = {0: 0, 1: 0}
    for i, label in enumerate(y):
        folds[i] = seen[label] % k
        seen[label] += 1
    return folds


def fit_transform(body, numeric, categorical, train_idx, test_idx):
    """Build (X_train, X_test) with the fold's training statistics."""
    blocks_tr, blocks_te = [], []
    for j in numeric:
        vals = np.array([float(r[j]) if r[j] != "" else np.nan for r in body])
        tr, te = vals[train_idx], vals[test_idx]
        ok = ~np.isnan(tr)
        mean = float(tr[ok].mean()) if ok.any() else 0.0
        tr = np.where(np.isnan(tr), mean, tr)
        te = np.where(np.isnan(te), mean, te)
        std = float(np.sqrt(np.mean((tr - mean) ** 2)))
        if std == 0.0:
            std = 1.0
        blocks_tr.append(((tr - mean) / std)[:, None])
        blocks_te.append(((te - mean) / std)[:, None])
    for j in categorical:
        col = np.array([r[j] for r in body], dtype=object)
        cats = sorted(set(col[train_idx]))
        blocks_tr.append(np.stack([col[train_idx] == c for c in cats], axis=1).astype(float))
        blocks_te.append(np.stack([col[test_idx] == c for c in cats], axis=1).astype(float))
    return np.hstack(blocks_tr), np.hstack(blocks_te)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default="data/churn/telco_churn_train.csv")
    ap.add_argument("--target", default="Churn")
    ap.add_argument("--positive", default="Yes")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--folds-out", help="write each row's fold (one integer per line)")
    args = ap.parse_args()

    header, body = read_csv(args.csv)
    if args.target not in header:
        sys.exit(f"target column {args.target!r} not in {header}")
    t = header.index(args.target)
    y = np.array([1 if r[t] == args.positive else 0 for r in body], dtype=np.int64)
    if y.sum() == 0 or y.sum() == len(y):
        sys.exit(f"positive label {args.positive!r} gives a single class")
    numeric, categorical, dropped = type_columns(header, body, args.target)
    folds = make_folds(y, args.k)
    if args.folds_out:
        with open(args.folds_out, "w") as f:
            f.writelines(f"{v}\n" for v in folds)

    print(f"{args.csv}: {len(body)} rows, {int(y.sum())} positive ({args.target}={args.positive})")
    print(f"numeric ({len(numeric)}): {','.join(header[j] for j in numeric)}")
    print(f"categorical ({len(categorical)}): {','.join(header[j] for j in categorical)}")
    print(f"dropped id-like: {','.join(header[j] for j in dropped) or '-'}")

    models = {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "gbc": lambda: GradientBoostingClassifier(random_state=0),
    }
    res = {m: {"auc": [], "fit_s": []} for m in models}
    prep_s = []
    n_features = None
    with threadpool_limits(limits=args.threads):
        for k in range(args.k):
            tr_idx = np.flatnonzero(folds != k)
            te_idx = np.flatnonzero(folds == k)
            t0 = time.perf_counter()
            Xtr, Xte = fit_transform(body, numeric, categorical, tr_idx, te_idx)
            prep_s.append(time.perf_counter() - t0)
            n_features = Xtr.shape[1]
            line = [f"fold {k}: n_test={len(te_idx)} features={Xtr.shape[1]}"]
            for name, make in models.items():
                model = make()
                t0 = time.perf_counter()
                model.fit(Xtr, y[tr_idx])
                fit = time.perf_counter() - t0
                auc = roc_auc_score(y[te_idx], model.predict_proba(Xte)[:, 1])
                res[name]["auc"].append(float(auc))
                res[name]["fit_s"].append(fit)
                line.append(f"{name} auc={auc:.4f} fit={fit:.3f}s")
            print("  ".join(line))

    summary = {
        "csv": args.csv, "target": args.target, "positive": args.positive,
        "rows": len(body), "positives": int(y.sum()), "k": args.k,
        "numeric": [header[j] for j in numeric],
        "categorical": [header[j] for j in categorical],
        "dropped": [header[j] for j in dropped],
        "n_features_last_fold": n_features, "threads": args.threads,
        "prep_seconds_total": round(sum(prep_s), 4),
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "models": {},
    }
    for name, r in res.items():
        auc = np.array(r["auc"])
        fit = np.array(r["fit_s"])
        print(f"{name}: auc mean={auc.mean():.4f} std={auc.std():.4f}  "
              f"fit total={fit.sum():.3f}s mean/fold={fit.mean():.3f}s")
        summary["models"][name] = {
            "auc_folds": [round(a, 6) for a in r["auc"]],
            "auc_mean": round(float(auc.mean()), 6),
            "auc_std": round(float(auc.std()), 6),
            "fit_seconds_folds": [round(s, 4) for s in r["fit_s"]],
            "fit_seconds_total": round(float(fit.sum()), 4),
        }
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
