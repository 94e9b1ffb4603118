"""One :class:`~trustshield.workers.pool.WorkerPool` process, from both sides.

In the pool: :func:`spawn_worker` starts one (multiprocessing, spawn) with a pipe whose
other end only it holds (its death reads as end of file), :func:`first_message` waits for
it to say it is ready, :func:`stop_worker` ends it (SIGKILL after a grace period) and
:func:`ended_how` says how it ended.

In the worker: :func:`worker_main` ties the process to its parent (``import trustshield``
already did: :mod:`trustshield.workers.lifeline`), builds the model from the bytes it is
sent first (never from a folder: :func:`~trustshield.workers.models.model_for`), says
``("ready", pid)`` (or ``("failed", why)``), then answers each ``(fn, args, kwargs)`` with
``("ok", result)`` or ``("error", exception)`` until it receives None or its pipe closes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle  # noqa: TID251 - only to catch PicklingError from multiprocessing's pipe
import signal
import threading

from trustshield.model_folder import ModelFiles
from trustshield.workers.lifeline import PARENT_ENV, end_with_parent
from trustshield.workers.models import model_for

STOP_GRACE_S = 5.0  # a stopping worker's time to exit before SIGKILL
_SPAWN_ENV = threading.Lock()  # os.environ is changed around each spawn


def spawn_worker(name: str, threads: int | None, env: dict[str, str]):
    """Start a worker process running :func:`worker_main`, with ``env`` added to its
    environment (and :data:`~trustshield.workers.lifeline.PARENT_ENV`); (process, our end
    of its pipe). Send it the ModelFiles first."""
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    process = context.Process(
        target=worker_main, daemon=True, name=f"{name}-worker", args=(child, os.getpid(), threads)
    )
    env = {**env, PARENT_ENV: str(os.getpid())}
    with _SPAWN_ENV:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            process.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k)
                else:
                    os.environ[k] = v
    child.close()  # only the worker holds its end now
    return process, conn


def first_message(conn, process, closing: threading.Event, poll_s: float):
    """The worker's first message, or None when it died (or ``closing`` was set) first."""
    while not conn.poll(poll_s):
        if closing.is_set() or process.exitcode is not None:
            return None
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def stop_worker(process, conn, grace: float) -> None:
    """Ask a worker to end, then make sure it has (SIGKILL after ``grace`` s)."""
    if process.exitcode is None:
        try:
            conn.send(None)
        except OSError:
            pass
        process.join(grace)
        if process.exitcode is None:
            process.kill()
            process.join()
    conn.close()


def ended_how(exit_code: int | None) -> str:
    """How a process ended, to append to a sentence: ``(killed by SIGKILL)``, ``(exit
    status 1)``, or nothing while it runs."""
    if exit_code is None:
        return ""
    if exit_code < 0:
        return f" (killed by {signal.Signals(-exit_code).name})"
    return f" (exit status {exit_code})"


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def worker_main(conn, parent: int, threads: int | None) -> None:
    """A worker's life: tie it to ``parent``, build the model from the ModelFiles it
    receives first, say ready, then answer jobs until told to stop (None) or the pipe
    closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent(parent)
    try:
        files: ModelFiles = conn.recv()
        model = model_for(files, threads=threads)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args, kwargs = job
        try:
            reply = ("ok", fn(model, *args, **kwargs))
        except Exception as exc:
            reply = ("error", exc)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(
                (
                    "error",
                    RuntimeError(
                        f"the worker's answer could not be sent back: {type(exc).__name__}: {exc}"
                    ),
                )
            )
