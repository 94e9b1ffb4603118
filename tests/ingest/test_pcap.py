"""pcap → connection records: Zeek's conn.log values on Zeek's own test traces (when the
shared data is present and unaltered) and small captures built here with dpkt."""

import math
import socket
from pathlib import Path

import dpkt
import pytest

from trustshield.errors import DataError
from trustshield.ingest.datasets import data_dirs, parse_source_sha256, sha256_of
from trustshield.ingest.pcap import COLUMNS, connections

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
SYN, FIN, RST, PSH, ACK = (
    dpkt.tcp.TH_SYN,
    dpkt.tcp.TH_FIN,
    dpkt.tcp.TH_RST,
    dpkt.tcp.TH_PUSH,
    dpkt.tcp.TH_ACK,
)


def baseline(case: str, name: str) -> Path:
    """Path of a file of zeek-pcap-baselines, verified against its SOURCE.md sha256."""
    for root in data_dirs():
        folder = root / "zeek-pcap-baselines"
        if (folder / case / name).is_file():
            recorded = parse_source_sha256((folder / "SOURCE.md").read_text())
            assert sha256_of(folder / case / name) == recorded[f"{case}/{name}"]
            return folder / case / name
    pytest.skip("zeek-pcap-baselines not in the data roots")


def tcp(src, dst, sport, dport, flags, seq, payload=b""):
    seg = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=1, data=payload)
    return _ip(src, dst, dpkt.ip.IP_PROTO_TCP, seg)


def udp(src, dst, sport, dport, payload):
    seg = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    seg.ulen = len(seg)
    return _ip(src, dst, dpkt.ip.IP_PROTO_UDP, seg)


def icmp_echo(src, dst, kind, payload=b"x" * 32):
    msg = dpkt.icmp.ICMP(type=kind, code=0, data=dpkt.icmp.ICMP.Echo(id=1, seq=1, data=payload))
    return _ip(src, dst, dpkt.ip.IP_PROTO_ICMP, msg)


def _ip(src, dst, proto, seg):
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, data=seg)
    ip.len = 20 + len(bytes(seg))
    return dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x0800, data=ip)


def write_pcap(path, frames, step=0.5):
    """frames: Ethernet objects, one every ``step`` seconds from t=1000."""
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for i, frame in enumerate(frames):
            writer.writepkt(bytes(frame), ts=1000 + i * step)
    return path


def only(frame):
    assert len(frame) == 1
    return frame.iloc[0]


def test_handshake_data_and_fins_make_sf_with_counts(tmp_path):
    c, s = (CLIENT, SERVER, 40000, 80), (SERVER, CLIENT, 80, 40000)
    frames = [
        tcp(*c, SYN, 100),
        tcp(*s, SYN | ACK, 500),
        tcp(*c, ACK, 101),
        tcp(*c, PSH | ACK, 101, b"a" * 30),
        tcp(*s, PSH | ACK, 501, b"b" * 200),
        tcp(*c, FIN | ACK, 131),
        tcp(*s, FIN | ACK, 701),
        tcp(*c, ACK, 132),
    ]
    row = only(connections(write_pcap(tmp_path / "sf.pcap", frames)))
    assert (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"]) == (
        CLIENT,
        40000,
        SERVER,
        80,
    )
    assert (row["proto"], row["conn_state"], row["history"]) == ("tcp", "SF", "ShADdFf")
    assert (row["orig_bytes"], row["resp_bytes"]) == (30, 200)
    assert (row["orig_pkts"], row["resp_pkts"]) == (5, 3)
    assert row["orig_ip_bytes"] == 5 * 40 + 30 and row["resp_ip_bytes"] == 3 * 40 + 200
    assert row["ts"] == pytest.approx(1000.0)
    assert row["duration"] == pytest.approx(3.0)  # up to the second FIN, not the last ACK


def test_an_unanswered_syn_is_s0(tmp_path):
    frames = [tcp(CLIENT, SERVER, 40001, 22, SYN, 7), tcp(CLIENT, SERVER, 40001, 22, SYN, 7)]
    row = only(connections(write_pcap(tmp_path / "s0.pcap", frames)))
    assert (row["conn_state"], row["history"], row["orig_pkts"], row["resp_pkts"]) == (
        "S0",
        "S",
        2,
        0,
    )


def test_a_reset_answer_is_rej(tmp_path):
    frames = [tcp(CLIENT, SERVER, 40002, 23, SYN, 7), tcp(SERVER, CLIENT, 23, 40002, RST | ACK, 0)]
    row = only(connections(write_pcap(tmp_path / "rej.pcap", frames)))
    assert (row["conn_state"], row["history"], row["resp_pkts"]) == ("REJ", "Sr", 1)


