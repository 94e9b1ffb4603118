"""Train, save and load a payload model: the ``payload`` detector and its threshold.

Training follows the benchmark's protocol (:mod:`trustshield.pipeline.payload_benchmark`):
the threshold is the score that at most ``target_fpr`` of the normal training payloads
exceed when scored out of fold, at the count whose 99 % Clopper-Pearson upper bound stays
within ``target_fpr`` (:func:`~trustshield.pipeline.payload_benchmark.choose_threshold`);
the rule and its training-data figures (out-of-fold and in-sample rates, the bound, the
threshold an in-sample choice would have given) are kept in the model file under
``training.threshold_rule``. Hardening (``augment`` rewritten variants per training
attack) is on by default. The model file is one JSON document (never a pickle) holding
the detector state, the threshold and provenance, with the sha256 of its canonical
content; loading checks that sha256 and the format before building anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustshield.atomic_files import write_atomic
from trustshield.detectors.payload import PayloadDetector
from trustshield.errors import DataError, ModelIntegrityError
from trustshield.explain.payload import PayloadExplanation, explain_payloads
from trustshield.ingest.payloads import PayloadTable
from trustshield.decide.text_model import document_digest
from trustshield.assess.robustness.payload_rewrites import Budget, candidates
from trustshield.pipeline.payload_benchmark import (
    Settings,
    detector_fitter,
    evasion_summary,
    choose_threshold,
    out_of_fold,
)

FORMAT = "trustshield-payload-model/1"


@dataclass(frozen=True)
class PayloadModel:
    """A fitted detector, its threshold (flag when score > threshold) and provenance."""

    detector: PayloadDetector
    threshold: float
    target_fpr: float
    training: dict

    def flagged(self, payloads: Sequence[str]) -> np.ndarray:
        return self.detector.score_payloads(list(payloads))[0] > self.threshold

    def decide(self, payloads: Sequence[str], explain: bool = True) -> list[dict]:
        """One plain record per payload: score, flagged, attack type (when flagged),
        ATT&CK technique and CWE, and the top n-grams with their character spans."""
        found: list[PayloadExplanation] = explain_payloads(self.detector, list(payloads))
        out = []
        for e in found:
            flagged = e.score > self.threshold
            record = {
                "payload": e.payload,
                "score": e.score,
                "threshold": self.threshold,
                "flagged": bool(flagged),
                "attack_type": e.attack_type if flagged else None,
                "technique": e.technique if flagged else None,
                "cwe": e.cwe if flagged else None,
            }
            if explain:
                record["explanation"] = e.as_dict(top=8)
            out.append(record)
        return out


def train_payload_model(
    table: PayloadTable, *, settings: Settings | None = None, sha256: str | None = None, step=None
) -> PayloadModel:
    """Fit on a labelled table (see the module docstring)."""
    settings = settings or Settings()
    if table.attack_types is None:
        raise DataError(f"{table.path}: training needs the 'attack_type' column")
    payloads, labels = list(table.payloads), list(table.attack_types)
    normal = np.asarray(labels) == "normal"
    if normal.sum() < settings.folds or (~normal).sum() < settings.folds:
        raise DataError(
            f"{table.path}: training needs at least {settings.folds} normal and "
            f"{settings.folds} attack rows (one per fold); got {int(normal.sum())} and "
            f"{int((~normal).sum())}"
        )
    fit = detector_fitter(True, settings.augment, settings)
    (step or (lambda m: None))(f"{settings.folds}-fold out-of-fold scores for the threshold")
    oof = out_of_fold(fit, payloads, labels, settings)
    (step or (lambda m: None))("final fit on every training row")
    score = fit(payloads, labels)
    seen = score([p for p, n in zip(payloads, normal, strict=True) if n])
    choice = choose_threshold(oof[normal], seen, settings)
    counts = {t: labels.count(t) for t in sorted(set(labels))}
    training = {
        "data": {"file": Path(table.path).name, "sha256": sha256, "rows": len(labels)},
        "counts": counts,
        "oof_fpr": choice.oof_fpr,
        "threshold_rule": choice.as_dict(),
        "folds": settings.folds,
        "augment": settings.augment,
        "seed": settings.seed,
    }
    return PayloadModel(fit.last, choice.threshold, settings.target_fpr, training)  # type: ignore[attr-defined]


def save_payload_model(model: PayloadModel, path: str | Path) -> str:
    """Write the model file atomically; returns its content sha256."""
    body = {
        "format": FORMAT,
        "threshold": model.threshold,
        "target_fpr": model.target_fpr,
        "training": model.training,
        "detector": model.detector.to_dict(),
    }
    digest = document_digest(body)
    write_atomic(Path(path), json.dumps({**body, "sha256": digest}).encode(), mode=0o644)
    return digest


def load_payload_model(path: str | Path) -> PayloadModel:
    """Read and check a model file written by :func:`save_payload_model`."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"{path}: not a readable payload model file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelIntegrityError(f"{path}: not a payload model (expected format {FORMAT})")
    claimed = doc.pop("sha256", None)
    if document_digest(doc) != claimed:
        raise ModelIntegrityError(f"{path}: content does not match its sha256; refusing to load")
    detector = PayloadDetector.from_dict(doc["detector"])
    return PayloadModel(
        detector, float(doc["threshold"]), float(doc["target_fpr"]), doc["training"]
    )


def payload_evasion(
    model: PayloadModel, table: PayloadTable, budget: Budget, seed: int = 0
) -> dict:
    """Evasion of ``model`` by ``budget`` rewrites of the table's attack payloads: counts
    and rates only (flagged attacks, how many some candidate got past, per type)."""
    if table.attack_types is None:
        raise DataError(f"{table.path}: an evasion run needs the 'attack_type' column")
    labels = np.asarray(table.attack_types)
    attack = np.flatnonzero(labels != "normal")
    if not len(attack):
        raise DataError(f"{table.path}: no attack payloads to rewrite")
    payloads = list(table.payloads)
    made = candidates([payloads[i] for i in attack], list(labels[attack]), budget, seed)
    tried: list[list[str]] = [[] for _ in payloads]
    for i, row in zip(attack, made, strict=True):
        tried[i] = row
    return evasion_summary(model.flagged, payloads, tried, labels)
