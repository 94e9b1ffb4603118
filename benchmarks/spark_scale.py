"""Throughput of ``detect --engine spark`` in local mode on 1 and 2 cores, beside the local engine.

    python benchmarks/spark_scale.py --json out/bench_spark.json [--rows 5000000] [--model DIR]
    python benchmarks/spark_scale.py --json /tmp/quick.json --rows 100000      # quick check

Protocol
--------
* Input: KDDTest+ (located and sha256-checked by ``trustshield.commands.common.resolve_data``) read with
  its 43 columns and repeated row by row until it holds ``--rows`` records, written as one
  Parquet file (row groups of 131,072 rows) in a temporary folder outside the checkout
  (``--workdir`` to choose it). Not timed.
* Model: ``--model DIR``, or one trained first (not timed) on KDDTrain+_20Percent with the
  function and default settings ``trustshield train`` uses.
* Spark engine: :func:`trustshield.pipeline.spark_detect.detect_spark` writing alerts and
  reviews (exact attributions, rationale) to Parquet, no store; in a SparkSession with
  master ``local[1]``, then a new one with ``local[2]`` (session start not timed, reported);
  blocks of at most ``--block-mb`` MB (default 32) so 2 cores get balanced tasks. The figure
  is rows / wall seconds of the whole call: input listing, per-block row count, sha256 of
  the input, validation, scoring, explanation, Parquet write and rename.
* Local engine: :func:`trustshield.pipeline.detect.detect` (what ``trustshield detect``
  runs: TableSource batches of 65,536 rows, LightGBM with the model's threads) into a fresh
  DuckDB store, over the first ``--sample`` rows (default: all); rows / wall seconds.
* Identity: the local engine's stored alerts and the Spark engine's (2-core run) Parquet
  alerts for the same lines, joined on alert id inside DuckDB: ids, actions, suspicion,
  base, attributions, feature values, categories, techniques and rationale text must be
  equal (floats bit for bit). ``identical_to_local`` is true when no row differs.
* Each engine runs ``--runs`` times (default 1) on a machine shared with other work; the
  median seconds are reported, with the load average before the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trustshield.commands.common import resolve_data
from trustshield.ingest.tabular import TableSource

TEST_FILE = "nsl-kdd:KDDTest+.txt"
TRAIN_FILE = "nsl-kdd:KDDTrain+_20Percent.txt"
DEFAULT_ROWS = 5_000_000
ROW_GROUP = 131_072
COMPARED = (
    "action",
    "suspicion",
    "base",
    "attributions",
    "feature_values",
    "category",
    "technique",
    "component",
    "label",
    "rationale",
    "line",
)


def train_model(folder: Path) -> Path:
    """A model as ``trustshield train --data nsl-kdd:KDDTrain+_20Percent.txt --spec nsl-kdd``."""
    from trustshield.pipeline.hardening import train_hardened
    from trustshield.model_folder import save_model
    from trustshield.pipeline.train import TrainConfig
    from trustshield.specs import read_spec_text, spec_from_text

    spec_text, origin = read_spec_text("nsl-kdd")
    spec = spec_from_text(spec_text, origin)
    source = TableSource(resolve_data(TRAIN_FILE), spec)
    frame = source.read_all()
    provenance = {"data": source.describe()}
    model = train_hardened(
        frame, spec, spec_text, defences=[], config=TrainConfig(), provenance=provenance
    )
    save_model(model, folder)
    return folder


def repeated_parquet(target: Path, rows: int) -> Path:
    """KDDTest+ rows repeated in file order until ``rows`` records, as one Parquet file."""
    import pandas as pd
    from trustshield.specs import load_spec

    spec = load_spec("nsl-kdd")
    text = {c.name: str for c in spec.columns if not c.is_numeric}
    table = pa.Table.from_pandas(
        pd.read_csv(
            resolve_data(TEST_FILE), header=None, names=list(spec.column_names), dtype=text
        ),
        preserve_index=False,
    )
    with pq.ParquetWriter(target, table.schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            stop = min(rows, start + ROW_GROUP)
            writer.write_table(
                table.take(np.arange(start, stop) % table.num_rows), row_group_size=ROW_GROUP
            )
    return target


class FirstRows:
    """The first ``limit`` records of a TableSource, for the local engine's sample run."""

    def __init__(self, source: TableSource, limit: int | None):
        self.source, self.limit = source, limit
        self.path, self.sha256 = source.path, source.sha256

    def __iter__(self):
        seen = 0
        for batch in self.source:
            if self.limit is not None and seen + len(batch.frame) > self.limit:
                keep = self.limit - seen
                batch.frame, batch.lines = batch.frame.iloc[:keep], batch.lines[:keep]
            seen += len(batch.frame)
            yield batch
            if self.limit is not None and seen >= self.limit:
                return


def run_local(
    model_folder: Path, data: Path, store_path: Path, sample: int | None
) -> tuple[float, dict]:
    from trustshield.model_folder import load_model
    from trustshield.pipeline.detect import detect
    from trustshield.store import AlertStore

    store_path.unlink(missing_ok=True)
    started = time.perf_counter()
    model = load_model(model_folder)
    with AlertStore(store_path) as store:
        run = detect(model, FirstRows(TableSource(data, model.spec), sample), store)
    return time.perf_counter() - started, run


