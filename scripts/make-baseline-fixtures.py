#!/usr/bin/env python3
"""Reference outputs for the fitted baselines (package baselines).

Writes baselines/testdata/sklearn_ref.json: a small multiclass problem
(float32 features, a few binary ones like a bag of words) with
scikit-learn's GradientBoostingClassifier and LogisticRegression
probabilities on held-out rows. The Go tests fit the same data and compare.

Run with the test venv: .venv/bin/python scripts/make-baseline-fixtures.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(7)
n_train, n_test, k = 200, 40, 3
n = n_train + n_test
y = rng.integers(0, k, size=n)
cont = rng.normal(size=(n, 4)) + y[:, None] * np.array([0.8, -0.5, 0.0, 0.3])
binary = (rng.random(size=(n, 3)) < (0.2 + 0.25 * (y[:, None] == np.arange(3)))).astype(float)
X = np.concatenate([cont, binary], axis=1).astype(np.float32)
Xtr, ytr, Xte = X[:n_train], y[:n_train], X[n_train:]

gb = GradientBoostingClassifier(n_estimators=15, learning_rate=0.2, max_depth=2, min_samples_leaf=10, random_state=0)
gb.fit(Xtr, ytr)
lr = LogisticRegression(C=0.7, tol=1e-10, max_iter=10000)
lr.fit(Xtr, ytr)

out = {
    "sklearn": sklearn.__version__,
    "classes": k,
    "x_train": Xtr.tolist(),
    "y_train": ytr.tolist(),
    "x_test": Xte.tolist(),
    "gbdt": {"rounds": 15, "learning_rate": 0.2, "depth": 2, "min_leaf": 10,
             "proba_train": gb.predict_proba(Xtr).tolist(),
             "proba_test": gb.predict_proba(Xte).tolist()},
    "logreg": {"c": 0.7, "proba_test": lr.predict_proba(Xte).tolist()},
}
path = pathlib.Path(__file__).resolve().parent.parent / "baselines" / "testdata" / "sklearn_ref.json"
path.write_text(json.dumps(out))
print("wrote", path)
