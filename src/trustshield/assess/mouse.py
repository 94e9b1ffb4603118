"""Mouse-dynamics verification measured per session: pure functions of action scores.

Inputs are per action, in time order within each session: ``action_suspicion`` (n,),
``sessions`` (n,) naming each action's session, and per-session facts repeated on every
action (``is_illegal``, ``users``). A session's score after k actions is the mean
suspicion of its first k actions (:func:`trustshield.detectors.mouse.session_scores`).

How many actions it takes to reach a decision: the running evidence after k actions is
``k * (score_k - centre)``, the sum of the actions' departures from a neutral centre; a
session is decided at the first k where the evidence leaves ``[-half_width, half_width]``
(impostor above, owner below), i.e. where its running score leaves ``centre ± half_width/k``,
a band that narrows as actions arrive (a sequential probability ratio test when suspicion is
a log-likelihood ratio). Centre and half width come from training data only
(:func:`fit_band` on out-of-fold scores). A session that never leaves the band is undecided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from trustshield.detectors.mouse import session_scores
from trustshield.errors import DataError

LENGTHS = (1, 2, 5, 10, 20, 50, None)
MAX_ERROR = 0.05
BAND_GRID = 400
NEED_BOTH = (
    "a decision band needs owner and impostor sessions; got {owner} owner and "
    "{impostor} impostor actions"
)


@dataclass(frozen=True)
class DecisionBand:
    """Neutral centre of action suspicion and the evidence needed either side of it."""

    centre: float
    half_width: float
    max_error: float
    training_error: dict

    def to_dict(self) -> dict:
        return {
            "centre": self.centre,
            "half_width": self.half_width,
            "max_error": self.max_error,
            "training_error": dict(self.training_error),
        }


def session_table(
    *, action_suspicion, sessions, is_illegal, users=None, n_actions: int | None = None
) -> pd.DataFrame:
    """One row per session: score after ``n_actions``, label, user, actions available."""
    sessions = np.asarray(sessions)
    scores = session_scores(action_suspicion, sessions=sessions, n_actions=n_actions)
    facts = pd.DataFrame(
        {
            "session": sessions,
            "is_illegal": np.asarray(is_illegal, dtype=int),
            "user": np.asarray(users) if users is not None else "",
        }
    )
    grouped = facts.groupby("session", sort=False)
    out = grouped.first()
    out["actions"] = grouped.size()
    out["score"] = scores
    return out.reset_index()


def session_auc(*, y_true, scores) -> float | None:
    """ROC AUC of session scores (impostor = positive); None with a single class."""
    y_true = np.asarray(y_true, dtype=bool)
    if y_true.all() or not y_true.any():
        return None
    return float(roc_auc_score(y_true, np.asarray(scores, dtype=np.float64)))


def auc_report(*, action_suspicion, sessions, is_illegal, users, lengths=LENGTHS) -> dict:
    """Pooled and per-user session AUC using every action, and pooled AUC after the first
    k actions for each k in ``lengths`` (None = all); sessions shorter than k use all of theirs."""
    table = session_table(
        action_suspicion=action_suspicion, sessions=sessions, is_illegal=is_illegal, users=users
    )
    per_user = {
        str(u): session_auc(y_true=g["is_illegal"], scores=g["score"])
        for u, g in table.groupby("user", sort=True)
    }
    by_actions = {}
    for k in lengths:
        t = session_table(
            action_suspicion=action_suspicion, sessions=sessions, is_illegal=is_illegal, n_actions=k
        )
        by_actions["all" if k is None else str(k)] = session_auc(
            y_true=t["is_illegal"], scores=t["score"]
        )
    return {
        "auc_pooled": session_auc(y_true=table["is_illegal"], scores=table["score"]),
        "auc_per_user": per_user,
        "auc_by_actions": by_actions,
        "sessions": int(len(table)),
        "impostor_sessions": int(table["is_illegal"].sum()),
        "actions_per_session_median": float(table["actions"].median()),
    }


def evidence_matrix(action_suspicion, *, sessions, centre: float) -> tuple[pd.Index, np.ndarray]:
    """Running evidence per session (rows) after 1, 2, … actions (columns): the sum of
    ``suspicion - centre`` so far; NaN past the session's last action."""
    codes, names = pd.factorize(np.asarray(sessions))
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    steps = np.full((len(names), rank.max() + 1 if len(rank) else 0), np.nan)
    steps[codes, rank] = np.asarray(action_suspicion, dtype=np.float64) - centre
    running = np.cumsum(np.nan_to_num(steps), axis=1)
    running[np.isnan(steps)] = np.nan
    return pd.Index(names), running


