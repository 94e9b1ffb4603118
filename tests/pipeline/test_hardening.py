"""Hardening: monotone constraints hold, adversarial training adds only feasible variants,
and a defence is kept only within the clean-data bar."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.pipeline.hardening import adversarial_training_rows, keep, train_hardened
from trustshield.assess.robustness.moves import Budget
from trustshield.errors import DataError
from trustshield.pipeline.train import TrainConfig, monotone_directions
from trustshield.specs import infeasibility

FAST = TrainConfig(n_prototypes=8, n_estimators=8, n_threads=1, capacity="fixed")
FEATURES = list(FLOWS_SPEC.feature_names)


@pytest.fixture(scope="module")
def frame():
    return synthetic_flows()


@pytest.fixture(scope="module")
def monotone_model(frame):
    return train_hardened(
        frame, FLOWS_SPEC, FLOWS_SPEC_TEXT, defences=("monotone",), config=FAST, provenance={}
    )


def test_directions_come_from_the_spec():
    assert monotone_directions(FLOWS_SPEC) == {"n": 1, "t": 1, "w": -1}


def test_monotone_supervised_score_never_falls_the_way_an_attacker_can_move(monotone_model, frame):
    supervised = monotone_model.detector.parts()["supervised"]
    assert supervised.get_params()["monotone"] == {"n": 1, "t": 1, "w": -1}
    X = monotone_model.encoder.transform(frame)
    base = supervised.suspicion(X)
    for name, sign, steps in (
        ("n", 1, (1, 10, 100, 500)),
        ("t", 1, (1, 5, 30)),
        ("w", -1, (0.5, 5, 20)),
    ):
        for step in steps:
            moved = X.copy()
            moved[name] = moved[name] + sign * step
            assert (supervised.suspicion(moved) >= base - 1e-12).all(), (name, step)


def test_without_the_constraint_the_score_can_fall_when_bytes_grow(frame):
    plain = train_hardened(
        frame, FLOWS_SPEC, FLOWS_SPEC_TEXT, defences=(), config=FAST, provenance={}
    )
    X = plain.encoder.transform(frame)
    moved = X.copy()
    moved["n"] = moved["n"] + 500
    assert (
        plain.detector.parts()["supervised"].suspicion(moved)
        < plain.detector.parts()["supervised"].suspicion(X)
    ).any()


def test_adversarial_rows_are_feasible_labelled_variants_of_training_attacks(monotone_model, frame):
    rows = adversarial_training_rows(monotone_model, frame, n=60, seed=2)
    assert len(rows) > 0 and list(rows.columns) == list(frame.columns)
    originals = frame.loc[rows.index]
    assert (rows.label.to_numpy() == originals.label.to_numpy()).all()
    assert (rows.label != "normal").all()
    assert not any(infeasibility(FLOWS_SPEC, originals[FEATURES], rows[FEATURES]))
    assert Budget().allows(FLOWS_SPEC, originals[FEATURES], rows[FEATURES]).all()
    assert (rows[FEATURES].to_numpy() != originals[FEATURES].to_numpy()).any(axis=1).all()


def test_adversarial_training_retrains_on_the_added_rows_and_records_it(frame):
    model = train_hardened(
        frame,
        FLOWS_SPEC,
        FLOWS_SPEC_TEXT,
        defences=("adversarial",),
        config=FAST,
        provenance={"data": {"name": "synthetic"}},
    )
    added = model.training["hardening"]["adversarial_rows"]
    assert added > 0 and model.training["rows"] == len(frame) + added
    assert model.training["data"] == {"name": "synthetic"}


def test_unknown_defence_is_refused_before_training(frame):
    with pytest.raises(DataError, match="unknown defence"):
        train_hardened(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT, defences=("dropout",), provenance={})


@pytest.mark.parametrize(
    "accuracy, fpr, kept",
    [
        (0.890, 0.100, True),
        (0.880, 0.100, True),
        (0.879, 0.100, False),
        (0.900, 0.105, True),
        (0.900, 0.1051, False),
    ],
)
def test_keep_allows_at_most_the_stated_clean_data_cost(accuracy, fpr, kept):
    verdict = keep({"accuracy": 0.890, "fpr": 0.100}, {"accuracy": accuracy, "fpr": fpr})
    assert verdict["kept"] is kept
    assert verdict["clean_accuracy_delta"] == pytest.approx(accuracy - 0.890)
    assert np.isclose(verdict["fpr_delta"], fpr - 0.100)


@pytest.mark.slow
def test_train_command_applies_the_requested_defences(frame, tmp_path):
    from trustshield.cli import main
    from trustshield.model_folder import load_model

    (tmp_path / "flows.yaml").write_text(FLOWS_SPEC_TEXT, encoding="utf-8")
    frame.to_csv(tmp_path / "flows.csv", index=False)
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "flows.csv"),
                "--spec",
                str(tmp_path / "flows.yaml"),
                "--out",
                str(tmp_path / "model"),
                "--harden",
                "monotone",
                "--harden",
                "adversarial",
            ]
        )
        == 0
    )
    model = load_model(tmp_path / "model")
    assert model.detector.get_params()["supervised__monotone"] == {"n": 1, "t": 1, "w": -1}
    assert model.training["hardening"]["defences"] == ["adversarial", "monotone"]
    assert model.training["hardening"]["adversarial_rows"] > 0
