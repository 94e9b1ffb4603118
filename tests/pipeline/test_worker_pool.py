"""The worker pool shared by the service, watch and Spark: workers build the model from the bytes
they are sent (never from the folder), a worker that dies is replaced and reported, one
that cannot build the model is reported without a busy restart loop, and no worker (nor the
multiprocessing resource tracker) outlives the process that started it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.model_folder import ModelFiles, read_model_files, save_model
from trustshield.workers.pool import WorkerLost, WorkerPool

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from attacks.rig import session_processes, wait_for_no_session

READY_WITHIN_S = 120.0


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> ModelFiles:
    folder = tmp_path_factory.mktemp("pool") / "model"
    save_model(train_small(synthetic_flows(), FLOWS_SPEC, FLOWS_SPEC_TEXT), folder)
    return read_model_files(folder)


def model_facts(model) -> tuple:
    """(model id, alert threshold, the worker's pid): what the worker holds, and where."""
    return model.model_id, model.policy.alert_threshold_, os.getpid()


def die(model) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_workers_build_the_model_from_the_bytes_they_are_sent(files, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(files.origin, folder)
    sent = read_model_files(folder)
    shutil.rmtree(folder)  # nothing left on disk to read
    pool = WorkerPool(sent, 2)
    try:
        assert pool.wait_ready(READY_WITHIN_S)
        answers = [pool.submit(model_facts).result(60) for _ in range(4)]
    finally:
        pool.close()
    threshold = json.loads(sent.blobs["model.json"])["policy"]["alert_threshold"]
    assert {a[:2] for a in answers} == {(sent.manifest["model_id"], threshold)}
    assert os.getpid() not in {a[2] for a in answers} and pool.pids() == []


def test_a_job_that_kills_its_worker_fails_cleanly_and_a_replacement_takes_over(files):
    exits = []
    pool = WorkerPool(files, 1, on_restart=exits.append)
    try:
        assert pool.wait_ready(READY_WITHIN_S)
        (first,) = pool.pids()
        lost = pool.submit(die).exception(60)
        queued = pool.submit(model_facts)  # waits for the replacement
        assert not pool.available or pool.healthy
        answer = queued.result(READY_WITHIN_S)
        assert pool.healthy and pool.pids() == [answer[2]]
    finally:
        pool.close()
    assert isinstance(lost, WorkerLost) and "SIGKILL" in str(lost)
    assert answer[0] == files.manifest["model_id"] and answer[2] != first
    assert [(e.pid, e.exit_code, e.before_ready, e.restarts) for e in exits] == [
        (first, -signal.SIGKILL, False, 1)
    ]


def test_a_worker_that_cannot_build_the_model_is_reported_without_a_busy_loop(files):
    blobs = dict(files.blobs)
    blobs["model.json"] = blobs["model.json"].replace(b"alert_threshold", b"alert_thresholt")
    exits = []
    pool = WorkerPool(ModelFiles(files.origin, blobs), 1, on_restart=exits.append)
    try:
        with pytest.raises(WorkerLost, match="sha256"):
            pool.wait_ready(READY_WITHIN_S)
        time.sleep(1.5)
        assert not pool.healthy and not pool.available
    finally:
        pool.close()
    with pytest.raises(WorkerLost, match="stopping"):
        pool.submit(model_facts)
    assert 1 <= len(exits) <= 2 and all(e.before_ready for e in exits)  # backoff: 1 s, 2 s, …


KEEP_POOL = textwrap.dedent("""
    import sys, time
    from trustshield.model_folder import read_model_files
    from trustshield.workers.pool import WorkerPool

    if __name__ == "__main__":
        pool = WorkerPool(read_model_files(sys.argv[1]), 2)
        if sys.argv[2] == "ready":
            pool.wait_ready(300)
        while len(pool.pids()) < 2:
            time.sleep(0.01)
        print(" ".join(map(str, pool.pids())), flush=True)
        time.sleep(600)
""")


@pytest.mark.parametrize("when", ["ready", "starting"])
def test_no_worker_outlives_the_process_that_started_it(files, tmp_path, when):
    """SIGKILL the parent once its workers are ready, or while they are still importing."""
    script = tmp_path / "keep_pool.py"
    script.write_text(KEEP_POOL)
    parent = subprocess.Popen(
        [sys.executable, str(script), files.origin, when],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        alive = session_processes(parent.pid)
        assert len(workers) == 2 and set(workers) <= {p for p, _, _ in alive}
        if when == "ready":  # the resource tracker is there too
            assert any(p not in workers + [parent.pid] for p, _, _ in alive), alive
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        waited, left = wait_for_no_session(parent.pid, timeout=5.0)
    finally:
        for pid, _, _ in session_processes(parent.pid):
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"still running {waited:.1f} s after the parent ended: {left}"


def test_only_a_spawned_worker_ties_itself_to_the_parent_named_in_its_environment():
    """The variable a pool sets for its workers does nothing to any other process."""
    from trustshield.workers.lifeline import PARENT_ENV

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os, trustshield; print('alive', os.environ.get({PARENT_ENV!r}))",
        ],
        env={**os.environ, PARENT_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.split() == ["alive", "None"], done.stderr
