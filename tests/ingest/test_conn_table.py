"""read_conn_table: Zeek TSV (also the labelled variant with space-separated last columns),
JSON lines and CSV conversions read in bulk to the same typed frame; labels kept as text."""

import json

import numpy as np
import pytest

from trustshield.errors import DataError
from trustshield.ingest.zeek_chunks import LABEL_FIELDS, read_conn_table

FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
    "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
    "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents"
).split()
TYPES = (
    "time string addr port addr port enum string interval count count string bool bool "
    "count string count count count count set[string]"
).split()
ROWS = [
    ["100.5", "C1", "10.0.0.7", "41040", "192.0.2.9", "6667", "tcp", "-", "3.1", "0", "0",
     "S0", "-", "-", "0", "S", "3", "180", "0", "0", "-", "Malicious", "C&C"],
    ["104.5", "C2", "10.0.0.7", "41041", "192.0.2.9", "80", "tcp", "http", "-", "-", "-",
     "SF", "-", "-", "0", "ShAdDaf", "5", "400", "4", "900", "-", "Benign", "-"],
]  # fmt: skip


def _tsv(spaced: bool) -> str:
    tail = "   " if spaced else "\t"
    head = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
            "#unset_field\t-", "#path\tconn", "#open\t2020-01-01-00-00-00"]  # fmt: skip
    names = "\t".join(FIELDS) + tail + "label" + tail + "detailed-label"
    kinds = "\t".join(TYPES) + tail + "string" + tail + "string"
    body = ["\t".join(r[:21]) + tail + r[21] + tail + r[22] for r in ROWS]
    return "\n".join([*head, "#fields\t" + names, "#types\t" + kinds, *body, "#close\t2020"]) + "\n"


def _csv() -> str:
    names = ",".join([*FIELDS, "label", "detailed-label"])
    return "\n".join([names, *(",".join(r) for r in ROWS)]) + "\n"


def _json() -> str:
    out = []
    for r in ROWS:
        record = {f: v for f, v in zip([*FIELDS, *LABEL_FIELDS], r) if v != "-"}
        for f in ("ts", "duration"):
            if f in record:
                record[f] = float(record[f])
        out.append(json.dumps(record))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("kind", ["tsv", "spaced-tsv", "csv", "json"])
def test_every_form_reads_to_the_same_typed_records(tmp_path, kind):
    text = {"tsv": _tsv(False), "spaced-tsv": _tsv(True), "csv": _csv(), "json": _json()}[kind]
    path = tmp_path / f"conn.{kind}"
    path.write_text(text, encoding="utf-8")
    frame = read_conn_table(path)
    assert len(frame) == 2
    assert frame["ts"].tolist() == [100.5, 104.5]
    assert frame["id.resp_p"].tolist() == [6667, 80]
    assert frame["conn_state"].tolist() == ["S0", "SF"]
    assert np.isnan(frame["duration"][1]) and frame["orig_bytes"].isna()[1]
    assert frame["resp_pkts"].tolist() == [0, 4]
    assert frame["label"].tolist() == ["Malicious", "Benign"]
    assert frame["detailed-label"][0] == "C&C"


def test_a_bad_field_is_named_with_its_line(tmp_path):
    path = tmp_path / "conn.log"
    path.write_text(_tsv(True).replace("\t41041\t", "\tport?\t"), encoding="utf-8")
    with pytest.raises(DataError, match=r"line 10.*id\.orig_p"):
        read_conn_table(path)


def test_a_bad_csv_field_is_named(tmp_path):
    path = tmp_path / "conn.csv"
    path.write_text(_csv().replace(",41041,", ",-3,"), encoding="utf-8")
    with pytest.raises(DataError, match=r"id\.orig_p"):
        read_conn_table(path)


def test_a_bad_json_line_falls_back_to_the_strict_reader_which_names_it(tmp_path):
    path = tmp_path / "conn.json"
    path.write_text(_json() + '{"ts": 5.0, "id.orig_h": "10.0.0.7", "id.orig_p": "x"\n')
    with pytest.raises(DataError, match="line 3"):
        read_conn_table(path)


def test_the_strict_reader_and_the_followed_reader_know_the_spaced_variant(tmp_path):
    from trustshield.ingest.zeek import read_conn_log
    from trustshield.ingest.zeek_chunks import conn_chunk, new_header

    path = tmp_path / "conn.log.labeled"
    path.write_text(_tsv(True), encoding="utf-8")
    whole = read_conn_log(path)
    assert whole["label"].tolist() == ["Malicious", "Benign"]
    assert whole["detailed-label"][0] == "C&C" and whole["detailed-label"].isna()[1]
    lines = path.read_bytes().splitlines(keepends=True)
    header, frames = new_header(), []
    for first in range(0, len(lines), 4):  # as `watch` follows a growing log
        frame, _, _ = conn_chunk(
            b"".join(lines[first : first + 4]), header, file=str(path), first_line=first + 1
        )
        frames.append(frame)
    labels = [v for f in frames if len(f) for v in f["label"].tolist()]
    assert labels == ["Malicious", "Benign"]
