"""Watch each API token's query stream for model extraction and evasion probing.

Two signs, each a statistic over the token's last ``window`` records:

1. **Boundary clustering** — ``boundary_share``: the share of records whose margin
   (suspicion minus the alert threshold, in suspicion units) satisfies ``|margin| ≤ band``.
   Evasion search by bisection (HopSkipJump and kin) walks pairs of points onto the
   decision boundary, so most of its queries land within a hair of it; ordinary traffic
   has margins spread broadly and few that close. Flag when the share exceeds
   :data:`BOUNDARY_SHARE_LIMIT`.
2. **Systematic sweep** — ``sweep_share``: the share of records that differ from their
   nearest earlier record of the same token in 1 to ``max_changed`` features (counting
   features whose values differ exactly, on the values the model sees). Nearest is
   searched among the last ``memory`` distinct records kept for the token plus the
   earlier records of the same chunk, so the cost per record is bounded. A record equal
   to a kept record is a *repeat* — an identical retry, never a sweep — and is not kept
   again. Flag when the share exceeds :data:`SWEEP_SHARE_LIMIT` **and** the sweep steps
   vary: the sets of (changed feature, new value) pairs of the window's sweep records
   take at least :data:`MIN_DISTINCT_STEPS` distinct values (toggling one field between
   two values is not a scan; stepping it is).

The band is in the detector's suspicion units, so the default suits only a detector whose
scores near the threshold move smoothly on that scale. Tree ensembles are piecewise
constant: bisection lands on a jump, on either side of the threshold but rarely within a
hair of it. Set ``band`` per model with :func:`trustshield.decide.policy.calibrate_band`
from margins of its ordinary (normal training or validation) traffic, as training does:
the smallest band within which at least ``BAND_SHARE`` of that traffic falls (more when many records tie at one score level;
check that ordinary traffic's ``boundary_share`` stays well below the limit).

No verdict is given before a token has sent :data:`MIN_RECORDS` records. A flagged token
stays flagged, with the reasons found, until :meth:`ProbeMonitor.reset`. Memory is bounded
per token (three rings of ``window`` entries and ``memory`` kept records) and overall:
tokens idle for ``forget_after_s`` seconds are forgotten, and past ``max_keys`` the least
recently seen token is; the set of flagged tokens and their reasons is kept regardless.
Thread-safe (one lock). ``now`` is the caller's clock in seconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from trustshield.errors import ConfigError, DataError

BOUNDARY_BAND = 0.05  #: |margin| within this (suspicion units) is "on the boundary"
BOUNDARY_SHARE_LIMIT = 0.25  #: flag when more of the window than this is on the boundary
SWEEP_MAX_CHANGED = 2  #: a sweep record differs from its nearest in 1..this features
SWEEP_SHARE_LIMIT = 0.30  #: flag when more of the window than this are sweep records
MIN_DISTINCT_STEPS = 10  #: ... and their (feature, value) steps take this many values
MIN_RECORDS = 50  #: no verdict before this many records of a token
REASON_BOUNDARY = "boundary_clustering"
REASON_SWEEP = "systematic_sweep"
CHUNK = 128  #: records compared at once (bounds the (chunk, pool, d) array)
_MIX = np.uint64(0x9E3779B97F4A7C15)

BAD_SHAPES = (
    "expected encoded of shape (n, d) and margin of shape (n,) with finite "
    "margins; got encoded {encoded} and margin {margin}"
)
BAD_SETTING = "ProbeMonitor setting {name} must be {expected}; got {value!r}"
#: setting → (type, lowest, highest) allowed
BOUNDS = {
    "window": (int, 1, None),
    "memory": (int, 1, None),
    "max_keys": (int, 1, None),
    "max_changed": (int, 1, None),
    "min_records": (int, 1, None),
    "band": (float, 0, None),
    "boundary_limit": (float, 0, 1),
    "sweep_limit": (float, 0, 1),
}
WIDTH_CHANGED = "token {key!r} sent records of {expected} features before; this batch has {got}"


@dataclass(frozen=True)
class ProbeVerdict:
    """The token's standing after a batch: shares are over its last ``window`` records,
    ``queries`` counts every record observed since the token was (re)tracked."""

    flagged: bool
    reasons: tuple[str, ...]
    boundary_share: float
    sweep_share: float
    queries: int


class _Track:
    """One token's rings (boundary flags, sweep flags, step hashes) and kept records."""

    def __init__(self, window: int, memory: int, width: int):
        self.boundary = np.zeros(window, dtype=bool)
        self.sweep = np.zeros(window, dtype=bool)
        self.steps = np.zeros(window, dtype=np.uint64)
        self.kept = np.zeros((memory, width), dtype=np.int64)
        self.pos = self.kept_n = self.kept_pos = self.queries = 0
        self.seen = 0.0

    def push(self, boundary: np.ndarray, sweep: np.ndarray, steps: np.ndarray) -> None:
        for ring, values in ((self.boundary, boundary), (self.sweep, sweep), (self.steps, steps)):
            _ring_write(ring, self.pos, values)
        self.pos = (self.pos + len(boundary)) % len(self.boundary)
        self.queries += len(boundary)

    def keep(self, rows: np.ndarray) -> None:
        _ring_write(self.kept, self.kept_pos, rows)
        self.kept_pos = (self.kept_pos + len(rows)) % len(self.kept)
        self.kept_n = min(len(self.kept), self.kept_n + len(rows))


