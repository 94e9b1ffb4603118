"""IP fragment reassembly the way Zeek does it (its ``FragReassembler``), for the pcap reader.

A :class:`Fragment` is one IPv4 fragment (MF set or a non-zero offset) or one IPv6 packet
with a non-atomic fragment header; :class:`Reassembler` collects them per datagram, keyed by
IP version, source, destination and identification, and gives back the whole datagram (bytes
of one unfragmented IP packet) once its payload is complete from byte 0 to the end the last
fragment (MF clear) states. Rules, as Zeek's: the header kept is the first-arrived
fragment's (for IPv6, the unfragmentable part, with the fragment header removed); where
fragments overlap, the bytes that arrived first are kept; a fragment reaching past the
stated end, or a later last fragment stating a larger end, moves the end out; once the
data from byte 0 reaches the end the datagram is complete, even if stray data lies beyond a
hole. Incomplete datagrams are kept until the end of the capture and never delivered
(Zeek's ``frag_timeout`` is 0 s, "never", by default). Offsets and lengths are in bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Fragment:
    """One fragment. ``header``: its IP header (IPv6: the unfragmentable part, fragment
    header left out); ``next_at``: IPv6 only, the index in ``header`` of the next-header byte
    that named the fragment header, and ``next_proto`` the protocol the fragment header
    names; ``offset`` and ``length`` of its payload within the datagram's payload (length
    from the IP header, so a short snapshot still counts its full size); ``data``: the payload
    bytes captured (maybe fewer than ``length``); ``more``: the MF / M flag."""

    key: tuple
    header: bytes
    offset: int
    length: int
    data: bytes
    more: bool
    next_at: int = -1
    next_proto: int = -1


class _Datagram:
    """Payload bytes received so far for one datagram and the merged byte ranges they cover."""

    def __init__(self, first: Fragment) -> None:
        self.header, self.next_at = bytearray(first.header), first.next_at
        self.next_proto = first.next_proto
        self.size = 0  # end of the payload as the last fragment states it; 0 = not yet known
        self.pieces: list[tuple[int, bytes]] = []  # (offset, captured bytes) filling holes
        self.spans: list[list[int]] = []  # sorted, disjoint [start, end) ranges received

    def add(self, frag: Fragment) -> bytes | None:
        """Take one fragment; the whole datagram once complete, else None."""
        start, end = frag.offset, frag.offset + frag.length
        if frag.offset == 0 and frag.next_proto >= 0:
            self.next_proto = frag.next_proto  # the first fragment names the upper protocol
        if not frag.more and (self.size == 0 or end > self.size):
            self.size = end
        elif self.size and end > self.size:
            self.size = end
        for lo, hi in self._gaps(start, end):  # only the holes: earlier bytes win
            self.pieces.append((lo, frag.data[lo - start : hi - start]))
        self._merge(start, end)
        first = self.spans[0]
        if self.size == 0 or first[0] != 0 or first[1] < self.size:
            return None
        return self._whole(first[1])

    def _gaps(self, start: int, end: int):
        at = start
        for lo, hi in self.spans:
            if hi <= at:
                continue
            if lo >= end:
                break
            if lo > at:
                yield at, lo
            at = max(at, hi)
        if at < end:
            yield at, end

    def _merge(self, start: int, end: int) -> None:
        spans = sorted([*self.spans, [start, end]])
        merged = [spans[0]]
        for lo, hi in spans[1:]:
            if lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.spans = merged

    def _whole(self, size: int) -> bytes:
        """Header and payload bytes; bytes a short snapshot did not capture are zeros."""
        payload = bytearray(size)
        for lo, data in self.pieces:
            piece = data[: max(size - lo, 0)]
            payload[lo : lo + len(piece)] = piece
        header = self.header
        if header[0] >> 4 == 4:
            struct.pack_into("!H", header, 2, len(header) + size)
            struct.pack_into("!H", header, 6, 0)  # no longer a fragment
        else:
            struct.pack_into("!H", header, 4, len(header) - 40 + size)
            header[self.next_at] = self.next_proto
        return bytes(header) + bytes(payload)


class Reassembler:
    """Open datagrams of one capture; :meth:`add` returns a datagram when it completes."""

    def __init__(self) -> None:
        self._open: dict[tuple, _Datagram] = {}

    def add(self, frag: Fragment) -> bytes | None:
        """Take one fragment; the reassembled IP packet when this fragment completes it."""
        datagram = self._open.get(frag.key)
        if datagram is None:
            datagram = self._open[frag.key] = _Datagram(frag)
        whole = datagram.add(frag)
        if whole is not None:
            del self._open[frag.key]  # a later fragment with this key starts a new datagram
        return whole

    @property
    def pending(self) -> int:
        """Datagrams still missing fragments."""
        return len(self._open)
