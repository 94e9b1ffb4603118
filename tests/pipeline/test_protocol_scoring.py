"""Scoring, training and robustness read the detector only through its protocol."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.assess.robustness.evasion import ModelTarget
from trustshield.decide.policy import ThresholdPolicy
from trustshield.detectors.protocol import Composite, part_scores_of, parts_of
from trustshield.errors import NotFittedError
from trustshield.model_folder import limit_threads, load_model, save_model
from trustshield.pipeline.detect import alerts_table
from trustshield.pipeline.scoring import part_names, score_batch
from trustshield.ingest.tabular import Batch


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)


def test_the_hybrid_is_a_composite_whose_part_scores_set_its_suspicion(model, frame):
    detector = model.detector
    X = model.encoder.transform(frame)
    assert isinstance(detector, Composite)
    scores = detector.part_scores(X)
    assert scores.shape == (len(frame), 2) and part_names(detector) == ("supervised", "novelty")
    np.testing.assert_array_equal(scores.max(axis=1), detector.suspicion(X))
    np.testing.assert_array_equal(part_scores_of(detector, X), scores)
    raw = np.column_stack([part.suspicion(X) for part in parts_of(detector)])
    np.testing.assert_array_equal(detector.scaled(raw), scores)
    # both parts set some rows' suspicion: the test below would prove nothing otherwise
    assert set(np.unique(scores.argmax(axis=1))) == {0, 1}


def test_out_of_fold_scores_are_known_after_fit_only(model, tmp_path):
    normal = int((synthetic_flows()["label"] == "normal").sum())
    assert model.detector.normal_out_of_fold().shape == (normal, 2)
    save_model(model, tmp_path / "m")
    with pytest.raises(NotFittedError, match="normal_out_of_fold"):
        load_model(tmp_path / "m").detector.normal_out_of_fold()


def test_scoring_names_the_part_that_set_each_alert(model, frame):
    scored = score_batch(model, frame)
    table = alerts_table(model, "sha", "run", Batch(frame, np.arange(len(frame))), scored)
    winners = scored.component[scored.flagged]
    assert set(winners) == {0, 1}
    expected = np.where(winners == 1, "novelty", "supervised")
    assert table.column("component").to_pylist() == expected.tolist()
    novel = np.array([", unlike normal traffic" in r for r in scored.rationales])
    np.testing.assert_array_equal(novel, winners == 1)


def test_a_model_with_a_plain_detector_scores_through_the_protocol(model, frame):
    """Any registered detector can sit in a model: one column of scores, its kind as the
    part name, categories from the detector when it names them."""
    supervised = model.detector.parts()["supervised"]
    X = model.encoder.transform(frame)
    normal = (frame["label"] == "normal").to_numpy()
    policy = ThresholdPolicy().fit(normal_scores=supervised.suspicion(X[normal]))
    plain = dataclasses.replace(model, detector=supervised, policy=policy)
    scored = score_batch(plain, frame)
    np.testing.assert_array_equal(scored.decision.suspicion, supervised.suspicion(X))
    assert scored.part_names == ("gbdt",) and not scored.component.any()
    assert len(scored.flagged) > 0
    np.testing.assert_allclose(
        scored.attributions.total(), scored.decision.suspicion[scored.flagged], atol=1e-6
    )
    np.testing.assert_array_equal(scored.categories, supervised.categorize(X.iloc[scored.flagged]))
    target = ModelTarget(plain)
    raw = frame[list(FLOWS_SPEC.feature_names)]
    objective, suspicion = target.excess(raw)
    np.testing.assert_array_equal(suspicion, supervised.suspicion(X))
    over = np.clip(suspicion - policy.review_threshold_, 0, None)
    np.testing.assert_allclose(objective, over + 1e-3 * suspicion)
    assert (over > 0).any()


def test_limit_threads_sets_the_parameter_on_every_part_that_has_it(frame):
    model = train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)
    before = model.detector.suspicion(model.encoder.transform(frame))
    limit_threads(model, 3)
    params = model.detector.get_params(deep=True)
    assert params["supervised__n_threads"] == 3
    assert params["novelty__n_threads"] == 3
    assert "n_threads" not in params  # the hybrid itself has none
    np.testing.assert_array_equal(model.detector.suspicion(model.encoder.transform(frame)), before)
