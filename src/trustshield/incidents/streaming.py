"""Behaviour detection over a stream of conn records, window by window, in bounded memory.

:class:`BehaviourStream` takes conn records in chunks (frames as the Zeek readers type them,
in roughly the order Zeek writes them) and closes tumbling windows once the stream has
moved ``lateness_s`` past their end. A closed window's channel rows are built by
:func:`~trustshield.features.behaviour.behaviour_table` on the closed windows alone; the
three features that look back over earlier windows (``dst_rarity_host``,
``host_history_windows``, ``dst_site_share``) are then recomputed from the carried
:class:`Rarity` state, so every row equals the row the whole log gives (tested). The rows
are flagged by the model (with its checkpoints when ``early``) and only what incidents need
is kept: the rows and flows of a host from its first flagged window on.

:meth:`BehaviourStream.finish` groups what was kept with
:func:`~trustshield.incidents.grouping.group_incidents`, a batch of hosts at a time (hosts
are independent), so the incidents are those of ``detect_incidents`` on the whole log.
:meth:`BehaviourStream.close_incidents` instead emits a host's incident once its period
can take no more flagged windows (``gap_s`` after its last one): what ``watch`` does; its
evidence then ends there, where the batch grouping would follow the channel on.

A record whose window was already closed is *late*: :class:`LateRecords` is raised
(``on_late="raise"``, the batch reader then falls back to the whole-log path) or it is
counted and left out (``on_late="drop"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.errors import DataError
from trustshield.features.behaviour import (
    CHECKPOINTS,
    BehaviourTable,
    table_with_checkpoints,
)
from trustshield.incidents.grouping import DEFAULT_GAP_S, Incident, group_incidents, known_at
from trustshield.incidents.model import BehaviourDetection

#: flows grouped per call of ``group_incidents`` when finishing (bounds the uid strings)
GROUP_FLOWS = 1_000_000
#: how far past a window's end the stream must be before it closes: Zeek writes a record
#: when its connection ends, so a connection's record comes up to its duration late (a
#: day: every connection shorter than a day is in its window)
LATENESS_S = 86400.0
#: the conn fields kept for incidents and their evidence (``incident_evidence``)
KEPT_FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "conn_state",
    "duration",
    "resp_pkts",
)


class LateRecords(DataError):
    """Records arrived for a window that was already closed."""


@dataclass
class Rarity:
    """What the look-back features need from the windows closed so far (one per table kind):
    windows with a row per host and per (host, destination), and hosts that have reached
    each destination. JSON-able with :meth:`to_dict`."""

    host_windows: dict[str, int] = field(default_factory=dict)
    pair_windows: dict[tuple[str, str], int] = field(default_factory=dict)
    dst_hosts: dict[str, int] = field(default_factory=dict)

    def apply(self, table: BehaviourTable) -> None:
        """Set ``table``'s look-back features (rows of windows after every window seen
        before) as over the whole stream, then add its windows to the state."""
        keys = table.keys
        if not len(keys):
            return
        rows = pd.DataFrame(
            {
                "w": np.round(keys["window_start"].to_numpy(float) / table.window_s),
                "host": keys["host"].astype(str).to_numpy(object),
                "dst": keys["dst"].astype(str).to_numpy(object),
            }
        )
        wh = rows[["w", "host"]].drop_duplicates()
        before = wh["host"].map(self.host_windows).fillna(0).to_numpy(np.int64)
        wh["history"] = wh.groupby("host", sort=False).cumcount().to_numpy() + before
        whd = rows.drop_duplicates()
        pairs = list(zip(whd["host"], whd["dst"]))
        seen = np.array([self.pair_windows.get(p, 0) for p in pairs], np.int64)
        whd["seen"] = whd.groupby(["host", "dst"], sort=False).cumcount().to_numpy() + seen
        merged = rows.merge(whd, on=["w", "host", "dst"], how="left").merge(
            wh, on=["w", "host"], how="left"
        )
        history = merged["history"].to_numpy(float)
        seen_before = merged["seen"].to_numpy(float)
        # hosts so far: those seen before, and new ones by their first window here
        first_host = wh.groupby("host", sort=False)["w"].min()
        new_hosts = np.sort(first_host[~first_host.index.isin(list(self.host_windows))].to_numpy())
        w = rows["w"].to_numpy(float)
        hosts_so_far = len(self.host_windows) + np.searchsorted(new_hosts, w, side="right")
        # hosts that reached the destination by the row's window: before, plus new pairs
        first_pair = whd.groupby(["host", "dst"], sort=False)["w"].min()
        is_new = np.array([p not in self.pair_windows for p in first_pair.index], bool)
        new_pairs = first_pair[is_new] if len(is_new) else first_pair
        dst_codes, _ = pd.factorize(
            pd.concat([rows["dst"], pd.Series(new_pairs.index.get_level_values(1), dtype=object)])
        )
        row_dst = dst_codes[: len(rows)].astype(float)
        pair_dst = dst_codes[len(rows) :].astype(float)
        w0 = float(w.min())
        span = float(w.max()) - w0 + 2.0
        contact = np.sort(pair_dst * span + (new_pairs.to_numpy(float) - w0))
        n_new = np.searchsorted(contact, row_dst * span + (w - w0), side="right") - np.searchsorted(
            contact, row_dst * span, side="left"
        )
        reached = rows["dst"].map(self.dst_hosts).fillna(0).to_numpy(np.int64) + n_new
        features = table.features
        if "dst_rarity_host" in features.columns:
            features["dst_rarity_host"] = 1.0 - seen_before / np.maximum(history, 1.0)
        if "host_history_windows" in features.columns:
            features["host_history_windows"] = history
        if "dst_site_share" in features.columns:
            features["dst_site_share"] = reached / np.maximum(hosts_so_far, 1)
        # the state after these windows
        for host, n in wh["host"].value_counts(sort=False).items():
            self.host_windows[host] = self.host_windows.get(host, 0) + int(n)
        for pair in pairs:
            self.pair_windows[pair] = self.pair_windows.get(pair, 0) + 1
        for dst in new_pairs.index.get_level_values(1):
            self.dst_hosts[dst] = self.dst_hosts.get(dst, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "host_windows": self.host_windows,
            "pair_windows": [[h, d, n] for (h, d), n in self.pair_windows.items()],
            "dst_hosts": self.dst_hosts,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Rarity:
        return cls(
            {str(k): int(v) for k, v in state["host_windows"].items()},
            {(str(h), str(d)): int(n) for h, d, n in state["pair_windows"]},
            {str(k): int(v) for k, v in state["dst_hosts"].items()},
        )


@dataclass
class Kept:
    """Rows (and their flows) kept for incidents: ``keys``/``features`` as in a
    :class:`BehaviourTable`, per row ``flagged``, ``suspicion``, ``kinds``, ``raised`` and,
    for the flagged rows in row order, ``values``/``base`` of their attributions;
    ``flows`` (KEPT_FIELDS) with ``flow_row``, each flow's row here."""

    keys: pd.DataFrame
    features: pd.DataFrame
    flagged: np.ndarray
    suspicion: np.ndarray
    kinds: np.ndarray
    raised: np.ndarray
    values: np.ndarray
    base: np.ndarray
    flows: pd.DataFrame
    flow_row: np.ndarray
    period: np.ndarray  # per row: start of its host's flagged period (NaN: not tracked)

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, rows: np.ndarray) -> Kept:
        """The rows ``rows`` (bool mask) and their flows, in order."""
        remap = np.cumsum(rows) - 1
        at = rows[self.flow_row]
        attributed = rows[self.flagged]
        return Kept(
            self.keys[rows].reset_index(drop=True),
            self.features[rows].reset_index(drop=True),
            self.flagged[rows],
            self.suspicion[rows],
            self.kinds[rows],
            self.raised[rows],
            self.values[attributed],
            self.base[attributed],
            self.flows[at].reset_index(drop=True),
            remap[self.flow_row[at]],
            self.period[rows],
        )

    def incidents(self, window_s: float, persist: bool, gap_s: float) -> tuple[Incident, ...]:
        table = BehaviourTable(self.keys, self.features, self.flow_row, window_s)
        attributions = Attributions(tuple(self.features.columns), self.values, self.base)
        return group_incidents(
            table,
            self.flows,
            self.flagged,
            self.suspicion,
            attributions,
            self.kinds,
            gap_s=gap_s,
            persist=persist,
            raised=self.raised,
        )


