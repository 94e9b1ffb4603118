"""Independent fits (cross-validation folds, held-out groups) run side by side on threads.

A model selection fits the same detector many times on different rows. Each LightGBM fit
on tens of thousands of rows is made of many short parallel regions, and on a 2-core
machine whose OpenMP threads sleep between regions (``OMP_WAIT_POLICY=PASSIVE``, see
``commands/threads.py``) a second thread inside one fit saves almost nothing. Two fits at
once, each on one thread, keep both cores busy instead: LightGBM, scikit-learn's k-means
and NumPy release the GIL while they compute, so plain Python threads suffice and nothing
is copied between processes.

Results do not depend on the number of workers: every job is a pure function of its
inputs, its detectors fit on one thread whatever the number of workers (:func:`one_thread`),
and :func:`run_jobs` returns results in job order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from trustshield.detectors.params import HasParams, clone

_T = TypeVar("_T")
_D = TypeVar("_D", bound=HasParams)


def workers_of(detector: HasParams) -> int:
    """The thread budget a detector was given (its ``n_threads`` parameter, or of its parts'
    the largest), 1 when it has none."""
    counts = [
        int(v)
        for k, v in detector.get_params(deep=True).items()
        if k == "n_threads" or k.endswith("__n_threads")
    ]
    return max([1, *counts])


def one_thread(detector: _D) -> _D:
    """An unfitted copy of ``detector`` whose own ``n_threads`` (and its parts') is 1."""
    copy = clone(detector)
    names = [k for k in copy.get_params(deep=True) if k == "n_threads" or k.endswith("__n_threads")]
    if names:
        copy.set_params(**dict.fromkeys(names, 1))  # type: ignore[attr-defined]
    return copy


def run_jobs(jobs: Sequence[Callable[[], _T]], workers: int) -> list[_T]:
    """Call every job, at most ``workers`` at once; results in the order of ``jobs``. The
    first exception raised by a job is raised here (after the running jobs end)."""
    if workers <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]
