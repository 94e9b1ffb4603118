"""Cut a stream of scored batches into fixed-size windows and measure each one's drift.

Pure, no I/O: ``detect`` feeds each batch's encoded features and suspicion and stores the
results. At most one window of records is held between calls, whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from trustshield.drift.monitor import MIN_WINDOW, DriftReference, DriftResult, drift
from trustshield.errors import DataError

WINDOW = 10_000
BAD_WINDOW = "expected a drift window of at least {least} records; got {got}"
MISMATCH = (
    "expected suspicion (n,) and lines (n,) for the n = {rows} rows of the encoded "
    "frame; got suspicion {suspicion} and lines {lines}"
)


@dataclass(frozen=True)
class WindowDrift(DriftResult):
    """A :class:`DriftResult` with the window's place in the stream: ``index`` counts windows
    from 0; ``first_line`` and ``last_line`` are the lines (source file line numbers when
    given, else 0-based positions in the stream) of its first and last record."""

    index: int = 0
    first_line: int = 0
    last_line: int = 0


class DriftWindows:
    """Windows of ``window`` records compared with ``reference``, in arrival order.

    ``add`` returns a result for each window it completes; ``finish`` one for the last,
    partial window if it holds at least ``MIN_WINDOW`` records (500), else None.
    """

    def __init__(self, reference: DriftReference, *, window: int = WINDOW):
        if window < MIN_WINDOW:
            raise DataError(BAD_WINDOW.format(least=MIN_WINDOW, got=window))
        self.reference = reference
        self.window = window
        self.completed = 0  # windows returned so far
        self.seen = 0  # records added so far
        self._parts: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []
        self._held = 0

    def add(
        self, X_encoded: pd.DataFrame, suspicion: np.ndarray, lines: np.ndarray | None = None
    ) -> list[WindowDrift]:
        """X_encoded (n, d) as the model sees it (``FeatureEncoder.transform`` output),
        suspicion (n,) of the model (higher = more suspicious), lines (n,) of the records in
        their file (default: positions in the stream). Returns the windows completed."""
        n = len(X_encoded)
        suspicion = np.asarray(suspicion, dtype=np.float64)
        lines = np.arange(self.seen, self.seen + n) if lines is None else np.asarray(lines)
        if suspicion.shape != (n,) or lines.shape != (n,):
            raise DataError(MISMATCH.format(rows=n, suspicion=suspicion.shape, lines=lines.shape))
        self.seen += n
        results, start = [], 0
        while start < n:
            take = min(n - start, self.window - self._held)
            self._parts.append(
                (
                    X_encoded.iloc[start : start + take],
                    suspicion[start : start + take],
                    lines[start : start + take],
                )
            )
            self._held += take
            start += take
            if self._held == self.window:
                results.append(self._close())
        return results

    def finish(self) -> WindowDrift | None:
        """The last, partial window when it has ≥ MIN_WINDOW records; None otherwise (its
        records are dropped either way)."""
        if self._held < MIN_WINDOW:
            self._parts, self._held = [], 0
            return None
        return self._close()

    def _close(self) -> WindowDrift:
        X = pd.concat([p[0] for p in self._parts])
        scores = np.concatenate([p[1] for p in self._parts])
        lines = np.concatenate([p[2] for p in self._parts])
        self._parts, self._held = [], 0
        result = drift(self.reference, X, scores)
        window = WindowDrift(
            **{f.name: getattr(result, f.name) for f in fields(DriftResult)},
            index=self.completed,
            first_line=int(lines[0]),
            last_line=int(lines[-1]),
        )
        self.completed += 1
        return window