def concat_kept(parts: list[Kept]) -> Kept:
    """The parts (in window order) as one :class:`Kept`."""
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return Kept(
        pd.concat([p.keys for p in parts], ignore_index=True),
        pd.concat([p.features for p in parts], ignore_index=True),
        np.concatenate([p.flagged for p in parts]),
        np.concatenate([p.suspicion for p in parts]),
        np.concatenate([p.kinds for p in parts]),
        np.concatenate([p.raised for p in parts]),
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.base for p in parts]),
        concat_frames([p.flows for p in parts]),
        np.concatenate([p.flow_row + o for p, o in zip(parts, offsets)]),
        np.concatenate([p.period for p in parts]),
    )


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of the same columns stacked; categorical columns stay categorical (their
    categories united), so text is not turned into one object per record."""
    frames = [f for f in frames if len(f.columns)]
    if len(frames) == 1:
        return frames[0]
    if not frames:
        return pd.DataFrame()
    out = {}
    common = set.intersection(*(set(f.columns) for f in frames))
    for c in [c for c in frames[0].columns if c in common]:
        cols = [f[c] for f in frames]
        if all(isinstance(s.dtype, pd.CategoricalDtype) for s in cols):
            out[c] = pd.Series(pd.api.types.union_categoricals(cols, ignore_order=True))
        else:
            out[c] = pd.concat(cols, ignore_index=True)
    return pd.DataFrame(out)


class BehaviourStream:
    """Windows closed as the stream moves on; rows flagged as they close (module docstring).

    ``lateness_s`` (default :data:`LATENESS_S`): how far past a window's end the stream must
    be (its latest ``ts``) before the window closes; ``chunk_records``: buffered records that
    trigger closing (more records per ``behaviour_table`` call is faster, fewer is lighter).
    ``evidence``: ``"follow"`` keeps a flagged host's rows to the end (the whole-log
    incidents, :meth:`finish`); ``"period"`` keeps them to ``gap_s`` past its last flagged
    window and emits each period as one incident once closed (:meth:`close_incidents`), the
    same wherever the stream was cut into chunks.
    """

    def __init__(
        self,
        model: BehaviourDetection,
        *,
        lateness_s: float | None = None,
        chunk_records: int = 500_000,
        on_late: str = "raise",
        gap_s: float = DEFAULT_GAP_S,
        evidence: str = "follow",
        fractions: tuple[float, ...] = CHECKPOINTS,
    ):
        if on_late not in ("raise", "drop"):
            raise DataError(f"on_late must be 'raise' or 'drop', got {on_late!r}")
        if evidence not in ("follow", "period"):
            raise DataError(f"evidence must be 'follow' or 'period', got {evidence!r}")
        self.model, self.window_s = model, float(model.window_s)
        lateness = LATENESS_S if lateness_s is None else float(lateness_s)
        self.lag = int(np.ceil(lateness / self.window_s))
        self.chunk_records, self.on_late, self.gap_s = chunk_records, on_late, gap_s
        self.evidence = evidence
        self.fractions = tuple(fractions) if model.early else ()
        self.rarity = {f: Rarity() for f in (None, *self.fractions)}
        self.buffer: list[pd.DataFrame] = []
        self.buffered = 0
        self.min_w = np.inf  # earliest window in the buffer
        self.next_w: float | None = None  # first window not closed yet
        self.max_w = -np.inf
        self.first_flag: dict[str, float] = {}  # host -> start of its first kept window
        self.open_periods: dict[str, list[float]] = {}  # host -> [first start, last end]
        self.closed_periods: list[tuple[str, float]] = []  # (host, first start), all rows in
        self.kept: list[Kept] = []
        self.records = self.late = 0

    # --- input -------------------------------------------------------------------------
    def add(self, flows: pd.DataFrame, *, replay: bool = False) -> None:
        """Take a chunk of conn records; close the windows the stream has moved past once
        ``chunk_records`` are buffered. ``replay``: records read again after a restart
        (from :meth:`resume_offset`): those of closed windows are skipped, nothing counted."""
        if not len(flows):
            return
        ts = pd.to_numeric(flows["ts"], errors="coerce").to_numpy(float)
        w = np.floor(ts / self.window_s)
        ok = np.isfinite(w)
        if self.next_w is not None:
            late = ok & (w < self.next_w)
            if late.any() and not replay:
                if self.on_late == "raise":
                    raise LateRecords(
                        f"{int(late.sum())} record(s) start in a window that was already "
                        f"closed (window ending {self.next_w * self.window_s:.0f} s since "
                        f"the epoch; lateness {self.lag} window(s))"
                    )
                self.late += int(late.sum())
            ok &= ~late
        if not replay:
            self.records += int(ok.sum())
        if not ok.all():
            flows = flows[ok]
            w = w[ok]
        if not len(flows):
            return
        self.buffer.append(flows.reset_index(drop=True))
        self.buffered += len(flows)
        self.min_w = min(self.min_w, float(w.min()))
        if not replay:
            self.max_w = max(self.max_w, float(w.max()))
        if self.buffered >= self.chunk_records and not replay:
            self.close(self.ready())

    def ready(self) -> float:
        """The window index before which every window may close now."""
        return self.max_w - self.lag + 1

    def close(self, until_w: float) -> list[Kept]:
        """Close every buffered window before window index ``until_w``; the rows kept from
        them (also appended to :attr:`kept`)."""
        if until_w == -np.inf:  # nothing read yet
            return []
        if self.next_w is None or until_w > self.next_w:
            self.next_w = until_w
        if not self.buffer or self.min_w >= until_w:
            self._periods_closed()
            return []
        flows = concat_frames(self.buffer)
        w = np.floor(pd.to_numeric(flows["ts"]).to_numpy(float) / self.window_s)
        done = w < until_w
        rest = flows[~done].reset_index(drop=True)
        self.buffer, self.buffered = ([rest], len(rest)) if len(rest) else ([], 0)
        self.min_w = float(w[~done].min()) if len(rest) else np.inf
        part = flows[done].reset_index(drop=True)
        del flows
        kept = self._windows(part)
        self._periods_closed()
        if kept is not None:
            self.kept.append(kept)
            return [kept]
        return []

    def _windows(self, flows: pd.DataFrame) -> Kept | None:
        """Rows of complete windows: build, fix the look-back features, flag, keep."""
        model = self.model
        table, stages = table_with_checkpoints(
            flows, window_s=self.window_s, fractions=self.fractions
        )
        self.rarity[None].apply(table)
        for stage in stages:
            self.rarity[stage.fraction].apply(stage.table)
        flagged, suspicion, kinds, attributions, early = model.flag(table, stages)
        raised = np.minimum(known_at(table, flows), early)
        keys = table.keys
        host = keys["host"].astype(str).to_numpy(object)
        starts = keys["window_start"].to_numpy(float)
        if self.evidence == "period":
            period = self._periods(host, starts, keys["window_end"].to_numpy(float), flagged)
            rows = np.isfinite(period)
        else:
            for h, s in zip(host[flagged], starts[flagged]):
                self.first_flag.setdefault(h, s)
            first = np.array([self.first_flag.get(h, np.inf) for h in host], float)
            rows = starts >= first
            period = np.full(len(host), np.nan)
        if not rows.any():
            return None
        at = np.flatnonzero(table.flow_row >= 0)
        at = at[rows[table.flow_row[at]]]
        remap = np.cumsum(rows) - 1
        columns = [c for c in KEPT_FIELDS if c in flows.columns]
        return Kept(
            keys[rows].reset_index(drop=True),
            table.features[rows].reset_index(drop=True),
            flagged[rows],
            suspicion[rows],
            np.asarray(kinds, object)[rows],
            raised[rows],
            attributions.values[rows[flagged]],
            attributions.base[rows[flagged]],
            _compact(flows.iloc[at][columns]),
            remap[table.flow_row[at]],
            period[rows],
        )

    def _periods(
        self, host: np.ndarray, starts: np.ndarray, ends: np.ndarray, flagged: np.ndarray
    ) -> np.ndarray:
        """Per row: the first start of its host's flagged period (NaN: outside one). A
        period takes the host's windows from its first flagged one until a window starts
        more than ``gap_s`` after the end of its last flagged one (the rule of
        ``group_incidents``)."""
        period = np.full(len(host), np.nan)
        for h in set(host[flagged]) | (set(self.open_periods) & set(host)):
            idx = np.flatnonzero(host == h)
            current = self.open_periods.get(h)
            for s in np.unique(starts[idx]):
                at = idx[starts[idx] == s]
                if current is not None and s - current[1] > self.gap_s:
                    self.closed_periods.append((h, current[0]))
                    current = None
                hit = at[flagged[at]]
                if len(hit):
                    end = float(ends[hit].max())
                    current = (
                        [float(s), end] if current is None else [current[0], max(current[1], end)]
                    )
                if current is not None:
                    period[at] = current[0]
            if current is None:
                self.open_periods.pop(h, None)
            else:
                self.open_periods[h] = current
        return period

    def _periods_closed(self) -> None:
        """Open periods no closed window can extend any more become closed."""
        if self.evidence != "period" or self.next_w is None:
            return
        now = self.next_w * self.window_s
        for h, (first, end) in list(self.open_periods.items()):
            boundary = (np.floor((end + self.gap_s) / self.window_s) + 1) * self.window_s
            if boundary <= now:
                self.closed_periods.append((h, first))
                del self.open_periods[h]

    # --- output ------------------------------------------------------------------------
    def finish(self, *, group_flows: int = GROUP_FLOWS) -> Iterator[tuple[Incident, ...]]:
        """Close every window, then the incidents of everything kept, a batch of hosts at a
        time (each batch sorted by first_seen, host; batches in host order). What
        ``detect_incidents`` gives for the whole stream, without the late records."""
        self.close(np.inf)
        for part in self.host_batches(group_flows):
            yield part.incidents(self.window_s, self.model.persist, self.gap_s)

    def host_batches(self, group_flows: int = GROUP_FLOWS) -> Iterator[Kept]:
        """What was kept, split into batches of whole hosts of about ``group_flows`` flows;
        empties :attr:`kept`."""
        if not self.kept:
            return
        kept = concat_kept(self.kept)
        self.kept = []
        host = kept.keys["host"].astype(str).to_numpy(object)
        names, code = np.unique(host, return_inverse=True)
        per_host = np.bincount(code[kept.flow_row], minlength=len(names))
        batch = np.floor(np.cumsum(per_host) / max(group_flows, 1)).astype(np.int64)
        for b in np.unique(batch):
            yield kept.select(np.isin(code, np.flatnonzero(batch == b)))

    def close_incidents(self) -> list[tuple[Incident, pd.DataFrame]]:
        """(``evidence="period"``) One incident per closed period with the flows kept for
        it (the host's from the period's first flagged window on), sorted by first_seen
        and host; their rows are dropped."""
        if not self.closed_periods:
            return []
        kept = concat_kept(self.kept) if self.kept else None
        self.kept = []
        found = []
        if kept is not None:
            host = kept.keys["host"].astype(str).to_numpy(object)
            mine = np.zeros(len(kept), bool)
            for h, first in self.closed_periods:
                rows = (host == h) & (kept.period == first)
                mine |= rows
                part = kept.select(rows)
                for incident in part.incidents(self.window_s, self.model.persist, self.gap_s):
                    found.append((incident, part.flows))
            if (~mine).any():
                self.kept = [kept.select(~mine)]
        self.closed_periods = []
        return sorted(found, key=lambda x: (x[0].first_seen, x[0].host))

    def resume_offset(self, column: str = "offset") -> int | None:
        """The least ``column`` value of the buffered records (where to read again from
        after a restart), None when nothing is buffered."""
        values = [int(f[column].min()) for f in self.buffer if len(f)]
        return min(values) if values else None

    # --- state (JSON and Arrow tables, no pickle) -------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything but the buffered records and the kept rows, as plain JSON."""
        return {
            "rarity": {str(k): v.to_dict() for k, v in self.rarity.items()},
            "next_w": self.next_w,
            "max_w": None if not np.isfinite(self.max_w) else self.max_w,
            "records": self.records,
            "late": self.late,
            "first_flag": self.first_flag,
            "open_periods": self.open_periods,
            "closed_periods": [list(p) for p in self.closed_periods],
        }

    def restore(self, state: dict[str, Any], kept: list[Kept]) -> None:
        """Set the state :meth:`state` gave and the kept rows (before replaying records)."""
        self.rarity = {
            (None if k == "None" else float(k)): Rarity.from_dict(v)
            for k, v in state["rarity"].items()
        }
        self.next_w = state["next_w"]
        self.max_w = -np.inf if state["max_w"] is None else float(state["max_w"])
        self.records, self.late = int(state["records"]), int(state["late"])
        self.first_flag = {str(k): float(v) for k, v in state["first_flag"].items()}
        self.open_periods = {
            str(k): [float(a), float(b)] for k, (a, b) in state["open_periods"].items()
        }
        self.closed_periods = [(str(h), float(f)) for h, f in state["closed_periods"]]
        self.kept = list(kept)


