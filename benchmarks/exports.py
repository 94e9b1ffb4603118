"""Time `trustshield alerts export` on a store of 100,000 synthetic alerts, in every format.

    python benchmarks/exports.py --json out/bench_exports.json [--alerts 100000] [--runs 3]

Protocol
--------
* A temporary DuckDB store is filled with ``--alerts`` synthetic alerts (default 100,000)
  through the store's own writing API, as ``detect`` writes them: a registered model (the
  built-in ``nsl-kdd`` spec's 41 features), a run, and batches of 20,000 alerts handed to
  ``AlertStore.add_batch`` with the typed entity column of
  ``trustshield.pipeline.detect.entity_column``. Every alert has random exact attributions
  (41 floats), a rationale, an ATT&CK technique of the spec, and entities: an event time
  within one day, source and destination addresses from the documentation ranges
  (RFC 5737), ports, protocol and a connection id. Seeded (``--seed``, default 0).
* Each format (``ecs``, ``jsonl``, ``csv``, ``stix``) is exported by the command line,
  ``trustshield alerts export --store S --format F --out FILE``, in its own child process
  (``sys.executable -m trustshield.cli``), timed by wall clock around the whole child
  (interpreter start, store open, query, writing, the atomic rename). ``--runs`` runs per
  format (default 3; ``--stix-runs`` for STIX, default 1, because the ``stix2`` library
  builds and checks every object in Python and takes minutes), interleaved round robin;
  the figure is the median, and every run is listed, with the CPU seconds (user + system)
  of each child from ``getrusage`` and the 1-minute load average after it: on a shared
  machine the wall clock also counts waiting for a core, the CPU seconds do not.
* Each output is checked before it counts: the number of lines (``ecs``, ``jsonl``), rows
  (``csv``) or Sightings (``stix``) equals ``--alerts``.
* Target: ``ecs`` median <= 5 s for 100,000 alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

TARGET_ECS_S = 5.0
FORMATS = ("ecs", "jsonl", "csv", "stix")
BATCH = 20_000
DAY_START = 1_714_550_400.0  # 2024-05-01T08:00:00Z
ACTIONS = ("alert", "review")


def fill_store(path: Path, alerts: int, *, seed: int = 0, batch: int = BATCH) -> str:
    """Write ``alerts`` synthetic alerts into a new store at ``path`` (see the protocol);
    return the run id."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from trustshield.pipeline.detect import entity_column
    from trustshield.specs import load_spec
    from trustshield.store import AlertStore, alert_id

    spec = load_spec("nsl-kdd")
    features = [{"name": f.name, "type": f.type, "categories": []} for f in spec.features]
    techniques = sorted(spec.technique_names)
    rng = np.random.default_rng(seed)
    model_id = "b" * 64
    sha = "c" * 64
    run_id = "bench-exports"
    manifest = {
        "model_id": model_id,
        "created_at": "2024-05-01T00:00:00+00:00",
        "spec": spec.name,
        "detector": "synthetic",
        "files": {},
    }
    with AlertStore(path, actor="benchmark") as store:
        store.record_model(manifest, features)
        store.start_run(
            run_id=run_id,
            kind="detect",
            model_id=model_id,
            source_path="synthetic",
            source_sha256=sha,
        )
        for start in range(0, alerts, batch):
            n = min(batch, alerts - start)
            lines = np.arange(start, start + n, dtype=np.int64) + 2
            values = rng.normal(0.0, 0.01, size=(n, len(features)))
            base = np.full(n, 0.6)
            entities = pd.DataFrame(
                {
                    "ts": DAY_START + np.sort(rng.uniform(0, 86_400, n)),
                    "uid": [f"C{seed}x{x}" for x in lines],
                    "src_ip": [f"198.51.100.{i}" for i in rng.integers(1, 255, n)],
                    "src_port": rng.integers(1024, 65_536, n),
                    "dst_ip": [f"203.0.113.{i}" for i in rng.integers(1, 255, n)],
                    "dst_port": rng.choice([22, 53, 80, 443, 8080], n),
                    "proto": rng.choice(["tcp", "udp", "icmp"], n),
                }
            )
            chosen = rng.integers(0, len(techniques), n)
            table = pa.table(
                {
                    "alert_id": [alert_id(model_id, sha, int(x)) for x in lines],
                    "run_id": pa.array([run_id] * n, pa.string()),
                    "model_id": pa.array([model_id] * n, pa.string()),
                    "source_sha256": pa.array([sha] * n, pa.string()),
                    "line": pa.array(lines, pa.int64()),
                    "action": pa.array(rng.choice(ACTIONS, n, p=[0.9, 0.1]), pa.string()),
                    "suspicion": pa.array(base + values.sum(axis=1), pa.float64()),
                    "category": pa.array(rng.choice(["dos", "probe", "r2l", "u2r"], n)),
                    "technique": pa.array([techniques[c] for c in chosen], pa.string()),
                    "component": pa.array(rng.choice(["supervised", "anomaly"], n)),
                    "label": pa.nulls(n, pa.string()),
                    "base": pa.array(base, pa.float64()),
                    "attributions": pa.FixedSizeListArray.from_arrays(
                        pa.array(values.ravel(), pa.float64()), len(features)
                    ),
                    "feature_values": pa.FixedSizeListArray.from_arrays(
                        pa.array(rng.uniform(0, 1, n * len(features)), pa.float64()),
                        len(features),
                    ),
                    "rationale": pa.array(
                        [f"flagged: {features[i]['name']} far from normal" for i in chosen]
                    ),
                    "created_at": pa.array(
                        [datetime.now(timezone.utc)] * n, pa.timestamp("us", tz="UTC")
                    ),
                    "entities": entity_column(entities, np.arange(n)),
                }
            )
            store.add_batch(run_id, table, [], n)
        store.finish_run(run_id, "finished")
    return run_id


