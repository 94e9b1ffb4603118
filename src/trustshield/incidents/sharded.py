"""Incidents of some whole hosts of a log, for engines that split a log by source host.

Hosts are independent in behaviour detection: a host's channel windows, their checkpoints,
the model's flags and attributions, the grouping into incidents and the evidence all read
that host's flows only — except the feature ``dst_site_share``, which
:func:`host_incidents` sets from the whole log's first contacts
(:mod:`trustshield.features.site_share`). So the incidents of any set of whole hosts,
given their flows in file order and the log's contacts, are exactly those
``detect_incidents`` gives those hosts on the whole log (same ids, evidence uids,
attributions; tested against the local engine).

:func:`incident_to_json` / :func:`incident_from_json` and the evidence pair carry an
incident between processes as plain JSON (floats written by ``repr``, read back to the
same value; no pickle).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pandas as pd

from trustshield.features.behaviour import table_with_checkpoints
from trustshield.features.site_share import site_share
from trustshield.incidents.evidence import (
    EvidenceFlow,
    IncidentEvidence,
    IntervalHistogram,
    Timeline,
)
from trustshield.incidents.grouping import Behaviour, Incident
from trustshield.incidents.model import BehaviourDetection, incidents_of_tables


def host_incidents(
    model: BehaviourDetection,
    flows: pd.DataFrame,
    contacts: pd.DataFrame,
    fractions: tuple[float, ...],
) -> tuple[Incident, ...]:
    """Incidents (sorted by first_seen, host) of ``flows``: every flow of some whole
    hosts of one log, in the log's order, conn.log fields as the Zeek readers type them.
    ``contacts``: :func:`~trustshield.features.site_share.first_contacts` of the whole
    log, merged, at the close and at ``fractions`` (the model's checkpoints; empty
    without its ``early`` reading)."""
    table, stages = table_with_checkpoints(flows, window_s=model.window_s, fractions=fractions)
    window_s = table.window_s
    table.features["dst_site_share"] = site_share(table.keys, window_s, contacts, "w0")
    for k, stage in enumerate(stages, 1):
        stage.table.features["dst_site_share"] = site_share(
            stage.table.keys, window_s, contacts, f"w{k}"
        )
    return incidents_of_tables(model, flows, table, stages)


def incident_to_json(incident: Incident) -> str:
    """``incident`` as one JSON text (every field, floats exact)."""
    return json.dumps(asdict(incident), ensure_ascii=False)


def incident_from_json(text: str) -> Incident:
    """The :class:`Incident` :func:`incident_to_json` wrote."""
    d = json.loads(text)
    behaviours = tuple(
        Behaviour(
            **{
                **b,
                "techniques": tuple(b["techniques"]),
                "attributions": _pairs(b["attributions"]),
            }
        )
        for b in d["behaviours"]
    )
    return Incident(
        **{
            **d,
            "behaviours": behaviours,
            "techniques": tuple(d["techniques"]),
            "evidence_uids": tuple(d["evidence_uids"]),
            "attributions": _pairs(d["attributions"]),
        }
    )


def evidence_to_json(evidence: IncidentEvidence) -> str:
    """``evidence`` as one JSON text: flows as columns (one list per field)."""
    flows = evidence.flows
    columns = {
        name: [getattr(f, name) for f in flows] for name in EvidenceFlow.__dataclass_fields__
    }
    return json.dumps(
        {
            "flows": columns,
            "timeline": asdict(evidence.timeline),
            "histograms": [asdict(h) for h in evidence.histograms],
        },
        ensure_ascii=False,
    )


def evidence_from_json(text: str) -> IncidentEvidence:
    """The :class:`IncidentEvidence` :func:`evidence_to_json` wrote."""
    d = json.loads(text)
    columns: dict[str, list[Any]] = d["flows"]
    flows = tuple(map(EvidenceFlow, *(columns[n] for n in EvidenceFlow.__dataclass_fields__)))
    t = d["timeline"]
    timeline = Timeline(t["start"], t["width_s"], tuple(t["total"]), tuple(t["evidence"]))
    histograms = tuple(
        IntervalHistogram(
            h["behaviour"],
            h["channel"],
            tuple(h["edges"]),
            tuple(h["counts"]),
            h["median_s"],
        )
        for h in d["histograms"]
    )
    return IncidentEvidence(flows, timeline, histograms)


def _pairs(items: list) -> tuple[tuple[str, float], ...]:
    return tuple((str(name), value) for name, value in items)
