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
the responder never answered ends :data:`TCP_ATTEMPT_S` after it began. Packets that are
not IP, not TCP/UDP/ICMP, or later IP fragments are skipped (no reassembly).
"""

from __future__ import annotations

import os
import socket
import struct

import dpkt
import pandas as pd

from trustshield.errors import DataError

COLUMNS = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration",
           "orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "orig_ip_bytes",
           "resp_pkts", "resp_ip_bytes")
#: inactivity timeouts in seconds (Zeek's defaults)
TIMEOUTS = {"tcp": 300.0, "udp": 60.0, "icmp": 60.0}
#: seconds after which a TCP attempt the responder never answered is over (tcp_attempt_delay)
TCP_ATTEMPT_S = 5.0
NOT_A_CAPTURE = "{path}: expected a pcap or pcapng capture; got {detail}"
BAD_PACKET = "{path}: packet {number} is malformed: expected a complete capture record; got {detail}"
ETH_VLAN = (0x8100, 0x88A8, 0x9100)
ETH_MPLS = (0x8847, 0x8848)
ETH_PPPOE = 0x8864
ETH_IP4, ETH_IP6 = 0x0800, 0x86DD
IPV6_EXTENSIONS = {0, 43, 60, 44, 51}
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
#: IPv4 header fields read: version/IHL, total length, flags/fragment offset, protocol, addresses
IPV4_HEADER = struct.Struct("!BxHxxHxBxx4s4s")


def connections(path: str | os.PathLike, *,
                timeouts: dict[str, float] | None = None) -> pd.DataFrame:
    """Connection records of the capture at ``path``, ordered by first packet time.

    Columns :data:`COLUMNS`; ports and counters are integers, ``duration`` float seconds,
    ``orig_bytes``/``resp_bytes`` nullable integers. ``timeouts`` overrides the inactivity
    timeouts in seconds per protocol (defaults :data:`TIMEOUTS`, Zeek's). Raises DataError
    naming the file (and the 1-based packet number) when it is not a capture or a record
    is cut short.
    """
    idle = {**TIMEOUTS, **(timeouts or {})}
    active: dict[tuple, _Connection] = {}
    done: list[_Connection] = []
    for ts, pkt in _ip_packets(path):
        key = _flow_key(pkt)
        conn = active.get(key)
        if conn is not None and conn.is_over_at(ts, pkt, idle):
            done.append(active.pop(key))
            conn = None
        if conn is None:
            conn = active[key] = _Connection(ts, pkt)
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
        fh = open(path, "rb")
    except OSError as exc:
        raise DataError(NOT_A_CAPTURE.format(path=path, detail=exc)) from exc
    with fh:
        magic = fh.read(4)
        fh.seek(0)
        try:
            reader = (dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a"
                      else dpkt.pcap.Reader(_WholeReads(fh)))
        except (ValueError, EOFError, dpkt.UnpackError, struct.error) as exc:
            raise DataError(NOT_A_CAPTURE.format(path=path, detail=f"header {magic!r} ({exc})"))
        linktype, packets, number = reader.datalink(), iter(reader), 0
        while True:
            number += 1
            try:
                ts, frame = next(packets)
            except StopIteration:
                return
            except (ValueError, EOFError, dpkt.UnpackError, struct.error) as exc:
                raise DataError(BAD_PACKET.format(path=path, number=number, detail=exc)) from exc
            yield number, ts, linktype, frame


def _ip_packets(path: str | os.PathLike):
    """(ts, packet dict) for each TCP/UDP/ICMP packet; other packets are skipped."""
    for number, ts, linktype, frame in _records(path):
        ip = _network_layer(linktype, frame)
        if ip is None:
            continue
        pkt = _transport(ip)
        if pkt is not None:
            yield float(ts), pkt


def _network_layer(linktype: int, frame: bytes) -> bytes | None:
    """The IP datagram inside one link-layer frame, or None when there is none."""
    if linktype == 1:  # Ethernet
        return _after_ethertype(struct.unpack_from("!H", frame, 12)[0], frame, 14) \
            if len(frame) >= 14 else None
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
            return frame[off + 8:] if ppp in (0x0021, 0x0057) else None
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
            proto, head = _ipv6_upper(buf)
            addrs, ip_len, version = (buf[8:24], buf[24:40]), 40 + struct.unpack_from("!H", buf, 4)[0], 6
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


def _transport_fields(seg: bytes, proto: int, version: int, addrs, ip_len: int,
                      seg_len: int) -> dict | None:
    """Packet dict for a TCP, UDP or ICMP segment (lengths from the IP header, not capture)."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    pkt = {"proto": PROTOS[proto], "ip_version": version, "ip_len": ip_len,
           "src": socket.inet_ntop(family, addrs[0]), "dst": socket.inet_ntop(family, addrs[1])}
    if proto == 6 and len(seg) >= 20:
        sport, dport, seq, _ack, off_flags = struct.unpack_from("!HHIIH", seg)
        pkt.update(sport=sport, dport=dport, seq=seq, flags=off_flags & 0x3F,
                   payload=max(seg_len - (off_flags >> 12) * 4, 0))
    elif proto == 17 and len(seg) >= 8:
        sport, dport = struct.unpack_from("!HH", seg)
        pkt.update(sport=sport, dport=dport, payload=max(seg_len - 8, 0))
    elif proto in (1, 58) and len(seg) >= 4:
        pkt.update(icmp_type=seg[0], icmp_code=seg[1], payload=max(seg_len - 8, 0))
        pkt["sport"], pkt["dport"] = pkt["icmp_type"], pkt["icmp_code"]
    else:
        return None
    return pkt


