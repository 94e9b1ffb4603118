"""pcap → connection records, Zeek's rules beyond one packet per 5-tuple: the close / reset
delay of TCP, IP fragment reassembly and tunnel decapsulation (GTP-U, IP in IP, GRE, VXLAN).
Every capture is built here with dpkt and written to tmp_path."""

import socket
import struct

import dpkt
import pytest

from trustshield.ingest.conn_tracking import TCP_CLOSE_DELAY_S, TCP_RESET_DELAY_S
from trustshield.ingest.fragments import Fragment, Reassembler
from trustshield.ingest.pcap import connections

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
SYN, FIN, RST, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST, dpkt.tcp.TH_ACK
MAC_A, MAC_B = b"\x02" * 6, b"\x04" * 6


def ip4(src, dst, proto, payload, ident=1, frag=0, length=None):
    """IPv4 packet bytes; ``frag``: the flags/fragment-offset field."""
    ip = dpkt.ip.IP(
        src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, id=ident, data=payload
    )
    ip.len = length if length is not None else 20 + len(payload)
    packet = bytearray(bytes(ip))
    struct.pack_into("!H", packet, 6, frag)  # flags / fragment offset (checksum not checked)
    return bytes(packet)


def tcp(src, dst, sport, dport, flags, seq, payload=b""):
    seg = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=1, data=payload)
    return ip4(src, dst, dpkt.ip.IP_PROTO_TCP, bytes(seg))


def udp_segment(sport, dport, payload):
    seg = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    seg.ulen = len(seg)
    return bytes(seg)


def udp(src, dst, sport, dport, payload):
    return ip4(src, dst, dpkt.ip.IP_PROTO_UDP, udp_segment(sport, dport, payload))


def ether(ip):
    kind = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    return bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, type=kind, data=ip))


