"""Behaviour detection from labelled or unlabelled conn logs to incidents.

:func:`fit_behaviour` learns, from training scenarios (one conn log each):

- a site baseline (``behaviour-baseline``, no labels needed; labels, when present, keep
  the malicious rows out of it) over the volume and fan-out features
  :data:`BASELINE_FEATURES`, combined by their largest deviation;
- when labels hold both classes, a supervised model (``behaviour``) over all behaviour
  features;

and each one's operating point by leave-one-scenario-out over the training scenarios
(:mod:`trustshield.incidents.operating`): no threshold sees the data it is judged on. A
channel window is flagged when either detector's suspicion is above its operating
point; :func:`detect_incidents` groups the flagged windows into incidents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from functools import partial

import numpy as np
import pandas as pd

from trustshield.detectors.behaviour import BehaviourModel, SiteBaselineDetector
from trustshield.detectors.gbdt import GradientBoostedDetector
from trustshield.detectors.protocol import Attributions, Detector
from trustshield.errors import DataError
from trustshield.features.behaviour import (
    CHECKPOINTS,
    FEATURES,
    BehaviourTable,
    Checkpoint,
    checkpoint_tables,
    table_with_checkpoints,
)
from trustshield.incidents.grouping import Incident, evidence_flows, group_incidents, known_at
from trustshield.incidents.operating import HeldOut, operating_point

#: what the site baseline watches: rate to one channel, fan-out, bytes sent outside
BASELINE_FEATURES = ("rate_per_min", "dsts_on_port", "ports_on_dst", "upload_external")
MALICIOUS = "malicious"
MODEL_FORMAT = "trustshield-behaviour-model/1"
#: the features the behaviour names rest on (a smaller supervised model)
COMPACT_FEATURES = (
    "rate_per_min",
    "failed_share",
    "unanswered_share",
    "duration_max",
    "retried_session",
    "interval_dispersion",
    "beacon_score",
    "dsts_on_port",
    "ports_on_dst",
    "upload_external",
    "dst_rarity_host",
    "dst_local",
    "tcp",
)
#: what a host does rather than how regularly: sessions, fan-out, uploads, rarity (no
#: beacon regularity or failed share, which benign keep-alive channels share with C&C)
SESSION_FEATURES = (
    "duration_max",
    "retried_session",
    "dsts_on_port",
    "ports_on_dst",
    "upload_external",
    "dst_rarity_host",
    "dst_local",
    "tcp",
)
#: supervised detector kinds and how to build one for a few hundred channel windows
SUPERVISED_KINDS: dict[str, Callable[[], Any]] = {
    "behaviour": BehaviourModel,
    "gbdt": lambda: GradientBoostedDetector(
        n_estimators=80, num_leaves=4, max_depth=2, min_child_samples=5, n_threads=1
    ),
}


@dataclass(frozen=True)
class Scenario:
    """One conn log: its flows, their channel windows, the windows as they stood at each
    checkpoint (:func:`~trustshield.features.behaviour.checkpoint_tables`) and, when
    labelled, ``malicious`` (m,) bool per flow (from the ``label`` column; never a
    feature)."""

    name: str
    flows: pd.DataFrame
    table: BehaviourTable
    malicious: np.ndarray | None
    checkpoints: tuple[Checkpoint, ...] = ()


def scenario(
    name: str,
    flows: pd.DataFrame,
    *,
    window_s: float = 3600.0,
    fractions: tuple[float, ...] = CHECKPOINTS,
) -> Scenario:
    """A :class:`Scenario` of ``flows``; labelled when they have a ``label`` column."""
    malicious = None
    if "label" in flows.columns:
        malicious = flows["label"].astype(str).str.lower().eq(MALICIOUS).to_numpy()
    table, stages = table_with_checkpoints(flows, window_s=window_s, fractions=fractions)
    return Scenario(name, flows, table, malicious, stages)


def staged_suspicion(
    detector: Any, columns: list[str], table: BehaviourTable, stages: tuple[Checkpoint, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``table``, from ``detector`` (anything with ``suspicion``): suspicion
    (K + 1, n) at each checkpoint (row k for
    ``stages[k]``, -inf where the window had no flow yet) and, last, of the whole window;
    and the row (K + 1, n) of each checkpoint's table it was read from (-1: none)."""
    n = len(table)
    scores = np.full((len(stages) + 1, n), -np.inf)
    rows = np.full((len(stages) + 1, n), -1, np.int64)
    for k, stage in enumerate(stages):
        got = stage.full_row >= 0
        if got.any():
            part = detector.suspicion(stage.table.features[columns])
            scores[k, stage.full_row[got]] = part[got]
            rows[k, stage.full_row[got]] = np.flatnonzero(got)
    scores[-1] = detector.suspicion(table.features[columns]) if n else scores[-1]
    rows[-1] = np.arange(n)
    return scores, rows


