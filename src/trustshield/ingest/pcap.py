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

import os
import socket
import struct

import dpkt
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.conn_tracking import Connection, icmp_ports

COLUMNS = (
    "ts",
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
#: IPv4 header fields read: version/IHL, total length, flags/fragment offset, protocol, addresses
IPV4_HEADER = struct.Struct("!BxHxxHxBxx4s4s")
IPV6_HEADER_BYTES = 40


def connections(
    path: str | os.PathLike, *, timeouts: dict[str, float] | None = None
) -> pd.DataFrame:
    """Connection records of the capture at ``path``, ordered by first packet time.

    Columns :data:`COLUMNS`; ports and counters are integers, ``duration`` float seconds,
    ``orig_bytes``/``resp_bytes`` nullable integers. ``timeouts`` overrides the inactivity
    timeouts in seconds per protocol (defaults :data:`TIMEOUTS`, Zeek's). Raises DataError
    naming the file (and the 1-based packet number) when it is not a capture or a record
    is cut short.
    """
    idle = {**TIMEOUTS, **(timeouts or {})}
    active: dict[tuple, Connection] = {}
    done: list[Connection] = []
    for ts, pkt in _ip_packets(path):
        key = _flow_key(pkt)
        conn = active.get(key)
        if conn is not None and conn.is_over_at(ts, pkt, idle):
            done.append(active.pop(key))
            conn = None
        if conn is None:
            conn = active[key] = Connection(ts, pkt)
        conn.add(ts, pkt)
    done.extend(active.values())
    rows = [c.record() for c in sorted(done, key=lambda c: c.first_ts)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("orig_bytes", "resp_bytes"):
        frame[col] = frame[col].astype("Int64")
    return frame


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


def _ip_packets(path: str | os.PathLike):
    """(ts, packet dict) for each TCP/UDP/ICMP packet; other packets are skipped."""
    for _number, ts, linktype, frame in _records(path):
        ip = _network_layer(linktype, frame)
        if ip is None:
            continue
        pkt = _transport(ip)
        if pkt is not None:
            yield float(ts), pkt


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
    """Addresses, lengths and the transport header fields of one IP datagram, or None."""
    try:
        if buf[0] >> 4 == 4:
            vhl, ip_len, frag, proto, src, dst = IPV4_HEADER.unpack_from(buf)
            if frag & 0x1FFF:
                return None  # a later fragment: its transport header is in the first one
            addrs, head, version = (src, dst), (vhl & 0xF) * 4, 4
        elif buf[0] >> 4 == 6:
            if len(buf) < IPV6_HEADER_BYTES:
                return None  # cut before the end of its addresses (a short snapshot length)
            proto, head = _ipv6_upper(buf)
            addrs, ip_len, version = (
                (buf[8:24], buf[24:40]),
                40 + struct.unpack_from("!H", buf, 4)[0],
                6,
            )
        else:
            return None
    except (struct.error, IndexError):
        return None
    if proto not in PROTOS:
        return None
    return _transport_fields(buf[head:], proto, version, addrs, ip_len, ip_len - head)


def _ipv6_upper(buf: bytes) -> tuple[int, int]:
    """(upper-layer protocol, its offset) after skipping IPv6 extension headers; protocol
    -1 for a later fragment (its transport header is in the first one)."""
    nxt, off = buf[6], 40
    while nxt in IPV6_EXTENSIONS:
        if nxt == 44:
            if struct.unpack_from("!H", buf, off + 2)[0] >> 3:
                return -1, off
            nxt, off = buf[off], off + 8
        elif nxt == 51:
            nxt, off = buf[off], off + (buf[off + 1] + 2) * 4
        else:
            nxt, off = buf[off], off + (buf[off + 1] + 1) * 8
    return nxt, off


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
    elif proto in (1, 58) and len(seg) >= 4:
        pkt.update(icmp_type=seg[0], icmp_code=seg[1], payload=max(seg_len - 8, 0))
        pkt["sport"], pkt["dport"] = pkt["icmp_type"], pkt["icmp_code"]
    else:
        return None
    return pkt