def export_seconds(store: Path, fmt: str, out: Path) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds: user + system) of one `trustshield alerts export`
    child writing ``out``."""
    command = [
        sys.executable,
        "-m",
        "trustshield.cli",
        "alerts",
        "export",
        "--store",
        str(store),
        "--format",
        fmt,
        "--out",
        str(out),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def exported_count(path: Path, fmt: str) -> int:
    """Alerts in an export file: lines, CSV rows or STIX Sightings."""
    if fmt == "stix":
        return sum(o["type"] == "sighting" for o in json.loads(path.read_text())["objects"])
    with path.open(encoding="utf-8") as handle:
        lines = sum(1 for _ in handle)
    return lines - 1 if fmt == "csv" else lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stix-runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as folder:
        store = Path(folder) / "alerts.duckdb"
        started = time.perf_counter()
        fill_store(store, args.alerts, seed=args.seed)
        fill_s = time.perf_counter() - started
        print(f"filled {args.alerts:,} alerts in {fill_s:.1f} s", flush=True)
        runs: dict[str, list[float]] = {f: [] for f in FORMATS}
        cpu: dict[str, list[float]] = {f: [] for f in FORMATS}
        loads: list[float] = []
        sizes: dict[str, int] = {}
        for round_ in range(max(args.runs, args.stix_runs)):
            for fmt in FORMATS:
                if round_ >= (args.stix_runs if fmt == "stix" else args.runs):
                    continue
                out = Path(folder) / f"alerts.{fmt}"
                seconds, cpu_seconds = export_seconds(store, fmt, out)
                loads.append(os.getloadavg()[0])
                found = exported_count(out, fmt)
                if found != args.alerts:
                    raise SystemExit(f"{fmt}: {found} alerts exported, expected {args.alerts}")
                sizes[fmt] = out.stat().st_size
                runs[fmt].append(seconds)
                cpu[fmt].append(cpu_seconds)
                out.unlink()
                print(
                    f"{fmt:6s} run {round_ + 1}: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU",
                    flush=True,
                )
    figures = {
        fmt: {
            "median_s": statistics.median(times),
            "runs_s": times,
            "median_cpu_s": statistics.median(cpu[fmt]),
            "runs_cpu_s": cpu[fmt],
            "alerts_per_s": args.alerts / statistics.median(times),
            "bytes": sizes[fmt],
        }
        for fmt, times in runs.items()
    }
    result = {
        "benchmark": "exports",
        "alerts": args.alerts,
        "seed": args.seed,
        "fill_s": fill_s,
        "formats": figures,
        "target_ecs_s": TARGET_ECS_S,
        "ecs_meets_target": figures["ecs"]["median_s"] <= TARGET_ECS_S,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()),
            "load_average_1min_during_runs": loads,
            "python": platform.python_version(),
        },
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for fmt, f in figures.items():
        print(
            f"{fmt:6s} median {f['median_s']:.2f} s wall, {f['median_cpu_s']:.2f} s CPU "
            f"({f['alerts_per_s']:,.0f} alerts/s, "
            f"{f['bytes'] / 1e6:.1f} MB)"
        )
    verdict = "meets" if result["ecs_meets_target"] else "misses"
    print(
        f"ECS: {figures['ecs']['median_s']:.2f} s for {args.alerts:,} alerts, {verdict} "
        f"the {TARGET_ECS_S:.0f} s target"
    )
    if args.json:
        from trustshield.atomic_files import write_atomic

        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(result, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
