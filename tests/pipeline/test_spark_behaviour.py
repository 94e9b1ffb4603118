"""``detect --engine spark`` with a behaviour model gives the local engine's incidents.

Logs are generated here (a small multi-day site: hosts joining late, beacons, a scan), as
Zeek TSV and as a CSV conversion. One SparkSession (``local[2]``) with small text blocks
(32 KB), so a log arrives in many partitions and its hosts in several groups. Both engines
run through the CLI; their incidents (JSON lines: ids, hosts, behaviours, evidence uids,
exact attributions as written by ``repr``) and what they stored must be the same.
"""

from __future__ import annotations

import json

import pytest

from stream_logs import DAY, days, model as fit_model, zeek_tsv
from trustshield.cli import main

pytestmark = pytest.mark.spark

BLOCK_BYTES = 32 * 1024


@pytest.fixture(scope="module")
def spark():
    from trustshield.pipeline.spark_session import spark_session

    session = spark_session(
        "local[2]",
        config={
            "spark.sql.files.maxPartitionBytes": str(BLOCK_BYTES),
            "spark.sql.files.openCostInBytes": "0",
            "spark.default.parallelism": "2",
            "spark.sql.shuffle.partitions": "4",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from trustshield.commands.behaviour import MODEL_FILE

    folder = tmp_path_factory.mktemp("behaviour") / "model"
    folder.mkdir()
    (folder / MODEL_FILE).write_text(json.dumps(fit_model().to_dict()), encoding="utf-8")
    return folder


def _detect(model_folder, data, tmp_path, engine: str) -> tuple[str, list[dict], list]:
    """(incidents JSON lines, stored incidents as exported, evidence flows per incident)."""
    from trustshield.store import AlertStore

    out, store = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}.duckdb"
    args = ["detect", "--model", str(model_folder), "--input", str(data)]
    args += ["--incidents", str(out), "--store", str(store), "--engine", engine]
    assert main([*args, "--master", "local[2]"]) == 0
    exported = tmp_path / f"{engine}-export.jsonl"
    assert main(["incidents", "export", "--store", str(store), "--out", str(exported)]) == 0
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    with AlertStore(store) as opened:
        flows = [opened.incidents.flows(r["incident_id"], limit=100_000) for r in rows]
        raised = opened.db.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'incident.raise'"
        ).fetchone()[0]
    assert raised == len(rows)
    return out.read_text(encoding="utf-8"), sorted(rows, key=lambda r: r["incident_id"]), flows


def _records(lines: str) -> list[dict]:
    return [json.loads(line) for line in lines.splitlines()]


def test_spark_and_local_incidents_are_identical_on_a_zeek_log(spark, model_folder, tmp_path):
    log = zeek_tsv(days(5), tmp_path / "conn.log")
    assert spark.read.text(str(log)).rdd.getNumPartitions() > 2  # many blocks
    local, local_rows, local_flows = _detect(model_folder, log, tmp_path, "local")
    got, spark_rows, spark_flows = _detect(model_folder, log, tmp_path, "spark")
    incidents = _records(local)
    assert len(incidents) >= 3 and len({i["host"] for i in incidents}) >= 2
    assert got == local  # ids, hosts, behaviours, evidence uids, attributions: every byte
    assert [r | {"created_at": None} for r in spark_rows] == [
        r | {"created_at": None} for r in local_rows
    ]
    assert spark_flows == local_flows and sum(map(len, local_flows)) > 1000


def test_a_folder_of_tsv_and_csv_logs_gives_the_local_incidents_per_log(
    spark, model_folder, tmp_path
):
    folder = tmp_path / "logs"
    folder.mkdir()
    frame = days(4)
    zeek_tsv(frame, folder / "a-conn.log")
    later = frame.assign(ts=frame["ts"] + 10 * DAY, uid="L" + frame["uid"])
    zeek_tsv(later[later["id.orig_h"] != "10.0.0.6"], folder / "b-conn.log")
    # a CSV conversion: read whole by the strict reader, in one task
    frame.assign(uid="C" + frame["uid"]).to_csv(folder / "c-conn.csv", index=False, na_rep="-")
    (folder / "README.md").write_text("notes are skipped", encoding="utf-8")
    local, _, local_flows = _detect(model_folder, folder, tmp_path, "local")
    got, _, spark_flows = _detect(model_folder, folder, tmp_path, "spark")
    assert got == local and spark_flows == local_flows
    uids = {u[0] for i in _records(local) for u in i["evidence_uids"]}
    assert uids == {"D", "L", "C"}  # every log raised incidents


def test_a_bad_record_is_named_as_the_local_engine_names_it(spark, model_folder, tmp_path, capsys):
    log = zeek_tsv(days(4), tmp_path / "conn.log")
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    at = len(lines) // 2
    lines[at] = "not-a-time\t" + lines[at].split("\t", 1)[1]
    log.write_text("".join(lines), encoding="utf-8")
    messages = []
    for engine in ("local", "spark"):
        args = ["detect", "--model", str(model_folder), "--input", str(log), "--engine", engine]
        capsys.readouterr()
        assert main(args) == 1
        err = capsys.readouterr().err.splitlines()
        messages.append([line for line in err if line.startswith("trustshield: error:")])
    assert messages[0] == messages[1] and f"line {at + 1}," in messages[0][0]
