"""Scoring processes that hold one model, built from verified bytes, and never outlive us.

:class:`WorkerPool` runs ``workers`` processes (multiprocessing, spawn), each holding the
model built by :func:`~trustshield.model_folder.model_from_files` from the
:class:`~trustshield.model_folder.ModelFiles` it was given: the bytes the caller
checked, never the folder on disk, so a folder changed after the check is never scored,
even by a worker started later. ``submit(fn, *args)`` runs ``fn(model, *args)`` in a
worker and returns a :class:`concurrent.futures.Future`.

Guarantees:

* **Respawn.** A worker that dies (killed, crashed, out of memory) is replaced at once
  (after 1, 2, 4 … 30 s when replacements keep dying before they are ready);
  ``on_restart`` is called with a :class:`WorkerExit` saying why. The job it was running
  fails with :class:`WorkerLost`; queued jobs wait for a worker. ``healthy`` is False while
  any worker is starting or down; ``available`` is False while every worker is down after
  a loss.
* **No orphans.** A worker ends when its parent does, from its first moment (while still
  importing, too): see :mod:`trustshield.workers.lifeline`. When the last worker ends, the
  multiprocessing resource tracker (started for spawned processes) sees its pipe close and
  exits too. Workers ignore SIGINT: Ctrl-C reaches the parent, which stops them.
* **Order.** Jobs are taken in submission order; :meth:`close` lets every job submitted
  before it finish (``wait`` True waits for that, bounded by ``timeout``).
"""

from __future__ import annotations

import concurrent.futures
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from trustshield.errors import TrustShieldError
from trustshield.model_folder import ModelFiles
from trustshield.workers.process import (
    STOP_GRACE_S,
    ended_how,
    first_message,
    kill,
    spawn_worker,
    stop_worker,
)

#: how often an idle slot checks that its worker lives
POLL_S = 0.25
BACKOFF_S = (1.0, 30.0)  # first and longest wait before restarting a crash-looping worker


class WorkerLost(TrustShieldError):
    """A job could not run to its end because its worker process died (or none is up)."""


@dataclass(frozen=True)
class WorkerExit:
    """Why a worker process ended: ``pid``, ``exit_code`` (negative: the signal that killed
    it), ``reason`` in words, ``before_ready`` when it never finished loading the model,
    ``restarts`` so far in this pool (this one included)."""

    pid: int | None
    exit_code: int | None
    reason: str
    before_ready: bool
    restarts: int


@dataclass(frozen=True)
class _Job:
    future: concurrent.futures.Future
    fn: Callable
    args: tuple
    kwargs: dict


