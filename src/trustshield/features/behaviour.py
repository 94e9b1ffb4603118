"""Behaviour features of hosts over time, from connection records (Zeek conn.log fields).

One row per *channel window*: a source host, destination, destination port and protocol
within one tumbling time window (default one hour, aligned to the epoch, so a window
``w`` spans ``[w * window_s, (w + 1) * window_s)`` seconds since the epoch). Each row
carries the channel's own statistics (counts, failed share, bytes, durations, beacon
regularity of intervals and sizes) and its context: the host's fan-out in the window
(destinations on that port, ports on that destination), the host's totals, and how rare
the destination is for the host (earlier windows) and for the site (hosts so far).

Every input flow belongs to exactly one row (:attr:`BehaviourTable.flow_row`), so a flagged
row names its evidence flows. Vectorised (pandas group-bys), no loop per record. Units and
meanings of the columns are in the ``behaviour-features`` DatasetSpec; :data:`FEATURES` is
its column order. Labels (``label``, ``detailed-label``) are never read here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from trustshield.errors import DataError

#: Zeek conn_state values of a connection that was refused, never answered or never
#: completed a normal exchange (Zeek's documentation of conn_state)
FAILED_STATES = ("S0", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH")
#: fields :func:`behaviour_table` reads
NEEDED = ("ts", "id.orig_h", "id.resp_h", "id.resp_p", "proto")
KEYS = ("host", "dst", "dport", "proto", "window_start", "window_end")
FEATURES = (
    "n_conn",
    "rate_per_min",
    "failed_share",
    "unanswered_share",
    "orig_bytes",
    "resp_bytes",
    "orig_pkts",
    "resp_pkts",
    "duration_max",
    "duration_mean",
    "retried_session",
    "interval_median",
    "interval_mad",
    "interval_dispersion",
    "interval_skew",
    "size_dispersion",
    "size_skew",
    "coverage",
    "beacon_score",
    "dsts_on_port",
    "ports_on_dst",
    "host_conns",
    "host_dsts",
    "host_ports",
    "host_failed_share",
    "dst_rarity_host",
    "host_history_windows",
    "dst_site_share",
    "dst_local",
    "upload_external",
    "tcp",
    "udp",
)
#: beacon statistics need this many connections in the channel window (three intervals)
MIN_BEACON_CONNS = 4
NOT_A_FRAME = "behaviour features need a DataFrame of conn.log records, got {got}"
MISSING = "behaviour features need the conn.log fields {missing}; the records have {have}"
BAD_WINDOW = "window_s must be a positive number of seconds, got {got!r}"


@dataclass(frozen=True)
class BehaviourTable:
    """Channel windows of a set of flows.

    ``keys`` (n rows): host, dst, dport (Int64), proto, window_start and window_end
    (seconds since the epoch); ``features`` (n, len(FEATURES)) float64 in :data:`FEATURES`
    order; ``flow_row`` (m,) int64: the row of each input flow (input order), -1 for a flow
    without a time or host; ``window_s``: the window length in seconds.
    """

    keys: pd.DataFrame
    features: pd.DataFrame
    flow_row: np.ndarray
    window_s: float

    def __len__(self) -> int:
        return len(self.keys)


@lru_cache(maxsize=1 << 16)
def is_local(address: str) -> bool:
    """True for private, loopback, link-local, multicast or unspecified addresses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return bool(
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified
    )


def behaviour_table(
    flows: pd.DataFrame, *, window_s: float = 3600.0, elapsed_s: float | None = None
) -> BehaviourTable:
    """The channel-window rows of ``flows`` (conn.log fields as read by the Zeek readers:
    ts in s since the epoch, addresses as text, counts possibly missing).

    ``elapsed_s`` (default ``window_s``): how much of each window the flows cover; rates
    and coverage are taken over it (a window read before it closes, see
    :func:`checkpoint_tables`). Rows are ordered by window, host, destination, port and
    protocol."""
    span = _checked_span(flows, window_s, elapsed_s)
    f, names = _flow_frame(flows, float(window_s))
    return _aggregate(_sorted(f), names, len(flows), float(window_s), span)


