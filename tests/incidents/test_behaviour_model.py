"""From labelled conn logs to incidents: both detectors, operating points from held-out
training scenarios; one test reads IoT-23 when the data is present."""

import numpy as np
import pytest

from conn_flows import T0, beacon, chatter, flows, scan
from trustshield.errors import DataError, DatasetMissing
from trustshield.incidents.model import detect_incidents, fit_behaviour, scenario


def _site(seed: int, infected: bool, start: float = T0):
    records = chatter("10.0.0.5", 120, start=start, seed=seed) + chatter(
        "10.0.0.6", 120, start=start, seed=seed + 50
    )
    if infected:
        records += beacon(
            "10.0.0.5", f"203.0.113.{seed}", 7000 + seed, 3.0 + seed % 3, 2000, start=start
        )
        records += scan("10.0.0.5", 23, 300, start=start + 3600)
    return scenario(f"s{seed}", flows(records))


def test_a_beaconing_scanning_host_is_an_incident_and_clean_sites_raise_none():
    training = [_site(1, True), _site(2, False), _site(3, True), _site(4, False)]
    model = fit_behaviour(training)
    assert np.isfinite(model.supervised_threshold)
    test = _site(5, True)
    incidents = detect_incidents(model, test.flows, test.table)
    assert [i.host for i in incidents] == ["10.0.0.5"]
    evidence = test.flows["uid"].isin(incidents[0].evidence_uids).to_numpy()
    assert evidence[test.malicious].mean() > 0.9 and not evidence[~test.malicious].any()
    clean = _site(6, False)
    assert detect_incidents(model, clean.flows, clean.table) == ()


def test_training_needs_a_log():
    with pytest.raises(DataError):
        fit_behaviour([])


def test_iot23_torii_scenario_is_found_from_other_scenarios():
    from trustshield.ingest.datasets import known_files, locate
    from trustshield.ingest.zeek_chunks import read_conn_table

    files = {k.name.split("/")[0]: k for k in known_files()["iot-23"]}
    try:
        paths = {
            n: locate("iot-23", files[n])
            for n in ("20-1", "21-1", "42-1", "honeypot-4-1", "honeypot-7-1")
        }
    except DatasetMissing as exc:
        pytest.skip(f"IoT-23 not present: {exc}")
    held = {n: scenario(n, read_conn_table(p)) for n, p in paths.items()}
    model = fit_behaviour([s for n, s in held.items() if n != "20-1"], baseline_rule="loso")
    test = held["20-1"]
    hosts = {i.host for i in detect_incidents(model, test.flows, test.table)}
    infected = set(test.flows.loc[test.malicious, "id.orig_h"])
    assert hosts & infected


def test_a_saved_model_flags_the_same_windows_with_the_same_attributions():
    import json

    from trustshield.incidents.model import BehaviourDetection

    model = fit_behaviour([_site(1, True), _site(2, False), _site(3, True)])
    again = BehaviourDetection.from_dict(json.loads(json.dumps(model.to_dict())))
    table = _site(7, True).table
    first, second = model.flag(table), again.flag(table)
    for a, b in zip(first[:3], second[:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first[3].values, second[3].values)
    with pytest.raises(DataError, match="behaviour model"):
        BehaviourDetection.from_dict({"format": "something else"})


def test_early_reading_raises_an_incident_before_its_window_closes():
    training = [_site(1, True), _site(2, False), _site(3, True), _site(4, False)]
    test = _site(5, True)
    raised = {}
    for early in (True, False):
        model = fit_behaviour(training, early=early)
        assert model.early is early
        assert type(model).from_dict(model.to_dict()).early is early
        (incident,) = detect_incidents(model, test.flows, test.table)
        raised[early] = incident.raised_at
    assert raised[False] >= T0 + 3600  # read at close: the first window's end at the earliest
    assert T0 < raised[True] < raised[False]
    assert raised[True] >= test.flows["ts"].min()


def test_a_variant_is_chosen_from_training_scenarios_only():
    from trustshield.incidents.selection import select_variant

    training = [_site(1, True), _site(2, False), _site(3, True), _site(4, False)]
    baseline_only = {"supervised": False, "baseline_rule": "edge"}
    selection = select_variant(training, [baseline_only, {}])
    assert len(selection.figures) == 2 and len(selection.figures[0]) == len(training)
    assert selection.score(selection.chosen) >= selection.score(1 - selection.chosen)
    assert {f.scenario for f in selection.figures[1]} == {s.name for s in training}
    with pytest.raises(DataError):
        select_variant(training[:2], [{}])
    with pytest.raises(DataError):
        select_variant(training, [])
