"""models register | list | sign | bundle: the local model registry red-team commands are
limited to, and the signatures and upload bundles that let a model run in the service."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from trustshield.commands.common import STORE_HELP, print_json
from trustshield.commands.keys import KEYS_HELP, audit, keyring
from trustshield.commands.progress import output


def register(sub) -> None:
    p = sub.add_parser("models", help="the local model registry (register, list, sign, bundle)")
    p.set_defaults(run=cmd_list)
    inner = p.add_subparsers(metavar="ACTION")
    r = inner.add_parser(
        "register", help="verify a model folder and add it to the registry (audited)"
    )
    r.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    r.add_argument("--store", help=STORE_HELP)
    r.set_defaults(run=cmd_register)
    ls = inner.add_parser("list", help="the registered models")
    ls.add_argument("--store", help=STORE_HELP)
    ls.add_argument("--json", action="store_true", help="print the registry as JSON")
    ls.set_defaults(run=cmd_list)
    s = inner.add_parser("sign", help="sign a model folder with the active key (signature.json)")
    s.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    s.add_argument("--keys", help=KEYS_HELP)
    s.add_argument("--store", help=STORE_HELP + "; gets the model.sign audit event")
    s.set_defaults(run=cmd_sign)
    b = inner.add_parser("bundle", help="verify a signed model folder and write its upload bundle")
    b.add_argument("--model", required=True, help="signed model folder")
    b.add_argument("--out", required=True, help="bundle file to write (JSON, written atomically)")
    b.add_argument("--keys", help=KEYS_HELP)
    b.set_defaults(run=cmd_bundle)


def cmd_register(args) -> None:
    from trustshield.model_folder import load_model
    from trustshield.store import AlertStore

    model = load_model(args.model)  # checks every file against the manifest's sha256
    with AlertStore(args.store) as store:
        added = store.record_model(model.manifest, model.encoder.describe_features())
        state = "registered" if added else "already registered"
        output.print(f"model {model.model_id} ({model.spec.name}) {state} in {store.path}")


def cmd_list(args) -> None:
    from trustshield.store import AlertStore, default_store_path
    from trustshield.store.database import is_url

    path = getattr(args, "store", None) or default_store_path()
    if not is_url(path) and not Path(path).is_file():
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


def cmd_sign(args) -> None:
    from trustshield.store.bundles import sign_model_folder

    manifest, signature = sign_model_folder(args.model, keyring(args))
    audit(
        args,
        "model.sign",
        manifest["model_id"],
        {k: signature[k] for k in ("key_id", "algorithm", "signed_at", "signer")},
    )
    output.print(
        f"model {manifest['model_id']} signed with key {signature['key_id']} "
        f"({Path(args.model) / 'signature.json'})",
        markup=False,
    )


def cmd_bundle(args) -> None:
    from trustshield.store.bundles import bundle_from_folder, write_bundle

    bundle = bundle_from_folder(args.model, keyring(args))  # verified before it is written
    out = write_bundle(bundle, args.out)
    output.print(
        f"bundle of model {bundle['manifest']['model_id']} (signed by "
        f"{bundle['signature']['key_id']}) written to {out}",
        markup=False,
    )
