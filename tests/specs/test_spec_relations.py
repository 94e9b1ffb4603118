"""Relation and Predicate semantics on small frames built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustshield.errors import SpecError
from trustshield.specs import Predicate, Relation, parse_spec

COLUMNS = [
    {"name": "proto", "type": "categorical", "values": ["tcp", "udp", "icmp"]},
    {"name": "bytes", "type": "integer", "min": 0},
    {"name": "err", "type": "rate"},
    {"name": "rej", "type": "rate"},
]


def relation(raw: dict) -> Relation:
    """The single relation of a spec made of COLUMNS and ``raw``."""
    return parse_spec({"name": "rel", "columns": COLUMNS, "relations": [raw]}).relations[0]


FRAME = pd.DataFrame(
    {
        "proto": ["icmp", "icmp", "tcp", "udp"],
        "bytes": [0.0, 5.0, 5.0, 0.0],
        "err": [0.5, 0.5, 0.7, 0.0],
        "rej": [0.5, 0.505, 0.32, 0.0],
    }
)


def test_implies_flags_rows_where_condition_holds_and_consequence_fails():
    rel = relation(
        {
            "kind": "implies",
            "name": "icmp sends nothing",
            "if": {"column": "proto", "in": ["icmp"]},
            "then": {"column": "bytes", "equals": 0},
        }
    )
    # row 1: icmp with bytes; row 2: bytes but not icmp (condition false → no violation)
    assert rel.violated(FRAME).tolist() == [False, True, False, False]
    assert rel.involved() == ("proto", "bytes")
    assert "icmp" in rel.describe() and "bytes" in rel.describe()


def test_implies_is_vacuous_when_condition_never_holds():
    rel = relation(
        {
            "kind": "implies",
            "if": {"column": "bytes", "above": 100},
            "then": {"column": "proto", "in": ["udp"]},
        }
    )
    assert not rel.violated(FRAME).any()


def test_sum_at_most_respects_tolerance():
    loose = relation(
        {"kind": "sum_at_most", "columns": ["err", "rej"], "limit": 1.0, "tolerance": 0.01}
    )
    strict = relation({"kind": "sum_at_most", "columns": ["err", "rej"], "limit": 1.0})
    # sums: 1.0, 1.005, 1.02, 0.0
    assert loose.violated(FRAME).tolist() == [False, False, True, False]
    assert strict.violated(FRAME).tolist() == [False, True, True, False]
    assert loose.involved() == ("err", "rej")


def test_sum_at_most_uses_its_limit():
    half = relation({"kind": "sum_at_most", "columns": ["err", "rej"], "limit": 0.5})
    assert half.violated(FRAME).tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("in", ("tcp", "udp"), [False, False, True, True]),
        ("equals", 5.0, [False, True, True, False]),
        ("above", 0, [False, True, True, False]),
        ("at_most", 0, [True, False, False, True]),
    ],
)
def test_predicate_ops(op, value, expected):
    column = "proto" if op == "in" else "bytes"
    mask = Predicate(column=column, op=op, value=value).holds(FRAME)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    assert mask.tolist() == expected


def test_violated_returns_one_flag_per_row():
    rel = relation({"kind": "sum_at_most", "columns": ["err", "rej"]})
    assert rel.violated(FRAME.iloc[:0]).shape == (0,)
    assert rel.violated(FRAME).shape == (len(FRAME),)


@pytest.mark.parametrize(
    "call", [lambda r: r.violated(FRAME), lambda r: r.involved(), lambda r: r.describe()]
)
def test_an_implies_relation_without_its_consequence_is_a_spec_error(call):
    rel = Relation(
        kind="implies", name="half-open", condition=Predicate(column="bytes", op="above", value=0)
    )
    with pytest.raises(
        SpecError, match="relation 'half-open': 'implies' needs a condition and a consequence"
    ):
        call(rel)
