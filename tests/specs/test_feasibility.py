"""The feasibility checker: what an attacker could really send, with a reason per breach."""

import pandas as pd
import pytest

from trustshield.commands.common import resolve_data
from trustshield.errors import DataError, DatasetMissing
from trustshield.ingest.tabular import TableSource
from trustshield.specs import infeasibility, is_feasible, load_spec

SPEC = load_spec("nsl-kdd")


@pytest.fixture(scope="module")
def records():
    try:
        path = resolve_data("nsl-kdd:KDDTrain+_20Percent.txt")
    except DatasetMissing as exc:
        pytest.skip(f"NSL-KDD not available: {exc}")
    frame = pd.concat([b.frame for b in TableSource(path, SPEC)], ignore_index=True)
    return frame[list(SPEC.feature_names)]


@pytest.fixture
def tcp_record(records):
    row = records[(records.protocol_type == "tcp") & (records.src_bytes > 100)].iloc[0]
    return row.to_dict()


def edit(record, **changes):
    return {**record, **changes}


def test_every_real_record_is_feasible_as_it_is(records):
    assert not any(infeasibility(SPEC, records, records))


def test_changing_a_fixed_feature_is_refused_with_its_reason(tcp_record):
    verdict = is_feasible(SPEC, tcp_record, edit(tcp_record, protocol_type="udp"))
    assert not verdict
    assert any(v.column == "protocol_type" and "fixed" in v.reason for v in verdict.violations)


def test_increase_only_features_may_grow_but_not_shrink(tcp_record):
    grown = edit(
        tcp_record, src_bytes=tcp_record["src_bytes"] + 500, duration=tcp_record["duration"] + 3
    )
    assert is_feasible(SPEC, tcp_record, grown)
    shrunk = is_feasible(SPEC, tcp_record, edit(tcp_record, src_bytes=tcp_record["src_bytes"] - 1))
    assert [str(v) for v in shrunk.violations] == ["src_bytes: an attacker can only increase it"]


def test_values_outside_the_valid_range_or_type_are_refused(tcp_record):
    verdict = is_feasible(
        SPEC, tcp_record, edit(tcp_record, count=600, srv_count=2.5, same_srv_rate=1.2)
    )
    columns = {v.column: v.reason for v in verdict.violations}
    assert set(columns) == {"count", "srv_count", "same_srv_rate"}
    assert "[0, 511]" in columns["count"] and "integer" in columns["srv_count"]


def test_a_category_outside_the_spec_is_refused(tcp_record):
    verdict = is_feasible(SPEC, tcp_record, edit(tcp_record, flag="XX"))
    assert any(v.column == "flag" and "one of" in v.reason for v in verdict.violations)


def test_free_features_that_break_a_relation_are_refused_naming_the_relation(tcp_record):
    candidate = edit(tcp_record, serror_rate=0.7, rerror_rate=0.6)
    verdict = is_feasible(SPEC, tcp_record, candidate)
    assert [v.column for v in verdict.violations] == ["serror_rate+rerror_rate"]
    assert "SYN and REJ errors share one window" in verdict.violations[0].reason
    assert is_feasible(SPEC, tcp_record, edit(tcp_record, serror_rate=0.4, rerror_rate=0.6))


def test_batches_report_each_row_on_its_own(records):
    originals = records.head(3).reset_index(drop=True)
    candidates = originals.copy()
    candidates.loc[1, "count"] = 1000
    found = infeasibility(SPEC, originals, candidates)
    assert [len(f) for f in found] == [0, 1, 0]


def test_mismatched_batches_are_an_error(records):
    with pytest.raises(DataError, match="originals"):
        infeasibility(SPEC, records.head(3), records.head(2))


def test_values_off_the_recorded_resolution_are_refused(tcp_record):
    """A byte count of 1e-30 or a rate of 0.333 could not come from the monitor, even though
    each lies within a hair of a valid value; a model may still tell them apart."""
    verdict = is_feasible(SPEC, tcp_record, edit(tcp_record, same_srv_rate=0.333))
    assert [v.column for v in verdict.violations] == ["same_srv_rate"]
    assert "with at most 2 decimals" in verdict.violations[0].reason
    assert is_feasible(SPEC, tcp_record, edit(tcp_record, same_srv_rate=0.33))
    original = {**tcp_record, "urgent": 0}
    verdict = is_feasible(SPEC, original, edit(original, urgent=1e-30))
    assert [v.column for v in verdict.violations] == ["urgent"]
