"""Attacks on the keyed audit log by someone who can write the store file but does not hold
``$TRUSTSHIELD_AUDIT_KEY``.

* ``audit_rewrite_and_drop_head``: with the service stopped, delete the creation of the
  admin token and edit the last event, recompute the sha256 chain by the documented rule,
  ``DROP TABLE audit_head``. A sound TrustShield: ``audit verify`` exits 1, the service
  refuses to start, and only ``audit reseal`` (naming the last event) restores a chain that
  verifies, with the reseal itself in the chain.
* ``audit_plain_head_papered_over``: the same rewrite, but the head is rewritten with the
  plain sha256 anyone can compute. A sound TrustShield refuses to start on it (before, the
  service started and its next state change sealed the forged head under the key).
* ``audit_key_swap``: start the service under another key. A sound TrustShield refuses,
  naming the fingerprint of the key that sealed the head and of the current key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timezone

from attacks.rig import AUDIT_KEY, AttackResult

GENESIS = "0" * 64
OTHER_KEY = "a key the attacker chose: not the one that sealed the head"
REFUSED_WITHIN_S = 120.0


def rule_hash(prev: str, event: dict) -> str:
    """The documented event hash: sha256(prev + canonical JSON of the six fields)."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def fingerprint(key: str) -> str:
    """The documented key fingerprint (HMAC-SHA256 of a fixed label, first 16 hex)."""
    return hmac.new(key.encode(), b"trustshield audit key fingerprint", hashlib.sha256).hexdigest()[
        :16
    ]


def rewrite(rig, *, head: str) -> dict:
    """The attack with plain SQL on the store file: hide the admin token's creation, edit
    the last event, renumber and re-hash; then ``head`` = "drop" (DROP TABLE audit_head) or
    "plain" (a head with the plain sha256 mac). Returns what was done."""
    import duckdb

    admin_id = rig.tokens["admin"].split("_")[1]
    db = duckdb.connect(str(rig.store))
    try:
        db.execute("SET TimeZone = 'UTC'")
        rows = db.execute(
            'SELECT seq, "at", actor, action, subject, details FROM audit_events ORDER BY seq'
        ).fetchall()
        kept = [r for r in rows if not (r[3] == "token.create" and r[4] == admin_id)]
        new, prev = [], GENESIS
        for seq, (_, at, actor, action, subject, details) in enumerate(kept, start=1):
            parsed = json.loads(details)
            if seq == len(kept):
                parsed = {**parsed, "edited": True}
            event = {
                "seq": seq,
                "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds"),
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": parsed,
            }
            digest = rule_hash(prev, event)
            new.append(
                [
                    seq,
                    at,
                    actor,
                    action,
                    subject,
                    json.dumps(parsed, sort_keys=True, separators=(",", ":")),
                    prev,
                    digest,
                ]
            )
            prev = digest
        db.execute("BEGIN TRANSACTION")
        db.execute("DELETE FROM audit_events")
        db.executemany("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", new)
        if head == "drop":
            db.execute("DROP TABLE audit_head")
        else:
            db.execute(
                "UPDATE audit_head SET seq = ?, hash = ?, mac = ?",
                [len(new), prev, hashlib.sha256(f"{len(new)}:{prev}".encode()).hexdigest()],
            )
        db.execute("COMMIT")
    finally:
        db.close()
    return {"events_before": len(rows), "events_after": len(new), "last_hash": prev}


def history(rig) -> None:
    """Real events under the key: the service installs and activates its model, an admin
    changes a setting; then the service stops (DuckDB: one process per file)."""
    rig.start()
    response = _put_settings(rig)
    if response.status_code != 200:
        raise RuntimeError(f"setting retention failed: {response.status_code} {response.text}")
    rig.stop()


def _put_settings(rig):
    """An admin's state change: ``PUT /v1/settings`` (audited as config.change)."""
    import httpx

    return httpx.put(
        rig.url + "/v1/settings",
        headers=rig.headers("admin"),
        json={"retention_days": 30},
        timeout=30.0,
    )


def start_outcome(rig) -> tuple[bool, float, str]:
    """(refused, seconds until the process ended or answered, the log's last lines): start
    ``trustshield serve`` and see whether it exits with an error or comes up."""
    import httpx

    started = time.monotonic()
    server = rig.start(wait=False)
    deadline = started + REFUSED_WITHIN_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return server.returncode != 0, time.monotonic() - started, rig.log()[-1500:]
        try:
            if httpx.get(f"{rig.url}/v1/health", timeout=2.0).status_code == 200:
                return False, time.monotonic() - started, "the service started"
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False, time.monotonic() - started, "neither refused nor answering"


