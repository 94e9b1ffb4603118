"""TrustShield's keystroke verifier under the protocol: a prior learned on each background,
with settings chosen by nested selection (never on the subjects tested).

:func:`weighted_factory` learns a :class:`~trustshield.detectors.keystroke.KeystrokePrior`
for fixed settings on the background it is given. :class:`SelectedFactory` first chooses
the settings: it runs the protocol of :mod:`trustshield.assess.keystroke` inside the
background alone (the background's subjects alternate into two inner halves, each learning
its prior from the other), once per grid point, takes the lowest mean inner EER, and only
then learns the prior on the whole background with it (:func:`select_prior`, which
``trustshield auth prior`` calls on a whole population). The benchmark and the command
therefore build the verifier through the same function, from the same kind of input.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from trustshield.assess.keystroke import Background, halves, run_protocol
from trustshield.errors import DataError

TOO_SMALL_FOR_SELECTION = (
    "choosing settings inside a background needs at least 4 subjects "
    "(two inner halves of 2); got {got}"
)

#: what nested selection may choose for TrustShield's verifier: departure clip, population
#: contrast, drift correction, learned or uniform weights; 2 x 4 x 2 x 2 = 32 candidates
#: (log scale on, spread floor 0.01)
SETTINGS_GRID: dict[str, tuple] = {
    "clip": (5.0, 8.0),
    "contrast": (0.0, 0.25, 0.5, 0.75),
    "drift": (False, True),
    "learn_weights": (False, True),
}


def grid_points(grid: Mapping[str, Sequence]) -> tuple[dict, ...]:
    """Every combination of ``grid``'s values, in row-major order of its keys."""
    names = list(grid)
    return tuple(dict(zip(names, values)) for values in itertools.product(*grid.values()))


def learn_background_prior(
    background: Background, settings: Mapping | None = None, selection: dict | None = None
):
    """The prior of ``background`` for ``settings`` (see ``learn_prior``)."""
    from trustshield.detectors.keystroke import learn_prior

    return learn_prior(
        background.typings,
        background.subjects,
        settings=settings,
        n_enrol=background.n_enrol,
        n_impostor=background.n_impostor,
        n_genuine=background.n_genuine,
        selection=selection,
    )


def weighted_factory(**settings) -> Callable:
    """TrustShield's verifier with a prior learned, for fixed ``settings``, on the background
    it is given; without a background, the verifier's fixed defaults."""
    from trustshield.detectors.keystroke import KeystrokeVerifier

    def make(background: Background | None) -> Callable[[], object]:
        if background is None:
            return KeystrokeVerifier
        return learn_background_prior(background, settings).verifier

    return make


@dataclass(frozen=True)
class Selection:
    """One nested choice: the background it was made in, the inner halves, the subjects the
    inner runs touched (enrolled, met as impostors or learned from), every candidate's mean
    inner EER, and the winner (lowest inner EER; the first in grid order on a tie)."""

    background_subjects: tuple
    inner_halves: tuple[tuple, tuple]
    inner_subjects: frozenset
    candidates: tuple[dict, ...]
    inner_eers: tuple[float, ...]
    chosen: dict
    seconds: float

    def to_dict(self) -> dict:
        return {
            "background": [str(s) for s in self.background_subjects],
            "inner_halves": [[str(s) for s in half] for half in self.inner_halves],
            "chosen": dict(self.chosen),
            "inner_eer": [{**c, "inner_eer": e} for c, e in zip(self.candidates, self.inner_eers)],
            "seconds": self.seconds,
        }

    def record(self) -> dict:
        """What a prior keeps of its selection: the method, the grid's size and every
        candidate's inner EER (no subject names)."""
        return {
            "method": "nested: the protocol run inside the background alone, its subjects "
            "alternating into two inner halves; lowest mean inner EER",
            "inner_subjects": [len(h) for h in self.inner_halves],
            "candidates": [{**c, "inner_eer": e} for c, e in zip(self.candidates, self.inner_eers)],
        }


def select_settings(background: Background, candidates: Sequence[Mapping]) -> Selection:
    """Run the halves protocol inside ``background`` once per candidate setting of
    TrustShield's verifier and pick the candidate with the lowest mean EER.

    Only ``background`` is read: inner subjects alternate (in background order) between
    two inner halves; each is verified with a prior learned on the other inner half and
    meets impostors of its own inner half, exactly as in the outer protocol.
    """
    start = time.perf_counter()
    order = list(dict.fromkeys(background.subjects.tolist()))
    if len(order) < 4:
        raise DataError(TOO_SMALL_FOR_SELECTION.format(got=len(order)))
    column = "subject"
    while column in background.typings.columns:
        column = "_" + column
    frame = background.typings.copy()
    frame.insert(0, column, background.subjects)
    touched: set = set()
    eers = []
    for candidate in candidates:
        run = run_protocol(
            frame,
            weighted_factory(**candidate),
            subject_column=column,
            split="halves",
            n_enrol=background.n_enrol,
            n_impostor=background.n_impostor,
            n_genuine=background.n_genuine,
        )
        for result in run.results:
            touched |= {result.subject, *result.impostor_subjects, *result.background_subjects}
        eers.append(run.mean)
    best = int(np.argmin(eers))  # argmin returns the first of equal minima
    return Selection(
        tuple(order),
        halves(order),
        frozenset(touched),
        tuple(dict(c) for c in candidates),
        tuple(eers),
        dict(candidates[best]),
        time.perf_counter() - start,
    )


def select_prior(background: Background, grid: Mapping[str, Sequence] | None = None):
    """(prior, selection): settings chosen inside ``background`` over ``grid`` (default
    :data:`SETTINGS_GRID`), then the prior learned on the whole background with them."""
    from trustshield.detectors.keystroke.prior import by_subject

    typings, subjects = by_subject(background.typings, background.subjects)
    background = replace(background, typings=typings, subjects=subjects)
    selection = select_settings(background, grid_points(SETTINGS_GRID if grid is None else grid))
    prior = learn_background_prior(background, selection.chosen, selection.record())
    return prior, selection


@dataclass
class SelectedFactory:
    """TrustShield's verifier with a prior chosen and learned inside each background
    (:func:`select_prior`); without a background, the verifier's fixed defaults. Every
    choice made is kept in ``selections``, every prior in ``priors``."""

    grid: Mapping[str, Sequence] = field(default_factory=lambda: dict(SETTINGS_GRID))
    selections: list[Selection] = field(default_factory=list)
    priors: list = field(default_factory=list)
    _made: dict = field(default_factory=dict, repr=False)

    def __call__(self, background: Background | None) -> Callable[[], object]:
        if background is None:
            return weighted_factory()(None)
        key = _identity(background)
        if key not in self._made:  # the same background (another study of it) is not redone
            prior, selection = select_prior(background, self.grid)
            self.selections.append(selection)
            self.priors.append(prior)
            self._made[key] = prior
        return self._made[key].verifier


def _identity(background: Background) -> tuple:
    """What makes two backgrounds the same: their typings, columns, subjects and protocol."""
    digest = hashlib.sha256(
        np.ascontiguousarray(background.typings.to_numpy(dtype=np.float64)).tobytes()
    ).hexdigest()
    return (
        digest,
        tuple(str(c) for c in background.typings.columns),
        tuple(str(s) for s in background.subjects),
        background.n_enrol,
        background.n_impostor,
        background.n_genuine,
    )
