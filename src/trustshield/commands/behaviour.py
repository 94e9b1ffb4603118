"""Behaviour models and incidents: ``train --kind behaviour``, ``detect`` with a behaviour
model, ``incidents export``.

A behaviour model folder holds one plain-JSON file, :data:`MODEL_FILE`. Conn logs are read
by ``ingest.zeek_chunks.read_conn_table`` (Zeek TSV, JSON lines, CSV conversions); a folder
input means every regular file in it (recursively) except README/SOURCE notes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
    e.add_argument(
        "--incidents", required=True, help="JSON-lines file of incidents (from detect --incidents)"
    )
    e.add_argument("--out", help="file to write (default: standard output)")
    e.set_defaults(run=cmd_incidents_export)


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
    scenarios = []
    for path in files:
        step(f"reading {path}")
        scenarios.append(scenario(str(path), read_conn_table(path), window_s=args.window))
    step("fitting the site baseline and the supervised model; leave-one-log-out operating points")
    model = fit_behaviour(scenarios)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / MODEL_FILE, json.dumps(model.to_dict()).encode("utf-8"))
    labelled = sum(s.malicious is not None for s in scenarios)
    kind = "site baseline only" if model.supervised is None else "site baseline + supervised"
    output.print(
        f"behaviour model ({kind}) written to {folder} from {len(files)} log(s), "
        f"{labelled} labelled; {sum(len(s.table) for s in scenarios)} channel windows"
    )


def detect_behaviour(args) -> None:
    """Incidents of ``args.data`` under the behaviour model in ``args.model``."""
    from trustshield.atomic_files import write_atomic
    from trustshield.features.behaviour import behaviour_table
    from trustshield.incidents.grouping import incidents_jsonl
    from trustshield.incidents.model import BehaviourDetection, detect_incidents
    from trustshield.ingest.zeek_chunks import read_conn_table

    state = json.loads((Path(args.model) / MODEL_FILE).read_text(encoding="utf-8"))
    model = BehaviourDetection.from_dict(state)
    incidents = []
    for path in log_files(args.data):
        flows = read_conn_table(path)
        incidents += detect_incidents(model, flows, behaviour_table(flows, window_s=model.window_s))
    lines = incidents_jsonl(incidents)
    if args.incidents:
        write_atomic(Path(args.incidents), lines.encode("utf-8"))
    if args.json:
        sys.stdout.write(lines)
        return
    for incident in incidents:
        output.print(
            f"{incident.severity.upper()} {incident.host} {_when(incident.first_seen)} → "
            f"{_when(incident.last_seen)} {', '.join(incident.techniques)} "
            f"({len(incident.evidence_uids)} evidence flows) id {incident.incident_id}"
        )
        for b in incident.behaviours:
            output.print(f"  {b.name} ({b.detector}): {b.evidence}")
    output.print(f"{len(incidents)} incident(s)")


def cmd_incidents_export(args) -> None:
    from trustshield.atomic_files import write_atomic

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


def _when(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
