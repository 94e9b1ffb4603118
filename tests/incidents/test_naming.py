"""Behaviour names come from generic rules on the measured features."""

import pytest

from trustshield.features.behaviour import FEATURES
from trustshield.incidents.naming import name_behaviour


def features(**values) -> dict:
    base = dict.fromkeys(FEATURES, 0.0)
    base.update(n_conn=1.0, interval_dispersion=1.0, dsts_on_port=1.0, ports_on_dst=1.0)
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("values", "name", "technique"),
    [
        (dict(dsts_on_port=200, n_conn=1, failed_share=1), "horizontal scan", "T1046"),
        (dict(ports_on_dst=500, n_conn=1), "vertical scan", "T1046"),
        (dict(rate_per_min=240, n_conn=14400, failed_share=1), "flood", "T1498"),
        (
            dict(n_conn=300, duration_mean=1, failed_share=0.1, beacon_score=0.2),
            "brute force",
            "T1110",
        ),
        (dict(upload_external=5e7, orig_bytes=5e7, resp_bytes=1e5), "large upload", "T1041"),
        (dict(n_conn=900, interval_dispersion=0.1, beacon_score=0.9), "beacon", "T1071"),
        (dict(duration_max=40000), "long connection", "T1071"),
        (dict(dst_rarity_host=1.0), "rare destination", "T1071"),
    ],
)
def test_each_behaviour_is_named_from_its_evidence(values, name, technique):
    named = name_behaviour(features(**values), dport=443, proto="tcp")
    assert named.name == name and technique in named.techniques


def test_a_command_channel_on_a_high_port_is_also_t1571():
    f = features(n_conn=900, interval_dispersion=0.1)
    assert "T1571" in name_behaviour(f, dport=6667, proto="tcp").techniques
    assert "T1571" not in name_behaviour(f, dport=443, proto="tcp").techniques


def test_a_flood_of_a_local_destination_is_endpoint_denial_of_service():
    f = features(rate_per_min=500, dst_local=1.0)
    assert name_behaviour(f, dport=80, proto="tcp").techniques == ("T1499",)
