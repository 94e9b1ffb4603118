"""Evaluate a trained model on labelled data: the figures the trust report shows, as an
:class:`~trustshield.pipeline.report_sections.Evaluation`."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from trustshield.assess.performance import binary_metrics, confusion, detection_by, roc
from trustshield.errors import DataError
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.report_sections import Evaluation
from trustshield.pipeline.scoring import score_batch
from trustshield.store import alert_id

TOP_IMPORTANCE = 15
EXAMPLES = 3


def evaluate(model: TrainedModel, source: TableSource, *, progress=None) -> Evaluation:
    """Score all of ``source`` and measure."""
    spec = model.spec
    parts = {"suspicion": [], "actions": [], "labels": [], "abs_attr": [], "examples": []}
    attr_rows, sum_error = 0, 0.0
    for batch in source:
        if spec.label_column not in batch.frame.columns:
            raise DataError(
                f"{source.path}: evaluation needs the label column {spec.label_column!r}"
            )
        scored = score_batch(model, batch.frame)
        parts["suspicion"].append(scored.decision.suspicion)
        parts["actions"].append(scored.decision.actions)
        parts["labels"].append(batch.frame[spec.label_column].to_numpy(dtype=object))
        parts["abs_attr"].append(np.abs(scored.attributions.values).sum(axis=0))
        attr_rows += len(scored.flagged)
        if len(scored.flagged):
            gap = scored.attributions.total() - scored.decision.suspicion[scored.flagged]
            sum_error = max(sum_error, float(np.abs(gap).max()))
        parts["examples"].extend(_example_candidates(scored, batch, model.model_id, source.sha256))
        if progress:
            progress(len(batch.frame) + batch.rejected_rows)
    suspicion = np.concatenate(parts["suspicion"])
    actions = np.concatenate(parts["actions"])
    labels = np.concatenate(parts["labels"])
    figures = _figures(
        model,
        source,
        suspicion,
        actions,
        labels,
        np.sum(parts["abs_attr"], axis=0) / max(attr_rows, 1),
        parts["examples"],
    )
    figures["explanation"] = {"explained_rows": attr_rows, "max_abs_sum_error": sum_error}
    return Evaluation.from_dict(figures)


def _figures(model, source, suspicion, actions, labels, mean_abs, examples) -> dict:
    spec = model.spec
    y_true = labels != spec.normal_label
    alerted = actions == "alert"
    categories = np.array([spec.category(v) for v in labels], dtype=object)
    seen = set(model.training.get("attack_names", []))
    metrics = binary_metrics(y_true=y_true, alerted=alerted)
    metrics["review_share"] = float((actions == "review").mean())
    curve = roc(
        y_true=y_true,
        suspicion=suspicion,
        operating_point={"fpr": metrics["fpr"], "tpr": metrics["detection_rate"]},
    )
    metrics["roc_auc"] = curve["auc"]
    per_attack = detection_by(groups=labels, y_true=y_true, alerted=alerted)
    order = np.argsort(-mean_abs)[:TOP_IMPORTANCE]
    return {
        "dataset": {"role": "test", **source.describe()},
        "metrics": metrics,
        "confusion": confusion(y_true=y_true, alerted=alerted),
        "roc": curve,
        "per_category": [
            {
                "category": g["group"],
                "records": g["records"],
                "detected": g["detected"],
                "detection_rate": g["detection_rate"],
            }
            for g in detection_by(groups=categories, y_true=y_true, alerted=alerted)
        ],
        "per_attack": [
            {
                "attack": g["group"],
                "category": spec.category(g["group"]),
                "seen_in_training": g["group"] in seen,
                "records": g["records"],
                "detection_rate": g["detection_rate"],
            }
            for g in per_attack
        ],
        "feature_importance": [
            {"feature": model.encoder.feature_names[j], "mean_abs_attribution": float(mean_abs[j])}
            for j in order
        ],
        "example_alerts": _pick_examples(examples),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _example_candidates(scored, batch, model_id: str, source_sha256: str) -> list[dict]:
    """The highest-suspicion alert of each (component, category) pair in this batch, with
    the id ``detect`` gives it in the store."""
    out = {}
    names = scored.attributions.feature_names
    for i, row in enumerate(scored.flagged):
        if scored.decision.actions[row] != "alert":
            continue
        key = (int(scored.component[row]), scored.categories[i])
        score = float(scored.decision.suspicion[row])
        if key not in out or score > out[key]["suspicion"]:
            values = batch.frame.iloc[row]
            line = int(batch.lines[row])
            out[key] = {
                "alert_id": alert_id(model_id, source_sha256, line),
                "row": line,
                "suspicion": score,
                "category": str(scored.categories[i]),
                "technique": str(scored.techniques[i]),
                "component": scored.part_names[key[0]],
                "rationale": str(scored.rationales[i]),
                "base": float(scored.attributions.base[i]),
                "contributions": [
                    {
                        "feature": n,
                        "value": _plain(values[n]),
                        "contribution": float(scored.attributions.values[i, j]),
                    }
                    for j, n in enumerate(names)
                ],
            }
    return list(out.values())


def _pick_examples(candidates: list[dict]) -> list[dict]:
    """Up to three alerts, covering both components and as many categories as possible."""
    ranked = sorted(candidates, key=lambda c: -c["suspicion"])
    picked, seen = [], set()
    for key in ("component", "category"):
        for cand in ranked:
            if len(picked) < EXAMPLES and cand[key] not in seen and cand not in picked:
                picked.append(cand)
                seen.add(cand[key])
    for cand in ranked:
        if len(picked) < EXAMPLES and cand not in picked:
            picked.append(cand)
    return picked


def _plain(value):
    if isinstance(value, (np.floating, float)):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)
