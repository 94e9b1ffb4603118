"""Alerts from every writer (POST /v1/score, detect on a Zeek conn.log, watch on the same log,
the Spark engine's store path) render in every view with typed entities, and a store
configured to pseudonymise holds no raw address or user name in its bytes, whoever wrote.

The conn.log is Zeek's own baseline records (``zeek-pcap-baselines``, time stamps filled in)
so real IPv4 and IPv6 addresses go through every writer. The store is configured the way an
operator does it (the ``pseudonymise`` setting of the store) before anything is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import psycopg
import pyarrow.parquet as pq
import pytest

from conftest import CHEAP_HASHER, ServiceRig, SignedModel, bearer
from synthetic import train_small
from trustshield.cli import main
from trustshield.commands.common import resolve_data
from trustshield.config import ROLES
from trustshield.errors import ConfigError
from trustshield.ingest.connections import ConnectionSource
from trustshield.ingest.datasets import data_dirs
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import load_model, save_model
from trustshield.pipeline.detect import alerts_table, detect
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.watch import watch
from trustshield.service.app import create_app
from trustshield.service.context import ServiceContext
from trustshield.service.settings import ServiceSettings
from trustshield.specs import load_spec, read_spec_text
from trustshield.store import AlertStore
from trustshield.store import tokens as token_table
from trustshield.store.bundles import sign_model_folder
from trustshield.store.settings import SettingsTable
from trustshield.store.signing import Keyring

KEY = "5e" * 32
API_ADDRESSES = [f"198.51.100.{k}" for k in range(1, 9)] + ["2001:db8::77"]
USERS = [f"analyst-user-{k}" for k in range(9)]
NUMBERS = {"ts": float, "src_port": int, "dst_port": int}


@pytest.fixture(scope="module")
def kdd_model(tmp_path_factory) -> SignedModel:
    """A quick NSL-KDD model (100 training records per label), saved and signed."""
    spec = load_spec("nsl-kdd")
    frame = TableSource(resolve_data("nsl-kdd:KDDTrain+_20Percent.txt"), spec).read_all()
    small = frame[frame.groupby("label").cumcount() < 100].reset_index(drop=True)
    root = tmp_path_factory.mktemp("kdd-model")
    save_model(train_small(small, spec, read_spec_text("nsl-kdd")[0]), root / "model")
    keyring = Keyring(root / "keys")
    keyring.generate()
    manifest, _ = sign_model_folder(root / "model", keyring, signer="entities test")
    return SignedModel(root / "model", root / "keys", manifest["model_id"], small)


@pytest.fixture(scope="module")
def conn_log(tmp_path_factory) -> tuple[Path, set[str]]:
    """(a conn.log of every Zeek baseline record with real times, the addresses in it)."""
    root = next(
        (
            r / "zeek-pcap-baselines"
            for r in data_dirs()
            if (r / "zeek-pcap-baselines" / "SOURCE.md").is_file()
        ),
        None,
    )
    if root is None:
        pytest.skip("zeek-pcap-baselines not in the data roots")
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
    path = tmp_path_factory.mktemp("zeek") / "conn.log"
    path.write_text(
        "".join(header).replace("XXXX-XX-XX-XX-XX-XX", "2026-01-01-00-00-00") + "".join(records)
    )
    addresses = {r.split("\t")[i] for r in records for i in (2, 4)}
    return path, addresses


def service_on(target, signed: SignedModel, root: Path) -> ServiceRig:
    settings = ServiceSettings(
        store=str(target), models_dir=root / "models", keys_dir=signed.keys_dir
    )
    context = ServiceContext(settings)
    tokens = {}
    with pytest.MonkeyPatch.context() as patch, context.write("test-setup"):
        patch.setattr(token_table, "_HASHER", CHEAP_HASHER)
        for role in ROLES:
            tokens[role], _ = context.tokens.create(f"{role} (test)", [role])
    return ServiceRig(settings, context, create_app(settings, context=context), tokens, signed)


def spark_writer(model, log_text: str, store, folder: Path) -> str:
    """The Spark engine's store path: alerts as its tasks build them (``_spark_table``),
    through Parquet, into the store with ``_to_store``; the run id. It reads a copy of
    the log closed by Zeek (another file, so its alerts do not share detect's ids)."""
    from trustshield.pipeline.spark_detect import _spark_table, _to_store
    from trustshield.pipeline.spark_session import SourceFile

    log = folder / "spark-conn.log"
    log.write_text(log_text + "#close\t2026-01-01-00-10-00\n")
    source = ConnectionSource(log, model.spec)
    out = folder / "spark-alerts"
    out.mkdir()
    for k, batch in enumerate(source):
        table = _spark_table(
            alerts_table(model, source.sha256, "spark-run", batch, score_batch(model, batch.frame))
        )
        pq.write_table(table, out / f"part-{k}.parquet")
    _to_store(
        None,
        store,
        model,
        str(log),
        {str(log): SourceFile(str(log), source.sha256)},
        "spark-run",
        str(out),
        source.rows_read,
        [],
    )
    return "spark-run"


def api_records(frame) -> list[dict]:
    attacks = frame[frame["label"] != "normal"].head(len(API_ADDRESSES)).drop(columns=["label"])
    return [
        {
            **{key: (v.item() if isinstance(v, np.generic) else v) for key, v in record.items()},
            "src_ip": API_ADDRESSES[k],
            "dst_ip": API_ADDRESSES[-1],
            "user": USERS[k],
        }
        for k, record in enumerate(attacks.to_dict(orient="records"))
    ]


def store_bytes(target) -> bytes:
    """Everything the store holds, as bytes: the DuckDB file after a checkpoint and its WAL,
    or every row of every table of the PostgreSQL schema as text."""
    if isinstance(target, Path):
        with duckdb.connect(str(target)) as db:
            db.execute("CHECKPOINT")
        wal = target.with_name(target.name + ".wal")
        return target.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    with psycopg.connect(target) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        ]
        return "\n".join(
            str(row[0])
            for table in tables
            for row in db.execute(f'SELECT t::text FROM "{table}" t')
        ).encode()


