"""What a background population teaches TrustShield's keystroke verifier, per feature.

One user's few enrolment typings cannot say how the user will type next week, nor which
of their habits everybody shares. A background population of OTHER users (never the
users a verifier is tested against, never their impostors) can, and
:class:`PopulationProfile` keeps what it says, feature by feature, in the verifier's
space (natural log of the feature for features positive on every background typing,
raw units otherwise):

- ``logged`` and ``floor``: the space itself; values below ``floor`` (half the smallest
  background value, raw units) are raised to it before the log, so every user is mapped
  through the same function;
- ``centre`` and ``spread``: the population's median and mean absolute deviation from it
  (over all background typings): where "everybody" types, for the population contrast;
- ``shift``: the population's drift, the mean over background subjects of (their later
  typings minus the median of their first ``n_enrol``): people type a password faster and
  more evenly after enrolling, and a profile centred on the enrolment typings alone rejects
  its owner as they settle.

:func:`learn_population` computes it; :func:`background_terms` gives the per-feature terms
of genuine and impostor typings inside a background, from which
:func:`trustshield.detectors.keystroke.learn_feature_weights` learns weights. Neither
keeps a typing: a profile holds five numbers per feature, aggregated over the population.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.keystroke.base import typings_matrix
from trustshield.errors import DataError, ModelIntegrityError

TOO_FEW_SUBJECTS = (
    "learning from a background population needs at least 2 subjects with "
    "more than {n_enrol} typings each (enrolment + later typings); got {got}"
)
FIELDS = ("logged", "floor", "centre", "spread", "shift")
BAD_STATE = "population profile state: {problem}"


@dataclass(frozen=True)
class PopulationProfile:
    """Per-feature population statistics (each tuple aligned with ``features``); see the
    module docstring for what each means and its units. ``subjects`` and ``typings`` count
    the background it was learned on."""

    features: tuple[str, ...]
    logged: tuple[bool, ...]
    floor: tuple[float, ...]
    centre: tuple[float, ...]
    spread: tuple[float, ...]
    shift: tuple[float, ...]
    subjects: int
    typings: int

    def aligned(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Each field as an array in the order of ``names``; DataError naming the features
        the profile does not know."""
        index = {name: i for i, name in enumerate(self.features)}
        missing = [n for n in names if n not in index]
        if missing:
            raise DataError(
                f"the population profile has no statistics for feature(s) "
                f"{list(missing)[:10]}; learn it on a table with the same columns"
            )
        at = [index[n] for n in names]
        return {f: np.asarray(getattr(self, f), dtype=np.float64)[at] for f in FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "subjects": self.subjects,
            "typings": self.typings,
            **{
                f: [bool(v) if f == "logged" else float(v) for v in getattr(self, f)]
                for f in FIELDS
            },
        }

    @classmethod
    def from_dict(cls, state: PopulationProfile | Mapping[str, Any]) -> PopulationProfile:
        if isinstance(state, PopulationProfile):
            return state
        try:
            features = tuple(str(f) for f in state["features"])
            fields = {f: tuple(state[f]) for f in FIELDS}
            floor, centre, spread, shift = (tuple(float(v) for v in fields[f]) for f in FIELDS[1:])
            profile = cls(
                features,
                tuple(bool(v) for v in fields["logged"]),
                floor,
                centre,
                spread,
                shift,
                subjects=int(state["subjects"]),
                typings=int(state["typings"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(
                BAD_STATE.format(problem=f"{type(exc).__name__}: {exc}")
            ) from None
        lengths = {len(getattr(profile, f)) for f in FIELDS}
        if lengths != {len(features)} or not all(
            np.isfinite(getattr(profile, f)).all() for f in FIELDS[1:]
        ):
            raise ModelIntegrityError(
                BAD_STATE.format(problem="every field needs one finite value per feature")
            )
        return profile


def subject_rows(subjects: npt.ArrayLike) -> dict[Any, np.ndarray]:
    """{subject: row indices}, subjects in order of first appearance."""
    names = np.asarray(subjects)
    return {s: np.flatnonzero(names == s) for s in dict.fromkeys(names.tolist())}


def later_rows(rows: np.ndarray, n_enrol: int, n_genuine: int | None) -> np.ndarray:
    """The typings after the first ``n_enrol``: the next ``n_genuine`` (None: all)."""
    return rows[n_enrol : None if n_genuine is None else n_enrol + n_genuine]


def learn_population(
    typings: pd.DataFrame,
    subjects: Sequence[Any] | np.ndarray,
    *,
    n_enrol: int,
    n_genuine: int | None = None,
    log: bool = True,
    min_scale: float = 0.01,
) -> PopulationProfile:
    """The profile of a background: ``typings`` (m, d) one row per typing, ``subjects``
    (m,) who typed each. Drift is measured on the ``n_genuine`` typings after each
    subject's first ``n_enrol`` (None: all later typings)."""
    matrix = typings_matrix(typings, "learn_population", "fit")
    if len(subjects) != len(matrix):
        raise DataError(f"subjects has {len(subjects)} entries for {len(matrix)} typings")
    rows = subject_rows(subjects)
    usable = [s for s, r in rows.items() if len(r) > n_enrol]
    if len(usable) < 2:
        raise DataError(TOO_FEW_SUBJECTS.format(n_enrol=n_enrol, got=len(usable)))
    logged = np.asarray((matrix > 0).all(axis=0) & log)
    positive = np.where(matrix > 0, matrix, np.inf).min(axis=0)
    floor = np.where(logged, positive / 2.0, 0.0)
    space = to_space(matrix, logged, floor)
    centre = np.median(space, axis=0)
    spread = np.maximum(np.abs(space - centre).mean(axis=0), scale_floor(logged, centre, min_scale))
    drifts = [
        space[later_rows(rows[s], n_enrol, n_genuine)].mean(axis=0)
        - np.median(space[rows[s][:n_enrol]], axis=0)
        for s in usable
    ]
    shift = np.mean(drifts, axis=0)
    floor_, centre_, spread_, shift_ = (
        tuple(float(v) for v in a) for a in (floor, centre, spread, shift)
    )
    return PopulationProfile(
        tuple(str(c) for c in typings.columns),
        tuple(bool(v) for v in logged),
        floor_,
        centre_,
        spread_,
        shift_,
        subjects=len(rows),
        typings=len(matrix),
    )


def to_space(matrix: np.ndarray, logged: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Raw typings (n, d) in the verifier's space: log of max(value, floor) where logged."""
    logged = np.asarray(logged, dtype=bool)
    out = np.array(matrix, dtype=np.float64, copy=True)
    out[:, logged] = np.log(np.maximum(out[:, logged], floor[logged]))
    return out


def scale_floor(logged: np.ndarray, centre: np.ndarray, min_scale: float) -> np.ndarray:
    """Smallest spread kept: ``min_scale`` in log units, else relative to |centre|."""
    return np.where(logged, min_scale, min_scale * np.maximum(np.abs(centre), 1e-9))


def background_terms(
    typings: pd.DataFrame,
    subjects: Sequence[Any] | np.ndarray,
    make_verifier: Callable[[], Any],
    *,
    n_enrol: int,
    n_impostor: int,
    n_genuine: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted per-feature terms of genuine and impostor typings inside a background:
    each subject with later typings is enrolled on its first ``n_enrol``; its next
    ``n_genuine`` typings give genuine rows and the first ``n_impostor`` typings of every
    other background subject impostor rows. Returns (genuine (g, d), impostor (i, d))."""
    matrix = typings_matrix(typings, "background_terms", "fit")
    rows = subject_rows(subjects)
    usable = [s for s, r in rows.items() if len(r) > n_enrol]
    if len(usable) < 2:
        raise DataError(TOO_FEW_SUBJECTS.format(n_enrol=n_enrol, got=len(usable)))
    genuine, impostor = [], []
    for subject in usable:
        mine = rows[subject]
        profile = make_verifier().fit(typings.iloc[mine[:n_enrol]])
        others = np.concatenate([rows[o][:n_impostor] for o in usable if o != subject])
        genuine.append(profile.unweighted_terms(matrix[later_rows(mine, n_enrol, n_genuine)]))
        impostor.append(profile.unweighted_terms(matrix[others]))
    return np.vstack(genuine), np.vstack(impostor)
