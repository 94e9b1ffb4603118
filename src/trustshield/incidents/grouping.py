"""Incidents: flagged channel windows grouped per host, with evidence an analyst can check.

:func:`group_incidents` is pure: from the channel windows of a set of flows
(``features.behaviour``), which of them a detector flagged, their suspicion and exact
attributions, it builds one :class:`Incident` per host and period of activity (flagged
windows more than ``gap_s`` apart start a new incident). Each flagged channel (host,
destination, port, protocol) is one :class:`Behaviour`, named by
:mod:`trustshield.incidents.naming`. A channel once flagged stays under suspicion: its
flows from its first flagged window onwards (to the end of the incident) are the
behaviour's evidence, the way an analyst follows a command channel once found; flows
before it are not. :func:`incidents_jsonl` writes them as JSON lines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.errors import DataError
from trustshield.features.behaviour import FEATURES, BehaviourTable
from trustshield.incidents.naming import name_behaviour

DEFAULT_GAP_S = 86400.0
#: behaviours that make an incident high severity on their own
SEVERE = ("flood", "horizontal scan", "vertical scan", "brute force", "large upload")
BAD_LENGTH = "{what} has {got} entries; the behaviour table has {n} rows"


@dataclass(frozen=True)
class Behaviour:
    """One flagged channel of an incident.

    ``first_seen``/``last_seen``: s since the epoch of its first and last evidence flow;
    ``raised_at``: when its first flagged window could be reported (:func:`known_at`);
    ``attributions``: (feature, value) of its most suspicious flagged window, summing with
    ``base`` exactly to that window's ``suspicion`` (higher = more suspicious)."""

    name: str
    techniques: tuple[str, ...]
    dst: str
    dport: int
    proto: str
    first_seen: float
    last_seen: float
    raised_at: float
    n_flows: int
    evidence: str
    detector: str
    suspicion: float
    base: float
    attributions: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Incident:
    """A host's flagged behaviours over one period; ``severity`` is high, medium or low.

    ``attributions`` (feature, value) with ``base`` explain why it was raised: they are
    those of the behaviour raised first (its ``detector`` and ``suspicion``), summing
    exactly to that suspicion."""

    incident_id: str
    host: str
    first_seen: float
    last_seen: float
    raised_at: float
    behaviours: tuple[Behaviour, ...]
    techniques: tuple[str, ...]
    severity: str
    evidence_uids: tuple[str, ...]
    detector: str
    suspicion: float
    base: float
    attributions: tuple[tuple[str, float], ...]