def test_the_syn_ack_sender_is_the_responder_when_the_syn_was_missed(tmp_path):
    frames = [
        tcp(SERVER, CLIENT, 80, 40003, SYN | ACK, 500),
        tcp(CLIENT, SERVER, 40003, 80, ACK, 101),
    ]
    row = only(connections(write_pcap(tmp_path / "flip.pcap", frames)))
    assert (row["id.orig_h"], row["id.resp_p"], row["history"]) == (CLIENT, 80, "^hA")


def test_udp_both_ways_is_sf_with_payload_bytes(tmp_path):
    frames = [
        udp(CLIENT, SERVER, 5353, 53, b"q" * 20),
        udp(SERVER, CLIENT, 53, 5353, b"r" * 60),
        udp(CLIENT, SERVER, 5353, 53, b"q" * 20),
    ]
    row = only(connections(write_pcap(tmp_path / "udp.pcap", frames)))
    assert (row["proto"], row["conn_state"], row["history"]) == ("udp", "SF", "Dd")
    assert (row["orig_bytes"], row["resp_bytes"], row["orig_pkts"], row["resp_pkts"]) == (
        40,
        60,
        2,
        1,
    )
    assert row["orig_ip_bytes"] == 2 * (20 + 8 + 20)


def test_udp_after_the_inactivity_timeout_is_a_new_connection(tmp_path):
    frames = [udp(CLIENT, SERVER, 5000, 6000, b"x"), udp(CLIENT, SERVER, 5000, 6000, b"x")]
    frame = connections(write_pcap(tmp_path / "idle.pcap", frames, step=61.0))
    assert len(frame) == 2 and frame["orig_pkts"].tolist() == [1, 1]
    assert len(connections(tmp_path / "idle.pcap", timeouts={"udp": 120.0})) == 1


def test_icmp_echo_uses_types_as_ports(tmp_path):
    frames = [icmp_echo(CLIENT, SERVER, 8), icmp_echo(SERVER, CLIENT, 0)]
    row = only(connections(write_pcap(tmp_path / "icmp.pcap", frames)))
    assert (row["proto"], row["id.orig_h"], row["id.orig_p"], row["id.resp_p"]) == (
        "icmp",
        CLIENT,
        8,
        0,
    )
    assert (row["orig_pkts"], row["resp_pkts"], row["conn_state"]) == (1, 1, "OTH")
    assert row["orig_bytes"] == row["resp_bytes"] == 32  # after the 8-byte header (type … echo seq)


def test_a_single_packet_has_no_duration_nor_payload_bytes(tmp_path):
    row = only(connections(write_pcap(tmp_path / "one.pcap", [udp(CLIENT, SERVER, 1, 2, b"z")])))
    assert math.isnan(row["duration"]) and row["orig_bytes"] is __import__("pandas").NA
    assert list(connections(tmp_path / "one.pcap").columns) == list(COLUMNS)


def test_a_cut_short_record_names_the_file_and_packet(tmp_path):
    path = write_pcap(tmp_path / "cut.pcap", [udp(CLIENT, SERVER, 1, 2, b"z" * 50)] * 3)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"cut\.pcap: packet 3 is malformed"):
        connections(path)


def test_a_file_that_is_not_a_capture_is_refused(tmp_path):
    path = tmp_path / "notes.pcap"
    path.write_bytes(b"this is not a capture at all")
    with pytest.raises(DataError, match=r"notes\.pcap: expected a pcap or pcapng capture"):
        connections(path)


