"""Domain names: ``domains train`` fits a DGA detector with its operating point,
``domains score FILE|-`` scores domain names (one per line) with exact explanations.

A domain model folder holds one plain-JSON file, :data:`MODEL_FILE`
(:mod:`trustshield.pipeline.domains`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trustshield.commands.progress import output, step
from trustshield.errors import DataError, ModelIntegrityError

MODEL_FILE = "domain-model.json"
SHADES = " ░▒▓█"  # |attribution| of a character, in fifths of the name's largest


def register(sub) -> None:
    p = sub.add_parser("domains", help="malicious (DGA) domain names: train and score")
    inner = p.add_subparsers(dest="domains_command", required=True)
    t = inner.add_parser("train", help="fit the domain detector on the labelled DGA data set")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--spec", default="dga-domains", help="data set spec (default dga-domains)")
    t.set_defaults(run=cmd_train)
    s = inner.add_parser("score", help="score domain names, one per line (FILE or - for stdin)")
    s.add_argument("input", help="file of domain names, one per line, or - for standard input")
    s.add_argument("--model", required=True, help="model folder written by domains train")
    s.add_argument("--json", action="store_true", help="one JSON verdict per line")
    s.add_argument("--alerts-only", action="store_true", help="print alerting domains only")
    s.add_argument(
        "--store",
        help="also keep alerting domains as alerts of a run in this store (a DuckDB file or "
        "postgresql://...), shown with their characters coloured by the dashboard",
    )
    s.set_defaults(run=cmd_score)


def cmd_train(args) -> None:
    from trustshield.atomic_files import write_atomic
    from trustshield.ingest.domains import load_domains
    from trustshield.pipeline.domains import model_document, train

    data = load_domains(args.spec)
    step(f"training on {len(data.domains)} domains from {data.path.name}")
    model = train(data.domains, data.labels)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    document = model_document(
        model, {"spec": args.spec, "file": data.path.name, "sha256": data.sha256}
    )
    write_atomic(folder / MODEL_FILE, json.dumps(document).encode("utf-8"))
    output.print(
        f"domain model written to {folder / MODEL_FILE}: threshold {model.threshold:.4f} "
        f"({model.calibration['rule']})"
    )


def domain_evidence_of(path: str) -> list:
    """The domain detector's Evidence from a ``benchmarks/domains.py --json`` file."""
    from trustshield.assess.domains import domain_evidence

    try:
        figures = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(figures, dict) or "leave_one_family_out" not in figures:
            raise ValueError("no leave_one_family_out figures")
        return domain_evidence(figures)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(
            f"--domains {path}: expected the JSON written by benchmarks/domains.py --json "
            f"({type(exc).__name__}: {exc})"
        ) from None


DOMAINS_HELP = (
    "also add the DGA domain detector's evidence (JSON written by benchmarks/domains.py --json)"
)


def read_domains(source: str) -> list[str]:
    """Non-empty, non-comment lines of ``source`` (a path or - for standard input)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read domain names ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_model(folder: str):
    from trustshield.pipeline.domains import model_from_document

    path = Path(folder) / MODEL_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"{path}: not a readable domain model ({exc})") from None
    return model_from_document(document)


def cmd_score(args) -> None:
    from trustshield.pipeline.domains import score

    model = load_model(args.model)
    domains = read_domains(args.input)
    if not domains:
        raise DataError(f"{args.input}: no domain names (one per line expected)")
    if args.store:
        _keep(args, model, domains)
    for verdict in score(model, domains):
        if args.alerts_only and not verdict.alert:
            continue
        if args.json:
            sys.stdout.write(json.dumps(verdict.as_dict()) + "\n")
            continue
        mark = f"ALERT {verdict.family} ({verdict.family_p:.2f})" if verdict.alert else "ok"
        output.print(f"{verdict.score:+8.3f}  {verdict.domain:<40} {mark}")
        output.print(f"          {verdict.name}\n          {shade(verdict.characters)}")


def _keep(args, model, domains: list[str]) -> None:
    import hashlib

    from trustshield.pipeline.domain_store import store_domain_alerts
    from trustshield.store import AlertStore

    model_id = hashlib.sha256((Path(args.model) / MODEL_FILE).read_bytes()).hexdigest()[:16]
    source = "standard input" if args.input == "-" else args.input
    digest = hashlib.sha256("\n".join(domains).encode("utf-8")).hexdigest()
    with AlertStore(args.store) as store:
        run = store_domain_alerts(
            store, model, model_id, domains, source_path=source, source_sha256=digest
        )
    output.print(f"run {run.run_id}: {run.alerts_added} alerts added to {args.store}")


def shade(characters: tuple[float, ...]) -> str:
    """One mark per character: how much it pushed the score up (``+`` heavier = more),
    down (``-``) or little (space), in fifths of the name's largest |attribution|."""
    top = max((abs(c) for c in characters), default=0.0) or 1.0
    marks = []
    for c in characters:
        level = min(int(abs(c) / top * 5), 4)
        marks.append(SHADES[level] if c > 0 else ("-" if level >= 2 else " "))
    return "".join(marks)
