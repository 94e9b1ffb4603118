"""Train: validated records → encoder, hybrid detector, selected combination, policy, and
the drift reference (training features and out-of-fold suspicion) the drift monitor compares
incoming traffic with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.drift.monitor import DriftReference
from trustshield.decide.policy import ThresholdPolicy, calibrate_band
from trustshield.decide.selection import held_out_scores, select_operating_points
from trustshield.detectors import GradientBoostedDetector, HybridDetector, NormalPrototypeDetector
from trustshield.detectors.params import clone
from trustshield.detectors.protocol import NORMAL, Composite, attack_mask
from trustshield.errors import DataError
from trustshield.explain.reference import NormalReference
from trustshield.features import FeatureEncoder
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.train_config import TrainConfig
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
    )
    return HybridDetector(supervised, novelty, seed=config.seed)


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
    detector = build_detector(spec, encoder, config)
    step("fitting detectors with out-of-fold scores")
    detector.fit(X, labels, categories)
    step("leave-one-attack-name-out and leave-one-category-out selection")
    held = held_out_scores(detector, X, labels, categories)
    selection = select_operating_points(
        detector, held, spec.category_of_attack, max_normal_fpr=config.max_normal_fpr
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
