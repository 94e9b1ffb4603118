"""Alert entities: alerts that ``detect`` and ``watch`` write must render in every alert view,
and a store configured to pseudonymise must not hold a raw address, whoever wrote to it.

The attacker's view: a viewer token and read access to the store file (a backup, a copied
disk). The operator configured pseudonymisation the documented way (``serve
--pseudonymise``), then scored Zeek's conn.log with ``detect`` and ``watch --once``.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from attacks.rig import AttackResult, Rig

NUMBERS = {"ts": float, "src_port": int, "dst_port": int}
IDENTITIES = ("src_ip", "dst_ip", "user")


def baseline_conn_log(path: Path) -> set[str]:
    """Write every record of Zeek's baseline conn.logs (masked times replaced by real ones)
    to ``path``; the addresses in them."""
    from trustshield.ingest.datasets import data_dirs

    root = next(
        (
            r / "zeek-pcap-baselines"
            for r in data_dirs()
            if (r / "zeek-pcap-baselines" / "SOURCE.md").is_file()
        ),
        None,
    )
    if root is None:
        raise FileNotFoundError("zeek-pcap-baselines not found under the data roots")
    logs = sorted(root.glob("*/conn.log"))
    header = [
        line
        for line in logs[0].read_text().splitlines(True)
        if line.startswith("#") and not line.startswith("#close")
    ]
    records = [
        line
        for log in logs
        for line in log.read_text().splitlines(True)
        if line.strip() and not line.startswith("#")
    ]
    times = iter(range(1, 10**6))
    records = [
        re.sub(r"^XXXXXXXXXX\.XXXXXX", lambda m: f"1700000000.{next(times):06d}", r)
        for r in records
    ]
    path.write_text(
        "".join(header).replace("XXXX-XX-XX-XX-XX-XX", "2026-01-01-00-00-00") + "".join(records)
    )
    return {r.split("\t")[i] for r in records for i in (2, 4)}


def store_bytes(store: Path) -> bytes:
    """The DuckDB file after a checkpoint, and its WAL if one is left."""
    import duckdb

    with duckdb.connect(str(store)) as db:
        db.execute("CHECKPOINT")
    wal = store.with_name(store.name + ".wal")
    return store.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def well_typed(entities: dict) -> bool:
    numbers = all(
        isinstance(entities[k], kind) and not isinstance(entities[k], bool)
        for k, kind in NUMBERS.items()
        if k in entities
    )
    return numbers and all(
        str(entities[k]).startswith("hmac:") for k in IDENTITIES if k in entities
    )


def entities_of_detect_and_watch_render_pseudonymised(rig: Rig) -> AttackResult:
    """serve --pseudonymise, stop; detect and watch --once on a Zeek conn.log; serve again
    and read every alert view as a viewer; scan the store file for the raw addresses."""
    name = "entities_of_detect_and_watch_render_pseudonymised"
    expected = (
        "every alert view answers 200 with typed entities (numbers as numbers, "
        "identities as hmac: pseudonyms) and no raw address is in the store's bytes"
    )
    rig.env["TRUSTSHIELD_PSEUDONYM_KEY"] = secrets.token_hex(32)
    rig.start("--pseudonymise")  # the operator configures it ...
    rig.stop()
    log = rig.root / "conn.log"
    addresses = baseline_conn_log(log)
    model = ["--model", str(rig.model), "--store", str(rig.store)]
    runs = [
        rig.cli("detect", "--format", "zeek", "--input", str(log), *model),
        rig.cli("watch", str(log), "--once", *model),
    ]  # ... and the writers never say so
    failed = [r.stderr.strip()[-300:] for r in runs if r.returncode != 0]
    if failed:
        return AttackResult(name, expected, f"a writer failed: {failed}", False)
    rig.start()
    listed = rig.get("/v1/alerts?limit=500", role="viewer")
    items = listed.json().get("items", []) if listed.status_code == 200 else []
    by_source = {}
    for item in items:  # alert ids are model-source-line: one source per writer
        by_source.setdefault(item["alert_id"].split("-")[1], item["alert_id"])
    statuses = {
        "GET /v1/alerts": listed.status_code,
        "GET /ui/alerts": rig.get("/ui/alerts", role="viewer").status_code,
        "GET /ui/alerts?format=json": rig.get("/ui/alerts?format=json", role="viewer").status_code,
    }
    typed = [well_typed(item["entities"]) for item in items]
    for alert in by_source.values():
        one = rig.get(f"/v1/alerts/{alert}", role="viewer")
        statuses[f"GET /v1/alerts/{alert}"] = one.status_code
        statuses[f"GET /ui/alerts/{alert}"] = rig.get(
            f"/ui/alerts/{alert}", role="viewer"
        ).status_code
        twin = rig.get(f"/ui/alerts/{alert}?format=json", role="viewer")
        statuses[f"GET /ui/alerts/{alert}?format=json"] = twin.status_code
        typed += [well_typed(r.json()["entities"]) for r in (one, twin) if r.status_code == 200]
    rig.stop()
    found = sorted(a for a in addresses if a.encode() in store_bytes(rig.store))
    bad = {path: status for path, status in statuses.items() if status != 200}
    held = bool(items) and len(by_source) == 2 and not bad and all(typed) and not found
    observed = (
        f"{len(items)} alerts from {len(by_source)} writers; non-200 views: {bad or 'none'}; "
        f"{typed.count(False)} of {len(typed)} entity objects badly typed or in clear; "
        f"{len(found)} of {len(addresses)} raw addresses in the store's bytes"
        + (f" (e.g. {found[:3]})" if found else "")
    )
    return AttackResult(
        name,
        expected,
        observed,
        held,
        {
            "alerts": len(items),
            "writers": len(by_source),
            "views_not_200": len(bad),
            "raw_addresses_in_store": len(found),
            "addresses_in_log": len(addresses),
        },
    )


ATTACKS = [entities_of_detect_and_watch_render_pseudonymised]
