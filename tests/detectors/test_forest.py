"""Compiled LightGBM trees (:mod:`trustshield.detectors.forest`): raw scores and memoised
TreeSHAP equal LightGBM's own, with categorical splits, missing values and several
classes; the domain detector explains many names in blocks exactly as in one."""

import lightgbm as lgb
import numpy as np
import pytest

import trustshield.detectors.domain as domain_module
import trustshield.detectors.forest as forest_module
from domain_samples import domain_names
from trustshield.detectors.domain import DomainDetector
from trustshield.detectors.forest import Forest


def _data(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 40, size=n)  # a categorical column
    X[rng.random(n) < 0.1, 0] = np.nan  # missing numerical values
    X[rng.random(n) < 0.05, 3] = np.nan  # missing categories
    X[rng.random(n) < 0.1, 1] = 0.0
    y = (np.nan_to_num(X[:, 0]) + X[:, 1] ** 2 + (X[:, 3] % 3 == 0) > 1).astype(int)
    return X, y


def _booster(X, y, **params):
    data = lgb.Dataset(X, y, categorical_feature=[3])
    base = dict(num_leaves=15, max_depth=4, min_child_samples=5, verbose=-1, num_threads=1)
    return lgb.train({**base, **params}, data, 25)


@pytest.mark.parametrize("missing", [True, False])
@pytest.mark.parametrize("leaves", [15, 48])  # ≤ 16 internal nodes: dense index; else hashed
def test_raw_scores_and_contributions_equal_lightgbm(missing, leaves):
    X, y = _data(0)
    booster = _booster(
        X,
        y,
        objective="binary",
        use_missing=missing,
        zero_as_missing=False,
        num_leaves=leaves,
        max_depth=-1,
        min_child_samples=2,
    )
    forest = Forest(booster)
    assert forest._hashed == (forest.trees.internal.max() > forest_module.DENSE_CODE_BITS)
    assert forest._hashed == (leaves > 17)
    Z, _ = _data(1, 400)  # rows the trees were not fitted on
    np.testing.assert_array_equal(forest.raw(Z), booster.predict(Z, raw_score=True))
    expected = booster.predict(Z, pred_contrib=True)
    np.testing.assert_allclose(forest.contributions(Z), expected, rtol=0, atol=1e-12)
    # the second time every entry comes from the table
    used = forest._used
    np.testing.assert_allclose(forest.contributions(Z[::-1]), expected[::-1], rtol=0, atol=1e-12)
    assert forest._used == used


def test_zero_as_missing_and_multiclass_raw_scores():
    X, y = _data(2)
    y3 = y + (X[:, 2] > 0.5)
    booster = _booster(X, y3, objective="multiclass", num_class=3, zero_as_missing=True)
    Z, _ = _data(3, 300)
    np.testing.assert_array_equal(Forest(booster).raw(Z), booster.predict(Z, raw_score=True))


@pytest.mark.parametrize("leaves", [15, 48])
def test_the_table_starts_over_when_full(monkeypatch, leaves):
    X, y = _data(4)
    booster = _booster(X, y, objective="binary", num_leaves=leaves, max_depth=-1)
    monkeypatch.setattr(forest_module, "MAX_ENTRIES", 50)
    forest = Forest(booster)
    expected = booster.predict(X, pred_contrib=True)
    for rows in (slice(0, 5), slice(0, 300), slice(300, 600)):
        np.testing.assert_allclose(
            forest.contributions(X[rows]), expected[rows], rtol=0, atol=1e-12
        )
    assert forest._used <= max(50, 25 * 300)


def test_a_matrix_of_another_width_is_refused():
    X, y = _data(5)
    with pytest.raises(ValueError, match="expected a"):
        Forest(_booster(X, y, objective="binary")).raw(X[:, :3])


def test_domains_explained_in_blocks_equal_one_block(monkeypatch):
    X, y = domain_names()
    detector = DomainDetector(synthetic=40, pseudo=20, n_estimators=30).fit(X, y)
    whole = detector.explain_domains(X, name_above=0.0)
    whole_scores = detector.suspicion(X)
    monkeypatch.setattr(domain_module, "BLOCK", 7)
    blocks = detector.explain_domains(X, name_above=0.0)
    np.testing.assert_array_equal(detector.suspicion(X), whole_scores)
    assert blocks.domains == whole.domains and blocks.family == whole.family
    for key in ("score", "base", "parts", "characters", "term_parts", "family_p"):
        np.testing.assert_allclose(getattr(blocks, key), getattr(whole, key), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(blocks.term_ids, whole.term_ids)
    np.testing.assert_array_equal(blocks.term_ptr, whole.term_ptr)
    assert [blocks.ngrams(i) for i in range(5)] == [whole.ngrams(i) for i in range(5)]
    by_chars = blocks.base + blocks.characters.sum(axis=1)
    np.testing.assert_allclose(by_chars, whole_scores, rtol=0, atol=1e-9)


@pytest.mark.parametrize("trees, leaves", [(20, 8), (40, 31)])
def test_supervised_detector_explains_as_lightgbm_whatever_its_size(trees, leaves):
    """Small boosters are explained by LightGBM directly, large ones through the forest's
    table; both equal ``pred_contrib`` and sum to the raw margin."""
    import pandas as pd

    from trustshield.detectors.gbdt import FOREST_MIN_LEAVES, GradientBoostedDetector

    X, y = _data(6, 2000)
    frame = pd.DataFrame(np.nan_to_num(X[:, :3]), columns=["a", "b", "c"])
    labels = np.where(y == 1, "attack", "normal")
    detector = GradientBoostedDetector(
        n_estimators=trees, num_leaves=leaves, max_depth=-1, min_child_samples=2
    ).fit(frame, labels)
    explained = detector.explain(frame)
    through_forest = trees * leaves >= FOREST_MIN_LEAVES
    assert (getattr(detector, "_forest_cache", None) is not None) == through_forest
    expected = detector.booster_.predict(frame.to_numpy(), pred_contrib=True)
    np.testing.assert_allclose(explained.values, expected[:, :-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        explained.values.sum(axis=1) + explained.base, detector.suspicion(frame), atol=1e-9
    )
