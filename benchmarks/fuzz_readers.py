"""Fuzz every TrustShield reader with seeded mutations of real input files.

    python benchmarks/fuzz_readers.py --json out/bench_fuzz_readers.json
                                      [--cases 800] [--seed 0] [--time-limit 10] [--only NAME ...]

Protocol
--------
* Readers and seeds: :func:`trustshield.testing.fuzz_targets.targets` (tables, Zeek TSV and
  JSON, nfdump and CICFlowMeter CSVs, captures, keystroke tables and series, biometric
  samples, mouse sessions and archives, specs, keyrings), seeds cut from the real files
  under ``$TRUSTSHIELD_DATA_DIR``.
* ``--cases`` cases per reader, each a seed with one to three mutations chosen by a
  ``random.Random`` seeded with the reader's name and ``--seed`` (the same arguments make
  the same cases). Each case runs in a worker process and may take ``--time-limit``
  seconds; a case past it is a hang (the worker is killed and replaced).
* Acceptable outcomes: a result, or the reader's own error (DataError/SpecError; ConfigError
  for the keyring) naming the file. Anything else is reported with the case's mutations.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--cases", type=int, default=800, help="cases per reader (default 800)")
    parser.add_argument("--seed", type=int, default=0, help="mutation seed (default 0)")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=10.0,
        help="seconds a case may take before it counts as a hang (default 10)",
    )
    parser.add_argument("--only", nargs="*", help="fuzz only the readers with these names")
    args = parser.parse_args(argv)

    from trustshield.testing.fuzz import ACCEPTABLE, fuzz
    from trustshield.testing.fuzz_targets import targets

    chosen = [t for t in targets() if not args.only or t.name in args.only]
    started, reports = time.perf_counter(), []
    for target in chosen:
        print(f"- {target.name:<18}", end=" ", flush=True)
        progress = lambda done: done % 200 == 0 and print(".", end="", flush=True)  # noqa: E731
        report = fuzz(
            target, cases=args.cases, seed=args.seed, time_limit=args.time_limit, progress=progress
        )
        reports.append(report.as_dict())
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
        print(f" {report.cases} cases in {report.seconds:.1f} s: {outcomes}", flush=True)
        for failure in report.failures[:3]:
            print(
                f"    case {failure.case} {'+'.join(failure.mutations)}: {failure.outcome}: "
                f"{failure.detail.splitlines()[0][:160]}"
            )
    total = lambda kind: sum(r["outcomes"].get(kind, 0) for r in reports)  # noqa: E731
    summary = {
        "benchmark": "fuzz_readers",
        "protocol": (
            f"{args.cases} seeded mutation cases per reader (seed {args.seed}) of "
            "real files under TRUSTSHIELD_DATA_DIR, each in a worker process limited "
            f"to {args.time_limit:g} s; acceptable: a result or the reader's own "
            "error naming the file"
        ),
        "cases": sum(r["cases"] for r in reports),
        "readers": len(reports),
        "results": total("result"),
        "refusals": total("refused"),
        "unexpected": total("unexpected"),
        "unnamed": total("unnamed"),
        "hangs": total("hang"),
        "crashes": total("crash"),
        "seconds": round(time.perf_counter() - started, 1),
        "per_reader": reports,
    }
    summary["unacceptable"] = summary["cases"] - sum(total(k) for k in ACCEPTABLE)
    print(
        f"{summary['cases']} cases over {summary['readers']} readers in {summary['seconds']} s: "
        f"{summary['results']} results, {summary['refusals']} refusals, "
        f"{summary['unexpected']} unexpected, {summary['unnamed']} unnamed, "
        f"{summary['hangs']} hangs, {summary['crashes']} crashes"
    )
    if args.json:
        from trustshield.commands.benchmark import write_json

        write_json(summary, args.json)
    return 0 if summary["unacceptable"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
