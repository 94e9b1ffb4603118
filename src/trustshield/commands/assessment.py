"""assess: every evaluator on a model and its test data, rolled up to principles and risks."""

from __future__ import annotations

from trustshield.commands.common import add_json
from trustshield.commands.progress import count_rows, output, row_progress, step, timed
from trustshield.commands.domains import DOMAINS_HELP
from trustshield.commands.report_files import add_pdf_option, write_report_files
from trustshield.governance.context import USE_CASES


def register(sub) -> None:
    p = sub.add_parser(
        "assess",
        help="run every available evaluator and write the trust report "
        "with principles, practices and risks",
    )
    p.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    p.add_argument("--data", required=True, help="labelled test data: CSV/Parquet or DATASET:FILE")
    p.add_argument(
        "--out", default="out", help="folder for report.html, report.json and report.pdf"
    )
    add_pdf_option(p)
    p.add_argument(
        "--use-case",
        default="intrusion detection",
        choices=USE_CASES,
        help="which practices apply (default intrusion detection)",
    )
    p.add_argument(
        "--train",
        help="the model's training data, for the baseline comparison (default: the file "
        "recorded in the model, when it is still there with the same sha256)",
    )
    p.add_argument("--store", help="also check this store's audit chain and red-team runs")
    p.add_argument("--templates", help="also check this folder of biometric templates")
    p.add_argument(
        "--auth",
        help="also add the authentication figures and evidence "
        "(JSON written by benchmarks/auth.py --json)",
    )
    add_json(p, "the files written, the headline figures and each principle's verdict")
    p.add_argument("--domains", help=DOMAINS_HELP)
    p.set_defaults(run=cmd_assess)


def training_records(model, given: str | None):
    """The model's training records (validated frame) for the baseline comparison: ``given``
    (a path or DATASET:FILE), else the file recorded in the model when it still has the
    recorded sha256; otherwise why there are none (a string)."""
    from pathlib import Path

    from trustshield.commands.common import resolve_data
    from trustshield.ingest.tabular import TableSource

    data = model.training.get("data", {})
    if given:
        return TableSource(resolve_data(given), model.spec).read_all()
    path = data.get("path")
    if not path or not Path(path).is_file():
        return f"the training file {path or data.get('name')!r} is not here; pass --train"
    source = TableSource(Path(path), model.spec)
    if source.sha256 != data.get("sha256"):
        return f"{path} is not the file the model was trained on (sha256 differs); pass --train"
    return source.read_all()


@timed("assess")
def cmd_assess(args) -> None:
    from trustshield.commands.common import existing_store, print_json, resolve_data
    from trustshield.commands.domains import domain_evidence_of
    from trustshield.commands.modelling import _authentication, drift_of, report_summary
    from trustshield.ingest.tabular import TableSource
    from trustshield.model_folder import load_model
    from trustshield.pipeline.assessment import assessment_evidence, governance
    from trustshield.pipeline.evaluate import evaluate
    from trustshield.pipeline.report_content import report_content

    auth = _authentication(args.auth) if args.auth else None
    model = load_model(args.model)
    source = TableSource(resolve_data(args.data), model.spec)
    with row_progress("evaluating", count_rows(source.path, model.spec.header)) as advance:
        figures = evaluate(model, source, progress=advance)
    frame = TableSource(source.path, model.spec).read_all()
    store = existing_store(args.store) if args.store else None
    try:
        evidence = assessment_evidence(
            model,
            args.model,
            frame,
            figures,
            store=store,
            templates=args.templates,
            training=training_records(model, args.train),
            progress=step,
        )
    finally:
        if store is not None:
            store.close()
    if args.domains:
        evidence = [*evidence, *domain_evidence_of(args.domains)]
    step("drift against the training reference")
    drift = drift_of(model, TableSource(source.path, model.spec), args.store)
    report = report_content(model, figures, evidence=evidence, authentication=auth, drift=drift)
    report["governance"] = governance(report["evidence"], use_case=args.use_case)
    files = write_report_files(report, args)
    if args.json:
        principles = [
            {"title": p["title"], "status": p["status"]} for p in report["governance"]["principles"]
        ]
        print_json({**report_summary(report, files), "principles": principles})
        return
    for line in report["governance"]["principles"]:
        output.print(f"{line['title']}: {line['status']}", markup=False)
    output.print(files.lines(), markup=False)