def _checked_span(flows: pd.DataFrame, window_s: float, elapsed_s: float | None) -> float:
    """The seconds of each window the flows cover, after checking ``flows`` and both
    lengths (DataError naming what is wrong)."""
    if not isinstance(flows, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(got=type(flows).__name__))
    if missing := [f for f in NEEDED if f not in flows.columns]:
        raise DataError(MISSING.format(missing=missing, have=list(flows.columns)))
    if not (isinstance(window_s, (int, float)) and np.isfinite(window_s) and window_s > 0):
        raise DataError(BAD_WINDOW.format(got=window_s))
    span = float(window_s if elapsed_s is None else elapsed_s)
    if not (np.isfinite(span) and 0 < span <= window_s):
        raise DataError(f"elapsed_s must be in (0, window_s], got {elapsed_s!r}")
    return span


#: the channel of a flow, in the order rows are sorted
CHANNEL = ["w", "host", "dst", "dport", "proto"]


def _sorted(f: dict[str, np.ndarray]) -> pd.DataFrame:
    """The usable flows ``f`` (from :func:`_flow_frame`) sorted by channel, then ts."""
    if not len(f["ts"]):
        return pd.DataFrame({c: v for c, v in f.items()}, copy=False)
    # one sort of integer keys (names are coded in their sorted order), then row ids
    order = np.lexsort([f[c] for c in ("ts", *CHANNEL[::-1])])
    # one column at a time, each freed once sorted (no second copy of the whole frame)
    return pd.DataFrame({c: f.pop(c)[order] for c in list(f)}, copy=False)


def _aggregate(
    f: pd.DataFrame,
    names: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_flows: int,
    window_s: float,
    span: float,
) -> BehaviourTable:
    """The table of the flows ``f`` (sorted by :func:`_sorted`; ``pos``: position among
    the ``n_flows`` input flows), rates and coverage over ``span`` seconds."""
    flow_row = np.full(n_flows, -1, np.int64)
    if not len(f):
        return BehaviourTable(
            pd.DataFrame({k: pd.Series(dtype=float) for k in KEYS}),
            pd.DataFrame({c: pd.Series(dtype=float) for c in FEATURES}),
            flow_row,
            float(window_s),
        )
    channel = CHANNEL
    new_row = np.zeros(len(f), bool)
    new_row[0] = True
    for c in channel:
        values = f[c].to_numpy()
        new_row[1:] |= values[1:] != values[:-1]
    row = np.cumsum(new_row) - 1
    f["row"] = row
    flow_row[f["pos"].to_numpy()] = row
    starts = np.flatnonzero(new_row)  # each row's flows are contiguous, in ts order
    g = f.groupby("row", sort=True)
    out = f.loc[new_row, channel].set_index(row[new_row])
    ts = f["ts"].to_numpy()
    first = pd.Series(ts[starts], index=out.index)
    last = pd.Series(ts[np.append(starts[1:], len(f)) - 1], index=out.index)
    n = pd.Series(np.diff(np.append(starts, len(f))).astype(float), index=out.index)
    failed = pd.Series(np.add.reduceat(f["failed"].to_numpy(), starts), index=out.index)
    unanswered = np.add.reduceat(f["unanswered"].to_numpy(), starts)
    # per row, numpy arrays in row order (the same arithmetic as on Series, without
    # pandas' overhead per operation, which dominates small closings)
    rows: dict[str, np.ndarray] = {"n_conn": n.to_numpy()}
    nn = rows["n_conn"]
    rows["rate_per_min"] = nn / (span / 60.0)
    # shares of 0/1 flags: exact counts over the row's count (a group mean is the same)
    rows["failed_share"] = failed.to_numpy() / nn
    rows["unanswered_share"] = unanswered / nn
    sums = g[["orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts"]].sum()
    for name in sums.columns:
        rows[name] = sums[name].to_numpy(float)
    duration = f["duration"].to_numpy()
    longest = np.maximum.reduceat(duration, starts)
    rows["duration_max"] = longest
    rows["duration_mean"] = g["duration"].mean().to_numpy(float)
    rows["retried_session"] = _retried_session(row, duration, longest, f["unanswered"], unanswered)
    f["gap"] = f["ts"].diff().where(f["row"].eq(f["row"].shift()))
    med, mad, skew = (x.to_numpy(float) for x in _robust(f, "gap"))
    smed, smad, sskew = (x.to_numpy(float) for x in _robust(f, "orig_bytes"))
    few = nn < MIN_BEACON_CONNS
    rows["interval_median"] = np.where(few, 0.0, med)
    rows["interval_mad"] = np.where(few, 0.0, mad)
    rows["interval_dispersion"] = np.where(few, 1.0, _dispersion(med, mad))
    rows["interval_skew"] = np.where(few, 1.0, skew)
    rows["size_dispersion"] = np.where(few, 1.0, _dispersion(smed, smad))
    rows["size_skew"] = np.where(few, 1.0, sskew)
    coverage = np.clip((last.to_numpy() - first.to_numpy()) / span, 0.0, 1.0)
    rows["coverage"] = coverage
    rows["beacon_score"] = np.where(
        few,
        0.0,
        (
            (1 - np.abs(rows["interval_skew"]))
            + (1 - np.minimum(rows["interval_dispersion"], 1))
            + (1 - np.abs(rows["size_skew"]))
            + (1 - np.minimum(rows["size_dispersion"], 1))
        )
        / 4
        * np.minimum(1.0, coverage * 2),
    )
    rows |= _context(out, n, failed)
    host_names, dst_names, proto_names = names
    dst_code = out["dst"].to_numpy(np.int64)
    proto = proto_names[out["proto"].to_numpy(np.int64)]
    local = np.array([is_local(d) for d in dst_names], float)
    rows["dst_local"] = local[dst_code] if len(local) else np.zeros(len(out))
    rows["upload_external"] = rows["orig_bytes"] * (1.0 - rows["dst_local"])
    rows["tcp"] = (proto == "tcp").astype(float)
    rows["udp"] = (proto == "udp").astype(float)
    keys = pd.DataFrame(
        {
            "host": host_names[out["host"].to_numpy(np.int64)],
            "dst": dst_names[dst_code],
            "dport": pd.array(out["dport"].to_numpy(), dtype="Int64"),
            "proto": proto,
            "window_start": out["w"].to_numpy(float) * window_s,
            "window_end": (out["w"].to_numpy(float) + 1) * window_s,
        }
    )
    columns = {c: np.asarray(rows[c], np.float64) for c in FEATURES}
    features = pd.DataFrame({c: np.where(np.isnan(v), 0.0, v) for c, v in columns.items()})
    return BehaviourTable(keys, features, flow_row, float(window_s))


