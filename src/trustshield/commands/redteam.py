"""redteam evade | poison | noise | export: attack your own registered models, gated and
audited.

Every subcommand passes the gate (:mod:`trustshield.commands.redteam_gate`: a red-team API
token in ``$TRUSTSHIELD_TOKEN``, a declared purpose, a registered model; refusals audited
as ``redteam.refused``) before any work. A run stores its parameters, result summary and
generated examples (feature space only) with one ``redteam.run`` audit event in one
transaction, in the token's name; nothing leaves the store unless ``--export PATH`` (or
``redteam export``) is given, and each export is audited (``redteam.export``) with the
file's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from trustshield.assess.robustness.evasion_attacks import ATTACKS
from trustshield.atomic_files import temp_beside
from trustshield.commands.common import STORE_HELP, add_json, print_json, resolve_data
from trustshield.commands.progress import console, output, step
from trustshield.commands.redteam_gate import Authorised, arguments, authorise
from trustshield.config import login_name
from trustshield.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def register(sub) -> None:
    p = sub.add_parser(
        "redteam",
        help="attack your own registered models (a red-team token "
        "in $TRUSTSHIELD_TOKEN, a declared purpose; audited)",
    )
    p.set_defaults(run=lambda args: p.print_help() or 2)
    inner = p.add_subparsers(metavar="ACTION")
    e = _attack(
        inner, "evade", "find small feasible changes that get flagged attack records past the model"
    )
    e.add_argument(
        "--data",
        required=True,
        help="labelled CSV/Parquet or DATASET:FILE to draw attack records from",
    )
    e.add_argument(
        "--attack", choices=(*ATTACKS, "all"), default="all", help="which attack (default all)"
    )
    e.add_argument("--records", type=int, default=500, help="attack records to try (default 500)")
    e.add_argument(
        "--max-features", type=int, default=3, help="features an attack may change (default 3)"
    )
    e.add_argument(
        "--max-factor",
        type=float,
        default=2.0,
        help="largest multiplicative change of a numeric feature (default 2.0)",
    )
    e.set_defaults(run=cmd_evade)
    q = _attack(inner, "poison", "flip training attack labels to normal, retrain, measure")
    q.add_argument("--data", required=True, help="training CSV/Parquet or DATASET:FILE")
    q.add_argument("--test", required=True, help="test CSV/Parquet or DATASET:FILE (only scored)")
    q.add_argument(
        "--rate",
        type=float,
        default=0.05,
        help="share of training attack records flipped (default 0.05)",
    )
    q.add_argument("--target", help="flip only attacks of this category (default: any)")
    q.set_defaults(run=cmd_poison)
    n = _attack(inner, "noise", "add measurement noise and keep the records whose decision changed")
    n.add_argument("--data", required=True, help="CSV/Parquet or DATASET:FILE")
    n.add_argument("--level", type=float, default=0.05, help="relative noise level (default 0.05)")
    n.set_defaults(run=cmd_noise)
    x = inner.add_parser("export", help="write a stored run's examples to a file (audited)")
    x.add_argument("run_id", metavar="RUN_ID")
    x.add_argument("--out", required=True, help="file to write: .csv or .parquet; must not exist")
    x.add_argument("--purpose", help="why the examples leave the store (required)")
    x.add_argument("--store", help=STORE_HELP)
    x.set_defaults(run=cmd_export)


def _attack(inner, name: str, help_text: str) -> argparse.ArgumentParser:
    p = inner.add_parser(name, help=help_text)
    p.add_argument("--model", required=True, help="model folder; must be registered in the store")
    p.add_argument("--purpose", help="why this run is made (required, recorded in the audit log)")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--export", help="also write the examples to this .csv/.parquet file (audited)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_json(p, "the run (id, kind, model, examples stored, the attack's summary)")
    return p


def cmd_evade(args) -> None:
    from trustshield.pipeline.redteam import run_evasion

    def work(model):
        frame, data = _read(args.data, model.spec)
        result = run_evasion(
            model,
            frame,
            attack=args.attack,
            records=args.records,
            max_features=args.max_features,
            max_factor=args.max_factor,
            seed=args.seed,
            progress=step,
        )
        return result, {"data": data}

    _attack_run(args, "evade", work)


def cmd_poison(args) -> None:
    from trustshield.pipeline.redteam import run_poisoning

    def work(model):
        (train, data), (test, test_data) = (
            _read(args.data, model.spec),
            _read(args.test, model.spec),
        )
        result = run_poisoning(
            model, train, test, rate=args.rate, target=args.target, seed=args.seed, progress=step
        )
        return result, {"data": data, "test": test_data}

    _attack_run(args, "poison", work)


def cmd_noise(args) -> None:
    from trustshield.pipeline.redteam import run_noise

    def work(model):
        frame, data = _read(args.data, model.spec)
        return run_noise(model, frame, level=args.level, seed=args.seed), {"data": data}

    _attack_run(args, "noise", work)


def cmd_export(args) -> None:
    from trustshield.commands.common import existing_store

    with existing_store(args.store) as store:
        ok = authorise(store, args, action="export")
        target = _export_target(args.out)
        _export(store, args.run_id, target, ok)


def _attack_run(args, kind: str, work) -> None:
    """Gate, then run ``work(model) -> (RedTeamResult, data provenance)`` and store the run
    (a failed or interrupted run is stored and audited too); then export if asked."""
    from trustshield.store import AlertStore
    from trustshield.store.redteam import RedTeamExamples

    with AlertStore(args.store) as store:
        ok = authorise(store, args, action=kind)
        target = _export_target(args.export) if args.export else None
        run_id, started = uuid.uuid4().hex[:16], _now()
        record = dict(
            run_id=run_id,
            kind=kind,
            model_id=ok.model_id,
            purpose=ok.purpose,
            started_at=started,
            audit={"login": login_name()},
        )
        parameters = arguments(args)
        try:
            result, provenance = work(ok.model)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.redteam.save(
                **record,
                parameters=parameters,
                finished_at=_now(),
                summary={"error": f"{type(exc).__name__}: {exc}"},
                status=status,
                examples=RedTeamExamples.empty(len(ok.model.encoder.feature_names)),
            )
            raise
        store.redteam.save(
            **record,
            parameters={**parameters, **provenance, **result.parameters},
            summary=result.summary,
            finished_at=_now(),
            status="complete",
            examples=result.examples,
        )
        if not args.json:
            _report(run_id, kind, ok, result, store.path, exporting=target is not None)
        if target is not None:
            _export(store, run_id, target, ok, say=console.print if args.json else output.print)
        if args.json:
            print_json(
                {
                    "run_id": run_id,
                    "kind": kind,
                    "model_id": ok.model_id,
                    "store": str(store.path),
                    "examples": len(result.examples.rows),
                    "summary": result.summary,
                    "exported": None if target is None else str(target),
                }
            )


def _report(run_id: str, kind: str, ok: Authorised, result, store_path, *, exporting: bool) -> None:
    ex = result.examples
    output.print(
        f"red-team run {run_id} ({kind}) against model {ok.model_id}: "
        f"{len(ex.rows)} examples stored in feature space in {store_path}"
    )
    if kind == "evade":
        for attack in dict.fromkeys(ex.detail):
            mine = ex.detail == attack
            output.print(
                f"  {attack}: {int(ex.evaded[mine].sum())} of {int(mine.sum())} records evaded"
            )
    if kind == "noise":
        s = result.summary
        output.print(
            f"  {s['changed']} of {s['records']} decisions changed "
            f"({s['alert_to_allow']} alert → allow)"
        )
    if kind == "poison":
        clean, run = result.summary["clean"], result.summary["runs"][0]
        output.print(
            f"  detection {clean['detection_rate']:.3f} clean, "
            f"{run['poisoned']['detection_rate']:.3f} poisoned, "
            f"{run['sanitised']['detection_rate']:.3f} sanitised ({run['flipped']} labels flipped)"
        )
    if not exporting:
        output.print(
            f"nothing was exported; to export: trustshield redteam export {run_id} "
            f"--out FILE.csv --purpose TEXT --store {store_path}",
            soft_wrap=True,
        )


def _export_target(path: str) -> Path:
    """Check an export path before any work: known suffix, existing folder, no file yet."""
    target = Path(path)
    if target.suffix.lower() not in EXPORT_FORMATS:
        raise DataError(
            f"export file {target}: expected a name ending in "
            f"{sorted(EXPORT_FORMATS)}, got {target.suffix or 'no suffix'!r}"
        )
    if not target.parent.is_dir():
        raise DataError(f"export file {target}: folder {target.parent} does not exist")
    if target.exists():
        raise DataError(
            f"export file {target} exists already; choose a new name (exports never overwrite)"
        )
    return target


def _export(store, run_id: str, target: Path, ok: Authorised, say=None) -> None:
    """Write the run's examples via a private temporary file, then audit and move it into
    place in one step: the file appears only if its audit event is committed."""
    run = store.redteam.run(run_id)
    frame = store.redteam.export_frame(run_id)
    fmt = EXPORT_FORMATS[target.suffix.lower()]
    placed = False
    try:  # the temp file is readable by the owner only (mkstemp); the export keeps that
        with temp_beside(target, suffix=".partial") as temp:
            if fmt == "csv":
                frame.to_csv(temp, index=False)
            else:
                frame.to_parquet(temp, index=False)
            digest = hashlib.sha256(temp.read_bytes()).hexdigest()
            with store.transaction():
                store.record_event(
                    "redteam.export",
                    run_id,
                    {
                        "path": str(target.resolve()),
                        "format": fmt,
                        "rows": int(len(frame)),
                        "sha256": digest,
                        "purpose": ok.purpose,
                        "model_id": run["model_id"],
                        "kind": run["kind"],
                        "login": login_name(),
                    },
                )
                if target.exists():
                    raise DataError(f"export file {target} appeared while writing; not replaced")
                os.replace(temp, target)
                placed = True
    except BaseException:
        if placed:
            target.unlink(missing_ok=True)
        raise
    (say or output.print)(
        f"exported {len(frame)} rows of run {run_id} to {target} (sha256 {digest}); audited"
    )


def _read(arg: str, spec) -> tuple[pd.DataFrame, dict]:
    """Every valid row, indexed by its line in the file; and the file's provenance."""
    import pandas as pd

    from trustshield.ingest.tabular import TableSource

    source = TableSource(resolve_data(arg), spec)
    frames = [batch.frame.set_axis(batch.lines, axis=0) for batch in source]
    frame = pd.concat(frames) if frames else pd.DataFrame(columns=list(spec.column_names))
    return frame, {"path": str(source.path), "sha256": source.sha256, "rows": source.rows_read}


def _now() -> datetime:
    return datetime.now(timezone.utc)
