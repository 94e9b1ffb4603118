"""The rewrite attack on a keyed audit log, replayed on both databases: events deleted and
edited, the sha256 chain recomputed by the documented rule, the head dropped or replaced
by one written without the key. Before, the next opening (or the next append) sealed a
fresh head under the key and every check said intact. Now the head is never recreated for
a chain with events, the check fails, and nothing appends until an audited reseal."""

from __future__ import annotations

import json

import pytest

from audit_attack import KEY, fingerprint, head_rows, keyed_history, rewrite_history
from trustshield.assess.security import audit_evidence
from trustshield.cli import main
from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.audit import NO_HEAD
from trustshield.store.tokens import TokenTable


@pytest.fixture
def history(store_target, monkeypatch):
    events, hidden = keyed_history(store_target, monkeypatch)
    return store_target, events, hidden


def test_a_rewritten_chain_without_its_head_stays_broken_after_reopening(history):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    with AlertStore(target, actor="reader") as store:
        check = store.audit.check()
        assert not check.ok
        assert (check.first_broken, check.reason) == (len(kept), NO_HEAD.format(rows=0))
        assert store.audit.verify() == len(kept)
        assert {e.check: e.status for e in audit_evidence(store)}["audit chain integrity"] == "fail"
        assert (check.problem, check.last_seq, check.last_hash) == (
            "no_head",
            len(kept),
            kept[-1]["hash"],
        )
        assert "trustshield audit reseal" in check.remedy
    assert head_rows(target) == []  # opening wrote no head
    with AlertStore(target, actor="reader") as store:
        assert not store.audit.check().ok  # nor did a second opening


def test_nothing_appends_to_a_chain_without_its_head(history):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    with AlertStore(target, actor="mallory") as store:
        with pytest.raises(StoreError, match="nothing was written.*trustshield audit reseal"):
            store.record_event("config.change", "x", {})
        with pytest.raises(StoreError, match="nothing was written"):
            TokenTable(store).create("sneaky", ["admin"])
        with pytest.raises(StoreError, match="the run was not started.*audit reseal"):
            store.start_run(
                run_id="r1",
                kind="detect",
                model_id="m1",
                source_path="f.csv",
                source_sha256="5" * 64,
            )
        assert len(store.audit.events()) == len(kept)
        assert [t["name"] for t in TokenTable(store).list()] == ["mallory", "alice"]
        assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert head_rows(target) == []


def test_a_head_written_without_the_key_is_not_papered_over_by_the_next_append(history):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden, head="plain")
    with AlertStore(target, actor="service") as store:
        with pytest.raises(StoreError, match="nothing was written.*audit reseal"):
            store.record_event("score.batch", "b1", {})
        check = store.audit.check()
        assert not check.ok and check.first_broken == len(kept)
        assert len(store.audit.events()) == len(kept)


def test_an_unkeyed_store_opened_with_a_key_refuses_appends(store_target, monkeypatch):
    monkeypatch.delenv("TRUSTSHIELD_AUDIT_KEY", raising=False)
    with AlertStore(store_target, actor="alice") as store:
        store.record_event("config.change", "x", {})
    monkeypatch.setenv("TRUSTSHIELD_AUDIT_KEY", KEY)
    with AlertStore(store_target, actor="alice") as store:
        with pytest.raises(StoreError, match="sealed without a key.*" + fingerprint(KEY)):
            store.record_event("config.change", "y", {})
        assert [e["subject"] for e in store.audit.events()] == ["x"]


def test_the_cli_verify_says_broken_and_names_the_last_event(history, capsys):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    assert main(["audit", "verify", "--store", str(target)]) == 1
    out = capsys.readouterr().out
    assert f"audit chain broken at event {len(kept)}" in out and "holds 0 rows" in out
    assert f"last event: seq {len(kept)}, hash {kept[-1]['hash']}" in out
    assert "trustshield audit reseal" in out
    assert main(["audit", "verify", "--store", str(target), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["problem"], report["last_seq"]) == (False, "no_head", len(kept))
