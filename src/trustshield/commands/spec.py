"""spec draft: propose a DatasetSpec from a table; spec check: validate a spec (and data)."""

from __future__ import annotations

from pathlib import Path

from trustshield.commands.common import print_json, resolve_data
from trustshield.errors import DataError, TrustShieldError

#: row numbers shown per rejection reason
SHOWN_LINES = 5


def register(sub) -> None:
    p = sub.add_parser("spec", help="draft a DatasetSpec from a table, or check one")
    inner = p.add_subparsers(metavar="ACTION")
    d = inner.add_parser(
        "draft",
        help="infer column types, ranges, categories and label from a CSV/Parquet table",
    )
    d.add_argument("data", nargs="?", help="CSV/Parquet table or DATASET:FILE")
    d.add_argument("--data", dest="data_option", help="the same as DATA")
    d.add_argument("--label", help="the label column (default: a column named label, class, ...)")
    d.add_argument(
        "--normal", help="the label value of normal records (default: one named like normal)"
    )
    d.add_argument("--out", help="spec YAML to write (default: print it)")
    d.add_argument("--force", action="store_true", help="replace --out when it exists")
    d.add_argument(
        "--no-header",
        action="store_true",
        help="the CSV has no header line (columns are named column_1, column_2, ...)",
    )
    d.add_argument("--name", help="the spec's name (default: the data file's stem)")
    d.add_argument(
        "--metadata",
        default="",
        help="comma-separated columns kept with each record but not used as features "
        "(identifiers, addresses, timestamps)",
    )
    d.set_defaults(run=cmd_draft)
    c = inner.add_parser(
        "check",
        help="validate a spec; with --data, count the rows it would reject, by reason",
    )
    c.add_argument("spec", nargs="?", help="DatasetSpec YAML path or built-in name")
    c.add_argument("data", nargs="?", help="CSV/Parquet table or DATASET:FILE to validate")
    c.add_argument("--spec", dest="spec_option", help="the same as SPEC")
    c.add_argument("--data", dest="data_option", help="the same as DATA")
    c.add_argument("--json", action="store_true", help="print a machine-readable summary")
    c.set_defaults(run=cmd_check)
    p.set_defaults(run=lambda args: p.print_help() or 2)


def cmd_draft(args) -> None:
    import pandas as pd

    from trustshield.atomic_files import write_atomic, write_new
    from trustshield.specs.drafting import draft_spec
    from trustshield.specs.loading import spec_from_text

    data = _one(args.data, args.data_option, "DATA")
    if data is None:
        raise DataError("spec draft needs the table: trustshield spec draft DATA --label COLUMN")
    path = resolve_data(data)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if parquet:
        frame = pd.read_parquet(path)
    else:
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                header=None if args.no_header else 0,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
            )
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: not a readable CSV table ({exc})") from None
        if args.no_header:
            frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
    frame.columns = [str(c).strip() for c in frame.columns]
    draft = draft_spec(
        frame,
        name=args.name or path.stem,
        label=args.label,
        normal=args.normal,
        file_format="parquet" if parquet else "csv",
        header=not args.no_header,
        metadata=tuple(c.strip() for c in args.metadata.split(",") if c.strip()),
    )
    text = draft.yaml_text()
    spec_from_text(
        text, "the drafted spec"
    )  # a draft always loads: refuse to write one that does not
    if not args.out:
        print(text, end="")
        return
    out = Path(args.out)
    if not out.parent.is_dir():
        raise DataError(f"--out {out}: folder {out.parent} does not exist")
    try:
        (write_atomic if args.force else write_new)(out, text.encode("utf-8"), mode=0o644)
    except FileExistsError:
        raise DataError(f"--out {out} exists; pass --force to replace it") from None
    for note in draft.notes:
        print(f"review: {note}")
    print(f"drafted spec written to {out} ({len(frame.columns)} columns)")


def _one(positional: str | None, option: str | None, name: str) -> str | None:
    """The value given as ``name`` or as its option; DataError when both differ."""
    if positional and option and positional != option:
        raise DataError(f"{name} given twice: {positional!r} and --{name.lower()} {option!r}")
    return positional or option