@dataclass(frozen=True)
class Checkpoint:
    """The channel windows as they stood ``fraction`` of the way into each window: ``table``
    built from the flows with ``ts`` in the first ``fraction * window_s`` seconds of their
    window (rates and coverage over that elapsed time); ``full_row`` (k,) int64: the row of
    the complete table each of its rows grows into; ``known`` (k,) s since the epoch when
    the row could be read: the checkpoint time, or later when one of its connections ended
    after it (Zeek writes a record when its connection ends)."""

    fraction: float
    table: BehaviourTable
    full_row: np.ndarray
    known: np.ndarray


#: default checkpoints, as fractions of a window: geometric, so a fast pattern is read
#: within minutes and the extra work stays below one more pass over the flows
CHECKPOINTS = (1 / 16, 1 / 8, 1 / 4, 1 / 2)


def checkpoint_tables(
    flows: pd.DataFrame, table: BehaviourTable, fractions: tuple[float, ...] = CHECKPOINTS
) -> tuple[Checkpoint, ...]:
    """The rows of ``table`` (built from ``flows``) at each fraction in ``fractions`` (each
    in (0, 1)) of their window: what a detector reading the window before it closes sees."""
    _fractions(fractions)
    f, names = _flow_frame(flows, table.window_s)
    return _checkpoints(flows, table, fractions, _sorted(f), names)


def table_with_checkpoints(
    flows: pd.DataFrame, *, window_s: float = 3600.0, fractions: tuple[float, ...] = CHECKPOINTS
) -> tuple[BehaviourTable, tuple[Checkpoint, ...]]:
    """``behaviour_table(flows, window_s=window_s)`` and its ``checkpoint_tables`` at
    ``fractions``, the same tables, the flows coded and sorted once for all of them."""
    if not fractions:
        return behaviour_table(flows, window_s=window_s), ()
    _fractions(fractions)
    span = _checked_span(flows, window_s, None)
    f, names = _flow_frame(flows, float(window_s))
    ordered = _sorted(f)
    table = _aggregate(ordered, names, len(flows), float(window_s), span)
    # _aggregate adds its own columns to ``ordered``; _checkpoints leaves them out
    return table, _checkpoints(flows, table, fractions, ordered, names)


def _fractions(fractions: tuple[float, ...]) -> None:
    for q in fractions:
        if not 0 < q < 1:
            raise DataError(f"checkpoint fractions must be in (0, 1), got {q!r}")


