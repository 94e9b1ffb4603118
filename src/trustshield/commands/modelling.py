"""train, detect, evaluate and report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from trustshield.commands.common import (
    DEFAULT_OUT,
    STORE_HELP,
    add_drift_window,
    add_json,
    add_json_file,
    add_pseudonymise,
    existing_store,
    print_json,
    resolve_data,
    write_json_file,
)
from trustshield.errors import DataError
from trustshield.commands.progress import count_rows, output, row_progress, step, timed
from trustshield.commands.domains import DOMAINS_HELP
from trustshield.commands.report_files import add_pdf_option, write_report_files
from trustshield.ingest.connection_formats import FORMATS as CONNECTION_FORMATS
from trustshield.pipeline.train_config import CAPACITY_RULES, TrainConfig


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on labelled data")
    p.add_argument(
        "--kind",
        choices=("records", "behaviour"),
        default="records",
        help="records: a detector of single records (needs --data and --spec; default); "
        "behaviour: host behaviour over time from Zeek conn logs (--input, labels optional)",
    )
    p.add_argument(
        "--data",
        "--input",
        dest="data",
        help="training CSV/Parquet or DATASET:FILE; with --kind behaviour a conn log or a "
        "folder of them",
    )
    p.add_argument("--spec", help="DatasetSpec YAML path or built-in name (nsl-kdd)")
    p.add_argument(
        "--window",
        type=float,
        default=3600.0,
        help="--kind behaviour: length of the tumbling time window in seconds (default 3600)",
    )
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument(
        "--store",
        help="--kind behaviour: label the evidence flows of incidents analysts reviewed in "
        "this store by their outcome (confirmed: malicious, dismissed: benign)",
    )
    p.add_argument(
        "--max-normal-fpr",
        type=float,
        default=TrainConfig.max_normal_fpr,
        help="ceiling on the share of normal training records alerted "
        f"(default {TrainConfig.max_normal_fpr})",
    )
    p.add_argument(
        "--capacity",
        choices=("select", "fixed"),
        default=TrainConfig.capacity,
        help="select: choose the supervised part's size on the training data (held-out "
        "groups, see --capacity-rule); fixed: the compact default, faster "
        f"(default {TrainConfig.capacity})",
    )
    p.add_argument(
        "--capacity-rule",
        choices=CAPACITY_RULES,
        default=TrainConfig.capacity_rule,
        help="with --capacity select: one_se keeps the compact model unless the larger one's "
        "held-out objective is higher by more than one standard error (faster explanations); "
        f"best takes the higher objective (default {TrainConfig.capacity_rule})",
    )
    p.add_argument(
        "--harden",
        action="append",
        choices=("monotone", "adversarial"),
        default=[],
        help="defence against feasible evasion (repeatable): monotone constraints on "
        "features an attacker can only move one way; adversarial training",
    )
    _on_error(p)
    add_json(p, "what was trained (model id, folder, rows, chosen operating point)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("detect", help="score data and store alerts with explanations")
    p.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    p.add_argument(
        "--data",
        "--input",
        dest="data",
        required=True,
        help="CSV/Parquet path or DATASET:FILE, a Zeek conn.log, an nfdump or "
        "CICFlowMeter CSV, or a pcap/pcapng capture",
    )
    p.add_argument(
        "--format",
        choices=("auto", "table", *CONNECTION_FORMATS),
        default="auto",
        help="input format (default: told from the file; `table` is CSV/Parquet "
        "with the model's columns). Connection records become KDD-style "
        "features, for models trained on NSL-KDD",
    )
    p.add_argument("--store", help=STORE_HELP)
    add_drift_window(p)
    _on_error(p)
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: this process (default); spark: Apache Spark tasks (see --master), "
        "for CSV/Parquet tables",
    )
    p.add_argument(
        "--master",
        default="local[*]",
        help="Spark master for --engine spark: local[N], spark://HOST:7077, yarn, ...",
    )
    p.add_argument(
        "--out",
        default="alerts.parquet",
        help="--engine spark: folder the alerts are written to as Parquet",
    )
    add_pseudonymise(p)
    add_json(
        p,
        "the run (rows read, alerts and reviews added, rejected rows, store, first new "
        "alert); with a behaviour model, the incidents as JSON lines,",
    )
    p.add_argument(
        "--incidents", help="with a behaviour model: also write the incidents (JSON lines) here"
    )
    p.set_defaults(run=cmd_detect)

    p = sub.add_parser("evaluate", help="measure a model on labelled data")
    _model_data(p)
    add_json_file(p, "the figures")
    _on_error(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("report", help="write the trust report (HTML + JSON twin + PDF)")
    _model_data(p)
    p.add_argument(
        "--out", default=DEFAULT_OUT, help="folder for report.html, report.json and report.pdf"
    )
    add_pdf_option(p)
    p.add_argument(
        "--auth", help="also report authentication: the JSON written by benchmarks/auth.py --json"
    )
    p.add_argument(
        "--store", help="also list the drift events detection stored for this model; " + STORE_HELP
    )
    p.add_argument(
        "--incidents-store",
        help="also summarise the incidents (host behaviour) stored here by detect --store",
    )
    add_json(p, "the files written, the model and its headline figures")
    p.add_argument("--domains", help=DOMAINS_HELP)
    _on_error(p)
    p.set_defaults(run=cmd_report)


def _model_data(p) -> None:
    p.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    p.add_argument("--data", required=True, help="CSV/Parquet path or DATASET:FILE")


def _on_error(p) -> None:
    p.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="invalid rows: stop with an error (default) or skip and count them",
    )


def _source(args, spec):
    """The rows to read: a table checked against ``spec``, or, for detect, connection
    records turned into KDD-style features (``--format``, told from the file by default)."""
    from trustshield.ingest.connections import ConnectionSource, sniff_format
    from trustshield.ingest.tabular import TableSource

    path = resolve_data(args.data)
    chosen = getattr(args, "format", "table")
    if chosen == "auto":
        chosen = (sniff_format(path) if path.is_file() else None) or "table"
    if chosen == "table":
        return TableSource(path, spec, on_error=args.on_error)
    return ConnectionSource(path, spec, format=chosen, on_error=args.on_error)


def _total(source) -> int | None:
    """Rows to expect, for the progress bar; None when only reading will tell."""
    from trustshield.ingest.tabular import TableSource

    return count_rows(source.path, source.spec.header) if isinstance(source, TableSource) else None


#: the operating-point figures a train summary repeats from the model's selection record
SELECTION_KEYS = ("probability", "quantile", "objective", "normal_fpr")


@dataclass(frozen=True)
class TrainSummary:
    """What ``train`` wrote: the model's id and folder, the training rows read and
    rejected, the defences applied and the chosen operating point (probability threshold,
    novelty quantile, held-out objective, normal training FPR as a share)."""

    model_id: str
    folder: str
    rows_read: int
    rejected_rows: int
    defences: tuple[str, ...]
    selection: dict

    def as_dict(self) -> dict:
        return {**asdict(self), "defences": list(self.defences)}


@dataclass(frozen=True)
class DetectSummary:
    """What ``detect`` did: the stored run (:class:`~trustshield.records.RunSummary`), the
    store written to and the first new alert (None when the run added none), with the
    command that explains it."""

    run: dict
    store: str
    first_alert: str | None

    def as_dict(self) -> dict:
        explain = (
            None
            if self.first_alert is None
            else f"trustshield explain {self.first_alert} --store {self.store}"
        )
        return {**asdict(self), "explain": explain}


@timed("train")
def cmd_train(args) -> None:
    import pandas as pd

    if args.kind == "behaviour":
        from trustshield.commands.behaviour import cmd_train_behaviour

        return cmd_train_behaviour(args)
    if not args.data or not args.spec:
        raise DataError("train needs --data and --spec (or --kind behaviour --input PATH)")
    if args.store:
        raise DataError("train --store is for --kind behaviour (reviewed incidents as labels)")

    from trustshield.model_folder import save_model
    from trustshield.pipeline.hardening import train_hardened
    from trustshield.specs import read_spec_text, spec_from_text
    from trustshield.specs.labels import check_labels

    spec_text, origin = read_spec_text(args.spec)
    spec = spec_from_text(spec_text, origin)
    source = _source(args, spec)
    with row_progress("reading", count_rows(source.path, spec.header)) as advance:
        frames = []
        for batch in source:
            frames.append(batch.frame)
            advance(len(batch.frame) + batch.rejected_rows)
    frame = pd.concat(frames, ignore_index=True)
    if spec.label_column in frame.columns:
        labels = check_labels(spec, frame[spec.label_column])
        labels.raise_errors(f"{args.data} (spec {origin})")
        for warning in labels.warnings:
            step(f"[yellow]warning:[/yellow] {warning}")
    provenance = {"data": source.describe()}
    model = train_hardened(
        frame,
        spec,
        spec_text,
        defences=args.harden,
        config=TrainConfig(
            max_normal_fpr=args.max_normal_fpr,
            capacity=args.capacity,
            capacity_rule=args.capacity_rule,
        ),
        provenance=provenance,
        progress=step,
    )
    manifest = save_model(model, args.out)
    sel = model.training["selection"]
    step(
        f"selected p = {sel['probability']}, q = {sel['quantile']}: held-out objective "
        f"{sel['objective']:.3f}, normal training FPR {sel['normal_fpr']:.2%}"
    )
    summary = TrainSummary(
        model_id=manifest["model_id"],
        folder=str(args.out),
        rows_read=source.rows_read,
        rejected_rows=source.rejected_rows,
        defences=tuple(args.harden),
        selection={k: sel.get(k) for k in SELECTION_KEYS},
    )
    if args.json:
        print_json(summary.as_dict())
        return
    output.print(
        f"model {summary.model_id} written to {args.out} "
        f"({summary.rows_read} rows, {summary.rejected_rows} rejected)"
    )


@timed("detect")
def cmd_detect(args) -> None:
    from trustshield.model_folder import load_model
    from trustshield.pipeline.detect import detect
    from trustshield.store import AlertStore
    from trustshield.store.entities import switch_on

    from trustshield.commands.behaviour import detect_behaviour, is_behaviour_model

    if is_behaviour_model(args.model):
        return detect_behaviour(args)
    if args.engine == "spark":
        return _detect_spark(args)
    model = load_model(args.model)
    source = _source(args, model.spec)
    with AlertStore(args.store) as store, row_progress("detecting", _total(source)) as advance:
        if args.pseudonymise:
            switch_on(store)
        run = detect(model, source, store, progress=advance, drift_window=args.drift_window)
        first = store.alerts(run_id=run.run_id, limit=1)
        summary = DetectSummary(
            run=run.as_dict(),
            store=str(store.path),
            first_alert=str(first.alert_id[0]) if len(first) else None,
        )
    if args.json:
        print_json(summary.as_dict())
        return
    output.print(
        f"run {run.run_id}: {run.rows_read} rows, "
        f"{run.alerts_added} new alerts/reviews ({run.reviews_added} queued for review), "
        f"{run.rejected_rows} rejected rows → {summary.store}"
    )
    if summary.first_alert is not None:
        # soft_wrap: a terminal folds a long line for display; no newline breaks the command
        output.print(
            f"first new alert: {summary.as_dict()['explain']}", markup=False, soft_wrap=True
        )


def _detect_spark(args) -> None:
    """``detect --engine spark``: the same scoring in Spark tasks; a URL input (hdfs://,
    s3a://, ...) goes to Spark as it is."""
    from trustshield.ingest.connections import sniff_format
    from trustshield.pipeline.spark_detect import detect_spark
    from trustshield.store import default_store_path

    data = args.data if "://" in args.data else str(resolve_data(args.data))
    chosen = args.format
    if chosen == "auto" and Path(data).is_file():
        chosen = sniff_format(data) or "table"
    if chosen not in ("auto", "table"):
        raise DataError(
            f"--engine spark reads CSV/Parquet tables; {chosen} input is scored with --engine local"
        )
    store = args.store or default_store_path()
    if args.pseudonymise:
        from trustshield.store import AlertStore
        from trustshield.store.entities import switch_on

        with AlertStore(store) as opened:
            switch_on(opened)
    run = detect_spark(
        args.model, data, out=args.out, master=args.master, store=store, on_error=args.on_error
    )
    if args.json:
        print_json({**run, "store": str(store)})
        return
    output.print(
        f"run {run['run_id']}: {run['rows_read']} rows, {run['alerts']} alerts/reviews, "
        f"{run['rejected_rows']} rejected rows → {run['out']} and {store}"
    )


def cmd_evaluate(args) -> None:
    figures = _evaluate(args)
    write_json_file(figures.as_dict(), args.json_file)
    if args.json:
        print_json(figures.as_dict())
        return
    m = figures.metrics
    output.print(
        f"{figures.dataset['name']}: accuracy {m['accuracy']:.4f}  macro-F1 "
        f"{m['macro_f1']:.4f}  FPR {m['fpr']:.4f}  detection {m['detection_rate']:.4f}"
        f"  review {m['review_share']:.4f}  AUC {m['roc_auc'] or float('nan'):.4f}"
    )
    for row in figures.per_category:
        output.print(
            f"  {row.category:<8} {row.detected:>6}/{row.records:<6} {row.detection_rate:.3f}"
        )


@timed("report")
def cmd_report(args) -> None:
    from trustshield.pipeline.report_content import report_content

    content = None
    if args.auth:
        content = _authentication(args.auth)
    model, figures = _evaluate(args, with_model=True)
    evidence = None
    if args.domains:
        from trustshield.assess.evidence import performance_evidence
        from trustshield.commands.domains import domain_evidence_of

        evidence = [*performance_evidence(figures.as_dict()), *domain_evidence_of(args.domains)]
    report = report_content(
        model,
        figures,
        evidence=evidence,
        authentication=content,
        drift=drift_of(model, _source(args, model.spec), args.store),
        incidents=incidents_of(args.incidents_store),
    )
    files = write_report_files(report, args)
    if args.json:
        print_json(report_summary(report, files))
        return
    output.print(files.lines(), markup=False)


def report_summary(report: dict, files) -> dict:
    """What ``report --json`` and ``assess --json`` print: the files written
    (:class:`~trustshield.commands.report_files.ReportFiles`), the model's id, the test
    data's headline metrics and the count of evidence rows by status."""
    statuses: dict[str, int] = {}
    for row in report.get("evidence", []):
        statuses[row.get("status", "")] = statuses.get(row.get("status", ""), 0) + 1
    return {
        "files": files.as_dict(),
        "model_id": report.get("model", {}).get("model_id"),
        "metrics": report.get("metrics"),
        "evidence": statuses,
    }


#: incidents listed by name in the report (the rest are counted)
REPORTED_INCIDENTS = 20


def incidents_of(target: str | None):
    """The report's incidents section of the store ``target`` (None without one)."""
    if not target:
        return None
    from trustshield.pipeline.report_content import incidents_content

    with existing_store(target) as store:
        rows, total = store.incidents.page(limit=REPORTED_INCIDENTS)
        counts = store.incidents.counts()
        shown = str(store.path)
    return incidents_content(shown, rows, total, counts)


def drift_of(model, source, store_target: str | None):
    """The report's drift section and Evidence: ``source`` against the model's reference,
    with the drift events detection stored for this model when a store is named."""
    from trustshield.pipeline.report_content import drift_content

    events = []
    if store_target:
        with existing_store(store_target) as store:
            events = store.drift.events(model_id=model.model_id)
    return drift_content(model, source, events=events)


def _authentication(path: str) -> tuple[dict, list[dict]]:
    """The authentication section and its evidence from a benchmarks/auth.py JSON file."""
    from trustshield.pipeline.report_content import authentication_content

    try:
        bench = json.loads(Path(path).read_text(encoding="utf-8"))
        return authentication_content(bench), list(bench.get("evidence", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"--auth {path}: expected the JSON written by benchmarks/auth.py --json "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _evaluate(args, with_model: bool = False):
    from trustshield.model_folder import load_model
    from trustshield.pipeline.evaluate import evaluate

    model = load_model(args.model)
    source = _source(args, model.spec)
    with row_progress("evaluating", count_rows(source.path, model.spec.header)) as advance:
        figures = evaluate(model, source, progress=advance)
    return (model, figures) if with_model else figures
