"""benchmark keystroke | mouse: the authentication benchmarks, on the data sets in the data roots."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("benchmark", help="measure the authentication verifiers on public data")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    inner = p.add_subparsers(metavar="BENCHMARK")
    k = inner.add_parser("keystroke", help="Killourhy & Maxion protocol on MEU-Mobile KSD: "
                                           "TrustShield beside the eight classic detectors")
    k.add_argument("--quick", action="store_true",
                   help="skip the original-protocol runs and the post-hoc ablation")
    _json(k)
    k.set_defaults(run=cmd_keystroke)
    m = inner.add_parser("mouse", help="session-level ROC AUC on the Balabit mouse-dynamics sessions")
    _json(m)
    m.set_defaults(run=cmd_mouse)


def _json(p) -> None:
    p.add_argument("--json", help="also write every figure to this JSON file")


def cmd_keystroke(args) -> None:
    from trustshield.pipeline.keystroke_benchmark import keystroke_figures, print_table

    result = keystroke_figures(original=not args.quick, ablation=not args.quick)
    print_table(result)
    write_json(result, args.json)


def cmd_mouse(args) -> None:
    from trustshield.pipeline.mouse_benchmark import mouse_figures, print_report

    result = mouse_figures()
    print_report(result)
    write_json(result, args.json)


def write_json(result: dict, path: str | None) -> None:
    """Atomic: a temporary file in the target folder, renamed into place."""
    if not path:
        return
    folder = Path(path).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
        json.dump(result, handle, indent=2, default=_plain)
    os.replace(handle.name, path)


def _plain(value):
    """numpy scalars as Python numbers (JSON knows no numpy types)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
