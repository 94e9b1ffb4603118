"""The one site-wide behaviour feature, ``dst_site_share``, for flows split by source host.

Every feature of a channel window (:mod:`trustshield.features.behaviour`) depends on the
flows of its own host only, except ``dst_site_share``: the share of the site's hosts seen
by the row's window that have reached its destination by then. An engine that splits a
log by host (Spark) therefore needs, besides the host's flows, each (host, destination)
pair's first window over the whole log — at the window's close and at each checkpoint
(the flows in the first ``fraction`` of their window), since checkpoint tables see only
those flows.

:func:`first_contacts` gives them for any part of the flows; parts merge by the minimum
per pair (:func:`merge_contacts`); :func:`site_share` then gives a table's
``dst_site_share`` exactly as ``behaviour_table`` over the whole log computes it (the same
integer counts, divided the same way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.features.behaviour import _flow_frame

#: the key columns of a contacts table (then one column per level, :func:`level_columns`)
HOST, DST = "host", "dst"


def level_columns(fractions: tuple[float, ...]) -> list[str]:
    """``["w0", "w1", ...]``: the close, then one per checkpoint fraction (in order)."""
    return [f"w{k}" for k in range(len(fractions) + 1)]


def first_contacts(
    flows: pd.DataFrame, window_s: float, fractions: tuple[float, ...]
) -> pd.DataFrame:
    """One row per (host, destination) of ``flows`` (conn.log fields as the Zeek readers
    type them): ``host``, ``dst`` (text, ``"-"`` for an unset destination, as the
    features name it) and per level (:func:`level_columns`) the first window index
    (``floor(ts / window_s)``, float) in which the host reached the destination with a
    flow in the first ``fraction`` of that window (NaN: never). Flows without a time or
    host are not counted (they belong to no channel window)."""
    f, (host_names, dst_names, _) = _flow_frame(flows, float(window_s))
    columns = level_columns(fractions)
    if not len(f["ts"]):
        return pd.DataFrame({HOST: [], DST: [], **{c: [] for c in columns}}).astype(
            {HOST: object, DST: object, **{c: float for c in columns}}
        )
    w = f["w"]
    # as ``_checkpoints`` computes a flow's offset into its window
    offset = f["ts"] - np.floor(f["ts"] / window_s) * window_s
    levels = {"w0": w}
    for k, q in enumerate(fractions, 1):
        levels[f"w{k}"] = np.where(offset < q * window_s, w, np.nan)
    frame = pd.DataFrame({"h": f["host"], "d": f["dst"], **levels})
    first = frame.groupby(["h", "d"], sort=True).min()
    h = first.index.get_level_values("h").to_numpy(np.int64)
    d = first.index.get_level_values("d").to_numpy(np.int64)
    return pd.DataFrame(
        {
            HOST: host_names[h].astype(object),
            DST: dst_names[d].astype(object),
            **{c: first[c].to_numpy(float) for c in columns},
        }
    )


def merge_contacts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Contacts of several parts of one log as one (the earliest window per pair)."""
    frame = pd.concat(parts, ignore_index=True)
    return frame.groupby([HOST, DST], sort=True, as_index=False).min()


def site_share(
    keys: pd.DataFrame, window_s: float, contacts: pd.DataFrame, level: str
) -> np.ndarray:
    """(n,) ``dst_site_share`` of the channel windows ``keys`` (a BehaviourTable's keys)
    from the whole log's ``contacts`` at ``level`` (``"w0"`` for the closed windows'
    table, ``"wk"`` for checkpoint k's): hosts that had reached the row's destination by
    its window over hosts seen by then (at least one)."""
    if not len(keys):
        return np.zeros(0)
    reached = contacts[contacts[level].notna()]
    w = np.round(keys["window_start"].to_numpy(float) / window_s)
    host_first = np.sort(reached.groupby(HOST, sort=False)[level].min().to_numpy(float))
    hosts_so_far = np.searchsorted(host_first, w, side="right")
    # pairs reaching each destination, counted by binary search on (destination, window)
    names = pd.Index(pd.unique(reached[DST].to_numpy(object)))
    pair_dst = names.get_indexer(reached[DST].to_numpy(object)).astype(float)
    row_dst = names.get_indexer(keys["dst"].astype(str).to_numpy(object)).astype(float)
    pair_w = reached[level].to_numpy(float)
    w0 = float(min(pair_w.min(initial=np.inf), w.min()))
    span = float(max(pair_w.max(initial=-np.inf), w.max())) - w0 + 2.0
    contact = np.sort(pair_dst * span + (pair_w - w0))
    n_reached = np.searchsorted(contact, row_dst * span + (w - w0), side="right") - np.searchsorted(
        contact, row_dst * span, side="left"
    )
    n_reached = np.where(row_dst >= 0, n_reached, 0)
    return n_reached / np.maximum(hosts_so_far, 1)
