"""Connection records as a Source: the format told from the file, KDD-style features checked
against the NSL-KDD spec, record numbers as lines, and who talked to whom per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trustshield.errors import DataError
from trustshield.features.kdd_derived import COLUMNS as KDD_FEATURES
from trustshield.ingest import data_dirs
from trustshield.ingest.connections import ConnectionSource, sniff_format
from trustshield.ingest.pcap import connections
from trustshield.specs import load_spec

NFDUMP = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n"
    "2016-05-13 09:11:34,2016-05-13 09:11:35,1.250,192.168.1.10,10.0.0.1,51000,443,TCP,...AP.SF,0,0,12,1500,10,9000\n"
    "2016-05-13 09:11:36,2016-05-13 09:11:36,0.020,10.0.0.5,10.0.0.7,5353,53,UDP,........,0,0,2,120,0,0\n"
)
CIC = (
    "Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,"
    "TotLen Fwd Pkts,TotLen Bwd Pkts\n"
    "10.0.0.2,51000,10.0.0.1,80,6,28/02/2018 08:11:42 PM,1500000,5,4,300,1200\n"
)


def shared(relative: str) -> Path:
    path = next((root / relative for root in data_dirs() if (root / relative).is_file()), None)
    if path is None:
        pytest.skip(f"{relative} not under {data_dirs()}")
    return path


@pytest.fixture(scope="module")
def spec():
    return load_spec("nsl-kdd")


def test_formats_are_told_from_the_file(tmp_path):
    (tmp_path / "flows.csv").write_text(NFDUMP)
    (tmp_path / "cic.csv").write_text(CIC)
    assert sniff_format(tmp_path / "flows.csv") == "nfdump"
    assert sniff_format(tmp_path / "cic.csv") == "cicflowmeter"
    assert (
        sniff_format(shared("zeek-pcap-baselines/ssh-basic/conn.log")) == "zeek"
    )  # btest banner first
    assert sniff_format(shared("zeek-pcap-baselines/ssh-basic/ssh.pcap")) == "pcap"
    assert sniff_format(shared("nfstream-pcap-results/pcaps/1kxun.pcap")) == "pcap"
    assert sniff_format(shared("nsl-kdd/KDDTest+.txt")) is None


def test_a_capture_gives_one_spec_valid_row_per_connection_numbered_in_file_order(spec):
    path = shared("nfstream-pcap-results/pcaps/1kxun.pcap")
    conns = connections(path)
    source = ConnectionSource(path, spec, batch_rows=50)
    batches = list(source)
    assert source.format == "pcap" and source.rows_read == len(conns) and source.rejected_rows == 0
    lines = np.concatenate([b.lines for b in batches])
    assert sorted(lines.tolist()) == list(range(1, len(conns) + 1))
    assert all(list(b.frame.columns)[: len(KDD_FEATURES)] == list(KDD_FEATURES) for b in batches)
    for batch in batches:
        assert len(batch.entities) == len(batch.lines)
        for line, entity in zip(batch.lines, batch.entities.to_dict(orient="records")):
            conn = conns.iloc[line - 1]
            assert (
                entity["src_ip"],
                entity["src_port"],
                entity["dst_ip"],
                entity["dst_port"],
                entity["proto"],
                entity["ts"],
            ) == (
                conn["id.orig_h"],
                conn["id.orig_p"],
                conn["id.resp_h"],
                conn["id.resp_p"],
                conn["proto"],
                conn["ts"],
            )


def test_flow_csvs_become_features(tmp_path, spec):
    (tmp_path / "flows.csv").write_text(NFDUMP)
    (tmp_path / "cic.csv").write_text(CIC)
    nfdump = next(iter(ConnectionSource(tmp_path / "flows.csv", spec)))
    assert nfdump.frame["service"].tolist() == ["http_443", "domain_u"]
    assert nfdump.frame["protocol_type"].tolist() == ["tcp", "udp"]
    cic = next(iter(ConnectionSource(tmp_path / "cic.csv", spec)))
    assert cic.frame.loc[0, ["duration", "src_bytes", "dst_bytes"]].tolist() == [1, 300, 1200]


def test_refusals_name_what_is_wrong(tmp_path, spec):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(DataError, match="cannot tell its format.*--format"):
        ConnectionSource(tmp_path / "notes.txt", spec)
    with pytest.raises(DataError, match="--format must be one of"):
        ConnectionSource(tmp_path / "notes.txt", spec, format="netflow9")
    with pytest.raises(DataError, match="expected a '#fields' header"):
        list(ConnectionSource(tmp_path / "notes.txt", spec, format="zeek"))
    mouse = load_spec("balabit-mouse-dynamics")
    (tmp_path / "flows.csv").write_text(NFDUMP)
    with pytest.raises(DataError, match="lacks the KDD-style features"):
        ConnectionSource(tmp_path / "flows.csv", mouse)
    with pytest.raises(DataError, match="masked|seconds since the epoch"):
        list(ConnectionSource(shared("zeek-pcap-baselines/ssh-basic/conn.log"), spec))


CIC_ROW = "10.0.0.{h},5100{h},10.0.0.1,80,{proto},28/02/2018 08:11:4{h} PM,1500000,5,4,300,1200\n"


def test_a_protocol_0_flow_is_skipped_and_counted_with_its_line(tmp_path, spec):
    # IP protocol 0 (HOPOPT), as CICFlowMeter writes for flows it cannot place, on line 3;
    # 17.0 is UDP written as a float
    rows = [CIC_ROW.format(h=1, proto="6"), CIC_ROW.format(h=2, proto="0")]
    rows.append(CIC_ROW.format(h=3, proto="17.0"))
    path = tmp_path / "cic.csv"
    path.write_text(CIC.splitlines(keepends=True)[0] + "".join(rows))
    source = ConnectionSource(path, spec)
    batches = list(source)
    assert [b.frame["protocol_type"].tolist() for b in batches] == [["tcp", "udp"]]
    assert batches[0].lines.tolist() == [1, 3]  # record numbers, as for every record
    assert source.rejected_rows == batches[0].rejected_rows == 1 and source.rows_read == 3
    (problem,) = batches[0].rejected
    assert (problem.file, problem.line, problem.column, problem.value) == (
        str(path),
        3,
        "proto",
        "0",
    )
    assert "TCP, UDP or ICMP" in problem.message()


def test_a_file_of_only_other_protocols_says_so(tmp_path, spec):
    path = tmp_path / "cic.csv"
    path.write_text(CIC.splitlines(keepends=True)[0] + CIC_ROW.format(h=1, proto="47"))
    with pytest.raises(DataError, match=r"no TCP, UDP or ICMP connection.*line 2.*'47'"):
        list(ConnectionSource(path, spec))


def test_cicflowmeter_without_timestamp_names_the_column_file_and_columns(tmp_path, spec):
    header, row = CIC.splitlines()
    path = tmp_path / "cic.csv"
    path.write_text(
        header.replace(",Timestamp", "") + "\n" + row.replace(",28/02/2018 08:11:42 PM", "") + "\n"
    )
    with pytest.raises(DataError) as error:
        list(ConnectionSource(path, spec))
    message = str(error.value)
    assert str(path) in message and "missing ['timestamp']" in message
    assert "CICFlowMeter columns" in message and "'src_ip'" in message
    assert "btest" not in message


@pytest.mark.parametrize("content", [b"", b" \n\r\n\t\n"])
def test_an_empty_connections_file_is_named_empty(tmp_path, spec, content):
    path = tmp_path / "flows.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{path}: the file is empty \("):
        ConnectionSource(path, spec)


def test_a_byte_order_mark_does_not_hide_the_format_or_the_first_column(tmp_path, spec):
    (tmp_path / "flows.csv").write_bytes(b"\xef\xbb\xbf" + NFDUMP.encode())
    assert sniff_format(tmp_path / "flows.csv") == "nfdump"
    batch = next(iter(ConnectionSource(tmp_path / "flows.csv", spec)))
    assert batch.frame["protocol_type"].tolist() == ["tcp", "udp"]
