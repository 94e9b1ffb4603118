"""Behaviour models and incidents: ``train --kind behaviour``, ``detect`` with a behaviour
model (``--store``: incidents kept in the store, :mod:`trustshield.store.incidents`),
``incidents list|show|export``; ``train --kind behaviour --store FILE`` labels the flows of
reviewed incidents by the analysts' outcome (:mod:`trustshield.incidents.feedback`).

A behaviour model folder holds one plain-JSON file, :data:`MODEL_FILE`. Conn logs are read
by ``ingest.zeek_chunks.read_conn_table`` (Zeek TSV, JSON lines, CSV conversions); a folder
input means every regular file in it (recursively) except README/SOURCE notes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trustshield.commands.common import add_json, print_json
from trustshield.commands.progress import output, step
from trustshield.errors import DataError

MODEL_FILE = "behaviour-model.json"
NOTES = (".md", ".txt", ".json")
REQUIRED_KEYS = (
    "host",
    "first_seen",
    "last_seen",
    "behaviours",
    "techniques",
    "severity",
    "evidence_uids",
)


def register(sub) -> None:
    p = sub.add_parser("incidents", help="incidents raised from host behaviour")
    inner = p.add_subparsers(dest="incidents_command", required=True)
    e = inner.add_parser("export", help="write incidents as JSON lines (one per line)")
    source = e.add_mutually_exclusive_group()
    source.add_argument(
        "--incidents", help="JSON-lines file of incidents (from detect --incidents)"
    )
    source.add_argument("--store", help="the store detect --store wrote them to (default)")
    e.add_argument("--out", help="file to write (default: standard output)")
    e.set_defaults(run=cmd_incidents_export)
    ls = inner.add_parser("list", help="stored incidents, most severe then newest first")
    ls.add_argument("--store", help="store (default: $TRUSTSHIELD_STORE or trustshield.duckdb)")
    ls.add_argument("--severity", choices=("high", "medium", "low"))
    ls.add_argument("--status", choices=("open", "confirmed", "dismissed"))
    ls.add_argument("--host", help="only this host")
    ls.add_argument("--limit", type=int, default=50)
    add_json(ls, "the incidents listed and how many match")
    ls.set_defaults(run=cmd_incidents_list)
    show = inner.add_parser("show", help="one stored incident with its evidence")
    show.add_argument("incident_id")
    show.add_argument("--store", help="store (default: $TRUSTSHIELD_STORE or trustshield.duckdb)")
    show.add_argument("--flows", type=int, default=20, help="evidence flows to print (default 20)")
    add_json(show, "the incident with its first evidence flows")
    show.set_defaults(run=cmd_incidents_show)


def model_id_of(folder: str | Path) -> str:
    """A behaviour model's id: the sha256 (first 16 hex digits) of its model file."""
    import hashlib

    return hashlib.sha256((Path(folder) / MODEL_FILE).read_bytes()).hexdigest()[:16]


def is_behaviour_model(folder: str | Path) -> bool:
    return (Path(folder) / MODEL_FILE).is_file()


