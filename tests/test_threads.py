"""The command line sets thread counts and the OpenMP wait policy before any numeric
library loads, so that on a busy machine waiting threads sleep instead of spinning."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from trustshield.commands.progress import timed
from trustshield.commands.threads import THREAD_SETTINGS, apply_thread_settings

CHILD = """
import json, os, sys
from trustshield.cli import main
main([])  # prints the help: the settings are applied before any command runs
import lightgbm, numpy, sklearn.cluster  # noqa: F401  (load their BLAS and OpenMP)
from threadpoolctl import threadpool_info
print(json.dumps({
    "environ": {k: os.environ.get(k) for k in %r},
    "pools": [(p["user_api"], p["num_threads"]) for p in threadpool_info()],
}), file=sys.stderr)
"""


def test_missing_settings_are_added_and_the_users_are_kept():
    environ = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": ""}
    added = apply_thread_settings(environ)
    assert environ["OMP_NUM_THREADS"] == "1"  # the user's choice
    assert "OMP_NUM_THREADS" not in added
    assert environ["OPENBLAS_NUM_THREADS"] == "1" == added["OPENBLAS_NUM_THREADS"]
    assert environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert apply_thread_settings(environ) == {}  # nothing left to add


def test_the_command_line_applies_them_before_blas_and_openmp_load():
    environ = {k: v for k, v in os.environ.items() if k not in THREAD_SETTINGS}
    child = subprocess.run(
        [sys.executable, "-c", CHILD % (tuple(THREAD_SETTINGS),)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stderr.strip().splitlines()[-1])
    assert seen["environ"] == THREAD_SETTINGS
    pools = seen["pools"]
    assert any(api == "blas" for api, _ in pools) and any(api == "openmp" for api, _ in pools)
    for api, threads in pools:
        assert threads <= (1 if api == "blas" else 2), (api, threads)


def test_a_timed_command_ends_with_its_wall_and_cpu_seconds(capsys):
    @timed("demo step")
    def command(args):
        return 7

    assert command(None) == 7
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("[") and " s] · demo step done in " in last and " s CPU)" in last
