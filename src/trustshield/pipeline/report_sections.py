"""The trust report's content as typed values: one frozen dataclass per section.

:class:`ReportContent` is what :func:`trustshield.pipeline.report_content.report_content`
builds and what :func:`trustshield.report.render_html` draws. ``as_dict()`` gives exactly
the plain-JSON dict written as ``report.json`` (its schema, ``report/report.schema.json``,
is the contract), and ``from_dict()`` reads such a dict back (``from_dict(d).as_dict() == d``
for every report the pipeline writes).

``from_dict`` is lenient about optional content, as the page is: a missing key of a row or a
block becomes ``None`` (the page shows "n/a" or "not evidenced"), and a row that is not an
object is dropped. It raises :class:`trustshield.errors.DataError` naming the key only when a
required top-level key (``model`` with ``model_id``, ``datasets``, ``protocol``,
``metrics``) is missing or of the wrong type.

Conventions: suspicion is higher = more suspicious; rates are fractions in [0, 1];
attributions are in ``attribution_unit`` with ``base + sum(contributions) = raw score``.
Lists are held as tuples; open-ended blocks (model parameters, data set records,
governance, benchmark tables) as mappings, in the order they were built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar

from trustshield.errors import DataError

#: the unit of the hybrid detector's attributions (its scale puts each operating point at 1)
ATTRIBUTION_UNIT = "hybrid units, 1 = operating point"
REQUIRED_KEYS = ("model", "datasets", "protocol", "metrics")
"""Top-level keys without which a report is not a trust report."""


def plain(value: Any) -> Any:
    """Typed content as plain JSON values: dataclasses as dicts, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return value.as_dict()  # type: ignore[attr-defined]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def _tuple(value: Any) -> tuple:
    """A list as a tuple (nested lists too); anything that is not a list as ()."""
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(_tuple(v) if isinstance(v, (list, tuple)) else v for v in value)


def _rows(cls: Any, value: Any) -> tuple:
    """Objects of a list as ``cls`` rows; non-objects are dropped."""
    return tuple(cls.from_dict(v) for v in value or () if isinstance(v, Mapping))