def group_incidents(
    table: BehaviourTable,
    flows: pd.DataFrame,
    flagged: np.ndarray,
    suspicion: np.ndarray,
    attributions: Attributions,
    detector: np.ndarray | None = None,
    *,
    gap_s: float = DEFAULT_GAP_S,
    persist: bool = True,
    raised: np.ndarray | None = None,
) -> tuple[Incident, ...]:
    """Incidents of the flows ``flows`` (the frame ``table`` was built from, same rows and
    order; ``uid`` used when present, ``ts`` in s, ``resp_pkts``).

    ``flagged`` (n,) bool and ``suspicion`` (n,) float per row of ``table``;
    ``attributions`` of the flagged rows only, in row order (``values`` (k, d)); ``detector``
    (n,) the kind that flagged each row (default ``"behaviour"``). ``persist`` False keeps a
    channel's evidence to its flagged windows only. ``raised`` (n,) s since the epoch when
    each row could be reported (default :func:`known_at`: when its window closed).
    Incidents sorted by first_seen, host."""
    n = len(table)
    flagged = np.asarray(flagged, bool)
    suspicion = np.asarray(suspicion, float)
    for what, arr in (("flagged", flagged), ("suspicion", suspicion)):
        if len(arr) != n:
            raise DataError(BAD_LENGTH.format(what=what, got=len(arr), n=n))
    rows = np.flatnonzero(flagged)
    if len(attributions.values) != len(rows):
        raise DataError(
            BAD_LENGTH.format(what="attributions", got=len(attributions.values), n=len(rows))
        )
    if not len(rows):
        return ()
    kinds = np.full(n, "behaviour", object) if detector is None else np.asarray(detector, object)
    keys = table.keys
    channel = keys.groupby(["host", "dst", "dport", "proto"], sort=False, dropna=False).ngroup()
    channel = channel.to_numpy()
    flow_row = table.flow_row
    ts = pd.to_numeric(flows["ts"], errors="coerce").to_numpy(float)
    uids = flows["uid"] if "uid" in flows.columns else None  # read only for evidence
    answered = pd.to_numeric(
        flows.get("resp_pkts", pd.Series(0, index=flows.index)), errors="coerce"
    )
    unanswered = answered.fillna(0).to_numpy(float) == 0
    starts = keys["window_start"].to_numpy(float)
    ends = keys["window_end"].to_numpy(float)
    attribution_of = {int(r): i for i, r in enumerate(rows)}
    known = known_at(table, flows) if raised is None else np.asarray(raised, float)
    if len(known) != n:
        raise DataError(BAD_LENGTH.format(what="raised", got=len(known), n=n))
    flow_channel = np.where(flow_row >= 0, channel[np.maximum(flow_row, 0)], -1)
    flow_start = np.where(flow_row >= 0, starts[np.maximum(flow_row, 0)], np.nan)
    of_channel = _index(flow_channel)
    of_row = _index(flow_row)
    pending = []  # (host, behaviours, evidence positions) per incident
    for host, host_rows in pd.Series(rows).groupby(keys["host"].to_numpy(object)[rows]):
        periods = _periods(host_rows.to_numpy(), starts, ends, gap_s)
        for p, period in enumerate(periods):
            stop = starts[periods[p + 1]].min() if p + 1 < len(periods) else np.inf
            behaviours, uid_parts = [], []
            for ch in dict.fromkeys(channel[period]):
                mine = period[channel[period] == ch]
                if persist:
                    idx = of_channel(ch)
                    start = flow_start[idx]
                    idx = idx[(start >= starts[mine].min()) & (start < stop)]
                else:
                    idx = np.concatenate([of_row(r) for r in mine])
                top = mine[np.argmax(suspicion[mine])]
                behaviours.append(
                    _behaviour(
                        table,
                        top,
                        mine,
                        known,
                        idx,
                        ts,
                        unanswered,
                        suspicion,
                        kinds,
                        attributions,
                        attribution_of,
                    )
                )
                uid_parts.append(idx)
            pending.append((str(host), tuple(behaviours), uid_parts))
    # the uids of every evidence flow in one take (not one pass over the column each)
    used = np.zeros(len(flows), bool)  # marked, not sorted: positions are small integers
    for _, _, parts in pending:
        for part in parts:
            used[part] = True
    every = np.flatnonzero(used)
    at = np.cumsum(used) - 1  # position in ``every`` of each flow marked
    names = (
        uids.take(every).astype(str).to_numpy(object) if uids is not None else np.zeros(0, object)
    )
    incidents = [
        _incident(
            host,
            behaviours,
            [names[at[np.concatenate(parts)]]] if uids is not None else [],
        )
        for host, behaviours, parts in pending
    ]
    return tuple(sorted(incidents, key=lambda i: (i.first_seen, i.host)))


def known_at(table: BehaviourTable, flows: pd.DataFrame) -> np.ndarray:
    """(n,) s since the epoch at which each row is complete: its window has closed and
    Zeek has written every record of it (a record is written when its connection ends,
    ``ts + duration``, so a long connection is known only at its end)."""
    ts = pd.to_numeric(flows["ts"], errors="coerce").to_numpy(float)
    duration = (
        flows["duration"] if "duration" in flows.columns else pd.Series(0.0, index=flows.index)
    )
    ended = ts + pd.to_numeric(duration, errors="coerce").fillna(0.0).to_numpy(float)
    valid = (table.flow_row >= 0) & np.isfinite(ended)
    latest = np.full(len(table), -np.inf)
    np.maximum.at(latest, table.flow_row[valid], ended[valid])
    return np.maximum(table.keys["window_end"].to_numpy(float), latest)


