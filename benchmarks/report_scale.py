"""Scale of `trustshield report`: wall seconds and peak RSS on 1,000,000 scored records.

    python benchmarks/report_scale.py --json out/bench_report_scale.json [--model DIR] [--runs 1]
    python benchmarks/report_scale.py --json /tmp/rs.json --rows 100000      # smaller smoke run
    python benchmarks/report_scale.py --json out/bench_report_scale.json --assess   # also time assess

Protocol
--------
* Input: KDDTest+ (located and sha256-checked by ``trustshield.commands.common.resolve_data``) repeated
  line by line until it holds exactly ``--rows`` rows (default 1,000,000; the last copy is
  cut short), written as CSV to a temporary folder outside the checkout (``--workdir`` to
  choose it). Every row keeps its label, so the report evaluates all of them.
* Model: ``--model DIR``, or one trained first by ``trustshield train`` on
  KDDTrain+_20Percent in the temporary folder (not timed).
* Measured: ``<venv>/bin/trustshield report --model M --data BIG --out FRESH_DIR`` in a
  subprocess (``--no-pdf`` is added when the command offers it: PDF rendering is measured
  elsewhere). The figure is the wall time of that whole process (interpreter start, imports,
  model load and sha256 checks, CSV read, validation, encoding, scoring, decisions, exact
  explanation of every alert and review, metrics, report assembly, HTML and JSON writing).
  Peak RSS is that process's own maximum resident set (``os.wait4``).
* ``--runs N`` repeats the measurement (fresh output folder each time); the median wall time
  and the largest peak RSS are reported. ``--assess`` also times ``trustshield assess`` on
  the same input and model (reported under ``assess``, not part of the target).
* The machine may be shared: the 1-minute load average is recorded before each run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # not resolved: keep the venv's bin folder
CLI = VENV_BIN / "trustshield"
TEST_FILE = "nsl-kdd:KDDTest+.txt"
TRAIN_FILE = "nsl-kdd:KDDTrain+_20Percent.txt"
SPEC = "nsl-kdd"
DEFAULT_ROWS = 1_000_000
TARGETS = {"seconds": 300.0, "peak_rss_mb": 2_000.0}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def timed_child(cmd: list[str], *, cwd: Path, log: Path) -> dict:
    """Run ``cmd`` to the end; its wall seconds, CPU seconds and own peak RSS in MB."""
    with open(log, "wb") as sink:
        began = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"exit status {code}: {' '.join(cmd)}\n{tail}")
    return {
        "seconds": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }  # ru_maxrss: kB on Linux


def build_input(source: Path, target: Path, rows: int) -> int:
    """``source``'s lines repeated, in order, until ``target`` holds exactly ``rows`` lines."""
    text = source.read_bytes()
    if not text.endswith(b"\n"):
        text += b"\n"
    lines = text.splitlines(keepends=True)
    whole, rest = divmod(rows, len(lines))
    with open(target, "wb") as out:
        for _ in range(whole):
            out.write(text)
        out.write(b"".join(lines[:rest]))
    return whole * len(lines) + rest


def offers(subcommand: str, flag: str) -> bool:
    """Whether ``trustshield SUBCOMMAND --help`` lists ``flag``."""
    shown = subprocess.run([str(CLI), subcommand, "--help"], capture_output=True, text=True)
    return flag in shown.stdout


@contextmanager
def workdir_for(chosen: str | None):
    if chosen:
        path = Path(chosen).resolve()
        if path == REPO or REPO in path.parents:
            raise SystemExit(
                f"--workdir {path} is inside the checkout {REPO}; choose a folder outside it"
            )
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="trustshield-report-scale-") as tmp:
            yield Path(tmp)


def measure(
    subcommand: str, model: Path, data: Path, workdir: Path, i: int, extra: list[str]
) -> dict:
    out = workdir / f"{subcommand}_{i}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        str(CLI),
        subcommand,
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        *extra,
    ]
    before = loadavg()
    figures = timed_child(cmd, cwd=workdir, log=workdir / f"{subcommand}_{i}.log")
    written = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(out.glob("report.*"))}
    if "report.html" not in written or "report.json" not in written:
        raise SystemExit(f"{subcommand} run {i} wrote no report.html / report.json in {out}")
    shutil.rmtree(out, ignore_errors=True)
    return {
        "run": i,
        **figures,
        "loadavg_before": before,
        "outputs_mb": written,
        "command": " ".join(cmd),
    }


