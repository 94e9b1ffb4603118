"""What fuzzing the readers found, each pinned by the smallest input that showed it: every
one ended in an exception other than the reader's own (or in a message naming no line)."""

from __future__ import annotations

import struct
import time

import pytest

from trustshield.errors import DataError, SpecError
from trustshield.ingest.flow_csv import read_cicflowmeter_csv, read_nfdump_csv
from trustshield.ingest.keystroke_series import read_series_table
from trustshield.ingest.keystroke_table import read_keystroke_table
from trustshield.ingest.mouse import parse_session
from trustshield.ingest.pcap import connections
from trustshield.ingest.samples import malformed_rows, read_feature_table
from trustshield.ingest.tabular import TableSource
from trustshield.ingest.zeek import read_conn_log
from trustshield.ingest.zeek_chunks import conn_chunk, new_header
from trustshield.specs import load_spec
from trustshield.utf8 import first_bad_utf8

NFDUMP = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n"
NFDUMP_ROW = "2016-05-13 09:11:34,2016-05-13 09:11:35,1.250,10.0.0.1,10.0.0.2,51000,443,TCP,........,0,0,12,1500,10,9000\n"
CIC = (
    "Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,"
    "Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts\n"
)
CIC_ROW = "10.0.0.2,51000,10.0.0.1,80,6,28/02/2018 08:11:42 PM,1500000,{fwd},4,300,1200\n"
SESSION = "record timestamp,client timestamp,button,state,x,y\n0.0,0.0,NoButton,Move,10,20\n"


def test_a_count_beyond_int64_is_refused_by_line_and_column(tmp_path):
    path = tmp_path / "flows.csv"
    path.write_text(CIC + CIC_ROW.format(fwd=5) + CIC_ROW.format(fwd="99999999999999999999999"))
    with pytest.raises(DataError, match=r"flows.csv: line 3, column 'tot_fwd_pkts'"):
        read_cicflowmeter_csv(path)


def test_a_field_past_the_csv_size_limit_is_refused_by_line(tmp_path):
    path = tmp_path / "nfdump.csv"
    path.write_text(NFDUMP + NFDUMP_ROW + '"' + "A" * 200_000 + '",' + NFDUMP_ROW)
    with pytest.raises(DataError, match=r"nfdump.csv: line 3: not a CSV row"):
        read_nfdump_csv(path)


def test_a_huge_rejected_field_is_still_reported(tmp_path):
    rows = load_spec("nsl-kdd").column_names
    path = tmp_path / "flows.csv"
    good = "0,tcp,http,SF," + ",".join(["0"] * (len(rows) - 6)) + ",normal,21"
    cells = good.split(",")
    cells[0] = "A" * 200_000
    path.write_text(good + "\n" + ",".join(cells) + "\n")
    with pytest.raises(DataError, match=r"flows.csv: line 2, column 'duration'"):
        TableSource(path, load_spec("nsl-kdd")).read_all()


def test_an_empty_zeek_separator_is_refused_by_line(tmp_path):
    path = tmp_path / "conn.log"
    path.write_text("#separator \n#fields\tts\n1.0\n")
    with pytest.raises(DataError, match=r"conn.log: line 1: expected '#separator'"):
        read_conn_log(path)


def _nsl_kdd_rows(second_service: bytes) -> bytes:
    cells = (
        ["0", "tcp", "http", "SF"]
        + ["0"] * (len(load_spec("nsl-kdd").column_names) - 6)
        + ["normal", "21"]
    )
    first = ",".join(cells).encode()
    return first + b"\n" + first.replace(b"http", second_service, 1) + b"\n"


