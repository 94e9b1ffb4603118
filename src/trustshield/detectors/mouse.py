"""Mouse-dynamics verifier: is this the account owner moving the mouse?

One verifier per user, scoring mouse actions (see ``features/mouse_actions.py``). Two ways
to fit it, chosen by what training data there is:

- ``fit(X, y)`` with other users' actions: the usual Balabit protocol, a LightGBM
  classifier of the owner's actions (y = 0) against other users' actions (y = 1), both from
  *training* sessions only. The classes carry equal total weight, so an action's suspicion
  (the raw margin) reads as a log-likelihood ratio, "another user" over "the owner", with
  no prior. Exact attributions by native TreeSHAP.
- ``fit(X)`` with the owner's actions alone (how enrolment calls it): each trait's departure
  from the owner's own distribution, ``-log`` of its two-sided tail probability among the
  owner's training actions, summed over traits and centred on the owner's mean. Exactly
  additive; markedly weaker, because it cannot tell traits rare for the owner from traits
  rare for everybody (see trustshield.pipeline.mouse_benchmark).

Either way only the owner's actions define the owner's profile (each trait's median, or
share for the action-kind indicators), which explanations compare with. A session's score
is the mean suspicion of its actions so far (:func:`session_scores`); it sharpens as
actions arrive, and stays exactly additive (:func:`session_attributions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.gbdt import booster_params
from trustshield.detectors.inputs import check_frame
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, check_fitted
from trustshield.detectors.registry import register
from trustshield.errors import DataError
from trustshield.features.mouse_actions import FEATURES

#: kind indicators are summarised by their share of actions, other traits by their median
SHARES = ("is_mm", "is_pc", "is_dd")
#: quantile levels kept of the owner's distribution of each trait (owner-only model)
TAIL_LEVELS = 201
NEED_OWNER = "MouseVerifier needs the owner's training actions (y = 0); got {owner} of {n}"
MISSING_COLUMNS = (
    "MouseVerifier reads {n} action features; missing {missing} (the frame's first columns: {got})"
)
NOT_FINITE = "action features must be finite: row {row}, column {column!r} holds {value}"
BAD_LABELS = "y must hold 0 (owner) or 1 (another user) for each of the {n} actions; got {got}"


@register("mouse")
class MouseVerifier(Parameters):
    kind: ClassVar[str]  # set by @register
    """Per-user verifier over mouse-action features; suspicion > 0 leans to "not the owner"."""

    def __init__(
        self,
        *,
        features: tuple[str, ...] = FEATURES,
        n_estimators: int = 100,
        num_leaves: int = 8,
        max_depth: int = 3,
        learning_rate: float = 0.1,
        min_child_samples: int = 50,
        seed: int = 0,
        n_threads: int = 1,
    ):
        self.features = tuple(features)
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.n_threads = n_threads

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> MouseVerifier:
        """X: actions (at least the ``features`` columns). y: None when every row is the
        owner's; else 0 = the owner's training actions, 1 = other users' training actions."""
        import lightgbm as lgb  # fitting and loading only

        matrix = _matrix(X, self.features, "fit")
        foreign = np.zeros(len(matrix), dtype=bool) if y is None else _labels(y, len(matrix))
        owner = matrix[~foreign]
        if len(owner) < 2:
            raise DataError(NEED_OWNER.format(owner=len(owner), n=len(matrix)))
        for name in ("feature_names_", "booster_", "quantiles_", "centre_"):
            self.__dict__.pop(name, None)
        if foreign.any():
            weight = np.where(foreign, 0.5 / foreign.sum(), 0.5 / (~foreign).sum()) * len(matrix)
            data = lgb.Dataset(
                matrix,
                foreign.astype(int),
                weight=weight,
                feature_name=list(self.features),
                free_raw_data=True,
            )
            self.booster_ = lgb.train(
                booster_params(self, objective="binary"), data, self.n_estimators
            )
        else:
            self.quantiles_ = np.quantile(owner, np.linspace(0, 1, TAIL_LEVELS), axis=0)
            self.centre_ = _tails(owner, self.quantiles_).mean(axis=0)
        self.feature_names_ = self.features
        self.profile_ = _profile(owner, self.features)
        return self

    @property
    def model_(self) -> str:
        """'contrast' (owner against other users) or 'owner_only'."""
        check_fitted(self, "model_")
        return "contrast" if hasattr(self, "booster_") else "owner_only"

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Per action, shape (n,): log-odds that another user made it (contrast), or the
        summed departure of its traits from the owner's distribution (owner only)."""
        check_fitted(self, "suspicion")
        matrix = _matrix(X, self.feature_names_, "suspicion")
        if self.model_ == "contrast":
            return np.asarray(
                self.booster_.predict(matrix, raw_score=True, num_threads=self.n_threads)
            )
        return np.asarray((_tails(matrix, self.quantiles_) - self.centre_).sum(axis=1))

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Per action: values (n, d) + base (n,) sum exactly to suspicion (TreeSHAP for the
        contrast model, each trait's centred departure for the owner-only model)."""
        check_fitted(self, "explain")
        matrix = _matrix(X, self.feature_names_, "explain")
        if self.model_ == "contrast":
            contrib = np.asarray(
                self.booster_.predict(matrix, pred_contrib=True, num_threads=self.n_threads)
            )
            return Attributions(self.feature_names_, contrib[:, :-1], contrib[:, -1].copy())
        values = _tails(matrix, self.quantiles_) - self.centre_
        return Attributions(self.feature_names_, values, np.zeros(len(matrix)))

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        state = {
            "kind": self.kind,
            "model": self.model_,
            "params": self._params_state(),
            "feature_names": list(self.feature_names_),
            "profile": dict(self.profile_),
        }
        if self.model_ == "contrast":
            state["booster"] = self.booster_.model_to_string()
        else:
            state["quantiles"] = self.quantiles_.tolist()
            state["centre"] = self.centre_.tolist()
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> MouseVerifier:
        import lightgbm as lgb

        verifier = cls(**{**state["params"], "features": tuple(state["params"]["features"])})
        verifier.feature_names_ = tuple(state["feature_names"])
        verifier.profile_ = {k: float(v) for k, v in state["profile"].items()}
        if state["model"] == "contrast":
            verifier.booster_ = lgb.Booster(model_str=state["booster"])
        else:
            verifier.quantiles_ = np.asarray(state["quantiles"], dtype=np.float64)
            verifier.centre_ = np.asarray(state["centre"], dtype=np.float64)
        return verifier


#: how many first actions of a session count: None (all), a whole number, or one per session
ActionCount = int | Mapping[Any, int] | None


def session_scores(
    action_suspicion: np.ndarray, *, sessions: npt.ArrayLike, n_actions: ActionCount = None
) -> pd.Series:
    """Mean suspicion of each session's first ``n_actions`` actions.

    ``sessions`` (n,) names the session of every action, actions in time order within a
    session. ``n_actions``: None (all), a whole number, or a mapping session -> number.
    Returns one score per session, indexed by session in order of appearance.
    """
    suspicion = np.asarray(action_suspicion, dtype=np.float64)
    used = first_actions(sessions, n_actions)
    frame = pd.DataFrame({"session": np.asarray(sessions)[used], "score": suspicion[used]})
    return frame.groupby("session", sort=False)["score"].mean()


def session_attributions(
    attributions: Attributions, *, sessions: npt.ArrayLike, n_actions: ActionCount = None
) -> tuple[pd.Index, Attributions]:
    """Session-level attributions: the mean of each session's first ``n_actions`` action
    attributions, so ``base + values.sum(axis=1)`` equals :func:`session_scores` exactly.
    Returns the sessions (in order of appearance) and their Attributions."""
    used = first_actions(sessions, n_actions)
    names = attributions.feature_names
    frame = pd.DataFrame(attributions.values[used], columns=list(names))
    frame["__base"] = attributions.base[used]
    means = frame.groupby(np.asarray(sessions)[used], sort=False).mean()
    return means.index, Attributions(
        names, means[list(names)].to_numpy(), means["__base"].to_numpy()
    )


def first_actions(sessions: npt.ArrayLike, n_actions: ActionCount = None) -> np.ndarray:
    """Mask (n,) of actions among the first ``n_actions`` of their session: None = all,
    a whole number ≥ 1, or a mapping session -> whole number ≥ 1."""
    sessions = np.asarray(sessions)
    if n_actions is None:
        return np.ones(len(sessions), dtype=bool)
    codes = pd.factorize(sessions)[0]
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    if isinstance(n_actions, Mapping):
        limit = pd.Series(sessions).map(n_actions).to_numpy(dtype=np.float64)
    else:
        limit = np.full(len(sessions), n_actions, dtype=np.float64)
    if np.isnan(limit).any() or (limit < 1).any():
        raise DataError(
            f"n_actions must be None, a whole number ≥ 1 or a mapping giving one "
            f"for every session; got {n_actions!r}"
        )
    return np.asarray(rank < limit)


def _tails(matrix: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """-log of each value's two-sided tail probability under the owner's quantiles."""
    levels = len(quantiles) - 1
    out = np.empty_like(matrix)
    for j in range(matrix.shape[1]):
        below = np.searchsorted(quantiles[:, j], matrix[:, j], side="left")
        upto = np.searchsorted(quantiles[:, j], matrix[:, j], side="right")
        rank = np.clip((below + upto) / 2 - 0.5, 0, levels) / levels  # mid-rank in [0, 1]
        out[:, j] = -np.log(np.maximum(2 * np.minimum(rank, 1 - rank), 1 / (levels + 1)))
    return out


def _profile(owner: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """The owner's typical value of every trait: share for kind indicators, else median."""
    return {
        name: float(owner[:, j].mean() if name in SHARES else np.median(owner[:, j]))
        for j, name in enumerate(names)
    }


def _labels(y: npt.ArrayLike, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        got = f"shape {y.shape}" if y.shape != (n,) else f"values {sorted(set(y.tolist()))[:5]}"
        raise DataError(BAD_LABELS.format(n=n, got=got))
    return np.asarray(y.astype(bool))


def _matrix(X: pd.DataFrame, names: tuple[str, ...], method: str) -> np.ndarray:
    """The ``names`` columns of X as float64 (extra columns ignored), checked finite."""
    check_frame(X, "MouseVerifier", method)
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise DataError(
            MISSING_COLUMNS.format(missing=missing, n=len(names), got=list(X.columns)[:12])
        )
    matrix: np.ndarray = X[list(names)].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(matrix)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(NOT_FINITE.format(row=int(row), column=names[col], value=matrix[row, col]))
    return matrix
