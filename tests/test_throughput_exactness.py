"""The throughput benchmark's independent exactness check (``benchmarks/throughput.py``):
Shapley values enumerated leaf by leaf agree with LightGBM's TreeSHAP on deep trees with
categorical splits and missing values, and say so when a path is too wide to enumerate."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import throughput  # noqa: E402


def deep_booster(seed: int = 0):
    """20 leaf-wise trees of up to 31 leaves, no depth limit, on 6 numeric features (one
    with missing values) and a categorical one: paths split on one feature several times."""
    rng = np.random.default_rng(seed)
    n = 1500
    X = rng.normal(size=(n, 7))
    X[:, 6] = rng.integers(0, 12, size=n)  # categorical codes
    X[rng.random(n) < 0.1, 2] = np.nan
    y = (
        (X[:, 0] * X[:, 1] > 0.2)
        | (np.nan_to_num(X[:, 2]) > 1.0)
        | np.isin(X[:, 6], [1, 4, 7])
        | (np.sin(3 * X[:, 3]) > 0.9)
    ).astype(int)
    params = dict(
        objective="binary",
        num_leaves=31,
        max_depth=-1,
        min_child_samples=5,
        verbose=-1,
        seed=seed,
        deterministic=True,
        num_threads=1,
    )
    data = lgb.Dataset(X, y, categorical_feature=[6])
    return lgb.train(params, data, 20), X


def test_leafwise_enumeration_equals_treeshap_on_deep_trees():
    booster, X = deep_booster()
    rows = X[:200]
    values, base, full, leaves, left_out, widest = throughput.enumerated_shapley(booster, rows)
    contrib = booster.predict(rows, pred_contrib=True)
    assert left_out == 0
    assert leaves == sum(t["num_leaves"] for t in booster.dump_model()["tree_info"])
    assert widest >= 3  # paths do split on several distinct features
    assert np.abs(values - contrib[:, :-1]).max() < 1e-9
    assert abs(base - contrib[0, -1]) < 1e-9
    assert np.abs(full - booster.predict(rows, raw_score=True)).max() < 1e-9


def test_enumeration_detects_a_wrong_attribution():
    """The comparison can fail: values from another model differ by far more than 1e-6."""
    booster, X = deep_booster()
    other, _ = deep_booster(seed=1)
    values, *_ = throughput.enumerated_shapley(booster, X[:50])
    assert np.abs(values - other.predict(X[:50], pred_contrib=True)[:, :-1]).max() > 1e-3


def test_paths_wider_than_the_limit_are_counted_not_enumerated(monkeypatch):
    booster, X = deep_booster()
    monkeypatch.setattr(throughput, "MAX_PATH_FEATURES", 2)
    *_, leaves, left_out, widest = throughput.enumerated_shapley(booster, X[:20])
    assert widest > 2
    assert left_out > 0
    assert leaves + left_out == sum(t["num_leaves"] for t in booster.dump_model()["tree_info"])
