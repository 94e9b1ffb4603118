"""EDGE: the complete lines of a growing log file, across rotation and truncation.

A :class:`Follower` reads ``path`` from a byte offset and hands out only complete lines
(ending in ``\\n``); a half-written last line waits for the rest. A file is known by its
:class:`FileIdentity`: device and inode, plus the sha256 of its head (every byte up to and
including its first record line, the first line not starting with ``#``). The head hash
names the file's content, so it is also the source id of the alerts scored from it; it
exists once the first record line is complete.

Rotation (the writer renames ``conn.log`` to ``conn.<time>.log`` and opens a new
``conn.log``): the old file is read to its end through the open handle (an unterminated
last line of a rotated file counts as a line), then the follower switches to the new file
at offset 0. Truncation (``copytruncate``, or a file rewritten in place): when the file is
shorter than the offset, or its head no longer hashes the same, reading restarts at 0.

Resuming at a :class:`Position` after a restart: the file whose identity it names is found
at ``path`` or among its rotated siblings (``conn.*.log``) by its head (so a rotated file
and the copy ``copytruncate`` leaves are both found); rotated siblings written after it
and not yet ``seen`` are read next, oldest first, then ``path``. When the file is gone,
reading starts at ``path`` offset 0 and ``notices`` says so. A watch's very first start
reads ``path`` only: files rotated away before it are not its history.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

READ_SIZE = 1 << 22  # bytes per read


@dataclass(frozen=True)
class FileIdentity:
    path: str  # where the file was when it was opened
    dev: int
    ino: int
    head_sha256: str  # 64 hex digits: sha256 of the bytes up to the end of the first record line
    head: bytes  # those bytes (header lines and first record)


@dataclass(frozen=True)
class Position:
    """Where reading resumes: a file's identity, a byte offset in it and that offset's line
    number (the number of the next line to read, 1-based)."""

    dev: int
    ino: int
    head_sha256: str
    offset: int
    line: int


@dataclass(frozen=True)
class Lines:
    """Complete lines ``data`` of one file, starting at byte ``start`` with line ``first_line``."""

    identity: FileIdentity
    data: bytes
    start: int
    first_line: int

    @property
    def end(self) -> int:
        return self.start + len(self.data)


def head_of(data: bytes) -> bytes | None:
    """The head of a file starting with ``data`` (header lines and first complete record
    line), or None while the first record line is incomplete."""
    at = 0
    while (end := data.find(b"\n", at)) >= 0:
        if not data[at:end].startswith(b"#") and data[at:end].strip():
            return data[: end + 1]
        at = end + 1
    return None


class Follower:
    """Complete lines of the log at ``path`` (see the module docstring). ``seen(head_sha256)``
    tells whether a rotated sibling was already read when resuming."""

    def __init__(
        self,
        path: str | Path,
        *,
        resume: Position | None = None,
        seen=lambda h: False,
        read_size: int = READ_SIZE,
    ):
        self.path, self.read_size, self.notices = Path(path), read_size, deque(maxlen=20)
        self._fd, self._identity, self._offset, self._line = None, None, 0, 1
        self._queue: list[Path] = []  # rotated files to read before ``path``
        self._rotated = False  # the open file is no longer at ``path``
        if resume is not None:
            self._resume(resume, seen)

    @property
    def identity(self) -> FileIdentity | None:
        return self._identity

    def position(self) -> tuple[int, int]:
        """(byte offset, next line number) in the open file."""
        return self._offset, self._line

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` of the open file (the context before a resume point)."""
        return os.pread(self._fd, end - start, start) if self._fd is not None else b""

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def poll(self) -> Lines | None:
        """The next complete lines (about ``read_size`` bytes or more), or None when there
        are none yet. A file switch shows as lines with another identity."""
        for _ in range(8):  # open, finish a rotated file, switch: a few steps at most
            if self._fd is None and not self._open_next():
                return None
            if self._identity is None and not self._read_head():
                if not self._rotated_away():
                    return None
                self._switch()  # a rotated file without a record: nothing to read
                continue
            if self._truncated():
                self._restart_file()
                continue
            if (lines := self._complete_lines()) is not None:
                return lines
            if self._rotated_away():
                if (lines := self._complete_lines(final=True)) is not None:
                    return lines
                self._switch()
            else:
                return None
        return None

    def _complete_lines(self, final: bool = False) -> Lines | None:
        """Complete lines from the offset; with ``final`` (a rotated file) an unterminated
        last line counts as one."""
        size = self.read_size
        while True:
            chunk = os.pread(self._fd, size, self._offset)
            cut = chunk.rfind(b"\n") + 1
            if cut or len(chunk) < size:
                break
            size *= 2  # a line longer than read_size
        data = chunk[:cut] if cut else (chunk + b"\n" if final and chunk else b"")
        if not data:
            return None
        lines = Lines(self._identity, data, self._offset, self._line)
        self._offset += cut or len(chunk)
        self._line += data.count(b"\n")
        return lines

    # -- opening and identity -------------------------------------------------------------

    def _open_next(self) -> bool:
        target = self._queue.pop(0) if self._queue else self.path
        try:
            fd = os.open(target, os.O_RDONLY)
        except FileNotFoundError:
            return False
        self._fd, self._identity, self._offset, self._line = fd, None, 0, 1
        self._opened_path, self._rotated = str(target), target != self.path
        return True

    def _read_head(self) -> bool:
        head = head_of(os.pread(self._fd, 1 << 20, 0))
        if head is None:
            return False
        st = os.fstat(self._fd)
        self._identity = FileIdentity(
            self._opened_path, st.st_dev, st.st_ino, hashlib.sha256(head).hexdigest(), head
        )
        return True

    def _rotated_away(self) -> bool:
        """True when the open file is no longer the one at ``path`` (rotated away); a missing
        ``path`` (between rename and re-creation) is waited for."""
        if self._rotated:
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        own = os.fstat(self._fd)
        self._rotated = (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino)
        return self._rotated

    def _truncated(self) -> bool:
        """The open file shrank below the offset, or its head changed (copytruncate)."""
        if os.fstat(self._fd).st_size < self._offset:
            return True
        head = self._identity.head
        return os.pread(self._fd, len(head), 0) != head

    def _restart_file(self) -> None:
        self.notices.append(
            f"{self._opened_path}: truncated at byte {self._offset}; reading it "
            "again from the start"
        )
        self._identity, self._offset, self._line = None, 0, 1

    def _switch(self) -> None:
        self.close()
        self._identity = None

    # -- resuming ---------------------------------------------------------------------------

    def _resume(self, at: Position, seen) -> None:
        candidates = [self.path, *self._siblings()]
        match = next((p for p in candidates if _same_file(p, at)), None)
        if match is None:
            self.notices.append(
                f"{self.path}: the file last read (inode {at.ino}) is gone; "
                f"starting at the beginning of {self.path}"
            )
            return
        since = match.stat().st_mtime_ns
        self._queue = [match] + sorted(
            (
                p
                for p in self._siblings()
                if p != match
                and p.stat().st_mtime_ns >= since
                and (h := _head_sha(p)) is not None
                and not seen(h)
            ),
            key=lambda p: p.stat().st_mtime_ns,
        )
        self._open_next()
        self._read_head()
        if self._identity is not None and os.fstat(self._fd).st_size >= at.offset:
            self._offset, self._line = at.offset, at.line
        else:
            self._restart_file()

    def _siblings(self) -> list[Path]:
        stem, suffix = self.path.stem, self.path.suffix
        return sorted(p for p in self.path.parent.glob(f"{stem}.*{suffix}") if p != self.path)


def _head_sha(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = head_of(fh.read(1 << 20))
    return None if head is None else hashlib.sha256(head).hexdigest()


def _same_file(path: Path, at: Position) -> bool:
    """True when ``path`` holds the file of ``at``: the same head (so also the copy that
    ``copytruncate`` leaves under another inode)."""
    try:
        return path.is_file() and _head_sha(path) == at.head_sha256
    except OSError:
        return False
