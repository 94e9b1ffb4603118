"""Balabit sessions read straight from an archive: labels, checksums and validation at the
door, on archives built here; the published archive when it is present."""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from trustshield.errors import DataError, DatasetMissing
from trustshield.ingest.mouse import ARCHIVE, EVENT_COLUMNS, parse_session, read_balabit

HEADER = b"record timestamp,client timestamp,button,state,x,y\n"
GOOD = (
    HEADER
    + b"0.0,0.0,NoButton,Move,10,20\n0.1,0.11,Left,Pressed,10,20\n0.2,0.2,Left,Released,10,20\n"
)
ROOT = "balabit-mouse-subset"


def build_archive(tmp_path, members, *, labels=b"filename,is_illegal\nsession_2,1\n", tamper=None):
    """A tar.xz shaped like the published one, and its SHA256SUMS.inner."""
    files = {"public_labels.csv": labels, **members}
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  ./{name}\n" for name, data in files.items()
    )
    if tamper:
        files[tamper] = files[tamper] + b"0.3,0.3,NoButton,Move,1,1\n"
    archive = tmp_path / ARCHIVE
    with tarfile.open(archive, "w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{ROOT}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    checksums = tmp_path / "SHA256SUMS.inner"
    checksums.write_text(sums)
    return archive, checksums


def test_sessions_come_with_user_split_and_label(tmp_path):
    archive, sums = build_archive(
        tmp_path, {"training_files/user1/session_1": GOOD, "test_files/user1/session_2": GOOD}
    )
    sessions = read_balabit(archive, checksums=sums)
    assert [(s.user, s.session, s.split, s.is_illegal) for s in sessions] == [
        ("user1", "session_1", "train", 0),
        ("user1", "session_2", "test", 1),
    ]
    events = sessions[0].events
    assert tuple(events.columns) == EVENT_COLUMNS and len(events) == 3
    assert events["x"].dtype == np.int64 and events["client_time"].iloc[1] == pytest.approx(0.11)


def test_a_test_session_without_a_label_is_refused(tmp_path):
    archive, sums = build_archive(tmp_path, {"test_files/user1/session_9": GOOD})
    with pytest.raises(DataError, match="session_9 of user1 has no label"):
        read_balabit(archive, checksums=sums)


def test_an_altered_member_is_refused(tmp_path):
    archive, sums = build_archive(
        tmp_path, {"training_files/user1/session_1": GOOD}, tamper="training_files/user1/session_1"
    )
    with pytest.raises(DataError, match="training_files/user1/session_1 is altered"):
        read_balabit(archive, checksums=sums)


def test_an_archive_that_is_not_tar_xz_is_refused(tmp_path):
    archive = tmp_path / ARCHIVE
    archive.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="not a readable tar.xz archive"):
        read_balabit(archive)


def test_a_missing_archive_names_the_file_and_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTSHIELD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRUSTSHIELD_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatasetMissing) as info:
        read_balabit()
    message = str(info.value)
    assert ARCHIVE in message and str(tmp_path / "data") in message


@pytest.mark.parametrize(
    "line, column, value",
    [
        (b"0.1,0.1,Middle,Move,1,2\n", "button", "Middle"),
        (b"0.1,0.1,NoButton,Hover,1,2\n", "state", "Hover"),
        (b"0.1,0.1,Left,Move,1,2\n", "state+button", "state=Move, button=Left"),
        (b"0.1,0.1,NoButton,Move,-4,2\n", "x", "-4"),
        (b"0.1,0.1,NoButton,Move,1,2.5\n", "y", "2.5"),
        (b"0.1,abc,NoButton,Move,1,2\n", "client timestamp", "abc"),
    ],
)
def test_invalid_events_name_session_line_field_value_and_expectation(line, column, value):
    data = HEADER + b"0.0,0.0,NoButton,Move,1,2\n" + line
    with pytest.raises(DataError) as info:
        parse_session(data, file="user1/session_x")
    message = str(info.value)
    assert message.startswith("user1/session_x: line 3")
    assert f"column {column!r}" in message and repr(value) in message and "expected" in message


def test_time_running_backwards_is_refused_but_jitter_is_not():
    jitter = HEADER + b"1.0,1.0,NoButton,Move,1,2\n1.0,0.99,NoButton,Move,1,2\n"
    assert len(parse_session(jitter, file="s")) == 2
    back = (
        HEADER
        + b"1.0,1.0,NoButton,Move,1,2\n1.1,1.1,NoButton,Move,1,2\n1.2,0.5,NoButton,Move,1,2\n"
    )
    with pytest.raises(
        DataError,
        match=r"s: line 4, column 'client timestamp': got '0.5', "
        r"expected a time no earlier than 1.05",
    ):
        parse_session(back, file="s")


def test_a_wrong_header_or_row_shape_is_refused():
    with pytest.raises(DataError, match="line 1: expected the header"):
        parse_session(b"t,button\n0,Left\n", file="s")
    with pytest.raises(DataError, match="s: not a session CSV"):
        parse_session(HEADER + b"0,0,NoButton,Move,1,2\n0,0,NoButton,Move,1,2,3\n", file="s")


def test_the_published_archive_when_present():
    try:
        sessions = read_balabit()
    except DatasetMissing as exc:
        pytest.skip(str(exc))
    assert len(sessions) == 213
    assert sum(len(s.events) for s in sessions) == 597_126
    tests = [s for s in sessions if s.split == "test"]
    assert (len(tests), sum(s.is_illegal for s in tests)) == (193, 75)
    assert {s.user for s in sessions} == {"user21", "user23", "user29"}
