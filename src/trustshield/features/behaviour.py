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


def behaviour_table(flows: pd.DataFrame, *, window_s: float = 3600.0) -> BehaviourTable:
    """The channel-window rows of ``flows`` (conn.log fields as read by the Zeek readers:
    ts in s since the epoch, addresses as text, counts possibly missing).

    Rows are ordered by window, host, destination, port and protocol."""
    if not isinstance(flows, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(got=type(flows).__name__))
    if missing := [f for f in NEEDED if f not in flows.columns]:
        raise DataError(MISSING.format(missing=missing, have=list(flows.columns)))
    if not (isinstance(window_s, (int, float)) and np.isfinite(window_s) and window_s > 0):
        raise DataError(BAD_WINDOW.format(got=window_s))
    f = _flow_frame(flows, float(window_s))
    flow_row = np.full(len(flows), -1, np.int64)
    if f.empty:
        return BehaviourTable(
            pd.DataFrame({k: pd.Series(dtype=float) for k in KEYS}),
            pd.DataFrame({c: pd.Series(dtype=float) for c in FEATURES}),
            flow_row,
            float(window_s),
        )
    channel = ["w", "host", "dst", "dport", "proto"]
    f = f.sort_values([*channel, "ts"], kind="stable")
    f["row"] = f.groupby(channel, sort=True, dropna=False).ngroup()
    flow_row[f["pos"].to_numpy()] = f["row"].to_numpy()
    g = f.groupby("row", sort=True)
    out = g[channel].first()
    first, last = g["ts"].min(), g["ts"].max()
    n = g.size().astype(float)
    rows = pd.DataFrame(index=out.index)
    rows["n_conn"] = n
    rows["rate_per_min"] = n / (window_s / 60.0)
    rows["failed_share"] = g["failed"].mean()
    rows["unanswered_share"] = g["unanswered"].mean()
    for name in ("orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts"):
        rows[name] = g[name].sum()
    rows["duration_max"] = g["duration"].max()
    rows["duration_mean"] = g["duration"].mean()
    f["gap"] = f["ts"].diff().where(f["row"].eq(f["row"].shift()))
    med, mad, skew = _robust(f, "gap")
    rows["interval_median"], rows["interval_mad"] = med, mad
    rows["interval_dispersion"] = _dispersion(med, mad)
    rows["interval_skew"] = skew
    smed, smad, sskew = _robust(f, "orig_bytes")
    rows["size_dispersion"] = _dispersion(smed, smad)
    rows["size_skew"] = sskew
    rows["coverage"] = ((last - first) / window_s).clip(0.0, 1.0)
    few = n < MIN_BEACON_CONNS
    rows.loc[few, ["interval_dispersion", "size_dispersion"]] = 1.0
    rows.loc[few, ["interval_skew", "size_skew"]] = 1.0
    rows.loc[few, ["interval_median", "interval_mad"]] = 0.0
    rows["beacon_score"] = np.where(
        few,
        0.0,
        (
            (1 - rows["interval_skew"].abs())
            + (1 - rows["interval_dispersion"].clip(upper=1))
            + (1 - rows["size_skew"].abs())
            + (1 - rows["size_dispersion"].clip(upper=1))
        )
        / 4
        * np.minimum(1.0, rows["coverage"] * 2),
    )
    rows = rows.join(_context(f, out), how="left")
    rows["dst_local"] = out["dst"].map(is_local).astype(float)
    rows["upload_external"] = rows["orig_bytes"] * (1.0 - rows["dst_local"])
    rows["tcp"] = out["proto"].eq("tcp").astype(float)
    rows["udp"] = out["proto"].eq("udp").astype(float)
    keys = pd.DataFrame(
        {
            "host": out["host"].to_numpy(object),
            "dst": out["dst"].to_numpy(object),
            "dport": pd.array(out["dport"].to_numpy(), dtype="Int64"),
            "proto": out["proto"].to_numpy(object),
            "window_start": out["w"].to_numpy(float) * window_s,
            "window_end": (out["w"].to_numpy(float) + 1) * window_s,
        }
    )
    features = rows[list(FEATURES)].astype(np.float64).fillna(0.0).reset_index(drop=True)
    return BehaviourTable(keys, features, flow_row, float(window_s))