def _checkpoints(
    flows: pd.DataFrame,
    table: BehaviourTable,
    fractions: tuple[float, ...],
    f: pd.DataFrame,
    names: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[Checkpoint, ...]:
    """The checkpoints of ``table`` from its flows ``f`` sorted by :func:`_sorted`: each
    the sorted flows in the first part of their window (still sorted), aggregated."""
    window_s = table.window_s
    ts = pd.to_numeric(flows["ts"], errors="coerce").to_numpy(float)
    offset = ts - np.floor(ts / window_s) * window_s
    duration = (
        pd.to_numeric(flows["duration"], errors="coerce").fillna(0.0).to_numpy(float)
        if "duration" in flows.columns
        else np.zeros(len(flows))
    )
    pos = f["pos"].to_numpy()
    full = table.flow_row[pos]
    ended = ts[pos] + duration[pos]
    sorted_offset = offset[pos]
    base = f[[c for c in f.columns if c not in ("row", "gap", "_dev")]]
    out = []
    for q in fractions:
        keep = np.flatnonzero(offset < q * window_s)
        mask = sorted_offset < q * window_s
        part = base[mask].reset_index(drop=True)
        part["pos"] = np.searchsorted(keep, pos[mask])
        prefix = _aggregate(part, names, len(keep), window_s, q * window_s)
        row = part["row"].to_numpy() if len(part) else np.zeros(0, np.int64)
        full_row = np.full(len(prefix), -1, np.int64)
        full_row[row] = full[mask]
        known = prefix.keys["window_start"].to_numpy(float) + q * window_s
        np.maximum.at(known, row, ended[mask])
        out.append(Checkpoint(float(q), prefix, full_row, known))
    return tuple(out)


def _coded(values: pd.Series, missing: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (in the sorted order of the names) and the names (object array);
    unset values get ``missing`` as their name, or code -1 when ``missing`` is None."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy(np.int64)
        names = values.cat.categories.astype(str).to_numpy(object)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        codes = codes.astype(np.int64)
        names = np.asarray(uniques, dtype=object).astype(str).astype(object)
    if missing is not None and (codes < 0).any():
        names = np.append(names, missing).astype(object)
        codes = np.where(codes < 0, len(names) - 1, codes)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), np.int64)
    rank[order] = np.arange(len(names))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), names[order]


