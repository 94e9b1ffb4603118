"""Scoring and validating in small batches gives exactly what one big batch gives.

The service scores requests of a few records; ``detect`` and ``evaluate`` score whole
files. Every output (decisions, suspicion, attributions, categories, rationale text, the
problems validation finds) must not depend on how the records were cut into batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.ingest.validate import check_frame
from trustshield.pipeline.scoring import score_batch

BATCH_SIZES = (1, 7, 100)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)


def per_record(scored, n: int) -> dict[str, np.ndarray]:
    """Every output of one ScoredBatch as arrays over its n records (NaN/None/'' where a
    record was not flagged), so batches can be concatenated and compared."""
    d = scored.features.shape[1]
    out = {
        "action": np.asarray(scored.decision.actions, dtype=object),
        "suspicion": np.asarray(scored.decision.suspicion, dtype=np.float64),
        "component": scored.component,
        "features": scored.features,
        "flagged": np.zeros(n, dtype=bool),
    }
    out["flagged"][scored.flagged] = True
    for key, values, width in (
        ("values", scored.attributions.values, d),
        ("base", scored.attributions.base, None),
        ("reference", scored.attributions.reference, d),
        ("encoded", scored.encoded, d),
    ):
        full = np.full((n, width) if width else n, np.nan)
        if values is not None:
            full[scored.flagged] = values
        out[key] = full
    for key, values in (
        ("category", scored.categories),
        ("technique", scored.techniques),
        ("rationale", scored.rationales),
    ):
        full = np.full(n, "", dtype=object)
        full[scored.flagged] = values
        out[key] = full
    return out


def in_batches(model, frame: pd.DataFrame, size: int) -> dict[str, np.ndarray]:
    parts = [
        per_record(
            score_batch(model, frame.iloc[i : i + size].reset_index(drop=True)),
            len(frame.iloc[i : i + size]),
        )
        for i in range(0, len(frame), size)
    ]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@pytest.mark.parametrize("size", BATCH_SIZES)
def test_scoring_in_batches_matches_one_batch(model, frame, size):
    whole = per_record(score_batch(model, frame), len(frame))
    assert 0 < whole["flagged"].sum() < len(frame)  # some alerts, some allowed
    assert (whole["rationale"][whole["flagged"]] != "").all()
    cut = in_batches(model, frame, size)
    for key, expected in whole.items():
        got = cut[key]
        if expected.dtype.kind == "f":
            np.testing.assert_array_equal(got, expected, err_msg=key)  # bit for bit, NaN = NaN
        else:
            assert got.tolist() == expected.tolist(), key


def messy_raw(seed: int = 0, n: int = 230) -> pd.DataFrame:
    """Records of FLOWS_SPEC as text with bad fields: not numbers, out of range, not whole,
    empty, unknown categories, empty labels and broken relations."""
    frame = synthetic_flows(seed)
    raw = frame.iloc[:n].astype(str).astype(object).reset_index(drop=True)
    raw[["n", "t", "b", "difficulty"]] = (
        frame[["n", "t", "b", "difficulty"]].iloc[:n].astype(int).astype(str).to_numpy()
    )
    rng = np.random.default_rng(seed)
    bad = {
        "n": ["x", "-1", "1001", "2.5", "", None],
        "t": ["1e9", "nan", "abc"],
        "r": ["1.5", "-0.1", "inf", ""],
        "w": ["61", "ten"],
        "b": ["2", "0.5"],
        "p": ["TCP", "sctp", "", None],
        "label": ["", None],
        "difficulty": ["22"],
    }
    for column, values in bad.items():
        rows = rng.choice(n, size=2 * len(values), replace=False)
        raw.loc[rows, column] = [values[i % len(values)] for i in range(len(rows))]
    raw.loc[rng.choice(n, 6, replace=False), "p"] = "icmp"  # icmp that sends bytes
    raw.loc[rng.choice(n, 6, replace=False), ["r", "e"]] = ["0.7", "0.6"]  # rates sum > 1
    return raw


def problem_rows(problems) -> list[tuple]:
    return [dataclasses.astuple(p) for p in problems]


@pytest.mark.parametrize("size", BATCH_SIZES)
def test_check_frame_in_batches_finds_the_same_problems(size):
    raw = messy_raw()
    lines = np.arange(2, len(raw) + 2)
    whole = check_frame(raw, FLOWS_SPEC, file="flows.csv", lines=lines)
    columns = {p.column for p in whole.problems}
    assert {"n", "t", "r", "w", "b", "p", "label", "difficulty", "p+n", "r+e"} <= columns
    assert 0 < whole.rejected_rows < len(raw)
    parts = [
        check_frame(
            raw.iloc[i : i + size].reset_index(drop=True),
            FLOWS_SPEC,
            file="flows.csv",
            lines=lines[i : i + size],
        )
        for i in range(0, len(raw), size)
    ]
    assert problem_rows(p for part in parts for p in part.problems) == problem_rows(whole.problems)
    assert sum(part.rejected_rows for part in parts) == whole.rejected_rows
    np.testing.assert_array_equal(np.concatenate([part.lines for part in parts]), whole.lines)
    pd.testing.assert_frame_equal(
        pd.concat([part.frame for part in parts], ignore_index=True), whole.frame
    )


def pandas_violated(relation, frame: pd.DataFrame) -> np.ndarray:
    """The relation as pandas states it (isin / comparisons / skipna sums), written out
    independently of the spec's array code."""
    if relation.kind == "implies":

        def holds(p):
            col = frame[p.column]
            return {
                "in": lambda: col.isin(p.value),
                "equals": lambda: col == p.value,
                "above": lambda: col > p.value,
                "at_most": lambda: col <= p.value,
            }[p.op]()

        return (holds(relation.condition) & ~holds(relation.consequence)).to_numpy()
    return (
        frame[list(relation.columns)].sum(axis=1) > relation.limit + relation.tolerance
    ).to_numpy()


def test_relations_on_arrays_agree_with_pandas_on_typed_records():
    raw = messy_raw(seed=1)
    typed = check_frame(raw, FLOWS_SPEC, file="f", lines=np.arange(len(raw))).frame
    typed.loc[::5, "n"] = np.nan  # NaN never satisfies
    typed.loc[::7, "p"] = "icmp"
    typed.loc[::3, ["r", "e"]] = [0.9, 0.2]
    arrays = {name: typed[name].to_numpy() for name in typed.columns}
    for relation in FLOWS_SPEC.relations:
        expected = pandas_violated(relation, typed)
        assert expected.any(), relation.name
        np.testing.assert_array_equal(relation.violated(arrays), expected, err_msg=relation.name)
        np.testing.assert_array_equal(relation.violated(typed), expected, err_msg=relation.name)
