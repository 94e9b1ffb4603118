"""Behaviour detection window by window (incidents.streaming) equals the whole-log path."""

import numpy as np
import pandas as pd
import pytest

from stream_logs import chunks as _chunks
from stream_logs import days as _days
from stream_logs import model as fitted_model
from stream_logs import zeek_tsv as _zeek_tsv
from trustshield.features.behaviour import behaviour_table, checkpoint_tables
from trustshield.incidents.grouping import incident_record
from trustshield.incidents.model import detect_incidents
from trustshield.incidents.streaming import BehaviourStream, LateRecords, Rarity, stream_incidents


@pytest.fixture(scope="module")
def model():
    return fitted_model()


def test_lookback_features_of_closed_windows_equal_the_whole_log():
    frame = _days()
    whole = behaviour_table(frame)
    whole_stages = checkpoint_tables(frame, whole)
    w = np.floor(frame["ts"].to_numpy() / 3600.0)
    cuts = np.unique(w)[::5]  # groups of five windows, as a stream closes them
    state = {f: Rarity() for f in (None, *(s.fraction for s in whole_stages))}
    parts, stage_parts = [], {s.fraction: [] for s in whole_stages}
    for lo, hi in zip(cuts, [*cuts[1:], np.inf]):
        part = frame[(w >= lo) & (w < hi)].reset_index(drop=True)
        table = behaviour_table(part)
        state[None].apply(table)
        parts.append(table.features)
        for stage in checkpoint_tables(part, table):
            state[stage.fraction].apply(stage.table)
            stage_parts[stage.fraction].append(stage.table.features)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole.features)
    assert whole.features["dst_site_share"].nunique() > 2  # the look-back features vary
    assert whole.features["host_history_windows"].max() > 5  # beyond one group
    for stage in whole_stages:
        got = pd.concat(stage_parts[stage.fraction], ignore_index=True)
        pd.testing.assert_frame_equal(got, stage.table.features)


@pytest.mark.parametrize("size", [97, 5000])
def test_streamed_incidents_equal_the_whole_log(model, size):
    frame = _days()
    expected = detect_incidents(model, frame, behaviour_table(frame))
    got, stream = stream_incidents(model, _chunks(frame, size), chunk_records=1500)
    assert len(expected) >= 2 and len({i.host for i in expected}) >= 2
    assert [incident_record(i) for i in got] == [incident_record(i) for i in expected]
    assert stream.records == len(frame) and stream.late == 0


def test_kept_rows_are_only_those_of_flagged_hosts(model):
    frame = _days()
    stream = BehaviourStream(model, chunk_records=1500)
    for chunk in _chunks(frame, 500):
        stream.add(chunk)
    stream.close(np.inf)
    kept = sum(len(k.flows) for k in stream.kept)
    assert 0 < kept < len(frame)


def test_a_record_for_a_closed_window_is_late(model):
    frame = _days()
    stream = BehaviourStream(model, chunk_records=100)
    for chunk in _chunks(frame.iloc[:3000], 500):
        stream.add(chunk)
    old = frame.iloc[:1].copy()
    with pytest.raises(LateRecords, match="already closed"):
        stream.add(old)
    dropping = BehaviourStream(model, chunk_records=100, on_late="drop")
    for chunk in _chunks(frame.iloc[:3000], 500):
        dropping.add(chunk)
    dropping.add(old)
    assert dropping.late == 1 and dropping.records == 3000


def _periods(model, frame, size: int, close_every: int):
    stream = BehaviourStream(model, chunk_records=size, on_late="drop", evidence="period")
    closed = []
    for n, chunk in enumerate(_chunks(frame, 250)):
        stream.add(chunk)
        if n % close_every == 0:
            stream.close(stream.ready())
            closed += [i for i, _ in stream.close_incidents()]
    return closed, stream


def test_periods_close_a_gap_after_their_last_flagged_window_wherever_the_stream_is_cut(model):
    frame = _days()
    closed, stream = _periods(model, frame, 1500, 1)
    again, _ = _periods(model, frame, 4000, 7)
    assert [incident_record(i) for i in closed] == [incident_record(i) for i in again]
    expected = detect_incidents(model, frame, behaviour_table(frame))
    first = [i for i in expected if i.host == "10.0.0.5"][0]
    assert closed and closed[0].incident_id == first.incident_id
    ids = [i.incident_id for i in closed]
    assert len(ids) == len(set(ids)) and set(ids) <= {i.incident_id for i in expected}
    # the rest are still open: the stream has not moved a gap past them
    assert stream.open_periods and stream.kept


@pytest.mark.parametrize("lateness_s", [None, 3600.0])
def test_a_zeek_log_read_block_by_block_gives_the_whole_log_incidents(model, tmp_path, lateness_s):
    from trustshield.ingest.zeek_chunks import read_conn_table
    from trustshield.pipeline.behaviour_stream import detect_log

    frame = _days()
    # one long connection written when it ended, hours after later records
    late = frame.index[len(frame) // 2]
    frame = pd.concat([frame.drop(index=late), frame.loc[[late]]], ignore_index=True)
    frame.loc[len(frame) - 1, "ts"] = frame["ts"].max() - 12 * 3600
    log = _zeek_tsv(frame, tmp_path / "conn.log")
    whole = read_conn_table(log)
    expected = detect_incidents(model, whole, behaviour_table(whole))
    got = []
    done = detect_log(
        model,
        log,
        lambda found, flows: got.extend(found),
        chunk_records=300,
        lateness_s=lateness_s,
        block_bytes=1 << 16,
    )
    got.sort(key=lambda i: (i.first_seen, i.host))
    assert [incident_record(i) for i in got] == [incident_record(i) for i in expected]
    assert done.records == len(frame) and done.incidents == len(expected) >= 2
    # more than the allowed lateness out of order: read whole, same incidents
    assert done.streamed is (lateness_s is None)


def test_prefetch_keeps_order_raises_where_the_error_came_and_stops_when_left():
    import threading

    from trustshield.errors import DataError
    from trustshield.pipeline.behaviour_stream import prefetch

    assert list(prefetch(iter(range(10)), depth=2)) == list(range(10))

    def failing():
        yield 1
        yield 2
        raise DataError("bad record")

    got = []
    with pytest.raises(DataError, match="bad record"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in prefetch(endless(), depth=2):
        if item == 3:
            break
    assert not [t for t in threading.enumerate() if t.name == "trustshield-prefetch"]
    assert len(produced) <= 3 + 1 + 2 + 1  # read ahead by at most the queue's depth
