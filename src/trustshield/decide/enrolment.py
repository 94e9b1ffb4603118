"""Authentication thresholds from enrolment data: the scores, and three calibrations.

:func:`calibration_scores` gives, for one user, out-of-fold scores of their own enrolment
samples (a verifier never scores a sample it was fitted on) and scores of a background of
OTHER users' enrolment samples. :func:`calibrate` turns everyone's scores into one
:class:`~trustshield.decide.authentication.AuthPolicy` per user:

- ``global``: one pair of thresholds for everyone, from all genuine (and impostor) scores
  pooled; the accept threshold is their ``accept_quantile``.
- ``per_user``: each user's thresholds from their own genuine scores (their
  ``accept_quantile``) and the background scored by their own verifier (with fewer scores
  than separate thresholds need, see :func:`scores_ceiling`).
- ``normalised``: each user's scores are placed on a common scale, 0 at their genuine
  median and 1 at their background-impostor median; one position on that scale, the
  ``accept_quantile`` of everyone's placed genuine scores, sets every user's accept
  threshold. A verifier whose profile is tight scores everybody high, its user at test
  time too; the impostor median measures that scale with many more samples than the user's
  own enrolment holds.

With a few dozen enrolment samples per user, ``per_user`` quantiles follow the noise of
those samples and can widen the spread of false rejections rather than narrow it; the
authentication benchmark measures all three side by side with
:mod:`trustshield.assess.fairness`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.decide.authentication import AuthPolicy, finite_scores
from trustshield.errors import DataError

CALIBRATIONS = ("global", "per_user", "normalised")
NEEDS_BACKGROUND = (
    "the normalised calibration needs background impostor scores for every "
    "user; missing for {missing}"
)


@dataclass(frozen=True)
class Calibration:
    """A verifier fitted on all of a user's enrolment samples, with the scores that set
    its thresholds: ``genuine`` (n,), each enrolment sample scored by a verifier that
    was not fitted on it; ``impostor`` (m,), background samples of other users, or None;
    ``ceiling``, the highest score the verifier gives any sample within the enrolment
    samples' range (feature by feature), None when the verifier cannot bound it exactly."""

    verifier: object
    genuine: np.ndarray
    impostor: np.ndarray | None
    ceiling: float | None = None


TOO_FEW_SAMPLES = (
    "enrolment needs at least {need} samples (each is scored by a verifier "
    "fitted on the others, which needs {fit}), got {n}: enrol {more} more"
)


def calibration_scores(
    make_verifier: Callable[[], Any],
    X_enrol: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    folds: int = 10,
) -> Calibration:
    """Score each enrolment sample out of fold (contiguous folds, leave-one-out when
    ``folds >= len(X_enrol)``), then fit the user's verifier on every enrolment sample,
    score the ``background`` (other users' enrolment samples) with it, and ask it for its
    ceiling over the enrolment range (its ``range_ceiling``, when it has one)."""
    n = len(X_enrol)
    if folds < 2:
        raise DataError(f"out-of-fold enrolment scores need at least 2 folds, got {folds}")
    fit_needs = max(1, int(getattr(make_verifier(), "min_enrolment", 1)))
    need = fit_needs + 1  # leave-one-out: every fit still has what the verifier needs
    if n < need:
        raise DataError(TOO_FEW_SAMPLES.format(need=need, fit=fit_needs, n=n, more=need - n))
    genuine = np.empty(n)
    rows = np.arange(n)
    for held in np.array_split(rows, min(folds, n)):
        fitted = make_verifier().fit(X_enrol.iloc[np.setdiff1d(rows, held)])
        genuine[held] = fitted.suspicion(X_enrol.iloc[held])
    verifier = make_verifier().fit(X_enrol)
    impostor = None
    if background is not None and len(background):
        scored = np.asarray(verifier.suspicion(background), dtype=float)
        impostor = finite_scores("impostor", scored)
    ceiling = getattr(verifier, "range_ceiling", lambda X: None)(X_enrol)
    return Calibration(
        verifier,
        finite_scores("genuine", genuine),
        impostor,
        None if ceiling is None else float(ceiling),
    )


def calibrate(
    genuine: Mapping[str, np.ndarray],
    impostor: Mapping[str, np.ndarray] | None = None,
    *,
    calibration: str = "per_user",
    **parameters,
) -> dict[str, AuthPolicy]:
    """One fitted policy per user from enrolment scores (``genuine`` and ``impostor`` map
    each user to the arrays of :class:`Calibration`); ``parameters`` go to every
    :class:`AuthPolicy`."""
    if calibration not in CALIBRATIONS:
        raise DataError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    impostor = dict(impostor or {})
    if calibration == "global":
        pooled = np.concatenate([np.asarray(s, dtype=float) for s in genuine.values()])
        background = [np.asarray(s, dtype=float) for s in impostor.values()]
        shared = AuthPolicy(**parameters).fit(
            genuine=pooled, impostor=np.concatenate(background) if background else None
        )
        return {user: shared for user in genuine}
    if calibration == "normalised":
        parameters = {
            **parameters,
            "accept_position": accept_position(
                genuine, impostor, quantile=parameters.get("accept_quantile", 0.95)
            ),
        }
    return {
        user: AuthPolicy(**parameters).fit(
            genuine=scores, impostor=impostor.get(user), ceiling=scores_ceiling(scores)
        )
        for user, scores in genuine.items()
    }


def scores_ceiling(scores) -> float:
    """The ceiling a calibration from scores alone can give (no samples to bound): the user's
    highest enrolment score. It keeps a step-up band for a user with fewer scores than
    separate thresholds need; accept / not-accept rates do not depend on it."""
    return float(np.max(np.asarray(scores, dtype=float)))


def accept_position(
    genuine: Mapping[str, np.ndarray], impostor: Mapping[str, np.ndarray], *, quantile: float
) -> float:
    """The ``quantile`` of all users' genuine scores placed on the common scale (0 = the
    user's genuine median, 1 = their background-impostor median). Users whose impostors
    score no higher than themselves have no such scale and are left out."""
    missing = sorted(str(u) for u in genuine if u not in impostor)
    if missing:
        raise DataError(NEEDS_BACKGROUND.format(missing=missing[:10]))
    placed = []
    for user, scores in genuine.items():
        scores = np.asarray(scores, dtype=float)
        centre, far = np.median(scores), np.median(np.asarray(impostor[user], dtype=float))
        if far > centre:
            placed.append((scores - centre) / (far - centre))
    if not placed:
        raise DataError(
            "no user's background impostors score above the user's own samples: "
            "the normalised calibration has no scale"
        )
    return float(np.quantile(np.concatenate(placed), quantile, method="higher"))
