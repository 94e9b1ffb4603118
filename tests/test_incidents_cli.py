"""detect --store with a behaviour model, incidents list|show|export --store, and train
--kind behaviour --store reading analysts' outcomes as labels."""

import json

import pytest

from conn_flows import behaviour_model, site_log
from trustshield.cli import main
from trustshield.store import AlertStore


def _log(path, seed: int, infected: bool, labelled: bool = True):
    return site_log(path, seed, infected, labelled, uids=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return behaviour_model(tmp_path_factory.mktemp("behaviour"), uids=True)


def test_detect_stores_incidents_once_and_the_cli_lists_shows_and_exports_them(
    model, tmp_path, capsys
):
    log = _log(tmp_path / "conn.csv", 5, True, labelled=False)
    store = tmp_path / "store.duckdb"
    args = ["detect", "--model", str(model), "--input", str(log), "--store", str(store)]
    assert main(args) == 0
    assert "1 new incident(s) stored" in " ".join(capsys.readouterr().out.split())
    assert main(args) == 0  # the same input again adds nothing
    assert "0 new incident(s) stored" in " ".join(capsys.readouterr().out.split())

    assert main(["incidents", "list", "--store", str(store)]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert "HIGH" in listed and "10.0.0.5" in listed and "1 of 1 incident(s)" in listed
    key = listed.split()[0]

    assert main(["incidents", "show", key, "--store", str(store), "--flows", "3"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "horizontal scan" in shown and "evidence flows (" in shown and "why: base" in shown

    assert main(["incidents", "list", "--store", str(store), "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["total"] == 1 and [i["incident_id"] for i in page["incidents"]] == [key]
    assert main(["incidents", "show", key, "--store", str(store), "--flows", "3", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["incident_id"] == key and detail["host"] == "10.0.0.5"
    assert len(detail["flows"]) == 3 and detail["n_evidence"] >= 3

    out = tmp_path / "export.jsonl"
    assert main(["incidents", "export", "--store", str(store), "--out", str(out)]) == 0
    (line,) = out.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    for name in ("host", "first_seen", "last_seen", "behaviours", "techniques", "severity"):
        assert record[name]
    assert record["incident_id"] == key and record["host"] == "10.0.0.5"
    assert all(uid.startswith("S5-") for uid in record["evidence_uids"])
    with AlertStore(store) as opened:
        assert [e["action"] for e in opened.audit.events("incident.raise")] == ["incident.raise"]


def test_show_names_an_unknown_incident(tmp_path, capsys):
    AlertStore(tmp_path / "s.duckdb").close()
    assert main(["incidents", "show", "nope", "--store", str(tmp_path / "s.duckdb")]) != 0
    assert "no incident with id 'nope'" in capsys.readouterr().err


def test_train_reads_reviewed_incidents_as_labels(model, tmp_path, capsys):
    store = tmp_path / "store.duckdb"
    log = _log(tmp_path / "conn.csv", 7, True, labelled=False)
    assert main(["detect", "--model", str(model), "--input", str(log), "--store", str(store)]) == 0
    with AlertStore(store, actor="analyst") as opened:
        (row,), _ = opened.incidents.page()
        opened.incidents.decide(row["incident_id"], "confirmed", "scan and C&C")
        n = row["n_evidence"]
    capsys.readouterr()
    logs = tmp_path / "logs"
    logs.mkdir()
    log.rename(logs / "conn.csv")
    out = tmp_path / "retrained"
    args = ["train", "--kind", "behaviour", "--input", str(logs), "--out", str(out)]
    assert main([*args, "--store", str(store)]) == 0
    said = " ".join(capsys.readouterr().out.split())  # the console wraps lines
    assert f"{n} flows labelled by review" in said and "1 labelled" in said
    assert main([*args, "--store", str(store), "--kind", "records"]) != 0
