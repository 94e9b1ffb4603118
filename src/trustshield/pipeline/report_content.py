"""Assemble the trust report's content from a model and its evaluation figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timezone

import numpy as np
import pandas as pd

from trustshield.drift.monitor import drift
from trustshield.assess.drift_evidence import drift_evidence
from trustshield.drift.summary import drift_summary
from trustshield.assess.evidence import ROBUSTNESS, performance_evidence
from trustshield.errors import DataError
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.drift_windows import WINDOW, DriftWindows
from trustshield.pipeline.model_card import data_sheet, model_card
from trustshield.pipeline.report_sections import (
    ATTRIBUTION_UNIT,
    Authentication,
    DataSheetRow,
    DriftEvent,
    DriftSection,
    DriftSummary,
    DriftWindow,
    Evaluation,
    EvidenceRow,
    Fairness,
    IncidentRow,
    IncidentsSection,
    Keystroke,
    ModelCard,
    ModelInfo,
    Mouse,
    ReportContent,
    Thresholds,
)
from trustshield.records import Evidence

#: the whole-data-set comparison holds at most this many records (the first ones read)
DRIFT_ROWS = 200_000
#: stored drift events listed in the report, most recent last
SHOWN_EVENTS = 20
EVENT_KEYS = (
    "run_id",
    "window_index",
    "first_line",
    "last_line",
    "n_records",
    "level",
    "max_feature_psi",
    "output_psi",
    "alert_rate_change",
    "created_at",
)


def report_content(
    model: TrainedModel,
    figures: Evaluation,
    *,
    evidence: list | None = None,
    authentication: tuple[Authentication | dict, list[dict]] | None = None,
    drift: tuple[DriftSection | dict, list[Evidence]] | None = None,
    incidents: IncidentsSection | None = None,
) -> dict:
    """The report dict rendered by ``trustshield.report`` (and written as its JSON twin):
    :func:`build_report` as plain JSON (``ReportContent.as_dict()``)."""
    return build_report(
        model,
        figures,
        evidence=evidence,
        authentication=authentication,
        drift=drift,
        incidents=incidents,
    ).as_dict()


def build_report(
    model: TrainedModel,
    figures: Evaluation,
    *,
    evidence: list | None = None,
    authentication: tuple[Authentication | dict, list[dict]] | None = None,
    drift: tuple[DriftSection | dict, list[Evidence]] | None = None,
    incidents: IncidentsSection | None = None,
) -> ReportContent:
    """The typed content of the trust report of ``model`` on the evaluation ``figures``
    (:func:`trustshield.pipeline.evaluate.evaluate`).

    ``evidence`` (Evidence records) replaces the performance evidence of ``figures``;
    ``authentication`` is ``(section, evidence dicts)`` from the authentication benchmark
    (:func:`authentication_content`); ``drift`` is ``(section, Evidence)`` from
    :func:`drift_content`; ``incidents`` the incidents of a store (:func:`incidents_content`).
    The model card and data sheet are built last, from the final
    evidence.
    """
    training = model.training
    selection = training["selection"]
    policy = model.policy
    if evidence is None:
        evidence = performance_evidence(figures.as_dict())
    rows = [e.as_dict() for e in evidence]
    auth_section = drift_section = None
    if authentication is not None:
        auth_section, extra = authentication
        rows += list(extra)
    if drift is not None:
        drift_section, extra_evidence = drift
        rows += [e.as_dict() for e in extra_evidence]
    content = ReportContent(
        title=f"TrustShield trust report: {model.spec.name}",
        generated_at=figures.generated_at,
        model=ModelInfo(
            model_id=model.model_id,
            detector=model.manifest["detector"],
            params={
                "attack_probability": selection["probability"],
                "novelty_quantile": selection["quantile"],
                **training["config"],
            },
        ),
        datasets=({"role": "train", **training["data"]}, figures.dataset),
        protocol=selection["protocol"],
        threshold=Thresholds(
            alert=policy.alert_threshold_,
            review=policy.review_threshold_,
            target_fpr=policy.max_normal_fpr,
        ),
        metrics=figures.metrics,
        confusion=figures.confusion,
        per_category=figures.per_category,
        per_attack=figures.per_attack,
        roc=figures.roc,
        feature_importance=figures.feature_importance,
        example_alerts=figures.example_alerts,
        attribution_unit=ATTRIBUTION_UNIT,
        ceilings=tuple(ceilings(figures)),
        evidence=tuple(EvidenceRow.from_dict(e) for e in rows),
        authentication=_typed(Authentication, auth_section),
        drift=_typed(DriftSection, drift_section),
        incidents=incidents,
    )
    plain_content = content.as_dict()
    return replace(
        content,
        model_card=ModelCard.from_dict(model_card(model.spec, plain_content)),
        data_sheet=tuple(
            DataSheetRow.from_dict(d) for d in data_sheet(model.spec, plain_content["datasets"])
        ),
    )


def _typed(cls, section):
    """``section`` as ``cls`` (read from its plain dict when it is one); None stays None."""
    return section if section is None or isinstance(section, cls) else cls.from_dict(section)


def ceilings(figures: Evaluation) -> list[str]:
    """Plain statements of what the data allows, measured on this evaluation."""
    unseen = [a for a in figures.per_attack if not a.seen_in_training]
    notes = []
    if unseen:
        records = sum(a.records or 0 for a in unseen)
        caught = sum((a.records or 0) * (a.detection_rate or 0.0) for a in unseen)
        notes.append(
            f"{len(unseen)} attack names ({records} records) never occur in training; "
            f"{caught / records:.1%} of those records were alerted."
        )
    notes.append("Records sent to review count as not alerted in every figure above.")
    return notes


def authentication_content(bench: dict) -> Authentication:
    """The report's authentication section from ``benchmarks/auth.py`` output: keystroke
    EERs and the averaged error curve, mouse AUCs, fairness before / after per subject."""
    k, m, f = bench["keystroke"], bench["mouse"], bench["fairness"]
    return Authentication(
        keystroke=Keystroke(
            protocol=k["protocol"],
            baselines=k["baselines"],
            ours=k["ours"],
            best_baseline=k["best_baseline"],
            ratio=k["ratio"],
            error_curves=k.get("error_curves", {}),
            data=k.get("data", {}),
        ),
        mouse=Mouse(
            **{
                key: m[key]
                for key in (
                    "protocol",
                    "auc_pooled",
                    "auc_per_user",
                    "auc_by_actions",
                    "actions_to_decision",
                )
            }
        ),
        fairness=Fairness(
            **{
                key: (tuple(f[key]) if key == "per_subject" else f[key])
                for key in (
                    "protocol",
                    "before",
                    "after",
                    "variants",
                    "worst_decile_frr_ratio",
                    "mean_far_increase",
                    "per_subject",
                    "mitigation",
                )
            }
        ),
    )


def drift_content(
    model: TrainedModel, source, *, events: list[dict] = (), window: int = WINDOW
) -> tuple[DriftSection, list[Evidence]]:
    """The report's drift section (typed) and its ``input drift`` / ``output drift`` Evidence: the
    data set of ``source`` (the first ``DRIFT_ROWS`` records) compared with the model's drift
    reference as one window, and in windows of ``window`` records; ``events`` are the
    store's drift events of this model (``store.drift.events(model_id=...)``).

    Reads ``source`` once (encoding and suspicion only, no explanations). A model without a
    reference gives a section saying why and ``not_evidenced`` Evidence.
    """
    shown = tuple(
        DriftEvent(**{k: _plain(e.get(k)) for k in EVENT_KEYS})
        for e in list(events)[-SHOWN_EVENTS:]
    )
    base = {
        "dataset": source.path.name,
        "window": window,
        "events": shown,
        "events_total": len(events),
    }
    if model.drift_reference is None:
        reason = model.drift_unavailable
        return (
            DriftSection(**base, available=False, reason=reason),
            [
                Evidence(check, reason, None, None, "not_evidenced", ROBUSTNESS)
                for check in ("input drift", "output drift")
            ],
        )
    windows = DriftWindows(model.drift_reference, window=window)
    frames, scores, per_window, held = [], [], [], 0
    for batch in source:
        if not len(batch.frame):
            continue
        X = model.encoder.transform(batch.frame)
        suspicion = model.detector.suspicion(X)
        per_window += windows.add(X, suspicion, batch.lines)
        if held < DRIFT_ROWS:
            frames.append(X.iloc[: DRIFT_ROWS - held])
            scores.append(suspicion[: DRIFT_ROWS - held])
            held += len(frames[-1])
    if not frames:
        raise DataError(f"{source.path}: no valid records to compare with the drift reference")
    last = windows.finish()
    per_window += [] if last is None else [last]
    whole = drift(model.drift_reference, pd.concat(frames), np.concatenate(scores))
    section = DriftSection(
        **base,
        available=True,
        records=held,
        records_read=windows.seen,
        whole=DriftSummary.from_dict(drift_summary(whole)),
        windows=tuple(
            DriftWindow(
                index=w.index,
                first_line=w.first_line,
                last_line=w.last_line,
                **{
                    k: v
                    for k, v in drift_summary(w).items()
                    if k not in ("top_features", "n_reference")
                },
            )
            for w in per_window
        ),
    )
    return section, drift_evidence(whole)


def _plain(value):
    """Timestamps as ISO text; numpy scalars as Python numbers; NaN as None."""
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="seconds")
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not np.isfinite(value) else value


def incidents_content(
    store: str, rows: list[dict], total: int, counts: dict[str, dict[str, int]]
) -> IncidentsSection:
    """The report's incidents section: ``rows`` (the most severe, then newest, stored
    incidents as :meth:`~trustshield.store.incidents.IncidentTable.page` gives them) of
    ``total`` in ``store``, with ``counts`` {"severity": {...}, "status": {...}}."""
    return IncidentsSection(
        store=store,
        total=int(total),
        by_severity=dict(counts.get("severity", {})),
        by_status=dict(counts.get("status", {})),
        shown=tuple(
            IncidentRow(
                incident_id=r["incident_id"],
                host=r["host"],
                severity=r["severity"],
                status=r["status"],
                first_seen=_iso(r["first_seen"]),
                last_seen=_iso(r["last_seen"]),
                behaviours=tuple(dict.fromkeys(b["name"] for b in r["behaviours"])),
                techniques=tuple(r["techniques"]),
                n_evidence=int(r["n_evidence"]),
            )
            for r in rows
        ),
    )


def _iso(moment) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
