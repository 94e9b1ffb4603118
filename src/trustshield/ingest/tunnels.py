"""Tunnel headers Zeek decapsulates by default, for the pcap reader: what a tunnel carries.

Functions take the bytes after the outer IP or UDP header and return ``(link, inner)``:
``link`` is ``"ip"`` (``inner`` is an IPv4/IPv6 packet) or ``"ethernet"`` (``inner`` is an
Ethernet frame), or None when the bytes are not a tunnel packet Zeek would decapsulate.

- IP in IP (IP protocol 4 or 41): the payload is the inner packet.
- GRE (IP protocol 47), as Zeek's GRE analyzer: version 0 carrying IPv4/IPv6 (0x0800,
  0x86DD) or Ethernet (0x6558, transparent bridging); version 1 (PPTP's enhanced GRE,
  protocol 0x880B) carrying PPP with IPv4/IPv6. Routing present, reserved flags or other
  versions are refused; ERSPAN and Aruba are not read.
- GTPv1-U (UDP port 2152): a version-1 GTP header, message type 255 (G-PDU), optional
  sequence / N-PDU / extension headers; the inner packet must be IPv4 or IPv6.
- VXLAN (UDP port 4789, I flag set) and Geneve (UDP port 6081, version 0, protocol
  Ethernet or IP): an Ethernet frame or IP packet after the header and options.

Zeek decides on the UDP tunnels by the connection's responder port (``UDP_PORTS``); Teredo
(3544) and AYIYA (5072) are not decapsulated here. ``MAX_DEPTH`` is Zeek's
``Tunnel::max_depth``: a packet already inside that many tunnels is not opened further.
"""

from __future__ import annotations

import struct

MAX_DEPTH = 2
IP_PROTOS = frozenset({4, 41, 47})
UDP_PORTS = frozenset({2152, 4789, 6081})
ETH_TYPES = {0x0800: "ip", 0x86DD: "ip", 0x6558: "ethernet"}
GRE_ROUTING, GRE_RESERVED = 0x4000, 0x0078
GRE_OPTIONAL = (0x8000, 0x2000, 0x1000, 0x0080)  # checksum, key, sequence, acknowledgement


def _ip(inner: bytes) -> tuple[str, bytes] | None:
    return ("ip", inner) if inner and inner[0] >> 4 in (4, 6) else None


def ip_inner(proto: int, payload: bytes) -> tuple[str, bytes] | None:
    """What an IP-in-IP (4, 41) or GRE (47) payload carries, or None."""
    if proto != 47:
        return _ip(payload)
    if len(payload) < 4:
        return None
    flags, ptype = struct.unpack_from("!HH", payload)
    version = flags & 7
    if version > 1 or flags & (GRE_ROUTING | GRE_RESERVED):
        return None
    off = 4 + 4 * sum(1 for bit in GRE_OPTIONAL if flags & bit)
    if version == 1:  # enhanced GRE: a PPP header (address, control, protocol) follows
        if ptype != 0x880B or len(payload) < off + 4:
            return None
        ppp = struct.unpack_from("!H", payload, off + 2)[0]
        return _ip(payload[off + 4 :]) if ppp in (0x0021, 0x0057) else None
    link = ETH_TYPES.get(ptype)
    if link is None or len(payload) <= off:
        return None
    return _ip(payload[off:]) if link == "ip" else (link, payload[off:])


def udp_inner(port: int, payload: bytes) -> tuple[str, bytes] | None:
    """What a UDP payload to tunnel port ``port`` carries, or None."""
    if port == 2152:
        return _gtp_u(payload)
    if port == 4789:
        if len(payload) <= 8 or not payload[0] & 0x08:
            return None
        return "ethernet", payload[8:]
    if port == 6081 and len(payload) >= 8 and payload[0] >> 6 == 0:
        off = 8 + (payload[0] & 0x3F) * 4
        link = ETH_TYPES.get(struct.unpack_from("!H", payload, 2)[0])
        if link is None or len(payload) <= off:
            return None
        return _ip(payload[off:]) if link == "ip" else (link, payload[off:])
    return None


def _gtp_u(payload: bytes) -> tuple[str, bytes] | None:
    """The IP packet of a GTPv1-U G-PDU, or None."""
    if len(payload) < 8:
        return None
    flags, kind = payload[0], payload[1]
    if flags >> 5 != 1 or not flags & 0x10 or kind != 0xFF:
        return None  # not version 1 GTP (PT set), or not carrying user data
    off = 8
    if flags & 0x07:  # E, S or PN: sequence number, N-PDU number, next extension type
        if len(payload) < 12:
            return None
        off, nxt = 12, payload[11]
        while flags & 0x04 and nxt:
            if len(payload) <= off or payload[off] == 0:
                return None
            off += payload[off] * 4
            if len(payload) < off:
                return None
            nxt = payload[off - 1]
    return _ip(payload[off:])
