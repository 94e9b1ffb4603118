"""Packet captures → Zeek-style connection records (one row per connection, conn.log names).

``connections(path)`` reads a pcap or pcapng file with ``dpkt``; link types Ethernet, Linux
cooked capture (SLL, SLL2), raw IP and BSD loopback; 802.1Q / Q-in-Q VLAN tags, MPLS label
stacks and PPPoE sessions are peeled off; IPv4 and IPv6 (extension headers skipped) carry
TCP, UDP or ICMP. Connections follow Zeek's conn.log rules: TCP by 4-tuple with per-endpoint
SYN/FIN/RST state (``conn_state``, ``history``), UDP and ICMP by tuple with inactivity
timeouts; the originator is the first packet's sender, unless that packet is a SYN-ACK or an
ICMP reply, or comes from a likely server port to a non-server port (history then starts
with ``^``). ICMP uses type as ``id.orig_p`` and the counterpart type (or code) as
``id.resp_p``. Units: ``ts`` and ``duration`` in seconds, byte counts in bytes; ``duration``,
``orig_bytes`` and ``resp_bytes`` are unset (NaN / <NA>) when a connection lasted 0 s, and
``history`` is None when it has no letters, as in Zeek. A TCP connection's duration ends
when both sides have closed or one has reset (later packets are still counted); an attempt
the responder never answered ends ``TCP_ATTEMPT_S`` after it began (see
:mod:`trustshield.ingest.conn_tracking`). Packets that are
not IP, not TCP/UDP/ICMP, or later IP fragments are skipped (no reassembly).
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct

import dpkt
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest import tunnels
from trustshield.ingest.conn_tracking import (
    TCP_CLOSE_DELAY_S,
    TCP_RESET_DELAY_S,
    Connection,
    icmp_ports,
)
from trustshield.ingest.fragments import Fragment, Reassembler

COLUMNS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
)
#: inactivity timeouts in seconds (Zeek's defaults)
TIMEOUTS = {"tcp": 300.0, "udp": 60.0, "icmp": 60.0}
#: seconds after which a TCP attempt the responder never answered is over (tcp_attempt_delay)
NOT_A_CAPTURE = "{path}: expected a pcap or pcapng capture; got {detail}"
BAD_PACKET = (
    "{path}: packet {number} is malformed: expected a complete capture record; got {detail}"
)
ETH_VLAN = (0x8100, 0x88A8, 0x9100)
ETH_MPLS = (0x8847, 0x8848)
ETH_PPPOE = 0x8864
ETH_IP4, ETH_IP6 = 0x0800, 0x86DD
IPV6_EXTENSIONS = {0, 43, 60, 44, 51}
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
#: IPv4 header fields read: version/IHL, total length, identification, flags/fragment
#: offset, protocol, addresses
IPV4_HEADER = struct.Struct("!BxHHHxBxx4s4s")
#: seconds an IP-in-IP / GRE tunnel keeps its uid without packets (Tunnel::ip_tunnel_timeout)
IP_TUNNEL_TIMEOUT_S = 24 * 3600.0
UID_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
IPV6_HEADER_BYTES = 40


def connections(
    path: str | os.PathLike,
    *,
    timeouts: dict[str, float] | None = None,
    tcp_close_delay: float = TCP_CLOSE_DELAY_S,
    tcp_reset_delay: float = TCP_RESET_DELAY_S,
) -> pd.DataFrame:
    """Connection records of the capture at ``path``, ordered by first packet time.

    Columns :data:`COLUMNS`; ports and counters are integers, ``duration`` float seconds,
    ``orig_bytes``/``resp_bytes`` nullable integers, ``uid`` a string unique to the
    connection (derived from the capture, so the same file gives the same uids),
    ``tunnel_parents`` a tuple of the uids of the tunnels that carried it or None.
    ``timeouts`` overrides the inactivity timeouts in seconds per protocol (defaults
    :data:`TIMEOUTS`, Zeek's); ``tcp_close_delay`` / ``tcp_reset_delay`` how long a closed /
    reset TCP connection takes late packets (Zeek's options of those names; ``math.inf``
    keeps it open until a fresh SYN or inactivity, as flow meters without them do). Raises
    DataError naming the file (and the 1-based packet
    number) when it is not a capture or a record is cut short.
    """
    tracker = _Tracker({**TIMEOUTS, **(timeouts or {})}, (tcp_close_delay, tcp_reset_delay))
    for ts, ip in _ip_datagrams(path):
        tracker.datagram(ts, ip, None, 0)
    rows = [c.record() for c in tracker.finished()]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("orig_bytes", "resp_bytes"):
        frame[col] = frame[col].astype("Int64")
    return frame


class _Tracker:
    """Open connections, IP fragments and IP tunnels of one capture, fed one IP datagram at
    a time (outer or decapsulated)."""

    def __init__(self, idle: dict[str, float], delays: tuple[float, float]) -> None:
        self.idle, self.delays = idle, delays
        self.active: dict[tuple, Connection] = {}
        self.done: list[Connection] = []
        self.fragments = Reassembler()
        self.ip_tunnels: dict[tuple, tuple[str, float]] = {}  # address pair -> (uid, last ts)
        self.made = 0  # connections and IP tunnels named so far

    def datagram(self, ts: float, ip: bytes, parent: str | None, depth: int) -> None:
        """Count one IP datagram; ``parent``: uid of the tunnel it came out of; ``depth``:
        how many tunnels it is inside."""
        pkt = _transport(ip)
        if pkt is None:
            return
        kind = pkt["proto"]
        if kind == "fragment":
            whole = self.fragments.add(pkt["fragment"])
            if whole is not None:
                self.datagram(ts, whole, parent, depth)
            return
        if kind == "tunnel":
            inner = tunnels.ip_inner(pkt["ip_proto"], pkt["data"])
            if inner is not None and depth < tunnels.MAX_DEPTH:
                self._inner(ts, inner, self._ip_tunnel_uid(ts, pkt), depth)
            return
        key = _flow_key(pkt)
        conn = self.active.get(key)
        if conn is not None and conn.is_over_at(ts, pkt, self.idle):
            self.done.append(self.active.pop(key))
            conn = None
        if conn is None:
            conn = self.active[key] = Connection(ts, pkt, self._uid(ts, key), self.delays)
        conn.add(ts, pkt, parent)
        if "data" in pkt and conn.resp_end[1] in tunnels.UDP_PORTS and depth < tunnels.MAX_DEPTH:
            inner = tunnels.udp_inner(conn.resp_end[1], pkt["data"])
            if inner is not None:
                self._inner(ts, inner, conn.uid, depth)

    def _inner(self, ts: float, inner: tuple[str, bytes], parent: str, depth: int) -> None:
        link, data = inner
        ip = data if link == "ip" else _network_layer(1, data)
        if ip is not None:
            self.datagram(ts, ip, parent, depth + 1)

    def _uid(self, ts: float, key: tuple) -> str:
        self.made += 1
        digest = hashlib.blake2b(repr((self.made, ts, key)).encode(), digest_size=12).digest()
        number, text = int.from_bytes(digest, "big"), ""
        while number:
            number, digit = divmod(number, 62)
            text += UID_DIGITS[digit]
        return "C" + text

    def _ip_tunnel_uid(self, ts: float, pkt: dict) -> str:
        """One uid per address pair of an IP-in-IP / GRE tunnel, kept while it is active
        (Zeek's ``Tunnel::ip_tunnel_timeout``)."""
        pair = tuple(sorted((pkt["src"], pkt["dst"])))
        known = self.ip_tunnels.get(pair)
        uid = known[0] if known and ts - known[1] < IP_TUNNEL_TIMEOUT_S else self._uid(ts, pair)
        self.ip_tunnels[pair] = (uid, ts)
        return uid

    def finished(self) -> list[Connection]:
        """Every connection, ordered by first packet time."""
        return sorted([*self.done, *self.active.values()], key=lambda c: c.first_ts)


def _flow_key(pkt: dict) -> tuple:
    """Direction-free key: protocol plus the two (address, port) ends in sorted order."""
    if pkt["proto"] == "icmp":
        low, high = icmp_ports(pkt["icmp_type"], pkt["icmp_code"], pkt["ip_version"])
        return ("icmp", frozenset((pkt["src"], pkt["dst"])), min(low, high), max(low, high))
    ends = sorted([(pkt["src"], pkt["sport"]), (pkt["dst"], pkt["dport"])])
    return (pkt["proto"], *ends)


class _WholeReads:
    """File wrapper for classic pcap: a record cut short raises EOFError instead of passing
    as a short packet (reads alternate: file header, then record header, body, header, …)."""

    def __init__(self, fh) -> None:
        self._fh, self._reads = fh, 0
        self.name = getattr(fh, "name", "<capture>")

    def read(self, size: int) -> bytes:
        data = self._fh.read(size)
        self._reads += 1
        body = self._reads >= 3 and self._reads % 2 == 1
        if len(data) < size and (data or body):
            raise EOFError(f"record cut short: expected {size} bytes, found {len(data)}")
        return data


def _records(path: str | os.PathLike):
    """(packet number, ts, link type, frame bytes) for each record; DataError when malformed."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the `with fh` below
    except OSError as exc:
        raise DataError(NOT_A_CAPTURE.format(path=path, detail=exc)) from exc
    with fh:
        magic = fh.read(4)
        fh.seek(0)
        try:
            reader = (
                dpkt.pcapng.Reader(fh)
                if magic == b"\x0a\x0d\x0d\x0a"
                else dpkt.pcap.Reader(_WholeReads(fh))
            )
        except (ValueError, EOFError, dpkt.UnpackError, struct.error) as exc:
            raise DataError(
                NOT_A_CAPTURE.format(path=path, detail=f"header {magic!r} ({exc})")
            ) from exc
        linktype, packets, number = reader.datalink(), iter(reader), 0
        while True:
            number += 1
            try:
                ts, frame = next(packets)
            except StopIteration:
                return
            except (ValueError, EOFError, dpkt.UnpackError, struct.error) as exc:
                raise DataError(
                    BAD_PACKET.format(
                        path=path, number=number, detail=str(exc) or "a record cut short"
                    )
                ) from exc
            yield number, ts, linktype, frame


def _ip_datagrams(path: str | os.PathLike):
    """(ts, IP datagram bytes) of each frame that carries one; other frames are skipped."""
    for _number, ts, linktype, frame in _records(path):
        ip = _network_layer(linktype, frame)
        if ip is not None:
            yield float(ts), ip


def _network_layer(linktype: int, frame: bytes) -> bytes | None:
    """The IP datagram inside one link-layer frame, or None when there is none."""
    if linktype == 1:  # Ethernet
        return (
            _after_ethertype(struct.unpack_from("!H", frame, 12)[0], frame, 14)
            if len(frame) >= 14
            else None
        )
    if linktype == 113 and len(frame) >= 16:  # Linux SLL
        return _after_ethertype(struct.unpack_from("!H", frame, 14)[0], frame, 16)
    if linktype == 276 and len(frame) >= 20:  # Linux SLL2
        return _after_ethertype(struct.unpack_from("!H", frame, 0)[0], frame, 20)
    if linktype in (101, 12, 14, 228, 229):  # raw IP
        return frame
    if linktype == 0 and len(frame) >= 4:  # BSD loopback
        return frame[4:]
    return None


def _after_ethertype(etype: int, frame: bytes, off: int) -> bytes | None:
    """Follow VLAN tags, MPLS labels and PPPoE to the IP datagram starting at ``off``."""
    while True:
        if etype in ETH_VLAN and len(frame) >= off + 4:
            etype, off = struct.unpack_from("!H", frame, off + 2)[0], off + 4
        elif etype in ETH_MPLS:
            while len(frame) >= off + 4:
                bottom = frame[off + 2] & 1
                off += 4
                if bottom:
                    break
            return frame[off:] if len(frame) > off and frame[off] >> 4 in (4, 6) else None
        elif etype == ETH_PPPOE and len(frame) >= off + 8:
            ppp = struct.unpack_from("!H", frame, off + 6)[0]
            return frame[off + 8 :] if ppp in (0x0021, 0x0057) else None
        elif etype in (ETH_IP4, ETH_IP6):
            return frame[off:]
        else:
            return None


def _transport(buf: bytes) -> dict | None:
    """Addresses, lengths and the transport header fields of one IP datagram, or None.
    Fragments come back as ``{"proto": "fragment", "fragment": Fragment}`` and IP-in-IP /
    GRE packets as ``{"proto": "tunnel", "ip_proto", "src", "dst", "data"}``."""
    try:
        if buf[0] >> 4 == 4:
            vhl, ip_len, ident, frag, proto, src, dst = IPV4_HEADER.unpack_from(buf)
            addrs, head, version = (src, dst), (vhl & 0xF) * 4, 4
            if frag & 0x3FFF:  # more fragments, or not the first
                if head < 20:
                    return None  # a header length below the minimum: not a usable fragment
                piece = Fragment(
                    key=(4, src, dst, ident),
                    header=buf[:head],
                    offset=(frag & 0x1FFF) * 8,
                    length=max(ip_len - head, 0),
                    data=buf[head:ip_len],
                    more=bool(frag & 0x2000),
                )
                return {"proto": "fragment", "fragment": piece}
        elif buf[0] >> 4 == 6:
            if len(buf) < IPV6_HEADER_BYTES:
                return None  # cut before the end of its addresses (a short snapshot length)
            proto, head, next_at = _ipv6_upper(buf)
            addrs, ip_len, version = (
                (buf[8:24], buf[24:40]),
                40 + struct.unpack_from("!H", buf, 4)[0],
                6,
            )
            if proto == 44:
                return _ipv6_fragment(buf, head, next_at, ip_len)
        else:
            return None
    except (struct.error, IndexError):
        return None
    if proto not in PROTOS:
        if proto in tunnels.IP_PROTOS:
            return {"proto": "tunnel", "ip_proto": proto, "src": addrs[0], "dst": addrs[1],
                    "data": buf[head:ip_len]}  # fmt: skip
        return None
    return _transport_fields(buf[head:], proto, version, addrs, ip_len, ip_len - head)


def _ipv6_fragment(buf: bytes, at: int, next_at: int, ip_len: int) -> dict:
    """A fragment dict for the IPv6 packet whose fragment header starts at ``at``."""
    offlg, ident = struct.unpack_from("!HI", buf, at + 2)
    piece = Fragment(
        key=(6, buf[8:24], buf[24:40], ident),
        header=buf[:at],
        offset=offlg & 0xFFF8,
        length=max(ip_len - at - 8, 0),
        data=buf[at + 8 : ip_len],
        more=bool(offlg & 1),
        next_at=next_at,
        next_proto=buf[at],
    )
    return {"proto": "fragment", "fragment": piece}


def _ipv6_upper(buf: bytes) -> tuple[int, int, int]:
    """(upper-layer protocol, its offset, index of the byte naming it) after skipping IPv6
    extension headers; protocol 44 at a fragment header that is not atomic (offset or M
    flag set)."""
    nxt, off, at = buf[6], 40, 6
    while nxt in IPV6_EXTENSIONS:
        if nxt == 44:
            if struct.unpack_from("!H", buf, off + 2)[0] & 0xFFF9:
                return 44, off, at
            nxt, off, at = buf[off], off + 8, off
        elif nxt == 51:
            nxt, off, at = buf[off], off + (buf[off + 1] + 2) * 4, off
        else:
            nxt, off, at = buf[off], off + (buf[off + 1] + 1) * 8, off
    return nxt, off, at


def _transport_fields(
    seg: bytes, proto: int, version: int, addrs, ip_len: int, seg_len: int
) -> dict | None:
    """Packet dict for a TCP, UDP or ICMP segment (lengths from the IP header, not capture)."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    pkt = {
        "proto": PROTOS[proto],
        "ip_version": version,
        "ip_len": ip_len,
        "src": socket.inet_ntop(family, addrs[0]),
        "dst": socket.inet_ntop(family, addrs[1]),
    }
    if proto == 6 and len(seg) >= 20:
        sport, dport, seq, _ack, off_flags = struct.unpack_from("!HHIIH", seg)
        pkt.update(
            sport=sport,
            dport=dport,
            seq=seq,
            flags=off_flags & 0x3F,
            payload=max(seg_len - (off_flags >> 12) * 4, 0),
        )
    elif proto == 17 and len(seg) >= 8:
        sport, dport = struct.unpack_from("!HH", seg)
        pkt.update(sport=sport, dport=dport, payload=max(seg_len - 8, 0))
        if sport in tunnels.UDP_PORTS or dport in tunnels.UDP_PORTS:
            pkt["data"] = seg[8:seg_len]  # a tunnel's payload, opened once the responder is known
    elif proto in (1, 58) and len(seg) >= 4:
        pkt.update(icmp_type=seg[0], icmp_code=seg[1], payload=max(seg_len - 8, 0))
        pkt["sport"], pkt["dport"] = pkt["icmp_type"], pkt["icmp_code"]
    else:
        return None
    return pkt
