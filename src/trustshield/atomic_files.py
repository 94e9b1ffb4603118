"""Atomic file writes: a file appears complete or not at all, and no temp file stays behind.

Every writer puts its bytes in a temp file beside the target (same folder, so the final
rename stays on one file system) and moves it into place in one step; whatever fails on
the way, the temp file is removed and the target is as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def temp_beside(path: Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A new empty file ``.NAME.XXXX{suffix}`` beside ``path``, readable by the owner only
    (``mkstemp``); the caller fills it and moves it into place (``os.replace``). Removed on
    leaving the block if it is still there, on success and on every failure alike."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file beside ``path`` (given ``mode``), fsync it, then rename
    it over ``path``; on any failure the old ``path`` is untouched and the temp file removed."""
    with temp_beside(path) as temp:
        _fill(temp, data, mode)
        os.replace(temp, path)


def write_new(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Like :func:`write_atomic`, but never replaces: FileExistsError when ``path`` exists
    (also when it appears while writing); the temp file is removed in every case."""
    with temp_beside(path) as temp:
        _fill(temp, data, mode)
        os.link(temp, path)  # fails if path appeared meanwhile


@contextmanager
def writing_atomic(path: Path, *, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A binary handle on a temp file beside ``path``, for output too large to hold in
    memory: when the block ends normally the file is flushed, fsynced, given ``mode`` and
    renamed over ``path``; when it raises, ``path`` is as it was and the temp file removed."""
    with temp_beside(path) as temp:
        with open(temp, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


def _fill(temp: Path, data: bytes, mode: int) -> None:
    with open(temp, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