def verify(rig, **env) -> tuple[int, dict]:
    done = rig.cli("audit", "verify", "--store", str(rig.store), "--json", env=env or None)
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.returncode, {"output": done.stdout[-500:], "error": done.stderr[-500:]}


def audit_rewrite_and_drop_head(rig) -> AttackResult:
    history(rig)
    done = rewrite(rig, head="drop")
    status, report = verify(rig)
    refused, seconds, log = start_outcome(rig)
    rig.stop()
    resealed = rig.cli(
        "audit",
        "reseal",
        "--store",
        str(rig.store),
        "--accept-through",
        str(done["events_after"]),
        "--accept-hash",
        done["last_hash"],
        "--reason",
        "attack suite: reviewed",
    )
    after_status, after = verify(rig)
    api_ok, reseal_events = False, []
    if resealed.returncode == 0:
        rig.start()
        api_ok = rig.get("/v1/audit/verify", role="auditor").json().get("ok") is True
        reseal_events = rig.get("/v1/audit?action=audit.reseal", role="auditor").json()["items"]
        rig.stop()
    held = (
        status == 1
        and report.get("problem") == "no_head"
        and refused
        and "audit reseal" in log
        and resealed.returncode == 0
        and after_status == 0
        and api_ok
        and len(reseal_events) == 1
    )
    return AttackResult(
        "audit_rewrite_and_drop_head",
        "audit verify exits 1 (head missing), the service refuses to start naming "
        "`trustshield audit reseal`; after an explicit reseal the chain verifies (CLI and "
        "API) and holds one audit.reseal event",
        f"{done['events_before']} → {done['events_after']} events rewritten, head dropped; "
        f"verify exit {status} ({report.get('reason') or report}); service "
        f"{'refused' if refused else 'NOT refused'} in {seconds:.1f} s; reseal exit "
        f"{resealed.returncode} {resealed.stderr.strip()[-300:]}; verify after exit "
        f"{after_status}; API verify ok {api_ok}; audit.reseal events {len(reseal_events)}",
        held,
        {"start_refused_s": round(seconds, 2)},
    )


def audit_plain_head_papered_over(rig) -> AttackResult:
    history(rig)
    done = rewrite(rig, head="plain")
    refused, seconds, log = start_outcome(rig)
    papered = None
    if not refused:  # what a weak service lets the attacker do next
        _put_settings(rig)
        papered = rig.get("/v1/audit/verify", role="auditor").json()
    rig.stop()
    status, report = verify(rig)
    held = refused and "audit reseal" in log and status == 1
    return AttackResult(
        "audit_plain_head_papered_over",
        "the service refuses to start on a head not sealed by the key; verify exits 1",
        f"{done['events_before']} → {done['events_after']} events rewritten, plain sha256 head; "
        f"service {'refused' if refused else 'started'} ({seconds:.1f} s)"
        + (
            f", then after a state change /v1/audit/verify said ok={papered.get('ok')}"
            if papered is not None
            else ""
        )
        + f"; verify exit {status} ({report.get('reason')})",
        held,
        {"start_refused_s": round(seconds, 2)},
    )


def audit_key_swap(rig) -> AttackResult:
    history(rig)
    rig.env["TRUSTSHIELD_AUDIT_KEY"] = OTHER_KEY
    refused, seconds, log = start_outcome(rig)
    rig.stop()
    status, report = verify(rig, TRUSTSHIELD_AUDIT_KEY=OTHER_KEY)
    sealed_by, current = fingerprint(AUDIT_KEY), fingerprint(OTHER_KEY)
    named = sealed_by in (report.get("reason") or "") and current in (report.get("reason") or "")
    held = refused and sealed_by in log and current in log and status == 1 and named
    return AttackResult(
        "audit_key_swap",
        f"under another key the service refuses to start and verify exits 1, both naming the "
        f"sealing key's fingerprint ({sealed_by}) and the current one ({current})",
        f"service {'refused' if refused else 'started'} ({seconds:.1f} s); verify exit "
        f"{status}: {report.get('reason')}",
        held,
        {"start_refused_s": round(seconds, 2)},
    )


ATTACKS = [audit_rewrite_and_drop_head, audit_plain_head_papered_over, audit_key_swap]
