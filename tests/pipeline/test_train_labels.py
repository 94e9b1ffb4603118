"""Training honours the spec's normal label: a table whose normal records are labelled
"BENIGN" trains the same model as the same table labelled "normal"."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.errors import DataError
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import train
from trustshield.pipeline.train_config import TrainConfig
from trustshield.specs import parse_spec

QUICK = TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed")
BENIGN_TEXT = FLOWS_SPEC_TEXT.replace("normal: normal", "normal: BENIGN")
BENIGN_SPEC = parse_spec(yaml.safe_load(BENIGN_TEXT))


def relabelled(frame, old, new):
    out = frame.copy()
    out["label"] = out["label"].where(out["label"] != old, new)
    return out


def fit(frame, spec, text):
    return train(frame, spec, text, config=QUICK, provenance={})


def test_a_normal_label_other_than_normal_trains_the_same_model():
    frame = synthetic_flows()
    reference = fit(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)
    benign = relabelled(frame, "normal", "BENIGN")
    model = fit(benign, BENIGN_SPEC, BENIGN_TEXT)
    assert model.training["normal_rows"] == reference.training["normal_rows"] == 180
    assert model.training["selection"] == reference.training["selection"]
    scored, expected = score_batch(model, benign), score_batch(reference, frame)
    np.testing.assert_array_equal(scored.decision.suspicion, expected.decision.suspicion)
    assert list(scored.decision.actions) == list(expected.decision.actions)


def test_an_attack_named_like_the_detectors_normal_label_is_refused_with_its_row():
    frame = relabelled(relabelled(synthetic_flows(), "normal", "BENIGN"), "flood", "normal")
    with pytest.raises(DataError, match=r"row 181: an attack is named 'normal'.*'BENIGN'"):
        fit(frame, BENIGN_SPEC, BENIGN_TEXT)


def test_a_table_without_its_normal_label_says_which_label_marks_normal():
    with pytest.raises(DataError, match=r"label 'BENIGN' marks normal.*found 0 normal of 300"):
        fit(synthetic_flows(), BENIGN_SPEC, BENIGN_TEXT)
