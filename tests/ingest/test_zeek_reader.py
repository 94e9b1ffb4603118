"""Zeek conn.log reader: Zeek's own baseline logs (checked against SOURCE.md's sha256 and
row counts), the JSON form agreeing with the TSV form, and errors at the door."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.ingest import data_dirs, parse_source_sha256, sha256_of
from trustshield.ingest.zeek import CONN_FIELDS, EXPECTED, read_conn_log

FOLDER = "zeek-pcap-baselines"
# | `ssh-basic` | `ssh/ssh.pcap` (1,797 pkts) | ... | 25 | ssh.log (22) |
_CASE_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(?:[^|]*\|){3}\s*([\d,]+)\s*\|")
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\tconn\n#open\t2026-01-01-00-00-00\n"
)


@pytest.fixture(scope="module")
def baselines() -> dict[str, tuple[Path, int]]:
    """Every baseline conn.log (sha256 verified) and its row count from SOURCE.md's table."""
    root = next((r / FOLDER for r in data_dirs() if (r / FOLDER / "SOURCE.md").is_file()), None)
    if root is None:
        pytest.skip(f"no {FOLDER}/SOURCE.md under {data_dirs()}")
    source = (root / "SOURCE.md").read_text()
    shas = parse_source_sha256(source)
    rows = {
        m[1]: int(m[2].replace(",", ""))
        for line in source.splitlines()
        if (m := _CASE_ROW.match(line))
    }
    out = {}
    for name, sha in shas.items():
        if name.endswith("/conn.log"):
            assert sha256_of(root / name) == sha, f"{root / name} is altered"
            out[name.split("/")[0]] = (root / name, rows[name.split("/")[0]])
    return out


def test_every_baseline_reads_with_the_row_count_of_source_md(baselines):
    assert sorted(n for _, n in baselines.values()) == sorted([25, 25, 5, 1, 7, 3, 2, 2])
    for folder, (path, rows) in baselines.items():
        frame = read_conn_log(path, masked_timestamps=True)
        assert len(frame) == rows, folder
        assert list(frame.columns) == list(CONN_FIELDS)
        assert frame["ts"].isna().all()  # btest masks every time stamp
        assert frame["orig_pkts"].notna().all() and frame["id.resp_p"].notna().all()


def test_ssh_basic_spot_values_and_types(baselines):
    frame = read_conn_log(baselines["ssh-basic"][0], masked_timestamps=True)
    first = frame.iloc[0]
    assert (first["orig_pkts"], first["orig_ip_bytes"], first["resp_pkts"]) == (25, 3981, 20)
    assert (first["conn_state"], first["history"], first["service"]) == ("SF", "ShAdDaFf", "ssh")
    assert (first["id.orig_h"], first["id.orig_p"], first["id.resp_p"]) == (
        "192.168.1.79",
        51880,
        22,
    )
    assert first["duration"] == pytest.approx(6.159326)
    assert (first["local_orig"], first["local_resp"]) == (True, False)
    assert pd.isna(first["tunnel_parents"])
    assert str(frame["orig_bytes"].dtype) == "Int64" and str(frame["local_orig"].dtype) == "boolean"
    udp = frame[frame["proto"] == "udp"]
    assert len(udp) == 2 and udp["duration"].isna().all() and udp["orig_bytes"].isna().all()
    assert (udp["ip_proto"] == 17).all() and (udp["resp_pkts"] == 0).all()


def test_ipv6_and_multi_service_baselines(baselines):
    pppoe = read_conn_log(baselines["pppoe"][0], masked_timestamps=True)
    assert pppoe.loc[0, "id.orig_h"] == "fc00:0:2:100::1:1" and pppoe.loc[0, "ip_proto"] == 58
    assert set(pppoe["proto"]) == {"icmp", "udp"}
    grid = read_conn_log(baselines["gridftp"][0], masked_timestamps=True)
    assert grid.loc[0, "service"] == "ftp,ssl,gridftp"  # a string field, not a set


def test_masked_timestamps_are_refused_unless_asked(baselines):
    path = baselines["tcp-missing-syn"][0]
    with pytest.raises(DataError) as error:
        read_conn_log(path)
    message = str(error.value)
    assert str(path) in message and "line 10" in message and "'ts'" in message
    assert "XXXXXXXXXX.XXXXXX" in message and "seconds since the epoch" in message