def write(path, packets):
    """packets: (ts, IP packet bytes) pairs, each written as an Ethernet frame."""
    with open(path, "wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for ts, ip in packets:
            writer.writepkt(ether(ip), ts=ts)
    return path


# --- TCP close and reset delays ---------------------------------------------------------


def _closed_then_late(close_flags, late_after):
    """Handshake, a close at t=1003 (``close_flags`` per side), then a client ACK
    ``late_after`` seconds after the close."""
    c, s = (CLIENT, SERVER, 40001, 80), (SERVER, CLIENT, 80, 40001)
    packets = [
        (1000.0, tcp(*c, SYN, 1)),
        (1001.0, tcp(*s, SYN | ACK, 9)),
        (1002.0, tcp(*c, ACK, 2)),
    ]
    for i, (side, flags) in enumerate(close_flags):
        packets.append((1002.5 + 0.5 * i, tcp(*(c if side == "c" else s), flags, 2)))
    closed_at = packets[-1][0]
    packets.append((closed_at + late_after, tcp(*c, ACK, 3)))
    return packets


@pytest.mark.parametrize(
    ("close", "option"),
    [
        ([("c", FIN | ACK), ("s", FIN | ACK)], "tcp_close_delay"),
        ([("s", RST)], "tcp_close_delay"),  # a RST completes the close at once
        ([("c", FIN | ACK), ("c", RST)], "tcp_reset_delay"),  # RST after its own FIN
    ],
    ids=["fin-fin", "rst", "fin-then-rst"],
)
def test_a_late_packet_joins_the_closed_connection_only_within_the_delay(tmp_path, close, option):
    delay = {"tcp_close_delay": TCP_CLOSE_DELAY_S, "tcp_reset_delay": TCP_RESET_DELAY_S}[option]
    assert delay == 5.0  # Zeek's default
    from_client = 2 + sum(side == "c" for side, _ in close)  # SYN, ACK and its closing packets
    within = connections(write(tmp_path / "within.pcap", _closed_then_late(close, delay - 0.5)))
    assert len(within) == 1 and within.iloc[0]["orig_pkts"] == from_client + 1
    at = connections(write(tmp_path / "at.pcap", _closed_then_late(close, delay)))
    assert len(at) == 2  # Zeek fires timers due at or before a packet's time first
    after_path = write(tmp_path / "after.pcap", _closed_then_late(close, delay + 0.5))
    after = connections(after_path)
    assert len(after) == 2
    first, late = after.iloc[0], after.iloc[1]
    assert first["orig_pkts"] == from_client
    assert (late["orig_pkts"], late["resp_pkts"], late["history"]) == (1, 0, "A")
    assert first["uid"] != late["uid"] and first["conn_state"] == within.iloc[0]["conn_state"]
    assert len(connections(after_path, **{option: float("inf")})) == 1  # that delay decides


def test_a_half_close_to_a_silent_peer_also_ends_after_the_delay(tmp_path):
    """A FIN whose peer never sent anything completes the close for Zeek."""
    c = (CLIENT, SERVER, 40002, 80)
    packets = [(1000.0, tcp(*c, FIN | ACK, 5)), (1004.0, tcp(*c, FIN | ACK, 5))]
    packets.append((1010.0, tcp(*c, FIN | ACK, 5)))
    frame = connections(write(tmp_path / "half.pcap", packets))
    assert frame["orig_pkts"].tolist() == [2, 1] and frame["uid"].nunique() == 2


def test_the_delays_can_be_switched_off_for_flow_meters_without_them(tmp_path):
    path = write(tmp_path / "late.pcap", _closed_then_late([("s", RST)], 30.0))
    kept = connections(path, tcp_close_delay=float("inf"), tcp_reset_delay=float("inf"))
    assert len(kept) == 1 and len(connections(path)) == 2


# --- IP fragments -----------------------------------------------------------------------


def fragments(src, dst, segment, sizes, ident, proto=dpkt.ip.IP_PROTO_UDP):
    """IPv4 fragments of ``segment`` (transport header + payload), cut at ``sizes`` bytes."""
    out, at = [], 0
    for i, size in enumerate(sizes):
        more = 0x2000 if i < len(sizes) - 1 else 0
        out.append(ip4(src, dst, proto, segment[at : at + size], ident, more | at // 8))
        at += size
    return out


def test_out_of_order_fragments_count_once_with_the_full_size(tmp_path):
    segment = udp_segment(5000, 53, bytes(range(256)) * 12)  # 8 + 3072 bytes
    first, middle, last = fragments(CLIENT, SERVER, segment, [1480, 1480, 120], ident=7)
    frame = connections(write(tmp_path / "frag.pcap", [(1.0, last), (1.1, first), (1.2, middle)]))
    row = frame.iloc[0]
    assert len(frame) == 1
    assert (row["orig_pkts"], row["orig_ip_bytes"], row["id.resp_p"]) == (1, 20 + 3080, 53)
    assert row["ts"] == pytest.approx(1.2)  # counted when the datagram completes


def test_a_datagram_missing_a_fragment_is_not_counted(tmp_path):
    whole = fragments(CLIENT, SERVER, udp_segment(5001, 53, b"a" * 2000), [1000, 1008], 8)
    holed = fragments(SERVER, CLIENT, udp_segment(6000, 53, b"b" * 3000), [1000, 1000, 1008], 9)
    packets = [(1.0, whole[0]), (1.1, holed[0]), (1.2, holed[2]), (1.3, whole[1])]
    frame = connections(write(tmp_path / "holed.pcap", packets))
    assert frame["id.orig_p"].tolist() == [5001]
    assert frame["orig_ip_bytes"].tolist() == [20 + 2008]


def test_overlapping_fragments_keep_the_bytes_that_came_first(tmp_path):
    segment = udp_segment(5002, 53, b"x" * 1592)  # 1600 bytes
    head = ip4(CLIENT, SERVER, 17, segment[:1000], 11, 0x2000)
    overlap = ip4(CLIENT, SERVER, 17, b"Y" * 200 + segment[1000:1600], 11, 800 // 8)
    frame = connections(write(tmp_path / "overlap.pcap", [(1.0, head), (1.1, overlap)]))
    assert frame[["orig_pkts", "orig_ip_bytes"]].values.tolist() == [[1, 1620]]
    key = (4, b"a", b"b", 1)
    joiner = Reassembler()
    assert joiner.add(Fragment(key, bytes(head[:20]), 0, 8, b"first...", True)) is None
    whole = joiner.add(Fragment(key, bytes(head[:20]), 4, 8, b"SECOND!!", False))
    assert whole is not None and whole[20:] == b"first...ND!!"
    assert struct.unpack_from("!HHH", whole, 2) == (32, 11, 0) and joiner.pending == 0


def test_fragments_the_capture_cut_short_are_not_reassembled(tmp_path):
    """As Zeek: the first fragment is read on its own, later ones are skipped."""
    segment = udp_segment(5004, 53, b"c" * 2000)
    first, second = fragments(CLIENT, SERVER, segment, [1000, 1008], ident=12)
    with open(tmp_path / "short.pcap", "wb") as fh:
        dpkt.pcap.Writer(fh, snaplen=200)  # the file header; records cut at 200 bytes below
        for ts, ip in ((1.0, first), (1.1, second)):
            frame = ether(ip)
            fh.write(struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), 200, len(frame)))
            fh.write(frame[:200])
    row = connections(tmp_path / "short.pcap").iloc[0]
    assert (row["orig_pkts"], row["orig_ip_bytes"], row["id.resp_p"]) == (1, 1020, 53)


def test_ipv6_fragments_are_reassembled(tmp_path):
    segment = udp_segment(5003, 53, b"z" * 1800)
    src, dst = (socket.inet_pton(socket.AF_INET6, a) for a in ("2001:db8::1", "2001:db8::2"))

    def piece(offset, data, more):
        fragment_header = struct.pack("!BBHI", 17, 0, offset | more, 0xABCD)
        body = fragment_header + data
        return struct.pack("!IHBB", 6 << 28, len(body), 44, 64) + src + dst + body

    packets = [(1.0, piece(1200, segment[1200:], 0)), (1.1, piece(0, segment[:1200], 1))]
    row = connections(write(tmp_path / "frag6.pcap", packets)).iloc[0]
    assert (row["id.orig_h"], row["orig_pkts"], row["orig_ip_bytes"]) == ("2001:db8::1", 1, 1848)


# --- tunnels ----------------------------------------------------------------------------


def gtp_u(inner, extension=False):
    """A GTPv1-U G-PDU around ``inner``, optionally with one extension header."""
    if not extension:
        return struct.pack("!BBHI", 0x30, 0xFF, len(inner), 0x1234) + inner
    ext = bytes([1, 0x00, 0x05, 0])  # length 1 (4 bytes), content, next type 0
    rest = struct.pack("!HBB", 0, 0, 0x85) + ext + inner
    return struct.pack("!BBHI", 0x34, 0xFF, len(rest), 0x1234) + rest


@pytest.mark.parametrize("extension", [False, True])
def test_gtp_u_gives_the_outer_udp_and_the_inner_tcp_connection(tmp_path, extension):
    enb, sgw, phone, web = "192.0.2.1", "192.0.2.2", "100.64.0.9", "198.51.100.7"
    inner = [
        tcp(phone, web, 41000, 443, SYN, 100),
        tcp(web, phone, 443, 41000, SYN | ACK, 700),
        tcp(phone, web, 41000, 443, ACK, 101),
    ]
    sides = [(enb, sgw), (sgw, enb), (enb, sgw)]
    packets = [
        (10.0 + i, udp(a, b, 2152, 2152, gtp_u(p, extension)))
        for i, ((a, b), p) in enumerate(zip(sides, inner, strict=True))
    ]
    frame = connections(write(tmp_path / "gtp.pcap", packets)).set_index("proto")
    assert sorted(frame.index) == ["tcp", "udp"]
    outer, phone_conn = frame.loc["udp"], frame.loc["tcp"]
    assert (outer["id.resp_p"], outer["orig_pkts"], outer["resp_pkts"]) == (2152, 2, 1)
    assert outer["tunnel_parents"] is None
    assert (phone_conn["id.orig_h"], phone_conn["id.resp_h"], phone_conn["id.resp_p"]) == (
        phone,
        web,
        443,
    )
    assert (phone_conn["history"], phone_conn["orig_pkts"], phone_conn["resp_pkts"]) == (
        "ShA",
        2,
        1,
    )
    assert phone_conn["tunnel_parents"] == (outer["uid"],)


def test_gtp_control_messages_and_other_ports_are_not_opened(tmp_path):
    inner = tcp("100.64.0.9", "198.51.100.7", 41000, 443, SYN, 1)
    echo = struct.pack("!BBHI", 0x32, 0x01, 4, 0) + b"\0" * 4  # an echo request
    packets = [
        (1.0, udp("192.0.2.1", "192.0.2.2", 2152, 2152, echo)),
        (2.0, udp("192.0.2.1", "192.0.2.3", 40000, 9999, gtp_u(inner))),
    ]
    assert connections(write(tmp_path / "no.pcap", packets))["proto"].tolist() == ["udp", "udp"]


GRE_KEY = 0x2000  # a GRE header with the key field present (4 more bytes)


@pytest.mark.parametrize(
    ("proto", "gre"),
    [
        (4, None),
        (47, struct.pack("!HH", 0, 0x0800)),
        (47, struct.pack("!HHI", GRE_KEY, 0x0800, 7)),
        (47, struct.pack("!HH", 0, 0x6558)),  # transparent Ethernet bridging
    ],
    ids=["ip-in-ip", "gre", "gre-key", "gre-ethernet"],
)
def test_ip_in_ip_and_gre_give_inner_connections_with_one_tunnel_uid(tmp_path, proto, gre):
    def wrap(inner):
        if gre is not None:
            inner = gre + (ether(inner) if gre.endswith(b"\x65\x58") else inner)
        return ip4("203.0.113.1", "203.0.113.2", proto, inner)

    packets = [
        (1.0, wrap(udp(CLIENT, SERVER, 5000, 53, b"q" * 30))),
        (2.0, wrap(udp(CLIENT, SERVER, 5001, 53, b"q" * 30))),
    ]
    frame = connections(write(tmp_path / "ipip.pcap", packets))
    assert frame["id.orig_p"].tolist() == [5000, 5001]
    assert frame["orig_ip_bytes"].tolist() == [58, 58]  # inner IP bytes
    parents = frame["tunnel_parents"].tolist()
    assert parents[0] == parents[1] and len(parents[0]) == 1
    assert parents[0][0] not in set(frame["uid"])  # the tunnel's uid (tunnel.log), no conn


@pytest.mark.parametrize(
    ("port", "header"),
    [
        (4789, struct.pack("!BxxxI", 0x08, 42 << 8)),
        (6081, struct.pack("!BBHI", 0, 0, 0x6558, 42 << 8)),
    ],
    ids=["vxlan", "geneve"],
)
def test_vxlan_and_geneve_carry_an_ethernet_frame(tmp_path, port, header):
    frame = ether(udp(CLIENT, SERVER, 5000, 53, b"q" * 30))
    packets = [(1.0, udp("203.0.113.1", "203.0.113.2", 33333, port, header + frame))]
    out = connections(write(tmp_path / "overlay.pcap", packets)).set_index("id.resp_p")
    assert out.loc[53, "tunnel_parents"] == (out.loc[port, "uid"],)
    assert out.loc[53, "orig_ip_bytes"] == 58


def test_tunnels_are_opened_at_most_two_deep(tmp_path):
    """Zeek's Tunnel::max_depth (2): a third tunnel inside two is counted but not opened."""
    inner = udp(CLIENT, SERVER, 5000, 53, b"q" * 30)
    for depth in range(3):
        inner = ip4(f"203.0.113.{depth + 1}", f"198.51.100.{depth + 1}", 4, inner)
    frame = connections(write(tmp_path / "deep.pcap", [(1.0, inner)]))
    assert frame.empty  # IP in IP in IP in IP: the UDP inside three IP tunnels stays unread
    twice = ip4(
        "203.0.113.9", "198.51.100.9", 4, ip4(CLIENT, SERVER, 4, udp(CLIENT, SERVER, 1, 53, b""))
    )
    assert connections(write(tmp_path / "two.pcap", [(1.0, twice)]))["id.resp_p"].tolist() == [53]