# --- connection state (Zeek's conn.log vocabulary) -------------------------------------------

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
#: ports of services Zeek analyses by default; a first packet from one of these to a port not
#: in the set is taken as the responder's (the connection is flipped)
SERVER_PORTS = frozenset({21, 22, 23, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 1080,
                          2811, 3128, 3306, 3389, 5222, 6667, 8000, 8080, 8443, 8888})
#: ICMP message type -> its counterpart type, per IP version (both ways)
ICMP_PAIRS = {4: {8: 0, 13: 14, 15: 16, 17: 18, 10: 9},
              6: {128: 129, 133: 134, 135: 136, 130: 131, 139: 140}}
ICMP_COUNTERPART = {v: {**pairs, **{b: a for a, b in pairs.items()}}
                    for v, pairs in ICMP_PAIRS.items()}
#: reply types: a connection whose first packet is one of these is flipped
ICMP_REPLIES = {4: frozenset({0, 14, 16, 18}), 6: frozenset({129, 140})}


def icmp_ports(icmp_type: int, code: int, version: int) -> tuple[int, int]:
    """(orig_p, resp_p) of an ICMP message as Zeek logs them: the type and its counterpart
    type (echo request 8 ↔ reply 0, …; a reply gives (request, reply)); otherwise type, code."""
    if icmp_type in ICMP_REPLIES[version]:
        return ICMP_COUNTERPART[version][icmp_type], icmp_type
    return icmp_type, ICMP_COUNTERPART[version].get(icmp_type, code)


def _is_icmp_reply(pkt: dict) -> bool:
    return pkt["icmp_type"] in ICMP_REPLIES[pkt["ip_version"]]


def _starts_flipped(pkt: dict) -> bool:
    """True when the first packet seen was sent by the responder."""
    if pkt["proto"] == "icmp":
        return _is_icmp_reply(pkt)
    if pkt["proto"] == "tcp" and pkt["flags"] & SYN:
        return bool(pkt["flags"] & ACK)
    return pkt["sport"] in SERVER_PORTS and pkt["dport"] not in SERVER_PORTS


