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
when both sides have closed or one has reset (later packets are still counted until Zeek's
close / reset delay of 5 s has passed; after it a packet starts a new connection); an
attempt the responder never answered ends ``TCP_ATTEMPT_S`` after it began (see
:mod:`trustshield.ingest.conn_tracking`). IPv4 and IPv6 fragments are reassembled
(:mod:`trustshield.ingest.fragments`): a datagram counts once, when complete, with its whole
size; one never completed is not counted. Tunnels Zeek opens by default
(:mod:`trustshield.ingest.tunnels`: GTPv1-U, IP in IP, GRE, VXLAN, Geneve) give their inner
connections too, with ``tunnel_parents`` naming the outer UDP connection's uid (or, for IP
in IP and GRE, the tunnel's own uid, which has no row, as in Zeek's tunnel.log). Packets
that are not IP or carry no TCP/UDP/ICMP (after opening tunnels) are skipped.
"""

from __future__ import annotations

import hashlib
import os
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
from trustshield.ingest.fragments import Reassembler
from trustshield.ingest.packets import network_layer, transport

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
BYTE_COUNTS = {"orig_bytes": "Int64", "resp_bytes": "Int64"}  # unset when duration is 0
#: inactivity timeouts in seconds (Zeek's defaults)
TIMEOUTS = {"tcp": 300.0, "udp": 60.0, "icmp": 60.0}
NOT_A_CAPTURE = "{path}: expected a pcap or pcapng capture; got {detail}"
BAD_PACKET = (
    "{path}: packet {number} is malformed: expected a complete capture record; got {detail}"
)
#: seconds an IP-in-IP / GRE tunnel keeps its uid without packets (Tunnel::ip_tunnel_timeout)
IP_TUNNEL_TIMEOUT_S = 24 * 3600.0


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
    DataError naming the file (and the 1-based packet number) when it is not a capture or a
    record is cut short.
    """
    tracker = _Tracker({**TIMEOUTS, **(timeouts or {})}, (tcp_close_delay, tcp_reset_delay))
    count = tracker.datagram
    for ts, ip in _ip_datagrams(path):
        count(ts, ip, None, 0)
    rows = [c.record() for c in tracker.finished()]
    if not rows:  # object columns, as pandas makes for no records
        return pd.DataFrame(columns=list(COLUMNS)).astype(BYTE_COUNTS)
    columns: dict = {col: [row[col] for row in rows] for col in COLUMNS}  # faster than records
    for col, dtype in BYTE_COUNTS.items():
        columns[col] = pd.array(columns[col], dtype=dtype)
    return pd.DataFrame(columns, columns=list(COLUMNS))


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
        self.salt = ""  # uid prefix of this capture, from the first thing named

    def datagram(self, ts: float, ip: bytes, parent: str | None, depth: int) -> None:
        """Count one IP datagram; ``parent``: uid of the tunnel it came out of; ``depth``:
        how many tunnels it is inside."""
        pkt = transport(ip)
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
        ip = data if link == "ip" else network_layer(1, data)
        if ip is not None:
            self.datagram(ts, ip, parent, depth + 1)

    def _uid(self, ts: float, key: tuple) -> str:
        """A conn.log-style uid: "C", 12 hex digits of a hash of the first connection's
        ``ts`` and ``key`` (one per capture), then how many were named before, in hex; so
        reading a file again gives the same uids and other captures give others."""
        if not self.salt:
            digest = hashlib.blake2b(repr((ts, key)).encode(), digest_size=6).hexdigest()
            self.salt = "C" + digest
        self.made += 1
        return f"{self.salt}{self.made:x}"

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
        ip = network_layer(linktype, frame)
        if ip is not None:
            yield float(ts), ip
