"""payloads train | detect | assess | evade: attack payloads in web-request parameter values.

``train`` fits the ``payload`` detector (normalised hashed character n-grams, hardened by
training on rewritten attacks) on a labelled payload CSV and writes one JSON model file;
``assess`` writes a trust report (figures, Evidence, governance roll-up) of a model on
labelled test payloads; ``detect`` scores payloads (a CSV or ``--payload TEXT``) and prints, per payload, whether
it is flagged, the attack type with ATT&CK T1190 and its CWE, and the n-grams that pushed
the decision with their character spans (JSON lines); ``evade`` measures how many flagged
attack payloads some semantics-preserving rewrite gets past the model. ``evade``
generates attack variants, so it passes the red-team gate first (a red-team token in
``$TRUSTSHIELD_TOKEN`` and ``--purpose``; refusals and runs audited); it prints counts
only, never the variants.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from trustshield.commands.common import STORE_HELP, resolve_data
from trustshield.commands.progress import output, step
from trustshield.errors import DataError


def register(sub) -> None:
    p = sub.add_parser(
        "payloads", help="detect and explain attack payloads in web-request parameter values"
    )
    p.set_defaults(run=lambda args: p.print_help() or 2)
    inner = p.add_subparsers(metavar="ACTION")
    t = inner.add_parser("train", help="fit a payload model on a labelled payload CSV")
    t.add_argument(
        "--data",
        required=True,
        help="CSV with payload and attack_type columns, or DATASET:FILE "
        "(e.g. http-params-dataset:payload_train.csv)",
    )
    t.add_argument("--out", required=True, help="model file to write (JSON)")
    t.add_argument(
        "--target-fpr",
        type=float,
        default=0.001,
        help="share of normal training payloads (scored out of fold) allowed above the "
        "threshold (default 0.001)",
    )
    t.add_argument(
        "--augment",
        type=int,
        default=2,
        help="rewritten variants per training attack (hardening; 0 = none; default 2)",
    )
    t.add_argument("--folds", type=int, default=3, help="folds for the threshold (default 3)")
    t.add_argument(
        "--bits", type=int, default=18, help="log2 of the n-gram hash buckets (default 18)"
    )
    t.set_defaults(run=cmd_train)
    d = inner.add_parser("detect", help="score payloads and explain each decision")
    d.add_argument("--model", required=True, help="model file from `payloads train`")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="CSV with a payload column, or DATASET:FILE")
    src.add_argument("--payload", action="append", help="one payload (repeatable)")
    d.add_argument("--flagged-only", action="store_true", help="print flagged payloads only")
    d.add_argument(
        "--store",
        help="also keep flagged payloads as alerts of a run in this store (" + STORE_HELP + ")",
    )
    d.add_argument(
        "--html",
        help="also write a page with each payload highlighted by its character terms",
    )
    d.set_defaults(run=cmd_detect)
    a = inner.add_parser(
        "assess", help="trust report of a payload model on labelled test payloads (JSON)"
    )
    a.add_argument("--model", required=True, help="model file from `payloads train`")
    a.add_argument("--data", required=True, help="labelled CSV or DATASET:FILE")
    a.add_argument("--out", required=True, help="report file to write (JSON)")
    a.set_defaults(run=cmd_assess)
    e = inner.add_parser(
        "evade",
        help="measure evasion by semantics-preserving rewrites (red-team token; audited)",
    )
    e.add_argument("--model", required=True, help="model file from `payloads train`")
    e.add_argument("--data", required=True, help="labelled CSV or DATASET:FILE")
    e.add_argument("--purpose", help="why this run is made (required, recorded in the audit log)")
    e.add_argument("--store", help=STORE_HELP)
    e.add_argument("--moves", type=int, default=5, help="rewrites per candidate (default 5)")
    e.add_argument("--tries", type=int, default=20, help="candidates per payload (default 20)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e.set_defaults(run=cmd_evade)


def _table(arg: str, labelled: bool):
    from trustshield.ingest.payloads import read_payloads
    from trustshield.ingest.datasets import sha256_of

    path = resolve_data(arg)
    return read_payloads(path, labelled=labelled), sha256_of(path)


def cmd_train(args) -> None:
    from trustshield.pipeline.payload_benchmark import Settings
    from trustshield.pipeline.payload_model import save_payload_model, train_payload_model

    if not 0 < args.target_fpr < 1:
        raise DataError(f"--target-fpr must be in (0, 1); got {args.target_fpr}")
    if args.folds < 2 or args.augment < 0:
        raise DataError("--folds must be at least 2 and --augment at least 0")
    table, digest = _table(args.data, labelled=True)
    settings = Settings(
        target_fpr=args.target_fpr, folds=args.folds, augment=args.augment, bits=args.bits
    )
    model = train_payload_model(table, settings=settings, sha256=digest, step=step)
    save_payload_model(model, args.out)
    rule = model.training["threshold_rule"]
    bound = rule["oof_fpr_upper"]
    output.print(
        f"payload model written to {args.out}: threshold {model.threshold:.4f} "
        f"(out-of-fold normal FPR {rule['oof_fpr']:.4f}"
        + (f", {rule['confidence']:.0%} upper bound {bound:.4f}" if bound is not None else "")
        + f"; an in-sample choice would give {rule['in_sample_threshold']:.4f}), "
        f"types {list(model.detector.types_)}"
    )


def cmd_detect(args) -> None:
    from trustshield.pipeline.payload_model import load_payload_model

    model = load_payload_model(args.model)
    if args.payload:
        payloads, labels = list(args.payload), None
        source = ("command line", hashlib.sha256("\n".join(payloads).encode()).hexdigest())
    else:
        table, digest = _table(args.data, labelled=False)
        payloads, labels, source = list(table.payloads), table.attack_types, (table.path, digest)
    records = model.decide(payloads)
    shown = [r for r in records if r["flagged"] or not args.flagged_only]
    for record in shown:
        sys.stdout.write(json.dumps(record) + "\n")
    if args.html:
        _write_page(model, [r["payload"] for r in shown], shown, args.html)
    if args.store:
        _keep(args, model, payloads, labels, source)


def _keep(args, model, payloads, labels, source) -> None:
    from trustshield.pipeline.payload_store import store_payload_detections
    from trustshield.store import AlertStore

    model_id = hashlib.sha256(Path(args.model).read_bytes()).hexdigest()[:16]
    with AlertStore(args.store) as store:
        run = store_payload_detections(
            store,
            model,
            model_id,
            payloads,
            source_path=source[0],
            source_sha256=source[1],
            labels=labels,
        )
    print(
        f"run {run.run_id}: {run.alerts_added} alerts added to {args.store} "
        f"({run.rows_read} payloads read)",
        file=sys.stderr,
    )


def _write_page(model, payloads: list[str], records: list[dict], path: str) -> None:
    from html import escape

    from trustshield.atomic_files import write_atomic
    from trustshield.explain.payload import explain_payloads, highlight_html

    rows = []
    for e, r in zip(explain_payloads(model.detector, payloads), records, strict=True):
        verdict = f"{r['attack_type']} ({r['cwe']}, {r['technique']})" if r["flagged"] else "normal"
        rows.append(
            f"<tr><td>{highlight_html(e)}</td><td>{e.score:.3f}</td><td>{escape(verdict)}</td></tr>"
        )
    page = (
        '<!doctype html><meta charset="utf-8"><title>TrustShield payloads</title>'
        "<style>body{font-family:sans-serif}td{padding:4px 8px;border-bottom:1px solid #ddd}"
        "code{font-size:14px;white-space:pre-wrap}</style>"
        f"<p>threshold {model.threshold:.4f}; red pushes towards the attack, blue towards "
        "normal; hover a character for its exact term (base + Σ terms = score)</p>"
        "<table><tr><th>payload</th><th>score</th><th>decision</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    write_atomic(Path(path), page.encode("utf-8"), mode=0o644)


def cmd_assess(args) -> None:
    from trustshield.atomic_files import write_atomic
    from trustshield.pipeline.payload_assessment import assess_payload_model
    from trustshield.pipeline.payload_model import load_payload_model
    from trustshield.plain_json import plain

    model = load_payload_model(args.model)
    table, digest = _table(args.data, labelled=True)
    step("scoring, explanation exactness, rewrites at the default budget")
    report = assess_payload_model(model, table, sha256=digest)
    write_atomic(Path(args.out), json.dumps(plain(report), indent=2).encode(), mode=0o644)
    for e in report["evidence"]:
        value = "not measured" if e["value"] is None else f"{e['value']:.6g}"
        output.print(f"  {e['status']:>13}  {e['check']}: {value}  ({e['metric']})")
    output.print(f"trust report written to {args.out}")


def cmd_evade(args) -> None:
    from trustshield.assess.robustness.payload_rewrites import Budget
    from trustshield.commands.redteam_gate import authorise_token
    from trustshield.pipeline.payload_model import load_payload_model
    from trustshield.pipeline.payload_model import payload_evasion
    from trustshield.store import AlertStore

    model_id = hashlib.sha256(Path(args.model).read_bytes()).hexdigest()[:16]
    with AlertStore(args.store) as store:
        ok = authorise_token(store, args, action="payloads evade", model_id=model_id)
        model = load_payload_model(args.model)
        table, digest = _table(args.data, labelled=True)
        summary = payload_evasion(
            model, table, Budget(moves=args.moves, tries=args.tries), seed=args.seed
        )
        store.record_event(
            "redteam.run",
            model_id,
            {
                "command": "payloads evade",
                "purpose": ok.purpose,
                "data": {"path": table.path, "sha256": digest},
                "budget": {"moves": args.moves, "tries": args.tries, "seed": args.seed},
                "summary": summary,
            },
        )
    output.print(
        f"payload evasion against model {model_id}: {summary['evaded']} of "
        f"{summary['caught']} flagged attacks evaded ({summary['rate']:.4f}); "
        "no variant was written anywhere; audited"
    )
    for kind, rate in summary["per_type"].items():
        output.print(f"  {kind}: {rate:.4f}")
