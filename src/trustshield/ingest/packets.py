"""One link-layer frame → the IP datagram in it → its transport fields, for the pcap reader.

:func:`network_layer` peels link types Ethernet, Linux cooked capture (SLL, SLL2), raw IP and
BSD loopback, 802.1Q / Q-in-Q VLAN tags, MPLS label stacks and PPPoE sessions off a frame;
:func:`transport` reads an IPv4 / IPv6 datagram (extension headers skipped) into a packet
dict (``proto``, ``ip_version``, ``ip_len``, ``src``, ``dst``, ``sport``, ``dport``,
``payload`` and, for TCP, ``seq`` and ``flags``; for ICMP ``icmp_type`` and ``icmp_code``;
for UDP to or from a tunnel port also ``data``, the UDP payload), a fragment or an IP tunnel
packet. Lengths come from the IP header, not the capture, so a short snapshot still counts
the bytes that were sent.
"""

from __future__ import annotations

import socket
import struct

from trustshield.ingest import tunnels
from trustshield.ingest.fragments import Fragment

ETH_VLAN = (0x8100, 0x88A8, 0x9100)
ETH_MPLS = (0x8847, 0x8848)
ETH_PPPOE = 0x8864
ETH_IP4, ETH_IP6 = 0x0800, 0x86DD
IPV6_EXTENSIONS = {0, 43, 60, 44, 51}
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
#: IPv4 header fields read: version/IHL, total length, identification, flags/fragment
#: offset, protocol, addresses
IPV4_HEADER = struct.Struct("!BxHHHxBxx4s4s")
IPV6_HEADER_BYTES = 40


def network_layer(linktype: int, frame: bytes) -> bytes | None:
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


def transport(buf: bytes) -> dict | None:
    """Addresses, lengths and the transport header fields of one IP datagram, or None.
    Fragments come back as ``{"proto": "fragment", "fragment": Fragment}`` and IP-in-IP /
    GRE packets as ``{"proto": "tunnel", "ip_proto", "src", "dst", "data"}``. A fragment
    the capture cut short is not reassembled (as in Zeek): the first one is read as a packet
    of its own, later ones are skipped."""
    try:
        if buf[0] >> 4 == 4:
            vhl, ip_len, ident, frag, proto, src, dst = IPV4_HEADER.unpack_from(buf)
            addrs, head, version = (src, dst), (vhl & 0xF) * 4, 4
            if frag & 0x3FFF and len(buf) < ip_len:  # a fragment not wholly captured
                if frag & 0x1FFF:
                    return None
            elif frag & 0x3FFF:  # more fragments, or not the first
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
            if proto == 44 and len(buf) >= ip_len:
                return _ipv6_fragment(buf, head, next_at, ip_len)
            if proto == 44:  # a fragment not wholly captured: read the first one alone
                if struct.unpack_from("!H", buf, head + 2)[0] & 0xFFF8:
                    return None
                proto, head = buf[head], head + 8
        else:
            return None
    except (struct.error, IndexError):
        return None
    if proto not in PROTOS:
        if proto in tunnels.IP_PROTOS:
            return {
                "proto": "tunnel",
                "ip_proto": proto,
                "src": addrs[0],
                "dst": addrs[1],
                "data": buf[head:ip_len],
            }
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
