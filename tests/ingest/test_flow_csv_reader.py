"""nfdump and CICFlowMeter CSVs mapped onto conn.log's vocabulary: directions, units,
protocols, header variants, and errors naming file, line, column and value."""

from __future__ import annotations

import calendar
import math

import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.ingest.flow_csv import read_cicflowmeter_csv, read_nfdump_csv
from trustshield.ingest.zeek import CONN_FIELDS

NFDUMP_HEADER = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out"
NFDUMP_ROWS = [
    "2016-05-13 09:11:34,2016-05-13 09:11:35,1.250,192.168.1.10,10.0.0.1,51000,443,TCP,...AP.SF,0,0,12,1500,10,9000,1,2",
    "2016-05-13 09:11:36.500,2016-05-13 09:11:36.500,0.000,2001:db8::1,2001:db8::2,0,2048,ICMP,........,0,0,1,84,0,0,1,2",
    "2016-05-13 09:11:37,2016-05-13 09:11:37,0.010,10.0.0.5,10.0.0.6,0,3.3,1,........,0,0,1,56,0,0,1,2",
    "2016-05-13 09:11:38,2016-05-13 09:11:38,0.020,10.0.0.5,10.0.0.7,5353,53,UDP,........,0,0,2,120,0,0,1,2",
]
SUMMARY = "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n4,10760,26,0,0,0\n"
SPACED = (
    "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,"
    "Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,Flow Byts/s,Label"
)
UNDERSCORED = (
    "flow_id,src_ip,src_port,dst_ip,dst_port,protocol,timestamp,flow_duration,tot_fwd_pkts,"
    "tot_bwd_pkts,totlen_fwd_pkts,totlen_bwd_pkts,flow_byts_s,label"
)
CIC_ROWS = [
    "10.0.0.2-10.0.0.1-51000-80-6,10.0.0.2,51000,10.0.0.1,80,6,28/02/2018 08:11:42 PM,1500000,5,4,300,1200.0,Infinity,Benign",
    "10.0.0.3-8.8.8.8-5353-53-17,10.0.0.3,5353,8.8.8.8,53,17,28/02/2018 08:11:43,250,1,1,40,120,3.2e5,DoS",
]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def utc(*parts) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)))


def test_nfdump_maps_directions_units_protocols_and_drops_the_summary(tmp_path):
    path = write(tmp_path, "flows.csv", "\n".join([NFDUMP_HEADER, *NFDUMP_ROWS]) + "\n" + SUMMARY)
    frame = read_nfdump_csv(path)
    assert len(frame) == 4 and list(frame.columns[: len(CONN_FIELDS)]) == list(CONN_FIELDS)
    first = frame.iloc[0]
    assert first["ts"] == utc(2016, 5, 13, 9, 11, 34) and first["duration"] == 1.25
    assert (first["id.orig_h"], first["id.orig_p"], first["id.resp_h"], first["id.resp_p"]) == (
        "192.168.1.10",
        51000,
        "10.0.0.1",
        443,
    )
    assert (
        first["orig_pkts"],
        first["orig_ip_bytes"],
        first["resp_pkts"],
        first["resp_ip_bytes"],
    ) == (12, 1500, 10, 9000)
    assert frame["proto"].tolist() == ["tcp", "icmp", "icmp", "udp"]
    assert frame["ip_proto"].tolist() == [6, 1, 1, 17]
    assert frame.loc[1, "ts"] == utc(2016, 5, 13, 9, 11, 36) + 0.5
    # ICMP type and code: 2048 = type 8 (echo request), code 0; "3.3" = type 3, code 3
    assert frame.loc[1, ["id.orig_p", "id.resp_p"]].tolist() == [8, 0]
    assert frame.loc[2, ["id.orig_p", "id.resp_p"]].tolist() == [3, 3]
    assert frame.loc[3, ["id.orig_p", "id.resp_p"]].tolist() == [5353, 53]
    assert frame["orig_bytes"].isna().all() and frame["conn_state"].isna().all()
    assert frame["flg"].tolist()[0] == "...AP.SF" and frame["in"].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("192.168.1.10", "192.168.1.300"),
            ("line 2", "'sa'", "'192.168.1.300'", "an IPv4 or IPv6 address"),
        ),
        (("1.250", "-1.250"), ("line 2", "'td'", "'-1.250'", "seconds >= 0")),
        (("TCP", "TCPX"), ("line 2", "'pr'", "'TCPX'", "an IP protocol")),
        (("2016-05-13 09:11:34,", "13/05/2016,"), ("line 2", "'ts'", "'13/05/2016'", "%Y-%m-%d")),
        ((",12,1500,", ",12,1.5k,"), ("line 2", "'ibyt'", "'1.5k'", "a count")),
        ((",0,0,12,", ",0,0,"), ("line 2", "expected 17 comma-separated fields", "found 16")),
    ],
)
def test_nfdump_errors_name_file_line_column_and_value(tmp_path, change, expected):
    row = NFDUMP_ROWS[0].replace(*change, 1)
    path = write(tmp_path, "bad.csv", f"{NFDUMP_HEADER}\n{row}\n")
    with pytest.raises(DataError) as error:
        read_nfdump_csv(path)
    assert str(path) in str(error.value)
    for part in expected:
        assert part in str(error.value)


