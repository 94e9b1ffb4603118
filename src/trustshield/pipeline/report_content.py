"""Assemble the trust report's content from a model and its evaluation figures."""

from __future__ import annotations

from trustshield.assess.evidence import performance_evidence
from trustshield.pipeline.artifact import TrainedModel
from trustshield.pipeline.model_card import data_sheet, model_card


def report_content(model: TrainedModel, figures: dict, *, evidence: list | None = None,
                   authentication: tuple[dict, list[dict]] | None = None) -> dict:
    """The report dict rendered by ``trustshield.report`` (and written as its JSON twin).

    ``evidence`` (Evidence records) replaces the performance evidence of ``figures``;
    ``authentication`` is ``(section, evidence dicts)`` from the authentication benchmark.
    The model card and data sheet are built last, from the final evidence.
    """
    training = model.training
    selection = training["selection"]
    policy = model.policy
    report = {
        "title": f"TrustShield trust report: {model.spec.name}",
        "generated_at": figures["generated_at"],
        "model": {"model_id": model.model_id, "detector": model.manifest["detector"],
                  "params": {"attack_probability": selection["probability"],
                             "novelty_quantile": selection["quantile"], **training["config"]}},
        "datasets": [{"role": "train", **training["data"]}, figures["dataset"]],
        "protocol": selection["protocol"],
        "threshold": {"alert": policy.alert_threshold_, "review": policy.review_threshold_,
                      "target_fpr": policy.max_normal_fpr},
        "metrics": figures["metrics"],
        "confusion": figures["confusion"],
        "per_category": figures["per_category"],
        "per_attack": figures["per_attack"],
        "roc": figures["roc"],
        "feature_importance": figures["feature_importance"],
        "example_alerts": figures["example_alerts"],
        "attribution_unit": "hybrid units, 1 = operating point",
        "ceilings": ceilings(figures),
        "evidence": [e.as_dict() for e in (performance_evidence(figures) if evidence is None
                                             else evidence)],
    }
    if authentication is not None:
        report["authentication"], extra = authentication
        report["evidence"] += list(extra)
    report["model_card"] = model_card(model.spec, report)
    report["data_sheet"] = data_sheet(model.spec, report["datasets"])
    return report


def ceilings(figures: dict) -> list[str]:
    """Plain statements of what the data allows, measured on this evaluation."""
    unseen = [a for a in figures["per_attack"] if not a["seen_in_training"]]
    notes = []
    if unseen:
        records = sum(a["records"] for a in unseen)
        caught = sum(a["records"] * a["detection_rate"] for a in unseen)
        notes.append(f"{len(unseen)} attack names ({records} records) never occur in training; "
                     f"{caught / records:.1%} of those records were alerted.")
    notes.append("Records sent to review count as not alerted in every figure above.")
    return notes


def authentication_content(bench: dict) -> dict:
    """The report's authentication section from ``benchmarks/auth.py`` output: keystroke
    EERs and the averaged error curve, mouse AUCs, fairness before / after per subject."""
    k, m, f = bench["keystroke"], bench["mouse"], bench["fairness"]
    return {
        "keystroke": {"protocol": k["protocol"], "baselines": k["baselines"], "ours": k["ours"],
                      "best_baseline": k["best_baseline"], "ratio": k["ratio"],
                      "error_curves": k.get("error_curves", {}), "data": k.get("data", {})},
        "mouse": {key: m[key] for key in ("protocol", "auc_pooled", "auc_per_user",
                                          "auc_by_actions", "actions_to_decision")},
        "fairness": {key: f[key] for key in ("protocol", "before", "after", "variants",
                                             "worst_decile_frr_ratio", "mean_far_increase",
                                             "per_subject", "mitigation")},
    }
