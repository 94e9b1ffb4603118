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


def test_checkpoints_read_a_window_before_it_closes():
    from trustshield.features.behaviour import checkpoint_tables

    records = beacon("10.0.0.5", "203.0.113.9", 6667, 4.0, 800)  # ~53 min of one window
    records[0]["duration"] = 1500.0  # the first connection ends 25 min into the window
    frame = flows(records)
    table = behaviour_table(frame)
    quarter, half = checkpoint_tables(frame, table, (0.25, 0.5))
    assert len(quarter.table) == 1 and quarter.full_row.tolist() == [0]
    n_quarter = int((frame["ts"] < T0 + 900).sum())
    assert quarter.table.features["n_conn"].iloc[0] == n_quarter < len(frame)
    # rates over the elapsed part: a steady beacon has the same rate at every checkpoint
    rates = [
        quarter.table.features["rate_per_min"].iloc[0],
        half.table.features["rate_per_min"].iloc[0],
    ]
    assert rates[0] == pytest.approx(rates[1], rel=0.05)
    assert rates[0] > table.features["rate_per_min"].iloc[0]
    # known when the checkpoint passed, or when a connection in it ended after that
    assert quarter.known[0] == pytest.approx(frame["ts"].iloc[0] + 1500.0)
    assert half.known[0] == pytest.approx(T0 + 1800.0)
    with pytest.raises(DataError):
        checkpoint_tables(frame, table, (1.0,))


def test_features_are_the_same_from_the_column_reader(tmp_path):
    from trustshield.ingest.zeek_chunks import read_conn_table
    from trustshield.ingest.zeek_columns import read_conn_columns

    frame = flows(beacon("10.0.0.5", "203.0.113.9", 6667, 4.0, 50) + scan("10.0.0.6", 23, 40))
    names = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
             "duration", "orig_bytes", "resp_bytes", "conn_state", "orig_pkts", "resp_pkts"]  # fmt: skip
    lines = ["#separator \\x09", "#unset_field\t-", "#fields\t" + "\t".join(names)]
    for cells in frame[names].astype(object).to_numpy():
        lines.append("\t".join("-" if pd.isna(c) else str(c) for c in cells))
    path = tmp_path / "conn.log"
    path.write_text("\n".join(lines) + "\n")
    fast, strict = read_conn_columns(path), read_conn_table(path)
    assert isinstance(fast["id.orig_h"].dtype, pd.CategoricalDtype)
    a, b = behaviour_table(fast), behaviour_table(strict)
    pd.testing.assert_frame_equal(a.features, b.features)
    pd.testing.assert_frame_equal(a.keys, b.keys)
    assert (a.flow_row == b.flow_row).all()


def test_site_share_counts_hosts_not_channels():
    # one host reaches the destination on two ports, a second host never does
    records = (
        beacon("10.0.0.5", "203.0.113.9", 6667, 4.0, 20)
        + beacon("10.0.0.5", "203.0.113.9", 80, 4.0, 20)
        + chatter("10.0.0.6", 30)
    )
    table = behaviour_table(flows(records))
    mine = (table.keys["dst"] == "203.0.113.9").to_numpy()
    assert mine.sum() == 2
    assert table.features["dst_site_share"][mine].tolist() == [0.5, 0.5]
    assert table.features["dst_site_share"].max() <= 1.0


def test_a_long_session_beside_unanswered_attempts_is_a_retried_session():
    retries = [
        {"ts": T0 + 10 + i, "id.orig_h": "10.0.0.7", "id.resp_h": "203.0.113.9",
         "id.resp_p": 443, "conn_state": "S0", "resp_pkts": 0, "resp_bytes": 0,
         "duration": 3.0}
        for i in range(2)
    ]  # fmt: skip
    session = {"ts": T0 + 20, "id.orig_h": "10.0.0.7", "id.resp_h": "203.0.113.9",
               "id.resp_p": 443, "duration": 40_000.0}  # fmt: skip
    alone = {"ts": T0 + 30, "id.orig_h": "10.0.0.8", "id.resp_h": "203.0.113.9",
             "id.resp_p": 443, "duration": 40_000.0}  # fmt: skip
    silent = {**alone, "id.orig_h": "10.0.0.9", "conn_state": "OTH", "resp_pkts": 0}
    table = behaviour_table(flows([*retries, session, alone, silent]))
    assert _row(table, host="10.0.0.7")["retried_session"] == 40_000.0
    # a long session with no other, unanswered attempt is not one, even unanswered itself
    assert _row(table, host="10.0.0.8")["retried_session"] == 0.0
    assert _row(table, host="10.0.0.9")["retried_session"] == 0.0
    # unanswered attempts without a long session: the longest is one of them (3 s)
    only = behaviour_table(flows(retries + [{**retries[0], "ts": T0 + 15}]))
    assert only.features["retried_session"].iloc[0] == 3.0


def test_checkpoints_from_the_shared_sort_equal_tables_of_the_early_flows():
    """Each checkpoint, cut from the flows sorted once for the whole table, is the table of
    the flows in the first part of their window built on their own (rows, features, the
    row each grows into); also with shuffled records and a record without a host."""
    from trustshield.features.behaviour import table_with_checkpoints

    frame = flows(
        beacon("10.0.0.7", "203.0.113.9", 6667, 4.0, 1500)
        + scan("10.0.0.8", 23, 120)
        + chatter("10.0.0.7", 90)
    )
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    frame.loc[5, "id.orig_h"] = None
    table, stages = table_with_checkpoints(frame, fractions=(1 / 16, 0.25, 0.5))
    pd.testing.assert_frame_equal(table.features, behaviour_table(frame).features)
    ts = frame["ts"].to_numpy(float)
    offset = ts - np.floor(ts / 3600.0) * 3600.0
    assert [s.fraction for s in stages] == [1 / 16, 0.25, 0.5]
    for stage in stages:
        keep = np.flatnonzero(offset < stage.fraction * 3600.0)
        alone = behaviour_table(frame.iloc[keep], elapsed_s=stage.fraction * 3600.0)
        pd.testing.assert_frame_equal(stage.table.keys, alone.keys)
        pd.testing.assert_frame_equal(stage.table.features, alone.features)
        assert np.array_equal(stage.table.flow_row, alone.flow_row)
        valid = alone.flow_row >= 0
        expected = np.full(len(alone), -1)
        expected[alone.flow_row[valid]] = table.flow_row[keep[valid]]
        assert np.array_equal(stage.full_row, expected)
    with pytest.raises(DataError, match="fractions"):
        table_with_checkpoints(frame, fractions=(0.5, 1.0))