@dataclass(frozen=True)
class BehaviourDetection:
    """Fitted detectors and their operating points (flag: suspicion > threshold)."""

    baseline: SiteBaselineDetector
    baseline_threshold: float
    supervised: Detector | None
    supervised_threshold: float
    persist: bool = True
    window_s: float = 3600.0
    early: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (no pickle): both detectors' states and their operating points
        (an infinite threshold, "never", is written as null)."""
        return {
            "format": MODEL_FORMAT,
            "baseline": self.baseline.to_dict(),
            "baseline_threshold": _finite(self.baseline_threshold),
            "supervised": None if self.supervised is None else self.supervised.to_dict(),
            "supervised_threshold": _finite(self.supervised_threshold),
            "persist": self.persist,
            "window_s": self.window_s,
            "early": self.early,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BehaviourDetection:
        """The model :meth:`to_dict` wrote; DataError for another document."""
        from trustshield.detectors.registry import detector_from_dict

        if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
            raise DataError(f"expected a behaviour model ({MODEL_FORMAT}), got another document")
        baseline = detector_from_dict(state["baseline"])
        if not isinstance(baseline, SiteBaselineDetector):
            raise DataError("a behaviour model's baseline must be of kind behaviour-baseline")
        supervised = (
            None if state["supervised"] is None else detector_from_dict(state["supervised"])
        )
        return cls(
            baseline,
            _threshold(state["baseline_threshold"]),
            supervised,
            _threshold(state["supervised_threshold"]),
            bool(state["persist"]),
            float(state["window_s"]),
            bool(state.get("early", False)),
        )

    def flag(
        self, table: BehaviourTable, stages: tuple[Checkpoint, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Attributions, np.ndarray]:
        """Per row: flagged (n,) bool, suspicion (n,) of the detector that flagged it (or
        of the baseline), that detector's kind (n,), the attributions of the flagged rows
        (exact for the detector named, at the checkpoint where it was most suspicious) and
        ``early`` (n,): s since the epoch when a checkpoint first flagged the row (+inf:
        only the closed window did, or nothing). With ``early``, a row's suspicion is the
        highest it reached at any checkpoint of ``stages`` or at the window's close."""
        stages = stages if self.early else ()
        columns_b = list(BASELINE_FEATURES)
        base_s, base_rows = staged_suspicion(self.baseline, columns_b, table, stages)
        if self.supervised is None:
            sup_s = np.full_like(base_s, -np.inf)
            sup_rows = base_rows
        else:
            sup_s, sup_rows = staged_suspicion(
                self.supervised, _columns(self.supervised), table, stages
            )
        over = (base_s > self.baseline_threshold) | (sup_s > self.supervised_threshold)
        early = np.full(len(table), np.inf)
        for k, stage in enumerate(stages):
            hit = over[k] & (base_rows[k] >= 0)
            early[hit] = np.minimum(early[hit], stage.known[base_rows[k][hit]])
        best_b, best_s = base_s.max(axis=0), sup_s.max(axis=0)
        margin_b = best_b - self.baseline_threshold
        margin_s = best_s - self.supervised_threshold
        use_sup = margin_s > margin_b
        flagged = (margin_b > 0) | (margin_s > 0)
        suspicion = np.where(use_sup, best_s, best_b)
        sup_kind = "behaviour" if self.supervised is None else self.supervised.kind
        kinds = np.where(use_sup, sup_kind, "behaviour-baseline").astype(object)
        rows = np.flatnonzero(flagged)
        values = np.zeros((len(rows), len(FEATURES)))
        base = np.zeros(len(rows))
        tables = [s.table for s in stages] + [table]
        for kind, detector, columns, scores, where in (
            ("behaviour-baseline", self.baseline, columns_b, base_s, base_rows),
            (sup_kind, self.supervised, _columns(self.supervised), sup_s, sup_rows),
        ):
            mine = kinds[rows] == kind
            if detector is None or not mine.any():
                continue
            index = np.array([FEATURES.index(c) for c in columns], dtype=np.intp)
            picked = rows[mine]
            stage_of = scores[:, picked].argmax(axis=0)
            out = np.flatnonzero(mine)
            for k in np.unique(stage_of):
                at = stage_of == k
                got = detector.explain(tables[k].features.iloc[where[k, picked[at]]][columns])
                values[np.ix_(out[at], index)] = got.values
                base[out[at]] = got.base
        return flagged, suspicion, kinds, Attributions(FEATURES, values, base), early


