"""The real nsl-kdd spec applied to tiny synthetic files (values built in code)."""

from __future__ import annotations

import numpy as np
import pytest

from trustshield.errors import DataError, DatasetMissing
from trustshield.ingest.tabular import TableSource
from trustshield.specs import load_spec

SPEC = load_spec("nsl-kdd")

# Three records that satisfy every range and relation of the spec: one per protocol.
OVERRIDES = [
    {
        "protocol_type": "tcp",
        "service": "http",
        "flag": "SF",
        "src_bytes": 215,
        "dst_bytes": 4507,
        "logged_in": 1,
        "count": 3,
        "srv_count": 3,
        "same_srv_rate": 1,
        "dst_host_count": 40,
        "dst_host_srv_count": 255,
        "dst_host_same_srv_rate": 1,
        "label": "normal",
        "difficulty": 21,
    },
    {
        "protocol_type": "icmp",
        "service": "ecr_i",
        "flag": "SF",
        "src_bytes": 1032,
        "dst_bytes": 0,
        "count": 511,
        "srv_count": 511,
        "same_srv_rate": 1,
        "dst_host_count": 255,
        "dst_host_srv_count": 255,
        "label": "smurf",
        "difficulty": 19,
    },
    {
        "protocol_type": "udp",
        "service": "domain_u",
        "flag": "SF",
        "src_bytes": 44,
        "dst_bytes": 133,
        "serror_rate": 0.5,
        "rerror_rate": 0.5,
        "dst_host_serror_rate": 0.25,
        "dst_host_rerror_rate": 0.75,
        "label": "normal",
        "difficulty": 18,
    },
]


def record(i: int) -> dict:
    """Record i: zero / lower bound everywhere, then the overrides above."""
    row = {c.name: (c.bounds()[0] if c.is_numeric else None) for c in SPEC.columns}
    row.update(OVERRIDES[i])
    return row


def text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_records(path, records, names=None):
    names = names or SPEC.column_names
    path.write_text(
        "".join(",".join(text(r[n]) for n in names) + "\n" for r in records), encoding="utf-8"
    )
    return path


def records():
    return [record(i) for i in range(len(OVERRIDES))]


def test_synthetic_records_satisfy_the_spec(tmp_path):
    path = write_records(tmp_path / "flows.txt", records())
    source = TableSource(path, SPEC)
    (batch,) = list(source)
    assert source.rejected_rows == 0
    assert batch.lines.tolist() == [1, 2, 3]  # header: false → first row is line 1
    assert list(batch.frame.columns) == list(SPEC.column_names)
    assert batch.frame["protocol_type"].tolist() == ["tcp", "icmp", "udp"]
    assert batch.frame["label"].tolist() == ["normal", "smurf", "normal"]
    np.testing.assert_array_equal(batch.frame["src_bytes"].to_numpy(), [215.0, 1032.0, 44.0])


def test_features_only_file_is_accepted(tmp_path):
    path = write_records(tmp_path / "features.txt", records(), names=SPEC.feature_names)
    (batch,) = list(TableSource(path, SPEC))
    assert list(batch.frame.columns) == list(SPEC.feature_names)
    assert len(batch.frame) == 3


@pytest.mark.parametrize(
    "column", ["wrong_fragment", "su_attempted", "count", "dst_host_count", "difficulty"]
)
def test_value_above_a_bounded_column_names_line_and_expectation(tmp_path, column):
    rows = records()
    too_big = SPEC.column(column).bounds()[1] + 1
    rows[1][column] = too_big
    path = write_records(tmp_path / "big.txt", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert str(path) in message and "line 2," in message
    assert repr(column) in message and text(too_big) in message
    assert SPEC.column(column).expected() in message


def test_unknown_service_is_rejected(tmp_path):
    rows = records()
    rows[2]["service"] = "quic"
    path = write_records(tmp_path / "svc.txt", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    assert (
        "line 3," in str(info.value)
        and "'service'" in str(info.value)
        and "'quic'" in str(info.value)
    )


@pytest.mark.parametrize(
    "changes, relation",
    [
        ({"dst_bytes": 10}, "icmp has no reply payload"),
        ({"flag": "S0"}, "icmp has no connection state"),
        ({"service": "http"}, "icmp services"),
    ],
)
def test_relation_violation_on_icmp_row_names_the_relation(tmp_path, changes, relation):
    assert relation in {r.name for r in SPEC.relations}
    rows = records()
    rows[1].update(changes)
    path = write_records(tmp_path / "rel.txt", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    assert "line 2," in str(info.value) and relation in str(info.value)


def test_error_share_relation_uses_its_tolerance(tmp_path):
    rows = records()
    rows[2]["rerror_rate"] = 0.505  # 0.5 + 0.505 is within the 0.01 tolerance
    (batch,) = list(TableSource(write_records(tmp_path / "ok.txt", rows), SPEC))
    assert len(batch.frame) == 3
    rows[2]["rerror_rate"] = 0.52
    with pytest.raises(DataError, match="SYN and REJ errors share one window"):
        list(TableSource(write_records(tmp_path / "bad.txt", rows), SPEC))


def test_wrong_number_of_fields(tmp_path):
    path = write_records(tmp_path / "short.txt", records(), names=SPEC.feature_names[:-1])
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert "line 1" in message and f"{len(SPEC.feature_names) - 1} fields" in message
    assert str(len(SPEC.column_names)) in message and str(len(SPEC.feature_names)) in message


@pytest.mark.parametrize("recorded", [f.name for f in SPEC.files])
def test_file_named_like_a_recorded_file_with_other_content_is_altered(tmp_path, recorded):
    path = write_records(tmp_path / recorded, records())
    with pytest.raises(DatasetMissing) as info:
        TableSource(path, SPEC)
    message = str(info.value)
    assert "altered" in message and str(path) in message
    assert SPEC.file(recorded).sha256 in message