def run_spark(model_folder: Path, data: Path, out: Path, master: str, block_mb: int, runs: int):
    from trustshield.pipeline.spark_detect import detect_spark
    from trustshield.pipeline.spark_session import spark_session

    started = time.perf_counter()
    spark = spark_session(
        master,
        config={"spark.sql.files.maxPartitionBytes": f"{block_mb}m", "spark.driver.memory": "2g"},
    )
    session_s = time.perf_counter() - started
    if spark.sparkContext.master != master:
        raise RuntimeError(f"wanted a session on {master}, got {spark.sparkContext.master}")
    seconds, summary = [], None
    try:
        for _ in range(runs):
            summary = detect_spark(model_folder, str(data), out=out, spark=spark)
            seconds.append(summary["seconds"])
    finally:
        spark.stop()
    return statistics.median(seconds), seconds, session_s, summary


def compare(store_path: Path, out: Path, run_id: str, max_line: int) -> dict:
    """Alerts of the local run vs the Spark output on lines ≤ max_line, inside DuckDB."""
    import duckdb

    con = duckdb.connect(str(store_path), read_only=True)
    differs = " OR ".join(f"l.{c} IS DISTINCT FROM s.{c}" for c in COMPARED)
    spark_rows = f"(SELECT * FROM read_parquet('{out}/*.parquet') WHERE line <= {max_line})"
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE l.alert_id IS NULL), count(*) FILTER (WHERE s.alert_id IS NULL),"
        f" count(*) FILTER (WHERE l.alert_id IS NOT NULL AND s.alert_id IS NOT NULL AND ({differs})),"
        f" count(*) FILTER (WHERE l.alert_id IS NOT NULL AND s.alert_id IS NOT NULL)"
        f" FROM (SELECT * FROM alerts WHERE run_id = ?) l FULL JOIN {spark_rows} s USING (alert_id)",
        [run_id],
    ).fetchone()
    con.close()
    only_spark, only_local, different, both = (int(x) for x in row)
    return {
        "only_spark": only_spark,
        "only_local": only_local,
        "different": different,
        "compared_alerts": both,
        "identical": only_spark == only_local == different == 0 and both > 0,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, help="write the figures here")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--model", type=Path, help="an existing model folder (else one is trained)")
    parser.add_argument(
        "--workdir", type=Path, help="temporary folder (default: a new one in $TMPDIR)"
    )
    parser.add_argument(
        "--sample", type=int, help="local engine on the first N rows only (default all)"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--block-mb", type=int, default=32)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="trustshield-spark-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load = list(os.getloadavg())
    model = args.model or train_model(work / "model")
    data = repeated_parquet(work / f"kdd-{args.rows}.parquet", args.rows)
    sample = min(args.sample, args.rows) if args.sample else args.rows

    local_runs = [run_local(model, data, work / "local.duckdb", sample) for _ in range(args.runs)]
    local_s, local_run = statistics.median(s for s, _ in local_runs), local_runs[-1][1]
    figures = {}
    for cores in (1, 2):
        median, each, session_s, summary = run_spark(
            model, data, work / f"alerts-{cores}", f"local[{cores}]", args.block_mb, args.runs
        )
        figures[cores] = {
            "seconds": median,
            "runs": each,
            "session_start_s": session_s,
            "summary": summary,
        }
    check = compare(work / "local.duckdb", work / "alerts-2", local_run.run_id, sample)
    one, two = figures[1]["summary"], figures[2]["summary"]
    result = {
        "rows": args.rows,
        "rows_read_spark": two["rows_read"],
        "alerts_spark": two["alerts"],
        "seconds_1core": figures[1]["seconds"],
        "seconds_2core": figures[2]["seconds"],
        "rows_per_s_1core": args.rows / figures[1]["seconds"],
        "rows_per_s_2core": args.rows / figures[2]["seconds"],
        "speedup_2core": figures[1]["seconds"] / figures[2]["seconds"],
        "runs_1core": figures[1]["runs"],
        "runs_2core": figures[2]["runs"],
        "session_start_s": {
            "1core": figures[1]["session_start_s"],
            "2core": figures[2]["session_start_s"],
        },
        "rows_local": int(local_run.rows_read),
        "seconds_local": local_s,
        "rows_per_s_local": local_run.rows_read / local_s,
        "identical_to_local": check["identical"],
        "identity_check": {**check, "lines": sample},
        "same_alert_count_1_vs_2_cores": one["alerts"] == two["alerts"],
        "model_id": two["model_id"],
        "data_sha256": two["files"][0]["sha256"],
        "protocol": __doc__.split("Protocol\n--------\n", 1)[1].strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "loadavg_before": load,
        },
        "workdir": str(work),
    }
    target = Path(args.json)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2))
    print(f"{'engine':<22}{'rows':>11}{'seconds':>10}{'rows/s':>10}")
    for name, rows, seconds in (
        ("local (detect)", result["rows_local"], local_s),
        ("spark local[1]", args.rows, result["seconds_1core"]),
        ("spark local[2]", args.rows, result["seconds_2core"]),
    ):
        print(f"{name:<22}{rows:>11,}{seconds:>10.1f}{rows / seconds:>10,.0f}")
    print(
        f"identical to local on lines 1..{sample:,}: {check['identical']} "
        f"({check['compared_alerts']:,} alerts compared, {check['different']} differ, "
        f"{check['only_local']} only local, {check['only_spark']} only spark)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