def _with_times(text: str) -> str:
    """The log with each masked ts replaced by a distinct real time."""
    count = iter(range(1, 10**6))
    return re.sub(
        r"^XXXXXXXXXX\.XXXXXX", lambda m: f"1700000000.{next(count):06d}", text, flags=re.M
    )


def _as_json_lines(text: str) -> str:
    """The TSV log as Zeek's JSON writer would write it: unset fields left out, sets as lists."""
    fields = types = None
    out = []
    for line in text.splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types"):
            types = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            record = {}
            for field, kind, value in zip(fields, types, line.split("\t")):
                if value == "-":
                    continue
                if kind.startswith("set["):
                    record[field] = [] if value == "(empty)" else value.split(",")
                elif kind in ("count", "port"):
                    record[field] = int(value)
                elif kind in ("time", "interval"):
                    record[field] = float(value)
                else:
                    record[field] = value == "T" if kind == "bool" else value
            out.append(json.dumps(record))
    return "\n".join(out) + "\n"


def test_json_lines_and_tsv_agree_on_every_baseline(baselines, tmp_path):
    for folder, (path, rows) in baselines.items():
        text = _with_times(path.read_text())
        tsv, js = tmp_path / f"{folder}.log", tmp_path / f"{folder}.json"
        tsv.write_text(text)
        js.write_text(_as_json_lines(text))
        from_tsv, from_json = read_conn_log(tsv), read_conn_log(js)
        assert len(from_json) == rows and from_tsv["ts"].notna().all()
        pd.testing.assert_frame_equal(from_tsv, from_json)


def _log(tmp_path, fields: str, types: str, *rows: str, name="conn.log") -> Path:
    path = tmp_path / name
    path.write_text(
        HEADER
        + f"#fields\t{fields}\n#types\t{types}\n"
        + "".join(r + "\n" for r in rows)
        + "#close\t2026-01-01-00-00-01\n"
    )
    return path


BASE_FIELDS = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto"
BASE_TYPES = "time\tstring\taddr\tport\taddr\tport\tenum"
BASE_ROW = "1.5\tC1\t10.0.0.1\t1234\t10.0.0.2\t80\ttcp"


def test_escapes_sets_extra_and_absent_fields(tmp_path):
    path = _log(
        tmp_path,
        BASE_FIELDS + "\thistory\ttunnel_parents\tvlan\tpeers",
        BASE_TYPES + "\tstring\tset[string]\tcount\tset[addr]",
        BASE_ROW + "\tSh\\x09ad\t(empty)\t42\t10.0.0.3,::1",
        BASE_ROW + "\t(empty)\tCa,Cb\t-\t-",
    )
    frame = read_conn_log(path)
    assert list(frame.columns) == [*CONN_FIELDS, "vlan", "peers"]
    assert frame["history"].tolist() == ["Sh\tad", ""]
    assert frame.loc[0, "tunnel_parents"] == () and frame.loc[1, "tunnel_parents"] == ("Ca", "Cb")
    assert frame.loc[0, "peers"] == ("10.0.0.3", "::1") and pd.isna(frame.loc[1, "peers"])
    assert frame.loc[0, "vlan"] == 42 and frame["vlan"].isna().tolist() == [False, True]
    assert frame["ip_proto"].isna().all() and frame["orig_pkts"].isna().all()
    assert frame["ts"].tolist() == [1.5, 1.5]


@pytest.mark.parametrize(
    "row, line_field_value",
    [
        (BASE_ROW + "\t2x", ("line 9", "'orig_pkts'", "'2x'", "a count")),
        (
            BASE_ROW.replace("10.0.0.2", "10.0.0.256") + "\t3",
            ("line 9", "'id.resp_h'", "'10.0.0.256'", "an IPv4 or IPv6 address"),
        ),
        (
            BASE_ROW.replace("\t80\t", "\t70000\t") + "\t3",
            ("line 9", "'id.resp_p'", "'70000'", "0-65535"),
        ),
        (BASE_ROW + "\t3\textra", ("line 9", "expected 8 fields", "found 9")),
    ],
)
def test_field_and_row_errors_name_file_line_field_value(tmp_path, row, line_field_value):
    path = _log(tmp_path, BASE_FIELDS + "\torig_pkts", BASE_TYPES + "\tcount", row)
    with pytest.raises(DataError) as error:
        read_conn_log(path)
    assert str(path) in str(error.value)
    for part in line_field_value:
        assert part in str(error.value)


