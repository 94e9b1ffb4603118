"""Refused requests in the audit log, aggregated so that a flood cannot fill it.

Every refusal (401, 403, 429 on sign-in, a failed dashboard sign-in, a CSRF refusal) is
noted as a :class:`Refusal`: its ``kind``, HTTP ``status``, ``endpoint`` (the
:data:`~trustshield.service.access.PERMISSIONS` name or the dashboard action), the client
address and the token id when a token with that id exists. Refusals with the same five
values share one window of ``window_s`` seconds, opened by the first of them:

* the first refusal of a window is written at once as an ``access.refused`` event with
  ``count`` 1, so a single refusal is always on record;
* later ones in the window are only counted, and written as one more ``access.refused``
  event (``count`` = how many, ``first_at``/``last_at`` of those) when the window closes —
  found by a background flush every few seconds — or when the service stops
  (:func:`flush_on_stop`, the lifespan of the tokens API router, and the context's close).

So each distinct refusal costs at most two events per window, and the counts of all events
add up to the number of refused requests. At most ``max_keys`` distinct refusals are held
at once; beyond that they are counted under one overflow entry (``kind`` ``"other"``,
client ``"*"``), so varying addresses or ids cannot grow memory or the log without bound.
Events name the token id (or else ``client:ADDRESS``) as their subject; their actor is the
service.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

log = logging.getLogger("trustshield.service")
ACTION = "access.refused"
FLUSH_EVERY_S = 5.0


@dataclass(frozen=True)
class Refusal:
    """One refused request: what kind, its status, where, from whom."""

    kind: str
    status: int
    endpoint: str
    client: str
    token_id: str | None = None


OVERFLOW = Refusal("other", 0, "*", "*", None)


@dataclass
class _Window:
    opened: float  # clock time of the refusal that opened the window
    pending: int = 0  # refusals after the first, not yet written
    first_at: float = 0.0
    last_at: float = 0.0


class RefusalLog:
    """Aggregates refusals into ``access.refused`` events (see the module docstring).

    ``write(subject, details)`` appends one audit event (the service passes a function that
    writes in its own transaction); ``clock`` gives wall-clock seconds (``time.time``).
    """

    def __init__(
        self,
        write: Callable[[str, dict], None],
        *,
        window_s: float = 60.0,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.time,
        flush_every_s: float = FLUSH_EVERY_S,
    ):
        self.write, self.window_s, self.max_keys, self.clock = write, window_s, max_keys, clock
        self.flush_every_s = min(flush_every_s, window_s)
        self._windows: dict[Refusal, _Window] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def note(self, refusal: Refusal) -> None:
        """Record one refusal: written at once when it opens a window, else counted."""
        now = self.clock()
        due = []
        with self._lock:
            if refusal not in self._windows and len(self._windows) >= self.max_keys:
                refusal = OVERFLOW
            window = self._windows.get(refusal)
            if window is not None and now >= window.opened + self.window_s:
                due.append(self._close(refusal, window))
                window = None
            if window is None:
                self._windows[refusal] = _Window(opened=now)
                due.append((refusal, 1, now, now))
            else:
                if not window.pending:
                    window.first_at = now
                window.pending += 1
                window.last_at = now
            self._start_flusher()
        self._write_all(due)

    def flush(self, *, everything: bool = False) -> int:
        """Write the counts of closed windows (of every window when ``everything``); how
        many events were written."""
        now = self.clock()
        with self._lock:
            closing = [
                key
                for key, w in self._windows.items()
                if everything or now >= w.opened + self.window_s
            ]
            due = [self._close(key, self._windows[key]) for key in closing]
        return self._write_all(due)

    def close(self) -> None:
        """Stop the background flush and write every count still held."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush(everything=True)

    def _close(self, key: Refusal, window: _Window):
        del self._windows[key]
        return (key, window.pending, window.first_at, window.last_at) if window.pending else None

    def _write_all(self, due) -> int:
        written = 0
        for item in filter(None, due):
            refusal, count, first, last = item
            details = {
                **asdict(refusal),
                "count": count,
                "first_at": _iso(first),
                "last_at": _iso(last),
                "window_s": self.window_s,
            }
            try:
                self.write(refusal.token_id or f"client:{refusal.client}", details)
                written += 1
            except Exception:  # a refusal is answered even when it cannot be recorded
                log.exception("could not record %d refused request(s) in the audit log", count)
        return written

    def _start_flusher(self) -> None:
        if self._flusher is not None or self._stop.is_set():
            return

        def loop():
            while not self._stop.wait(self.flush_every_s):
                self.flush()

        self._flusher = threading.Thread(target=loop, name="refusal-flush", daemon=True)
        self._flusher.start()


@contextlib.asynccontextmanager
async def flush_on_stop(app):
    """A router lifespan: when the service stops, write the refusal counts still held
    (before the context closes; ``trustshield serve`` may end by re-raising the signal that
    stopped it, so its own clean-up cannot be relied on)."""
    yield
    context = getattr(app.state, "context", None)
    if context is not None and getattr(context, "refusals", None) is not None:
        context.refusals.flush(everything=True)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="microseconds")