def typed(entities: dict) -> bool:
    return all(
        isinstance(entities[k], kind) and not isinstance(entities[k], bool)
        for k, kind in NUMBERS.items()
        if k in entities
    )


@pytest.mark.parametrize("pseudonymise", [True, False], ids=["pseudonymised", "clear"])
def test_every_view_renders_alerts_of_every_writer_and_no_raw_identity_is_stored(
    store_target, pseudonymise, kdd_model, conn_log, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", KEY)
    log, log_addresses = conn_log
    model = load_model(kdd_model.folder)
    with AlertStore(store_target, actor="operator") as store:
        SettingsTable(store).set("pseudonymise", pseudonymise)
        runs = {
            "detect": detect(model, ConnectionSource(log, model.spec), store).run_id,
            "watch": watch(log, store, model=model, once=True).run.run_id,
            "spark": spark_writer(model, log.read_text(), store, tmp_path),
        }
    rig = service_on(store_target, kdd_model, tmp_path)
    try:
        with rig.client(raise_server_exceptions=False) as client:
            rig.activate(client)
            runs["score"] = rig.score(client, api_records(kdd_model.frame))["batch_id"]
            viewer = bearer(rig.tokens["viewer"])
            listed = client.get("/v1/alerts?limit=500", headers=viewer)
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
            with rig.context.read() as store:
                run_of = dict(store.db.execute("SELECT alert_id, run_id FROM alerts").fetchall())
            picked = {
                writer: next(i for i in items if run_of[i["alert_id"]] == run)
                for writer, run in runs.items()
            }
            assert all(typed(i["entities"]) for i in items)
            page = client.get("/ui/alerts?format=json", headers=viewer)
            html = client.get("/ui/alerts", headers=viewer)
            assert page.status_code == html.status_code == 200
            assert page.json()["items"][0]["entities"] == items[0]["entities"]
            for writer, item in picked.items():
                one = client.get(f"/v1/alerts/{item['alert_id']}", headers=viewer)
                twin = client.get(f"/ui/alerts/{item['alert_id']}?format=json", headers=viewer)
                shown = client.get(f"/ui/alerts/{item['alert_id']}", headers=viewer)
                assert one.status_code == twin.status_code == shown.status_code == 200, writer
                assert one.json()["entities"] == twin.json()["entities"] == item["entities"]
                assert item["entities"]["src_ip"] in shown.text, writer
    finally:
        rig.context.close()
    for writer, item in picked.items():  # trustshield explain, on the closed store
        assert main(["explain", item["alert_id"], "--store", str(store_target), "--json"]) == 0
        explained = json.loads(capsys.readouterr().out)
        assert explained["entities"] == item["entities"], writer
        assert main(["explain", item["alert_id"], "--store", str(store_target)]) == 0
        text = capsys.readouterr().out  # in text too: the connection's addresses, ports, time
        entity_line = next(line for line in text.splitlines() if line.startswith("entities: "))
        assert all(f"{k}={v}" in entity_line for k, v in item["entities"].items()), writer
    connection = picked["detect"]["entities"]
    assert set(connection) == {"ts", "uid", "src_ip", "src_port", "dst_ip", "dst_port", "proto"}
    assert set(picked["watch"]["entities"]) == set(connection) == set(picked["spark"]["entities"])
    assert set(picked["score"]["entities"]) == {"src_ip", "dst_ip", "user"}
    held = store_bytes(store_target)
    identities = {
        v for i in items for k, v in i["entities"].items() if k in ("src_ip", "dst_ip", "user")
    }
    if pseudonymise:
        raw = set(API_ADDRESSES) | set(USERS) | log_addresses
        assert sorted(value for value in raw if value.encode() in held) == []
        assert all(v.startswith("hmac:") for v in identities)
    else:  # the scan sees every identity a store in clear holds
        assert identities and all(v.encode() in held for v in identities)
        assert not any(v.startswith("hmac:") for v in identities)


def test_detect_and_watch_pseudonymise_on_a_store_configured_for_it(
    store_target, kdd_model, conn_log, monkeypatch
):
    """The attack of the issue: the store pseudonymises (as ``serve --pseudonymise`` left
    it), then ``detect`` and ``watch`` write to it; no raw address may reach the store."""
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", KEY)
    log, addresses = conn_log
    model = load_model(kdd_model.folder)
    with AlertStore(store_target, actor="operator") as store:
        SettingsTable(store).set("pseudonymise", True)
        detect(model, ConnectionSource(log, model.spec), store)
        watch(log, store, model=model, once=True)
        stored = [
            json.loads(text)
            for (text,) in store.db.execute("SELECT entities FROM alerts").fetchall()
        ]
    held = store_bytes(store_target)
    assert len(stored) > 10
    assert sorted(a for a in addresses if a.encode() in held) == []
    assert all(e["src_ip"].startswith("hmac:") and e["dst_ip"].startswith("hmac:") for e in stored)


def test_serve_pseudonymise_configures_the_store_so_a_later_detect_honours_it(
    kdd_model, conn_log, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", KEY)
    log, addresses = conn_log
    path = tmp_path / "store.duckdb"
    ServiceContext(
        ServiceSettings(store=str(path), models_dir=tmp_path / "models", pseudonymise=True)
    ).close()
    assert (
        main(
            ["detect", "--model", str(kdd_model.folder), "--input", str(log), "--store", str(path)]
        )
        == 0
    )  # no flag: the store says so
    with AlertStore(path) as store:
        [change] = store.audit.events("config.change")
        stored = store.db.execute("SELECT entities FROM alerts").fetchall()
    assert (change["actor"], change["subject"], change["details"]) == (
        "service",
        "pseudonymise",
        {"old": None, "new": True},
    )
    assert stored and not any(a in text for (text,) in stored for a in addresses)


def test_the_writers_flag_configures_the_store_and_watch_honours_it(
    kdd_model, conn_log, tmp_path, monkeypatch
):
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", KEY)
    log, addresses = conn_log
    path = tmp_path / "store.duckdb"
    common = ["--model", str(kdd_model.folder), "--store", str(path)]
    assert main(["detect", "--input", str(log), "--pseudonymise", *common]) == 0
    assert main(["watch", str(log), "--once", "--workers", "0", *common]) == 0
    with AlertStore(path) as store:
        kinds = [
            r[0]
            for r in store.db.execute(
                "SELECT DISTINCT kind FROM alerts JOIN runs USING (run_id)"
            ).fetchall()
        ]
        assert store.settings.get("pseudonymise") is True
        assert sorted(kinds) == ["detect", "watch"]
    assert sorted(a for a in addresses if a.encode() in store_bytes(path)) == []


def test_without_the_key_a_pseudonymising_store_is_refused_before_anything_is_written(
    kdd_model, conn_log, tmp_path, monkeypatch
):
    log, _ = conn_log
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", KEY)
    with AlertStore(path) as store:
        SettingsTable(store).set("pseudonymise", True)
    monkeypatch.delenv("TRUSTSHIELD_PSEUDONYM_KEY")
    model = load_model(kdd_model.folder)
    with AlertStore(path) as store:
        with pytest.raises(ConfigError, match="TRUSTSHIELD_PSEUDONYM_KEY is not set"):
            detect(model, ConnectionSource(log, model.spec), store)
        with pytest.raises(ConfigError, match="TRUSTSHIELD_PSEUDONYM_KEY is not set"):
            watch(log, store, model=model, once=True)
        assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    with pytest.raises(ConfigError, match="TRUSTSHIELD_PSEUDONYM_KEY is not set"):
        ServiceContext(ServiceSettings(store=str(path), models_dir=tmp_path / "models"))
    with pytest.raises(ConfigError, match="TRUSTSHIELD_PSEUDONYM_KEY is not set"):
        ServiceContext(
            ServiceSettings(
                store=str(tmp_path / "new.duckdb"),
                models_dir=tmp_path / "models",
                pseudonymise=True,
            )
        )


def test_entities_stored_as_text_by_older_versions_render_typed(scored):
    client, rig, response = scored
    alert = next(r["alert_id"] for r in response["results"] if r.get("alert_id"))
    with rig.context.write("test") as store:
        store.db.execute(
            "UPDATE alerts SET entities = ? WHERE alert_id = ?",
            ['{"src_ip": "10.0.0.1", "src_port": "80", "ts": "1700000000.5"}', alert],
        )
    viewer = bearer(rig.tokens["viewer"])
    listed = client.get("/v1/alerts?limit=500", headers=viewer).json()["items"]
    one = client.get(f"/v1/alerts/{alert}", headers=viewer).json()
    expected = {"ts": 1700000000.5, "src_ip": "10.0.0.1", "src_port": 80}
    assert (
        one["entities"] == next(i for i in listed if i["alert_id"] == alert)["entities"] == expected
    )
    page = client.get(f"/ui/alerts/{alert}", headers=viewer)
    assert page.status_code == 200 and "2023-11-14 22:13:20.500000 UTC" in page.text
