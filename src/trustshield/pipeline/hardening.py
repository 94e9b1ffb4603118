"""Hardening against feasible evasion, measured before it is kept.

Two defences, both trained on the training file only:

- **monotone constraints** (``TrainConfig(monotone=True)``): the supervised component's
  score may never fall when a feature moves the only way an attacker can move it (more
  bytes sent, more urgent packets, …), so those features stop being levers for evasion;
- **adversarial training** (:func:`adversarial_training_rows`): the tree attack is run on
  a seeded sample of the training file's attack records against the model trained on that
  file; each record's lowest-objective feasible variant within the budget (evading or not)
  is added to the training data with the original label, and the pipeline is retrained.

A defence is kept only if clean accuracy and FPR barely move (:data:`KEEP_IF`), on the
test frame that the benchmark touches once, to report.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from trustshield.assess.robustness.evasion import evade, select_attack_records
from trustshield.assess.robustness.moves import Budget
from trustshield.errors import DataError
from trustshield.pipeline.train import TrainConfig, train
from trustshield.pipeline.train_config import CAPACITY_FIELDS

#: keep a defence when clean accuracy falls by at most 0.01 and FPR rises by at most 0.005
KEEP_IF = {"min_clean_accuracy_delta": -0.01, "max_fpr_delta": 0.005}
ADVERSARIAL_RECORDS = 3000
DEFENCES = ("monotone", "adversarial")


def train_hardened(
    frame: pd.DataFrame,
    spec,
    spec_text: str,
    *,
    defences=DEFENCES,
    config: TrainConfig = TrainConfig(),
    provenance: dict,
    seed: int = 0,
    first=None,
    progress=None,
):
    """Train with the named defences: ``monotone`` sets the constraint at training time;
    ``adversarial`` trains once (or takes ``first``, a model already trained on ``frame``
    with the same settings), adds :func:`adversarial_training_rows` and trains again with
    the capacity the first training chose."""
    unknown = set(defences) - set(DEFENCES)
    if unknown:
        raise DataError(
            f"unknown defence(s) {sorted(unknown)}; expected some of {', '.join(DEFENCES)}"
        )
    step = progress or (lambda message: None)
    config = replace(config, monotone=config.monotone or "monotone" in defences)
    model = first or train(
        frame, spec, spec_text, config=config, provenance=provenance, progress=progress
    )
    if "adversarial" not in defences:
        return model
    step(
        f"adversarial training: tree attack on up to {ADVERSARIAL_RECORDS} training attack records"
    )
    rows = adversarial_training_rows(model, frame, seed=seed)
    step(f"retraining with {len(rows)} feasible adversarial variants added")
    hardening = {
        "defences": sorted(defences),
        "adversarial_rows": int(len(rows)),
        "budget": Budget().as_dict(),
    }
    chosen = {k: model.training["config"][k] for k in CAPACITY_FIELDS}
    return train(
        pd.concat([frame, rows], ignore_index=True),
        spec,
        spec_text,
        config=replace(config, capacity="fixed", **chosen),  # the capacity the first fit chose
        provenance={**provenance, "hardening": hardening},
        progress=progress,
    )


def adversarial_training_rows(
    model,
    frame: pd.DataFrame,
    *,
    budget: Budget = Budget(),
    n: int = ADVERSARIAL_RECORDS,
    seed: int = 0,
    progress=None,
) -> pd.DataFrame:
    """Feasible worst-case variants of up to ``n`` flagged training attack records, same
    columns (labels included) as ``frame``; only variants that changed something."""
    spec = model.spec
    attack = frame[spec.label_column].to_numpy(dtype=object) != spec.normal_label
    available = int(attack.sum())
    records = select_attack_records(model, frame, n=min(n, available), seed=seed, allow_fewer=True)
    outcome = evade(model, records, attack="tree", budget=budget, seed=seed, progress=progress)
    variants = records.copy()
    for name in spec.feature_names:
        variants[name] = outcome.closest[name].to_numpy()
    moved = np.asarray(outcome.closest.to_numpy() != outcome.originals.to_numpy()).any(axis=1)
    return variants[moved]


def keep(before: dict, after: dict) -> dict:
    """Clean-data deltas of a defence and whether it passes :data:`KEEP_IF`."""
    accuracy = after["accuracy"] - before["accuracy"]
    fpr = after["fpr"] - before["fpr"]
    return {
        "clean_accuracy_delta": float(accuracy),
        "fpr_delta": float(fpr),
        "kept": bool(
            accuracy >= KEEP_IF["min_clean_accuracy_delta"] - 1e-12
            and fpr <= KEEP_IF["max_fpr_delta"] + 1e-12
        ),
    }
