"""Behaviour features of channel windows from a small synthetic conn log."""

import numpy as np
import pandas as pd
import pytest

from conn_flows import T0, beacon, chatter, flows, scan
from trustshield.errors import DataError
from trustshield.features.behaviour import FEATURES, behaviour_table
from trustshield.specs import load_spec


def _row(table, **key):
    mask = np.ones(len(table), bool)
    for k, v in key.items():
        mask &= (table.keys[k] == v).to_numpy()
    (i,) = np.flatnonzero(mask)
    return dict(zip(FEATURES, table.features.iloc[i]))


def test_a_beacon_every_four_seconds_is_regular_and_unanswered():
    f = flows(beacon("10.0.0.7", "203.0.113.9", 6667, 4.0, 800) + chatter("10.0.0.7", 60))
    table = behaviour_table(f)
    row = _row(table, dst="203.0.113.9", window_start=T0)
    assert row["interval_median"] == pytest.approx(4.0, rel=0.05)
    assert row["interval_dispersion"] < 0.1
    assert row["failed_share"] == 1.0 and row["unanswered_share"] == 1.0
    assert row["beacon_score"] > 0.7 and row["coverage"] > 0.8
    web = _row(table, dst="203.0.113.10", window_start=T0)
    assert web["beacon_score"] < row["beacon_score"]
    assert web["interval_dispersion"] > row["interval_dispersion"]


def test_a_horizontal_scan_has_high_fan_out_on_one_port():
    table = behaviour_table(flows(scan("10.0.0.8", 23, 200) + chatter("10.0.0.8", 30)))
    rows = table.keys["dport"].eq(23).to_numpy()
    assert (table.features.loc[rows, "dsts_on_port"] == 200).all()
    assert (table.features.loc[~rows, "dsts_on_port"] < 5).all()
    assert (table.features.loc[rows, "dst_rarity_host"] == 1).all()


def test_every_flow_has_one_row_and_rows_split_by_window():
    f = flows(beacon("10.0.0.7", "203.0.113.9", 80, 60.0, 150))  # 2.5 h
    table = behaviour_table(f, window_s=3600)
    assert (table.flow_row >= 0).all()
    assert len(table) == 3
    counts = np.bincount(table.flow_row)
    assert counts.sum() == len(f) and table.features["n_conn"].tolist() == counts.tolist()
    later = table.features["dst_rarity_host"].to_numpy()
    assert later[0] == 1 and later[1] == 0  # seen in the only earlier window


def test_labels_are_not_read():
    f = flows(beacon("10.0.0.7", "203.0.113.9", 80, 5.0, 50))
    same = f.assign(label="Benign")
    pd.testing.assert_frame_equal(behaviour_table(f).features, behaviour_table(same).features)


def test_bad_input_is_named():
    with pytest.raises(DataError, match="id.resp_h"):
        behaviour_table(pd.DataFrame({"ts": [1.0], "id.orig_h": ["a"]}))
    with pytest.raises(DataError, match="window_s"):
        behaviour_table(flows(chatter("h", 3)), window_s=0)


def test_the_spec_documents_every_feature_in_order():
    spec = load_spec("behaviour-features")
    assert tuple(c.name for c in spec.columns) == FEATURES
    assert all(c.description for c in spec.columns)
