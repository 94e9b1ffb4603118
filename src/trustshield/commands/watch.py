"""watch: follow a growing Zeek conn.log and score it into the store, exactly once."""

from __future__ import annotations

import os
import signal
import sys

from trustshield.commands.common import (
    STORE_HELP,
    add_drift_window,
    add_json,
    add_pseudonymise,
    print_json,
)
from trustshield.commands.progress import console, output


def register(sub) -> None:
    p = sub.add_parser(
        "watch",
        help="follow a growing Zeek conn.log (rotation included) and "
        "store explained alerts, each record exactly once",
    )
    p.add_argument("path", help="the conn.log Zeek writes to (ASCII/TSV form)")
    p.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument(
        "--batch-records", type=int, default=20_000, help="records per micro-batch (default 20000)"
    )
    p.add_argument(
        "--batch-seconds",
        type=float,
        default=2.0,
        help="score what arrived within this many seconds even if fewer (default 2)",
    )
    p.add_argument("--once", action="store_true", help="process what is there now, then exit")
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="exit after this many seconds without new records",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=max((os.cpu_count() or 1) - 1, 0),
        help="scoring processes (default one per core but one; 0 scores in this process)",
    )
    p.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="invalid records: stop with an error (default) or store them in "
        "rejected_rows and continue",
    )
    add_drift_window(p)
    add_pseudonymise(p)
    add_json(p, "the run when it ends (records, alerts, the stored run, notices)")
    p.set_defaults(run=cmd_watch)


def cmd_watch(args) -> None:
    from trustshield.commands.behaviour import is_behaviour_model

    if is_behaviour_model(args.model):
        return _watch_behaviour(args)
    from trustshield.model_folder import load_model
    from trustshield.pipeline.watch import watch
    from trustshield.store import AlertStore
    from trustshield.store.entities import switch_on

    stopping = []
    previous = {
        s: signal.signal(s, lambda *_: stopping.append(True))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with AlertStore(args.store) as store:
            if args.pseudonymise:
                switch_on(store)
            run = watch(
                args.path,
                store,
                model=load_model(args.model),
                model_dir=args.model,
                batch_records=args.batch_records,
                batch_seconds=args.batch_seconds,
                once=args.once,
                until_idle=args.until_idle,
                on_error=args.on_error,
                workers=args.workers,
                drift_window=args.drift_window,
                progress=_progress_line(),
                stop=lambda: bool(stopping),
            )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if sys.stderr.isatty():
        console.print()
    for notice in run.notices:
        console.print(f"[yellow]{notice}[/yellow]")
    if args.json:
        print_json(
            {
                "run": run.run.as_dict(),
                "records": run.records,
                "alerts": run.alerts,
                "notices": list(run.notices),
                "stopped_by_signal": bool(stopping),
                "store": str(store.path),
            }
        )
        return
    output.print(
        f"run {run.run.run_id}: {run.records} records, {run.alerts} alerts/reviews "
        f"({run.run.reviews_added} queued for review), "
        f"{run.run.rejected_rows} rejected rows → {store.path}"
        + (" (stopped by signal)" if stopping else "")
    )


def _watch_behaviour(args) -> None:
    """watch with a behaviour model (``train --kind behaviour``): incidents as host
    behaviour periods close (pipeline.watch_behaviour), exactly once."""
    import json
    from pathlib import Path

    from trustshield.commands.behaviour import MODEL_FILE, model_id_of
    from trustshield.incidents.model import BehaviourDetection
    from trustshield.pipeline.watch_behaviour import watch_behaviour
    from trustshield.store import AlertStore

    state = json.loads((Path(args.model) / MODEL_FILE).read_text(encoding="utf-8"))
    model = BehaviourDetection.from_dict(state)
    stopping: list[bool] = []
    previous = {
        s: signal.signal(s, lambda *_: stopping.append(True))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with AlertStore(args.store) as store:
            run = watch_behaviour(
                args.path,
                store,
                model,
                model_id_of(args.model),
                batch_records=args.batch_records,
                batch_seconds=args.batch_seconds,
                once=args.once,
                until_idle=args.until_idle,
                stop=lambda: bool(stopping),
            )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    for notice in run.notices:
        console.print(f"[yellow]{notice}[/yellow]")
    output.print(
        f"{run.records} records, {run.incidents} incident(s) stored, {run.open_periods} "
        f"host period(s) still open, {run.late} late record(s) left out → {store.path}"
        + (" (stopped by signal)" if stopping else "")
    )


def _progress_line():
    """A one-line progress display on a terminal (records/s, alerts, lag); silent otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(f: dict) -> None:
        lag = "" if f["lag_s"] is None else f", {f['lag_s']:.1f} s behind the log clock"
        console.print(
            f"{f['records']:,} records, {f['records_per_s']:,.0f}/s, {f['alerts']:,} "
            f"alerts/reviews, {f['rejected']:,} rejected, {f['lag_bytes']:,} bytes "
            f"unread{lag}",
            end="\r",
        )

    return show