def _periods(
    host_rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, gap_s: float
) -> list[np.ndarray]:
    """The host's flagged rows split where flagged windows are more than ``gap_s`` apart."""
    order = host_rows[np.argsort(starts[host_rows], kind="stable")]
    cuts = np.flatnonzero(starts[order][1:] - np.maximum.accumulate(ends[order])[:-1] > gap_s) + 1
    return list(np.split(order, cuts))


def _index(groups: np.ndarray):
    """A function g -> the positions (int64, ascending) where ``groups`` equals g."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]

    def positions(g) -> np.ndarray:
        lo, hi = np.searchsorted(ordered, g, "left"), np.searchsorted(ordered, g, "right")
        return np.asarray(order[lo:hi])

    return positions


def _behaviour(
    table,
    top,
    mine,
    known,
    evidence,
    ts,
    unanswered,
    suspicion,
    kinds,
    attributions,
    attribution_of,
) -> Behaviour:
    features = dict(zip(FEATURES, table.features.iloc[top].to_numpy(float)))
    key = table.keys.iloc[top]
    dport = int(key["dport"]) if pd.notna(key["dport"]) else -1
    named = name_behaviour(features, dport=dport, proto=str(key["proto"]))
    times = np.sort(ts[evidence])  # evidence: positions of the evidence flows
    row = attribution_of[int(top)]
    values = attributions.values[row]
    text = evidence_text(
        str(key["host"]),
        str(key["dst"]),
        dport,
        str(key["proto"]),
        times,
        float(unanswered[evidence].mean()) if len(evidence) else 0.0,
        named.name,
        features,
    )
    return Behaviour(
        name=named.name,
        techniques=named.techniques,
        dst=str(key["dst"]),
        dport=dport,
        proto=str(key["proto"]),
        first_seen=float(times[0]) if len(times) else float(table.keys["window_start"].iloc[top]),
        last_seen=float(times[-1]) if len(times) else float(table.keys["window_end"].iloc[top]),
        raised_at=float(known[mine].min()),
        n_flows=int(len(evidence)),
        evidence=text,
        detector=str(kinds[top]),
        suspicion=float(suspicion[top]),
        base=float(attributions.base[row]),
        attributions=tuple((name, float(v)) for name, v in zip(attributions.feature_names, values)),
    )


def evidence_text(
    host: str,
    dst: str,
    dport: int,
    proto: str,
    times: np.ndarray,
    unanswered: float,
    name: str,
    features: dict,
) -> str:
    """One sentence of measured evidence, e.g. ``192.0.2.7 → 203.0.113.9:6667/tcp: 6,706
    connections in 24.0 h, one every 4.0 s (MAD 0.9 s), 76 % unanswered; beacon``."""
    n = len(times)
    span_h = (times[-1] - times[0]) / 3600 if n else 0.0
    parts = [
        f"{host} → {dst}:{dport}/{proto}: {n:,} connection{'s' if n != 1 else ''} in {span_h:.1f} h"
    ]
    if n >= 3:
        gaps = np.diff(times)
        med = float(np.median(gaps))
        mad = float(np.median(np.abs(gaps - med)))
        parts.append(f"one every {med:.1f} s (MAD {mad:.1f} s)")
    parts.append(f"{unanswered * 100:.0f} % unanswered")
    detail = {
        "horizontal scan": f"{features['dsts_on_port']:.0f} destinations on this port in one window",
        "vertical scan": f"{features['ports_on_dst']:.0f} ports on this destination in one window",
        "flood": f"{features['rate_per_min']:.0f} connections per minute over a window",
        "brute force": f"{features['n_conn']:.0f} short answered connections in one window",
        "large upload": f"{features['upload_external'] / 1e6:.1f} MB sent in one window",
        "beacon": f"interval MAD/median {features['interval_dispersion']:.2f} in its flagged window",
        "long connection": f"longest connection {features['duration_max'] / 3600:.1f} h",
        "rare destination": f"destination reached in {100 * (1 - features['dst_rarity_host']):.0f} % of the host's earlier windows",
    }[name]
    return ", ".join(parts) + f"; {name}: {detail}"


def _incident(host: str, behaviours: tuple[Behaviour, ...], uid_parts: list) -> Incident:
    first = min(b.first_seen for b in behaviours)
    techniques = tuple(sorted({t for b in behaviours for t in b.techniques}))
    names = {b.name for b in behaviours}
    severity = (
        "high"
        if names & set(SEVERE) or len(names) >= 3
        else "medium"
        if names - {"rare destination"}
        else "low"
    )
    uids = tuple(sorted(set(np.concatenate(uid_parts).tolist()))) if uid_parts else ()
    digest = hashlib.sha256(f"{host}|{first!r}".encode()).hexdigest()[:16]
    raising = min(behaviours, key=lambda b: (b.raised_at, -b.suspicion))
    return Incident(
        incident_id=digest,
        host=host,
        first_seen=first,
        last_seen=max(b.last_seen for b in behaviours),
        raised_at=min(b.raised_at for b in behaviours),
        behaviours=tuple(sorted(behaviours, key=lambda b: b.first_seen)),
        techniques=techniques,
        severity=severity,
        evidence_uids=uids,
        detector=raising.detector,
        suspicion=raising.suspicion,
        base=raising.base,
        attributions=raising.attributions,
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def incident_record(incident: Incident) -> dict:
    """One incident as plain JSON (times as ISO 8601 UTC)."""
    return {
        "incident_id": incident.incident_id,
        "host": incident.host,
        "first_seen": _iso(incident.first_seen),
        "last_seen": _iso(incident.last_seen),
        "raised_at": _iso(incident.raised_at),
        "severity": incident.severity,
        "techniques": list(incident.techniques),
        "behaviours": [
            {
                "name": b.name,
                "techniques": list(b.techniques),
                "channel": {"dst": b.dst, "dport": b.dport, "proto": b.proto},
                "first_seen": _iso(b.first_seen),
                "last_seen": _iso(b.last_seen),
                "n_flows": b.n_flows,
                "evidence": b.evidence,
                "detector": b.detector,
                "suspicion": b.suspicion,
                "attributions": {"base": b.base, **dict(b.attributions)},
            }
            for b in incident.behaviours
        ],
        "evidence_uids": list(incident.evidence_uids),
        "raised_by": {
            "detector": incident.detector,
            "suspicion": incident.suspicion,
            "attributions": {"base": incident.base, **dict(incident.attributions)},
        },
    }


def incidents_jsonl(incidents: tuple[Incident, ...] | list[Incident]) -> str:
    """JSON lines, one incident per line (see :func:`incident_record`)."""
    return "".join(json.dumps(incident_record(i), ensure_ascii=False) + "\n" for i in incidents)


def evidence_flows(
    table: BehaviourTable, flagged: np.ndarray, *, persist: bool = True
) -> np.ndarray:
    """(m,) bool per flow of ``table``: evidence of some flagged channel — in a flagged
    window, or with ``persist`` in any window of a flagged channel from its first flagged
    window on (as :func:`group_incidents` does within one period)."""
    flagged = np.asarray(flagged, bool)
    row = table.flow_row
    valid = row >= 0
    if not persist:
        return valid & flagged[np.maximum(row, 0)]
    keys = table.keys
    channel = keys.groupby(["host", "dst", "dport", "proto"], sort=False, dropna=False).ngroup()
    starts = keys["window_start"].to_numpy(float)
    first = (
        pd.Series(np.where(flagged, starts, np.inf)).groupby(channel.to_numpy()).transform("min")
    )
    marked = starts >= first.to_numpy(float)
    return valid & marked[np.maximum(row, 0)]
