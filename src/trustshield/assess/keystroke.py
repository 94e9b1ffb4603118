"""The keystroke benchmark protocol of Killourhy & Maxion (DSN 2009), adapted to 51 typings.

For every subject: enrol a fresh verifier on the subject's first ``n_enrol`` typings (25);
genuine tests are its remaining typings (26); impostor tests are the first ``n_impostor``
typings (5) of every impostor subject; the equal-error rate (EER) of the two score samples
is the subject's figure; the run reports the mean and the standard deviation (n - 1
denominator) over subjects. "First" means file order within the subject.

A verifier may learn from a background population of other subjects only if no subject it
is tested against is in that population. ``split="halves"`` enforces it: subjects, in order
of first appearance, alternate between half A (1st, 3rd, 5th, ...) and half B (2nd, 4th,
...); a subject of one half is tested against impostors of its own half only, and its
verifier may learn from the other half only. ``split="none"`` is the paper's original
protocol (every other subject is an impostor; no background). :func:`plan` builds those
sets and refuses any overlap.

``n_genuine`` limits the genuine tests to the typings right after the enrolment ones (the
short-enrolment protocol: enrol on 5, genuine tests the next 26). Settings of a verifier
(not only its weights) must also be chosen without the tested subjects: see
:mod:`trustshield.assess.keystroke_selection`. Everything here is a deterministic function
of its inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trustshield.errors import DataError

SPLITS = ("halves", "none")
OVERLAP = "subject {subject}: background shares subject(s) {shared} with its impostors or itself"
TOO_FEW_TYPINGS = (
    "subject {subject} has {got} typings; the protocol needs at least {need} "
    "({n_enrol} to enrol, then {genuine} genuine test(s)) and at least "
    "{n_impostor} as an impostor"
)


@dataclass(frozen=True)
class Background:
    """Typings a verifier may learn from: features (m, d) and the subject of each row, with
    the protocol the tested subjects follow (enrolment, genuine and impostor typings)."""

    typings: pd.DataFrame
    subjects: np.ndarray
    n_enrol: int
    n_impostor: int
    n_genuine: int | None = None


#: factory(background or None) -> a zero-argument callable that makes an unfitted verifier
Factory = Callable[[Background | None], Callable[[], object]]


def baseline_factory(cls: type) -> Factory:
    """A factory for a verifier that learns from the enrolled user alone."""
    return lambda background: cls


def equal_error_rate(*, genuine: np.ndarray, impostor: np.ndarray) -> float:
    """EER of suspicion scores, computed exactly from the two samples.

    A typing is rejected when its score is above the threshold t. For t at minus infinity
    and at every distinct score, FRR(t) = share of genuine scores > t and FAR(t) = share of
    impostor scores <= t; these ROC points are joined by straight lines (the error rates
    reachable by choosing at random between two adjacent thresholds), and the EER is where
    that polyline crosses FAR = FRR. Perfectly separated samples give 0; two samples with
    the same values give 0.5.
    """
    genuine, impostor = np.asarray(genuine, float), np.asarray(impostor, float)
    if genuine.size == 0 or impostor.size == 0:
        raise DataError("an equal-error rate needs at least one genuine and one impostor score")
    if not (np.isfinite(genuine).all() and np.isfinite(impostor).all()):
        raise DataError("an equal-error rate needs finite scores")
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    frr = np.concatenate(
        [[1.0], 1.0 - np.searchsorted(np.sort(genuine), thresholds, side="right") / genuine.size]
    )
    far = np.concatenate(
        [[0.0], np.searchsorted(np.sort(impostor), thresholds, side="right") / impostor.size]
    )
    gap = frr - far  # starts at 1, ends at -1, never increases
    k = int(np.argmax(gap <= 0))
    if gap[k] == 0:
        return float(far[k])
    share = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(far[k - 1] + share * (far[k] - far[k - 1]))


def _frr_at(genuine: np.ndarray, impostor: np.ndarray, far_grid: np.ndarray) -> np.ndarray:
    """Lowest FRR reachable with FAR ≤ each grid value, rejecting scores above a threshold."""
    thresholds = np.concatenate([[-np.inf], np.unique(np.concatenate([genuine, impostor]))])
    frr = 1.0 - np.searchsorted(np.sort(genuine), thresholds, side="right") / genuine.size
    far = np.searchsorted(np.sort(impostor), thresholds, side="right") / impostor.size
    return np.array([frr[far <= f + 1e-12].min() for f in far_grid])


def halves(subjects: Sequence) -> tuple[tuple, tuple]:
    """(half A, half B): subjects at odd positions (1st, 3rd, ...) and at even positions."""
    order = list(dict.fromkeys(subjects))
    return tuple(order[0::2]), tuple(order[1::2])


def plan(subjects: Sequence, *, split: str = "halves") -> dict:
    """{subject: (impostor subjects, background subjects)} for the chosen split; raises
    DataError if a background would contain the subject itself or any of its impostors."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {list(SPLITS)}, got {split!r}")
    order = list(dict.fromkeys(subjects))
    a, b = halves(order)
    sets = {}
    for subject in order:
        mine, other = (order, ()) if split == "none" else (a, b) if subject in a else (b, a)
        sets[subject] = (tuple(o for o in mine if o != subject), other)
    for subject, (impostors, background) in sets.items():
        shared = sorted(set(background) & (set(impostors) | {subject}), key=str)
        if shared:
            raise DataError(OVERLAP.format(subject=subject, shared=shared))
    return sets


