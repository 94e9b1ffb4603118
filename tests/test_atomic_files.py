"""Atomic writes: the target is complete or untouched, and no temp file stays behind."""

import os

import pytest

from trustshield.atomic_files import temp_beside, write_atomic, write_new


def test_write_atomic_replaces_with_the_given_mode(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new", mode=0o640)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_write_atomic_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_write_new_never_replaces_and_leaves_no_temp_when_link_fails(tmp_path):
    target = tmp_path / "export.jsonl"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        write_new(target, b"second")
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.jsonl"]


def test_write_new_writes_owner_only(tmp_path):
    target = tmp_path / "export.jsonl"
    write_new(target, b"rows\n")
    assert target.read_bytes() == b"rows\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.jsonl"]


def test_temp_beside_is_removed_when_the_block_fails(tmp_path):
    target = tmp_path / "report.pdf"
    with pytest.raises(RuntimeError):
        with temp_beside(target, suffix=".partial") as temp:
            assert temp.parent == tmp_path and temp.name.startswith(".report.pdf.")
            assert temp.name.endswith(".partial")
            raise RuntimeError("renderer failed")
    assert list(tmp_path.iterdir()) == []
