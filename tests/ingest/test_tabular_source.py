"""TableSource + check_frame on small CSV/Parquet files written in tmp_path for a tiny spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.ingest.tabular import TableSource
from trustshield.ingest.validate import MISSING_VALUE, check_frame
from trustshield.specs import parse_spec

HEADER = ("n", "r", "b", "p", "label")


def tiny_raw(*, header: bool = True) -> dict:
    return {
        "name": "tiny",
        "source": {"header": header},
        "columns": [
            {"name": "n", "type": "integer", "min": 0, "max": 100},
            {"name": "r", "type": "rate"},
            {"name": "b", "type": "binary"},
            {"name": "p", "type": "categorical", "values": ["tcp", "udp", "icmp"]},
            {"name": "label", "type": "label"},
        ],
        "relations": [
            {
                "kind": "implies",
                "name": "icmp sends nothing",
                "if": {"column": "p", "in": ["icmp"]},
                "then": {"column": "n", "equals": 0},
            }
        ],
        "label": {"column": "label", "normal": "normal"},
    }


SPEC = parse_spec(tiny_raw())
BARE = parse_spec(tiny_raw(header=False))

# valid rows as written in a file: (n, r, b, p, label)
GOOD = [
    ("5", "0.5", "1", "tcp", "normal"),
    ("0", "0.25", "0", "icmp", "flood"),
    ("100", "1", "0", "udp", "normal"),
    ("42", "0", "1", "tcp", "scan"),
    ("7", "0.125", "0", "udp", "normal"),
]


def write_csv(path, rows, header=HEADER):
    lines = ([",".join(header)] if header else []) + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def typed(rows, columns=HEADER) -> pd.DataFrame:
    """What a validated frame of ``rows`` must hold: numbers as float64, text as str."""
    data = {}
    for j, name in enumerate(columns):
        values = [row[j] for row in rows]
        data[name] = (
            np.array(values, dtype=np.float64)
            if SPEC.column(name).is_numeric
            else pd.Series(values, dtype=object)
        )
    return pd.DataFrame(data)


def read_all(source: TableSource):
    batches = list(source)
    frame = pd.concat([b.frame for b in batches], ignore_index=True)
    lines = np.concatenate([b.lines for b in batches])
    return batches, frame, lines


def with_field(row: tuple, column: str, value: str) -> tuple:
    out = list(row)
    out[HEADER.index(column)] = value
    return tuple(out)


def test_valid_file_reads_typed_rows_with_line_numbers(tmp_path):
    path = write_csv(tmp_path / "good.csv", GOOD[:3])
    source = TableSource(path, SPEC)
    _, frame, lines = read_all(source)
    pd.testing.assert_frame_equal(frame, typed(GOOD[:3]), check_dtype=False)
    for name in ("n", "r", "b"):
        assert frame[name].dtype == np.float64
    assert lines.tolist() == [2, 3, 4]  # header is line 1
    assert source.rows_read == 3 and source.rejected_rows == 0


BAD_FIELDS = {
    "above max": ("n", "101"),
    "below min": ("n", "-1"),
    "text in numeric column": ("n", "lots"),
    "integer holding 1.5": ("n", "1.5"),
    "rate above 1": ("r", "1.5"),
    "binary 2": ("b", "2"),
    "category outside the list": ("p", "sctp"),
}


@pytest.mark.parametrize("column, value", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
def test_bad_value_names_file_line_column_value_and_expectation(tmp_path, column, value):
    rows = [GOOD[0], GOOD[2], with_field(GOOD[3], column, value), GOOD[4]]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message  # header line 1, third data row
    assert repr(column) in message
    assert repr(value) in message
    assert SPEC.column(column).expected() in message


@pytest.mark.parametrize("column", ["n", "p", "label"])
def test_empty_field_says_the_field_is_empty(tmp_path, column):
    rows = [GOOD[0], with_field(GOOD[2], column, "")]
    path = write_csv(tmp_path / "empty.csv", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert str(path) in message and "line 3" in message and repr(column) in message
    assert MISSING_VALUE in message


def test_line_number_counts_header_only_when_spec_has_one(tmp_path):
    bad = with_field(GOOD[4], "n", "500")
    with_header = write_csv(tmp_path / "h.csv", [*GOOD[:4], bad])
    without = write_csv(tmp_path / "nh.csv", [*GOOD[:4], bad], header=None)
    with pytest.raises(DataError, match=r"line 6, column 'n'"):
        list(TableSource(with_header, SPEC))
    with pytest.raises(DataError, match=r"line 5, column 'n'"):
        list(TableSource(without, BARE))


def test_relation_violation_names_the_relation_and_values(tmp_path):
    rows = [GOOD[0], ("9", "0.5", "0", "icmp", "flood")]
    path = write_csv(tmp_path / "rel.csv", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert str(path) in message and "line 3" in message
    assert "icmp sends nothing" in message
    assert "p=icmp" in message and "n=9" in message


def test_skip_drops_exactly_the_bad_rows_and_counts_rows(tmp_path):
    two_bad_fields = with_field(with_field(GOOD[3], "n", "x"), "p", "sctp")
    relation_bad = ("3", "0.5", "0", "icmp", "flood")
    rows = [GOOD[0], two_bad_fields, GOOD[1], relation_bad, GOOD[2], with_field(GOOD[4], "b", "")]
    path = write_csv(tmp_path / "mixed.csv", rows)
    source = TableSource(path, SPEC, on_error="skip")
    batches, frame, lines = read_all(source)
    pd.testing.assert_frame_equal(frame, typed([GOOD[0], GOOD[1], GOOD[2]]), check_dtype=False)
    assert lines.tolist() == [2, 4, 6]
    assert source.rejected_rows == 3  # rows, not fields (4 problems)
    assert source.rows_read == 6
    problems = [p for b in batches for p in b.rejected]
    assert [(p.line, p.column) for p in problems] == [(3, "n"), (3, "p"), (5, "p+n"), (7, "b")]
    assert sum(b.rejected_rows for b in batches) == 3


def test_skip_mode_problems_carry_value_and_expectation(tmp_path):
    path = write_csv(tmp_path / "one.csv", [GOOD[0], with_field(GOOD[1], "r", "2.5")])
    source = TableSource(path, SPEC, on_error="skip")
    (batch,) = list(source)
    (problem,) = batch.rejected
    assert (problem.file, problem.line, problem.column, problem.value) == (str(path), 3, "r", "2.5")
    assert problem.expected == SPEC.column("r").expected()
    assert problem.message().startswith(f"{path}: line 3")


def test_raise_mode_reports_the_first_problem_and_how_many_more(tmp_path):
    rows = [
        with_field(GOOD[0], "b", "7"),
        with_field(GOOD[1], "p", "gre"),
        with_field(GOOD[2], "n", "-4"),
    ]
    path = write_csv(tmp_path / "many.csv", rows)
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert "line 2" in message and "'b'" in message
    assert "2 more problems" in message


def test_headerless_file_with_wrong_field_count(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("5,0.5,1\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        list(TableSource(path, BARE))
    message = str(info.value)
    assert str(path) in message and "line 1" in message and "3 fields" in message
    assert str(len(BARE.column_names)) in message and str(len(BARE.feature_names)) in message


def test_headerless_file_with_features_only(tmp_path):
    path = write_csv(tmp_path / "bare.csv", [row[:4] for row in GOOD[:2]], header=None)
    _, frame, lines = read_all(TableSource(path, BARE))
    assert list(frame.columns) == list(BARE.feature_names)
    assert lines.tolist() == [1, 2]
    assert frame["p"].tolist() == ["tcp", "icmp"]


def test_headerless_file_with_an_extra_field_later(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("5,0.5,1,tcp,normal\n0,0.25,0,icmp,flood,EXTRA\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: expected 5 fields, found 6") as info:
        list(TableSource(path, BARE))
    assert str(path) in str(info.value)


def test_file_with_a_header_and_an_extra_field_names_the_file_line(tmp_path):
    path = write_csv(tmp_path / "ragged_header.csv", GOOD[:2], header=HEADER)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("0,0.25,0,icmp,flood,EXTRA\n")
    with pytest.raises(DataError, match="line 4: expected 5 fields, found 6"):
        list(TableSource(path, SPEC))


def test_header_missing_a_feature_column(tmp_path):
    header = ("n", "b", "p", "label")
    path = write_csv(
        tmp_path / "nor.csv", [(r[0], r[2], r[3], r[4]) for r in GOOD[:2]], header=header
    )
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    message = str(info.value)
    assert str(path) in message and "'r'" in message and "missing" in message


def test_header_without_label_and_in_another_order_is_accepted(tmp_path):
    header = ("p", "b", "r", "n")
    rows = [(r[3], r[2], r[1], r[0]) for r in GOOD[:3]]
    path = write_csv(tmp_path / "reordered.csv", rows, header=header)
    _, frame, _ = read_all(TableSource(path, SPEC))
    assert "label" not in frame.columns
    pd.testing.assert_frame_equal(frame, typed(GOOD[:3]).drop(columns="label"), check_dtype=False)


def raw_frame(rows) -> pd.DataFrame:
    """Rows as a typed pandas frame, the way a producer would write them to Parquet."""
    return pd.DataFrame(
        {
            "n": [int(r[0]) for r in rows],
            "r": [float(r[1]) for r in rows],
            "b": [int(r[2]) for r in rows],
            "p": [r[3] for r in rows],
            "label": [r[4] for r in rows],
        }
    )


def test_parquet_gives_the_same_frame_as_csv(tmp_path):
    csv = write_csv(tmp_path / "flows.csv", GOOD)
    parquet = tmp_path / "flows.parquet"
    raw_frame(GOOD).to_parquet(parquet, index=False)
    _, from_csv, _ = read_all(TableSource(csv, SPEC))
    _, from_parquet, lines = read_all(TableSource(parquet, SPEC, batch_rows=2))
    pd.testing.assert_frame_equal(from_parquet, from_csv)
    assert lines.tolist() == [1, 2, 3, 4, 5]  # Parquet has no header line: row numbers


def test_parquet_bad_value_names_its_row(tmp_path):
    rows = [GOOD[0], GOOD[1], with_field(GOOD[2], "n", "250")]
    parquet = tmp_path / "bad.parquet"
    raw_frame(rows).to_parquet(parquet, index=False)
    with pytest.raises(DataError) as info:
        list(TableSource(parquet, SPEC))
    assert str(parquet) in str(info.value) and "line 3" in str(info.value)
    assert "'n'" in str(info.value) and "250" in str(info.value)


def test_parquet_missing_a_feature_column(tmp_path):
    parquet = tmp_path / "nop.parquet"
    raw_frame(GOOD[:2]).drop(columns="p").to_parquet(parquet, index=False)
    with pytest.raises(DataError, match="'p'"):
        list(TableSource(parquet, SPEC))


def test_batches_continue_line_numbers(tmp_path):
    path = write_csv(tmp_path / "five.csv", GOOD)
    source = TableSource(path, SPEC, batch_rows=2)
    batches = list(source)
    assert [len(b.frame) for b in batches] == [2, 2, 1]
    assert [b.lines.tolist() for b in batches] == [[2, 3], [4, 5], [6]]
    assert source.rows_read == 5
    pd.testing.assert_frame_equal(
        pd.concat([b.frame for b in batches], ignore_index=True), typed(GOOD), check_dtype=False
    )


def test_bad_row_in_a_later_batch_keeps_its_file_line(tmp_path):
    rows = [*GOOD[:4], with_field(GOOD[4], "p", "gre")]
    path = write_csv(tmp_path / "late.csv", rows)
    with pytest.raises(DataError, match=r"line 6, column 'p'"):
        list(TableSource(path, SPEC, batch_rows=2))
    source = TableSource(path, SPEC, batch_rows=2, on_error="skip")
    batches = list(source)
    assert [b.lines.tolist() for b in batches] == [[2, 3], [4, 5], []]
    assert [b.rejected_rows for b in batches] == [0, 0, 1]
    assert source.rejected_rows == 1 and source.rows_read == 5


def test_unknown_on_error_and_missing_file(tmp_path):
    path = write_csv(tmp_path / "ok.csv", GOOD[:1])
    with pytest.raises(DataError, match="on_error"):
        TableSource(path, SPEC, on_error="ignore")
    with pytest.raises(DataError, match="not found"):
        TableSource(tmp_path / "absent.csv", SPEC)


def test_check_frame_is_pure_and_keeps_given_lines():
    raw = pd.DataFrame(
        {
            "n": ["1", "200", "3"],
            "r": ["0", "0", "0"],
            "b": ["1", "0", "0"],
            "p": ["tcp", "udp", "icmp"],
            "label": ["a", "b", "c"],
        }
    )
    before = raw.copy()
    checked = check_frame(raw, SPEC, file="mem", lines=np.array([10, 20, 30]))
    pd.testing.assert_frame_equal(raw, before)
    assert checked.lines.tolist() == [10]  # row 2 out of range, row 3 breaks the relation
    assert checked.rejected_rows == 2
    assert [(p.line, p.column) for p in checked.problems] == [(20, "n"), (30, "p+n")]


@pytest.mark.parametrize("written", ["2", "1e3"])
def test_bad_value_is_quoted_as_written(tmp_path, written):
    path = write_csv(tmp_path / "asis.csv", [GOOD[0], with_field(GOOD[1], "r", written)])
    with pytest.raises(DataError) as info:
        list(TableSource(path, SPEC))
    assert f"got {written!r}," in str(info.value)


def test_line_numbers_survive_a_blank_line(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(
        "n,r,b,p,label\n5,0.5,1,tcp,normal\n\n7,0.5,0,udp,normal\n500,0.5,0,udp,normal\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"line 5, column 'n'"):
        list(TableSource(path, SPEC))


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("spec", [SPEC, BARE], ids=["header", "headerless"])
def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, spec):
    path = write_csv(tmp_path / "bom.csv", GOOD, header=HEADER if spec.header else None)
    path.write_bytes(BOM + path.read_bytes())
    _, frame, lines = read_all(TableSource(path, spec))
    pd.testing.assert_frame_equal(frame, typed(GOOD))
    assert lines[0] == (2 if spec.header else 1)


def test_a_bad_first_value_after_a_byte_order_mark_is_quoted_as_written(tmp_path):
    path = write_csv(tmp_path / "bom.csv", [with_field(GOOD[0], "n", "x1")], header=None)
    path.write_bytes(BOM + path.read_bytes())
    with pytest.raises(DataError, match=r"line 1, column 'n': got 'x1'"):
        list(TableSource(path, BARE))


@pytest.mark.parametrize(
    "content, found",
    [(b"", "0 bytes"), (b"  \n\r\n\t\n", "only white space, 7 bytes"), (BOM + b"\n", "only")],
)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_empty_file_is_called_empty_not_missing_columns(tmp_path, content, found, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        TableSource(path, SPEC)
    assert str(info.value).startswith(f"{path}: the file is empty ({found}")
    assert "missing columns" not in str(info.value)


def test_a_header_without_rows_says_so(tmp_path):
    path = write_csv(tmp_path / "head.csv", [])
    with pytest.raises(DataError, match=rf"^{path}: no data rows after the header$"):
        list(TableSource(path, SPEC))
    path.write_text(",".join(HEADER) + "\n\n\n")  # blank lines are no rows either
    with pytest.raises(DataError, match="no data rows after the header"):
        TableSource(path, SPEC).read_all()
    parquet = tmp_path / "none.parquet"
    raw_frame([]).to_parquet(parquet, index=False)
    with pytest.raises(DataError, match=rf"^{parquet}: no data rows"):
        TableSource(parquet, SPEC).read_all()
