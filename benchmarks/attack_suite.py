"""Replay every known attack on TrustShield against a live service and store.

    python benchmarks/attack_suite.py --json out/bench_attack_suite.json [--model DIR]
                                      [--only NAME ...]

Protocol
--------
* Model: ``--model`` (a trained model folder), or else one trained here with
  ``trustshield train --data nsl-kdd:KDDTrain+_20Percent.txt --spec nsl-kdd``; each attack
  gets a copy signed with a fresh keyring.
* Each attack (``benchmarks/attacks/*.py``, list ``ATTACKS``) runs on its own fresh rig:
  a new DuckDB store with one token per role, ``$TRUSTSHIELD_AUDIT_KEY`` set, and
  ``trustshield serve`` started in its own process on 127.0.0.1 when the attack needs it.
  The attacker holds what the attack says (a token of some role, write access to the store
  file or to a model folder, a network path to the service) and nothing more.
* Per attack: ``expected`` (what a sound service does), ``observed`` and ``held``.
  Figures an attack measures are reported with it; the headline figures are also copied to
  the top level.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from attacks.rig import VENV_BIN, AttackResult, Rig  # noqa: E402

HEADLINES = {"auth_p90_ms_under_wrong_secret_flood": 100.0, "unauth_94mb_reject_ms": 200.0}
TRAIN = ["train", "--data", "nsl-kdd:KDDTrain+_20Percent.txt", "--spec", "nsl-kdd"]


def all_attacks() -> list:
    import attacks

    found = []
    for info in sorted(pkgutil.iter_modules(attacks.__path__), key=lambda m: m.name):
        if info.name != "rig":
            found.extend(importlib.import_module(f"attacks.{info.name}").ATTACKS)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--model", help="a trained model folder (default: train one on NSL-KDD)")
    parser.add_argument(
        "--only", nargs="*", help="run only attacks whose name contains one of these"
    )
    args = parser.parse_args(argv)
    chosen = [
        a for a in all_attacks() if not args.only or any(word in a.__name__ for word in args.only)
    ]
    with tempfile.TemporaryDirectory(prefix="trustshield-attacks-") as tmp:
        model = Path(args.model) if args.model else train_model(Path(tmp))
        results = [
            run_one(attack, Path(tmp) / f"{k:02d}-{attack.__name__}", model)
            for k, attack in enumerate(chosen)
        ]
    summary = summarise(results)
    print_summary(summary)
    if args.json:
        from trustshield.commands.benchmark import write_json

        write_json(summary, args.json)
    return 0 if summary["all_held"] else 1


def train_model(root: Path) -> Path:
    out = root / "trained-model"
    print(f"training the suite's model ({' '.join(TRAIN)}) ...", flush=True)
    done = subprocess.run(
        [str(VENV_BIN / "trustshield"), *TRAIN, "--out", str(out)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return out


def run_one(attack, root: Path, model: Path) -> dict:
    """Run one attack on a fresh rig; an attack that crashes counts as not held."""
    started = time.monotonic()
    print(f"- {attack.__name__} ...", end=" ", flush=True)
    rig = None
    try:
        rig = Rig(root, model)
        result: AttackResult = attack(rig)
    except Exception as exc:  # a broken attack is reported, not hidden
        result = AttackResult(
            attack.__name__,
            "the attack runs to its end",
            f"it failed: {exc!r}\n{traceback.format_exc()[-1500:]}",
            False,
        )
    finally:
        if rig is not None:
            rig.close()
    row = {**asdict(result), "seconds": round(time.monotonic() - started, 2)}
    print("held" if result.held else "NOT HELD", f"({row['seconds']} s)", flush=True)
    return row


def summarise(results: list[dict]) -> dict:
    summary = {
        "all_held": all(r["held"] for r in results),
        "attacks": results,
        "targets": {**{k: f"≤ {v}" for k, v in HEADLINES.items()}, "held": "all"},
        "protocol": __doc__.split("Protocol\n--------\n", 1)[1].strip(),
    }
    for row in results:
        for name in HEADLINES:
            if name in row["figures"]:
                summary[name] = row["figures"][name]
    summary["checks"] = {
        "every attack held": summary["all_held"],
        **{f"{k} ≤ {v}": summary.get(k, float("inf")) <= v for k, v in HEADLINES.items()},
    }
    return summary


def print_summary(summary: dict) -> None:
    print()
    for row in summary["attacks"]:
        print(f"{'held' if row['held'] else 'NOT HELD':>8}  {row['attack']}")
        print(f"          expected: {row['expected']}")
        print(f"          observed: {row['observed']}")
    for name in HEADLINES:
        print(f"{name}: {summary.get(name, 'not measured')}")
    for name, ok in summary["checks"].items():
        print(f"check {name}: {ok}")


if __name__ == "__main__":
    sys.exit(main())
