"""How long `make demo` takes after the install, quiet and beside a busy job.

    python benchmarks/demo_time.py --json out/bench_demo_time.json [--runs 3] [--loaded]

Protocol
--------
* The steps are the ``trustshield`` commands of the Makefile's ``demo`` recipe, as
  ``make -s -n demo`` prints them (so the benchmark times what ``make demo`` runs), with
  ``OUT`` set to a fresh temporary folder for every run. The install (``.venv/.installed``)
  is not timed: the venv must exist.
* Each step runs as a child process; its wall-clock seconds come from ``time.perf_counter``
  around it and its CPU seconds (user + system, its own children such as headless Chromium
  included) from ``os.wait4``. A run's figures are the sums over its steps.
* ``--runs`` runs (default 3); the figures reported are medians over runs, per step and in
  total. The machine is shared and never idle: the 1-, 5- and 15-minute load averages are
  recorded before and after every run, and ``load_average`` is the median 1-minute load
  average at the start of the quiet runs.
* ``--loaded``: as many runs again while a busy job keeps the cores busy: one child process
  whose ``--busy-threads`` threads (default 2) hash a 1 MiB buffer in a loop (hashlib
  releases the GIL, so each thread takes a core). Quiet and loaded runs alternate, so that
  the other jobs on the machine weigh on both alike. ``cpu_ratio`` is the median loaded
  CPU seconds over the median quiet CPU seconds.
* Targets: quiet ``seconds`` <= 60 on an idle 2-core machine; ``cpu_ratio`` <= 1.5.

JSON keys: ``seconds``, ``cpu_seconds``, ``load_average``, ``steps`` (per step: median
``seconds`` and ``cpu_seconds``), ``runs`` (every run), and with ``--loaded`` a ``loaded``
block with the same keys plus ``cpu_ratio``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trustshield.commands.threads import THREAD_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"seconds": 60.0, "cpu_ratio": 1.5}
BUSY_CODE = """
import hashlib, threading, sys
block = bytes(1 << 20)
def spin():
    while True:
        hashlib.sha256(block).digest()
for _ in range(int(sys.argv[1])):
    threading.Thread(target=spin, daemon=True).start()
threading.Event().wait()
"""


def demo_steps(out: Path) -> list[list[str]]:
    """The trustshield commands of ``make demo`` with OUT=``out``, as argument lists."""
    printed = subprocess.run(
        ["make", "-s", "-n", "demo", f"OUT={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    steps = []
    for line in printed.splitlines():
        words = shlex.split(line)
        if words and Path(words[0]).name == "trustshield":
            steps.append([str(ROOT / words[0]), *words[1:]])  # ROOT / an absolute path: as is
    if not steps:
        raise SystemExit("`make -n demo` printed no trustshield command")
    return steps


def run_step(command: list[str], log: Path) -> dict:
    """Run one step; its wall-clock and CPU seconds (the child and its own children)."""
    with open(log, "ab") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"{shlex.join(command)} exited with {child.returncode}:\n{tail}")
    return {
        "step": command[1],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


def one_run(kind: str) -> dict:
    """The demo's steps once, in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="trustshield-demo-") as folder:
        out = Path(folder)
        before = os.getloadavg()
        steps = [run_step(command, out / "demo.log") for command in demo_steps(out)]
        after = os.getloadavg()
    return {
        "kind": kind,
        "seconds": round(sum(s["seconds"] for s in steps), 2),
        "cpu_seconds": round(sum(s["cpu_seconds"] for s in steps), 2),
        "load_before": [round(x, 2) for x in before],
        "load_after": [round(x, 2) for x in after],
        "steps": steps,
    }


def thread_overrides() -> dict[str, str]:
    """The thread settings this environment sets itself (the commands keep them)."""
    return {k: v for k, v in os.environ.items() if k in THREAD_SETTINGS and v}


def busy_job(threads: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BUSY_CODE, str(threads)])


def summary(runs: list[dict]) -> dict:
    """Medians over ``runs``: total and per step."""
    names = [s["step"] for s in runs[0]["steps"]]
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "load_average": round(statistics.median(r["load_before"][0] for r in runs), 2),
        "steps": {
            name: {
                key: round(statistics.median(r["steps"][i][key] for r in runs), 2)
                for key in ("seconds", "cpu_seconds")
            }
            for i, name in enumerate(names)
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, help="write the results here")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    parser.add_argument(
        "--loaded", action="store_true", help="also run beside a busy job; report the CPU ratio"
    )
    parser.add_argument("--busy-threads", type=int, default=2, help="threads of the busy job")
    args = parser.parse_args(argv)

    runs = []
    for n in range(args.runs):
        runs.append(one_run("quiet"))
        print(f"quiet run {n + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
        if args.loaded:
            busy = busy_job(args.busy_threads)
            try:
                time.sleep(2)  # the busy threads are running before the demo starts
                runs.append(one_run("loaded"))
            finally:
                busy.kill()
                busy.wait()
            print(f"loaded run {n + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
    quiet = summary([r for r in runs if r["kind"] == "quiet"])
    result = {
        **quiet,
        "targets": TARGETS,
        "runs": runs,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # what the trustshield commands run with: their defaults, unless set here
            "thread_environment": {**THREAD_SETTINGS, **thread_overrides()},
        },
        "note": (
            "medians over runs; the machine is shared: load_average is the median 1-minute "
            "load average at the start of the quiet runs, and every run lists its own"
        ),
    }
    if args.loaded:
        loaded = summary([r for r in runs if r["kind"] == "loaded"])
        loaded["busy_threads"] = args.busy_threads
        loaded["cpu_ratio"] = round(loaded["cpu_seconds"] / quiet["cpu_seconds"], 3)
        result["loaded"] = loaded
    target = Path(args.json)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    partial.replace(target)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