def test_header_errors(tmp_path):
    no_fields = tmp_path / "nofields.log"
    no_fields.write_text(HEADER + BASE_ROW + "\n")
    with pytest.raises(DataError, match=r"line 7: expected a '#fields' header line"):
        read_conn_log(no_fields)
    short_types = _log(tmp_path, BASE_FIELDS, "time\tstring", BASE_ROW, name="types.log")
    with pytest.raises(
        DataError, match=r"line 8: expected #types to give a type for each of the 7"
    ):
        read_conn_log(short_types)
    no_proto = _log(
        tmp_path,
        BASE_FIELDS.rsplit("\t", 1)[0],
        BASE_TYPES.rsplit("\t", 1)[0],
        BASE_ROW.rsplit("\t", 1)[0],
        name="noproto.log",
    )
    with pytest.raises(DataError, match=r"missing \['proto'\]"):
        read_conn_log(no_proto)


def test_json_errors_and_unset_required_fields(tmp_path):
    good = {
        "ts": 1.0,
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 1,
        "id.resp_h": "10.0.0.2",
        "id.resp_p": 2,
        "proto": "udp",
    }
    cases = [
        ("{not json\n", "line 2: expected one JSON object per line, found invalid JSON"),
        ("[1, 2]\n", "line 2: expected one JSON object per line, found list"),
        (json.dumps({**good, "orig_pkts": "many"}) + "\n", "'orig_pkts': got 'many'"),
        (json.dumps({**good, "tunnel_parents": "Cx"}) + "\n", "a list of"),
        (
            json.dumps({k: v for k, v in good.items() if k != "id.resp_h"}) + "\n",
            "line 2, column 'id.resp_h': got '', expected a value",
        ),
    ]
    for i, (bad, expected) in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(good) + "\n" + bad)
        with pytest.raises(DataError) as error:
            read_conn_log(path)
        assert expected in str(error.value) and str(path) in str(error.value)
    path = tmp_path / "iso.json"
    path.write_text(json.dumps({**good, "ts": "2026-01-01T00:00:01.5Z", "extra": [1, 2]}) + "\n")
    frame = read_conn_log(path)
    assert math.isclose(frame.loc[0, "ts"], 1767225601.5)
    assert frame.loc[0, "extra"] == (1, 2)


@pytest.mark.parametrize(
    "field, kind, good, bad",
    [
        ("orig_pkts", "count", "7", "-3"),
        ("id.resp_p", "port", "80", "65536"),
        ("duration", "interval", "0.25", "nan"),
        ("local_orig", "bool", "T", "true"),
    ],
)
def test_a_bad_field_deep_in_a_long_column_is_found_by_line(tmp_path, field, kind, good, bad):
    fields, types = BASE_FIELDS.split("\t"), BASE_TYPES.split("\t")
    if field not in fields:
        fields, types = fields + [field], types + [kind]
    rows = []
    for i in range(60):
        values = dict(zip(BASE_FIELDS.split("\t"), BASE_ROW.split("\t")))
        values[field] = bad if i == 41 else "-" if i % 7 == 0 and field != "id.resp_p" else good
        rows.append("\t".join(values[f] for f in fields))
    path = _log(tmp_path, "\t".join(fields), "\t".join(types), *rows)
    with pytest.raises(DataError) as error:
        read_conn_log(path)
    assert f"line {9 + 41}, column '{field}': got '{bad}', expected {EXPECTED[kind]}" in str(
        error.value
    )
    rows[41] = rows[40]
    frame = read_conn_log(_log(tmp_path, "\t".join(fields), "\t".join(types), *rows, name="ok.log"))
    assert frame[field].isna().sum() == (0 if field == "id.resp_p" else 9)


def test_unset_required_field_and_list_for_a_scalar_are_refused(tmp_path):
    path = _log(tmp_path, BASE_FIELDS, BASE_TYPES, BASE_ROW, BASE_ROW.replace("\t1234\t", "\t-\t"))
    with pytest.raises(DataError, match=r"line 10, column 'id.orig_p': got '', expected a value"):
        read_conn_log(path)
    record = {
        "ts": 1.0,
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 1,
        "id.resp_h": "10.0.0.2",
        "id.resp_p": 2,
        "proto": "udp",
        "history": ["Sh"],
    }
    (tmp_path / "list.json").write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError, match=r"line 1, column 'history': got 'Sh', expected a string"):
        read_conn_log(tmp_path / "list.json")