@pytest.mark.parametrize(
    "data, read, where",
    [
        (
            _nsl_kdd_rows(b"ht\xfftp"),
            lambda p: TableSource(p, load_spec("nsl-kdd")).read_all(),
            "line 2, byte 9",
        ),
        (
            SESSION.encode() + b"0.1,0.1,NoButton,Move,1\xff,2\n",
            lambda p: parse_session(p.read_bytes(), file=str(p)),
            "line 3, byte 24",
        ),
        (b"a,b\n1,2\n3\xff,4\n", read_feature_table, "line 3, byte 2"),
        (
            b"Subject,a\ns1,2\ns\xe92,4\n",
            lambda p: read_keystroke_table(p, subject_column="Subject"),
            "line 3, byte 2",
        ),
    ],
    ids=["table", "mouse-session", "samples", "keystroke-table"],
)
def test_bytes_that_are_not_utf8_are_refused_with_their_line_and_byte(tmp_path, data, read, where):
    path = tmp_path / "input.csv"
    path.write_bytes(data)
    with pytest.raises(DataError, match=rf"input.csv: {where}: not UTF-8"):
        read(path)


def test_a_spec_that_is_not_utf8_is_a_spec_error_with_its_line(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"name: flows\ncolumns:\n  - {name: a\xe9, type: real}\n")
    with pytest.raises(SpecError, match=r"spec.yaml: line 3, byte 13: not UTF-8"):
        load_spec(path)


def test_a_capture_cut_inside_a_block_says_so(tmp_path):
    # a pcapng section header, an interface block, then a 48-byte packet block cut at 40
    shb = (
        b"\x0a\x0d\x0d\x0a"
        + (28).to_bytes(4, "little")
        + b"\x4d\x3c\x2b\x1a"
        + b"\x01\x00\x00\x00"
        + b"\xff" * 8
        + (28).to_bytes(4, "little")
    )
    idb = (
        b"\x01\x00\x00\x00"
        + (20).to_bytes(4, "little")
        + b"\x01\x00\x00\x00"
        + b"\x00\x00\x04\x00"
        + (20).to_bytes(4, "little")
    )
    epb = (
        b"\x06\x00\x00\x00"
        + (48).to_bytes(4, "little")
        + b"\x00" * 12
        + (16).to_bytes(4, "little") * 2
        + b"\x00" * 16
        + (48).to_bytes(4, "little")
    )[:40]
    path = tmp_path / "cut.pcapng"
    path.write_bytes(shb + idb + epb)
    with pytest.raises(
        DataError, match=r"cut.pcapng: packet 1 is malformed: .*got a record cut short"
    ):
        connections(path)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"plain\ntext\n", None),
        (b"\xff", (1, 1)),
        (b"ab\ncd\xffe", (2, 3)),
        (b"a\nb\nc\xc3", (3, 2)),
        ("é\n".encode() + b"x\xe2\x82", (2, 2)),
    ],
)
def test_first_bad_utf8_finds_line_and_byte(data, expected, tmp_path, monkeypatch):
    assert first_bad_utf8(data) == expected
    monkeypatch.setattr("trustshield.utf8.CHUNK", 2)  # a sequence split across chunks
    path = tmp_path / "f"
    path.write_bytes(data)
    assert first_bad_utf8(path) == expected


def test_a_huge_field_is_refused_at_once_and_quoted_short(tmp_path):
    """numpy used to widen every cell of the column to the longest one: one 1 MB field in a
    conn.log of 300 records took seconds and gigabytes before the refusal."""
    header = "#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\n"
    rows = ["1300000000.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t0.5"] * 300
    rows[7] = rows[7][:-3] + "A" * 1_000_000
    path = tmp_path / "conn.log"
    path.write_text(header + "\n".join(rows) + "\n")
    started = time.perf_counter()
    with pytest.raises(DataError) as refused:
        read_conn_log(path)
    assert time.perf_counter() - started < 2.0
    message = str(refused.value)
    assert "line 10, column 'duration'" in message and "(1,000,000 characters)" in message
    assert len(message) < 400


