"""benchmark keystroke | mouse: the authentication benchmarks, on the data sets in the data roots."""

from __future__ import annotations

from trustshield.commands.common import add_json_file, print_json, write_json_file


def register(sub) -> None:
    p = sub.add_parser("benchmark", help="measure the authentication verifiers on public data")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    inner = p.add_subparsers(metavar="BENCHMARK")
    k = inner.add_parser(
        "keystroke",
        help="Killourhy & Maxion protocol on MEU-Mobile KSD or "
        "any keystroke table: TrustShield beside the eight "
        "classic detectors",
    )
    k.add_argument(
        "--data",
        help="keystroke table (CSV/Parquet, one row per typing in the "
        "order typed; default: MEU-Mobile KSD from the data roots)",
    )
    k.add_argument("--subject", help="the table's subject column (needed with --data)")
    k.add_argument(
        "--enrol", type=int, default=25, help="enrolment typings per subject (default 25)"
    )
    k.add_argument(
        "--impostor-typings",
        type=int,
        default=5,
        help="first typings of each other subject tested as impostors (default 5)",
    )
    k.add_argument(
        "--genuine-typings",
        type=int,
        help="typings after the enrolment ones tested as genuine (default: all)",
    )
    k.add_argument(
        "--series",
        action="store_true",
        help="the table holds per-key series: summarise them first "
        "(trustshield.ingest.keystroke_series)",
    )
    k.add_argument(
        "--quick",
        action="store_true",
        help="skip the original-protocol runs and the post-hoc ablation",
    )
    _json(k)
    k.set_defaults(run=cmd_keystroke)
    m = inner.add_parser(
        "mouse", help="session-level ROC AUC on the Balabit mouse-dynamics sessions"
    )
    _json(m)
    m.set_defaults(run=cmd_mouse)


def _json(p) -> None:
    add_json_file(p, "every figure")


def cmd_keystroke(args) -> None:
    from trustshield.commands.auth_prior import check_protocol
    from trustshield.pipeline.keystroke_benchmark import keystroke_figures, print_table

    check_protocol(args)
    data = _keystroke_table(args)
    result = keystroke_figures(
        data,
        n_enrol=args.enrol,
        n_genuine=args.genuine_typings,
        n_impostor=args.impostor_typings,
        original=not args.quick,
        ablation=not args.quick,
    )
    report(result, args, print_table)


def _keystroke_table(args):
    """The table to benchmark (None: MEU-Mobile KSD), checked against the protocol's counts
    so that a short table is refused naming the flags that set them."""
    from trustshield.commands.auth_prior import check_counts, read_background
    from trustshield.errors import DataError

    if args.data is None:
        if args.subject or args.series:
            raise DataError("--subject and --series describe a table given with --data")
        return None
    if not args.subject:
        raise DataError("--data needs --subject: the column naming who typed each row")
    data = read_background(
        args.data, args.subject, "keystroke-series" if args.series else "keystroke"
    )
    check_counts(data, args, subjects=8, why="two halves, and nested selection inside each")
    return data


def cmd_mouse(args) -> None:
    from trustshield.pipeline.mouse_benchmark import mouse_figures, print_report

    result = mouse_figures()
    report(result, args, print_report)


def report(result: dict, args, show) -> None:
    """Write the figures to ``--json-file`` when given; then print them as JSON
    (``--json``) or as ``show`` prints them."""
    write_json_file(result, args.json_file)
    if args.json:
        print_json(result)
    else:
        show(result)


def write_json(result: dict, path: str | None) -> None:
    """The benchmark scripts' writer (benchmarks/*.py --json PATH): atomic, owner-only."""
    write_json_file(result, path, mode=0o600)
