"""Incidents of a log split by source host: each part's ``host_incidents`` with the whole
log's first contacts are the whole log's incidents, and carry through JSON unchanged."""

import numpy as np
import pytest

from stream_logs import days, model as fit_model
from trustshield.features.behaviour import CHECKPOINTS, behaviour_table, checkpoint_tables
from trustshield.features.site_share import first_contacts, merge_contacts, site_share
from trustshield.incidents.evidence import incident_evidence
from trustshield.incidents.model import detect_incidents
from trustshield.incidents.sharded import (
    evidence_from_json,
    evidence_to_json,
    host_incidents,
    incident_from_json,
    incident_to_json,
)


@pytest.fixture(scope="module")
def model():
    return fit_model()


@pytest.fixture(scope="module")
def frame():
    return days(5)


def _parts(frame):
    """The flows of each host (a host's flows in log order), the busiest host alone."""
    hosts = frame["id.orig_h"].value_counts().index
    alone = frame["id.orig_h"].eq(hosts[0])
    return [frame[alone].reset_index(drop=True), frame[~alone].reset_index(drop=True)]


def test_site_share_from_merged_contacts_is_the_whole_logs(frame):
    window_s = 3600.0
    parts = _parts(frame)
    contacts = merge_contacts([first_contacts(p, window_s, CHECKPOINTS) for p in parts])
    whole = behaviour_table(frame, window_s=window_s)
    stages = checkpoint_tables(frame, whole)
    for part in parts:
        table = behaviour_table(part, window_s=window_s)
        expected = _rows_of(whole, table)
        alone = table.features["dst_site_share"].to_numpy()
        got = site_share(table.keys, window_s, contacts, "w0")
        assert np.array_equal(got, expected["dst_site_share"].to_numpy())
        for k, stage in enumerate(checkpoint_tables(part, table), 1):
            want = _rows_of(stages[k - 1].table, stage.table)["dst_site_share"].to_numpy()
            assert np.array_equal(site_share(stage.table.keys, window_s, contacts, f"w{k}"), want)
    # the part alone sees fewer hosts: its own share differs somewhere
    assert not np.array_equal(alone, got)


def _rows_of(whole, part):
    """The rows of ``whole`` with the keys of ``part``'s rows, in that order."""
    key = ["host", "dst", "dport", "proto", "window_start"]
    index = whole.keys[key].astype(str).agg("|".join, axis=1)
    where = dict(zip(index, range(len(index))))
    rows = [where[k] for k in part.keys[key].astype(str).agg("|".join, axis=1)]
    return whole.features.iloc[rows]


def test_host_parts_give_the_whole_logs_incidents_through_json(model, frame):
    expected = detect_incidents(model, frame, behaviour_table(frame, window_s=model.window_s))
    parts = _parts(frame)
    contacts = merge_contacts([first_contacts(p, model.window_s, CHECKPOINTS) for p in parts])
    got = []
    for part in parts:
        for incident in host_incidents(model, part, contacts, CHECKPOINTS):
            back = incident_from_json(incident_to_json(incident))
            assert back == incident
            evidence = incident_evidence(incident, part)
            assert evidence_from_json(evidence_to_json(evidence)) == evidence
            assert evidence == incident_evidence(incident, frame)
            got.append(back)
    assert len(expected) >= 3 and len({i.host for i in expected}) >= 2
    assert sorted(got, key=lambda i: (i.first_seen, i.host)) == list(expected)
