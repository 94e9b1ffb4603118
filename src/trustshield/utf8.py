"""Find where a file stops being UTF-8, so a reader can refuse it by line.

TrustShield reads text inputs as UTF-8. When a parser meets a byte sequence that is not, the
reader calls :func:`not_utf8` for the error it raises: the file, the 1-based line and the
1-based byte column of the first bad sequence, and what was expected.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

from trustshield.errors import DataError

NOT_UTF8 = (
    "{file}: line {line}, byte {column}: not UTF-8 text (expected a UTF-8 file; "
    "convert it, e.g. with iconv -t utf-8)"
)
CHUNK = 1 << 20


def first_bad_utf8(source: str | Path | bytes) -> tuple[int, int] | None:
    """(line, byte column), both 1-based, of the first sequence of ``source`` (a file path
    or bytes) that is not UTF-8; None when all of it is. Reads a file in 1 MiB chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before, last_newline, start = 0, -1, 0
    # closed by `with handle` below
    handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with handle:
        while True:
            chunk = handle.read(CHUNK)
            buffered = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = start - buffered + exc.start  # absolute offset of the bad sequence
                before = chunk[: max(0, at - start)]
                newlines = before.count(b"\n")
                if newlines:
                    last_newline = start + before.rfind(b"\n")
                return lines_before + newlines + 1, at - last_newline
            if not chunk:
                return None
            newlines = chunk.count(b"\n")
            if newlines:
                lines_before += newlines
                last_newline = start + chunk.rfind(b"\n")
            start += len(chunk)


def not_utf8(
    file: str | Path, source: str | Path | bytes, error: type[Exception] = DataError
) -> Exception:
    """The error to raise for ``file`` whose content (``source``: its path or bytes) a
    parser could not decode as UTF-8."""
    line, column = first_bad_utf8(source) or (1, 1)
    return error(NOT_UTF8.format(file=file, line=line, column=column))
