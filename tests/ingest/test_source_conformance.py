"""Every Source keeps the role's contract (trustshield.ingest.source): valid rows only,
each with a distinct line, counted; the first bad row stops a strict read; a lenient read
counts what it dropped; the file's sha256 identifies it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from trustshield.errors import DataError
from trustshield.ingest.connections import ConnectionSource
from trustshield.ingest.source import Source
from trustshield.ingest.tabular import TableSource
from trustshield.ingest.validate import check_frame
from trustshield.specs import load_spec

SPEC = load_spec("nsl-kdd")
NFDUMP_HEADER = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt"


def _nfdump(tmp_path, bad_port: bool):
    rows = [
        f"2016-05-13 09:11:{30 + i:02d},2016-05-13 09:11:{31 + i:02d},1.0,10.0.0.{i + 1},"
        f"10.0.1.1,{40000 + i},{'99999' if bad_port and i == 3 else 80},TCP,...AP.SF,0,0,3,180,2,120"
        for i in range(6)
    ]
    path = tmp_path / "flows.csv"
    path.write_text("\n".join([NFDUMP_HEADER, *rows]) + "\n")
    return path, 5  # line 5 holds the bad record


def _table(tmp_path, bad_port: bool):
    raw = [
        "0,tcp,http,SF,181,5450,"
        + ",".join(["0"] * 16)
        + ",8,8,0,0,0,0,1,0,0,9,9,1,0,0.11,0,0,0,0,0,normal,21"
        for _ in range(6)
    ]
    if bad_port:
        raw[3] = raw[3].replace("0,tcp,http,SF,181", "0,tcp,http,SF,-181", 1)
    path = tmp_path / "table.csv"
    path.write_text("\n".join(raw) + "\n")
    return path, 4


SOURCES = {"table": (TableSource, _table), "connections": (ConnectionSource, _nfdump)}
#: sources whose readers can drop a bad row and go on (the others refuse on_error="skip")
LENIENT = {"table"}


@pytest.mark.parametrize("kind", SOURCES)
def test_source_contract(kind, tmp_path):
    cls, write = SOURCES[kind]
    good, _ = write(tmp_path, bad_port=False)
    source = cls(good, SPEC, batch_rows=4)
    assert isinstance(source, Source)
    assert source.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()
    batches = list(source)
    lines = np.concatenate([b.lines for b in batches])
    assert len(set(lines.tolist())) == len(lines) == source.rows_read == 6
    for batch in batches:
        assert len(batch.frame) == len(batch.lines)
        assert not check_frame(batch.frame, SPEC, file="again", lines=batch.lines).problems

    bad, bad_line = write(tmp_path, bad_port=True)
    with pytest.raises(DataError, match=f"line {bad_line}"):
        list(cls(bad, SPEC))
    if kind not in LENIENT:
        with pytest.raises(DataError, match="skip is not available"):
            cls(bad, SPEC, on_error="skip")
        return
    lenient = cls(bad, SPEC, on_error="skip")
    kept = np.concatenate([b.lines for b in lenient])
    assert lenient.rejected_rows == 1 and bad_line not in kept and len(kept) == 5