class _Endpoint:
    """One side's counters: packets, IP bytes, payload bytes (TCP: from sequence numbers)."""

    def __init__(self) -> None:
        self.pkts = self.ip_bytes = self.payload = 0
        self.state = INACTIVE
        self.base: int | None = None  # sequence number of the first payload byte
        self.high = 0  # highest end of payload seen, relative to base

    def track_sequence(self, pkt: dict) -> bool:
        """Advance the sequence range; True when the payload was all seen before."""
        if self.base is None:
            self.base = (pkt["seq"] + (1 if pkt["flags"] & SYN else 0)) & 0xFFFFFFFF
            if pkt["flags"] & SYN:
                return False
        rel = (pkt["seq"] + (1 if pkt["flags"] & SYN else 0) - self.base) & 0xFFFFFFFF
        rel = rel - (1 << 32) if rel >= 1 << 31 else rel
        if pkt["payload"] <= 0:  # a FIN or ACK moves no payload
            return False
        end = rel + pkt["payload"]
        retransmitted = end <= self.high
        self.high = max(self.high, end)
        return retransmitted


class _Connection:
    """One Zeek connection: its two endpoints, TCP states and history letters."""

    def __init__(self, ts: float, pkt: dict) -> None:
        self.first_ts = self.last_ts = ts
        self.closed_ts: float | None = None  # when both sides closed or one reset
        self.proto, self.flipped = pkt["proto"], _starts_flipped(pkt)
        src, dst = (pkt["src"], pkt["sport"]), (pkt["dst"], pkt["dport"])
        if pkt["proto"] == "icmp":
            sport, dport = icmp_ports(pkt["icmp_type"], pkt["icmp_code"], pkt["ip_version"])
            src, dst = (pkt["src"], sport), (pkt["dst"], dport)
            if self.flipped:
                src, dst = (pkt["dst"], sport), (pkt["src"], dport)
        elif self.flipped:
            src, dst = dst, src
        self.orig_end, self.resp_end = src, dst
        self.orig, self.resp = _Endpoint(), _Endpoint()
        self.history: list[str] = ["^"] if self.flipped and pkt["proto"] == "tcp" else []

    def _from_orig(self, pkt: dict) -> bool:
        if self.proto != "icmp":
            return (pkt["src"], pkt["sport"]) == self.orig_end
        if pkt["src"] == pkt["dst"]:
            return not _is_icmp_reply(pkt)
        return pkt["src"] == self.orig_end[0]

    def is_over_at(self, ts: float, pkt: dict, idle: dict[str, float]) -> bool:
        """True when Zeek would have ended this connection before this packet: inactivity,
        an unanswered TCP attempt at :data:`TCP_ATTEMPT_S`, or a fresh SYN after closing."""
        if ts - self.last_ts > idle[self.proto]:
            return True
        if self.proto != "tcp":
            return False
        if (ts - self.first_ts > TCP_ATTEMPT_S and self.resp.state == INACTIVE
                and self.orig.state in (SYN_SENT, SYN_ACK_SENT)):
            return True
        return self.closed_ts is not None and pkt["flags"] & (SYN | ACK) == SYN

    def add(self, ts: float, pkt: dict) -> None:
        """Count one packet of this connection (any direction)."""
        self.last_ts = ts
        is_orig = self._from_orig(pkt)
        ours, peer = (self.orig, self.resp) if is_orig else (self.resp, self.orig)
        ours.pkts += 1
        ours.ip_bytes += pkt["ip_len"]
        ours.payload += pkt["payload"]
        if self.proto == "tcp":
            self._tcp(pkt, ours, peer, is_orig)
        elif self.proto == "udp" and pkt["payload"] > 0:
            self._letter("D", is_orig)

    def _letter(self, letter: str, is_orig: bool) -> None:
        letter = letter if is_orig else letter.lower()
        if letter not in self.history:
            self.history.append(letter)

    def _tcp(self, pkt: dict, ours: _Endpoint, peer: _Endpoint, is_orig: bool) -> None:
        flags = pkt["flags"]
        if ours.track_sequence(pkt):
            self._letter("T", is_orig)
        if flags & SYN:
            self._letter("H" if flags & ACK else "S", is_orig)
        if flags & FIN:
            self._letter("F", is_orig)
        if flags & RST:
            self._letter("R", is_orig)
        if pkt["payload"] > 0:
            self._letter("D", is_orig)
        elif flags & ACK and not flags & (SYN | FIN | RST):
            self._letter("A", is_orig)
        _advance_state(flags, ours, peer)
        states = (ours.state, peer.state)
        if self.closed_ts is None and (RESET in states or states == (CLOSED, CLOSED)):
            self.closed_ts = self.last_ts

    def record(self) -> dict:
        """The conn.log row of this connection."""
        duration = (self.closed_ts or self.last_ts) - self.first_ts
        unset = duration <= 0
        size = (lambda e: max(e.high, 0)) if self.proto == "tcp" else (lambda e: e.payload)
        return {"ts": self.first_ts, "id.orig_h": self.orig_end[0], "id.orig_p": self.orig_end[1],
                "id.resp_h": self.resp_end[0], "id.resp_p": self.resp_end[1], "proto": self.proto,
                "duration": float("nan") if unset else duration,
                "orig_bytes": None if unset else size(self.orig),
                "resp_bytes": None if unset else size(self.resp),
                "conn_state": _conn_state(self.proto, self.orig, self.resp, self.history),
                "history": "".join(self.history) or None, "orig_pkts": self.orig.pkts,
                "orig_ip_bytes": self.orig.ip_bytes, "resp_pkts": self.resp.pkts,
                "resp_ip_bytes": self.resp.ip_bytes}