def first_exit(evidence: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Per session: actions used when the evidence first leaves the band (0 = never) and
    the verdict at that point (+1 impostor, -1 owner, 0 undecided)."""
    with np.errstate(invalid="ignore"):
        out = np.abs(evidence) >= half_width
    left = out.any(axis=1)
    at = np.where(left, out.argmax(axis=1), 0)
    sign = np.where(left, np.sign(evidence[np.arange(len(evidence)), at]), 0).astype(int)
    return np.where(left, at + 1, 0), sign


def fit_band(
    *, action_suspicion, sessions, is_illegal, max_error: float = MAX_ERROR
) -> DecisionBand:
    """Centre halfway between the mean suspicion of owner and of impostor actions; the
    narrowest half width (on a grid of BAND_GRID steps up to the largest evidence seen) at
    which at most ``max_error`` of owner sessions and of impostor sessions are decided
    wrongly; the widest when none is. Use on out-of-fold training scores only."""
    suspicion = np.asarray(action_suspicion, dtype=np.float64)
    illegal = np.asarray(is_illegal, dtype=bool)
    if illegal.all() or not illegal.any():
        raise DataError(NEED_BOTH.format(owner=int((~illegal).sum()), impostor=int(illegal.sum())))
    centre = float((suspicion[illegal].mean() + suspicion[~illegal].mean()) / 2)
    names, evidence = evidence_matrix(suspicion, sessions=sessions, centre=centre)
    truth = _per_session(illegal, sessions, names)
    reach = np.nanmax(np.abs(evidence))
    errors = {}
    for h in np.linspace(0, reach, BAND_GRID + 1)[1:]:
        errors = _error_rates(evidence, h, truth)
        if max(errors.values()) <= max_error:
            break
    return DecisionBand(centre, float(h), max_error, errors)


def _error_rates(evidence: np.ndarray, half_width: float, truth: np.ndarray) -> dict:
    _, verdict = first_exit(evidence, half_width)
    wrong_owner = (verdict == 1) & ~truth
    wrong_impostor = (verdict == -1) & truth
    return {
        "owner_sessions_denied": float(wrong_owner.sum() / max((~truth).sum(), 1)),
        "impostor_sessions_accepted": float(wrong_impostor.sum() / max(truth.sum(), 1)),
    }


def decisions(*, action_suspicion, sessions, is_illegal, band: DecisionBand) -> pd.DataFrame:
    """Per session: actions available, actions used when the evidence first left the band
    (0 = never), verdict (+1 impostor, -1 owner, 0 undecided) and the true label."""
    names, evidence = evidence_matrix(action_suspicion, sessions=sessions, centre=band.centre)
    used, verdict = first_exit(evidence, band.half_width)
    return pd.DataFrame(
        {
            "session": names,
            "actions": (~np.isnan(evidence)).sum(axis=1),
            "actions_used": used,
            "verdict": verdict,
            "is_illegal": _per_session(np.asarray(is_illegal, dtype=int), sessions, names),
        }
    )


def _per_session(values: np.ndarray, sessions, names: pd.Index) -> np.ndarray:
    """A per-action fact that is constant within a session, one value per session."""
    return pd.Series(values, index=np.asarray(sessions)).groupby(level=0).first()[names].to_numpy()


def decision_summary(per_session: pd.DataFrame) -> dict:
    """How many actions sessions need to be decided, and how right the decisions are. The
    median counts decided sessions; ``median_all`` counts an undecided session as never
    deciding (None when fewer than half decide)."""
    verdict, truth = per_session["verdict"].to_numpy(), per_session["is_illegal"].to_numpy() == 1
    used = per_session["actions_used"].to_numpy()
    decided = verdict != 0
    wrong = ((verdict == 1) & ~truth) | ((verdict == -1) & truth)
    return {
        "median_actions": float(np.median(used[decided])) if decided.any() else None,
        "median_all": float(np.median(np.where(decided, used, np.inf)))
        if decided.mean() > 0.5
        else None,
        "decided_share": float(decided.mean()) if len(decided) else None,
        "wrong_share_of_decided": float(wrong[decided].mean()) if decided.any() else None,
        "sessions": int(len(per_session)),
    }