@dataclass(frozen=True)
class SubjectResult:
    """One subject's test: EER, the genuine (26,) and impostor (m,) suspicion scores, and
    which subjects were impostors and which formed the verifier's background."""

    subject: str
    eer: float
    genuine: np.ndarray
    impostor: np.ndarray
    impostor_subjects: tuple
    background_subjects: tuple


@dataclass(frozen=True)
class ProtocolRun:
    """Every subject's result for one verifier factory under one protocol."""

    name: str
    results: tuple[SubjectResult, ...]
    protocol: str
    split: dict
    seconds: float

    @property
    def eers(self) -> np.ndarray:
        return np.array([r.eer for r in self.results])

    @property
    def mean(self) -> float:
        return float(self.eers.mean())

    @property
    def sd(self) -> float:
        return float(self.eers.std(ddof=1)) if len(self.results) > 1 else 0.0

    def error_curve(self, points: int = 51) -> dict:
        """The trade-off averaged over subjects: for each FAR on a grid of ``points`` values
        in [0, 1], the mean over subjects of the lowest FRR that subject reaches at or
        below that FAR (each subject's own thresholds; linear axes)."""
        grid = np.linspace(0.0, 1.0, points)
        curves = [_frr_at(r.genuine, r.impostor, grid) for r in self.results]
        return {"far": grid.tolist(), "frr": np.mean(curves, axis=0).tolist()}

    def to_dict(self, *, scores: bool = False) -> dict:
        """JSON-able figures; ``scores=True`` adds every genuine and impostor score."""
        out = {
            "name": self.name,
            "mean": self.mean,
            "sd": self.sd,
            "protocol": self.protocol,
            "split": self.split,
            "seconds": self.seconds,
            "per_subject": {str(r.subject): r.eer for r in self.results},
        }
        if scores:
            out["scores"] = {
                str(r.subject): {"genuine": r.genuine.tolist(), "impostor": r.impostor.tolist()}
                for r in self.results
            }
        return out


def run_protocol(
    frame: pd.DataFrame,
    factory: Factory,
    *,
    subject_column: str,
    name: str = "",
    split: str = "halves",
    n_enrol: int = 25,
    n_impostor: int = 5,
    n_genuine: int | None = None,
) -> ProtocolRun:
    """Run the protocol on ``frame`` (one row per typing: ``subject_column`` + features);
    genuine tests are the ``n_genuine`` typings after the enrolment ones (None: all)."""
    # one thread for BLAS and OpenMP: the matrices are tiny (71 x 71), and on a busy
    # machine multi-threaded OpenBLAS spends 100x longer waiting than computing
    with threadpool_limits(limits=1):
        return _run(frame, factory, subject_column, name, split, n_enrol, n_impostor, n_genuine)


