"""Connection state in Zeek's conn.log vocabulary, from the packets of one connection.

:class:`Connection` takes packet dicts (``proto``, ``ip_version``, ``ip_len``, ``src``,
``dst``, ``sport``, ``dport``, ``payload`` and, for TCP, ``seq`` and ``flags``; for ICMP
``icmp_type`` and ``icmp_code``) as :mod:`trustshield.ingest.pcap` reads them, and keeps
per-endpoint TCP state, Zeek's ``history`` letters and the counters; :meth:`Connection.record`
gives the conn.log row. The originator is the first packet's sender unless that packet is a
SYN-ACK or an ICMP reply, or comes from a likely server port to a non-server port (history
then starts with ``^``). An attempt the responder never answered ends :data:`TCP_ATTEMPT_S`
seconds after it began. A TCP connection is over :data:`TCP_CLOSE_DELAY_S` seconds after a
FIN or RST completed its close (both sides closed, one reset, or one closed while the other
never sent anything), and :data:`TCP_RESET_DELAY_S` seconds after a RST from a side that had
already sent its FIN while the other had not: Zeek's ``tcp_close_delay`` and
``tcp_reset_delay`` (5 s each by default), after which Zeek drops the connection's state, so
a later packet on the same 5-tuple starts a new connection. ``uid`` names a connection and
``tunnel_parents`` the uids of the tunnels its packets came through, as in conn.log.
"""

from __future__ import annotations

TCP_ATTEMPT_S = 5.0
#: seconds a closed / reset TCP connection is kept for late packets (Zeek's defaults)
TCP_CLOSE_DELAY_S = 5.0
TCP_RESET_DELAY_S = 5.0

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
#: ports of services Zeek analyses by default; a first packet from one of these to a port not
#: in the set is taken as the responder's (the connection is flipped)
SERVER_PORTS = frozenset(
    {
        21,
        22,
        23,
        25,
        53,
        80,
        110,
        143,
        443,
        465,
        587,
        993,
        995,
        1080,
        2811,
        3128,
        3306,
        3389,
        5222,
        6667,
        8000,
        8080,
        8443,
        8888,
    }
)
#: ICMP message type -> its counterpart type, per IP version (both ways)
ICMP_PAIRS = {
    4: {8: 0, 13: 14, 15: 16, 17: 18, 10: 9},
    6: {128: 129, 133: 134, 135: 136, 130: 131, 139: 140},
}
ICMP_COUNTERPART = {
    v: {**pairs, **{b: a for a, b in pairs.items()}} for v, pairs in ICMP_PAIRS.items()
}
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
        self.did_close = False  # has sent a FIN or RST
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


class Connection:
    """One Zeek connection: its two endpoints, TCP states and history letters."""

    def __init__(
        self,
        ts: float,
        pkt: dict,
        uid: str = "",
        delays: tuple[float, float] = (TCP_CLOSE_DELAY_S, TCP_RESET_DELAY_S),
    ) -> None:
        self.first_ts = self.last_ts = ts
        self.uid, self.delays = uid, delays
        self.parents: list[str] = []  # uids of the tunnels that carried its packets
        self.closed_ts: float | None = None  # when both sides closed or one reset
        self.expires: float | None = None  # when Zeek drops it after a close or reset
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
        an unanswered TCP attempt at :data:`TCP_ATTEMPT_S`, the close or reset delay passed,
        or a fresh SYN after closing."""
        if ts - self.last_ts > idle[self.proto]:
            return True
        if self.expires is not None and ts >= self.expires:
            return True
        if self.proto != "tcp":
            return False
        if (
            ts - self.first_ts > TCP_ATTEMPT_S
            and self.resp.state == INACTIVE
            and self.orig.state in (SYN_SENT, SYN_ACK_SENT)
        ):
            return True
        return self.closed_ts is not None and pkt["flags"] & (SYN | ACK) == SYN

    def add(self, ts: float, pkt: dict, parent: str | None = None) -> None:
        """Count one packet of this connection (any direction); ``parent``: uid of the tunnel
        it came through, if any."""
        self.last_ts = ts
        if parent is not None and parent not in self.parents:
            self.parents.append(parent)
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
        before = ours.state
        _advance_state(flags, ours, peer)
        states = (ours.state, peer.state)
        if self.closed_ts is None and (RESET in states or states == (CLOSED, CLOSED)):
            self.closed_ts = self.last_ts
        if flags & (FIN | RST):
            self._schedule_removal(flags, before, ours, peer)

    def _schedule_removal(self, flags: int, before: int, ours: _Endpoint, peer: _Endpoint) -> None:
        """Zeek's close bookkeeping: a side's first FIN or RST that completes the close sets
        the removal the close delay after it; a RST after that side's own FIN while the peer
        is still open sets it the reset delay after (whichever is sooner). ``self.delays``:
        (close delay, reset delay) in seconds, by default Zeek's."""
        close_delay, reset_delay = self.delays
        if not ours.did_close:
            ours.did_close = True
            if ours.state == RESET or peer.did_close or peer.state == INACTIVE:
                self.expires = self.last_ts + close_delay
        elif flags & RST and before == CLOSED and peer.state != CLOSED:
            at = self.last_ts + reset_delay
            self.expires = at if self.expires is None else min(self.expires, at)

    def record(self) -> dict:
        """The conn.log row of this connection."""
        duration = (self.closed_ts or self.last_ts) - self.first_ts
        unset = duration <= 0
        size = (lambda e: max(e.high, 0)) if self.proto == "tcp" else (lambda e: e.payload)
        return {
            "ts": self.first_ts,
            "uid": self.uid,
            "id.orig_h": self.orig_end[0],
            "id.orig_p": self.orig_end[1],
            "id.resp_h": self.resp_end[0],
            "id.resp_p": self.resp_end[1],
            "proto": self.proto,
            "duration": float("nan") if unset else duration,
            "orig_bytes": None if unset else size(self.orig),
            "resp_bytes": None if unset else size(self.resp),
            "conn_state": _conn_state(self.proto, self.orig, self.resp, self.history),
            "history": "".join(self.history) or None,
            "orig_pkts": self.orig.pkts,
            "orig_ip_bytes": self.orig.ip_bytes,
            "resp_pkts": self.resp.pkts,
            "resp_ip_bytes": self.resp.ip_bytes,
            "tunnel_parents": tuple(self.parents) or None,
        }


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
    elif ours.state in (SYN_SENT, SYN_ACK_SENT) and peer.state in (
        SYN_SENT,
        SYN_ACK_SENT,
        ESTABLISHED,
    ):
        ours.state = ESTABLISHED
        if peer.state != ESTABLISHED:
            peer.state = ESTABLISHED


def _conn_state(proto: str, orig_end: _Endpoint, resp_end: _Endpoint, history: list[str]) -> str:
    """Zeek's conn_state: from packet presence (UDP) or the two endpoint states (TCP)."""
    if proto == "udp":
        return {(True, True): "SF", (True, False): "S0", (False, True): "SHR"}.get(
            (orig_end.pkts > 0, resp_end.pkts > 0), "OTH"
        )
    if proto != "tcp":
        return "OTH"
    orig, resp = orig_end.state, resp_end.state
    orig_idle, resp_idle = orig in (INACTIVE, PARTIAL), resp in (INACTIVE, PARTIAL)
    if resp == RESET:
        if orig in (SYN_SENT, SYN_ACK_SENT) or (
            orig == RESET and orig_end.high <= 0 and resp_end.high <= 0
        ):
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
