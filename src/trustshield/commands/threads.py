"""Thread settings for the numeric libraries, applied by the command line before any loads.

On a shared or busy machine, threads that wait for each other by spinning burn CPU time
against the other jobs instead of doing work: ``train`` with hardening, on a 2-core machine
under load 15 to 19, had used 4 min 46 s of CPU after 12 min 52 s and was not done; with
these settings the whole run took 80 s of CPU in 4 min 34 s. The settings, each kept when the environment already sets it (the user's choice wins):

- ``OMP_WAIT_POLICY=PASSIVE``: an OpenMP thread (LightGBM, scikit-learn's k-means) that
  waits at a barrier sleeps instead of spinning;
- ``OMP_NUM_THREADS=2``: OpenMP pools without an explicit count (scikit-learn, a
  default LightGBM) use the two threads TrustShield's own LightGBM models are trained with
  (``TrainConfig.n_threads``), not every core of a large machine;
- ``OPENBLAS_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``: BLAS on the calling thread; the
  matrix products here are small (k-means++ seeding multiplies a few candidates by the
  normal records, thousands of times), where a second BLAS thread costs more in hand-offs
  than it saves, and OpenBLAS's idle threads spin.

None of these changes a result: LightGBM keeps the thread count a model records, and the
products compute each output the same way on one thread as on two.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: environment variable → value, read by OpenMP and BLAS when they load
THREAD_SETTINGS = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def missing_settings(environ: MutableMapping[str, str]) -> dict[str, str]:
    """The :data:`THREAD_SETTINGS` that ``environ`` does not set yet."""
    return {k: v for k, v in THREAD_SETTINGS.items() if not environ.get(k)}


def apply_thread_settings(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set the missing :data:`THREAD_SETTINGS` in ``environ`` and return them.

    Effective for libraries loaded afterwards; when NumPy is already loaded (the command
    line called from Python), its BLAS is limited to one thread with threadpoolctl (the
    wait policy of an OpenMP runtime already loaded cannot change).
    """
    added = missing_settings(environ)
    environ.update(added)
    if "OPENBLAS_NUM_THREADS" in added and "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    return added
