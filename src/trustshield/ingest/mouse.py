"""EDGE: mouse-dynamics sessions of the Balabit challenge, read straight from the archive.

The published subset is one ``tar.xz`` holding ``training_files/<user>/session_*`` (owner
only), ``test_files/<user>/session_*`` (owner or impostor) and ``public_labels.csv``
(``filename,is_illegal``). Members are read in memory, never extracted; each is checked
against ``SHA256SUMS.inner`` and every event against the ``balabit-mouse-dynamics``
DatasetSpec (vocabulary, button/state pairs, coordinates), plus timestamps that must not
run backwards. Problems name the archive member, line, field, value and expectation.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.utf8 import not_utf8
from trustshield.ingest.datasets import known_files, locate, parse_source_sha256
from trustshield.ingest.validate import RowProblem, check_frame, check_header_width
from trustshield.specs import DatasetSpec, load_spec

DATASET = "balabit-mouse-dynamics"
ARCHIVE = "balabit-mouse-subset.tar.xz"
CHECKSUMS = "SHA256SUMS.inner"
LABELS = "public_labels.csv"
#: column names as written in a session file, and the names the event frames use
HEADER = ("record timestamp", "client timestamp", "button", "state", "x", "y")
EVENT_COLUMNS = ("record_time", "client_time", "button", "state", "x", "y")
SPLITS = {"training_files": "train", "test_files": "test"}
#: a timestamp may step back by at most this much (clock jitter) before a session is refused
MAX_STEP_BACK_S = 0.05

BAD_HEADER = "{file}: line 1: expected the header {expected}, found {found}"
STEP_BACK = (
    "{file}: line {line}, column {column!r}: got {value!r}, expected a time no earlier "
    "than {floor:g} s (previous event at {previous:g} s, less {jitter:g} s of jitter)"
)
NO_CHECKSUM = "{file}: no sha256 recorded for {member} in {checksums}"
ALTERED_MEMBER = "{file}: member {member} is altered: expected sha256 {expected}, found {found}"
NO_LABEL = "{file}: test session {session} of {user} has no label in {labels}"


@dataclass(frozen=True)
class MouseSession:
    """One recorded session: claimed user, session id, split, label and its events.

    ``events`` has columns :data:`EVENT_COLUMNS` (times in s as float64, button and state as
    str, x and y as int64), in file order. ``is_illegal`` is 0 for the owner, 1 for an
    impostor; training sessions are the owner's by construction of the data set.
    """

    user: str
    session: str
    split: str
    is_illegal: int
    events: pd.DataFrame


def read_balabit(
    archive: str | Path | None = None, *, checksums: str | Path | None = None
) -> list[MouseSession]:
    """Every session of the archive, training sessions first, each sorted by user and id.

    Without ``archive`` both the archive and ``SHA256SUMS.inner`` are found under the data
    roots and verified against the sha256 in the spec (a missing file raises
    DatasetMissing naming every path tried). With an explicit ``archive``, members are
    checked against ``checksums`` when given.
    """
    if archive is None:
        files = {k.name: k for k in known_files()[DATASET]}
        archive, checksums = (locate(DATASET, files[n]) for n in (ARCHIVE, CHECKSUMS))
    expected = _read_checksums(Path(checksums)) if checksums is not None else None
    spec = load_spec(DATASET)
    raw, labels = {}, None
    try:
        with tarfile.open(archive, mode="r:xz") as tar:
            for member in tar:
                relative = PurePosixPath(*PurePosixPath(member.name).parts[1:])
                if not member.isfile() or not _wanted(relative):
                    continue
                data = tar.extractfile(member).read()
                if expected is not None:
                    _verify(data, str(relative), expected, archive, checksums)
                if relative.name == LABELS:
                    labels = _read_labels(data, f"{archive}:{member.name}")
                else:
                    raw[relative] = (data, f"{archive}:{member.name}")
    except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
        raise DataError(f"{archive}: not a readable tar.xz archive ({exc})") from None
    return _sessions(raw, labels, spec, archive)


def parse_session(data: bytes, *, file: str, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """Events of one session file (CSV bytes), validated; ``file`` names it in errors."""
    return parse_sessions([(data, file)], spec=spec)[0]


def parse_sessions(
    files: list[tuple[bytes, str]], *, spec: DatasetSpec | None = None
) -> list[pd.DataFrame]:
    """Events of many session files ((CSV bytes, name) pairs), validated in one pass."""
    spec = spec or load_spec(DATASET)
    raws = [_read_csv(data, file) for data, file in files]
    sizes = np.array([len(r) for r in raws], dtype=np.int64)
    whole = pd.concat(raws, ignore_index=True) if raws else pd.DataFrame(columns=list(HEADER))
    checked = check_frame(whole, spec, file="", lines=np.arange(len(whole), dtype=np.int64))
    if checked.problems:
        _raise_first(checked.problems, sizes, [f for _, f in files])
    frame = checked.frame.rename(columns=dict(zip(HEADER, EVENT_COLUMNS)))
    frame = frame.astype({"x": np.int64, "y": np.int64, "button": object, "state": object})
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for (_, file), lo, hi in zip(files, bounds[:-1], bounds[1:]):
        events = frame.iloc[lo:hi].reset_index(drop=True)
        for column, name in zip(EVENT_COLUMNS[:2], HEADER[:2]):
            _check_order(events[column].to_numpy(), name, file)
        out.append(events)
    return out


def _csv_frame(data: bytes, file: str, what: str, **options) -> pd.DataFrame:
    """The CSV ``data`` as pandas reads it with ``options``; DataError naming ``file`` (and
    the line, where one is known) when it is not a ``what`` CSV."""
    try:
        raw = pd.read_csv(io.BytesIO(data), **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{file}: not a {what} CSV ({str(exc).strip()})") from None
    except UnicodeDecodeError:
        raise not_utf8(file, data) from None
    check_header_width(raw, data, file)
    return raw


def _read_csv(data: bytes, file: str) -> pd.DataFrame:
    raw = _csv_frame(
        data,
        file,
        "session",
        dtype={"button": str, "state": str},
        keep_default_na=False,
        na_values=[""],
        skipinitialspace=True,
    )
    if tuple(raw.columns) != HEADER:
        raise DataError(
            BAD_HEADER.format(
                file=file, expected=",".join(HEADER), found=",".join(map(str, raw.columns))
            )
        )
    return raw


def _check_order(times: np.ndarray, column: str, file: str) -> None:
    """Refuse a timestamp more than MAX_STEP_BACK_S below the latest one before it."""
    latest = np.maximum.accumulate(times)
    back = np.flatnonzero(times[1:] < latest[:-1] - MAX_STEP_BACK_S)
    if len(back):
        i = back[0] + 1
        raise DataError(
            STEP_BACK.format(
                file=file,
                line=i + 2,
                column=column,
                value=f"{times[i]:g}",
                previous=latest[i - 1],
                floor=latest[i - 1] - MAX_STEP_BACK_S,
                jitter=MAX_STEP_BACK_S,
            )
        )


def _raise_first(problems: tuple[RowProblem, ...], sizes: np.ndarray, files: list[str]) -> None:
    """The first problem, told with its session file and line (header is line 1)."""
    first = min(problems, key=lambda p: p.line)
    which = int(np.searchsorted(np.cumsum(sizes), first.line, side="right"))
    line = first.line - int(sizes[:which].sum()) + 2
    more = len(problems) - 1
    tail = f" ({more} more problem{'s' * (more != 1)})" if more else ""
    located = RowProblem(files[which], line, first.column, first.value, first.expected)
    raise DataError(located.message() + tail)


def _wanted(relative: PurePosixPath) -> bool:
    parts = relative.parts
    if parts == (LABELS,):
        return True
    return len(parts) == 3 and parts[0] in SPLITS and parts[2].startswith("session_")


def _read_checksums(path: Path) -> dict[str, str]:
    return parse_source_sha256(path.read_text(encoding="utf-8"))


def _verify(data: bytes, member: str, expected: dict[str, str], archive, checksums) -> None:
    if member not in expected:
        raise DataError(NO_CHECKSUM.format(file=archive, member=member, checksums=checksums))
    found = hashlib.sha256(data).hexdigest()
    if found != expected[member]:
        raise DataError(
            ALTERED_MEMBER.format(
                file=archive, member=member, expected=expected[member], found=found
            )
        )


def _read_labels(data: bytes, file: str) -> dict[str, int]:
    frame = _csv_frame(data, file, "labels", dtype=str)
    if list(frame.columns) != ["filename", "is_illegal"]:
        raise DataError(
            f"{file}: line 1: expected the header filename,is_illegal, "
            f"found {','.join(frame.columns)}"
        )
    bad = ~frame["is_illegal"].isin(["0", "1"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{file}: line {i + 2}, column 'is_illegal': got "
            f"{frame['is_illegal'].iloc[i]!r}, expected 0 or 1"
        )
    return dict(zip(frame["filename"], frame["is_illegal"].astype(int)))


def _sessions(
    raw: dict, labels: dict[str, int] | None, spec: DatasetSpec, archive
) -> list[MouseSession]:
    order = sorted(raw, key=lambda p: (p.parts[0] != "training_files", p.parts[1:]))
    frames = parse_sessions([raw[relative] for relative in order], spec=spec)
    out = []
    for relative, events in zip(order, frames):
        folder, user, session = relative.parts
        split = SPLITS[folder]
        if split == "train":
            label = 0
        elif labels is None or session not in labels:
            raise DataError(
                NO_LABEL.format(
                    file=raw[relative][1], session=session, user=user, labels=f"{archive}:{LABELS}"
                )
            )
        else:
            label = labels[session]
        out.append(MouseSession(user, session, split, label, events))
    return out