def _zeek_rows(case: str, pcap: str):
    frame = connections(baseline(case, pcap))
    return {
        (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"]): r
        for r in frame.to_dict("records")
    }


def test_q_in_q_udp_counts_equal_zeek():
    rows = _zeek_rows("q-in-q", "q-in-q.pcap")
    assert set(rows) == {
        ("172.19.51.37", 47808, "172.19.51.63", 47808),
        ("193.1.186.60", 9875, "224.2.127.254", 9875),
    }
    sap = rows[("193.1.186.60", 9875, "224.2.127.254", 9875)]
    assert (sap["orig_pkts"], sap["orig_ip_bytes"], sap["orig_bytes"], sap["conn_state"]) == (
        2,
        608,
        552,
        "S0",
    )


def test_mpls_in_vlan_counts_and_flip_equal_zeek():
    rows = _zeek_rows("mpls-in-vlan", "mpls-in-vlan.pcap")
    assert [
        (k[1], r["orig_ip_bytes"], r["resp_ip_bytes"], r["history"])
        for k, r in sorted(rows.items())
    ] == [(19244, 257, 0, "D"), (32828, 0, 1500, "^d"), (61193, 710, 0, "D")]


def test_pppoe_icmpv6_and_udp_counts_equal_zeek():
    rows = _zeek_rows("pppoe", "pppoe.pcap")
    echo = rows[("fc00:0:2:100::1:1", 128, "fc00::1", 129)]
    assert (echo["orig_pkts"], echo["orig_ip_bytes"], echo["resp_pkts"], echo["resp_ip_bytes"]) == (
        5,
        500,
        5,
        500,
    )
    assert (echo["orig_bytes"], echo["duration"]) == (260, pytest.approx(0.156, abs=1e-6))
    dhcp = rows[("fe80::c801:eff:fe88:8", 547, "fe80::ce05:eff:fe88:0", 546)]
    assert (dhcp["orig_pkts"], dhcp["orig_ip_bytes"], dhcp["conn_state"]) == (2, 288, "S0")
    assert len(rows) == 7


def test_missing_syn_ftp_and_rst_cases_equal_zeek():
    (row,) = _zeek_rows("tcp-missing-syn", "missing-syn.pcap").values()
    assert (row["history"], row["conn_state"], row["orig_bytes"], row["resp_bytes"]) == (
        "^hADdFaf",
        "SF",
        98,
        9417,
    )
    assert (row["orig_ip_bytes"], row["resp_ip_bytes"], row["duration"]) == (
        670,
        9945,
        pytest.approx(1.550793, abs=1e-6),
    )
    ssh = _zeek_rows("ssh-basic", "ssh.pcap")[("192.168.2.1", 55179, "192.168.2.158", 2200)]
    assert (ssh["conn_state"], ssh["history"], ssh["orig_pkts"], ssh["resp_pkts"]) == (
        "RSTR",
        "ShADadFr",
        37,
        29,
    )


def test_unanswered_attempts_split_after_five_seconds_like_zeek():
    frame = connections(baseline("ssh-half-duplex-client", "ssh.client-side-half-duplex.pcap"))
    parts = frame[frame["id.orig_p"] == 51880]
    assert parts[["conn_state", "history", "orig_pkts", "orig_bytes"]].values.tolist() == [
        ["S0", "SAD", 19, 2493],
        ["SH", "DAF", 6, 176],
    ]
    assert len(frame) == 25


def test_linux_cooked_ipv6_and_vlan_mpls_pppoe_stacks_are_peeled(tmp_path):
    seg = dpkt.tcp.TCP(sport=40000, dport=443, flags=SYN, seq=1)
    ip6 = dpkt.ip6.IP6(
        src=socket.inet_pton(socket.AF_INET6, "2001:db8::1"),
        nxt=6,
        hlim=64,
        dst=socket.inet_pton(socket.AF_INET6, "2001:db8::2"),
        data=seg,
        plen=len(bytes(seg)),
    )
    sll = b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 6 + b"\x00\x00" + b"\x86\xdd" + bytes(ip6)
    with open(tmp_path / "sll.pcap", "wb") as fh:
        dpkt.pcap.Writer(fh, linktype=113).writepkt(sll, ts=5.0)
    row = only(connections(tmp_path / "sll.pcap"))
    assert (row["id.orig_h"], row["id.resp_p"], row["orig_ip_bytes"], row["conn_state"]) == (
        "2001:db8::1",
        443,
        40 + 20,
        "S0",
    )
    ip4 = bytes(udp(CLIENT, SERVER, 7, 9, b"p" * 10).data)
    stacked = (
        b"\x04" * 6
        + b"\x02" * 6
        + b"\x88\xa8\x00\x0a"
        + b"\x81\x00\x00\x14"
        + b"\x88\x47"
        + b"\x00\x01\x00\x40"
        + b"\x00\x02\x01\x40"
        + ip4
    )  # Q-in-Q, two MPLS labels
    pppoe = b"\x04" * 6 + b"\x02" * 6 + b"\x88\x64" + b"\x11\x00\x00\x01\x00\x20\x00\x21" + ip4
    with open(tmp_path / "stacks.pcap", "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        writer.writepkt(stacked, ts=1.0)
        writer.writepkt(pppoe, ts=1.5)
    row = only(connections(tmp_path / "stacks.pcap"))
    assert (row["orig_pkts"], row["orig_bytes"], row["orig_ip_bytes"]) == (2, 20, 2 * 38)


def test_an_originator_reset_after_an_unanswered_syn_is_rstos0(tmp_path):
    frames = [tcp(CLIENT, SERVER, 40004, 25, SYN, 9), tcp(CLIENT, SERVER, 40004, 25, RST, 10)]
    row = only(connections(write_pcap(tmp_path / "rstos0.pcap", frames)))
    assert (row["conn_state"], row["history"]) == ("RSTOS0", "SR")


def test_a_fresh_syn_after_close_starts_a_new_connection(tmp_path):
    c, s = (CLIENT, SERVER, 40005, 80), (SERVER, CLIENT, 80, 40005)
    first = [
        tcp(*c, SYN, 1),
        tcp(*s, SYN | ACK, 9),
        tcp(*c, ACK, 2),
        tcp(*c, FIN | ACK, 2),
        tcp(*s, FIN | ACK, 10),
    ]
    frame = connections(write_pcap(tmp_path / "reuse.pcap", first + [tcp(*c, SYN, 5000)]))
    assert frame["conn_state"].tolist() == ["SF", "S0"]
    assert frame["orig_pkts"].tolist() == [3, 1]