class WorkerPool:
    """See the module docstring. ``threads`` limits the model's threads in each worker and
    ``env`` is set in each worker's environment (e.g. OpenMP's thread count, read at start)."""

    def __init__(
        self,
        files: ModelFiles,
        workers: int,
        *,
        threads: int | None = None,
        env: dict[str, str] | None = None,
        on_restart: Callable[[WorkerExit], None] | None = None,
        name: str = "scoring",
    ):
        if workers < 1:
            raise ValueError(f"a worker pool needs at least one worker, got {workers}")
        self.files, self.workers, self.name = files, workers, name
        self._threads, self._env, self._on_restart = threads, dict(env or {}), on_restart
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._state = threading.Condition()
        self._slots = ["starting"] * workers  # starting | ready | restarting | stopped
        self._pids: list[int | None] = [None] * workers
        self._closing = threading.Event()
        self.restarts, self.last_exit = 0, None
        self._running = [
            threading.Thread(
                target=self._run_slot, args=(k,), daemon=True, name=f"{name}-worker-{k}"
            )
            for k in range(workers)
        ]
        for thread in self._running:
            thread.start()

    # --- callers -----------------------------------------------------------------------

    def submit(self, fn: Callable, *args, **kwargs) -> concurrent.futures.Future:
        """Run ``fn(model, *args, **kwargs)`` in a worker (``fn`` and arguments picklable)."""
        future = concurrent.futures.Future()
        with self._state:
            if self._closing.is_set():
                raise WorkerLost(f"the {self.name} workers are stopping")
            self._jobs.put(_Job(future, fn, args, kwargs))
        return future

    @property
    def healthy(self) -> bool:
        """Every worker is up with the model loaded."""
        with self._state:
            return all(s == "ready" for s in self._slots)

    @property
    def available(self) -> bool:
        """A job submitted now will run soon: a worker is ready, or the pool is still
        starting (no worker lost yet)."""
        with self._state:
            return "ready" in self._slots or "restarting" not in self._slots

    def pids(self) -> list[int]:
        """The process ids of the workers alive now."""
        with self._state:
            return [p for p in self._pids if p is not None]

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker has loaded the model (True) or ``timeout`` passed (False);
        WorkerLost when a worker died before it was ready."""

        def settled() -> bool:
            return all(s == "ready" for s in self._slots) or (
                self.last_exit is not None and self.last_exit.before_ready
            )

        with self._state:
            if not self._state.wait_for(settled, timeout):
                return False
            if not all(s == "ready" for s in self._slots):
                raise WorkerLost(f"a {self.name} worker could not start: {self.last_exit.reason}")
            return True

    def close(self, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Stop the workers once the jobs submitted so far are done; with ``wait``, wait for
        that (at most ``timeout`` s, then kill them)."""
        with self._state:
            if not self._closing.is_set():
                self._closing.set()
                for _ in self._running:
                    self._jobs.put(None)
        if wait:
            deadline = time.monotonic() + timeout
            for thread in self._running:
                thread.join(max(0.0, deadline - time.monotonic()))
            for pid in self.pids():  # still busy after the timeout
                kill(pid)

    # --- one thread per worker ---------------------------------------------------------

    def _run_slot(self, k: int) -> None:
        failures, state = 0, "starting"
        try:
            while not self._closing.is_set():
                try:
                    exit_ = self._run_worker(k, state)
                except Exception as exc:  # it could not even be started (fork failed, ...)
                    exit_ = self._record(k, None, None, f"it could not be started: {exc!r}", True)
                if exit_ is None:
                    return
                failures, state = (failures + 1 if exit_.before_ready else 0), "restarting"
                if failures and self._closing.wait(
                    min(BACKOFF_S[0] * 2 ** (failures - 1), BACKOFF_S[1])
                ):
                    return
        finally:
            self._set(k, "stopped", None)
            with self._state:
                last = all(s == "stopped" for s in self._slots)
            if last:
                _fail_waiting(self._jobs, WorkerLost(f"the {self.name} workers stopped"))

    def _run_worker(self, k: int, state: str) -> WorkerExit | None:
        """Start a worker (the slot is in ``state`` until it is ready) and feed it jobs until
        it dies (its WorkerExit) or the pool closes (None)."""
        process, conn = spawn_worker(self.name, self._threads, self._env)
        grace = STOP_GRACE_S
        try:
            self._set(k, state, process.pid)
            conn.send(self.files)  # read once it has started: spawning does not wait for it
            message = first_message(conn, process, self._closing, POLL_S)
            if message is None and self._closing.is_set():
                grace = 0.0  # closing while it loads: nothing to finish
                return None
            if message is None:
                return self._lost(k, process, "it stopped while loading the model", True)
            if message[0] != "ready":
                return self._lost(k, process, f"it could not load the model: {message[1]}", True)
            self._set(k, "ready", process.pid)
            while True:
                try:
                    job = self._jobs.get(timeout=POLL_S)
                except queue.Empty:
                    if process.exitcode is not None:
                        return self._lost(k, process, "it ended while idle", False)
                    continue
                if job is None:
                    return None
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    conn.send((job.fn, job.args, job.kwargs))
                    status, value = conn.recv()
                except (EOFError, OSError):
                    exit_ = self._lost(k, process, "it ended while running a job", False)
                    job.future.set_exception(
                        WorkerLost(
                            f"the {self.name} worker ended while running this job ({exit_.reason})"
                        )
                    )
                    return exit_
                except Exception as exc:  # the job's arguments could not be sent
                    job.future.set_exception(exc)
                    continue
                if status == "ok":
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
        finally:
            stop_worker(process, conn, grace)
            if self._closing.is_set():
                self._set(k, "stopped", None)

    def _lost(self, k: int, process, how: str, before_ready: bool) -> WorkerExit:
        process.join(STOP_GRACE_S)
        return self._record(
            k, process.pid, process.exitcode, how + ended_how(process.exitcode), before_ready
        )

    def _record(
        self, k: int, pid: int | None, code: int | None, how: str, before_ready: bool
    ) -> WorkerExit:
        """Mark slot ``k`` as restarting and report why its worker ended."""
        with self._state:
            self.restarts += 1
            self._slots[k], self._pids[k] = "restarting", None
            self.last_exit = WorkerExit(
                pid, code, f"worker {pid}: {how}", before_ready, self.restarts
            )
            self._state.notify_all()
        if self._on_restart is not None and not self._closing.is_set():
            try:
                self._on_restart(self.last_exit)
            except Exception as exc:  # reporting must not stop the respawn
                print(f"trustshield: could not report a worker restart: {exc!r}", file=sys.stderr)
        return self.last_exit

    def _set(self, k: int, state: str, pid: int | None) -> None:
        with self._state:
            self._slots[k], self._pids[k] = state, pid
            self._state.notify_all()


def _fail_waiting(jobs: queue.SimpleQueue, error: Exception) -> None:
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        if job is not None and job.future.set_running_or_notify_cancel():
            job.future.set_exception(error)