def summary(runs: list[dict], rows: int) -> dict:
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "rows_per_s": round(rows / seconds, 1),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_ROWS,
        help=f"rows of repeated KDDTest+ (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument("--runs", type=int, default=1, help="measured report runs (default 1)")
    parser.add_argument("--model", help="model folder; default: train one with `trustshield train`")
    parser.add_argument(
        "--assess",
        action="store_true",
        help="also time `trustshield assess` on the same input (once)",
    )
    parser.add_argument(
        "--workdir",
        help="folder for temporary files (outside the checkout); "
        "default: a temporary folder removed at the end",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be positive")

    from trustshield.commands.common import resolve_data
    from trustshield.commands.benchmark import write_json

    test_path, train_path = resolve_data(TEST_FILE), resolve_data(TRAIN_FILE)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    note = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    with workdir_for(args.workdir) as workdir:
        big = workdir / f"KDDTest+_{args.rows}.csv"
        note(f"writing {big} ({args.rows:,} rows of KDDTest+ repeated)")
        rows = build_input(test_path, big, args.rows)

        training = None
        if args.model:
            model = Path(args.model).resolve()
        else:
            model = workdir / "model"
            note("training a model on KDDTrain+_20Percent (not timed)")
            cmd = [
                str(CLI),
                "train",
                "--data",
                str(train_path),
                "--spec",
                SPEC,
                "--out",
                str(model),
            ]
            training = {
                "command": " ".join(cmd),
                **timed_child(cmd, cwd=workdir, log=workdir / "train.log"),
            }

        extra = ["--no-pdf"] if offers("report", "--no-pdf") else []
        report_runs = []
        for i in range(1, args.runs + 1):
            note(f"run {i}/{args.runs}: trustshield report on {rows:,} rows")
            report_runs.append(measure("report", model, big, workdir, i, extra))
            r = report_runs[-1]
            note(
                f"    {r['seconds']:.1f} s, {r['peak_rss_mb']:,.0f} MB, load {r['loadavg_before']}"
            )
        assess = None
        if args.assess:
            extra_a = ["--no-pdf"] if offers("assess", "--no-pdf") else []
            note(f"trustshield assess on {rows:,} rows")
            assess = summary([measure("assess", model, big, workdir, 1, extra_a)], rows)
            a = assess["runs"][0]
            note(
                f"    {a['seconds']:.1f} s, {a['peak_rss_mb']:,.0f} MB, load {a['loadavg_before']}"
            )

    report = summary(report_runs, rows)
    protocol = (
        f"Whole `trustshield report{' --no-pdf' if extra else ''}` command timed in a subprocess "
        f"(interpreter start to exit: model load, CSV read and validation, scoring, exact "
        f"explanation of every alert and review, metrics, HTML + JSON) on {rows:,} labelled rows "
        f"(KDDTest+ repeated, CSV in a temporary folder); peak RSS = the child's own maximum "
        f"resident set (os.wait4); {len(report_runs)} run(s), median wall time, largest RSS; "
        f"{os.cpu_count()} CPUs, shared machine (1-minute load average recorded before each run)."
    )
    figures = {
        "rows": rows,
        "seconds": report["seconds"],
        "peak_rss_mb": report["peak_rss_mb"],
        "rows_per_s": report["rows_per_s"],
        "targets": TARGETS,
        "meets_targets": {
            "seconds": report["seconds"] <= TARGETS["seconds"],
            "peak_rss_mb": report["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
        },
        "runs": report["runs"],
        "loadavg": loadavg(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "protocol": protocol,
        "model": {
            "dir": str(model) if args.model else "trained in the temporary folder",
            "training": training,
        },
        "started_at": started,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if assess is not None:
        figures["assess"] = assess
    write_json(figures, args.json)
    print_table(figures)
    return 0


def print_table(f: dict) -> None:
    mark = {True: "meets", False: "MISSES"}
    lines = [
        ("figure", "value", "target", ""),
        ("rows", f"{f['rows']:,}", "1,000,000", ""),
        (
            "report wall s (median)",
            f"{f['seconds']:.1f}",
            "≤ 300",
            mark[f["meets_targets"]["seconds"]],
        ),
        (
            "report peak RSS MB (max)",
            f"{f['peak_rss_mb']:,.0f}",
            "≤ 2,000",
            mark[f["meets_targets"]["peak_rss_mb"]],
        ),
        ("report rows/s", f"{f['rows_per_s']:,.0f}", "", ""),
    ]
    for r in f["runs"]:
        lines.append(
            (
                f"  run {r['run']}: s / MB / cpu s / load",
                f"{r['seconds']:.1f} / {r['peak_rss_mb']:,.0f} / {r['cpu_s']:.0f} / "
                f"{r['loadavg_before'][0] if r['loadavg_before'] else '?'}",
                "",
                "",
            )
        )
    if "assess" in f:
        a = f["assess"]
        lines.append(
            (
                "assess wall s / peak RSS MB",
                f"{a['seconds']:.1f} / {a['peak_rss_mb']:,.0f}",
                "(extra)",
                "",
            )
        )
    widths = [max(len(row[k]) for row in lines) for k in range(4)]
    for n, row in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(w) if k == 0 else cell.rjust(w)
                for k, (cell, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\n{f['protocol']}")


if __name__ == "__main__":
    sys.exit(main())
