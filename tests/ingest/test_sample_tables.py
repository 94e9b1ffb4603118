"""Biometric sample tables at the reading edge: a byte order mark, an empty file and a
header without rows, each refused or read naming the file (never quoting a value)."""

from __future__ import annotations

import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.ingest.samples import read_feature_table, read_sample_table


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfhold_a,hold_b\n0.1,0.2\n")
    assert list(read_feature_table(path).columns) == ["hold_a", "hold_b"]


@pytest.mark.parametrize("content", [b"", b" \n\n"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_empty_file_is_called_empty(tmp_path, content, suffix):
    path = tmp_path / f"s{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^samples file {path}: the file is empty \("):
        read_sample_table(path)


def test_a_header_without_rows_says_so(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("hold_a,hold_b\n")
    with pytest.raises(DataError, match=rf"^samples file {path}: no data rows after the header$"):
        read_feature_table(path)
    parquet = tmp_path / "s.parquet"
    pd.DataFrame({"hold_a": pd.Series([], dtype=float)}).to_parquet(parquet)
    with pytest.raises(DataError, match=rf"^samples file {parquet}: no data rows$"):
        read_sample_table(parquet)
