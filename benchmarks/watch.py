"""Streaming benchmark: ``trustshield watch`` over a conn.log of N records (default 10,000,000).

Protocol: the records of Zeek's own baseline conn.logs (``zeek-pcap-baselines`` under
TRUSTSHIELD_DATA_DIR) are repeated into one ASCII conn.log in a temporary folder, each copy
with an increasing time stamp (about 200 connections per second of log time, start times
shifted back by the connection's duration as Zeek writes a record at its end), a fresh uid,
and originators, responders and source ports varied; the file is written before the run
starts. ``watch --once`` then follows it with the model (``--model``, else one trained on
NSL-KDD KDDTrain+_20Percent.txt) into a fresh DuckDB store, and a sampler records the
process tree's resident memory (RSS, MB) each time another million records is committed.
Figures: records/s over the whole run (with the CPU seconds of the run and the 1-minute load
average before it), RSS at the first and last million, alerts, and the
ledger checked against the lines written (``lost``, ``duplicated``) and the alert ids
checked for duplicates.

    .venv/bin/python benchmarks/watch.py --json out/bench_watch.json [--records 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\tconn\n#open\t{open}\n#fields\t{fields}\n#types\t{types}\n"
)
PER_SECOND = 200


def baseline_records() -> list[list[str]]:
    """Every record of the baseline conn.logs, split into fields (time stamps are masked)."""
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
        sys.exit("zeek-pcap-baselines not found under TRUSTSHIELD_DATA_DIR")
    rows = []
    for log in sorted(root.glob("*/conn.log")):
        rows += [
            line.rstrip("\n").split("\t")
            for line in log.read_text().splitlines(True)
            if line.strip() and not line.startswith("#")
        ]
    return rows


def write_conn_log(path: Path, records: int, *, seed: int = 0, chunk: int = 100_000) -> None:
    """An ASCII conn.log of ``records`` varied copies of the baseline records."""
    from trustshield.ingest.zeek import CONN_FIELDS, CONN_TYPES

    base = baseline_records()
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            HEADER.format(
                open="2026-11-27-12-00-00",
                fields="\t".join(CONN_FIELDS),
                types="\t".join(CONN_TYPES[f] for f in CONN_FIELDS),
            )
        )
        for start in range(0, records, chunk):
            n = min(chunk, records - start)
            out.write("".join(_lines(base, start, n, rng)))


def _lines(base: list[list[str]], start: int, n: int, rng) -> list[str]:
    """Records start .. start+n: time, uid, hosts and ports varied, the rest as in Zeek's logs."""
    pick = rng.integers(0, len(base), n)
    clock = 1_790_000_000.0 + (start + np.arange(n)) / PER_SECOND
    orig = rng.integers(0, 1 << 16, n)
    resp = rng.integers(0, 256, n)
    sport = rng.integers(1024, 65536, n)
    out = []
    for i in range(n):
        row = list(base[pick[i]])
        duration = float(row[8]) if row[8] != "-" else 0.0
        row[0] = f"{clock[i] - min(duration, 30.0):.6f}"
        row[1] = f"C{start + i:x}"
        row[2] = f"10.{orig[i] >> 8}.{orig[i] & 255}.{1 + i % 200}" if ":" not in row[2] else row[2]
        if row[6] != "icmp":
            row[3] = str(sport[i])
        row[4] = f"172.16.{resp[i]}.{1 + (i % 7)}" if ":" not in row[4] else row[4]
        out.append("\t".join(row) + "\n")
    return out


def rss_mb(pid: int | None = None) -> float:
    """Resident memory (MB) of a process and all its descendants, from /proc."""
    pid = os.getpid() if pid is None else pid
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def model_folder(path: str | None, work: Path) -> Path:
    """``path``, else a model trained here on NSL-KDD KDDTrain+_20Percent.txt."""
    if path:
        return Path(path)
    from trustshield.ingest.tabular import TableSource
    from trustshield.model_folder import save_model
    from trustshield.pipeline.train import train
    from trustshield.specs import load_spec
    from trustshield.specs.loading import read_spec_text
    from trustshield.commands.common import resolve_data

    spec = load_spec("nsl-kdd")
    frame = TableSource(resolve_data("nsl-kdd:KDDTrain+_20Percent.txt"), spec).read_all()
    save_model(
        train(
            frame,
            spec,
            read_spec_text("nsl-kdd")[0],
            provenance={"data": {"name": "KDDTrain+_20Percent.txt"}},
        ),
        work / "model",
    )
    return work / "model"


def check_store(store, log: Path, records: int) -> dict:
    """lost / duplicated records per the ledger, duplicated alert ids, alerts stored."""
    ledger = store.watch.ledger()
    lines = ledger.sort_values("first_line")
    gaps = int((lines.first_line.to_numpy()[1:] != lines.last_line.to_numpy()[:-1] + 1).sum())
    scored = int(ledger.records.sum() + ledger.rejected.sum())
    alerts, distinct = store.db.execute(
        "SELECT count(*), count(DISTINCT alert_id) FROM alerts"
    ).fetchall()[0]
    return {
        "lost": max(records - scored, 0) + gaps,
        "duplicated": max(scored - records, 0) + int(alerts - distinct),
        "alerts": int(alerts),
        "ledger_alerts": int(ledger.alerts.sum()),
        "last_line_in_ledger": int(lines.last_line.max()),
        "lines_in_file": sum(1 for _ in open(log, "rb")),
    }


