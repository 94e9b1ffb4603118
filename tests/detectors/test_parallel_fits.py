"""Fits and scores run side by side on threads give the same numbers as one at a time."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from trustshield.decide.selection import held_out_scores
from trustshield.detectors import GradientBoostedDetector, HybridDetector, NormalPrototypeDetector
from trustshield.detectors.parallel import one_thread, run_jobs, workers_of
from trustshield.detectors.prototype import PARALLEL_ROWS

CATEGORICAL = ("service",)


def hybrid(threads: int) -> HybridDetector:
    return HybridDetector(
        GradientBoostedDetector(n_estimators=20, categorical=CATEGORICAL, n_threads=threads),
        NormalPrototypeDetector(n_prototypes=16, categorical=CATEGORICAL, n_threads=threads),
        n_folds=3,
    )


def test_run_jobs_keeps_job_order_and_runs_jobs_at_once():
    started = threading.Barrier(2, timeout=10)  # both jobs must be running together

    def job(k):
        def run():
            started.wait()
            return k

        return run

    assert run_jobs([job(0), job(1)], workers=2) == [0, 1]


def test_run_jobs_raises_a_jobs_error():
    def bad():
        raise ValueError("fold 2 failed")

    with pytest.raises(ValueError, match="fold 2 failed"):
        run_jobs([lambda: 1, bad, lambda: 3], workers=2)


def test_one_thread_sets_every_part_to_one_thread_and_leaves_the_original():
    detector = hybrid(threads=2)
    copy = one_thread(detector)
    assert workers_of(detector) == 2
    assert workers_of(copy) == 1
    assert detector.supervised.n_threads == 2


def test_hybrid_fit_and_held_out_scores_do_not_depend_on_the_thread_budget(traffic):
    X, labels, categories = traffic
    serial = hybrid(threads=1).fit(X, labels, categories)
    parallel = hybrid(threads=2).fit(X, labels, categories)
    np.testing.assert_array_equal(parallel.normal_out_of_fold(), serial.normal_out_of_fold())
    np.testing.assert_array_equal(parallel.suspicion(X), serial.suspicion(X))
    one = held_out_scores(serial, X, labels, categories)
    two = held_out_scores(parallel, X, labels, categories)
    assert list(one) == list(two)
    for key in one:
        np.testing.assert_array_equal(two[key], one[key])


def test_prototype_scores_and_explains_row_blocks_on_threads_exactly(traffic):
    X, labels, _ = traffic
    serial = NormalPrototypeDetector(n_prototypes=16, categorical=CATEGORICAL).fit(X, labels)
    parallel = NormalPrototypeDetector(n_prototypes=16, categorical=CATEGORICAL, n_threads=2)
    parallel.fit(X, labels)
    big = pd.concat([X] * (PARALLEL_ROWS // len(X) + 1), ignore_index=True)
    assert len(big) >= PARALLEL_ROWS
    np.testing.assert_array_equal(parallel.suspicion(big), serial.suspicion(big))
    a, b = parallel.explain(big), serial.explain(big)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.reference, b.reference)
    assert parallel.suspicion(big.iloc[:0]).shape == (0,)