def test_nfdump_without_a_needed_column_is_refused(tmp_path):
    path = write(
        tmp_path, "nodst.csv", NFDUMP_HEADER.replace(",da,", ",dst,") + "\n" + NFDUMP_ROWS[0] + "\n"
    )
    with pytest.raises(DataError, match=r"expected the nfdump columns .* missing \['da'\]"):
        read_nfdump_csv(path)


def test_cicflowmeter_maps_units_and_both_header_variants_agree(tmp_path):
    spaced = read_cicflowmeter_csv(write(tmp_path, "a.csv", "\n".join([SPACED, *CIC_ROWS]) + "\n"))
    underscored = read_cicflowmeter_csv(
        write(tmp_path, "b.csv", "\n".join([UNDERSCORED, *CIC_ROWS]) + "\n")
    )
    conn = list(CONN_FIELDS)
    pd.testing.assert_frame_equal(spaced[conn], underscored[conn])
    assert spaced["duration"].tolist() == [1.5, 0.00025]  # microseconds -> seconds
    assert spaced["ts"].tolist() == [utc(2018, 2, 28, 20, 11, 42), utc(2018, 2, 28, 8, 11, 43)]
    assert spaced[["orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes"]].values.tolist() == [
        [5, 4, 300, 1200],
        [1, 1, 40, 120],
    ]
    assert spaced["proto"].tolist() == ["tcp", "udp"] and spaced["ip_proto"].tolist() == [6, 17]
    assert spaced["orig_ip_bytes"].isna().all()  # CICFlowMeter does not count IP bytes
    assert math.isinf(spaced.loc[0, "Flow Byts/s"]) and spaced.loc[1, "Flow Byts/s"] == 3.2e5
    assert spaced["Label"].tolist() == ["Benign", "DoS"] and "flow_byts_s" in underscored


def test_cic_ids2017_long_names_and_absent_timestamp(tmp_path):
    header = (
        " Source IP, Source Port, Destination IP, Destination Port, Protocol, Flow Duration,"
        " Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets,"
        " Total Length of Bwd Packets, Label"
    )
    path = write(
        tmp_path,
        "ids2017.csv",
        header + "\n192.168.10.5,443,192.168.10.8,51000,6,3000000,2,3,0,0,BENIGN\n",
    )
    frame = read_cicflowmeter_csv(path)
    assert frame.loc[0, "duration"] == 3.0 and frame.loc[0, "resp_pkts"] == 3
    assert frame.loc[0, "id.orig_h"] == "192.168.10.5" and math.isnan(frame.loc[0, "ts"])
    assert frame["Label"].tolist() == ["BENIGN"]