def _flow_frame(flows: pd.DataFrame, window_s: float) -> pd.DataFrame:
    """The fields the features need, one row per usable flow (``pos``: input position)."""

    def number(name: str) -> np.ndarray:
        if name not in flows.columns:
            return np.zeros(len(flows))
        return pd.to_numeric(flows[name], errors="coerce").to_numpy(np.float64, na_value=np.nan)

    ts = number("ts")
    host = flows["id.orig_h"].astype(object)
    ok = np.isfinite(ts) & host.notna().to_numpy()
    state = (
        flows["conn_state"] if "conn_state" in flows.columns else pd.Series("", index=flows.index)
    )
    resp_pkts = number("resp_pkts")
    f = pd.DataFrame(
        {
            "pos": np.arange(len(flows)),
            "ts": ts,
            "w": np.floor(ts / window_s),
            "host": host.to_numpy(object),
            "dst": flows["id.resp_h"].astype(object).fillna("-").to_numpy(object),
            "dport": number("id.resp_p"),
            "proto": flows["proto"].astype(object).fillna("-").to_numpy(object),
            "failed": state.isin(FAILED_STATES).to_numpy(float),
            "unanswered": (np.nan_to_num(resp_pkts) == 0).astype(float),
            "orig_bytes": np.nan_to_num(number("orig_bytes")),
            "resp_bytes": np.nan_to_num(number("resp_bytes")),
            "orig_pkts": np.nan_to_num(number("orig_pkts")),
            "resp_pkts": np.nan_to_num(resp_pkts),
            "duration": np.nan_to_num(number("duration")),
        }
    )
    f["dport"] = f["dport"].fillna(-1.0)
    return f[ok].reset_index(drop=True)


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


def _dispersion(med: pd.Series, mad: pd.Series) -> pd.Series:
    """MAD relative to the median, capped at 10 (0 = perfectly regular)."""
    ratio = mad / med.where(med > 0)
    return ratio.where(med > 0, np.where(mad > 0, 10.0, 0.0)).clip(upper=10.0).fillna(0.0)


def _context(f: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Per row: fan-out, host totals and rarity of the destination (see :data:`FEATURES`)."""
    ctx = pd.DataFrame(index=out.index)
    by_port = f.groupby(["w", "host", "dport", "proto"])["dst"].nunique().rename("dsts_on_port")
    by_dst = f.groupby(["w", "host", "dst", "proto"])["dport"].nunique().rename("ports_on_dst")
    host = f.groupby(["w", "host"]).agg(
        host_conns=("ts", "size"),
        host_dsts=("dst", "nunique"),
        host_ports=("dport", "nunique"),
        host_failed_share=("failed", "mean"),
    )
    ctx["dsts_on_port"] = out.join(by_port, on=["w", "host", "dport", "proto"])["dsts_on_port"]
    ctx["ports_on_dst"] = out.join(by_dst, on=["w", "host", "dst", "proto"])["ports_on_dst"]
    ctx = ctx.join(out.join(host, on=["w", "host"])[list(host.columns)])
    # rarity for the host: share of its earlier windows that reached this destination
    pairs = out[["w", "host", "dst"]].drop_duplicates().sort_values(["host", "dst", "w"])
    pairs["seen_before"] = pairs.groupby(["host", "dst"]).cumcount()
    windows = out[["w", "host"]].drop_duplicates().sort_values(["host", "w"])
    windows["history"] = windows.groupby("host").cumcount()
    merged = out.merge(pairs, on=["w", "host", "dst"], how="left").merge(
        windows, on=["w", "host"], how="left"
    )
    history = merged["history"].to_numpy(float)
    seen = merged["seen_before"].to_numpy(float)
    ctx["dst_rarity_host"] = 1.0 - seen / np.maximum(history, 1.0)
    ctx["host_history_windows"] = history
    # rarity for the site: share of the hosts seen so far that have reached the destination
    site = f[["w", "host", "dst"]].drop_duplicates()
    first_host = site.groupby("host")["w"].min().sort_values()
    hosts_so_far = np.searchsorted(first_host.to_numpy(), out["w"].to_numpy(), side="right")
    first_pair = site.groupby(["dst", "host"])["w"].min().reset_index()
    first_pair = first_pair.sort_values(["dst", "w"])
    reached = out[["w", "dst"]].merge(first_pair, on="dst", suffixes=("", "_first"))
    reached = reached[reached["w_first"] <= reached["w"]]
    count = reached.groupby(["w", "dst"]).size().rename("reached")
    n_reached = out.join(count, on=["w", "dst"])["reached"].fillna(1.0).to_numpy(float)
    ctx["dst_site_share"] = n_reached / np.maximum(hosts_so_far, 1)
    return ctx
