"""Red-team runs as plain functions: a model and validated frames in; the run's parameters,
result summary and generated examples (in the model's feature space) out.

The attacks themselves live in :mod:`trustshield.assess.robustness`; this module only
calls them and turns what they return into :class:`RedTeamExamples`. Who may run them is
decided before any of this is called (``trustshield.commands.redteam_gate.authorise``).
Frames are indexed by their line in the source file, and that index becomes the stored
``row`` of each example.

- evasion: every selected record once (with ``all``, the cheapest success among the
  attacks); ``evaded`` where it got past the model (otherwise the adversarial vector
  equals the original), ``changed`` features; ``detail`` names the attack(s).
- poisoning: the training records whose label was flipped to normal; their features are
  untouched, so original = adversarial, ``changed`` = 0, ``evaded`` = False and
  ``detail`` names the flip (``label flood → normal``).
- noise: the noisy records whose decision changed; ``detail`` is ``before → after``,
  ``evaded`` marks an alert that was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from trustshield.assess.robustness.evasion import ATTACKS
from trustshield.errors import DataError
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import TrainConfig
from trustshield.records import ALERT
from trustshield.store.redteam import RedTeamExamples


@dataclass(frozen=True)
class RedTeamResult:
    parameters: dict  # what the run actually used, beyond what the operator gave
    summary: dict  # JSON-able result figures
    examples: RedTeamExamples


def encoded(model: TrainedModel, frame: pd.DataFrame) -> np.ndarray:
    """(n, d) encoded vectors in the model's feature order."""
    return model.encoder.transform(frame).to_numpy(dtype=np.float64)


def features_changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, how many features differ (two missing values count as equal)."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return (~same).sum(axis=1).astype(np.int64)


def run_evasion(
    model: TrainedModel,
    frame: pd.DataFrame,
    *,
    attack: str,
    records: int,
    max_features: int,
    max_factor: float,
    seed: int,
    progress=None,
) -> RedTeamResult:
    """Evade the model on ``records`` attack records it currently flags. With ``all``,
    each attack runs in turn (its summary is kept) and the stored example per record is
    the cheapest success among them (``best_of``)."""
    from trustshield.assess.robustness.evasion import best_of, evade, select_attack_records
    from trustshield.assess.robustness.moves import Budget

    names = ATTACKS if attack == "all" else (attack,)
    chosen = select_attack_records(model, frame, n=records, seed=seed)
    budget = Budget(max_features=max_features, max_factor=max_factor)
    outcomes = [
        evade(model, chosen, attack=name, budget=budget, seed=seed, progress=progress)
        for name in names
    ]
    summary = {"records": int(len(chosen)), "attacks": {o.attack: o.summary() for o in outcomes}}
    outcome = outcomes[0]
    if len(outcomes) > 1:
        outcome = best_of(outcomes)
        summary["combined"] = outcome.summary()
    original = encoded(model, outcome.originals)
    examples = RedTeamExamples(
        rows=chosen.index.to_numpy(),  # the attack module renumbers its frames 0..n-1
        detail=np.full(len(original), outcome.attack, dtype=object),
        evaded=np.asarray(outcome.evaded, dtype=bool),
        changed=np.asarray(outcome.changed),
        original=original,
        adversarial=encoded(model, outcome.adversarial),
    )
    return RedTeamResult({"attacks": list(names), "budget": budget.as_dict()}, summary, examples)


def run_poisoning(
    model: TrainedModel,
    train_frame: pd.DataFrame,
    test_frame: pd.DataFrame,
    *,
    rate: float,
    target: str | None,
    seed: int,
    progress=None,
) -> RedTeamResult:
    """Flip ``rate`` of the training attack labels (optionally within one category),
    retrain with the model's own configuration, and measure on the test frame."""
    from trustshield.assess.robustness.poisoning import flip_labels
    from trustshield.pipeline.poisoning import poisoning_study

    spec = model.spec
    labels = train_frame[spec.label_column].to_numpy(dtype=object)
    categories = np.array([spec.category(v) for v in labels], dtype=object)
    try:  # the same seeded draw poisoning_study makes; checked before any training
        _, flipped = flip_labels(
            labels, categories, rate=rate, target=target, normal_label=spec.normal_label, seed=seed
        )
    except ValueError as exc:
        raise DataError(f"cannot poison: {exc}") from None
    config = training_config(model)
    study = poisoning_study(
        train_frame,
        test_frame,
        spec,
        spec_text=model.spec_text,
        rates=(rate,),
        targets=(target,),
        config=config,
        seed=seed,
        progress=progress,
    )
    vectors = encoded(model, train_frame[flipped])
    examples = RedTeamExamples(
        rows=train_frame.index[flipped].to_numpy(),
        detail=np.array(
            [f"label {v} → {spec.normal_label}" for v in labels[flipped]], dtype=object
        ),
        evaded=np.zeros(len(vectors), dtype=bool),
        changed=np.zeros(len(vectors), dtype=np.int64),
        original=vectors,
        adversarial=vectors.copy(),
    )
    return RedTeamResult({"train_config": config.__dict__}, study, examples)


def run_noise(
    model: TrainedModel, frame: pd.DataFrame, *, level: float, seed: int
) -> RedTeamResult:
    """Measurement noise at ``level``; examples are the records whose decision changed."""
    from trustshield.assess.robustness.noise import add_measurement_noise
    from trustshield.pipeline.noise_study import decision_stability

    if level < 0:
        raise DataError(f"--level must be ≥ 0 (a share of each value), got {level}")
    noisy = add_measurement_noise(frame, model.spec, level=level, seed=seed)
    summary = {**decision_stability(model, frame, noisy), "noise": noisy.attrs["noise"]}
    base = frame.loc[noisy.index]
    before = score_batch(model, base).decision.actions.astype(str)
    after = score_batch(model, noisy).decision.actions.astype(str)
    moved = before != after
    original, perturbed = encoded(model, base[moved]), encoded(model, noisy[moved])
    examples = RedTeamExamples(
        rows=noisy.index[moved].to_numpy(),
        detail=np.array([f"{b} → {a}" for b, a in zip(before[moved], after[moved])], dtype=object),
        evaded=(before[moved] == ALERT) & (after[moved] != ALERT),
        changed=features_changed(original, perturbed),
        original=original,
        adversarial=perturbed,
    )
    return RedTeamResult({}, summary, examples)


def training_config(model: TrainedModel) -> TrainConfig:
    """The TrainConfig the model was trained with (fields it does not record keep defaults)."""
    recorded = model.training.get("config", {})
    return TrainConfig(
        **{f.name: recorded[f.name] for f in fields(TrainConfig) if f.name in recorded}
    )