def _run(
    frame, factory, subject_column, name, split, n_enrol, n_impostor, n_genuine
) -> ProtocolRun:
    start = time.perf_counter()
    subjects = frame[subject_column].astype(str).to_numpy()
    features = plain_columns(frame.drop(columns=[subject_column]))
    rows = {s: np.flatnonzero(subjects == s) for s in dict.fromkeys(subjects)}
    need = n_enrol + (1 if n_genuine is None else n_genuine)
    for subject, mine in rows.items():
        if len(mine) < need or len(mine) < n_impostor:
            raise DataError(
                TOO_FEW_TYPINGS.format(
                    subject=subject,
                    got=len(mine),
                    need=need,
                    n_enrol=n_enrol,
                    n_impostor=n_impostor,
                    genuine="at least 1" if n_genuine is None else n_genuine,
                )
            )
    sets = plan(list(rows), split=split)
    makers: dict[tuple, Callable[[], object]] = {}
    results = []
    for subject, (impostors, background) in sets.items():
        if background not in makers:
            makers[background] = factory(
                background_typings(
                    features, subjects, rows, background, n_enrol, n_impostor, n_genuine
                )
            )
        verifier = makers[background]().fit(features.iloc[rows[subject][:n_enrol]])
        tests = rows[subject][n_enrol : None if n_genuine is None else n_enrol + n_genuine]
        genuine = np.asarray(verifier.suspicion(features.iloc[tests]), float)
        tested = np.concatenate([rows[o][:n_impostor] for o in impostors])
        impostor = np.asarray(verifier.suspicion(features.iloc[tested]), float)
        results.append(
            SubjectResult(
                subject,
                equal_error_rate(genuine=genuine, impostor=impostor),
                genuine,
                impostor,
                impostors,
                background,
            )
        )
    return ProtocolRun(
        name,
        tuple(results),
        protocol_text(len(rows), results[0], n_enrol, n_impostor, split, n_genuine),
        split_record(list(rows), split),
        time.perf_counter() - start,
    )


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column labels as plain Python strings (an object Index): verifiers
    compare labels on every call, and pandas' string-array labels are slow to iterate."""
    out = frame.copy(deep=False)
    out.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    return out


def background_typings(
    features, subjects, rows, chosen, n_enrol, n_impostor, n_genuine=None
) -> Background | None:
    if not chosen:
        return None
    at = np.concatenate([rows[s] for s in chosen])
    return Background(
        features.iloc[at].reset_index(drop=True), subjects[at], n_enrol, n_impostor, n_genuine
    )


def protocol_text(
    n_subjects: int,
    example: SubjectResult,
    n_enrol: int,
    n_impostor: int,
    split: str,
    n_genuine: int | None = None,
) -> str:
    """One sentence naming every number of the protocol as run."""
    who = "every other subject" if split == "none" else "every other subject of the same half"
    which = "remaining" if n_genuine is None else "next"
    return (
        f"Killourhy & Maxion (DSN 2009) adapted: each of {n_subjects} subjects is enrolled "
        f"on its first {n_enrol} typings; genuine tests are its {which} "
        f"{len(example.genuine)}; impostor tests are the first {n_impostor} typings of "
        f"{who} ({len(example.impostor_subjects)} subjects, {len(example.impostor)} "
        f"typings); EER per subject, mean and sd (n-1) over subjects."
    )


def split_record(subjects: Sequence, split: str) -> dict:
    """The split as data and as a sentence, for reports."""
    if split == "none":
        return {
            "kind": "none",
            "text": "no background: verifiers learn from the enrolled "
            "subject's own typings only; every other subject is an impostor",
        }
    a, b = halves(subjects)
    return {
        "kind": "halves",
        "A": [str(s) for s in a],
        "B": [str(s) for s in b],
        "text": (
            f"subjects in file order alternate: half A = {_span(a)}, half B = "
            f"{_span(b)}; a verifier for a subject of A learns only from B's typings "
            "and meets impostors from A only, and vice versa"
        ),
    }


def _span(subjects: Sequence) -> str:
    shown = [str(s) for s in subjects]
    return "{" + ", ".join(shown if len(shown) <= 6 else shown[:3] + ["…"] + shown[-2:]) + "}"