def test_a_count_beyond_int64_in_a_followed_log_is_refused_by_line(tmp_path):
    """The fast path of the chunked reader (``watch``) let pyarrow's overflow escape."""
    header = new_header()
    chunk = (
        "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_pkts\n"
        "#types\ttime\taddr\tport\taddr\tport\tenum\tcount\n"
    ).encode()
    conn_chunk(chunk, header, file="conn.log", first_line=1)
    rows = (
        b"1300000000.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t3\n"
        b"1300000001.0\t10.0.0.1\t1001\t10.0.0.2\t80\ttcp\t" + b"9" * 30 + b"\n"
    )
    with pytest.raises(DataError, match=r"conn.log: line 4, column 'orig_pkts'"):
        conn_chunk(rows, header, file="conn.log", first_line=3)


@pytest.mark.parametrize(
    "read",
    [
        read_feature_table,
        lambda p: read_keystroke_table(p, subject_column="Subject"),
        lambda p: parse_session(p.read_bytes(), file=str(p)),
    ],
    ids=["samples", "keystroke-table", "mouse-session"],
)
def test_a_first_record_wider_than_the_header_is_refused_by_line(tmp_path, read):
    """pandas made the extra leading fields a row index: thousands of them (a lost line
    break) built an index of thousands of levels and the read never finished."""
    header = "record timestamp,client timestamp,button,state,x,y"
    path = tmp_path / "input.csv"
    path.write_text(header + "\n" + ",".join(["1"] * 3000) + "\n")
    started = time.perf_counter()
    with pytest.raises(
        DataError, match=r"input.csv: line 2: expected 6 fields \(as in the header\), found 3000"
    ):
        read(path)
    assert time.perf_counter() - started < 5.0


def test_a_huge_column_name_is_refused_before_any_work(tmp_path):
    """Selecting columns by name made numpy widen every name to the longest: a 1 MB name
    among 2,000 columns asked for gigabytes."""
    names = ["typing", "Subject", "A" * 1_000_000] + [f"Hold {i}" for i in range(2000)]
    path = tmp_path / "series.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["1", "s1"] + ["0.5"] * 2001) + "\n")
    with pytest.raises(
        DataError, match=r"series.csv: line 1, column 3: a name of 1,000,000 characters"
    ):
        read_series_table(path)


BEYOND_FLOAT = "Subject,Hold a,Hold b\ns1,0.1,0.2\ns1," + "9" * 400 + ",0.3\n"


@pytest.mark.parametrize(
    "read",
    [
        lambda p: read_keystroke_table(p, subject_column="Subject"),
        read_series_table,
    ],
    ids=["keystroke-table", "series"],
)
def test_an_integer_beyond_float_range_is_refused_by_row_and_column(tmp_path, read):
    """pandas keeps such an integer as a Python int, and to_numeric(errors="coerce") then
    raised OverflowError instead of coercing it."""
    path = tmp_path / "input.csv"
    path.write_text(BEYOND_FLOAT)
    with pytest.raises(
        DataError, match=r"input.csv: row 2, column 'Hold a': expected a finite number"
    ):
        read(path)


def test_an_integer_beyond_float_range_marks_its_sample_malformed(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text(BEYOND_FLOAT)
    assert malformed_rows(read_feature_table(path)) == [2]


def test_an_ipv6_packet_cut_inside_its_addresses_is_skipped(tmp_path):
    """A 30-byte snapshot of an IPv6 packet reached inet_ntop with a short address."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 30, 101)  # raw IP, snaplen 30
    whole = bytes([0x60, 0, 0, 0, 0, 20, 6, 64]) + bytes(range(1, 33)) + bytes(20)
    cut = struct.pack("<IIII", 1_300_000_000, 0, 30, len(whole)) + whole[:30]
    ipv4 = bytes(
        [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
    ) + struct.pack("!HHHH", 5353, 53, 8, 0)
    kept = struct.pack("<IIII", 1_300_000_001, 0, len(ipv4), len(ipv4)) + ipv4
    path = tmp_path / "short.pcap"
    path.write_bytes(header + cut + kept)
    conns = connections(path)
    assert len(conns) == 1 and conns.iloc[0]["id.resp_p"] == 53
