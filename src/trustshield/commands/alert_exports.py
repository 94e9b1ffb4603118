"""alerts list | export: read stored alerts with filters; export them as JSON lines, CSV,
Elastic Common Schema or STIX 2.1 (see :mod:`trustshield.exports`). Both only read: a store
that does not exist is an error, never created."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from rich.table import Table

from trustshield.commands.common import STORE_HELP, existing_store
from trustshield.commands.progress import output

FORMAT_HELP = (
    "jsonl: every stored field, one JSON object per line; csv: one row per alert; "
    "ecs: Elastic Common Schema JSON lines; stix: one STIX 2.1 bundle (default jsonl)"
)
LIST_LIMIT = 50
LIST_COLUMNS = (
    "alert",
    "time",
    "action",
    "suspicion",
    "category",
    "technique",
    "source",
    "destination",
    "rationale",
)
#: option dest → AlertQuery field
FILTERS = {
    "run_id": "run_id",
    "model": "model_id",
    "action": "action",
    "category": "category",
    "technique": "technique",
    "min_suspicion": "min_suspicion",
    "since": "since",
    "until": "until",
}


def register(sub) -> None:
    p = sub.add_parser(
        "alerts", help="list stored alerts or export them (JSON lines, CSV, ECS, STIX)"
    )
    p.set_defaults(run=cmd_list)
    inner = p.add_subparsers(metavar="ACTION")
    ls = inner.add_parser("list", help="stored alerts in event-time order, with filters")
    _filters(ls, default_limit=LIST_LIMIT)
    ls.add_argument("--json", action="store_true", help="print the alerts as JSON lines")
    ls.set_defaults(run=cmd_list)
    ex = inner.add_parser("export", help="write stored alerts in a format other tools read")
    _filters(ex, default_limit=None)
    ex.add_argument(
        "--format", choices=("jsonl", "csv", "ecs", "stix"), default="jsonl", help=FORMAT_HELP
    )
    ex.add_argument(
        "--out", help="file to write (atomically: complete or not at all; default stdout)"
    )
    ex.set_defaults(run=cmd_export)


def _filters(parser, *, default_limit: int | None) -> None:
    parser.add_argument("--store", help=STORE_HELP)
    parser.add_argument("--run", dest="run_id", help="only alerts of this run id")
    parser.add_argument("--model", help="only alerts of this model id")
    parser.add_argument("--action", choices=("alert", "review"), help="only this decision")
    parser.add_argument("--category", help="only this attack category")
    parser.add_argument("--technique", help="only this ATT&CK technique id (e.g. T1498)")
    parser.add_argument("--min-suspicion", type=float, help="only alerts at least this suspicious")
    parser.add_argument(
        "--since",
        type=_moment,
        help="event time from (ISO 8601, e.g. 2024-05-01T08:00:00Z; no zone means UTC); "
        "the record's own time, else when it was stored",
    )
    parser.add_argument("--until", type=_moment, help="event time before (ISO 8601)")
    parser.add_argument(
        "--limit",
        type=int,
        default=default_limit,
        help=f"at most this many alerts (default {default_limit or 'all'})",
    )


def _moment(text: str) -> datetime:
    from datetime import timezone

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2024-05-01T08:00:00Z; got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _query(args):
    """The filters given (``trustshield alerts`` alone: the latest listing's defaults)."""
    from trustshield.exports.query import AlertQuery

    given = {name: getattr(args, name, None) for name in FILTERS}
    return AlertQuery(
        **{FILTERS[name]: value for name, value in given.items()},
        limit=getattr(args, "limit", LIST_LIMIT),
    )


def cmd_list(args) -> None:
    from trustshield.exports.flat import json_record
    from trustshield.exports.query import count, read_chunks

    query = _query(args)
    with existing_store(getattr(args, "store", None)) as store:
        total = count(store.db, query)
        alerts = [a for chunk in read_chunks(store.db, query) for a in chunk]
    rows = [
        (
            a.alert_id,
            a.timestamp_text + ("" if a.event_text else " (stored)"),
            a.action,
            f"{a.suspicion:.3f}",
            a.category or "",
            a.technique or "",
            _end(a.src_ip, a.src_port),
            _end(a.dst_ip, a.dst_port),
            a.rationale or "",
        )
        for a in alerts
    ]
    with _reader_may_stop():
        if getattr(args, "json", False):
            for alert in alerts:
                record = json_record(alert)
                record.pop("contributions")
                print(json.dumps(record, ensure_ascii=False))
            return
        if not output.is_terminal:  # a file or a pipe: whole lines, tab-separated
            print("\t".join(LIST_COLUMNS))
            for row in rows:
                print("\t".join(v.replace("\t", " ") for v in row))
            print(f"# {len(alerts)} of {total} matching alerts", file=sys.stderr)
            return
        table = Table(*LIST_COLUMNS)
        for row in rows:
            table.add_row(*row)
        output.print(table)
        output.print(f"{len(alerts)} of {total} matching alerts", markup=False)


def _end(ip, port) -> str:
    if ip is None and port is None:
        return ""
    return f"{ip or '?'}:{port}" if port is not None else str(ip)


@contextlib.contextmanager
def _reader_may_stop():
    """Output to a pipe whose reader stops early (``| head``) ends quietly."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python exits


def cmd_export(args) -> None:
    from trustshield.exports.writing import export, export_file

    query = _query(args)
    with existing_store(args.store) as store:
        if args.out:
            written = export_file(store.db, query, args.format, Path(args.out))
            print(f"{written} alerts written to {args.out} ({args.format})", file=sys.stderr)
            return
        with _reader_may_stop():
            sys.stdout.flush()
            export(store.db, query, args.format, sys.stdout.buffer)
