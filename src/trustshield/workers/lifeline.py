"""A worker process that ends with the process that started it, from its first moment.

:func:`end_with_parent` asks the kernel to SIGKILL this process when its parent ends
(``PR_SET_PDEATHSIG``, Linux; it fires when the parent *thread* that started us ends, so
the pool starts each worker from a thread that outlives it) and, on any system, starts a
thread that exits the process within :data:`PARENT_POLL_S` of the parent's end.

A worker spends its first seconds importing (the parent's main module, then this package),
and a parent killed meanwhile must not leave it behind: the pool puts the parent's pid in
:data:`PARENT_ENV` for the spawn, and ``import trustshield`` calls
:func:`tie_from_environment` before importing anything heavy. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_ENV = "TRUSTSHIELD_WORKER_PARENT"
SPAWNED_FLAG = "--multiprocessing-fork"  # the last argument of a spawned child's command
PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1
_tied: set[int] = set()


def end_with_parent(parent: int) -> None:
    """End this process when process ``parent`` (our parent now) ends; at once if it
    already has. Calling it again for the same parent does nothing."""
    if parent in _tied:
        return
    _tied.add(parent)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it ended before we could watch it
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def tie_from_environment() -> None:
    """In a process a worker pool started (spawned by multiprocessing, :data:`PARENT_ENV`
    set), end with that parent; the variable is removed so nothing this process starts
    inherits it. Any other process is left alone."""
    parent = os.environ.pop(PARENT_ENV, "")
    spawned = getattr(sys, "orig_argv", [])[-1:] == [SPAWNED_FLAG]
    if spawned and parent.isdigit():
        end_with_parent(int(parent))