def fit_behaviour(
    training: Sequence[Scenario],
    *,
    max_fpr: float = 0.01,
    persist: bool = True,
    supervised: bool = True,
    baseline_rule: str = "loso",
    supervised_kind: str = "behaviour",
    supervised_features: tuple[str, ...] = FEATURES,
    early: bool = True,
    margin: bool = True,
) -> BehaviourDetection:
    """Fit on ``training``. The supervised operating point is chosen by
    leave-one-scenario-out over the labelled training scenarios. The baseline's is, with
    ``baseline_rule="edge"``, 1: beyond the farthest value the site's normal traffic showed
    in some watched feature; with ``"loso"``, chosen like the supervised one (labelled
    scenarios; without labels, the highest training score). With ``early`` (the default),
    a window is also read at its checkpoints (the scenarios' ``checkpoints``) and its
    score, here and in the operating points, is the highest it reached. With ``margin``
    (the default), the operating points are the max-margin ones
    (:func:`~trustshield.incidents.operating.operating_point`). DataError when there is
    no training scenario."""
    if supervised_kind not in SUPERVISED_KINDS:
        raise DataError(
            f"supervised_kind must be one of {list(SUPERVISED_KINDS)}, got {supervised_kind!r}"
        )
    if baseline_rule not in ("edge", "loso"):
        raise DataError(f"baseline_rule must be 'edge' or 'loso', got {baseline_rule!r}")
    if not training:
        raise DataError("behaviour training needs at least one conn log")
    baseline = _fit_baseline(training)
    labelled = [s for s in training if s.malicious is not None]
    sup = None
    if supervised and _both_classes(labelled):
        sup = _fit_supervised(labelled, supervised_kind, supervised_features)
    if baseline_rule == "edge":
        base_t = 1.0
    elif len(labelled) >= 2:
        base_t = _loso(
            labelled,
            lambda rest: _fit_baseline(rest),
            list(BASELINE_FEATURES),
            max_fpr,
            persist,
            early,
            margin,
        )
    else:
        base_t = float(
            max(
                baseline.suspicion(s.table.features[list(BASELINE_FEATURES)]).max(initial=0)
                for s in training
            )
        )
    sup_t = np.inf
    if sup is not None:
        sup_t = _loso(
            labelled,
            lambda rest: (
                _fit_supervised(rest, supervised_kind, supervised_features)
                if _both_classes(rest)
                else None
            ),
            list(supervised_features),
            max_fpr,
            persist,
            early,
            margin,
        )
    window = training[0].table.window_s
    return BehaviourDetection(baseline, base_t, sup, float(sup_t), persist, window, early)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _threshold(value: float | None) -> float:
    return np.inf if value is None else float(value)


def detect_incidents(
    model: BehaviourDetection, flows: pd.DataFrame, table: BehaviourTable
) -> tuple[Incident, ...]:
    """Incidents of ``flows`` (whose channel windows are ``table``); with the model's
    ``early`` reading, a window flagged at a checkpoint is raised then, not at its close."""
    stages = checkpoint_tables(flows, table) if model.early else ()
    return incidents_of_tables(model, flows, table, stages)


def incidents_of_tables(
    model: BehaviourDetection,
    flows: pd.DataFrame,
    table: BehaviourTable,
    stages: tuple[Checkpoint, ...],
) -> tuple[Incident, ...]:
    """Incidents of ``flows`` from their channel windows ``table`` and its checkpoint
    tables ``stages`` (empty without the model's ``early`` reading): flag, then group."""
    flagged, suspicion, kinds, attributions, early = model.flag(table, stages)
    raised = np.minimum(known_at(table, flows), early)
    return group_incidents(
        table,
        flows,
        flagged,
        suspicion,
        attributions,
        kinds,
        persist=model.persist,
        raised=raised,
    )


def _both_classes(scenarios: Sequence[Scenario]) -> bool:
    labels = [_row_labels(s) for s in scenarios]
    return bool(labels) and any(y.any() for y in labels) and any((~y).any() for y in labels)


def _row_labels(s: Scenario) -> np.ndarray:
    """A channel window is malicious when any of its flows is."""
    assert s.malicious is not None
    valid = s.table.flow_row >= 0
    counts = np.bincount(
        s.table.flow_row[valid], weights=s.malicious[valid], minlength=len(s.table)
    )
    return counts > 0


def _fit_baseline(scenarios: Sequence[Scenario]) -> SiteBaselineDetector:
    X = pd.concat([s.table.features[list(BASELINE_FEATURES)] for s in scenarios], ignore_index=True)
    normal = np.concatenate(
        [
            ~_row_labels(s) if s.malicious is not None else np.ones(len(s.table), bool)
            for s in scenarios
        ]
    )
    return SiteBaselineDetector(combine="max", spread="range", cap=1e6).fit(X[normal])


def _columns(detector: Any) -> list[str]:
    return list(getattr(detector, "feature_names_", FEATURES))


def _fit_supervised(
    scenarios: Sequence[Scenario], kind: str = "behaviour", columns: Sequence[str] = FEATURES
) -> Detector:
    X = pd.concat([s.table.features[list(columns)] for s in scenarios], ignore_index=True)
    y = np.concatenate([_row_labels(s) for s in scenarios])
    return SUPERVISED_KINDS[kind]().fit(X, y)


def _evidence(table: BehaviourTable, persist: bool, flagged: np.ndarray) -> np.ndarray:
    return evidence_flows(table, flagged, persist=persist)


def _loso(
    labelled, fit, columns, max_fpr: float, persist: bool, early: bool, margin: bool = False
) -> float:
    held = []
    for i, s in enumerate(labelled):
        detector = fit([r for j, r in enumerate(labelled) if j != i])
        if detector is None:
            continue
        stages = s.checkpoints if early else ()
        scores = staged_suspicion(detector, columns, s.table, stages)[0].max(axis=0)
        held.append(
            HeldOut(
                s.name,
                scores,
                s.malicious,
                partial(_evidence, s.table, persist),
            )
        )
    return operating_point(held, max_fpr=max_fpr, margin=margin) if held else np.inf