def _flow_frame(
    flows: pd.DataFrame, window_s: float
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The fields the features need (arrays by name), one entry per usable flow (``pos``:
    input position), with host, dst and proto as integer codes; and their names."""

    def number(name: str) -> np.ndarray:
        if name not in flows.columns:
            return np.zeros(len(flows))
        column = flows[name]
        if pd.api.types.is_float_dtype(column.dtype) and not isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            return column.to_numpy(np.float64)
        return pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)

    ts = number("ts")
    host, host_names = _coded(flows["id.orig_h"], None)
    dst, dst_names = _coded(flows["id.resp_h"], "-")
    proto, proto_names = _coded(flows["proto"], "-")
    ok = np.isfinite(ts) & (host >= 0)
    if "conn_state" in flows.columns:
        state = flows["conn_state"]
        if isinstance(state.dtype, pd.CategoricalDtype):
            bad = state.cat.categories.isin(FAILED_STATES)
            failed = np.append(bad, False)[state.cat.codes.to_numpy()].astype(float)
        else:
            failed = state.isin(FAILED_STATES).to_numpy(float)
    else:
        failed = np.zeros(len(flows))
    resp_pkts = number("resp_pkts")
    f = {
        "pos": np.arange(len(flows)),
        "ts": ts,
        "w": np.floor(ts / window_s),
        "host": host,
        "dst": dst,
        "dport": np.nan_to_num(number("id.resp_p"), nan=-1.0),
        "proto": proto,
        "failed": failed,
        "unanswered": (np.nan_to_num(resp_pkts) == 0).astype(float),
        "orig_bytes": np.nan_to_num(number("orig_bytes")),
        "resp_bytes": np.nan_to_num(number("resp_bytes")),
        "orig_pkts": np.nan_to_num(number("orig_pkts")),
        "resp_pkts": np.nan_to_num(resp_pkts),
        "duration": np.nan_to_num(number("duration")),
    }
    if not ok.all():
        f = {k: v[ok] for k, v in f.items()}
    return f, (host_names, dst_names, proto_names)


def _robust(f: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per row: median, median absolute deviation and Bowley skew of ``column``."""
    g = f.groupby("row")[column]
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    med = q[0.5]
    f["_dev"] = (f[column] - f["row"].map(med)).abs()
    mad = f.groupby("row")["_dev"].median()
    spread = q[0.75] - q[0.25]
    skew = ((q[0.75] + q[0.25] - 2 * med) / spread.where(spread > 0)).fillna(0.0)
    return med.fillna(0.0), mad.fillna(0.0), skew


def _retried_session(
    row: np.ndarray,
    duration: np.ndarray,
    longest: np.ndarray,
    unanswered: pd.Series,
    unanswered_n: np.ndarray,
) -> np.ndarray:
    """Per row: its longest connection's duration (s) when the channel window also holds
    another connection that was never answered, else 0 — a session kept open by a client
    that re-opens it after unanswered attempts, the way a command channel keeps itself
    alive. Flows are sorted by row then ts (``row`` per flow, ``longest`` and
    ``unanswered_n`` per row); the longest connection is the first of the longest ones."""
    hit = np.flatnonzero(duration == longest[row])
    first = hit[np.append(True, row[hit][1:] != row[hit][:-1])]
    others = unanswered_n - unanswered.to_numpy()[first]
    return np.where(others >= 1, longest, 0.0)


def _dispersion(med: np.ndarray, mad: np.ndarray) -> np.ndarray:
    """MAD relative to the median, capped at 10 (0 = perfectly regular)."""
    positive = med > 0
    ratio = np.where(positive, mad / np.where(positive, med, 1.0), np.where(mad > 0, 10.0, 0.0))
    ratio = np.minimum(ratio, 10.0)
    return np.where(np.isnan(ratio), 0.0, ratio)


def _context(out: pd.DataFrame, n: pd.Series, failed: pd.Series) -> dict[str, np.ndarray]:
    """Per row: fan-out, host totals and rarity of the destination (see :data:`FEATURES`).
    ``out``: each row's channel (w, host, dst, dport, proto codes; one row per channel
    window, so counting rows counts distinct destinations or ports); ``n`` and ``failed``:
    its connections and failed ones."""
    ctx: dict[str, np.ndarray] = {}
    ctx["dsts_on_port"] = _to_float(
        out.groupby(["w", "host", "dport", "proto"])["dst"].transform("size")
    )
    ctx["ports_on_dst"] = _to_float(
        out.groupby(["w", "host", "dst", "proto"])["dport"].transform("size")
    )
    by_host = out.groupby(["w", "host"], sort=False)
    conns = n.groupby([out["w"], out["host"]], sort=False).transform("sum").to_numpy(float)
    ctx["host_conns"] = conns
    ctx["host_dsts"] = _to_float(by_host["dst"].transform("nunique"))
    ctx["host_ports"] = _to_float(by_host["dport"].transform("nunique"))
    # a mean of 0/1 flags over the host's flows: the exact count over the host's count
    host_failed = failed.groupby([out["w"], out["host"]], sort=False).transform("sum")
    ctx["host_failed_share"] = host_failed.to_numpy(float) / conns
    # rarity for the host: share of its earlier windows that reached this destination
    # (dense ranks of the window among the host's, and among the host's with this dst)
    history = out.groupby("host")["w"].rank(method="dense").to_numpy(float) - 1.0
    seen = out.groupby(["host", "dst"])["w"].rank(method="dense").to_numpy(float) - 1.0
    ctx["dst_rarity_host"] = 1.0 - seen / np.maximum(history, 1.0)
    ctx["host_history_windows"] = history
    # rarity for the site: share of the hosts seen so far that have reached the destination
    first_host = out.groupby("host")["w"].min().sort_values()
    hosts_so_far = np.searchsorted(first_host.to_numpy(), out["w"].to_numpy(), side="right")
    # hosts that had reached the destination by the row's window: one sorted key per
    # (destination, host) first contact, counted by binary search (no pairwise join)
    first_pair = out.groupby(["dst", "host"])["w"].min()
    w0 = float(out["w"].min())
    span = float(out["w"].max()) - w0 + 2.0
    dst_first = first_pair.index.get_level_values("dst").to_numpy(float)
    contact = np.sort(dst_first * span + (first_pair.to_numpy(float) - w0))
    dst_row = out["dst"].to_numpy(float)
    n_reached = np.searchsorted(
        contact, dst_row * span + (out["w"].to_numpy(float) - w0), side="right"
    ) - np.searchsorted(contact, dst_row * span, side="left")
    ctx["dst_site_share"] = n_reached / np.maximum(hosts_so_far, 1)
    return ctx


def _to_float(values: pd.Series) -> np.ndarray:
    return values.to_numpy(np.float64)
