"""What an analyst checks an incident against: its evidence flows, the host's timeline and
the interval histogram of each beacon.

:func:`incident_evidence` is pure: from an :class:`~trustshield.incidents.grouping.Incident`
and the conn flows it was raised from (the frame ``group_incidents`` saw: ``ts`` in s since
the epoch, ``uid``, ``id.orig_h``, ``id.resp_h``, ``id.resp_p``, ``proto``, optionally
``conn_state``) it gives

- the evidence flows (those whose ``uid`` is in ``incident.evidence_uids``), in time order,
  each with the behaviour (channel) it is evidence of;
- a :class:`Timeline`: the host's connections started in each of ``buckets`` equal
  intervals from the incident's first to its last evidence flow, and how many of them are
  evidence;
- per beacon behaviour, an :class:`IntervalHistogram` of the seconds between its
  consecutive evidence flows (a regular beacon piles up in one bin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.incidents.grouping import Incident

TIMELINE_BUCKETS = 48
HISTOGRAM_BINS = 20
#: behaviours whose intervals are drawn
REGULAR = ("beacon",)


@dataclass(frozen=True)
class EvidenceFlow:
    """One evidence flow: Zeek ``uid``, start ``ts`` (s since the epoch), responder and the
    behaviour it is evidence of (its name; ``""`` when no behaviour's channel matches)."""

    uid: str
    ts: float
    dst: str
    dport: int
    proto: str
    conn_state: str
    behaviour: str


@dataclass(frozen=True)
class Timeline:
    """The host's connections over an incident: bucket ``i`` covers ``[start + i * width_s,
    start + (i + 1) * width_s)`` s since the epoch (the last one includes its end); ``total[i]`` connections of the host
    started in it, ``evidence[i]`` of them are evidence (``evidence[i] <= total[i]``)."""

    start: float
    width_s: float
    total: tuple[int, ...]
    evidence: tuple[int, ...]


@dataclass(frozen=True)
class IntervalHistogram:
    """Seconds between consecutive evidence flows of one behaviour (``channel`` as
    ``dst:port/proto``): ``counts[i]`` intervals in ``[edges[i], edges[i + 1])`` (the last
    bin also holds the longer ones), ``median_s`` their median."""

    behaviour: str
    channel: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    median_s: float


@dataclass(frozen=True)
class IncidentEvidence:
    flows: tuple[EvidenceFlow, ...]
    timeline: Timeline
    histograms: tuple[IntervalHistogram, ...]


def channel_label(dst: str, dport: int, proto: str) -> str:
    return f"{dst}:{dport}/{proto}"


def incident_evidence(
    incident: Incident,
    flows: pd.DataFrame,
    *,
    buckets: int = TIMELINE_BUCKETS,
    bins: int = HISTOGRAM_BINS,
) -> IncidentEvidence:
    """The evidence of ``incident`` in ``flows`` (see the module docstring)."""
    # only the host's flows are evidence or on its timeline
    flows = flows[_is_host(flows["id.orig_h"], incident.host)]
    ts = pd.to_numeric(flows["ts"], errors="coerce").to_numpy(float)
    uids = (
        flows["uid"].astype(str).to_numpy(object)
        if "uid" in flows.columns
        else np.full(len(flows), "", object)
    )
    # a hash lookup (numpy's isin on object arrays compares pairwise)
    is_evidence = pd.Series(uids, dtype=object).isin(incident.evidence_uids).to_numpy(bool)
    rows = np.flatnonzero(is_evidence)
    rows = rows[np.argsort(ts[rows], kind="stable")]
    dst = flows["id.resp_h"].astype(str).to_numpy(object)
    dport = pd.to_numeric(flows["id.resp_p"], errors="coerce").fillna(-1).to_numpy(int)
    proto = flows["proto"].astype(str).to_numpy(object)
    state = (
        flows["conn_state"].astype(str).to_numpy(object)
        if "conn_state" in flows.columns
        else np.full(len(flows), "", object)
    )
    named = {(b.dst, b.dport, b.proto): b.name for b in incident.behaviours}
    # one column at a time (no Python object per flow until the EvidenceFlow itself)
    e_dst = dst[rows].tolist()
    e_dport = dport[rows].tolist()
    e_proto = proto[rows].tolist()
    e_ts = ts[rows]
    evidence = tuple(
        map(
            EvidenceFlow,
            uids[rows].tolist(),
            e_ts.tolist(),
            e_dst,
            e_dport,
            e_proto,
            state[rows].tolist(),
            [named.get(k, "") for k in zip(e_dst, e_dport, e_proto)],
        )
    )
    e_dst_a, e_proto_a, e_dport_a = dst[rows], proto[rows], dport[rows]
    histograms = []
    for b in incident.behaviours:
        if b.name not in REGULAR:
            continue
        times = e_ts[(e_dst_a == b.dst) & (e_dport_a == b.dport) & (e_proto_a == b.proto)]
        if len(times) >= 3:
            histograms.append(
                _histogram(b.name, channel_label(b.dst, b.dport, b.proto), times, bins)
            )
    return IncidentEvidence(
        evidence, timeline(incident, ts, is_evidence, buckets), tuple(histograms)
    )


def _is_host(column: pd.Series, host: str) -> np.ndarray:
    """(m,) bool: the flows whose originator is ``host`` (a categorical compared by its
    categories, not one string per flow); a missing address is no host."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = column.cat.categories.astype(str).to_numpy(object)
        return np.append(names == host, False)[column.cat.codes.to_numpy()]
    return column.astype(str).to_numpy(object) == host


def timeline(incident: Incident, ts: np.ndarray, evidence: np.ndarray, buckets: int) -> Timeline:
    """Counts of the host's connections (start times ``ts``; ``evidence`` (same length)
    bool) in ``buckets`` equal intervals spanning the incident (at least 1 s each)."""
    start = float(incident.first_seen)
    width = max((float(incident.last_seen) - start) / buckets, 1.0)
    end = max(float(incident.last_seen), start + width * buckets)
    inside = np.isfinite(ts) & (ts >= start) & (ts <= end)  # the last bucket holds the end
    index = ((ts[inside] - start) // width).astype(int).clip(0, buckets - 1)
    total = np.bincount(index, minlength=buckets)
    marked = np.bincount(index[evidence[inside]], minlength=buckets)
    return Timeline(start, width, tuple(int(v) for v in total), tuple(int(v) for v in marked))


def _histogram(name: str, channel: str, times: np.ndarray, bins: int) -> IntervalHistogram:
    gaps = np.diff(np.sort(times))
    top = float(np.quantile(gaps, 0.99)) if len(gaps) else 1.0
    top = top if top > 0 else 1.0
    counts, edges = np.histogram(np.minimum(gaps, top), bins=bins, range=(0.0, top))
    return IntervalHistogram(
        name,
        channel,
        tuple(float(e) for e in edges),
        tuple(int(c) for c in counts),
        float(np.median(gaps)),
    )
