"""KDD-style features of a stream of connection records, independent of batch cuts.

Zeek writes a connection's record when it ends, so
``ts`` (its start) is not monotone in the file, and batch ``kdd_features`` over a whole
file lets a record see connections that started before it but were written after it. A
stream cannot wait for those: here a record's window features use the records written
before it in the same file (and itself), on the log's clock ``clock[i] = max(ts[0..i])``
(file order). The stream features of a file equal ``kdd_features(file with ts replaced by
clock)`` row for row, which is exactly ``kdd_features(file)`` when ``ts`` never decreases in
the file; basic features (duration, bytes, flag, service) never differ. The carried tail is
the records with ``clock >= last clock - 2 s`` and the last 100 (the two KDD windows), at
most :data:`TAIL_MAX`, so features do not depend on batch boundaries or restarts while no
more than TAIL_MAX records fall within 2 s of log time. Context does not cross files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.features.kdd_derived import HOST_WINDOW, WINDOW_S, kdd_features

TAIL_MAX = 20_000
#: the conn.log fields the features read (only these are typed and checked)
USED_FIELDS = (
    "ts",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
)


@dataclass
class StreamContext:
    """The tail of one file's records (``conns``: :data:`USED_FIELDS`, file order), their byte
    offsets and line numbers, and the log clock (s since the epoch) before the first of them."""

    conns: pd.DataFrame
    offsets: np.ndarray  # (t,) int64
    lines: np.ndarray  # (t,) int64
    clock_before: float = -np.inf

    @classmethod
    def empty(cls, clock_before: float = -np.inf) -> StreamContext:
        none = np.zeros(0, np.int64)
        return cls(pd.DataFrame(columns=list(USED_FIELDS)), none, none, clock_before)

    def resume_point(self, offset: int, line: int) -> tuple[int, int, float]:
        """(context offset, context line, clock before it) for a checkpoint at ``offset``."""
        if len(self.offsets):
            return int(self.offsets[0]), int(self.lines[0]), float(self.clock_before)
        return offset, line, float(self.clock_before)

    def features(self, conns: pd.DataFrame, offsets: np.ndarray, lines: np.ndarray) -> pd.DataFrame:
        """The KDD features, shape (n, 41), of the n records ``conns`` written after the tail
        (index 0..n-1, file order); the tail then moves on past them."""
        if not len(conns):
            return kdd_features(conns[list(USED_FIELDS)]).reset_index(drop=True)
        t, new = len(self.conns), conns[list(USED_FIELDS)]
        both = pd.concat([self.conns, new], ignore_index=True) if t else new.reset_index(drop=True)
        clock = np.maximum.accumulate(
            np.maximum(both["ts"].to_numpy(np.float64), self.clock_before)
        )
        out = kdd_features(both.assign(ts=clock)).iloc[t:].reset_index(drop=True)
        keep = _tail_start(clock)
        if keep > 0:
            self.clock_before = float(clock[keep - 1])
        self.conns = both.iloc[keep:].reset_index(drop=True)
        self.offsets = np.concatenate([self.offsets, offsets])[keep:]
        self.lines = np.concatenate([self.lines, lines])[keep:]
        return out


def _tail_start(clock: np.ndarray) -> int:
    """First row to keep: the last HOST_WINDOW rows and all within WINDOW_S of the last clock."""
    by_time = int(np.searchsorted(clock, clock[-1] - WINDOW_S, side="left"))
    return max(min(by_time, len(clock) - HOST_WINDOW), len(clock) - TAIL_MAX, 0)