class Section:
    """Base of the section dataclasses: ``as_dict``/``from_dict`` from the field list.

    ``OPTIONAL`` fields are left out of ``as_dict`` when ``None`` (they are keys the
    report may lack); ``NESTED`` maps a field to how its plain value is read back.
    """

    OPTIONAL: ClassVar[tuple[str, ...]] = ()
    NESTED: ClassVar[Mapping[str, Any]] = {}

    def as_dict(self) -> dict:
        """The plain-JSON dict of this section, as written in ``report.json``."""
        return {
            f.name: plain(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if not (f.name in self.OPTIONAL and getattr(self, f.name) is None)
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Any:
        """Read the section from its plain dict; missing keys become ``None``."""
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            raw = data.get(f.name)
            read = cls.NESTED.get(f.name)
            values[f.name] = raw if read is None or raw is None else read(raw)
        return cls(**values)


def _as_rows(cls: Any):
    return lambda value: _rows(cls, value)


def _as_one(cls: Any):
    return lambda value: cls.from_dict(value) if isinstance(value, Mapping) else None


# --- model, data, thresholds --------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo(Section):
    """The model reported on: its id, the detector kind and its parameters."""

    model_id: str
    detector: str | None = None
    params: Mapping[str, Any] | None = None
    OPTIONAL = ("detector", "params")


@dataclass(frozen=True)
class Thresholds(Section):
    """Suspicion thresholds: alert at ``>= alert``, review at ``review <= s < alert``;
    ``target_fpr`` is the false-positive rate the alert threshold was chosen for."""

    alert: float | None
    review: float | None
    target_fpr: float | None


# --- evaluation results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Confusion(Section):
    """``matrix[i][j]`` counts records of true class ``labels[i]`` predicted ``labels[j]``."""

    labels: tuple[str, ...] | None
    matrix: tuple[tuple[int, ...], ...] | None
    NESTED = {"labels": _tuple, "matrix": _tuple}


@dataclass(frozen=True)
class CategoryRow(Section):
    """Detection of one attack category: records, records alerted and their share."""

    category: str | None
    records: int | None
    detected: int | None
    detection_rate: float | None


@dataclass(frozen=True)
class AttackRow(Section):
    """Detection of one attack name, and whether it occurs in the training data."""

    attack: str | None
    category: str | None
    seen_in_training: bool | None
    records: int | None
    detection_rate: float | None


@dataclass(frozen=True)
class RocCurve(Section):
    """ROC curve points (false-positive rate, true-positive rate), its AUC and the
    operating point ``{fpr, tpr}`` of the alert threshold."""

    fpr: tuple[float, ...] | None
    tpr: tuple[float, ...] | None
    auc: float | None
    operating_point: Mapping[str, float] | None
    NESTED = {"fpr": _tuple, "tpr": _tuple}


@dataclass(frozen=True)
class FeatureImportance(Section):
    """Mean |attribution| of one feature over the test data (attribution units)."""

    feature: str | None
    mean_abs_attribution: float | None


@dataclass(frozen=True)
class Contribution(Section):
    """One feature's value and its signed contribution to the raw score."""

    feature: Any
    value: Any
    contribution: float | None


@dataclass(frozen=True)
class ExampleAlert(Section):
    """One alert of the test data with its attribution (``base + sum = raw score``)."""

    alert_id: str | None
    row: int | None
    suspicion: float | None
    category: str | None
    technique: str | None
    rationale: str | None
    base: float | None
    contributions: tuple[Contribution, ...] | None
    component: str | None = None
    OPTIONAL = ("component",)
    NESTED = {"contributions": _as_rows(Contribution)}


@dataclass(frozen=True)
class ExplanationCheck(Section):
    """How exact the explanations of one evaluation were: the largest
    |base + Σ attributions − suspicion| (suspicion units) over the explained records."""

    explained_rows: int
    max_abs_sum_error: float


@dataclass(frozen=True)
class Evaluation(Section):
    """What :func:`trustshield.pipeline.evaluate.evaluate` measures on labelled data: the
    figures the trust report shows. ``as_dict()`` is the JSON ``trustshield evaluate
    --json`` writes; ``metrics`` holds rates in [0, 1] (``accuracy``, ``fpr``,
    ``detection_rate``, ``review_share``, ``roc_auc`` ...)."""

    dataset: Mapping[str, Any]
    metrics: Mapping[str, float | None]
    confusion: Confusion
    roc: RocCurve
    per_category: tuple[CategoryRow, ...]
    per_attack: tuple[AttackRow, ...]
    feature_importance: tuple[FeatureImportance, ...]
    example_alerts: tuple[ExampleAlert, ...]
    generated_at: str
    explanation: ExplanationCheck
    NESTED = {
        "confusion": Confusion.from_dict,
        "roc": RocCurve.from_dict,
        "per_category": _as_rows(CategoryRow),
        "per_attack": _as_rows(AttackRow),
        "feature_importance": _as_rows(FeatureImportance),
        "example_alerts": _as_rows(ExampleAlert),
        "explanation": ExplanationCheck.from_dict,
    }


@dataclass(frozen=True)
class EvidenceRow(Section):
    """One measured check: the figure, the bar and the verdict (``pass``, ``fail``,
    ``not_evidenced``) with the principles it serves."""

    check: str | None
    metric: str | None
    value: float | None
    threshold: float | None
    status: str | None
    principles: tuple[str, ...] | None
    NESTED = {"principles": _tuple}


# --- model card, data sheet, changes --------------------------------------------------------


@dataclass(frozen=True)
class ModelCard(Section):
    """Intended and out-of-scope uses, headline metrics, measured limitations, ethics."""

    intended_use: str | None
    out_of_scope: tuple[str, ...] | None
    metrics: Mapping[str, float | None] | None
    limitations: tuple[str, ...] | None
    ethical_considerations: tuple[str, ...] | None
    NESTED = {"out_of_scope": _tuple, "limitations": _tuple, "ethical_considerations": _tuple}


@dataclass(frozen=True)
class DataSheetRow(Section):
    """One data set read: rows, hash, and licence and source from its SOURCE.md."""

    name: str | None
    role: str | None
    rows: int | None
    rejected_rows: int | None
    sha256: str | None
    licence: str | None
    source_url: str | None


@dataclass(frozen=True)
class MetricChange(Section):
    """A metric in the previous and this report and ``new - old`` (None if one is missing)."""

    metric: str | None
    old: float | None
    new: float | None
    delta: float | None


@dataclass(frozen=True)
class VerdictChange(Section):
    """An evidence check whose status changed (None: absent on that side)."""

    check: str | None
    metric: str | None
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Changes(Section):
    """What changed since the previous report of the same model in the same folder."""

    status: str | None
    model_id: str | None
    previous_model_id: str | None
    previous_generated_at: str | None
    metrics: tuple[MetricChange, ...] | None
    evidence: tuple[VerdictChange, ...] | None
    NESTED = {"metrics": _as_rows(MetricChange), "evidence": _as_rows(VerdictChange)}


# --- drift ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftFeature(Section):
    """One feature's drift: population stability index (>= 0, higher = more drift) and
    Kolmogorov-Smirnov statistic (0-1, numeric features only)."""

    name: str | None
    kind: str | None
    psi: float | None
    ks: float | None
    level: str | None


@dataclass(frozen=True)
class DriftSummary(Section):
    """Drift of one window (or the whole data set) against the training reference."""

    n_window: int | None
    n_reference: int | None
    level: str | None
    max_feature_psi: float | None
    output_psi: float | None
    output_ks: float | None
    output_level: str | None
    threshold: float | None
    reference_alert_rate: float | None
    window_alert_rate: float | None
    alert_rate_change: float | None
    top_features: tuple[DriftFeature, ...] | None
    NESTED = {"top_features": _as_rows(DriftFeature)}


@dataclass(frozen=True)
class DriftWindow(Section):
    """Drift of one window of records (lines ``first_line``-``last_line`` of the file)."""

    index: int | None
    first_line: int | None
    last_line: int | None
    n_window: int | None
    level: str | None
    max_feature_psi: float | None
    output_psi: float | None
    output_ks: float | None
    output_level: str | None
    threshold: float | None
    reference_alert_rate: float | None
    window_alert_rate: float | None
    alert_rate_change: float | None


@dataclass(frozen=True)
class DriftEvent(Section):
    """A drift event stored by a detection run of this model (times as ISO text)."""

    run_id: str | None
    window_index: int | None
    first_line: int | None
    last_line: int | None
    n_records: int | None
    level: str | None
    max_feature_psi: float | None
    output_psi: float | None
    alert_rate_change: float | None
    created_at: str | None


@dataclass(frozen=True)
class DriftSection(Section):
    """This data set against the model's drift reference, whole and per window, and the
    store's drift events; ``available`` False with a ``reason`` when there is no reference."""

    dataset: str | None
    window: int | None
    events: tuple[DriftEvent, ...] | None
    events_total: int | None
    available: bool | None
    reason: str | None = None
    records: int | None = None
    records_read: int | None = None
    whole: DriftSummary | None = None
    windows: tuple[DriftWindow, ...] | None = None
    OPTIONAL = ("reason", "records", "records_read", "whole", "windows")
    NESTED = {
        "events": _as_rows(DriftEvent),
        "whole": _as_one(DriftSummary),
        "windows": _as_rows(DriftWindow),
    }

    def as_dict(self) -> dict:
        """An unavailable section always states its ``reason``, even a null one."""
        out = super().as_dict()
        return out if self.available else {**out, "reason": self.reason}


# --- incidents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow(Section):
    """One stored incident (times as ISO text, UTC): host, behaviour names, ATT&CK
    techniques, severity, review status and how many evidence flows back it."""

    incident_id: str | None
    host: str | None
    severity: str | None
    status: str | None
    first_seen: str | None
    last_seen: str | None
    behaviours: tuple[str, ...] | None
    techniques: tuple[str, ...] | None
    n_evidence: int | None
    NESTED = {"behaviours": _tuple, "techniques": _tuple}


@dataclass(frozen=True)
class IncidentsSection(Section):
    """Incidents raised from host behaviour in a store: ``total``, counts by severity and
    by review status, and the ``shown`` most severe (then newest) ones."""

    store: str | None
    total: int | None
    by_severity: Mapping[str, int] | None
    by_status: Mapping[str, int] | None
    shown: tuple[IncidentRow, ...] | None
    NESTED = {"shown": _as_rows(IncidentRow)}


# --- authentication -------------------------------------------------------------------------


@dataclass(frozen=True)
class Keystroke(Section):
    """Keystroke verification: mean / SD equal error rate (EER, lower is better) of each
    classic detector and ours, the ratio ours / best, and the averaged error curves."""

    protocol: str | None
    baselines: Mapping[str, Mapping[str, float]] | None
    ours: Mapping[str, float] | None
    best_baseline: str | None
    ratio: float | None
    error_curves: Mapping[str, Mapping[str, Any]] | None
    data: Mapping[str, Any] | None


@dataclass(frozen=True)
class Mouse(Section):
    """Mouse verification: session ROC AUC pooled, per user and by number of actions."""

    protocol: str | None
    auc_pooled: float | None
    auc_per_user: Mapping[str, float] | None
    auc_by_actions: Mapping[str, float] | None
    actions_to_decision: Any


@dataclass(frozen=True)
class Fairness(Section):
    """False rejections per subject before / after the mitigation (rates in [0, 1])."""

    protocol: str | None
    before: Mapping[str, float] | None
    after: Mapping[str, float] | None
    variants: Mapping[str, Mapping[str, float]] | None
    worst_decile_frr_ratio: float | None
    mean_far_increase: float | None
    per_subject: tuple[Mapping[str, Any], ...] | None
    mitigation: str | None
    NESTED = {"per_subject": _tuple}


@dataclass(frozen=True)
class Authentication(Section):
    """The authentication benchmark's figures (``benchmarks/auth.py``)."""

    keystroke: Keystroke
    mouse: Mouse
    fairness: Fairness
    NESTED = {
        "keystroke": _as_one(Keystroke),
        "mouse": _as_one(Mouse),
        "fairness": _as_one(Fairness),
    }


# --- the whole report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContent(Section):
    """Every section of one trust report; ``None`` marks a section the report lacks."""

    model: ModelInfo
    datasets: tuple[Mapping[str, Any], ...]
    protocol: str
    metrics: Mapping[str, float | None]
    title: str | None = None
    generated_at: str | None = None
    threshold: Thresholds | None = None
    confusion: Confusion | None = None
    per_category: tuple[CategoryRow, ...] | None = None
    per_attack: tuple[AttackRow, ...] | None = None
    roc: RocCurve | None = None
    feature_importance: tuple[FeatureImportance, ...] | None = None
    example_alerts: tuple[ExampleAlert, ...] | None = None
    attribution_unit: str | None = None
    ceilings: tuple[str, ...] | None = None
    evidence: tuple[EvidenceRow, ...] | None = None
    authentication: Authentication | None = None
    drift: DriftSection | None = None
    model_card: ModelCard | None = None
    data_sheet: tuple[DataSheetRow, ...] | None = None
    governance: Mapping[str, Any] | None = None
    changes: Changes | None = None
    incidents: IncidentsSection | None = None
    OPTIONAL = (
        "title",
        "generated_at",
        "threshold",
        "confusion",
        "per_category",
        "per_attack",
        "roc",
        "feature_importance",
        "example_alerts",
        "attribution_unit",
        "ceilings",
        "evidence",
        "authentication",
        "drift",
        "model_card",
        "data_sheet",
        "governance",
        "changes",
        "incidents",
    )
    NESTED = {
        "model": _as_one(ModelInfo),
        "datasets": _tuple,
        "threshold": _as_one(Thresholds),
        "confusion": _as_one(Confusion),
        "per_category": _as_rows(CategoryRow),
        "per_attack": _as_rows(AttackRow),
        "roc": _as_one(RocCurve),
        "feature_importance": _as_rows(FeatureImportance),
        "example_alerts": _as_rows(ExampleAlert),
        "ceilings": _tuple,
        "evidence": _as_rows(EvidenceRow),
        "authentication": _as_one(Authentication),
        "drift": _as_one(DriftSection),
        "model_card": _as_one(ModelCard),
        "data_sheet": _as_rows(DataSheetRow),
        "changes": _as_one(Changes),
        "incidents": _as_one(IncidentsSection),
    }

    @classmethod
    def from_dict(cls, data: Any) -> ReportContent:
        """Read a report dict; DataError names a missing or malformed required key."""
        require(data)
        return super().from_dict(data)


def require(report: Any) -> None:
    """Raise DataError naming the first missing required key or malformed required value."""
    if not isinstance(report, Mapping):
        raise DataError(f"report must be a dict; got {type(report).__name__}")
    for key in REQUIRED_KEYS:
        if key not in report:
            raise DataError(f"report is missing required key {key!r}")
    for key, kind in (
        ("model", Mapping),
        ("datasets", list),
        ("protocol", str),
        ("metrics", Mapping),
    ):
        if not isinstance(report[key], kind):
            raise DataError(
                f"report key {key!r} must be a {getattr(kind, '__name__', kind)}; "
                f"got {type(report[key]).__name__}"
            )
    if "model_id" not in report["model"]:
        raise DataError("report is missing required key 'model.model_id'")
