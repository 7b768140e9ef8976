#!/usr/bin/env python3
"""Writes metrics/testdata/*.json: fixed predictions with the metrics that
scikit-learn computes for them, the reference for the Go package metrics.

Run from anywhere with the test environment:

    .venv/bin/python scripts/make-metric-fixtures.py

The output is deterministic (seeded numpy Generator, probabilities rounded to
6 decimals), so re-running it with the same numpy/scikit-learn leaves the
files unchanged. How each expected value is obtained is spelled out in
expected_for(); see also the package documentation of metrics.
"""

import json
import math
import pathlib
import sys
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

OUT = pathlib.Path(__file__).resolve().parent.parent / "metrics" / "testdata"


def softmax_rounded(logits):
    """Row softmax rounded to 6 decimals (rows still sum to 1 within 1e-5)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = np.round(e / e.sum(axis=1, keepdims=True), 6)
    assert np.allclose(1, p.sum(axis=1)), "rounded rows no longer sum to 1"
    return p


def noisy_logits(rng, y, k, signal, noise=1.0):
    """Gaussian logits with `signal` added to the true class."""
    logits = rng.normal(0.0, noise, size=(len(y), k))
    logits[np.arange(len(y)), y] += signal
    return logits


def case_random_k5():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, size=120)
    return "random probabilities, K=5, N=120, about 60% accuracy", 5, y, softmax_rounded(noisy_logits(rng, y, 5, 1.2))


def case_ties_k4():
    # Each row splits 8 eighths among 4 classes: exact binary fractions that
    # sum to exactly 1, with many tied scores and tied arg-max rows.
    rng = np.random.default_rng(2)
    n, k = 80, 4
    y = rng.integers(0, k, size=n)
    counts = np.zeros((n, k), dtype=np.int64)
    for i in range(n):
        # Bias half of the mass toward the true class so the scores are informative.
        counts[i, y[i]] += 2
        for _ in range(6):
            counts[i, rng.integers(0, k)] += 1
    return "scores in eighths: many ties in scores and in the arg-max, K=4, N=80", k, y, counts / 8.0


def case_never_predicted_k4():
    rng = np.random.default_rng(3)
    n, k = 90, 4
    y = rng.integers(0, k, size=n)
    logits = noisy_logits(rng, y, k, 1.5)
    logits[:, 3] -= 10.0  # class 3 occurs in y_true but never wins the arg-max
    p = softmax_rounded(logits)
    assert not (p.argmax(axis=1) == 3).any()
    return "class 3 is in y_true but never predicted, K=4, N=90", k, y, p


def case_absent_true_k6():
    rng = np.random.default_rng(4)
    n, k = 100, 6
    y = rng.integers(0, 4, size=n)  # classes 4 and 5 never occur in y_true
    logits = noisy_logits(rng, y, k, 1.0)
    logits[:, 5] -= 10.0  # class 5 is never predicted either
    p = softmax_rounded(logits)
    pred = p.argmax(axis=1)
    assert (pred == 4).any() and not (pred == 5).any()
    return ("class 4 absent from y_true but predicted; class 5 absent from y_true and never predicted, "
            "K=6, N=100"), k, y, p


def case_binary_k2():
    rng = np.random.default_rng(5)
    y = (rng.random(100) < 0.35).astype(np.int64)
    return "binary K=2, N=100, 35% positives", 2, y, softmax_rounded(noisy_logits(rng, y, 2, 1.0))


def case_perfect_k3():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, size=30)
    return "perfect prediction, K=3, N=30", 3, y, softmax_rounded(noisy_logits(rng, y, 3, 20.0, noise=0.5))


def case_imbalanced_k10():
    rng = np.random.default_rng(7)
    n, k = 400, 10
    freq = 0.5 ** np.arange(k) + 0.005  # class 0 ~ half the samples, class 9 a handful
    y = rng.choice(k, size=n, p=freq / freq.sum())
    # Prior-shifted logits: the model leans toward frequent classes.
    logits = noisy_logits(rng, y, k, 1.8) + np.log(freq)[None, :] * 0.5
    return "imbalanced K=10, N=400, geometric class frequencies", k, y, softmax_rounded(logits)


def case_single_class_truth_k3():
    rng = np.random.default_rng(8)
    y = np.ones(25, dtype=np.int64)
    return "every true label is class 1: no class has a defined AUC, K=3, N=25", 3, y, softmax_rounded(
        noisy_logits(rng, y, 3, 0.8))


CASES = [
    ("random_k5", case_random_k5),
    ("ties_k4", case_ties_k4),
    ("never_predicted_k4", case_never_predicted_k4),
    ("absent_true_k6", case_absent_true_k6),
    ("binary_k2", case_binary_k2),
    ("perfect_k3", case_perfect_k3),
    ("imbalanced_k10", case_imbalanced_k10),
    ("single_class_truth_k3", case_single_class_truth_k3),
]


def nan_to_none(v):
    v = float(v)
    return None if math.isnan(v) else v


def expected_for(y, p, k):
    labels = list(range(k))
    y_pred = p.argmax(axis=1)  # numpy: the first maximum wins ties
    onehot = (y[:, None] == np.arange(k)[None, :]).astype(np.int64)
    with warnings.catch_warnings():
        # Classes without positives (AP, AUC) or predictions (precision) warn.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)
        prec, rec, f1, support = precision_recall_fscore_support(
            y, y_pred, labels=labels, average=None, zero_division=0)
        mprec, mrec, mf1, _ = precision_recall_fscore_support(
            y, y_pred, labels=labels, average="macro", zero_division=0)
        ap = [average_precision_score(onehot[:, c], p[:, c]) for c in labels]
        m_ap = average_precision_score(onehot, p, average="macro")
        auc = []
        for c in labels:
            both = 0 < onehot[:, c].sum() < len(y)
            auc.append(roc_auc_score(onehot[:, c], p[:, c]) if both else None)

    defined = [a for a in auc if a is not None]
    macro_auc = float(np.mean(defined)) if defined else None
    # Cross-checks: the per-class route equals scikit-learn's own averaging
    # wherever the latter is defined.
    assert math.isclose(m_ap, np.mean(ap), abs_tol=1e-12)
    if len(defined) == k:
        if k > 2:
            ovr = roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
        else:
            ovr = roc_auc_score(y, p[:, 1])
        assert math.isclose(ovr, macro_auc, abs_tol=1e-12), (ovr, macro_auc)

    return {
        "y_pred": y_pred.tolist(),
        "accuracy": float(accuracy_score(y, y_pred)),
        "macro_precision": float(mprec),
        "macro_recall": float(mrec),
        "macro_f1": float(mf1),
        "map": float(m_ap),
        "macro_auc": macro_auc,
        "auc_classes": len(defined),
        "precision": [float(v) for v in prec],
        "recall": [float(v) for v in rec],
        "f1": [float(v) for v in f1],
        "support": [int(v) for v in support],
        "ap": [nan_to_none(v) for v in ap],
        "auc": [nan_to_none(v) if v is not None else None for v in auc],
        "confusion_matrix": confusion_matrix(y, y_pred, labels=labels).tolist(),
    }


def dump(obj, indent=0):
    """JSON with one line per row: lists of scalars stay on one line."""
    pad = " " * indent
    if isinstance(obj, dict):
        items = [f'{pad} {json.dumps(key)}: {dump(val, indent + 1).lstrip()}' for key, val in obj.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        return pad + "[\n" + ",\n".join(dump(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return pad + json.dumps(obj, allow_nan=False)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in CASES:
        description, k, y, p = make()
        y = np.asarray(y, dtype=np.int64)
        p = np.asarray(p, dtype=np.float64)
        case = {
            "name": name,
            "description": description,
            "generator": "scripts/make-metric-fixtures.py",
            "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__,
            "k": k,
            "y_true": y.tolist(),
            "probs": [[float(v) for v in row] for row in p],
            "expected": expected_for(y, p, k),
        }
        path = OUT / f"{name}.json"
        path.write_text(dump(case) + "\n")
        print(f"wrote {path.relative_to(OUT.parent.parent)} ({path.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
