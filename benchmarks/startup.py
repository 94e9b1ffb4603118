"""Start-up time of `import trustshield` and `trustshield --help`, against a bare interpreter.

    python benchmarks/startup.py --json out/bench_startup.json [--runs 5]

Protocol
--------
* Three commands, each in its own child process started with ``subprocess.run`` (output
  discarded), timed by wall clock (``time.perf_counter`` around the whole child: interpreter
  start, imports, exit): ``python -c pass`` (the baseline), ``python -c "import trustshield"``
  and ``trustshield --help`` (the console script in the folder of ``sys.executable``).
  ``python`` is ``sys.executable``.
* One warm-up run of each (not reported: it also writes any missing bytecode), then
  ``--runs`` runs of each (default 5), interleaved round robin so that load on the shared
  machine falls on all three alike. The figure is the median; every run is listed; each
  median is also given as a ratio to the baseline's median of the same run.
* Targets: ``import trustshield`` <= 0.3 s and ``trustshield --help`` <= 0.5 s (medians).
* Heavy modules: a separate child each for ``import trustshield`` and for the command
  line's ``main`` run with ``--help`` reports which of :data:`HEAVY` were in ``sys.modules``
  at exit; the target is none.
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
import time
from pathlib import Path

#: ML and data libraries that neither `import trustshield` nor `trustshield --help` may load
HEAVY = ("numpy", "pandas", "sklearn", "lightgbm", "scipy", "pyarrow", "duckdb", "fastapi")
TARGETS_S = {"import": 0.3, "help": 0.5}
#: a child's last stderr line starts with this, followed by the JSON list of heavy modules
MARK = "heavy-modules-loaded:"
IMPORT_CODE = "import trustshield"
HELP_CODE = (
    "import sys\n"
    "from trustshield.cli import main\n"
    "sys.argv = ['trustshield', '--help']\n"
    "sys.exit(main())\n"
)


def commands(python: str) -> dict[str, list[str]]:
    """The timed commands by name; the console script is the one next to ``python``."""
    return {
        "baseline": [python, "-c", "pass"],
        "import": [python, "-c", IMPORT_CODE],
        "help": [str(Path(python).with_name("trustshield")), "--help"],
    }


def wall_seconds(command: list[str]) -> float:
    """Wall-clock seconds of one child process running ``command``; it must exit with 0."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{shlex.join(command)} exited with {done.returncode}:\n"
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )
    return elapsed


def heavy_modules_loaded(python: str, code: str) -> list[str]:
    """Which of :data:`HEAVY` a child ``python -c code`` holds in ``sys.modules`` when it
    exits (an atexit hook reports them, so ``sys.exit`` and argparse's exit are covered)."""
    probe = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: sys.stderr.write('\\n{MARK}' + json.dumps("
        f"sorted(m for m in {HEAVY!r} if m in sys.modules)) + '\\n'))\n"
    ) + code
    done = subprocess.run(
        [python, "-c", probe], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    reports = [line for line in done.stderr.splitlines() if line.startswith(MARK)]
    if not reports:
        raise SystemExit(
            f"the heavy-module probe of {code!r} reported nothing "
            f"(exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return json.loads(reports[-1][len(MARK) :])


def measure(python: str, runs: int) -> dict:
    """Every figure of the benchmark: ``runs`` timed runs of each command after a warm-up."""
    timed = commands(python)
    for command in timed.values():
        wall_seconds(command)
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(runs):
        for name, command in timed.items():
            seconds[name].append(wall_seconds(command))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    heavy = {
        "import": heavy_modules_loaded(python, IMPORT_CODE),
        "help": heavy_modules_loaded(python, HELP_CODE),
    }
    return {
        "median_s": {name: round(value, 4) for name, value in medians.items()},
        "ratio_to_baseline": {
            name: round(medians[name] / medians["baseline"], 2) for name in ("import", "help")
        },
        "runs_s": {name: [round(v, 4) for v in values] for name, values in seconds.items()},
        "targets_s": TARGETS_S,
        "meets_targets": {
            **{name: medians[name] <= limit for name, limit in TARGETS_S.items()},
            "no_heavy_modules": not any(heavy.values()),
        },
        "heavy_modules_loaded": heavy,
        "commands": {name: shlex.join(command) for name, command in timed.items()},
        "protocol": " ".join(__doc__.split("Protocol\n--------\n")[1].split()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs of each command (default 5)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    figures = measure(sys.executable, args.runs)
    for name in ("baseline", "import", "help"):
        ratio = figures["ratio_to_baseline"].get(name)
        target = TARGETS_S.get(name)
        print(
            f"{figures['commands'][name]:<60} median {figures['median_s'][name]:.3f} s"
            + (
                f"  ({ratio:.1f}x baseline; target <= {target} s: "
                f"{'meets' if figures['meets_targets'][name] else 'MISSES'})"
                if target
                else ""
            )
        )
    print(f"heavy modules loaded: {figures['heavy_modules_loaded']}")
    if args.json:
        from trustshield.commands.benchmark import write_json

        write_json(figures, args.json)
    return 0 if all(figures["meets_targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
