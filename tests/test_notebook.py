"""trustshield.train and trustshield.score: the notebook workflow on DataFrames gives what the
file pipeline gives on the same rows, and refuses what the REST API refuses, naming the row
and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import trustshield
from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.errors import DataError, SpecError
from trustshield.ingest.validate import check_frame
from trustshield.model_folder import load_model, save_model
from trustshield.notebook import IN_MEMORY, frame_sha256, spec_and_text, validated
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import train as train_pipeline
from trustshield.pipeline.train_config import TrainConfig
from trustshield.specs import parse_spec, read_spec_text

#: a quick model: few trees and prototypes, one LightGBM thread (see synthetic.train_small)
QUICK = TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """300 records of FLOWS_SPEC as a user builds them: ints, floats, strings."""
    rows = synthetic_flows()
    for name in ("n", "t", "b", "difficulty"):
        rows[name] = rows[name].astype(np.int64)
    return rows


@pytest.fixture(scope="module")
def model(frame):
    return trustshield.train(frame, spec=FLOWS_SPEC, config=QUICK)


@pytest.fixture(scope="module")
def pipeline_model(frame):
    """The same rows through the file path: check_frame as TableSource does, then train."""
    checked = check_frame(frame, FLOWS_SPEC, file="flows.csv", lines=np.arange(1, len(frame) + 1))
    return train_pipeline(
        checked.frame,
        FLOWS_SPEC,
        FLOWS_SPEC_TEXT,
        config=QUICK,
        provenance={"data": {"name": "flows.csv"}},
    )


def test_train_and_score_agree_with_the_pipeline_on_the_same_rows(model, pipeline_model, frame):
    scored = trustshield.score(model, frame)
    checked = check_frame(frame, FLOWS_SPEC, file="flows.csv", lines=np.arange(len(frame)))
    reference = score_batch(pipeline_model, checked.frame)
    assert list(scored.actions) == list(reference.decision.actions)
    np.testing.assert_array_equal(scored.suspicion, reference.decision.suspicion)
    flagged = [i for i, e in enumerate(scored.explanations) if e is not None]
    assert flagged == list(reference.flagged)
    assert [scored.explanations[i].rationale for i in flagged] == list(reference.rationales)
    assert {"alert", "allow"} <= set(scored.actions)


def test_train_takes_the_spec_positionally_with_default_config_and_provenance(frame, tmp_path):
    small = frame.iloc[::3].reset_index(drop=True)  # 100 rows: keep the default fit short
    model = trustshield.train(small, FLOWS_SPEC)
    trials = save_model(model, tmp_path / "m")["metrics"]["capacity_trials"]
    assert len(trials) == 2 and sum(t["chosen"] for t in trials) == 1
    shape = ("n_estimators", "num_leaves", "max_depth", "learning_rate")
    chosen = {k: model.training["config"][k] for k in shape}
    assert chosen in [{k: t[k] for k in shape} for t in model.training["capacity_trials"]]
    assert {k: v for k, v in model.training["config"].items() if k not in shape} == {
        k: v for k, v in TrainConfig().__dict__.items() if k not in shape
    }
    data = model.training["data"]
    assert data == {
        "name": IN_MEMORY,
        "sha256": frame_sha256(validated(small, FLOWS_SPEC)),
        "rows": 100,
        "rejected_rows": 0,
    }
    assert len(data["sha256"]) == 64


def test_frame_digest_depends_on_the_rows_not_on_how_the_frame_was_built(frame):
    as_floats = frame.astype({"n": np.float64, "t": np.float64})
    digest = frame_sha256(validated(frame, FLOWS_SPEC))
    assert frame_sha256(validated(as_floats, FLOWS_SPEC)) == digest
    reordered = frame.iloc[::-1].reset_index(drop=True)
    assert frame_sha256(validated(reordered, FLOWS_SPEC)) != digest


def test_spec_by_path_keeps_the_file_text(tmp_path, frame):
    path = tmp_path / "flows.yaml"
    path.write_text(FLOWS_SPEC_TEXT)
    spec, text = spec_and_text(path)
    assert (spec, text) == (FLOWS_SPEC, FLOWS_SPEC_TEXT)
    model = trustshield.train(frame, spec=str(path), config=QUICK)
    assert model.spec == FLOWS_SPEC and model.spec_text == FLOWS_SPEC_TEXT


def test_builtin_spec_name_gives_the_text_the_command_line_stores():
    spec, text = spec_and_text("nsl-kdd")
    assert text == read_spec_text("nsl-kdd")[0]
    assert spec == trustshield.load_spec("nsl-kdd")


def test_a_spec_object_is_stored_as_yaml_that_loads_back_to_it(model, frame, tmp_path):
    assert parse_spec(yaml.safe_load(model.spec_text)) == FLOWS_SPEC
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.spec == FLOWS_SPEC
    np.testing.assert_array_equal(
        trustshield.score(loaded, frame).suspicion, trustshield.score(model, frame).suspicion
    )


def test_a_spec_of_another_type_is_refused(frame):
    with pytest.raises(SpecError, match="spec: expected a DatasetSpec.*got dict"):
        trustshield.train(frame, spec={"name": "x"})


def test_explanations_are_exact_and_ordered(model, frame):
    scored = trustshield.score(model, frame)
    for i, explanation in enumerate(scored.explanations):
        if scored.actions[i] == "allow":
            assert explanation is None
            continue
        total = explanation.base + sum(v for _, v in explanation.contributions)
        assert total == pytest.approx(scored.suspicion[i], abs=1e-6)
        magnitudes = [abs(v) for _, v in explanation.contributions]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert explanation.top(2) == explanation.contributions[:2]
        assert explanation.category in ("DoS", "Probe", "unknown")  # unknown: novelty only
        assert (
            explanation.technique
            == {"DoS": "T1499", "Probe": "T1046", "unknown": ""}[explanation.category]
        )


def test_to_frame_keeps_the_index_and_documented_columns(model, frame):
    labelled = frame.set_axis([f"r{i}" for i in range(len(frame))])
    table = trustshield.score(model, labelled).to_frame()
    assert list(table.columns) == ["action", "suspicion", "category", "technique", "rationale"]
    assert list(table.index) == list(labelled.index)
    allowed = table[table.action == "allow"]
    assert allowed.rationale.isna().all() and allowed.category.map(type).eq(type(None)).all()
    assert table[table.action != "allow"].rationale.map(len).gt(0).all()


def test_label_and_metadata_columns_are_optional_when_scoring(model, frame):
    features = frame.drop(columns=["label", "difficulty"])
    np.testing.assert_array_equal(
        trustshield.score(model, features).suspicion, trustshield.score(model, frame).suspicion
    )


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("n", -1, r"row 7, column 'n': got '-1', expected an integer in \[0, 1000\]"),
        ("n", 2.5, r"row 7, column 'n': got '2.5', expected an integer"),
        ("n", "12", r"row 7, column 'n': got '12', expected a JSON number .*not a string"),
        ("b", True, r"row 7, column 'b': got 'True', expected a JSON number .*not true"),
        ("p", "ftp", r"row 7, column 'p': got 'ftp', expected one of \{tcp, udp, icmp\}"),
        ("r", np.nan, r"row 7, column 'r': got '', expected a value \(the field is missing\)"),
        ("w", np.inf, r"row 7, column 'w': got 'inf', expected"),
    ],
)
def test_a_bad_value_is_refused_naming_row_and_column(model, frame, column, value, expected):
    bad = frame.astype({column: object})
    bad.loc[7, column] = value
    with pytest.raises(DataError, match=expected):
        trustshield.score(model, bad)
    with pytest.raises(DataError, match=expected):
        trustshield.train(bad, spec=FLOWS_SPEC, config=QUICK)


def test_a_broken_relation_is_refused_naming_it(model, frame):
    bad = frame.copy()
    row = int(np.flatnonzero(bad.p.to_numpy() == "icmp")[0])
    bad.loc[row, "n"] = 5
    with pytest.raises(DataError, match=rf"row {row}, column 'p\+n'.*icmp sends nothing"):
        trustshield.score(model, bad)


def test_the_index_label_of_a_bad_row_is_named(model, frame):
    bad = frame.set_axis([f"flow-{i}" for i in range(len(frame))])
    bad.loc["flow-4", "p"] = "ftp"
    with pytest.raises(DataError, match=r"row 4 \(index 'flow-4'\), column 'p'"):
        trustshield.score(model, bad)


def test_many_problems_are_counted_not_all_quoted(model, frame):
    bad = frame.assign(p="ftp")
    with pytest.raises(DataError, match=r"row 4, column 'p'.*; and at least 95 more problem"):
        trustshield.score(model, bad)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda f: f.drop(columns=["w", "r"]), r"lacks feature column\(s\) \['r', 'w'\]"),
        (lambda f: f.assign(port=80), r"row 0, column 'port'.*no such field"),
        (lambda f: f.iloc[:0], "holds no records"),
        (lambda f: pd.concat([f, f[["n"]]], axis=1), r"\['n'\] appear more than once"),
        (lambda f: f.to_numpy(), "expected a pandas DataFrame .* got ndarray"),
    ],
)
def test_a_frame_of_the_wrong_shape_is_refused(model, frame, change, expected):
    with pytest.raises(DataError, match=expected):
        trustshield.score(model, change(frame))


def test_identity_columns_are_accepted_and_checked(model, frame):
    named = frame.assign(src_ip="10.0.0.1", user="alice")
    np.testing.assert_array_equal(
        trustshield.score(model, named).suspicion, trustshield.score(model, frame).suspicion
    )
    named.loc[2, "src_ip"] = "not an address"
    with pytest.raises(DataError, match=r"row 2, column 'src_ip'"):
        trustshield.score(model, named)


def test_training_needs_labels(frame):
    with pytest.raises(DataError, match="label column 'label'"):
        trustshield.train(frame.drop(columns=["label"]), spec=FLOWS_SPEC, config=QUICK)


def test_an_nsl_kdd_frame_read_by_pandas_validates_to_what_the_file_reader_gives():
    """The CLI reads a file through TableSource; a notebook reads it with pandas. Both give
    the same typed rows, so score_batch (the one scoring function) sees the same input."""
    from trustshield.errors import DatasetMissing
    from trustshield.ingest import locate
    from trustshield.ingest.tabular import TableSource

    spec = trustshield.load_spec("nsl-kdd")
    try:
        path = locate(spec.dataset, spec.file("KDDTest-21.txt"))
    except DatasetMissing as missing:
        pytest.skip(f"needs the NSL-KDD test file: {missing}")
    read = pd.read_csv(path, header=None, names=spec.column_names)
    from_file = pd.concat([batch.frame for batch in TableSource(path, spec)], ignore_index=True)
    pd.testing.assert_frame_equal(validated(read, spec), from_file)
