"""Train: validated records → encoder, hybrid detector, selected combination, policy, and
the drift reference (training features and out-of-fold suspicion) the drift monitor compares
incoming traffic with."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from trustshield.drift.monitor import DriftReference
from trustshield.decide.policy import ThresholdPolicy, calibrate_band
from trustshield.decide.selection import Selection, held_out_scores, select_operating_points
from trustshield.detectors import GradientBoostedDetector, HybridDetector, NormalPrototypeDetector
from trustshield.detectors.params import clone
from trustshield.detectors.protocol import NORMAL, Composite, attack_mask
from trustshield.errors import DataError
from trustshield.explain.reference import NormalReference
from trustshield.features import FeatureEncoder
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.train_config import (
    CAPACITY_FIELDS,
    CAPACITY_GRID,
    CAPACITY_RULES,
    TrainConfig,
)
from trustshield.specs import DatasetSpec


#: output drift compares suspicion raised to 0 at least: 0 is where every component sits at
#: the median out-of-fold score of normal training records, and below it the supervised
#: component's lowest margin differs between the out-of-fold refits and the final model
#: (on KDDTrain+_20Percent it moved the output PSI of a held-out fifth from 0.004 to 0.19)
SUSPICION_FLOOR = 0.0


def build_detector(
    spec: DatasetSpec, encoder: FeatureEncoder, config: TrainConfig
) -> HybridDetector:
    heavy_tailed = tuple(c.name for c in spec.features if c.type == "integer")
    supervised = GradientBoostedDetector(
        n_estimators=config.n_estimators,
        num_leaves=config.num_leaves,
        max_depth=config.max_depth,
        learning_rate=config.learning_rate,
        categorical=encoder.categorical,
        seed=config.seed,
        n_threads=config.n_threads,
        monotone=monotone_directions(spec) if config.monotone else None,
    )
    novelty = NormalPrototypeDetector(
        n_prototypes=config.n_prototypes,
        scaling=config.scaling,
        categorical_weight=config.categorical_weight,
        categorical=encoder.categorical,
        log_features=heavy_tailed,
        seed=config.seed,
        n_threads=config.n_threads,
    )
    return HybridDetector(supervised, novelty, seed=config.seed)


def fit_and_select(
    spec: DatasetSpec,
    encoder: FeatureEncoder,
    config: TrainConfig,
    X: pd.DataFrame,
    labels: np.ndarray,
    categories: np.ndarray,
    step,
) -> tuple[HybridDetector, Selection, TrainConfig, list[dict]]:
    """Fit the hybrid for each candidate capacity (``config`` alone when its capacity is
    "fixed", else each of CAPACITY_GRID, smallest first) and choose its operating points on
    held-out groups of the training data; keep the candidate with the highest held-out
    objective (``config.capacity_rule`` "best"; the smaller one only on an exact tie), or
    the smallest candidate whose objective is within one standard error of the best one's
    ("one_se": a larger model must earn its capacity); see :func:`choose_capacity`.
    Returns (detector, selection, the chosen config, one trial record per candidate:
    capacity, objective, its standard error, share of normal training records alerted)."""
    candidates = (
        [config]
        if config.capacity == "fixed"
        else [replace(config, **asdict(c)) for c in CAPACITY_GRID]
    )
    fitted, trials = [], []
    for n, candidate in enumerate(candidates, 1):
        shape = f"{candidate.n_estimators} trees, {candidate.num_leaves} leaves"
        step(f"capacity {n}/{len(candidates)} ({shape}): fitting with out-of-fold scores")
        detector = build_detector(spec, encoder, candidate)
        detector.fit(X, labels, categories)
        step(f"capacity {n}/{len(candidates)}: held-out selection of operating points")
        held = held_out_scores(detector, X, labels, categories)
        selection = select_operating_points(
            detector, held, spec.category_of_attack, max_normal_fpr=config.max_normal_fpr
        )
        trials.append(
            {
                **{k: getattr(candidate, k) for k in CAPACITY_FIELDS},
                "objective": selection.objective,
                "objective_se": selection.objective_se,
                "normal_fpr": selection.normal_fpr,
            }
        )
        fitted.append((detector, selection, candidate))
    chosen = fitted[
        choose_capacity(
            [f[1].objective for f in fitted],
            [f[1].objective_se for f in fitted],
            config.capacity_rule,
        )
    ]
    for trial, candidate in zip(trials, fitted, strict=True):
        trial["chosen"] = candidate is chosen
    return (*chosen, trials)


def choose_capacity(objectives: list[float], ses: list[float], rule: str) -> int:
    """Index of the chosen candidate, candidates smallest first, each with its held-out
    objective (higher is better) and that objective's standard error: "best", the highest
    objective (the first, smaller, one on an exact tie); "one_se", the first whose objective
    is within one standard error of the highest."""
    if rule not in CAPACITY_RULES:
        raise DataError(f"capacity_rule must be one of {', '.join(CAPACITY_RULES)}; got {rule!r}")
    best = int(np.argmax(objectives))  # the first maximum
    if rule == "best":
        return best
    return next(k for k, v in enumerate(objectives) if v >= objectives[best] - ses[best])


def monotone_directions(spec: DatasetSpec) -> dict[str, int]:
    """+1 for numeric features an attacker can only increase, -1 for decrease-only ones."""
    sign = {"increase": 1, "decrease": -1}
    return {
        c.name: sign[c.attacker]
        for c in spec.features
        if c.attacker in sign and c.type != "categorical"
    }


def train(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    spec_text: str,
    *,
    config: TrainConfig,
    provenance: dict,
    progress=None,
) -> TrainedModel:
    """Fit everything on ``frame`` (validated training records with labels)."""
    if spec.label_column is None or spec.label_column not in frame.columns:
        raise DataError(
            f"training needs the label column {spec.label_column!r} of spec "
            f"{spec.name}; it is missing from the data"
        )
    labels, normal = detector_labels(frame[spec.label_column].to_numpy(dtype=object), spec)
    categories = np.array(
        [spec.category(v) for v in frame[spec.label_column].to_numpy(dtype=object)], dtype=object
    )
    step = progress or (lambda message: None)
    encoder = FeatureEncoder(spec).fit(frame)
    X = encoder.transform(frame)
    detector, selection, config, trials = fit_and_select(
        spec, encoder, config, X, labels, categories, step
    )
    detector.set_params(operating_points=selection.points)
    normal_scores = detector.scaled(detector.normal_out_of_fold()).max(axis=1)
    policy = ThresholdPolicy(
        max_normal_fpr=config.max_normal_fpr, review_normal_fpr=config.review_normal_fpr, floor=1.0
    ).fit(normal_scores=normal_scores)
    reference = NormalReference().fit(X[normal], categorical=encoder.categorical)
    step("drift reference: training features and out-of-fold suspicion")
    drift_reference = DriftReference(
        categorical=encoder.categorical, random_state=config.seed, suspicion_floor=SUSPICION_FLOOR
    ).fit(X, training_suspicion(detector, X, labels), threshold=policy.alert_threshold_)
    training = {
        **provenance,
        "rows": int(len(frame)),
        "normal_rows": int(normal.sum()),
        "attack_names": sorted(set(labels[~normal])),
        "config": config.__dict__,
        "selection": selection.as_dict(),
        "capacity_trials": trials,
        # the probing monitor's band: |margin| holding 1 % of normal (out-of-fold) records
        "boundary_band": calibrate_band(normal_scores - policy.alert_threshold_),
    }
    return TrainedModel(
        spec=spec,
        spec_text=spec_text,
        encoder=encoder,
        detector=detector,
        policy=policy,
        reference=reference,
        training=training,
        drift_reference=drift_reference,
    )


def detector_labels(labels: np.ndarray, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """The spec's labels (n,) in the detectors' convention, where the label "normal" marks
    normal records (:func:`attack_mask`): the spec's normal label becomes "normal", attack
    names stay as they are; and the normal mask (n,)."""
    normal = labels == spec.normal_label
    if normal.all() or not normal.any():
        raise DataError(
            "training data needs both normal records and attack records "
            f"(label {spec.normal_label!r} marks normal in spec {spec.name}; found "
            f"{int(normal.sum())} normal of {len(labels)})"
        )
    clash = (labels == NORMAL) & ~normal
    if clash.any():
        raise DataError(
            f"label column {spec.label_column!r}, row {int(np.flatnonzero(clash)[0]) + 1}: "
            f"an attack is named {NORMAL!r} while spec {spec.name} marks normal records "
            f"{spec.normal_label!r}; rename that attack"
        )
    return np.where(normal, NORMAL, labels).astype(object), normal


def training_suspicion(detector: Composite, X: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Out-of-fold suspicion (n,) of every training record of X (n, d), on the fitted
    hybrid's final scale (1 = operating point, higher = more suspicious); read through the
    Composite protocol (parts "supervised" and "novelty", parameters n_folds and seed).

    A fitted model scores its own training records as less unusual than new ones, so the
    drift reference takes each record's score from models that did not see it. Normal
    records: the hybrid's k-fold out-of-fold component scores (``normal_out_of_fold()``,
    computed while fitting). Attack records: the supervised component refitted on the same
    k folds (same splitter, folds and seed as :meth:`HybridDetector.out_of_fold`), which costs k
    LightGBM fits, about 6 % of training time on KDDTrain+_20Percent; the novelty
    component is fitted on normal records only, so its score of an attack record by the
    final model is already out-of-sample.
    """
    from sklearn.model_selection import StratifiedKFold  # training only

    attack = attack_mask(labels)
    parts, params = detector.parts(), detector.get_params(deep=False)
    raw = np.empty((len(X), len(parts)))
    raw[~attack] = detector.normal_out_of_fold()
    rows = np.flatnonzero(attack)
    raw[rows, 1] = parts["novelty"].suspicion(X.iloc[rows])
    folds = StratifiedKFold(params["n_folds"], shuffle=True, random_state=params["seed"])
    for train_rows, held in folds.split(X, attack):
        held = held[attack[held]]
        supervised = clone(parts["supervised"]).fit(X.iloc[train_rows], labels[train_rows])
        raw[held, 0] = supervised.suspicion(X.iloc[held])
    return detector.scaled(raw).max(axis=1)
