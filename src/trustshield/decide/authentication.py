"""Accept / step-up / deny for user authentication, calibrated on enrolment data only.

A verifier (one per user; ``fit``, ``suspicion``: higher = less like the user) scores each
sample of an attempt (one typing of a password, one mouse action). :class:`AuthPolicy`
turns the scores of one attempt into one :class:`~trustshield.records.AuthDecision`, by
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
genuine scores are the user's own enrolment samples scored out of fold, impostor scores a
background of *other* users' enrolment samples; :mod:`trustshield.decide.enrolment`
computes both and calibrates a population of users.

Short enrolment. With n genuine scores, the accept and deny quantiles are distinct order
statistics only from :func:`samples_for_separate_thresholds` samples on (21 for the 95th
and 99th percentiles); below that both are the largest score, there is no step-up band,
and a genuine attempt a little past the few enrolment samples is denied. Below that
number, ``fit`` needs the ``ceiling``: the highest score any sample lying within the
enrolment samples' range (feature by feature) can get, which a separable verifier computes
exactly (``range_ceiling``); the deny threshold is raised to it, so no such sample is ever
denied (it is stepped up instead), and to at least the accept threshold plus the distance
from the user's median score to it, so a step-up band stays open even when the few
out-of-fold scores already reach the ceiling. Without a ceiling, ``fit`` refuses and names
how many more samples are needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from trustshield.errors import NOT_FITTED, DataError, NotFittedError
from trustshield.records import ACCEPT, DENY, STEP_UP, AuthDecision

PARAMETERS = (
    "accept_quantile",
    "deny_quantile",
    "impostor_quantile",
    "accept_position",
    "min_agreeing",
    "min_samples",
)
EMPTY_SCORES = "{name} must be a non-empty 1-D array of finite enrolment scores, got {got}"
TOO_FEW_FOR_BAND = (
    "{n} enrolment sample(s) are fewer than the {need} needed for separate "
    "accept and deny thresholds (the {accept:g} and {deny:g} quantiles), and "
    "this verifier cannot bound its score over the enrolment range to keep a "
    "step-up band: enrol {more} more sample(s)"
)
#: the ceiling is raised by this share (and at least this much) against rounding
CEILING_MARGIN = 1e-9
LOAD_FAILED = "the enrolled profile could not be loaded ({error}); a second factor is needed"
READ_FAILED = "the samples could not be read ({error}); a second factor is needed"
SCORE_FAILED = "the verifier could not score the samples ({error}); a second factor is needed"


class AuthPolicy:
    """One user's accept and deny thresholds on per-sample suspicion.

    ``accept_quantile``: accept threshold = this quantile of genuine enrolment scores.
    ``deny_quantile``: the deny threshold is at least this quantile of genuine scores, so
    genuine samples seldom lie above it. ``impostor_quantile``: with background impostor
    scores, the deny threshold is at least this quantile of them too (so most impostor
    samples it denies are above it, when that lies higher). ``accept_position``: with
    background scores, place the accept threshold this far from the user's genuine median
    (0) towards the median background impostor score (1) instead of at the genuine
    quantile (the ``normalised`` calibration of :func:`trustshield.decide.calibrate`
    learns one position for everyone); a user whose impostors score no higher than
    themselves keeps the quantile.
    """

    def __init__(
        self,
        *,
        accept_quantile: float = 0.95,
        deny_quantile: float = 0.99,
        impostor_quantile: float = 0.5,
        accept_position: float | None = None,
        min_agreeing: int = 3,
        min_samples: int = 1,
    ):
        self.accept_quantile = accept_quantile
        self.deny_quantile = deny_quantile
        self.impostor_quantile = impostor_quantile
        self.accept_position = accept_position
        self.min_agreeing = min_agreeing
        self.min_samples = min_samples

    def fit(
        self,
        *,
        genuine: np.ndarray,
        impostor: np.ndarray | None = None,
        ceiling: float | None = None,
    ) -> AuthPolicy:
        """Set thresholds from enrolment data only: ``genuine`` out-of-fold scores of the
        user's own samples, ``impostor`` scores of other users' enrolment samples,
        ``ceiling`` the highest score a sample within the enrolment range can get (used,
        and needed, below :func:`samples_for_separate_thresholds` genuine scores)."""
        self._check_parameters()
        genuine = finite_scores("genuine", np.asarray(genuine, dtype=float))
        need = samples_for_separate_thresholds(self.accept_quantile, self.deny_quantile)
        short = need is None or len(genuine) < need
        if short and (ceiling is None or not np.isfinite(ceiling)):
            shown = "more than any number of" if need is None else need
            raise DataError(
                TOO_FEW_FOR_BAND.format(
                    n=len(genuine),
                    need=shown,
                    accept=self.accept_quantile,
                    deny=self.deny_quantile,
                    more="more" if need is None else need - len(genuine),
                )
            )
        accept = _quantile(genuine, self.accept_quantile)
        deny = _quantile(genuine, self.deny_quantile)
        if impostor is not None:
            impostor = finite_scores("impostor", np.asarray(impostor, dtype=float))
            deny = max(deny, _quantile(impostor, self.impostor_quantile))
        if self.accept_position is not None:
            if impostor is None:
                raise DataError(
                    "accept_position needs background impostor scores: pass "
                    "impostor= (other users' enrolment samples, scored)"
                )
            centre, far = float(np.median(genuine)), float(np.median(impostor))
            if far > centre:
                accept = centre + self.accept_position * (far - centre)
        if short and ceiling is not None:  # (short implies a ceiling, checked above) the band:
            # past the enrolment range's ceiling, and at least as wide as the distance from the
            # user's median score to their accept threshold
            deny = max(
                deny,
                ceiling + CEILING_MARGIN * max(1.0, abs(ceiling)),
                2.0 * accept - float(np.median(genuine)),
            )
        self.accept_threshold_ = float(accept)
        self.deny_threshold_ = float(max(deny, accept))
        self.short_enrolment_ = (
            None
            if not short or ceiling is None
            else {"samples": len(genuine), "needed": need, "ceiling": float(ceiling)}
        )
        return self

    def decide(self, scores: Sequence[float | None] | np.ndarray) -> AuthDecision:
        """One decision for one attempt; ``scores`` holds each sample's suspicion, None for
        a sample that was missing or malformed."""
        if not hasattr(self, "accept_threshold_"):
            raise NotFittedError(NOT_FITTED.format(name="AuthPolicy", method="decide"))
        values = tuple(_score_or_none(s) for s in scores)
        action, reason = self._rule(values)
        return AuthDecision(action, reason, values, self.accept_threshold_, self.deny_threshold_)

    def _rule(self, values: tuple[float | None, ...]) -> tuple[str, str]:
        n = len(values)
        bad = [i + 1 for i, v in enumerate(values) if v is None]
        if n == 0:
            return STEP_UP, "no samples to verify"
        if bad:
            return STEP_UP, (
                f"{len(bad)} of {n} sample(s) missing, malformed or not scored "
                f"(sample {', '.join(map(str, bad[:10]))}{', …' * (len(bad) > 10)})"
            )
        if n < self.min_samples:
            return STEP_UP, f"{n} sample(s); at least {self.min_samples} needed to decide"
        scores = np.array(values)
        above = int((scores > self.deny_threshold_).sum())
        if above >= self.min_agreeing and above > n / 2:
            return DENY, (
                f"{above} of {n} samples agree: above the deny threshold {self.deny_threshold_:.5g}"
            )
        if above >= self.min_agreeing:
            return STEP_UP, (
                f"conflicting samples: {above} of {n} above the deny threshold, not a majority"
            )
        median = float(np.median(scores))
        if median <= self.accept_threshold_:
            return ACCEPT, (
                f"median score {median:.5g} of {n} sample(s) within the accept "
                f"threshold {self.accept_threshold_:.5g}"
            )
        if above:
            return STEP_UP, (
                f"{above} of {n} samples above the deny threshold; deny needs "
                f"at least {self.min_agreeing} and more than half"
            )
        return STEP_UP, (
            f"uncertain: median score {median:.5g} between the accept "
            f"{self.accept_threshold_:.5g} and deny {self.deny_threshold_:.5g} "
            "thresholds"
        )

    def _check_parameters(self) -> None:
        quantiles = (self.accept_quantile, self.deny_quantile, self.impostor_quantile)
        if not all(0 < q <= 1 for q in quantiles) or self.accept_quantile > self.deny_quantile:
            raise DataError(
                "expected 0 < accept_quantile ≤ deny_quantile ≤ 1 and 0 < "
                f"impostor_quantile ≤ 1, got {quantiles}"
            )
        position = self.accept_position
        if position is not None and not (np.isfinite(position) and position >= 0):
            raise DataError(f"expected accept_position ≥ 0 or None, got {position}")
        if self.min_agreeing < 2 or self.min_samples < 1:
            raise DataError(
                "deny needs agreement: expected min_agreeing ≥ 2 and min_samples "
                f"≥ 1, got {self.min_agreeing} and {self.min_samples}"
            )

    def to_dict(self) -> dict:
        if not hasattr(self, "accept_threshold_"):
            raise NotFittedError(NOT_FITTED.format(name="AuthPolicy", method="to_dict"))
        return {
            **self._parameters(),
            "accept_threshold": self.accept_threshold_,
            "deny_threshold": self.deny_threshold_,
        }

    def _parameters(self) -> dict:
        return {name: getattr(self, name) for name in PARAMETERS}

    @classmethod
    def from_dict(cls, state: dict) -> AuthPolicy:
        policy = cls(**{k: state[k] for k in PARAMETERS})
        policy._check_parameters()
        accept, deny = float(state["accept_threshold"]), float(state["deny_threshold"])
        if not (np.isfinite(accept) and np.isfinite(deny) and accept <= deny):
            raise DataError(
                f"policy state needs finite thresholds with accept ≤ deny, got {accept} and {deny}"
            )
        policy.accept_threshold_, policy.deny_threshold_ = accept, deny
        return policy


def samples_for_separate_thresholds(accept_quantile: float, deny_quantile: float) -> int | None:
    """Fewest genuine scores from which on the accept and deny quantiles (numpy's "higher"
    method: the ceil(q (n - 1))-th smallest) are always different scores; None when they
    never are (equal quantiles)."""
    if deny_quantile <= accept_quantile:
        return None
    last = int(np.ceil(1.0 / (deny_quantile - accept_quantile))) + 2  # separated from here on
    need = last
    for n in range(last, 1, -1):
        if np.ceil(accept_quantile * (n - 1)) >= np.ceil(deny_quantile * (n - 1)):
            break
        need = n
    return need


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
        return AuthDecision(
            STEP_UP, SCORE_FAILED.format(error=type(exc).__name__), (), accept, deny
        )


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


def finite_scores(name: str, scores: np.ndarray) -> np.ndarray:
    """``scores`` when it is a non-empty 1-D array of finite values; DataError if not."""
    if scores.ndim != 1 or len(scores) == 0 or not np.isfinite(scores).all():
        raise DataError(
            EMPTY_SCORES.format(
                name=name,
                got=f"shape {scores.shape}"
                + (
                    ""
                    if scores.size == 0 or np.isfinite(scores).all()
                    else " with non-finite values"
                ),
            )
        )
    return scores


def _quantile(scores: np.ndarray, q: float) -> float:
    return float(np.quantile(scores, q, method="higher"))
