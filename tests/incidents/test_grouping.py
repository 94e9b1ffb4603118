"""Incidents: flagged channel windows grouped per host, with evidence flows and exact
attributions; the operating point from held-out training scenarios."""

import json

import numpy as np
import pytest

from conn_flows import T0, beacon, chatter, flows, scan
from trustshield.detectors.protocol import Attributions
from trustshield.errors import DataError
from trustshield.features.behaviour import FEATURES, behaviour_table
from trustshield.incidents.grouping import evidence_flows, group_incidents, incidents_jsonl
from trustshield.incidents.operating import (
    HeldOut,
    keeping_threshold,
    operating_point,
    scenario_threshold,
)


def _case():
    records = (
        beacon("10.0.0.7", "203.0.113.9", 6667, 4.0, 2500)  # about 2.8 h
        + scan("10.0.0.7", 23, 120, start=T0 + 2 * 3600)
        + chatter("10.0.0.7", 90)
        + chatter("10.0.0.8", 90, seed=3)
    )
    f = flows(records)
    return f, behaviour_table(f)


def _flag(table, rows):
    flagged = np.zeros(len(table), bool)
    flagged[rows] = True
    values = table.features.to_numpy()[flagged] * 0.01
    suspicion = np.zeros(len(table))
    suspicion[flagged] = values.sum(axis=1) + 1.0
    return flagged, suspicion, Attributions(FEATURES, values, np.ones(flagged.sum()))


def test_flagged_windows_become_one_incident_per_host_with_named_behaviours():
    f, table = _case()
    first_beacon = np.flatnonzero((table.keys["dport"] == 6667).to_numpy())[0]
    scans = np.flatnonzero((table.keys["dport"] == 23).to_numpy())
    flagged, suspicion, attributions = _flag(table, [first_beacon, *scans])
    (incident,) = group_incidents(table, f, flagged, suspicion, attributions)
    assert incident.host == "10.0.0.7"
    names = {b.name for b in incident.behaviours}
    assert names == {"beacon", "horizontal scan"}
    assert {"T1046", "T1071", "T1571"} <= set(incident.techniques)
    assert incident.severity == "high"
    malicious = set(f.loc[f["label"].eq("Malicious"), "uid"])
    assert set(incident.evidence_uids) == malicious  # the beacon's later windows persist
    beacon_b = next(b for b in incident.behaviours if b.name == "beacon")
    assert "one every 4.0 s" in beacon_b.evidence and "100 % unanswered" in beacon_b.evidence
    assert T0 + 3600 <= beacon_b.raised_at <= T0 + 3601  # its window closed, last record ended
    assert beacon_b.base + sum(v for _, v in beacon_b.attributions) == pytest.approx(
        beacon_b.suspicion
    )
    assert incident.attributions == beacon_b.attributions  # the beacon raised it first
    assert incident.raised_at == beacon_b.raised_at


def test_a_long_connection_is_known_only_when_it_ends():
    f = flows(chatter("10.0.0.9", 20) + [{"ts": T0 + 10, "id.orig_h": "10.0.0.9",
              "id.resp_h": "203.0.113.5", "id.resp_p": 443, "duration": 30000.0}])  # fmt: skip
    table = behaviour_table(f)
    row = int(np.flatnonzero((table.keys["dst"] == "203.0.113.5").to_numpy())[0])
    flagged, suspicion, attributions = _flag(table, [row])
    (incident,) = group_incidents(table, f, flagged, suspicion, attributions)
    assert incident.raised_at == T0 + 10 + 30000.0


def test_without_persistence_evidence_stays_in_flagged_windows():
    f, table = _case()
    first_beacon = np.flatnonzero((table.keys["dport"] == 6667).to_numpy())[0]
    flagged, suspicion, attributions = _flag(table, [first_beacon])
    (incident,) = group_incidents(table, f, flagged, suspicion, attributions, persist=False)
    in_window = f["ts"].lt(T0 + 3600) & f["id.resp_p"].eq(6667)
    assert set(incident.evidence_uids) == set(f.loc[in_window, "uid"])
    persisted = evidence_flows(table, flagged)
    assert persisted.sum() > in_window.sum()


def test_nothing_flagged_gives_no_incident_and_lengths_are_checked():
    f, table = _case()
    flagged, suspicion, attributions = _flag(table, [])
    assert group_incidents(table, f, flagged, suspicion, attributions) == ()
    with pytest.raises(DataError, match="flagged has 2 entries"):
        group_incidents(table, f, flagged[:2], suspicion, attributions)


def test_json_lines_carry_the_required_fields():
    f, table = _case()
    flagged, suspicion, attributions = _flag(table, [0])
    lines = incidents_jsonl(group_incidents(table, f, flagged, suspicion, attributions))
    record = json.loads(lines.splitlines()[0])
    for key in (
        "host",
        "first_seen",
        "last_seen",
        "behaviours",
        "techniques",
        "severity",
        "evidence_uids",
    ):
        assert key in record
    assert record["first_seen"].endswith("Z")


def test_the_operating_point_keeps_every_held_out_scenario_within_budget():
    malicious = np.array([True] * 5 + [False] * 200)

    def evidence(rows):  # row i holds flow i
        return np.asarray(rows, bool)

    scores = np.r_[np.full(5, 9.0), np.linspace(0, 5, 200)]
    held = HeldOut("a", scores, malicious, evidence)
    t = scenario_threshold(held, max_fpr=0.01)
    assert (scores[~malicious] > t).sum() <= 2 and (scores[~malicious] > t).sum() >= 1
    benign = HeldOut("b", np.linspace(0, 7, 50), np.zeros(50, bool), evidence)
    assert scenario_threshold(benign) == 7.0  # a benign capture may raise nothing
    assert operating_point([held, benign]) == 7.0
    with pytest.raises(DataError):
        operating_point([])


def test_the_max_margin_operating_point_sits_between_benign_and_needed_malicious_scores():
    def evidence(rows):  # row i holds flow i
        return np.asarray(rows, bool)

    malicious = np.array([True, True] + [False] * 100)
    scores = np.r_[[9.0, 8.0], np.linspace(0, 4, 100)]
    held = HeldOut("a", scores, malicious, evidence)
    lowest = operating_point([held], max_fpr=0.01)
    assert lowest < 4.0  # the edge of the benign scores (one benign flow allowed)
    assert keeping_threshold(held, lowest) == 8.0  # the lowest malicious score needed
    assert operating_point([held], max_fpr=0.01, margin=True) == pytest.approx((lowest + 8.0) / 2)
    # a benign capture that forbids everything up to 7 lifts the lowest point; the margin
    # is taken towards the malicious scores every held-out scenario still needs
    benign = HeldOut("b", np.linspace(0, 7, 50), np.zeros(50, bool), evidence)
    assert operating_point([held, benign], margin=True) == pytest.approx(7.5)
    # nothing malicious caught: no margin to take
    missed = HeldOut("c", np.r_[[1.0], np.linspace(0, 4, 100)], malicious[:101], evidence)
    assert keeping_threshold(missed, 5.0) is None
    assert operating_point([missed, benign], margin=True) == 7.0
