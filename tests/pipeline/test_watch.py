"""Streaming detection over a growing conn.log: features independent of batch cuts and
restarts, exactly-once commits (checkpoint + ledger + alerts), rotation, truncation, partial
lines, bad lines, the drift hook, scoring processes, and SIGKILL at random points."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.features.kdd_derived import kdd_features
from trustshield.ingest.follow import head_of
from trustshield.ingest.zeek import CONN_FIELDS, CONN_TYPES, read_conn_log
from trustshield.pipeline.stream_features import StreamContext
from trustshield.pipeline.watch import stream_name, watch
from trustshield.store import AlertStore

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\tconn\n#open\t{open}\n#fields\t"
    + "\t".join(CONN_FIELDS)
    + "\n#types\t"
    + "\t".join(CONN_TYPES[f] for f in CONN_FIELDS)
    + "\n"
)
STATES = ("SF", "S0", "REJ", "RSTO", "SF", "SF", "S1", "OTH")


def conn_lines(n: int, *, seed: int, start: float = 1.79e9, rate: float = 80.0) -> list[str]:
    """``n`` conn.log records as Zeek writes them: at connection end, so ``ts`` (the start)
    is not monotone in the file; a few long connections, scans and floods among them."""
    rng = np.random.default_rng(seed)
    end = start + np.cumsum(rng.exponential(1 / rate, n))
    duration = np.where(rng.random(n) < 0.05, rng.uniform(2, 20, n), rng.exponential(0.3, n))
    proto = rng.choice(["tcp", "tcp", "tcp", "udp", "icmp"], n)
    resp_p = np.where(
        proto == "icmp", rng.choice([0, 3], n), rng.choice([22, 53, 80, 443, 8080, 6001, 1234], n)
    )
    rows = []
    for i in range(n):
        state = rng.choice(STATES) if proto[i] == "tcp" else "SF"
        rows.append(
            "\t".join(
                [
                    f"{end[i] - duration[i]:.6f}",
                    f"C{seed}x{i}",
                    f"10.0.{rng.integers(0, 4)}.{rng.integers(1, 40)}",
                    str(8 if proto[i] == "icmp" else rng.integers(1024, 65536)),
                    f"172.16.0.{rng.integers(1, 12)}",
                    str(resp_p[i]),
                    proto[i],
                    rng.choice(["-", "http", "dns", "ssh"]),
                    f"{duration[i]:.6f}",
                    str(rng.integers(0, 5000)),
                    str(rng.integers(0, 50000)),
                    state,
                    "T",
                    "F",
                    "0",
                    "ShADadFf",
                    "5",
                    "500",
                    "4",
                    "800",
                    "(empty)",
                    "6",
                ]
            )
            + "\n"
        )
    return rows


def write_log(path: Path, rows: list[str], *, opened: str = "2026-11-27-12-00-00", mode: str = "w"):
    with open(path, mode, encoding="utf-8") as fh:
        if mode == "w":
            fh.write(HEADER.format(open=opened))
        fh.write("".join(rows))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A quick model trained on 100 NSL-KDD training records per label, saved to a folder."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from synthetic import train_small
    from trustshield.ingest.datasets import data_dirs
    from trustshield.ingest.tabular import TableSource
    from trustshield.model_folder import save_model
    from trustshield.specs import load_spec
    from trustshield.specs.loading import read_spec_text

    path = next(
        (
            r / "nsl-kdd" / "KDDTrain+_20Percent.txt"
            for r in data_dirs()
            if (r / "nsl-kdd" / "KDDTrain+_20Percent.txt").is_file()
        ),
        None,
    )
    if path is None:
        pytest.skip("NSL-KDD training file not in the data roots")
    spec = load_spec("nsl-kdd")
    frame = TableSource(path, spec).read_all()
    model = train_small(
        frame[frame.groupby("label").cumcount() < 100].reset_index(drop=True),
        spec,
        read_spec_text("nsl-kdd")[0],
    )
    folder = tmp_path_factory.mktemp("models") / "model"
    save_model(model, folder)
    return folder


@pytest.fixture(scope="module")
def model(model_dir):
    from trustshield.model_folder import load_model

    return load_model(model_dir)


def alerts_of(target) -> pd.DataFrame:
    with AlertStore(target) as store:
        out = store.alerts()[["alert_id", "action", "suspicion"]]
    return out.sort_values("alert_id").reset_index(drop=True)


def ledger_of(target) -> pd.DataFrame:
    with AlertStore(target) as store:
        return store.watch.ledger()


def covers_every_line_once(ledger: pd.DataFrame, files: list[Path]) -> None:
    """Every line of every file in exactly one ledger row; records = record lines."""
    for path in files:
        data = path.read_bytes()
        file_id = __import__("hashlib").sha256(head_of(data)).hexdigest()
        rows = ledger[ledger.file_id == file_id].sort_values("first_line")
        assert len(rows), path
        assert rows.first_line.iloc[0] == 1
        assert (rows.first_line.to_numpy()[1:] == rows.last_line.to_numpy()[:-1] + 1).all(), path
        assert rows.last_line.iloc[-1] == data.count(b"\n"), path
        records = sum(1 for line in data.split(b"\n") if line and not line.startswith(b"#"))
        assert rows.records.sum() + rows.rejected.sum() == records, path


def test_stream_features_equal_whole_file_features_on_the_log_clock():
    rows = conn_lines(900, seed=1)
    conns = pd.DataFrame([r.rstrip("\n").split("\t") for r in rows], columns=CONN_FIELDS)
    conns = conns.assign(
        ts=conns.ts.astype(float),
        **{c: conns[c].astype(int) for c in ("id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes")},
        duration=conns.duration.astype(float),
    )
    clock = np.maximum.accumulate(conns.ts.to_numpy())
    assert (np.diff(conns.ts.to_numpy()) < 0).any()  # Zeek's order: ts not monotone
    whole = kdd_features(conns.assign(ts=clock)).reset_index(drop=True)
    for cuts in ([1, 2, 3, 50, 400, 900], list(range(13, 900, 13)) + [900]):
        context, parts, at = StreamContext.empty(), [], 0
        for cut in cuts:
            part = conns.iloc[at:cut]
            parts.append(context.features(part, np.arange(at, cut), np.arange(at, cut)))
            at = cut
        pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    monotone = conns.sort_values("ts", kind="stable").reset_index(drop=True)
    context = StreamContext.empty()
    half = context.features(monotone.iloc[:450], np.arange(450), np.arange(450))
    rest = context.features(monotone.iloc[450:], np.arange(450, 900), np.arange(450, 900))
    pd.testing.assert_frame_equal(
        pd.concat([half, rest], ignore_index=True), kdd_features(monotone).reset_index(drop=True)
    )


def test_batches_and_restarts_give_the_alerts_of_one_run(model, tmp_path, store_target):
    rows = conn_lines(1500, seed=2)
    one = tmp_path / "one" / "conn.log"
    one.parent.mkdir()
    write_log(one, rows)
    with AlertStore(tmp_path / "one.duckdb") as store:
        whole = watch(one, store, model=model, once=True, batch_records=100_000)
    expected = alerts_of(tmp_path / "one.duckdb")
    assert whole.records == 1500 and 0 < len(expected)

    log = tmp_path / "conn.log"
    write_log(log, rows[:333])
    with open(log, "a") as fh:
        fh.write(rows[333][:20])  # a half-written line waits
    with AlertStore(store_target) as store:
        first = watch(log, store, model=model, once=True, batch_records=64)
        assert first.records == 333
        with open(log, "a") as fh:
            fh.write(rows[333][20:] + "".join(rows[334:]))
        second = watch(log, store, model=model, once=True, batch_records=97)
        assert second.records == 1500 - 333
        assert watch(log, store, model=model, once=True).records == 0  # nothing twice
        checkpoint = store.watch.checkpoint(stream_name(log, model.model_id))
        assert checkpoint["byte_offset"] == log.stat().st_size
    got = alerts_of(store_target)
    assert got.alert_id.tolist() == expected.alert_id.tolist()
    assert got.action.tolist() == expected.action.tolist()
    np.testing.assert_array_equal(got.suspicion, expected.suspicion)
    covers_every_line_once(ledger_of(store_target), [log])


def test_rotation_and_truncation_are_followed(model, tmp_path):
    log, target = tmp_path / "conn.log", tmp_path / "s.duckdb"
    a, b, c = (
        conn_lines(300, seed=3),
        conn_lines(200, seed=4, start=1.8e9),
        conn_lines(50, seed=5, start=1.9e9),
    )
    write_log(log, a[:100], opened="A")
    with AlertStore(target) as store:
        watch(log, store, model=model, once=True)
        write_log(log, a[100:], mode="a")
        os.rename(log, tmp_path / "conn.2026-11-27-12-00-00.log")  # rotated while stopped
        write_log(log, b, opened="B")
        assert watch(log, store, model=model, once=True).records == 400
        inode = log.stat().st_ino
        write_log(log, c, opened="C")  # copytruncate: emptied and written again
        assert log.stat().st_ino == inode
        run = watch(log, store, model=model, once=True)
        assert run.records == 50
    ledger = ledger_of(target)
    assert ledger.records.sum() == 550
    covers_every_line_once(ledger, [tmp_path / "conn.2026-11-27-12-00-00.log", log])


def test_bad_line_stops_with_where_and_what_or_is_stored_and_skipped(model, tmp_path):
    rows = conn_lines(40, seed=6)
    rows[17] = rows[17].replace("\t172.16.0.", "\t172.16.0.x", 1)
    log = tmp_path / "conn.log"
    write_log(log, rows)
    with AlertStore(tmp_path / "a.duckdb") as store, pytest.raises(DataError) as error:
        watch(log, store, model=model, once=True)
    assert f"{log}: line 26, column 'id.resp_h'" in str(error.value)
    assert "an IPv4 or IPv6 address" in str(error.value)
    with AlertStore(tmp_path / "b.duckdb") as store:
        run = watch(log, store, model=model, once=True, on_error="skip")
        rejected = store.db.execute('SELECT line, "column" FROM rejected_rows').fetchall()
    assert run.records == 39 and rejected == [(26, "id.resp_h")]
    covers_every_line_once(ledger_of(tmp_path / "b.duckdb"), [log])


def test_drift_windows_and_entities_are_stored_with_the_batches(model, tmp_path):
    log = tmp_path / "conn.log"
    rows = conn_lines(1_250, seed=7)
    write_log(log, rows)
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = watch(log, store, model=model, once=True, batch_records=100, drift_window=500)
        events = store.drift.events(run_id=run.run.run_id)
        alerts = store.db.execute("SELECT line, entities FROM alerts").fetchall()
        times = dict(store.db.execute("SELECT line, event_time FROM alerts").fetchall())
        review_band = store.db.execute(
            "SELECT alert_id FROM alerts WHERE action = 'review' ORDER BY alert_id"
        ).fetchall()
        queued = sorted(i["alert_id"] for i in store.reviews.items(limit=100_000))
    # the review band is queued and counted, as POST /v1/score does
    assert queued == [r[0] for r in review_band]
    assert run.run.reviews_added == len(review_band)
    first_line = len(HEADER.format(open="x").splitlines()) + 1
    # two whole windows; the last 250 records are under MIN_WINDOW, so no verdict on them
    assert [(e["first_line"], e["last_line"], e["n_records"]) for e in events] == [
        (first_line, first_line + 499, 500),
        (first_line + 500, first_line + 999, 500),
    ]
    assert alerts
    for line, text in alerts:
        fields = rows[line - first_line].split("\t")
        entity = json.loads(text)
        assert times[line].timestamp() == pytest.approx(float(fields[0]), abs=1e-6)  # its ts
        assert (entity["src_ip"], entity["dst_ip"], entity["dst_port"], entity["proto"]) == (
            fields[2],
            fields[4],
            int(fields[5]),
            fields[6],
        )


def test_scoring_processes_give_what_one_process_gives(model, model_dir, tmp_path):
    log = tmp_path / "conn.log"
    write_log(log, conn_lines(700, seed=8))
    for name, workers in (("in.duckdb", 0), ("pool.duckdb", 1)):
        with AlertStore(tmp_path / name) as store:
            watch(log, store, model_dir=model_dir, once=True, batch_records=150, workers=workers)
    pd.testing.assert_frame_equal(
        alerts_of(tmp_path / "pool.duckdb"), alerts_of(tmp_path / "in.duckdb")
    )
    covers_every_line_once(ledger_of(tmp_path / "pool.duckdb"), [log])


@pytest.mark.slow
def test_a_killed_scoring_process_is_replaced_and_nothing_is_lost(model, model_dir, tmp_path):
    log = tmp_path / "conn.log"
    write_log(log, conn_lines(1500, seed=9))
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from attacks.rig import spawned_children

    killed = []
    others = set(spawned_children(os.getpid()))  # workers of earlier tests' services

    def kill_the_worker(figures):
        if not killed:  # after the first commit, with batches in flight
            killed.extend(set(spawned_children(os.getpid())) - others)
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with AlertStore(tmp_path / "in.duckdb") as store:
        watch(log, store, model=model, once=True, batch_records=100)
    with AlertStore(tmp_path / "pool.duckdb") as store:
        run = watch(
            log,
            store,
            model_dir=model_dir,
            once=True,
            batch_records=100,
            workers=1,
            progress=kill_the_worker,
        )
    assert len(killed) == 1 and run.run.status == "complete"
    pd.testing.assert_frame_equal(
        alerts_of(tmp_path / "pool.duckdb"), alerts_of(tmp_path / "in.duckdb")
    )
    covers_every_line_once(ledger_of(tmp_path / "pool.duckdb"), [log])


def file_data(k: int, per_file: int) -> bytes:
    return (
        HEADER.format(open=f"2026-11-27-12-{k:02d}-00")
        + "".join(conn_lines(per_file, seed=100 + k, start=1.79e9 + 1000 * k))
    ).encode()


def writer(folder: Path, files: int, per_file: int, seed: int, begun: int) -> None:
    """Append records to conn.log in random byte slices (so lines are often half-written),
    rotating it every ``per_file`` records, as Zeek does; the first ``begun`` bytes of the
    first file are already there."""
    rng = np.random.default_rng(seed)
    log = folder / "conn.log"
    for k in range(files):
        data, at = file_data(k, per_file), begun if k == 0 else 0
        with open(log, "ab") as fh:
            while at < len(data):
                step = int(rng.integers(1, 3000))
                fh.write(data[at : at + step])
                fh.flush()
                at += step
                time.sleep(float(rng.uniform(0, 0.07)))
        if k < files - 1:
            os.rename(log, folder / f"conn.2026-11-27-12-{k:02d}-00.log")


def writes(wal: Path, n: int, timeout: float = 20.0) -> None:
    """Wait until the store's write-ahead log changed ``n`` times (or ``timeout`` s)."""

    def stamp():
        return (wal.stat().st_size, wal.stat().st_mtime_ns) if wal.exists() else None

    last, deadline = stamp(), time.monotonic() + timeout
    while n and time.monotonic() < deadline:
        time.sleep(0.05)
        if (now := stamp()) != last:
            last, n = now, n - 1


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_repeats_nothing(model, model_dir, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    target = tmp_path / "store.duckdb"
    first = file_data(0, 1000)
    begun = first.index(b"\n", len(HEADER) + 2000) + 1  # the watch starts on a live log
    (folder / "conn.log").write_bytes(first[:begun])
    thread = threading.Thread(target=writer, args=(folder, 4, 1000, 11, begun))
    command = [
        str(Path(sys.executable).parent / "trustshield"),
        "watch",
        str(folder / "conn.log"),
        "--model",
        str(model_dir),
        "--store",
        str(target),
        "--batch-records",
        "300",
        "--batch-seconds",
        "0.2",
        "--workers",
        "0",
    ]
    rng, wal = np.random.default_rng(42), Path(str(target) + ".wal")

    def start():
        return subprocess.Popen(
            command + ["--until-idle", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    process = start()
    writes(wal, 3)  # model registered, run started, the live log's first checkpoint committed
    thread.start()
    for kill in range(5):
        if kill:
            process = start()
            writes(wal, 2)  # the run started and committed something (under any load)
        time.sleep(float(rng.uniform(0.0, 1.5)))
        if process.poll() is not None:
            pytest.fail(process.stderr.read().decode())
        process.send_signal(signal.SIGKILL)
        process.wait()
    thread.join()
    final = subprocess.run(command + ["--once"], capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    files = sorted(folder.glob("conn*.log"))
    assert len(files) == 4
    ledger = ledger_of(target)
    assert ledger.run_id.nunique() >= 3  # killed runs committed batches
    covers_every_line_once(ledger, files)
    reference = tmp_path / "reference.duckdb"
    with AlertStore(reference) as store:
        for path in files:
            watch(path, store, model=model, once=True)
    got, expected = alerts_of(target), alerts_of(reference)
    assert got.alert_id.is_unique and len(got) == len(expected) > 0
    pd.testing.assert_frame_equal(got, expected)
    assert sum(len(read_conn_log(p)) for p in files) == ledger.records.sum()


def test_chunk_reader_types_as_the_file_reader_and_names_the_same_bad_field(tmp_path):
    from trustshield.ingest.zeek_chunks import conn_chunk, new_header

    rows = conn_lines(30, seed=9)
    cells = rows[3].split("\t")
    cells[2], cells[7], cells[20] = "fe80::1", "caf\\xc3\\xa9", "Cabc,Cdef"  # IPv6, escape, set
    rows[3] = "\t".join(cells)
    rows[5] = rows[5].replace("\tT\tF\t", "\t-\t-\t", 1)  # unset fields
    log = tmp_path / "conn.log"
    write_log(log, rows)
    data = log.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1  # two reads
    header = new_header()
    first, lines_a, _ = conn_chunk(data[:cut], header, file=str(log), first_line=1)
    second, lines_b, _ = conn_chunk(
        data[cut:], header, file=str(log), first_line=data[:cut].count(b"\n") + 1
    )
    whole = read_conn_log(log)
    pd.testing.assert_frame_equal(pd.concat([first, second], ignore_index=True), whole)
    assert np.concatenate([lines_a, lines_b]).tolist() == list(range(9, 39))
    bad = data.replace(b"\t5\t500\t", b"\t5\t-500\t", 1)
    log.write_bytes(bad)
    with pytest.raises(DataError) as by_file:
        read_conn_log(log)
    with pytest.raises(DataError) as by_chunk:
        conn_chunk(bad, new_header(), file=str(log), first_line=1)
    assert str(by_chunk.value) == str(by_file.value)


def test_json_lines_logs_are_followed_too(model, tmp_path):
    rows = conn_lines(120, seed=10)
    log, tsv = tmp_path / "conn.log", tmp_path / "tsv" / "conn.log"
    tsv.parent.mkdir()
    write_log(tsv, rows)
    frame = read_conn_log(tsv)
    with open(log, "w") as fh:
        for record in frame.to_dict("records"):
            fh.write(
                __import__("json").dumps(
                    {
                        k: v
                        for k, v in record.items()
                        if isinstance(v, (str, int, float))
                        and not (isinstance(v, float) and np.isnan(v))
                    }
                )
                + "\n"
            )
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = watch(log, store, model=model, once=True, batch_records=50)
    assert run.records == 120
    covers_every_line_once(ledger_of(tmp_path / "s.duckdb"), [log])


def test_sigterm_finishes_the_batch_and_exits_cleanly(model_dir, tmp_path):
    log, target = tmp_path / "conn.log", tmp_path / "s.duckdb"
    write_log(log, conn_lines(400, seed=12))
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "trustshield"),
            "watch",
            str(log),
            "--model",
            str(model_dir),
            "--store",
            str(target),
            "--workers",
            "0",
            "--until-idle",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "400"},
    )
    deadline = time.monotonic() + 60
    while not target.exists() and time.monotonic() < deadline:  # handlers are set by then
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert b"(stopped by signal)" in out
    with AlertStore(target) as store:
        assert store.db.execute("SELECT status FROM runs").fetchall() == [("complete",)]
        ledger = store.watch.ledger()
        if len(ledger):  # what was committed before the signal is whole and checkpointed
            checkpoint = store.watch.checkpoint(ledger.stream.iloc[0])
            assert checkpoint["line"] == ledger.last_line.max() + 1


def test_watch_json_prints_how_the_run_ended(model_dir, tmp_path, capsys):
    from trustshield.cli import main

    log, target = tmp_path / "conn.log", tmp_path / "s.duckdb"
    write_log(log, conn_lines(300, seed=13))
    argv = ["watch", str(log), "--model", str(model_dir), "--store", str(target)]
    assert main([*argv, "--workers", "0", "--once", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    with AlertStore(target) as store:
        [(run_id, rows, added)] = store.db.execute(
            "SELECT run_id, rows_read, alerts_added FROM runs"
        ).fetchall()
    assert printed["run"]["run_id"] == run_id and printed["run"]["status"] == "complete"
    assert printed["records"] == rows == 300 and printed["alerts"] == added
    assert printed["store"] == str(target) and printed["stopped_by_signal"] is False


def test_sigkill_of_watch_leaves_no_scoring_process_behind(model_dir, tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from attacks.rig import session_processes, wait_for_no_session

    folder, target = tmp_path / "logs", tmp_path / "store.duckdb"
    folder.mkdir()
    first = file_data(0, 1000)
    begun = first.index(b"\n", len(HEADER) + 2000) + 1
    (folder / "conn.log").write_bytes(first[:begun])
    thread = threading.Thread(target=writer, args=(folder, 1, 1000, 5, begun), daemon=True)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "trustshield"),
            "watch",
            str(folder / "conn.log"),
            "--model",
            str(model_dir),
            "--store",
            str(target),
            "--batch-records",
            "100",
            "--batch-seconds",
            "0.2",
            "--workers",
            "1",
            "--until-idle",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while len(session_processes(process.pid)) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.1)  # until watch, its scoring worker and the resource tracker run
        thread.start()
        writes(Path(str(target) + ".wal"), 2)  # scoring and committing
        running = session_processes(process.pid)
        assert process.poll() is None, process.stderr.read().decode()
        assert len(running) >= 3, running
        process.send_signal(signal.SIGKILL)
        process.wait()
        waited, left = wait_for_no_session(process.pid, timeout=5.0)
    finally:
        for pid, _, _ in session_processes(process.pid):  # whatever a failure left behind
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"still running {waited:.1f} s after watch was killed: {left}"


def test_the_watch_trims_the_stores_cache_after_every_batch(model, tmp_path):
    from trustshield.pipeline.watch import STORE_CACHE

    log = tmp_path / "conn.log"
    write_log(log, conn_lines(500, seed=5))
    trims: list[str] = []
    commits: list[int] = []
    with AlertStore(tmp_path / "cache.duckdb") as store:
        trim = store.db.trim_cache
        store.db.trim_cache = lambda size: (trims.append(size), trim(size))[1]
        watch(
            log,
            store,
            model=model,
            once=True,
            batch_records=100,
            progress=lambda figures: commits.append(figures["records"]),
        )
    assert commits[-1] == 500 and len(commits) >= 5
    assert trims == [STORE_CACHE] * len(commits)
