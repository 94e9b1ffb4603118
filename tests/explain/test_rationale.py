"""Rationale lines: the strongest reasons, with what normal traffic looks like."""

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.explain.rationale import MIN_SHARE, TOP_REASONS, rationales
from trustshield.explain.reference import NormalReference

NAMES = ("count", "service", "src_bytes", "duration")


def reference():
    normal = pd.DataFrame(
        {
            "count": [1.0, 2, 3, 4],
            "service": [0.0, 0, 0, 1],
            "src_bytes": [100.0, 200, 300, 400],
            "duration": [0.0, 0, 1, 1],
        }
    )
    return NormalReference().fit(normal, categorical=("service",))


def lines(values, X=None):
    values = np.asarray(values, dtype=float)
    X = np.zeros_like(values) if X is None else np.asarray(X, dtype=float)
    asked = []

    def shown(j, rows):
        asked.append((j, tuple(rows)))
        return [f"v{j}r{i}" for i in rows]

    out = rationales(
        headlines=np.array(["DoS (T1499)"] * len(values), dtype=object),
        attributions=Attributions(NAMES, values, np.zeros(len(values))),
        X=X,
        shown=shown,
        reference=reference(),
    )
    return out, asked


def test_strongest_positive_reasons_come_first_with_normal_reference():
    [line], _ = lines([[0.5, 2.0, 1.0, -3.0]], X=[[9, 1, 50, 0]])
    assert line == (
        "DoS (T1499): service v1r0, 25.0 % of normal; "
        "src_bytes v2r0, normal median 250; count v0r0, normal median 2.5"
    )


def test_reasons_too_small_to_matter_are_left_out():
    small = MIN_SHARE / 2
    [line], _ = lines([[small, 1.0, 0.0, 0.0]])
    assert "count" not in line and line.count(";") == 0


def test_a_record_with_no_positive_contribution_names_its_largest_one():
    [line], _ = lines([[-0.1, -0.2, -5.0, -0.3]])
    assert line.startswith("DoS (T1499): src_bytes")


def test_only_the_cells_that_appear_are_formatted():
    out, asked = lines([[3.0, 2.0, 1.0, 0.5], [0.0, 0.0, 0.0, 4.0]])
    cells = {(j, r) for j, rows in asked for r in rows}
    assert cells == {(0, 0), (1, 0), (2, 0), (3, 1)}
    assert len(out) == 2 and all(line.count(";") < TOP_REASONS for line in out)


def test_no_rows_gives_no_lines():
    out, asked = lines(np.empty((0, 4)))
    assert out.shape == (0,) and asked == []


def test_a_compared_row_names_its_reference_instead_of_the_population():
    values = np.array([[2.0, 1.0, 0.0, 0.0], [2.0, 1.0, 0.0, 0.0]])
    compared = np.array([[7.0, 2.0, 0.0, 0.0], [np.nan] * 4])
    out = rationales(
        headlines=np.array(["h", "h"], dtype=object),
        attributions=Attributions(NAMES, values, np.zeros(2), compared),
        X=np.zeros((2, 4)),
        shown=lambda j, rows: [f"v{j}" for _ in rows],
        reference=reference(),
        encoded_text=lambda j, v: [f"p{x:g}" for x in v],
    )
    assert out[0] == "h: count v0, nearest normal profile p7; service v1, nearest normal profile p2"
    assert out[1] == "h: count v0, normal median 2.5; service v1, 75.0 % of normal"
