"""keys generate | rotate | revoke | trust | export-public | list: the Ed25519 keyring that
signs models (see :mod:`trustshield.store.signing`). Private keys are never printed; with
``--json`` each action prints a :class:`KeyChange` (or the keys) as JSON instead of text."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from trustshield.commands.common import add_json, print_json
from trustshield.commands.progress import output

KEYS_HELP = "keyring folder (default $TRUSTSHIELD_KEYS or ./trustshield-keys)"
AUDIT_HELP = "store (DuckDB file or postgresql:// URL) to append the audit event to (optional)"


def register(sub) -> None:
    p = sub.add_parser(
        "keys",
        help="Ed25519 keys that sign models (generate, rotate, revoke, trust, export-public, list)",
    )
    p.set_defaults(run=cmd_list, keys=None, json=False)
    inner = p.add_subparsers(metavar="ACTION")
    for name, run, text in (
        ("generate", cmd_generate, "create the first active signing key"),
        (
            "rotate",
            cmd_rotate,
            "new active key; the old one is retired and still verifies what it signed",
        ),
    ):
        _with_common(inner.add_parser(name, help=text), audited=True).set_defaults(run=run)
    r = _with_common(
        inner.add_parser("revoke", help="a revoked key verifies nothing"), audited=True
    )
    r.add_argument("key_id", metavar="KEY_ID")
    r.set_defaults(run=cmd_revoke)
    t = _with_common(
        inner.add_parser("trust", help="verify models signed by a public key generated elsewhere"),
        audited=True,
    )
    t.add_argument("public", metavar="PUBLIC.pem")
    t.set_defaults(run=cmd_trust)
    e = _with_common(
        inner.add_parser("export-public", help="print or write a public key (PEM)"),
        json="the key id, its PEM and the file written",
    )
    e.add_argument("--key", help="key id (default: the active key)")
    e.add_argument("--out", help="write the PEM to this file instead of printing it")
    e.set_defaults(run=cmd_export_public)
    ls = _with_common(
        inner.add_parser("list", help="the keys, their status and creation time"), json=None
    )
    ls.add_argument("--json", action="store_true", help="print the keys as JSON")
    ls.set_defaults(run=cmd_list)


def _with_common(parser, *, audited: bool = False, json: str | None = "the key it changed"):
    parser.add_argument("--keys", help=KEYS_HELP)
    if audited:
        parser.add_argument("--store", help=AUDIT_HELP)
    if json:
        add_json(parser, json)
    return parser


@dataclass(frozen=True)
class KeyChange:
    """One key after a keys action: its id, status (active, retired, revoked, trusted), the
    keyring folder, its public key file (None when it has none there) and, for rotate, the
    key it retired. Never key material."""

    action: str
    key_id: str
    status: str
    keyring: str
    public_key: str | None
    retired: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _change(ring, action: str, entry: dict, retired: str | None = None) -> KeyChange:
    public = ring.path / f"{entry['key_id']}.pub.pem"
    return KeyChange(
        action=action,
        key_id=entry["key_id"],
        status=entry["status"],
        keyring=str(ring.path),
        public_key=str(public) if public.is_file() else None,
        retired=retired,
    )


def keyring(args):
    from trustshield.store.signing import Keyring

    return Keyring(getattr(args, "keys", None))


def audit(args, action: str, subject: str, details: dict) -> None:
    """Append one audit event when ``--store`` was given (details hold no key material)."""
    if getattr(args, "store", None):
        from trustshield.store import AlertStore

        with AlertStore(args.store) as store:
            store.record_event(action, subject, details)


def cmd_generate(args) -> None:
    ring = keyring(args)
    entry = ring.generate()
    audit(
        args,
        "keys.generate",
        entry["key_id"],
        {"keyring": str(ring.path), "created_at": entry["created_at"]},
    )
    if args.json:
        print_json(_change(ring, "generate", entry).as_dict())
        return
    output.print(
        f"key {entry['key_id']} generated and active in {ring.path} "
        f"(public key: {ring.path / (entry['key_id'] + '.pub.pem')})",
        markup=False,
    )


def cmd_rotate(args) -> None:
    ring = keyring(args)
    new, old = ring.rotate()
    audit(args, "keys.rotate", new["key_id"], {"keyring": str(ring.path), "retired": old["key_id"]})
    if args.json:
        print_json(_change(ring, "rotate", new, retired=old["key_id"]).as_dict())
        return
    output.print(
        f"key {new['key_id']} is now active; {old['key_id']} retired (still verifies "
        "models it signed)",
        markup=False,
    )


def cmd_revoke(args) -> None:
    ring = keyring(args)
    entry = ring.revoke(args.key_id)
    audit(args, "keys.revoke", entry["key_id"], {"keyring": str(ring.path)})
    if args.json:
        print_json(_change(ring, "revoke", entry).as_dict())
        return
    output.print(f"key {entry['key_id']} revoked: models it signed no longer verify", markup=False)


def cmd_trust(args) -> None:
    from trustshield.errors import ConfigError

    ring = keyring(args)
    try:
        pem = Path(args.public).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"expected a readable PEM public key at {args.public} ({exc.strerror})"
        ) from None
    entry = ring.trust(pem)
    audit(
        args,
        "keys.trust",
        entry["key_id"],
        {"keyring": str(ring.path), "file": str(args.public), "status": entry["status"]},
    )
    if args.json:
        print_json(_change(ring, "trust", entry).as_dict())
        return
    output.print(f"key {entry['key_id']} is {entry['status']} in {ring.path}", markup=False)


def cmd_export_public(args) -> None:
    from trustshield.store.signing import write_atomic

    ring = keyring(args)
    pem = ring.public_pem(args.key)
    if args.out:
        write_atomic(Path(args.out), pem.encode("ascii"))
    if args.json:
        key_id = args.key or (ring.active() or {}).get("key_id")
        print_json({"key_id": key_id, "pem": pem, "file": args.out})
        return
    if args.out:
        output.print(f"public key written to {args.out}", markup=False)
    else:
        print(pem, end="")


def cmd_list(args) -> None:
    ring = keyring(args)
    entries = ring.entries()
    if args.json:
        print_json(entries)
        return
    if not entries:
        output.print(
            f"no keys in {ring.path}: create one with `trustshield keys generate`", markup=False
        )
        return
    table = Table("key", "status", "created", "private key here", title=f"keys in {ring.path}")
    for e in entries:
        table.add_row(e["key_id"], e["status"], e["created_at"], "yes" if e["private"] else "no")
    output.print(table)