def cmd_check(args) -> int:
    args.spec = _one(args.spec, args.spec_option, "SPEC")
    args.data = _one(args.data, args.data_option, "DATA")
    if args.spec is None:
        raise DataError("spec check needs a spec: trustshield spec check SPEC [DATA]")
    try:
        summary = check_summary(args.spec, args.data)
    except TrustShieldError as exc:
        if not args.json:
            raise
        print_json({"spec": args.spec, "valid": False, "errors": [str(exc)]})
        return 1
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
    return 0 if summary["valid"] and not summary["errors"] else 1


def check_summary(spec_arg: str, data_arg: str | None) -> dict:
    """What ``spec check`` reports, as plain JSON values: the spec's shape, warnings and
    errors, and with data the rows read and rejected, by reason (column and expectation)
    with their first :data:`SHOWN_LINES` file line numbers, and the label check."""
    from trustshield.ingest.tabular import TableSource
    from trustshield.specs import load_spec
    from trustshield.specs.labels import check_labels

    spec = load_spec(spec_arg)
    review = [c.name for c in spec.features if c.needs_review]
    warnings = []
    if review:
        warnings.append(
            f"{len(review)} feature(s) have attacker: review (treated as fixed until set): "
            + ", ".join(review[:10])
            + (" ..." if len(review) > 10 else "")
        )
    summary: dict = {
        "spec": spec_arg,
        "name": spec.name,
        "valid": True,
        "columns": len(spec.columns),
        "features": len(spec.features),
        "relations": len(spec.relations),
        "needs_review": review,
        "warnings": warnings,
        "errors": [],
    }
    if data_arg is None:
        return summary
    reasons: dict[tuple[str, str], list[int]] = {}
    labels = []
    try:
        source = TableSource(resolve_data(data_arg), spec, on_error="skip")
        for batch in source:
            for problem in batch.rejected:
                lines = reasons.setdefault((problem.column, problem.expected), [])
                if not lines or lines[-1] != problem.line:
                    lines.append(problem.line)
            if spec.label_column in batch.frame.columns:
                labels.extend(batch.frame[spec.label_column].tolist())
    except TrustShieldError as exc:  # the spec is fine; the data could not be read with it
        summary["data"] = {"path": data_arg, "error": str(exc)}
        summary["errors"].append(str(exc))
        return summary
    summary["data"] = {
        **source.describe(),
        "reasons": [
            {
                "column": column,
                "expected": expected,
                "rows": len(lines),
                "first_lines": sorted(lines)[:SHOWN_LINES],
            }
            for (column, expected), lines in sorted(reasons.items(), key=lambda kv: -len(kv[1]))
        ],
    }
    if spec.label_column is not None and labels:
        check = check_labels(spec, labels)
        summary["labels"] = check.as_dict()
        warnings.extend(check.warnings)
        summary["errors"].extend(check.errors)
    if source.rejected_rows:
        summary["errors"].append(f"{source.rejected_rows:,} row(s) rejected")
    return summary


def _print_summary(summary: dict) -> None:
    print(
        f"spec {summary['name']} ({summary['spec']}): valid; {summary['columns']} columns, "
        f"{summary['features']} features, {summary['relations']} relations"
    )
    data = summary.get("data")
    if data and "error" not in data:
        print(
            f"data {data['path']}: {data['rows']:,} rows read, {data['rejected_rows']:,} rejected"
        )
        for reason in data["reasons"]:
            lines = ", ".join(map(str, reason["first_lines"]))
            more = " ..." if reason["rows"] > len(reason["first_lines"]) else ""
            print(
                f"  {reason['rows']:,} row(s): column {reason['column']!r}: expected "
                f"{reason['expected']} (lines {lines}{more})"
            )
    absent = summary.get("labels", {}).get("listed_but_absent", [])
    if absent:
        shown = ", ".join(absent[:10]) + (" ..." if len(absent) > 10 else "")
        print(f"note: {len(absent)} listed attack(s) do not occur in this data: {shown}")
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    for error in summary["errors"]:
        print(f"error: {error}")