@pytest.mark.parametrize(
    "change, expected",
    [
        ((",1500000,", ",-1,"), ("'flow_duration'", "'-1'", "microseconds >= 0")),
        ((",80,6,", ",70000,6,"), ("'dst_port'", "'70000'", "0-65535")),
        ((",5,4,", ",2.5,4,"), ("'tot_fwd_pkts'", "'2.5'", "a count")),
        ((",10.0.0.1,", ",,"), ("'dst_ip'", "got ''", "expected a value")),
    ],
)
def test_cicflowmeter_errors_name_file_line_column_and_value(tmp_path, change, expected):
    path = write(
        tmp_path,
        "bad.csv",
        SPACED + "\n" + CIC_ROWS[1] + "\n" + CIC_ROWS[0].replace(*change, 1) + "\n",
    )
    with pytest.raises(DataError) as error:
        read_cicflowmeter_csv(path)
    assert str(path) in str(error.value) and "line 3" in str(error.value)
    for part in expected:
        assert part in str(error.value)


def test_cicflowmeter_without_a_needed_column_or_header_is_refused(tmp_path):
    path = write(
        tmp_path,
        "nopkts.csv",
        SPACED.replace("Tot Bwd Pkts", "Bwd Pkts") + "\n" + CIC_ROWS[0] + "\n",
    )
    with pytest.raises(DataError, match=r"missing \['tot_bwd_pkts'\]"):
        read_cicflowmeter_csv(path)
    with pytest.raises(DataError, match="expected a CICFlowMeter header line, found an empty file"):
        read_cicflowmeter_csv(write(tmp_path, "empty.csv", "\n"))


def test_protocol_as_an_integral_float_is_read_and_a_fraction_is_refused(tmp_path):
    rows = [CIC_ROWS[0].replace(",80,6,", ",80,6.0,"), CIC_ROWS[1].replace(",53,17,", ",53,17.0,")]
    frame = read_cicflowmeter_csv(write(tmp_path, "f.csv", "\n".join([SPACED, *rows]) + "\n"))
    assert frame["ip_proto"].tolist() == [6, 17] and frame["proto"].tolist() == ["tcp", "udp"]
    bad = CIC_ROWS[1].replace(",53,17,", ",53,6.5,")
    path = write(tmp_path, "bad.csv", "\n".join([SPACED, CIC_ROWS[0], bad]) + "\n")
    with pytest.raises(DataError, match=r"line 3, column 'protocol': got '6.5', expected an IP"):
        read_cicflowmeter_csv(path)


def test_protocol_0_is_read_with_the_file_line_of_every_row(tmp_path):
    rows = [CIC_ROWS[0].replace(",80,6,", ",80,0,"), CIC_ROWS[1]]
    path = write(tmp_path, "f.csv", "\n".join([SPACED, "", *rows]) + "\n")
    frame = read_cicflowmeter_csv(path)
    assert frame["ip_proto"].tolist() == [0, 17] and frame.attrs["lines"] == [3, 4]


def test_timestamps_required_names_the_column_the_file_and_the_columns(tmp_path):
    header = SPACED.replace(",Timestamp", "")
    row = CIC_ROWS[0].replace(",28/02/2018 08:11:42 PM", "")
    path = write(tmp_path, "f.csv", header + "\n" + row + "\n")
    assert math.isnan(read_cicflowmeter_csv(path).loc[0, "ts"])  # a plain read allows it
    with pytest.raises(DataError) as error:
        read_cicflowmeter_csv(path, timestamps=True)
    assert str(error.value).startswith(f"{path}: line 1: expected the CICFlowMeter columns [")
    assert "'timestamp']" in str(error.value) and "missing ['timestamp']" in str(error.value)


def test_a_byte_order_mark_before_the_header_is_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([NFDUMP_HEADER, *NFDUMP_ROWS]).encode() + b"\n")
    assert len(read_nfdump_csv(path)) == len(NFDUMP_ROWS)
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([SPACED, *CIC_ROWS]).encode() + b"\n")
    assert read_cicflowmeter_csv(path)["ip_proto"].tolist() == [6, 17]


@pytest.mark.parametrize(
    "reader, header", [(read_nfdump_csv, NFDUMP_HEADER), (read_cicflowmeter_csv, SPACED)]
)
def test_a_header_without_rows_is_refused(tmp_path, reader, header):
    path = write(tmp_path, "head.csv", header + "\n\n")
    with pytest.raises(DataError, match=rf"^{path}: no data rows after the header$"):
        reader(path)
