"""Who pays for keystroke verification's mistakes: FRR and FAR per subject, before and
after a mitigation, on the Killourhy & Maxion split.

Protocol (same subjects, halves and verifier as :mod:`trustshield.assess.keystroke`):

- each subject's verifier is fitted on its first ``n_enrol`` typings, with its prior
  (nested-selected settings, population profile, weights) learned on the other half of the
  subjects;
- thresholds come from enrolment data only: out-of-fold scores of the subject's own
  enrolment typings, and the subject's verifier scoring the OTHER half's enrolment
  typings (the background, never an impostor in a test);
- an attempt is ``window`` consecutive typings: the subject's remaining typings cut into
  consecutive attempts, in the order they were typed (genuine), and sliding windows over
  the first ``n_impostor`` typings of each impostor subject of its own half;
  :class:`~trustshield.decide.authentication.AuthPolicy` decides each attempt;
- ``before`` = one global pair of thresholds for everyone. Mitigations, all reported:
  ``per_user`` and ``normalised`` threshold calibrations
  (:mod:`trustshield.decide.enrolment`), and ``adaptive``: global thresholds with an
  :class:`~trustshield.decide.adaptation.AdaptiveTemplate` that takes in each ACCEPTED
  genuine attempt in turn; impostor attempts then face the final, adapted profile.
  ``after`` is the adaptive template (chosen before measuring: per-user quantiles of 25
  enrolment typings cannot see the drift that causes most false rejections).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trustshield.assess.fairness import (
    decide_attempts,
    fairness_summary,
    fairness_table,
    subject_rates,
)
from trustshield.assess.keystroke import background_typings, plan
from trustshield.decide.adaptation import AdaptiveTemplate
from trustshield.decide.enrolment import CALIBRATIONS, calibrate, calibration_scores

BEFORE, AFTER = "global", "adaptive"


def fairness_study(
    frame: pd.DataFrame,
    factory,
    *,
    subject_column: str,
    window: int = 3,
    n_enrol: int = 25,
    n_impostor: int = 5,
    folds: int = 5,
) -> dict:
    """Per-subject FRR / FAR under each calibration and with the adaptive template, and
    the before/after table (JSON-able)."""
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        setup = _setup(frame, factory, subject_column, n_enrol, n_impostor, folds)
        static = [a for s, entry in setup.items() for a in _static_attempts(s, entry, window)]
        rates = {
            c: subject_rates(
                **decide_attempts(
                    calibrate(_scores(setup, "genuine"), _scores(setup, "impostor"), calibration=c),
                    static,
                )
            )
            for c in CALIBRATIONS
        }
        policies = calibrate(
            _scores(setup, "genuine"), _scores(setup, "impostor"), calibration=BEFORE
        )
        rates[AFTER] = subject_rates(**_adaptive(setup, policies, window))
    table = fairness_table(before=rates[BEFORE], after=rates[AFTER])
    return {
        "before": table["before"],
        "after": table["after"],
        "mitigation": AFTER,
        "variants": {name: fairness_summary(r) for name, r in rates.items()},
        "worst_decile_frr_ratio": table["worst_decile_frr_ratio"],
        "mean_far_increase": table["mean_far_increase"],
        "per_subject": table["per_subject"],
        "window": window,
        "global_policy": next(iter(policies.values())).to_dict(),
        "protocol": PROTOCOL.format(
            window=window, n_enrol=n_enrol, n_impostor=n_impostor, folds=folds
        ),
        "seconds": time.perf_counter() - start,
    }


PROTOCOL = (
    "Verifier per subject fitted on its first {n_enrol} typings, its prior learned on "
    "the other half of the subjects; thresholds from enrolment data only ({folds}-fold "
    "out-of-fold scores of the subject's own enrolment typings, the other half's "
    "enrolment typings as background); attempts of {window} consecutive typings: the "
    "subject's remaining typings in order (genuine) and sliding over the first "
    "{n_impostor} typings of each impostor subject of its own half; before = one global "
    "threshold pair; after = the same thresholds with a template that takes in each "
    "accepted genuine attempt (moving window of {n_enrol} typings), impostors facing the "
    "final template."
)


def _setup(frame, factory, subject_column, n_enrol, n_impostor, folds) -> dict:
    """Per subject: its maker, enrolment and test typings, and enrolment-only scores."""
    subjects = frame[subject_column].astype(str).to_numpy()
    features = frame.drop(columns=[subject_column])
    rows = {s: np.flatnonzero(subjects == s) for s in dict.fromkeys(subjects)}
    makers, setup = {}, {}
    for subject, (impostors, background) in plan(list(rows)).items():
        if background not in makers:
            makers[background] = factory(
                background_typings(features, subjects, rows, background, n_enrol, n_impostor)
            )
        enrol = features.iloc[rows[subject][:n_enrol]]
        others = features.iloc[np.concatenate([rows[b][:n_enrol] for b in background])]
        cal = calibration_scores(makers[background], enrol, background=others, folds=folds)
        setup[subject] = {
            "make": makers[background],
            "enrol": enrol,
            "calibration": cal,
            "genuine": features.iloc[rows[subject][n_enrol:]],
            "impostors": [features.iloc[rows[o][:n_impostor]] for o in impostors],
        }
    return setup


def _scores(setup: dict, which: str) -> dict:
    return {s: getattr(v["calibration"], which) for s, v in setup.items()}


def _static_attempts(subject: str, entry: dict, window: int):
    """(claimed subject, genuine?, window scores) against the enrolled profile."""
    verifier = entry["calibration"].verifier
    mine = np.asarray(verifier.suspicion(entry["genuine"]), dtype=float)
    out = [(subject, True, part) for part in _consecutive(mine, window)]
    for theirs in entry["impostors"]:
        scores = np.asarray(verifier.suspicion(theirs), dtype=float)
        out += [(subject, False, part) for part in _sliding(scores, window)]
    return out


def _adaptive(setup: dict, policies: dict, window: int) -> dict:
    """Genuine attempts in typing order against an adaptive template; impostor attempts
    against the template as it stands after the last genuine attempt."""
    subjects, genuine, actions = [], [], []
    for subject, entry in setup.items():
        template, policy = AdaptiveTemplate(entry["make"], entry["enrol"]), policies[subject]
        typings = entry["genuine"]
        for start in range(0, len(typings) - window + 1, window):
            attempt = typings.iloc[start : start + window]
            action = policy.decide(template.suspicion(attempt)).action
            template.observe(attempt, action)
            subjects.append(subject), genuine.append(True), actions.append(action)
        for theirs in entry["impostors"]:
            scores = np.asarray(template.suspicion(theirs), dtype=float)
            for part in _sliding(scores, window):
                subjects.append(subject), genuine.append(False)
                actions.append(policy.decide(part).action)
    return {"subjects": subjects, "genuine": genuine, "actions": actions}


def _consecutive(scores: np.ndarray, window: int) -> list[np.ndarray]:
    return [scores[i : i + window] for i in range(0, len(scores) - window + 1, window)]


def _sliding(scores: np.ndarray, window: int) -> list[np.ndarray]:
    return [scores[i : i + window] for i in range(len(scores) - window + 1)]
