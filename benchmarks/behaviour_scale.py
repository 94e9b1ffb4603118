"""Scale of behaviour detection: Zeek TSV conn records to incidents, records/s and peak RSS.

    python benchmarks/behaviour_scale.py --json out/bench_behaviour_scale.json
    python benchmarks/behaviour_scale.py --json /tmp/quick.json --records 1000000   # quick
    python benchmarks/behaviour_scale.py --json out/bench_behaviour_scale.json --watch-only

Protocol
--------
* Input (not timed): IoT-23 scenario 34-1 (``iot-23`` registry, sha256 checked) repeated
  until ``--records`` records (default 10,000,000): copy ``k`` has its times shifted by
  ``k`` times the capture's span (so the file stays in time order) and every private
  (site) address renamed into ``10.x.y.z`` per copy, so each copy brings its own hosts;
  uids get a per-copy prefix. Written as a standard Zeek TSV conn.log (tab separated, the
  ``#fields``/``#types`` header, no label columns) in a temporary folder outside the
  checkout (``--workdir`` to choose it).
* Model (not timed): :func:`trustshield.incidents.model.fit_behaviour` on the other five
  IoT-23 scenarios (34-1 left out), as ``trustshield train --kind behaviour`` fits it.
* Timed, in a fresh subprocess: what ``trustshield detect --input conn.log`` does with a
  behaviour model (``commands.behaviour.detect_behaviour`` without the printing), reading
  the fields behaviour detection needs (``ingest.zeek_columns.read_conn_columns``, which
  falls back to the strict ``read_conn_table``), then building the channel windows (``behaviour_table``), flag them
  and group the incidents (``detect_incidents``), and write them as JSON lines. The figure
  is records / wall seconds of that whole process, interpreter start included; peak RSS
  is the subprocess's own (``os.wait4``), and so are its CPU seconds (user + system, every
  thread: the next blocks are parsed on a second thread while windows are built), with
  ``cpu_records_per_s_2_cores`` = records / (CPU seconds / 2), what two idle cores would
  give were the work spread evenly over them, and the load averages before and after.
  Stage times are reported beside it.
* Watch (``--watch-records``, default 2,000,000; 0 skips it): the same generator writes a
  log of that many records, and ``trustshield watch`` with the behaviour model
  (``pipeline.watch_behaviour.watch_behaviour``, ``--once``, 20,000-record batches, a
  DuckDB store in the temporary folder: incidents, state and ledger committed per batch)
  follows it in a fresh subprocess. Records/s is over the watch call (model loaded, store
  open); "sustained" is the rate after the first quarter of the records (the warm-up:
  several closings of windows, the state at its size). Memory growth is the highest RSS
  after that point minus the RSS at it (sampled after every commit), over the records
  read (``memory_growth_mb``: the steady state) and, beside it, including the commit that
  closes, when the run ends, the windows the stream has passed
  (``memory_growth_mb_with_end_of_run``: a one-off closing of a day of open windows, not
  growth while following); the RSS after each tenth of the records is reported beside it,
  and the CPU seconds of the subprocess. Single samples peak while windows are being
  closed, so ``memory_growth_mb_median_last_tenth`` (the median RSS over the last tenth of
  the records minus the RSS after the first quarter) gives the level memory settles at.
  ``duckdb_memory_mb_by_tenth``: what DuckDB's buffer pool holds (``duckdb_memory()``)
  after each tenth (the watch trims it to ``pipeline.watch_behaviour.STORE_CACHE`` after
  each commit).
  ``--watch-only`` runs the watch part alone and puts its figures into the JSON already at
  ``--json`` (``watch``, its ``meets`` and ``watch_run``: when, the load and the command),
  leaving the figures of the earlier run of the other parts as they were.
* Spark (``--spark``; ``--spark-master``, default ``local[2]``): the same log, before it is
  removed, goes through ``detect --engine spark``'s work
  (``pipeline.spark_behaviour.detect_behaviour_spark``, its session started inside the
  timed subprocess; no evidence flows, which only the store needs, as the local run) and
  its incidents are written as JSON lines in the same order;
  ``spark_local_identical`` is whether the two files are byte for byte the same (ids,
  hosts, behaviours, evidence uids, attributions). Its CPU seconds are those of the whole
  process tree: the Python driver, the JVM and its Python workers (``/proc``, read just
  before the session stops, plus the children already reaped).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SCENARIO = "34-1"
DEFAULT_RECORDS = 10_000_000
TARGETS = {
    "records_per_s": 200_000,
    "peak_rss_mb": 2048,
    "watch_records_per_s": 50_000,
    "watch_memory_growth_mb": 50,
}
FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
)
TYPES = (
    "time string addr port addr port enum string interval count count string bool bool "
    "count string count count count count set[string]"
).split()


def _scenarios():
    from trustshield.incidents.model import scenario
    from trustshield.ingest.datasets import known_files, locate
    from trustshield.ingest.zeek_chunks import read_conn_table

    out = {}
    for known in known_files()["iot-23"]:
        name = known.name.split("/")[0]
        out[name] = (locate("iot-23", known), scenario)
    return out, read_conn_table


def _rename(addresses: pd.Series, copy: int) -> pd.Series:
    """Private addresses moved into 10.(copy >> 8).(copy & 255).<last octet>."""
    unique = addresses.unique()
    mapping = {}
    for a in unique:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if ip.version == 4 and ip.is_private:
            mapping[a] = f"10.{(copy >> 8) & 255}.{copy & 255}.{a.rsplit('.', 1)[1]}"
    return addresses.map(lambda a: mapping.get(a, a))


def generate(path: Path, records: int) -> dict:
    """Write ``records`` records of 34-1 repeated (see the protocol) to ``path``."""
    scenarios, read = _scenarios()
    source = scenarios[SCENARIO][0]
    base = read(source)
    text = pd.DataFrame({f: base[f] for f in FIELDS if f in base.columns})
    ts = pd.to_numeric(base["ts"]).to_numpy(float)
    span = float(np.ceil(ts.max() - ts.min() + 1.0))
    formatted = {}
    for f in FIELDS:
        if f not in text.columns:
            formatted[f] = pd.Series("-", index=text.index)
            continue
        col = text[f]
        if f in ("duration",):
            s = pd.to_numeric(col, errors="coerce").map(lambda v: "-" if pd.isna(v) else f"{v:.6f}")
        elif pd.api.types.is_numeric_dtype(col):
            s = col.map(lambda v: "-" if pd.isna(v) else str(int(v)))
        elif pd.api.types.is_bool_dtype(col) or col.dtype == object:
            s = col.map(
                lambda v: "-" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            )
        else:
            s = col.astype(str)
        formatted[f] = s.fillna("-").replace(
            {"True": "T", "False": "F", "nan": "-", "<NA>": "-", "": "-"}
        )
    # each record as: ts | uid | orig_h | <orig_p> | resp_h | <the rest>, the fixed parts
    # joined once; per copy only the time, uid prefix and site addresses change
    middle = formatted["id.orig_p"].to_numpy(object)
    rest = pd.Series(["\t".join(r) for r in zip(*(formatted[f] for f in FIELDS[5:]))])
    rest = rest.to_numpy(object)
    uid = formatted["uid"].to_numpy(object)
    written = 0
    copy = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n")
        out.write("#path\tconn\n#fields\t" + "\t".join(FIELDS) + "\n")
        out.write("#types\t" + "\t".join(TYPES) + "\n")
        while written < records:
            take = min(len(base), records - written)
            times = ts[:take] + copy * span
            orig = _rename(formatted["id.orig_h"].iloc[:take], copy).to_numpy(object)
            resp = _rename(formatted["id.resp_h"].iloc[:take], copy).to_numpy(object)
            prefix = f"K{copy:x}"
            out.write(
                "".join(
                    f"{t:.6f}\t{prefix}{u}\t{o}\t{m}\t{r}\t{x}\n"
                    for t, u, o, m, r, x in zip(times, uid, orig, middle, resp, rest)
                )
            )
            written += take
            copy += 1
    return {"records": written, "copies": copy, "bytes": path.stat().st_size, "span_s": span}


def train(model_path: Path) -> None:
    """The behaviour model fitted on the five other IoT-23 scenarios (not timed)."""
    from trustshield.incidents.model import fit_behaviour

    scenarios, read = _scenarios()
    training = [make(n, read(p)) for n, (p, make) in scenarios.items() if n != SCENARIO]
    model = fit_behaviour(training)
    model_path.write_text(json.dumps(model.to_dict()), encoding="utf-8")


def run(log: Path, model_path: Path, out: Path) -> None:
    """The timed part (in its own process): file to incidents as JSON lines, read and
    detected window by window (``pipeline.behaviour_stream.detect_log``)."""
    started = time.perf_counter()
    import resource

    from trustshield.atomic_files import writing_atomic
    from trustshield.incidents.grouping import incidents_jsonl
    from trustshield.incidents.model import BehaviourDetection
    from trustshield.pipeline.behaviour_stream import detect_log

    def peak() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    stages = {"imports": time.perf_counter() - started}
    peaks = {}
    model = BehaviourDetection.from_dict(json.loads(model_path.read_text(encoding="utf-8")))
    lines: list[tuple[float, str, str]] = []
    hosts: set[str] = set()
    t = time.perf_counter()
    grouped = []

    def keep(incidents, flows) -> None:
        g = time.perf_counter()
        if not grouped:
            stages["read_and_windows"] = g - t
            peaks["read_and_windows"] = peak()
        text = incidents_jsonl(incidents).splitlines(keepends=True)
        lines.extend((i.first_seen, i.host, x) for i, x in zip(incidents, text))
        hosts.update(i.host for i in incidents)
        grouped.append(time.perf_counter() - g)

    done = detect_log(model, log, keep)
    stages["group"] = sum(grouped)
    peaks["group"] = peak()
    t = time.perf_counter()
    lines.sort(key=lambda x: (x[0], x[1]))
    with writing_atomic(out) as handle:
        for _, _, line in lines:
            handle.write(line.encode("utf-8"))
    stages["write"] = time.perf_counter() - t
    peaks["write"] = peak()
    print(
        json.dumps(
            {
                "stages_s": {k: round(v, 2) for k, v in stages.items()},
                "peak_rss_mb_after": peaks,
                "flows": done.records,
                "streamed": done.streamed,
                "incidents": len(lines),
                "hosts": len(hosts),
            }
        )
    )


def run_spark(log: Path, model_path: Path, out: Path, master: str) -> None:
    """The Spark measurement (in its own process): file to incidents as JSON lines with
    ``detect_behaviour_spark``; CPU seconds of the whole process tree."""
    started = time.perf_counter()
    from trustshield.atomic_files import writing_atomic
    from trustshield.incidents.grouping import incidents_jsonl
    from trustshield.incidents.model import BehaviourDetection
    from trustshield.pipeline.spark_behaviour import detect_behaviour_spark
    from trustshield.pipeline.spark_session import spark_session

    model = BehaviourDetection.from_dict(json.loads(model_path.read_text(encoding="utf-8")))
    spark = spark_session(master, config={"spark.sql.files.maxPartitionBytes": "32m"})
    session = time.perf_counter() - started
    t = time.perf_counter()
    done = detect_behaviour_spark(model, [log], spark=spark, evidence=False)
    detected = time.perf_counter() - t
    incidents = [i for _, found in done.found for i, _ in found]
    with writing_atomic(out) as handle:
        handle.write(incidents_jsonl(incidents).encode("utf-8"))
    cpu = _tree_cpu_s(os.getpid())
    spark.stop()
    print(
        json.dumps(
            {
                "stages_s": {
                    "imports_and_session": round(session, 2),
                    "detect": round(detected, 2),
                },
                "flows": done.records,
                "incidents": len(incidents),
                "hosts": len({i.host for i in incidents}),
                "cpu_s_tree_before_stop": round(cpu, 2),
            }
        )
    )


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, with reaped children) of ``root`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            f = stats[pid]
            total += sum(int(x) for x in f[11:15]) / tick  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return total


def timed_spark(log: Path, model_path: Path, out: Path, master: str) -> dict:
    """Run :func:`run_spark` in a subprocess: wall seconds, CPU seconds and its report."""
    argv = ["--run-spark", str(log), "--model", str(model_path)]
    argv += ["--out", str(out), "--spark-master", master]
    seconds, usage, load, report = run_timed(argv, "Spark run")
    return {
        "master": master,
        "seconds": round(seconds, 2),
        # the tree read before stop; the driver's own figure after the JVM has gone
        "cpu_s": round(max(report["cpu_s_tree_before_stop"], usage.ru_utime + usage.ru_stime), 2),
        "cpu_s_driver_after_stop": round(usage.ru_utime + usage.ru_stime, 2),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        **report,
    }


def run_watch(log: Path, model_path: Path, store_path: Path) -> None:
    """The watch measurement (in its own process): RSS after every commit."""
    import resource

    from trustshield.incidents.model import BehaviourDetection
    from trustshield.pipeline.watch_behaviour import watch_behaviour
    from trustshield.store import AlertStore

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> float:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * page / 2**20

    model = BehaviourDetection.from_dict(json.loads(model_path.read_text(encoding="utf-8")))
    samples: list[tuple[float, int, float]] = []
    cached: list[tuple[int, float]] = []
    ends: list[float] = []

    def progress(figures: dict) -> None:
        if figures.get("end_of_run"):
            ends.append(rss())
            return
        samples.append((time.perf_counter(), figures["records"], rss()))
        pool = store.db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
        cached.append((figures["records"], pool.fetchall()[0][0] / 2**20))

    with AlertStore(store_path) as store:
        started = time.perf_counter()
        done = watch_behaviour(
            log, store, model, "bench", batch_records=20_000, once=True, progress=progress
        )
        seconds = time.perf_counter() - started
    # warm-up: the first quarter (several closings of 100,000 records, the state at size)
    tenth = next(i for i, (_, n, _) in enumerate(samples) if n >= done.records / 4)
    t0, n0, rss0 = samples[tenth]
    t1, n1, _ = samples[-1]
    steady = max(r for _, _, r in samples[tenth:])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "records": done.records,
                "seconds": round(seconds, 2),
                "records_per_s": round(done.records / seconds),
                "sustained_records_per_s": round((n1 - n0) / max(t1 - t0, 1e-9)),
                "rss_mb_after_first_quarter": round(rss0, 1),
                "rss_mb_max_after": round(steady, 1),
                "memory_growth_mb": round(steady - rss0, 1),
                "rss_mb_after_end_of_run_closing": round(ends[-1], 1) if ends else None,
                "memory_growth_mb_with_end_of_run": round(max([steady, *ends]) - rss0, 1),
                "memory_growth_mb_median_last_tenth": round(
                    float(np.median([r for _, n, r in samples if n >= done.records * 0.9])) - rss0,
                    1,
                ),
                "cpu_s_process": round(usage.ru_utime + usage.ru_stime, 2),
                "rss_mb_by_tenth": [
                    round(next((r for _, n, r in samples if n >= done.records * k / 10), rss0), 1)
                    for k in range(1, 11)
                ],
                "duckdb_memory_mb_by_tenth": [
                    round(next((c for n, c in cached if n >= done.records * k / 10), 0.0), 1)
                    for k in range(1, 11)
                ],
                "commits": len(samples),
                "incidents": done.incidents,
                "open_periods": done.open_periods,
                "late_records": done.late,
            }
        )
    )


def timed_watch(log: Path, model_path: Path, store: Path) -> dict:
    import subprocess

    argv = [sys.executable, __file__, "--run-watch", str(log), "--model", str(model_path)]
    argv += ["--out", str(store)]
    load = os.getloadavg()
    text = subprocess.run(argv, stdout=subprocess.PIPE, cwd=REPO, check=True).stdout.decode()
    return {
        **json.loads(text.strip().splitlines()[-1]),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def timed(log: Path, model_path: Path, out: Path) -> dict:
    """Run :func:`run` in a subprocess: wall seconds, its peak RSS and its report."""
    argv = ["--run", str(log), "--model", str(model_path), "--out", str(out)]
    seconds, usage, load, report = run_timed(argv, "run")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_system_s": round(usage.ru_stime, 2),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        **report,
    }


def run_timed(arguments: list[str], what: str) -> tuple[float, Any, tuple, dict]:
    """This script with ``arguments`` in a subprocess: its wall seconds, rusage (os.wait4),
    the load average before it and the JSON report it printed last."""
    import subprocess

    load = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, *arguments], stdout=subprocess.PIPE, cwd=REPO
    )
    assert proc.stdout is not None
    text = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the timed {what} failed with status {status}")
    return seconds, usage, load, json.loads(text.strip().splitlines()[-1])


def watch_meets(watched: dict) -> dict:
    return {
        "watch_records_per_s": watched["sustained_records_per_s"] >= TARGETS["watch_records_per_s"],
        "watch_memory_growth_mb": watched["memory_growth_mb"] <= TARGETS["watch_memory_growth_mb"],
    }


def watch_only(path: str | None, records: int, workdir: str | None) -> dict:
    """The watch part alone, its figures put into the JSON at ``path`` (the other parts'
    figures stay those of the run that wrote it)."""
    from datetime import datetime, timezone

    from trustshield.commands.benchmark import write_json

    if not path or not Path(path).is_file():
        raise SystemExit("--watch-only updates the JSON of an earlier run: give it as --json")
    out = json.loads(Path(path).read_text(encoding="utf-8"))
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        train(folder / "model.json")
        generate(folder / "watch.log", records)
        watched = timed_watch(folder / "watch.log", folder / "model.json", folder / "w.duckdb")
    print(f"watch: {watched}", file=sys.stderr)
    out["protocol"] = " ".join((__doc__ or "").split("Protocol\n--------", 1)[1].split())
    out["watch"] = watched
    out["meets"] = {**out.get("meets", {}), **watch_meets(watched)}
    out["watch_run"] = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f"python benchmarks/behaviour_scale.py --json {path} --watch-only",
        "load": load,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    write_json(out, path)
    return out


def main(argv: list[str] | None = None) -> dict:
    from trustshield.commands.benchmark import write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--workdir", help="folder for the generated log (default: a temp dir)")
    parser.add_argument("--watch-records", type=int, default=2_000_000)
    parser.add_argument(
        "--spark", action="store_true", help="also run detect --engine spark on the same log"
    )
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--run-spark", help=argparse.SUPPRESS)
    parser.add_argument(
        "--watch-only",
        action="store_true",
        help="run the watch part alone and update the watch figures of the JSON at --json",
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--run-watch", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        run(Path(args.run), Path(args.model), Path(args.out))
        return {}
    if args.run_spark:
        run_spark(Path(args.run_spark), Path(args.model), Path(args.out), args.spark_master)
        return {}
    if args.run_watch:
        run_watch(Path(args.run_watch), Path(args.model), Path(args.out))
        return {}
    if args.watch_only:
        return watch_only(args.json, args.watch_records, args.workdir)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        generated = generate(folder / "conn.log", args.records)
        generated["seconds"] = round(time.perf_counter() - t, 1)
        print(f"generated: {generated}", file=sys.stderr)
        train(folder / "model.json")
        result = timed(folder / "conn.log", folder / "model.json", folder / "incidents.jsonl")
        spark = None
        if args.spark:
            spark = timed_spark(
                folder / "conn.log",
                folder / "model.json",
                folder / "spark.jsonl",
                args.spark_master,
            )
            local_text = (folder / "incidents.jsonl").read_bytes()
            spark["spark_local_identical"] = (folder / "spark.jsonl").read_bytes() == local_text
            spark["records_per_s"] = round(generated["records"] / spark["seconds"])
            print(f"spark: {spark}", file=sys.stderr)
        (folder / "conn.log").unlink()
        watched = None
        if args.watch_records:
            generate(folder / "watch.log", args.watch_records)
            watched = timed_watch(folder / "watch.log", folder / "model.json", folder / "w.duckdb")
            print(f"watch: {watched}", file=sys.stderr)
    result["records_per_s"] = round(generated["records"] / result["seconds"])
    result["cpu_records_per_s_2_cores"] = round(generated["records"] / (result["cpu_s"] / 2))
    out = {
        "benchmark": "behaviour_scale",
        "protocol": " ".join((__doc__ or "").split("Protocol\n--------", 1)[1].split()),
        "input": generated,
        "targets": TARGETS,
        "result": result,
        "watch": watched,
        "spark": spark,
        "spark_local_identical": None if spark is None else spark["spark_local_identical"],
        "meets": {
            "records_per_s": result["records_per_s"] >= TARGETS["records_per_s"],
            "peak_rss_mb": result["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
            **({} if watched is None else watch_meets(watched)),
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": load},
    }
    print(json.dumps(out["result"]), file=sys.stderr)
    write_json(out, args.json)
    return out


if __name__ == "__main__":
    main()
