"""Following a growing log: only complete lines, rotation finished through the open handle,
truncation, and resuming at a position (also after the file was rotated away)."""

from __future__ import annotations

import hashlib
import os

from trustshield.ingest.follow import Follower, Position, head_of

HEAD = b"#separator \\x09\n#fields\tts\tuid\n"


def drain(follower: Follower) -> list[tuple[str, bytes]]:
    """(head sha256, data) of every read until nothing more is there."""
    out = []
    while (lines := follower.poll()) is not None:
        out.append((lines.identity.head_sha256, lines.data))
    return out


def text(reads) -> bytes:
    return b"".join(data for _, data in reads)


def test_head_is_the_header_and_first_record_once_that_line_is_complete():
    assert head_of(HEAD + b"1\tA") is None
    assert head_of(HEAD + b"1\tA\n2\tB\n") == HEAD + b"1\tA\n"
    assert head_of(b'{"ts": 1}\n{"ts": 2}\n') == b'{"ts": 1}\n'


def test_a_half_written_line_waits_for_its_end(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n2\tB")
    follower = Follower(log)
    assert text(drain(follower)) == HEAD + b"1\tA\n"
    with open(log, "ab") as fh:
        fh.write(b"x\n3\tC")
    lines = follower.poll()
    assert lines.data == b"2\tBx\n" and lines.first_line == 4 and lines.start == len(HEAD) + 4
    assert follower.poll() is None


def test_no_head_no_lines_until_the_first_record_is_complete(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\t")
    follower = Follower(log)
    assert follower.poll() is None and follower.identity is None
    with open(log, "ab") as fh:
        fh.write(b"A\n")
    assert text(drain(follower)) == HEAD + b"1\tA\n"
    assert follower.identity.head_sha256 == hashlib.sha256(HEAD + b"1\tA\n").hexdigest()


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    follower = Follower(log)
    first = drain(follower)
    with open(log, "ab") as fh:
        fh.write(b"2\tB\n3\tC")  # written before the rename; the last line never ends
    os.rename(log, tmp_path / "conn.2026-11-27-12-00-00.log")
    log.write_bytes(HEAD + b"10\tX\n")
    reads = drain(follower)
    old, new = first[0][0], reads[-1][0]
    assert old != new
    assert text(r for r in reads if r[0] == old) == b"2\tB\n3\tC\n"
    assert text(r for r in reads if r[0] == new) == HEAD + b"10\tX\n"
    assert [r[0] for r in reads] == sorted((r[0] for r in reads), key=[old, new].index)


def test_truncation_starts_the_file_again(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n2\tB\n")
    follower = Follower(log)
    drain(follower)
    with open(log, "r+b") as fh:  # copytruncate: same inode, emptied, written again
        fh.truncate(0)
        fh.write(HEAD + b"5\tE\n")
    reads = drain(follower)
    assert text(reads) == HEAD + b"5\tE\n"
    assert follower.notices and "truncated" in follower.notices[0]


def test_same_size_rewrite_is_seen_as_truncation_by_its_head(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    follower = Follower(log)
    drain(follower)
    with open(log, "r+b") as fh:
        fh.write(HEAD + b"9\tZ\n7\tQ\n")
    assert text(drain(follower)) == HEAD + b"9\tZ\n7\tQ\n"


def position(follower: Follower) -> Position:
    identity, (offset, line) = follower.identity, follower.position()
    return Position(identity.dev, identity.ino, identity.head_sha256, offset, line)


def test_resume_at_a_position_reads_only_what_follows(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    follower = Follower(log)
    drain(follower)
    at = position(follower)
    follower.close()
    with open(log, "ab") as fh:
        fh.write(b"2\tB\n")
    again = Follower(log, resume=at)
    lines = again.poll()
    assert (lines.data, lines.first_line) == (b"2\tB\n", 4)


def test_resume_finds_the_rotated_file_and_the_rotations_after_it(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    follower = Follower(log)
    drain(follower)
    at = position(follower)
    follower.close()
    with open(log, "ab") as fh:
        fh.write(b"2\tB\n")
    os.rename(log, tmp_path / "conn.a.log")
    (tmp_path / "conn.b.log").write_bytes(HEAD + b"20\tM\n")
    os.utime(tmp_path / "conn.b.log", ns=(2 * 10**18, 2 * 10**18))
    log.write_bytes(HEAD + b"30\tN\n")
    reads = drain(Follower(log, resume=at))
    assert text(reads) == b"2\tB\n" + HEAD + b"20\tM\n" + HEAD + b"30\tN\n"


def test_resume_when_the_file_is_gone_starts_the_current_file(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    at = Position(0, 0, "0" * 64, 100, 4)
    follower = Follower(log, resume=at)
    assert text(drain(follower)) == HEAD + b"1\tA\n"
    assert "gone" in follower.notices[0]


def test_resume_after_copytruncate_reads_the_rest_of_the_copy_first(tmp_path):
    log = tmp_path / "conn.log"
    log.write_bytes(HEAD + b"1\tA\n")
    follower = Follower(log)
    drain(follower)
    at = position(follower)
    follower.close()
    with open(log, "ab") as fh:
        fh.write(b"2\tB\n")
    (tmp_path / "conn.1.log").write_bytes(log.read_bytes())  # the copy, another inode
    os.utime(tmp_path / "conn.1.log", ns=(1, 1))
    with open(log, "r+b") as fh:  # then truncated and written
        fh.truncate(0)
        fh.write(HEAD + b"3\tC\n")
    assert text(drain(Follower(log, resume=at))) == b"2\tB\n" + HEAD + b"3\tC\n"
