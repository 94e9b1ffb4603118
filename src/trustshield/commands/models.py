"""models register | list | pack | sign | bundle: the local model registry red-team
commands are limited to, and the signatures and upload bundles that let a model run in the
service (``pack`` makes a model folder of a payload or domain model file, to sign).
With ``--json`` register, sign and bundle print a :class:`ModelAction` as JSON instead of
text."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from trustshield.commands.common import STORE_HELP, add_json, print_json
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
    add_json(r, "the registration")
    r.set_defaults(run=cmd_register)
    ls = inner.add_parser("list", help="the registered models")
    ls.add_argument("--store", help=STORE_HELP)
    ls.add_argument("--json", action="store_true", help="print the registry as JSON")
    ls.set_defaults(run=cmd_list)
    k = inner.add_parser(
        "pack", help="make a model folder of a payload or domain model file, to sign and upload"
    )
    k.add_argument(
        "--text-model",
        required=True,
        help="payload model file (`payloads train --out`) or domain model file "
        "(domain-model.json in the folder of `domains train`)",
    )
    k.add_argument("--out", required=True, help="model folder to write (written atomically)")
    add_json(k, "the new folder's summary")
    k.set_defaults(run=cmd_pack)
    s = inner.add_parser("sign", help="sign a model folder with the active key (signature.json)")
    s.add_argument("--model", required=True, help="model folder written by `trustshield train`")
    s.add_argument("--keys", help=KEYS_HELP)
    s.add_argument("--store", help=STORE_HELP + "; gets the model.sign audit event")
    add_json(s, "the signature's summary")
    s.set_defaults(run=cmd_sign)
    b = inner.add_parser("bundle", help="verify a signed model folder and write its upload bundle")
    b.add_argument("--model", required=True, help="signed model folder")
    b.add_argument("--out", required=True, help="bundle file to write (JSON, written atomically)")
    b.add_argument("--keys", help=KEYS_HELP)
    add_json(b, "the bundle's summary")
    b.set_defaults(run=cmd_bundle)


@dataclass(frozen=True)
class ModelAction:
    """What register, sign or bundle did to one model: the action, the model id, the file
    or store it wrote (``target``), whether the registry gained it (register; None
    otherwise) and the key that signed it (sign, bundle; None for register)."""

    action: str
    model_id: str
    target: str
    added: bool | None = None
    key_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def cmd_register(args) -> None:
    from trustshield.model_folder import load_served_model, registered_features
    from trustshield.store import AlertStore

    # checks every file against the manifest's sha256; tabular or text models alike
    model = load_served_model(args.model)
    with AlertStore(args.store) as store:
        added = store.record_model(model.manifest, registered_features(model))
        state = "registered" if added else "already registered"
        if args.json:
            done = ModelAction("register", model.model_id, str(store.path), added=bool(added))
            print_json(done.as_dict())
            return
        output.print(f"model {model.model_id} ({model.spec_name}) {state} in {store.path}")


def cmd_pack(args) -> None:
    from trustshield.errors import DataError
    from trustshield.model_folder import save_text_model_folder

    try:
        document = Path(args.text_model).read_bytes()
    except OSError as exc:
        raise DataError(f"--text-model {args.text_model}: cannot read it ({exc})") from None
    manifest = save_text_model_folder(document, args.out)
    if args.json:
        print_json(ModelAction("pack", manifest["model_id"], str(args.out)).as_dict())
        return
    output.print(
        f"{manifest['text']} model {manifest['model_id']} packed in {args.out}; sign it with "
        f"`trustshield models sign --model {args.out}`",
        markup=False,
    )


def cmd_list(args) -> None:
    from trustshield.store import AlertStore, default_store_path
    from trustshield.store.alerts import missing_store_tables
    from trustshield.store.database import is_url, redact

    path = getattr(args, "store", None) or default_store_path()
    absent = missing_store_tables(str(path)) if is_url(path) else not Path(path).is_file()
    if absent:  # a command that only reads creates no store
        output.print(f"no models registered: no store at {redact(str(path))}", markup=False)
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
    written = Path(args.model) / "signature.json"
    if args.json:
        done = ModelAction("sign", manifest["model_id"], str(written), key_id=signature["key_id"])
        print_json(done.as_dict())
        return
    output.print(
        f"model {manifest['model_id']} signed with key {signature['key_id']} ({written})",
        markup=False,
    )


def cmd_bundle(args) -> None:
    from trustshield.store.bundles import bundle_from_folder, write_bundle

    bundle = bundle_from_folder(args.model, keyring(args))  # verified before it is written
    out = write_bundle(bundle, args.out)
    if args.json:
        model_id, key_id = bundle["manifest"]["model_id"], bundle["signature"]["key_id"]
        print_json(ModelAction("bundle", model_id, str(out), key_id=key_id).as_dict())
        return
    output.print(
        f"bundle of model {bundle['manifest']['model_id']} (signed by "
        f"{bundle['signature']['key_id']}) written to {out}",
        markup=False,
    )