def _advance_state(flags: int, ours: _Endpoint, peer: _Endpoint) -> None:
    """Move the sending endpoint (and, on the handshake's last ACK, its peer) along."""
    if flags & RST:
        ours.state = RESET
    elif flags & SYN:
        if ours.state == INACTIVE:
            ours.state = SYN_ACK_SENT if flags & ACK else SYN_SENT
    elif flags & FIN:
        ours.state = CLOSED
    elif ours.state == INACTIVE:
        ours.state = PARTIAL
    elif ours.state in (SYN_SENT, SYN_ACK_SENT) and peer.state in (SYN_SENT, SYN_ACK_SENT,
                                                                     ESTABLISHED):
        ours.state = ESTABLISHED
        if peer.state != ESTABLISHED:
            peer.state = ESTABLISHED


def _conn_state(proto: str, orig_end: _Endpoint, resp_end: _Endpoint, history: list[str]) -> str:
    """Zeek's conn_state: from packet presence (UDP) or the two endpoint states (TCP)."""
    if proto == "udp":
        return {(True, True): "SF", (True, False): "S0", (False, True): "SHR"}.get(
            (orig_end.pkts > 0, resp_end.pkts > 0), "OTH")
    if proto != "tcp":
        return "OTH"
    orig, resp = orig_end.state, resp_end.state
    orig_idle, resp_idle = orig in (INACTIVE, PARTIAL), resp in (INACTIVE, PARTIAL)
    if resp == RESET:
        if orig in (SYN_SENT, SYN_ACK_SENT) or (orig == RESET and orig_end.high <= 0
                                                 and resp_end.high <= 0):
            return "REJ"
        return "RSTRH" if orig_idle else "RSTR"
    if orig == RESET:
        if resp_idle:  # RSTOS0: a SYN, then the originator's RST, never a SYN-ACK
            syn_only = [h for h in history if h != "^"][:1] == ["S"] and "h" not in history
            return "RSTOS0" if syn_only else "OTH"
        return "RSTO"
    if (orig, resp) == (CLOSED, CLOSED):
        return "SF"
    if orig == CLOSED:
        return "SH" if resp_idle else "S2"
    if resp == CLOSED:
        return "SHR" if orig_idle else "S3"
    if orig == SYN_SENT and resp == INACTIVE:
        return "S0"
    if orig == ESTABLISHED and resp == ESTABLISHED:
        return "S1"
    return "OTH"