def kept_to_arrow(kept: Kept) -> tuple[Any, Any]:
    """(rows, flows) Arrow tables of ``kept``: keys, ``f:`` features, flags, scores,
    ``a:`` attributions (zero on rows not flagged) and ``period`` per row; the flows with
    ``flow_row``."""
    import pyarrow as pa

    n = len(kept)
    values = np.zeros((n, kept.values.shape[1] if kept.values.ndim == 2 else 0))
    base = np.zeros(n)
    values[kept.flagged] = kept.values
    base[kept.flagged] = kept.base
    columns: dict[str, Any] = {c: kept.keys[c] for c in kept.keys.columns}
    columns |= {f"f:{c}": kept.features[c].to_numpy(float) for c in kept.features.columns}
    columns |= {
        "flagged": kept.flagged,
        "suspicion": kept.suspicion,
        "kinds": kept.kinds.astype(str),
        "raised": kept.raised,
        "period": kept.period,
        "a_base": base,
    }
    columns |= {f"a:{c}": values[:, j] for j, c in enumerate(kept.features.columns)}
    rows = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
    flows = kept.flows.assign(flow_row=kept.flow_row)
    return rows, pa.Table.from_pandas(flows, preserve_index=False)


def kept_from_arrow(rows: Any, flows: Any) -> Kept:
    """The :class:`Kept` :func:`kept_to_arrow` encoded."""
    r = rows.to_pandas()
    f = flows.to_pandas()
    features = [c[2:] for c in r.columns if c.startswith("f:")]
    keys = r[[c for c in r.columns if ":" not in c and c not in _ROW_FIELDS]].copy()
    if "dport" in keys.columns:
        keys["dport"] = keys["dport"].astype("Int64")
    flagged = r["flagged"].to_numpy(bool)
    if "uid" in f.columns:
        f["uid"] = f["uid"].astype("string[pyarrow]")
    return Kept(
        keys,
        pd.DataFrame({c: r[f"f:{c}"].to_numpy(float) for c in features}),
        flagged,
        r["suspicion"].to_numpy(float),
        r["kinds"].to_numpy(object),
        r["raised"].to_numpy(float),
        r[[f"a:{c}" for c in features]].to_numpy(float)[flagged],
        r["a_base"].to_numpy(float)[flagged],
        f.drop(columns="flow_row"),
        f["flow_row"].to_numpy(np.int64),
        r["period"].to_numpy(float),
    )


_ROW_FIELDS = ("flagged", "suspicion", "kinds", "raised", "period", "a_base")


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals and uids as Arrow strings (no object per record)."""
    out = {}
    for c in frame.columns:
        col = frame[c]
        if c == "uid":
            if not isinstance(col.dtype, pd.StringDtype):
                col = col.astype(str).astype("string[pyarrow]")
            out[c] = col.reset_index(drop=True)
        elif col.dtype == object:
            out[c] = col.astype("category").reset_index(drop=True)
        else:
            out[c] = col.reset_index(drop=True)
    return pd.DataFrame(out)


def stream_incidents(
    model: BehaviourDetection, chunks, **options
) -> tuple[tuple[Incident, ...], BehaviourStream]:
    """Every incident of the conn frames ``chunks`` (sorted by first_seen, host) and the
    stream (its counts); options as :class:`BehaviourStream`."""
    stream = BehaviourStream(model, **options)
    for chunk in chunks:
        stream.add(chunk)
    found = [i for part in stream.finish() for i in part]
    return tuple(sorted(found, key=lambda i: (i.first_seen, i.host))), stream
