"""Fairness of authentication across subjects: who is turned away, who is let in.

Each attempt claims one subject's identity and is genuine (that subject) or an impostor
(someone else). At an operating point, per claimed subject:

    FRR = genuine attempts not accepted (step_up or deny) / genuine attempts
    FAR = impostor attempts accepted / impostor attempts

An impostor sent to step-up still faces a second factor, so only ``accept`` counts
towards FAR. Spread over subjects, each subject counting once whatever its number of
attempts (subjects without attempts of a class are left out of that rate):

- ``mean``: the unweighted mean over subjects;
- ``worst_decile``: the mean rate of the ⌈n / 10⌉ subjects with the highest rate (at
  least one subject), so with 56 subjects the worst 6;
- ``max_min_ratio``: highest rate / lowest rate, None when the lowest is 0 (the ratio is
  unbounded; ``max`` and ``min`` are reported beside it).

The per-subject table is Fairlearn's ``MetricFrame`` with the claimed subject as the
sensitive feature (y_true = genuine, y_pred = accepted: FRR is its false-negative rate,
FAR its false-positive rate). :func:`fairness_table` sets two operating points side by
side (``before`` and ``after`` a mitigation such as per-user calibration) and
:func:`fairness_evidence` turns that into Evidence against the bars in :data:`BARS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate

from trustshield.assess.evidence import FAIRNESS, at_most
from trustshield.records import ACCEPT, DENY, STEP_UP, Evidence

#: a mitigation must at least halve the worst-decile FRR and raise mean FAR by ≤ 0.01
BARS = {"worst_decile_frr_ratio": 0.5, "mean_far_increase": 0.01}
WORST_SHARE = 0.10
ACTIONS = (ACCEPT, STEP_UP, DENY)


def subject_rates(*, subjects, genuine, actions) -> pd.DataFrame:
    """FRR and FAR per claimed subject (index), with the attempt counts behind them.

    ``subjects`` (n,) the identity each attempt claims, ``genuine`` (n,) True when the
    attempt came from that subject, ``actions`` (n,) accept / step_up / deny.
    """
    subjects = np.asarray(subjects).astype(str)
    genuine = np.asarray(genuine, dtype=bool)
    actions = np.asarray(actions, dtype=object)
    if not len(subjects) == len(genuine) == len(actions):
        raise ValueError(
            f"subjects, genuine and actions must have one entry per attempt, "
            f"got {len(subjects)}, {len(genuine)} and {len(actions)}"
        )
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"actions must be among {ACTIONS}, got {sorted(map(str, unknown))}")
    frame = MetricFrame(
        metrics={"frr": false_negative_rate, "far": false_positive_rate},
        y_true=genuine.astype(int),
        y_pred=(actions == ACCEPT).astype(int),
        sensitive_features=pd.Series(subjects, name="subject"),
    )
    rates = frame.by_group.astype(float)
    counts = pd.DataFrame({"subject": subjects, "genuine": genuine}).groupby("subject")["genuine"]
    rates["genuine_attempts"] = counts.sum().astype(int)
    rates["impostor_attempts"] = (counts.size() - counts.sum()).astype(int)
    rates.loc[rates["genuine_attempts"] == 0, "frr"] = np.nan  # Fairlearn reports 0 there
    rates.loc[rates["impostor_attempts"] == 0, "far"] = np.nan
    return rates


def spread(rates: pd.Series) -> dict:
    """mean, worst decile, max, min and max/min ratio of per-subject rates (NaN skipped)."""
    values = np.sort(rates.dropna().to_numpy(dtype=float))[::-1]
    if len(values) == 0:
        return {"mean": None, "worst_decile": None, "max": None, "min": None, "max_min_ratio": None}
    worst = values[: max(1, math.ceil(WORST_SHARE * len(values)))]
    low, high = float(values[-1]), float(values[0])
    return {
        "mean": float(values.mean()),
        "worst_decile": float(worst.mean()),
        "max": high,
        "min": low,
        "max_min_ratio": high / low if low > 0 else None,
    }


def fairness_summary(rates: pd.DataFrame) -> dict:
    """Spread of FRR and FAR over subjects as flat keys (``mean_frr``, ``worst_decile_frr``,
    ``frr_max_min_ratio``, … and the same for far)."""
    summary = {"subjects": int(len(rates))}
    for rate in ("frr", "far"):
        figures = spread(rates[rate])
        summary.update(
            {
                f"mean_{rate}": figures["mean"],
                f"worst_decile_{rate}": figures["worst_decile"],
                f"max_{rate}": figures["max"],
                f"min_{rate}": figures["min"],
                f"{rate}_max_min_ratio": figures["max_min_ratio"],
            }
        )
    return summary


def fairness_table(*, before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """Two operating points side by side: ``before`` and ``after`` (per-subject rates
    from :func:`subject_rates`), their summaries, the two headline changes and the
    per-subject rows."""
    first, second = fairness_summary(before), fairness_summary(after)
    old, new = first["worst_decile_frr"], second["worst_decile_frr"]
    ratio = new / old if old and new is not None else None
    far_rise = (
        second["mean_far"] - first["mean_far"]
        if None not in (first["mean_far"], second["mean_far"])
        else None
    )
    joined = (
        before[["frr", "far"]]
        .add_suffix("_before")
        .join(after[["frr", "far"]].add_suffix("_after"), how="outer")
    )
    rows = [
        {"subject": str(s), **{k: _finite_or_none(v) for k, v in row.items()}}
        for s, row in joined.iterrows()
    ]
    return {
        "before": first,
        "after": second,
        "worst_decile_frr_ratio": ratio,
        "mean_far_increase": far_rise,
        "per_subject": rows,
    }


def fairness_evidence(table: dict) -> list[Evidence]:
    """Did the mitigation make FRR fairer without letting impostors in? A ratio that
    cannot be formed (worst-decile FRR was already 0) is not evidenced."""
    return [
        at_most(
            "fairness mitigation",
            "worst-decile FRR after ÷ before mitigation, over "
            f"{table['after']['subjects']} subjects",
            table.get("worst_decile_frr_ratio"),
            BARS["worst_decile_frr_ratio"],
            FAIRNESS,
        ),
        at_most(
            "fairness cost",
            "rise in mean FAR over subjects from the mitigation",
            table.get("mean_far_increase"),
            BARS["mean_far_increase"],
            FAIRNESS,
        ),
    ]


def decide_attempts(
    policies: Mapping[str, object], attempts: Iterable[tuple[str, bool, object]]
) -> dict:
    """Decide every ``(claimed_subject, genuine, scores)`` attempt with the claimed
    subject's policy; returns ``subjects``, ``genuine``, ``actions`` for
    :func:`subject_rates`."""
    subjects, genuine, actions = [], [], []
    for subject, is_genuine, scores in attempts:
        subjects.append(subject)
        genuine.append(bool(is_genuine))
        actions.append(policies[subject].decide(scores).action)
    return {"subjects": subjects, "genuine": genuine, "actions": actions}


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
