"""Label-flip poisoning study: how much detection a few mislabelled training attacks cost, and
how much of it a training-data sanitiser buys back.

The attacker model: someone who can edit the training labels relabels a share of attack
records as normal, either at random or all within one attack category (to blind the
detector to it). We retrain the whole pipeline on the poisoned file and measure detection
and false alarms on a separate test frame, which is used only to report.

The sanitiser sees only the (poisoned) training file: it scores every record out-of-fold
with the supervised detector and drops the normal-labelled records it finds likely to be
attacks. Its threshold is fixed in advance (``SANITISER_PROBABILITY``), never tuned on the
flip mask or on test data; the flip mask is used afterwards only to report the
sanitiser's precision and recall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from trustshield.assess.robustness.poisoning import flip_labels, largest_attack_category
from trustshield.assess.performance import binary_metrics, detection_by
from trustshield.detectors import GradientBoostedDetector
from trustshield.features import FeatureEncoder
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import TrainConfig, train
from trustshield.specs import DatasetSpec

RATES = (0.01, 0.05, 0.10)
#: flag a normal-labelled record when its out-of-fold P(attack) is at least this
SANITISER_PROBABILITY = 0.5
SANITISER_FOLDS = 5


def out_of_fold_attack_probability(
    X: pd.DataFrame,
    labels: np.ndarray,
    *,
    normal_label: str,
    n_folds: int = 5,
    seed: int = 0,
    categorical: tuple[str, ...] = (),
    config: TrainConfig = TrainConfig(),
) -> np.ndarray:
    """P(attack) of every record from a supervised detector that never saw it (shape (n,))."""
    y = (np.asarray(labels, dtype=object) != normal_label).astype(int)
    proba = np.empty(len(y))
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fit_rows, held in folds.split(np.zeros(len(y)), y):
        detector = GradientBoostedDetector(
            n_estimators=config.n_estimators,
            num_leaves=config.num_leaves,
            max_depth=config.max_depth,
            categorical=categorical,
            seed=seed,
            n_threads=config.n_threads,
        )
        detector.fit(X.iloc[fit_rows], y[fit_rows])
        proba[held] = 1.0 / (1.0 + np.exp(-detector.suspicion(X.iloc[held])))
    return proba


def sanitise(
    X: pd.DataFrame,
    labels: np.ndarray,
    *,
    normal_label: str,
    n_folds: int = SANITISER_FOLDS,
    seed: int = 0,
    threshold: float = SANITISER_PROBABILITY,
    categorical: tuple[str, ...] = (),
    config: TrainConfig = TrainConfig(),
) -> np.ndarray:
    """Mask of normal-labelled records that look like attacks; drop them before training.

    Rule, fixed in advance: a record labelled ``normal_label`` is flagged when the
    supervised detector (TrainConfig's shape), trained on the other ``n_folds`` − 1 folds,
    gives it P(attack) ≥ ``threshold`` (0.5: the detector thinks "attack" more likely than
    not). Nothing here looks at which labels were flipped or at any test data. Dropping a
    flagged row (rather than relabelling it) costs at most a few genuine normal records.
    """
    labels = np.asarray(labels, dtype=object)
    proba = out_of_fold_attack_probability(
        X,
        labels,
        normal_label=normal_label,
        n_folds=n_folds,
        seed=seed,
        categorical=categorical,
        config=config,
    )
    return (labels == normal_label) & (proba >= threshold)


def poisoning_study(
    train_frame: pd.DataFrame,
    test_frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    spec_text: str = "",
    rates=RATES,
    targets=None,
    config: TrainConfig = TrainConfig(),
    seed: int = 0,
    sanitise_clean: bool = True,
    progress=None,
) -> dict:
    """Clean baseline, then for each (rate, target): flip, retrain, evaluate; sanitise,
    retrain, evaluate. ``targets`` defaults to (None, the largest attack category in
    training); ``sanitise_clean`` also measures the sanitiser on unpoisoned labels. The test frame is only scored, never used to choose anything.
    Returns plain JSON-able figures.
    """
    step = progress or (lambda message: None)
    labels = train_frame[spec.label_column].to_numpy(dtype=object)
    categories = np.array([spec.category(v) for v in labels], dtype=object)
    if targets is None:
        targets = (None, largest_attack_category(categories, labels, spec.normal_label))
    run = _Runner(train_frame, test_frame, spec, spec_text, config, seed)
    step("clean baseline")
    clean = run.evaluate(labels)
    if sanitise_clean:
        step("clean baseline, sanitised")
        clean["sanitised"] = run.sanitised(labels, flipped=np.zeros(len(labels), dtype=bool))
    runs = []
    for target in targets:
        for rate in rates:
            step(f"flip {rate:.0%} of attack labels ({target or 'random'})")
            poisoned, flipped = flip_labels(
                labels,
                categories,
                rate=rate,
                target=target,
                normal_label=spec.normal_label,
                seed=seed,
            )
            result = {
                "rate": float(rate),
                "target": target,
                "flipped": int(flipped.sum()),
                "poisoned": run.evaluate(poisoned),
            }
            result["sanitised"] = run.sanitised(poisoned, flipped=flipped)
            result["drop"] = clean["detection_rate"] - result["poisoned"]["detection_rate"]
            result["recovery"] = (
                result["sanitised"]["detection_rate"] - result["poisoned"]["detection_rate"]
            )
            runs.append(result)
    attack = labels != spec.normal_label
    return {
        "protocol": PROTOCOL.format(threshold=SANITISER_PROBABILITY, folds=SANITISER_FOLDS),
        "train_rows": int(len(labels)),
        "train_attack_rows": int(attack.sum()),
        "test_rows": int(len(test_frame)),
        "targets": list(targets),
        "rates": list(rates),
        "seed": seed,
        "sanitiser": {
            "rule": "drop normal-labelled rows with out-of-fold P(attack) >= threshold",
            "n_folds": SANITISER_FOLDS,
            "threshold": SANITISER_PROBABILITY,
        },
        "clean": clean,
        "runs": runs,
    }


PROTOCOL = (
    "Each poisoned training file relabels round(rate × training attack records) attack "
    "records as normal (random, or within one category; seeded). The full pipeline is "
    "retrained on it; the test frame is scored once per model, to report only. The "
    "sanitiser drops normal-labelled training records whose {folds}-fold out-of-fold "
    "P(attack) ≥ {threshold}, a rule fixed in advance; the flip mask only scores the sanitiser. "
    "Records routed to review count as not alerted."
)


class _Runner:
    """Train on relabelled copies of one training frame; score one test frame."""

    def __init__(self, train_frame, test_frame, spec, spec_text, config, seed):
        self.train_frame, self.test_frame = train_frame, test_frame
        self.spec, self.spec_text, self.config, self.seed = spec, spec_text, config, seed
        test_labels = test_frame[spec.label_column].to_numpy(dtype=object)
        self.y_test = test_labels != spec.normal_label
        self.test_categories = np.array([spec.category(v) for v in test_labels], dtype=object)
        encoder = FeatureEncoder(spec).fit(train_frame)
        self.X, self.categorical = encoder.transform(train_frame), encoder.categorical

    def evaluate(self, labels: np.ndarray, keep: np.ndarray | None = None) -> dict:
        frame = self.train_frame.assign(**{self.spec.label_column: labels})
        if keep is not None:
            frame = frame[keep].reset_index(drop=True)
        model = train(
            frame,
            self.spec,
            self.spec_text,
            config=self.config,
            provenance={"data": {"name": "poisoning study"}},
        )
        alerted = score_batch(model, self.test_frame).decision.alerted
        m = binary_metrics(y_true=self.y_test, alerted=alerted)
        per_category = {
            g["group"]: g["detection_rate"]
            for g in detection_by(groups=self.test_categories, y_true=self.y_test, alerted=alerted)
        }
        return {
            "detection_rate": m["detection_rate"],
            "fpr": m["fpr"],
            "accuracy": m["accuracy"],
            "per_category": per_category,
        }

    def sanitised(self, labels: np.ndarray, *, flipped: np.ndarray) -> dict:
        flagged = sanitise(
            self.X,
            labels,
            normal_label=self.spec.normal_label,
            seed=self.seed,
            categorical=self.categorical,
            config=self.config,
        )
        result = self.evaluate(labels, keep=~flagged)
        caught = int((flagged & flipped).sum())
        result.update(
            {
                "dropped_rows": int(flagged.sum()),
                "dropped_flipped": caught,
                "precision": caught / int(flagged.sum()) if flagged.any() else None,
                "recall": caught / int(flipped.sum()) if flipped.any() else None,
            }
        )
        return result