def log_files(path: str | Path) -> list[Path]:
    """The conn logs of ``path``: the file itself, or a folder's files (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"--input: no such file or folder: {path}")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix not in NOTES
    )
    if not files:
        raise DataError(f"--input: the folder {path} holds no conn log")
    return files


def cmd_train_behaviour(args) -> None:
    from trustshield.atomic_files import write_atomic
    from trustshield.incidents.model import fit_behaviour, scenario
    from trustshield.ingest.zeek_chunks import read_conn_table

    if not args.data:
        raise DataError(
            "train --kind behaviour needs --input PATH (a conn log or a folder of them)"
        )
    files = log_files(args.data)
    confirmed, dismissed = _review_labels(getattr(args, "store", None))
    scenarios, relabelled = [], 0
    for path in files:
        step(f"reading {path}")
        flows = read_conn_table(path)
        if confirmed or dismissed:
            from trustshield.incidents.feedback import labelled_by_review

            flows, n = labelled_by_review(flows, confirmed, dismissed)
            relabelled += n
        scenarios.append(scenario(str(path), flows, window_s=args.window))
    step("fitting the site baseline and the supervised model; leave-one-log-out operating points")
    model = fit_behaviour(scenarios)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / MODEL_FILE, json.dumps(model.to_dict()).encode("utf-8"))
    labelled = sum(s.malicious is not None for s in scenarios)
    kind = "site baseline only" if model.supervised is None else "site baseline + supervised"
    if getattr(args, "json", False):
        print_json(
            {
                "model_id": model_id_of(folder),
                "folder": str(folder),
                "kind": kind,
                "logs": len(files),
                "labelled_logs": labelled,
                "channel_windows": sum(len(s.table) for s in scenarios),
                "confirmed_uids": len(confirmed),
                "dismissed_uids": len(dismissed),
                "flows_labelled_by_review": relabelled,
            }
        )
        return
    output.print(
        f"behaviour model ({kind}) written to {folder} from {len(files)} log(s), "
        f"{labelled} labelled; {sum(len(s.table) for s in scenarios)} channel windows"
    )
    if confirmed or dismissed:
        output.print(
            f"reviewed incidents: {len(confirmed)} confirmed and {len(dismissed)} dismissed "
            f"evidence flow uids; {relabelled} flows labelled by review"
        )


def _review_labels(target) -> tuple[set[str], set[str]]:
    """(uids of confirmed, of dismissed incidents' evidence) in the store ``target``;
    empty without a store."""
    if not target:
        return set(), set()
    from trustshield.commands.common import existing_store

    with existing_store(target) as store:
        reviewed = store.incidents.reviewed()
    confirmed = {u for r in reviewed if r.outcome == "confirmed" for u in r.evidence_uids}
    dismissed = {u for r in reviewed if r.outcome == "dismissed" for u in r.evidence_uids}
    return confirmed, dismissed - confirmed


def detect_behaviour(args) -> None:
    """Incidents of ``args.data`` under the behaviour model in ``args.model``."""
    from trustshield.atomic_files import write_atomic
    from trustshield.incidents.grouping import incidents_jsonl
    from trustshield.incidents.model import BehaviourDetection

    state = json.loads((Path(args.model) / MODEL_FILE).read_text(encoding="utf-8"))
    model = BehaviourDetection.from_dict(state)
    stored = getattr(args, "store", None)
    if getattr(args, "engine", "local") == "spark":
        incidents, added = _detect_spark(args, model, stored)
    else:
        incidents, added = _detect_local(args, model, stored)
    lines = incidents_jsonl(incidents)
    if args.incidents:
        write_atomic(Path(args.incidents), lines.encode("utf-8"))
    if args.json:
        sys.stdout.write(lines)
        return
    if stored:
        output.print(
            f"{len(added)} new incident(s) stored in {stored} "
            f"({len(incidents) - len(added)} already there); "
            "see: trustshield incidents list --store " + str(stored),
            soft_wrap=True,
        )
    for incident in incidents:
        output.print(
            f"{incident.severity.upper()} {incident.host} {_when(incident.first_seen)} → "
            f"{_when(incident.last_seen)} {', '.join(incident.techniques)} "
            f"({len(incident.evidence_uids)} evidence flows) id {incident.incident_id}"
        )
        for b in incident.behaviours:
            output.print(f"  {b.name} ({b.detector}): {b.evidence}")
    output.print(f"{len(incidents)} incident(s)")


def _detect_local(args, model, stored) -> tuple[list, list[str]]:
    """The incidents of every log (per log sorted by first_seen and host), read window by
    window in this process, and, with a store, the ids added to it."""
    from trustshield.pipeline.behaviour_stream import detect_log

    incidents: list = []
    added: list[str] = []
    for path in log_files(args.data):
        found: list = []

        def take(part, flows, path=path, found=found) -> None:
            # a batch of hosts at a time (window by window reading; see detect_log)
            found.extend(part)
            if stored:
                added.extend(_store_incidents(stored, model_id_of(args.model), path, flows, part))

        detect_log(model, path, take)
        incidents += sorted(found, key=lambda i: (i.first_seen, i.host))
    return incidents, added


def _detect_spark(args, model, stored) -> tuple[list, list[str]]:
    """``--engine spark``: the incidents of every log (per log sorted by first_seen and
    host, as the local engine gives them) and, with a store, the ids added to it."""
    from trustshield.pipeline.spark_behaviour import detect_behaviour_spark
    from trustshield.store import AlertStore

    step(f"detecting behaviour with Spark ({args.master})")
    run = detect_behaviour_spark(
        model, log_files(args.data), master=args.master, evidence=bool(stored)
    )
    incidents, added = [], []
    for path, found in run.found:
        incidents += [incident for incident, _ in found]
        if stored and found:
            with AlertStore(stored) as store:
                added += store.incidents.add(model_id_of(args.model), path, list(found))
    return incidents, added


def _store_incidents(target, model_id: str, path: Path, flows, found) -> list[str]:
    from trustshield.incidents.evidence import incident_evidence
    from trustshield.store import AlertStore

    with AlertStore(target) as store:
        return store.incidents.add(
            model_id, str(path), [(i, incident_evidence(i, flows)) for i in found]
        )


def _open_store(args):
    """The store to read incidents from, which must exist (reading never creates one)."""
    from trustshield.commands.common import existing_store

    return existing_store(args.store)


def cmd_incidents_list(args) -> None:
    from trustshield.store.incidents import IncidentFilter

    where = IncidentFilter(severity=args.severity, status=args.status, host=args.host)
    with _open_store(args) as store:
        rows, total = store.incidents.page(where, limit=args.limit)
    if args.json:
        print_json({"incidents": rows, "total": total})
        return
    for row in rows:
        names = ", ".join(dict.fromkeys(b["name"] for b in row["behaviours"]))
        output.print(
            f"{row['incident_id']}  {row['severity'].upper():6} {row['status']:9} "
            f"{row['host']}  {_stamp(row['first_seen'])} → {_stamp(row['last_seen'])}  "
            f"{', '.join(row['techniques'])}  {names}  ({row['n_evidence']} evidence flows)"
        )
    output.print(f"{len(rows)} of {total} incident(s)")


def cmd_incidents_show(args) -> None:
    with _open_store(args) as store:
        row = store.incidents.get(args.incident_id)
        flows = store.incidents.flows(args.incident_id, limit=args.flows)
    if args.json:
        print_json({**row, "flows": flows})
        return
    output.print(
        f"incident {row['incident_id']}: {row['severity']} severity, {row['status']}, "
        f"host {row['host']}, {_stamp(row['first_seen'])} → {_stamp(row['last_seen'])}"
    )
    output.print(f"techniques: {', '.join(row['techniques'])}")
    output.print(
        f"raised by {row['detector']} (suspicion {row['suspicion']:.4g}); model {row['model_id']}"
    )
    for b in row["behaviours"]:
        output.print(f"  {b['name']} ({', '.join(b['techniques'])}): {b['evidence']}")
    top = sorted(row["attributions"].items(), key=lambda kv: -abs(kv[1]))[:5]
    output.print(
        "why: base {:.4g}; ".format(row["base"])
        + ", ".join(f"{name} {value:+.4g}" for name, value in top)
    )
    if row["status"] != "open":
        output.print(f"review: {row['status']} by {row['reviewed_by']}: {row['comment']}")
    output.print(f"evidence flows ({row['n_evidence']}): {' '.join(row['evidence_uids'])}")
    for f in flows:
        output.print(
            f"  {f['uid']}  {_when(f['ts'])}  → {f['dst']}:{f['dport']}/{f['proto']} "
            f"{f['conn_state']}  {f['behaviour']}"
        )


def _stamp(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_incidents_export(args) -> None:
    from trustshield.atomic_files import write_atomic

    if not args.incidents:
        return _export_store(args)
    text = Path(args.incidents).read_text(encoding="utf-8")
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{args.incidents}: line {n}: expected one JSON incident, {exc.msg}"
            ) from None
        missing = [k for k in REQUIRED_KEYS if not isinstance(record, dict) or k not in record]
        if missing:
            raise DataError(f"{args.incidents}: line {n}: expected an incident with {missing}")
        records.append(json.dumps(record, ensure_ascii=False) + "\n")
    data = "".join(records)
    if args.out:
        write_atomic(Path(args.out), data.encode("utf-8"))
        output.print(f"{len(records)} incident(s) written to {args.out}")
    else:
        sys.stdout.write(data)


def _export_store(args) -> None:
    from trustshield.atomic_files import write_atomic
    from trustshield.store.incidents import IncidentFilter, export_record

    with _open_store(args) as store:
        total = store.incidents.page(IncidentFilter(), limit=1)[1]
        rows, _ = store.incidents.page(IncidentFilter(), limit=max(total, 1))
        full = [store.incidents.get(r["incident_id"]) for r in rows]
    data = "".join(json.dumps(export_record(r), ensure_ascii=False) + "\n" for r in full)
    if args.out:
        write_atomic(Path(args.out), data.encode("utf-8"))
        output.print(f"{len(full)} incident(s) written to {args.out}")
    else:
        sys.stdout.write(data)


def _when(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