def stage_times(log: Path, model, store, batch_records: int, repeats: int = 3) -> dict:
    """Median µs per record of each stage, one process, on the first ``repeats`` batches."""
    from trustshield.ingest.follow import Follower, Lines
    from trustshield.ingest.tabular import Batch
    from trustshield.ingest.zeek_chunks import new_header
    from trustshield.pipeline.detect import alerts_table
    from trustshield.pipeline.scoring import score_batch
    from trustshield.pipeline.stream_features import StreamContext
    from trustshield.pipeline.watch import parse_lines

    follower, header, context = (
        Follower(log, read_size=1 << 30),
        new_header(),
        StreamContext.empty(),
    )
    data = follower.poll()
    ends = (
        np.flatnonzero(np.frombuffer(data.data, np.uint8) == 10)[batch_records - 1 :: batch_records]
        + 1
    )
    times: dict[str, list[float]] = {
        k: [] for k in ("parse", "features", "score", "alerts_table", "store")
    }
    store.start_run(
        run_id="stages",
        kind="watch",
        model_id=model.model_id,
        source_path=str(log),
        source_sha256="",
    )
    start, line = 0, 1
    for end in ends[:repeats]:
        lines = Lines(data.identity, data.data[start:end], start, line)
        stamps = [time.perf_counter()]
        conns, numbers, offsets, _ = parse_lines(lines, header, skip_bad=False)
        stamps.append(time.perf_counter())
        features = context.features(conns, offsets, numbers)
        stamps.append(time.perf_counter())
        scored = score_batch(model, features)
        stamps.append(time.perf_counter())
        table = alerts_table(
            model, data.identity.head_sha256, "stages", Batch(features, numbers), scored
        )
        stamps.append(time.perf_counter())
        with store.transaction():
            store.add_batch("stages", table, (), rows_read=len(features))
        stamps.append(time.perf_counter())
        for key, a, b in zip(times, stamps, stamps[1:]):
            times[key].append((b - a) / len(features) * 1e6)
        start, line = int(end), line + lines.data.count(b"\n")
    follower.close()
    return {k: round(float(np.median(v)), 1) for k, v in times.items()}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--model", help="model folder (default: train one on KDDTrain+_20Percent)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-records", type=int, default=20_000)
    parser.add_argument("--dir", help="work folder (default: a temporary one, removed after)")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also time each stage in one process (µs per record, medians)",
    )
    args = parser.parse_args()
    from trustshield.model_folder import load_model
    from trustshield.pipeline.watch import watch
    from trustshield.store import AlertStore

    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trustshield-watch-", dir=args.dir) as tmp:
        work = Path(tmp)
        folder = model_folder(args.model, work)
        log = work / "conn.log"
        started = time.perf_counter()
        write_conn_log(log, args.records)
        generated = time.perf_counter() - started
        rss, million = {}, [1]

        def progress(f: dict) -> None:
            while f["records"] >= million[0] * 1_000_000:
                rss[million[0]] = rss_mb()
                print(
                    f"{f['records']:>11,} records  {f['records_per_s']:>8,.0f}/s  "
                    f"RSS {rss[million[0]]:,.0f} MB",
                    flush=True,
                )
                million[0] += 1

        with AlertStore(work / "store.duckdb") as store:
            rss[0] = rss_mb()
            load_before, cpu_before = os.getloadavg()[0], cpu_seconds()
            started = time.perf_counter()
            run = watch(
                log,
                store,
                model=load_model(folder),
                model_dir=folder,
                once=True,
                workers=args.workers,
                batch_records=args.batch_records,
                progress=progress,
            )
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
            checks = check_store(store, log, args.records)
        stages = {}
        if args.stages:
            with AlertStore(work / "stages.duckdb") as store:
                stages = stage_times(log, load_model(folder), store, args.batch_records)
    first = rss.get(1, rss[0])
    last = rss.get(max(rss), first)
    figures = {
        "records": run.records,
        "seconds": round(seconds, 1),
        "records_per_s": round(run.records / seconds),
        "cpu_seconds": round(cpu, 1),
        "load_average_before": round(load_before, 2),
        "rss_start_mb": round(first, 1),
        "rss_end_mb": round(last, 1),
        "rss_by_million_mb": {k: round(v, 1) for k, v in rss.items()},
        **checks,
        "alert_share": round(checks["alerts"] / max(run.records, 1), 4),
        "workers": args.workers,
        "batch_records": args.batch_records,
        "stages_us_per_record": stages,
        "model": str(folder),
        "generate_seconds": round(generated, 1),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    print(json.dumps({k: v for k, v in figures.items() if k != "protocol"}, indent=1))
    print("protocol:", figures["protocol"])
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