class ProbeMonitor:
    """Per-token probing statistics; see the module docstring for the rules."""

    def __init__(
        self,
        window: int = 2000,
        *,
        band: float = BOUNDARY_BAND,
        boundary_limit: float = BOUNDARY_SHARE_LIMIT,
        sweep_limit: float = SWEEP_SHARE_LIMIT,
        max_changed: int = SWEEP_MAX_CHANGED,
        min_steps: int = MIN_DISTINCT_STEPS,
        min_records: int = MIN_RECORDS,
        memory: int = 64,
        max_keys: int = 1000,
        forget_after_s: float = 86_400.0,
    ):
        _check_settings(locals())
        self.window, self.band = window, band
        self.boundary_limit, self.sweep_limit = boundary_limit, sweep_limit
        self.max_changed, self.min_steps, self.min_records = max_changed, min_steps, min_records
        self.memory, self.max_keys, self.forget_after_s = memory, max_keys, forget_after_s
        self._tracks: OrderedDict[Hashable, _Track] = OrderedDict()
        self._flagged: dict[Hashable, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of tokens whose statistics are held now."""
        return len(self._tracks)

    def observe(
        self, key: Hashable, encoded: np.ndarray, margin: np.ndarray, now: float
    ) -> ProbeVerdict:
        """Add a batch: ``encoded`` (n, d) feature values as the model sees them, ``margin``
        (n,) suspicion minus the alert threshold; return the token's verdict."""
        bits, margin = _validated(encoded, margin)
        with self._lock:
            track = self._track(key, bits.shape[1], now)
            for start in range(0, len(bits), CHUNK):
                sweep, steps, fresh = self._sweeps(track, bits[start : start + CHUNK])
                near = np.abs(margin[start : start + CHUNK]) <= self.band
                track.push(near, sweep, steps)
                track.keep(fresh)
            return self._verdict(key, track)

    def reset(self, key: Hashable) -> None:
        """Forget the token's statistics and lift its flag."""
        with self._lock:
            self._tracks.pop(key, None)
            self._flagged.pop(key, None)

    def flagged_keys(self) -> list:
        """Tokens flagged since their last reset, in the order they were flagged."""
        with self._lock:
            return list(self._flagged)

    def _track(self, key: Hashable, width: int, now: float) -> _Track:
        track = self._tracks.get(key)
        if track is None:
            self._forget(now)
            track = self._tracks[key] = _Track(self.window, self.memory, width)
        elif track.kept.shape[1] != width:
            raise DataError(WIDTH_CHANGED.format(key=key, expected=track.kept.shape[1], got=width))
        self._tracks.move_to_end(key)
        track.seen = max(track.seen, now)
        return track

    def _forget(self, now: float) -> None:
        """Drop idle tokens (oldest first), then the least recently seen beyond capacity."""
        while self._tracks:
            key, oldest = next(iter(self._tracks.items()))
            if now - oldest.seen <= self.forget_after_s and len(self._tracks) < self.max_keys:
                break
            del self._tracks[key]

    def _sweeps(self, track: _Track, chunk: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per record of ``chunk`` (m, d): sweep flag, step hash (0 unless a sweep); and the
        records that are not repeats, to keep."""
        m, width = chunk.shape
        pool = np.concatenate([track.kept[: track.kept_n], chunk])
        differ = _differing(chunk, pool)
        later = np.arange(len(pool))[None, :] >= (track.kept_n + np.arange(m))[:, None]
        differ[later] = width + 1  # only earlier records count
        repeat = (differ == 0).any(axis=1)
        differ[differ == 0] = width + 1
        nearest = differ.argmin(axis=1)
        sweep = ~repeat & (differ[np.arange(m), nearest] <= self.max_changed)
        changed = chunk != pool[nearest]
        features = np.arange(1, width + 1, dtype=np.uint64) * _MIX
        pairs = (features[None, :] ^ chunk.view(np.uint64)) * _MIX  # hash of (feature, value)
        steps = np.where(sweep, (pairs * changed).sum(axis=1, dtype=np.uint64), np.uint64(0))
        return sweep, steps, chunk[~repeat]

    def _verdict(self, key: Hashable, track: _Track) -> ProbeVerdict:
        filled = max(1, min(track.queries, self.window))
        boundary_share = float(track.boundary.sum()) / filled
        sweep_share = float(track.sweep.sum()) / filled
        if track.queries >= self.min_records:
            reasons = list(self._flagged.get(key, ()))
            if boundary_share > self.boundary_limit:
                reasons.append(REASON_BOUNDARY)
            if sweep_share > self.sweep_limit and self._distinct_steps(track) >= self.min_steps:
                reasons.append(REASON_SWEEP)
            if reasons:
                self._flagged[key] = tuple(dict.fromkeys(reasons))
        reasons = self._flagged.get(key, ())
        return ProbeVerdict(bool(reasons), reasons, boundary_share, sweep_share, track.queries)

    @staticmethod
    def _distinct_steps(track: _Track) -> int:
        return len(np.unique(track.steps[track.sweep]))


def _check_settings(settings: dict) -> None:
    for name, (kind, low, high) in BOUNDS.items():
        value = settings[name]
        allowed = (int,) if kind is int else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, allowed)
            or not low <= value <= (np.inf if high is None else high)
        ):
            expected = ("an integer" if kind is int else "a number") + f" ≥ {low}"
            expected += "" if high is None else f" and ≤ {high}"
            raise ConfigError(BAD_SETTING.format(name=name, expected=expected, value=value))


def _validated(encoded, margin) -> tuple[np.ndarray, np.ndarray]:
    """Records as int64 bit patterns (so equal values, NaN included, compare equal; -0.0
    folded into 0.0) and margins as floats; DataError on bad shapes or margins."""
    encoded = np.asarray(encoded, dtype=float)
    margin = np.asarray(margin, dtype=float)
    if (
        encoded.ndim != 2
        or margin.ndim != 1
        or len(encoded) != len(margin)
        or not np.isfinite(margin).all()
    ):
        raise DataError(BAD_SHAPES.format(encoded=encoded.shape, margin=margin.shape))
    canonical = np.where(np.isnan(encoded), np.nan, encoded + 0.0)
    return np.ascontiguousarray(canonical).view(np.int64), margin


def _differing(chunk: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """(m, p) number of features in which each chunk record differs from each pool record;
    accumulated feature by feature, which is several times faster than one (m, p, d)
    comparison reduced over its last axis."""
    width = chunk.shape[1]
    counts = np.zeros((len(chunk), len(pool)), dtype=np.uint8 if width < 255 else np.uint16)
    unequal = np.empty(counts.shape, dtype=bool)
    for column, row in zip(np.ascontiguousarray(chunk.T), np.ascontiguousarray(pool.T)):
        np.not_equal(column[:, None], row[None, :], out=unequal)
        counts += unequal
    return counts.astype(np.int32)


def _ring_write(ring: np.ndarray, pos: int, values: np.ndarray) -> None:
    """Write ``values`` into ``ring`` from ``pos`` on, wrapping; only the last len(ring)
    values are kept when there are more."""
    size = len(ring)
    if len(values) > size:
        pos = (pos + len(values) - size) % size
        values = values[-size:]
    head = min(len(values), size - pos)
    ring[pos : pos + head] = values[:head]
    ring[: len(values) - head] = values[head:]
