"""Accept / step-up / deny for user authentication, calibrated on enrolment data only.

A verifier (one per user; ``fit``, ``suspicion``: higher = less like the user) scores each
sample of an attempt (one typing of a password, one mouse action). :class:`AuthPolicy`
turns the scores of one attempt into one :class:`~trustshield.records.AuthDecision`:

the first rule that applies, in this order:

1. no samples, or fewer than ``min_samples``                       → step_up
2. any sample missing, malformed or unscorable (None, NaN, ±inf)   → step_up
3. at least ``min_agreeing`` samples above the deny threshold, and
   more than half of the attempt                                    → deny
4. at least ``min_agreeing`` above the deny threshold, but not
   more than half (conflicting samples)                             → step_up
5. median sample score at or below the accept threshold             → accept
6. anything else (the uncertain band, or too few agreeing samples)  → step_up

So ``deny`` needs several samples that agree; a single sample, a missing one, a profile
that fails to load (:func:`decide_safely`) or a score between the thresholds asks for a
second factor instead.

Thresholds come from enrolment data only (:meth:`AuthPolicy.fit` takes nothing else):
genuine scores are the user's own enrolment samples scored by verifiers fitted on the
*other* folds (:func:`calibration_scores`), impostor scores are a background of *other*
users' enrolment samples. :func:`calibrate` makes one policy per user, either ``global``
(one pair of thresholds from everyone's pooled scores) or ``per_user`` (each user's
thresholds from their own scores: the fairness mitigation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.errors import NOT_FITTED, DataError, NotFittedError
from trustshield.records import ACCEPT, DENY, STEP_UP, AuthDecision

CALIBRATIONS = ("global", "per_user")
PARAMETERS = ("accept_quantile", "deny_quantile", "impostor_quantile", "accept_impostor_rate",
              "min_agreeing", "min_samples")
EMPTY_SCORES = "{name} must be a non-empty 1-D array of finite enrolment scores, got {got}"
LOAD_FAILED = "the enrolled profile could not be loaded ({error}); a second factor is needed"
READ_FAILED = "the samples could not be read ({error}); a second factor is needed"
SCORE_FAILED = ("the verifier could not score the samples ({error}); a second factor is "
                "needed")


@dataclass(frozen=True)
class Calibration:
    """A verifier fitted on all of a user's enrolment samples, with the scores that set
    its thresholds: ``genuine`` (n,), each enrolment sample scored by a verifier that
    was not fitted on it; ``impostor`` (m,), background samples of other users, or None."""

    verifier: object
    genuine: np.ndarray
    impostor: np.ndarray | None


def calibration_scores(make_verifier: Callable[[], object], X_enrol: pd.DataFrame, *,
                       background: pd.DataFrame | None = None, folds: int = 10) -> Calibration:
    """Score each enrolment sample out of fold (contiguous folds, leave-one-out when
    ``folds >= len(X_enrol)``), then fit the user's verifier on every enrolment sample and
    score the ``background`` (other users' enrolment samples) with it."""
    n = len(X_enrol)
    if n < 2 or folds < 2:
        raise DataError(f"out-of-fold enrolment scores need at least 2 samples and 2 folds, "
                        f"got {n} samples and {folds} folds")
    genuine = np.empty(n)
    rows = np.arange(n)
    for held in np.array_split(rows, min(folds, n)):
        fitted = make_verifier().fit(X_enrol.iloc[np.setdiff1d(rows, held)])
        genuine[held] = fitted.suspicion(X_enrol.iloc[held])
    verifier = make_verifier().fit(X_enrol)
    impostor = None
    if background is not None and len(background):
        impostor = np.asarray(verifier.suspicion(background), dtype=float)
    return Calibration(verifier, _finite("genuine", genuine),
                       None if impostor is None else _finite("impostor", impostor))


class AuthPolicy:
    """One user's accept and deny thresholds on per-sample suspicion.

    ``accept_quantile``: accept threshold = this quantile of genuine enrolment scores.
    ``deny_quantile``: the deny threshold is at least this quantile of genuine scores, so
    genuine samples seldom lie above it. ``impostor_quantile``: with background impostor
    scores, the deny threshold is at least this quantile of them too (so most impostor
    samples it denies are above it, when that lies higher). ``accept_impostor_rate``: with
    background scores, lower the accept threshold until at most this share of them would
    be accepted (None: no cap).
    """

    def __init__(self, *, accept_quantile: float = 0.95, deny_quantile: float = 0.99,
                 impostor_quantile: float = 0.5, accept_impostor_rate: float | None = None,
                 min_agreeing: int = 3, min_samples: int = 1):
        self.accept_quantile = accept_quantile
        self.deny_quantile = deny_quantile
        self.impostor_quantile = impostor_quantile
        self.accept_impostor_rate = accept_impostor_rate
        self.min_agreeing = min_agreeing
        self.min_samples = min_samples

    def fit(self, *, genuine: np.ndarray, impostor: np.ndarray | None = None) -> AuthPolicy:
        """Set thresholds from enrolment scores only: ``genuine`` out-of-fold scores of the
        user's own samples, ``impostor`` scores of other users' enrolment samples."""
        self._check_parameters()
        genuine = _finite("genuine", np.asarray(genuine, dtype=float))
        accept = _quantile(genuine, self.accept_quantile)
        deny = _quantile(genuine, self.deny_quantile)
        if impostor is not None:
            impostor = _finite("impostor", np.asarray(impostor, dtype=float))
            deny = max(deny, _quantile(impostor, self.impostor_quantile))
            if self.accept_impostor_rate is not None:
                accept = min(accept, _impostor_cap(impostor, self.accept_impostor_rate))
        self.accept_threshold_ = float(accept)
        self.deny_threshold_ = float(max(deny, accept))
        return self

    def decide(self, scores: Sequence[float | None] | np.ndarray) -> AuthDecision:
        """One decision for one attempt; ``scores`` holds each sample's suspicion, None for
        a sample that was missing or malformed."""
        if not hasattr(self, "accept_threshold_"):
            raise NotFittedError(NOT_FITTED.format(name="AuthPolicy", method="decide"))
        values = tuple(_score_or_none(s) for s in scores)
        action, reason = self._rule(values)
        return AuthDecision(action, reason, values, self.accept_threshold_,
                            self.deny_threshold_)

    def _rule(self, values: tuple[float | None, ...]) -> tuple[str, str]:
        n = len(values)
        bad = [i + 1 for i, v in enumerate(values) if v is None]
        if n == 0:
            return STEP_UP, "no samples to verify"
        if bad:
            return STEP_UP, f"sample(s) {bad} of {n} missing, malformed or not scored"
        if n < self.min_samples:
            return STEP_UP, f"{n} sample(s); at least {self.min_samples} needed to decide"
        scores = np.array(values)
        above = int((scores > self.deny_threshold_).sum())
        if above >= self.min_agreeing and above > n / 2:
            return DENY, (f"{above} of {n} samples agree: above the deny threshold "
                          f"{self.deny_threshold_:.5g}")
        if above >= self.min_agreeing:
            return STEP_UP, (f"conflicting samples: {above} of {n} above the deny threshold, "
                             "not a majority")
        median = float(np.median(scores))
        if median <= self.accept_threshold_:
            return ACCEPT, (f"median score {median:.5g} of {n} sample(s) within the accept "
                            f"threshold {self.accept_threshold_:.5g}")
        if above:
            return STEP_UP, (f"{above} of {n} samples above the deny threshold; deny needs "
                             f"at least {self.min_agreeing} and more than half")
        return STEP_UP, (f"uncertain: median score {median:.5g} between the accept "
                         f"{self.accept_threshold_:.5g} and deny {self.deny_threshold_:.5g} "
                         "thresholds")

    def _check_parameters(self) -> None:
        quantiles = (self.accept_quantile, self.deny_quantile, self.impostor_quantile)
        if not all(0 < q <= 1 for q in quantiles) or self.accept_quantile > self.deny_quantile:
            raise DataError("expected 0 < accept_quantile ≤ deny_quantile ≤ 1 and 0 < "
                            f"impostor_quantile ≤ 1, got {quantiles}")
        rate = self.accept_impostor_rate
        if rate is not None and not 0 <= rate < 1:
            raise DataError(f"expected 0 ≤ accept_impostor_rate < 1 or None, got {rate}")
        if self.min_agreeing < 2 or self.min_samples < 1:
            raise DataError("deny needs agreement: expected min_agreeing ≥ 2 and min_samples "
                            f"≥ 1, got {self.min_agreeing} and {self.min_samples}")

    def to_dict(self) -> dict:
        if not hasattr(self, "accept_threshold_"):
            raise NotFittedError(NOT_FITTED.format(name="AuthPolicy", method="to_dict"))
        return {**self._parameters(), "accept_threshold": self.accept_threshold_,
                "deny_threshold": self.deny_threshold_}

    def _parameters(self) -> dict:
        return {name: getattr(self, name) for name in PARAMETERS}

    @classmethod
    def from_dict(cls, state: dict) -> AuthPolicy:
        policy = cls(**{k: state[k] for k in PARAMETERS})
        policy._check_parameters()
        accept, deny = float(state["accept_threshold"]), float(state["deny_threshold"])
        if not (np.isfinite(accept) and np.isfinite(deny) and accept <= deny):
            raise DataError(f"policy state needs finite thresholds with accept ≤ deny, got "
                            f"{accept} and {deny}")
        policy.accept_threshold_, policy.deny_threshold_ = accept, deny
        return policy


def calibrate(genuine: Mapping[str, np.ndarray], impostor: Mapping[str, np.ndarray] | None = None,
              *, calibration: str = "per_user", **parameters) -> dict[str, AuthPolicy]:
    """One fitted policy per user from enrolment scores (see :class:`Calibration`).

    ``global``: one pair of thresholds for everyone, from all users' genuine (and impostor)
    scores pooled. ``per_user``: each user's thresholds from their own genuine scores and
    the background scored by their own verifier.
    """
    if calibration not in CALIBRATIONS:
        raise DataError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    impostor = dict(impostor or {})
    if calibration == "per_user":
        return {user: AuthPolicy(**parameters).fit(genuine=scores, impostor=impostor.get(user))
                for user, scores in genuine.items()}
    pooled = np.concatenate([np.asarray(s, dtype=float) for s in genuine.values()])
    background = [np.asarray(s, dtype=float) for s in impostor.values()]
    shared = AuthPolicy(**parameters).fit(
        genuine=pooled, impostor=np.concatenate(background) if background else None)
    return {user: shared for user in genuine}


def score_samples(verifier, samples: pd.DataFrame | Sequence) -> list[float | None]:
    """Suspicion of each sample, None for a malformed one: a row with a missing,
    non-numeric or non-finite value (``samples`` a DataFrame), or a None entry (``samples``
    a sequence of rows, each a mapping or Series of feature values)."""
    if not isinstance(samples, pd.DataFrame):
        samples = pd.DataFrame([{} if r is None else dict(pd.Series(r)) for r in samples])
    numeric = samples.apply(pd.to_numeric, errors="coerce").astype(float)
    ok = np.flatnonzero(np.isfinite(numeric.to_numpy()).all(axis=1) & (numeric.shape[1] > 0))
    scores: list[float | None] = [None] * len(samples)
    if len(ok):
        raw = np.asarray(verifier.suspicion(numeric.iloc[ok]), dtype=float)
        if raw.shape != (len(ok),):
            raise DataError(f"the verifier returned shape {raw.shape} for {len(ok)} samples")
        for i, value in zip(ok, raw):
            scores[i] = _score_or_none(value)
    return scores


def decide_safely(load_verifier: Callable[[], tuple[object, AuthPolicy]], samples) -> AuthDecision:
    """Load ``(verifier, policy)``, score ``samples`` (data, or a callable that reads it)
    and decide; any failure along the way gives step_up with the reason, never deny.

    Errors while scoring are reported by type only: their messages might quote sample
    values, and decisions are printed and audited.
    """
    try:
        verifier, policy = load_verifier()
        accept, deny = policy.accept_threshold_, policy.deny_threshold_
    except Exception as exc:  # fail safe: whatever broke, ask for a second factor
        return AuthDecision(STEP_UP, LOAD_FAILED.format(error=_describe(exc)))
    if callable(samples):
        try:
            samples = samples()
        except Exception as exc:
            return AuthDecision(STEP_UP, READ_FAILED.format(error=_describe(exc)), (), accept, deny)
    try:
        return policy.decide(score_samples(verifier, samples))
    except Exception as exc:
        return AuthDecision(STEP_UP, SCORE_FAILED.format(error=type(exc).__name__), (),
                            accept, deny)


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _score_or_none(value) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _finite(name: str, scores: np.ndarray) -> np.ndarray:
    if scores.ndim != 1 or len(scores) == 0 or not np.isfinite(scores).all():
        raise DataError(EMPTY_SCORES.format(name=name, got=f"shape {scores.shape}" + (
            "" if scores.size == 0 or np.isfinite(scores).all() else " with non-finite values")))
    return scores


def _quantile(scores: np.ndarray, q: float) -> float:
    return float(np.quantile(scores, q, method="higher"))


def _impostor_cap(impostor: np.ndarray, rate: float) -> float:
    """The highest threshold at which at most ``rate`` of the impostor scores are at or
    below it (scores at or below the threshold are accepted)."""
    ordered = np.sort(impostor)
    allowed = int(np.floor(rate * len(ordered)))
    return float(np.nextafter(ordered[allowed], -np.inf))
