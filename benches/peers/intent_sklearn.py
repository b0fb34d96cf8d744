#!/usr/bin/env python3
"""scikit-learn peer for abcall's text classifiers: 5-fold accuracy on the *same* embeddings.

Why: the issue asks for banking77 intent accuracy against LinearSVC on the same embeddings. abcall
writes its e5-small embeddings with `abcall embed` (little-endian f32, 384 per row); this script
reads them with the labels from the CSV, uses abcall's folds (rows in file order; within each class
the k-th row goes to fold k % 5) and reports LinearSVC and LogisticRegression accuracy and macro-F1.

    abcall embed --file ../shared/data/text/banking77_train.csv --column text --out /tmp/b77.f32
    python benches/peers/intent_sklearn.py ../shared/data/text/banking77_train.csv category /tmp/b77.f32
"""
import csv
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC


def folds_of(labels, k=5):
    seen = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        out.append(n % k)
        seen[label] = n + 1
    return np.array(out)


def main():
    path, target, embeddings = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(path, newline="", encoding="utf-8") as f:
        labels = [row[target].strip() for row in csv.DictReader(f)]
    x = np.fromfile(embeddings, dtype="<f4").reshape(len(labels), -1).astype(np.float64)
    y = np.array(labels)
    folds = folds_of(labels)
    summary = {"rows": len(labels), "classes": len(set(labels)), "dim": x.shape[1]}
    for name, make in [
        ("linear_svc", lambda: LinearSVC(C=1.0)),
        ("logistic_regression", lambda: LogisticRegression(max_iter=1000)),
    ]:
        predicted = np.empty(len(labels), dtype=object)
        fit_seconds = 0.0
        for k in range(5):
            train, test = folds != k, folds == k
            model = make()
            started = time.perf_counter()
            model.fit(x[train], y[train])
            fit_seconds += time.perf_counter() - started
            predicted[test] = model.predict(x[test])
        accuracy = accuracy_score(y, predicted)
        macro_f1 = f1_score(y, predicted, average="macro")
        print(f"{name}: accuracy {accuracy:.4f}  macro-F1 {macro_f1:.4f}  fit {fit_seconds:.1f} s")
        summary[name] = {"accuracy": accuracy, "macro_f1": macro_f1, "fit_seconds": fit_seconds}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
