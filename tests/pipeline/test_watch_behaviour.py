"""watch with a behaviour model: incidents as periods close, exactly once across SIGKILL."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from stream_logs import days, model as fitted_model, zeek_tsv
from trustshield.pipeline.watch_behaviour import watch_behaviour
from trustshield.store import AlertStore

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from trustshield.incidents.model import BehaviourDetection
    from trustshield.pipeline.watch_behaviour import watch_behaviour
    from trustshield.store import AlertStore

    log, model_file, store_path = sys.argv[1:4]
    model = BehaviourDetection.from_dict(json.loads(open(model_file).read()))

    def progress(figures):
        print(json.dumps(figures), flush=True)
        time.sleep(0.05)

    with AlertStore(store_path) as store:
        watch_behaviour(log, store, model, "m1", batch_records=250, once=True,
                        lateness_s=3600.0, close_records=250, progress=progress)
    """
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("watchb")
    model = fitted_model()
    (work / "model.json").write_text(json.dumps(model.to_dict()), encoding="utf-8")
    log = zeek_tsv(days(6), work / "conn.log")
    return work, model, log


def _incidents(store_path) -> list[dict]:
    with AlertStore(store_path) as store:
        rows = store.db.execute(
            "SELECT incident_id, host, first_seen, last_seen, behaviours, evidence_uids, "
            "n_evidence FROM incidents ORDER BY incident_id"
        ).fetchall()
        flows = store.db.execute("SELECT count(*) FROM incident_flows").fetchone()[0]
        ledger = store.watch.ledger()
    return [list(r) for r in rows], flows, ledger


def _run(log, model, store_path, **options):
    with AlertStore(store_path) as store:
        return watch_behaviour(
            log, store, model, "m1", lateness_s=3600.0, close_records=300, **options
        )


def test_a_killed_watch_resumes_to_the_incidents_of_an_uninterrupted_run(setup, tmp_path):
    work, model, log = setup
    whole = _run(log, model, tmp_path / "whole.duckdb", batch_records=700, once=True)
    expected, expected_flows, _ = _incidents(tmp_path / "whole.duckdb")
    assert whole.incidents == len(expected) >= 2 and whole.late == 0
    assert expected_flows > 0

    killed = tmp_path / "killed.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log), str(work / "model.json"), str(killed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    commits = 0
    for line in child.stdout:
        commits += 1
        if json.loads(line)["incidents"] >= 1 and commits >= 8:
            child.send_signal(signal.SIGKILL)  # in the middle of the next batch
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    partial, _, _ = _incidents(killed)
    assert 1 <= len(partial) < len(expected)

    resumed = _run(log, model, killed, batch_records=400, once=True)
    got, got_flows, ledger = _incidents(killed)
    assert got == expected and got_flows == expected_flows
    assert resumed.incidents == len(expected) - len(partial)
    # the ledger covers every line once, in order, across both processes
    lines = ledger.sort_values("first_line")
    assert (lines["first_line"].to_numpy()[1:] == lines["last_line"].to_numpy()[:-1] + 1).all()
    assert lines["records"].sum() == whole.records


def test_a_second_pass_over_a_finished_log_adds_nothing(setup, tmp_path):
    _, model, log = setup
    first = _run(log, model, tmp_path / "s.duckdb", batch_records=2000, once=True)
    again = _run(log, model, tmp_path / "s.duckdb", batch_records=2000, once=True)
    assert first.incidents >= 2 and again.records == 0 and again.incidents == 0


def test_the_watch_command_takes_a_behaviour_model_folder(setup, tmp_path, capsys):
    from trustshield.cli import main
    from trustshield.commands.behaviour import MODEL_FILE

    work, model, log = setup
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / MODEL_FILE).write_text(json.dumps(model.to_dict()), encoding="utf-8")
    store = tmp_path / "cli.duckdb"
    args = ["watch", str(log), "--model", str(folder), "--store", str(store), "--once"]
    assert main([*args, "--batch-records", "1000"]) == 0
    said = capsys.readouterr().out
    assert "incident(s) stored" in said
    rows, _, _ = _incidents(store)
    assert rows and f"{len(rows)} incident(s) stored" in said
    assert main(["incidents", "list", "--store", str(store)]) == 0
    assert rows[0][0] in capsys.readouterr().out


def test_the_watch_trims_the_stores_cache_after_every_commit(setup, tmp_path):
    from trustshield.pipeline.watch_behaviour import STORE_CACHE

    _, model, log = setup
    trims: list[str] = []
    commits: list[int] = []
    with AlertStore(tmp_path / "cache.duckdb") as store:
        trim = store.db.trim_cache
        store.db.trim_cache = lambda size: (trims.append(size), trim(size))[1]
        watch_behaviour(
            log,
            store,
            model,
            "m1",
            lateness_s=3600.0,
            close_records=300,
            batch_records=2000,
            once=True,
            progress=lambda figures: commits.append(figures["records"]),
        )
    assert len(commits) >= 3 and trims == [STORE_CACHE] * len(commits)
