"""models register | list: the local model registry red-team commands are limited to."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from trustshield.cli import print_json
from trustshield.commands.progress import output

STORE_HELP = "DuckDB file (default $TRUSTSHIELD_STORE or ./trustshield.duckdb)"


def register(sub) -> None:
    p = sub.add_parser("models", help="the local model registry (register, list)")
    p.set_defaults(run=cmd_list)
    inner = p.add_subparsers(metavar="ACTION")
    r = inner.add_parser("register", help="verify a model folder and add it to the registry (audited)")
    r.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    r.add_argument("--store", help=STORE_HELP)
    r.set_defaults(run=cmd_register)
    ls = inner.add_parser("list", help="the registered models")
    ls.add_argument("--store", help=STORE_HELP)
    ls.add_argument("--json", action="store_true", help="print the registry as JSON")
    ls.set_defaults(run=cmd_list)


def cmd_register(args) -> None:
    from trustshield.pipeline.artifact import load_model
    from trustshield.store import AlertStore

    model = load_model(args.model)  # checks every file against the manifest's sha256
    with AlertStore(args.store) as store:
        added = store.record_model(model.manifest, model.encoder.describe_features())
        state = "registered" if added else "already registered"
        output.print(f"model {model.model_id} ({model.spec.name}) {state} in {store.path}")


def cmd_list(args) -> None:
    from trustshield.store import AlertStore

    from trustshield.store import default_store_path

    path = getattr(args, "store", None) or default_store_path()
    if not Path(path).is_file():
        output.print(f"no models registered: no store at {path}")
        return
    with AlertStore(path) as store:
        models = store.models()
    if getattr(args, "json", False):
        print_json(models.to_dict(orient="records"))
        return
    table = Table("model", "created", "spec", "detector", title="registered models")
    for row in models.itertuples(index=False):
        table.add_row(row.model_id, str(row.created_at), row.spec, row.detector)
    output.print(table)
