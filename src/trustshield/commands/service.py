"""serve | tokens | audit | reviews: run the REST service and manage what it relies on.

``serve`` listens on loopback unless ``--host`` says otherwise, and ignores
``X-Forwarded-For`` unless ``--trusted-proxy`` names the proxy that sets it. Tokens are
created here, never through the API, and the plain token is printed once; they are revoked
here or, while the service runs, by an admin through ``POST /v1/tokens/{id}/revoke``.
``audit verify`` recomputes the hash chain and names the first broken link (exit status 1
when broken), and for a head that no longer seals the chain, the last event and what to do.
``audit reseal`` seals such a head again over the last event the operator names (audited as
``audit.reseal``; see :mod:`trustshield.store.audit_reseal`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
from pathlib import Path

from rich.table import Table

from trustshield.atomic_files import write_new
from trustshield.commands.common import STORE_HELP, add_json, existing_store, print_json
from trustshield.commands.progress import console, output
from trustshield.config import ROLES, login_name, operator_name
from trustshield.errors import StoreError

NOT_LOOPBACK = (
    "warning: listening on {host}, which other machines can reach; put TLS in "
    "front of it (tokens travel in headers)"
)


def register(sub) -> None:
    from trustshield.service.settings import DEFAULT_PORT, LOOPBACK

    s = sub.add_parser("serve", help="run the REST API and dashboard (loopback by default)")
    s.add_argument("--store", help=STORE_HELP)
    s.add_argument("--host", default=LOOPBACK, help=f"address to listen on (default {LOOPBACK})")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    s.add_argument(
        "--models-dir",
        default="trustshield-models",
        help="where uploaded signed models are installed (default ./trustshield-models)",
    )
    s.add_argument(
        "--keys",
        help="keyring whose keys are trusted (default $TRUSTSHIELD_KEYS or ./trustshield-keys)",
    )
    s.add_argument("--reports", help="folder of trust reports (MODEL_ID/report.json)")
    s.add_argument("--model", help="a signed model folder to install and activate at start")
    s.add_argument(
        "--pseudonymise",
        action="store_true",
        help="configure the store to keep IPs and user names as keyed HMACs "
        "($TRUSTSHIELD_PSEUDONYM_KEY) from now on, for every writer (audited)",
    )
    s.add_argument("--retention-days", type=int, help="delete alerts older than this")
    s.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="scoring processes (default: one per core but one, which the service "
        "process keeps for HTTP and the store; 0 scores in the service process)",
    )
    s.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For header names the client "
        "(repeat for several); without it the header is ignored, so no "
        "client can pick the address its failed sign-ins are counted under",
    )
    s.add_argument(
        "--rate-limit",
        type=float,
        metavar="RECORDS_PER_S",
        help="records per second each token may score (default: half the active "
        "model's scoring capacity, measured when it is activated)",
    )
    s.add_argument("--max-batch", type=int, default=1000, help="records per request (default 1000)")
    s.add_argument(
        "--max-body-mb",
        type=float,
        default=8.0,
        help="largest body of POST /v1/score and /v1/redteam/* in MiB (default 8)",
    )
    s.add_argument(
        "--max-bundle-mb",
        type=float,
        default=64.0,
        help="largest model bundle POST /v1/models takes, in MiB (default 64)",
    )
    s.set_defaults(run=cmd_serve)

    t = sub.add_parser("tokens", help="API tokens (stored only as argon2 hashes)")
    t.set_defaults(run=cmd_list_tokens, store=None, json=False)
    inner = t.add_subparsers(metavar="ACTION")
    c = inner.add_parser("create", help="create a token; it is printed once (audited)")
    c.add_argument("--name", required=True, help="whose token this is, e.g. 'alice' or 'sensor-7'")
    c.add_argument(
        "--role",
        action="append",
        required=True,
        choices=ROLES,
        help="role the token holds (repeat for several)",
    )
    c.add_argument("--store", help=STORE_HELP)
    add_json(c, "the token (its secret included, once) and its id, name and roles")
    c.set_defaults(run=cmd_create_token)
    r = inner.add_parser("revoke", help="revoke a token by id (audited)")
    r.add_argument("token_id")
    r.add_argument("--store", help=STORE_HELP)
    r.set_defaults(run=cmd_revoke_token)
    ls = inner.add_parser("list", help="tokens, without secrets")
    ls.add_argument("--store", help=STORE_HELP)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=cmd_list_tokens)

    a = sub.add_parser("audit", help="the audit hash chain")
    inner = a.add_subparsers(metavar="ACTION")
    v = inner.add_parser("verify", help="recompute the chain; name the first broken link")
    v.add_argument("--store", help=STORE_HELP)
    v.add_argument("--json", action="store_true")
    v.set_defaults(run=cmd_verify_audit)
    r = inner.add_parser(
        "reseal",
        help="seal the chain head again over the last event, after reviewing the events (audited)",
    )
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument(
        "--accept-through",
        type=int,
        required=True,
        metavar="SEQ",
        help="the last event's seq, as `audit verify` prints it",
    )
    r.add_argument(
        "--accept-hash",
        required=True,
        metavar="HASH",
        help="the last event's hash, as `audit verify` prints it",
    )
    r.add_argument("--reason", required=True, help="why the chain as it stands is accepted")
    r.set_defaults(run=cmd_reseal_audit)
    a.set_defaults(run=lambda args: a.print_help() or 2)

    f = sub.add_parser("reviews", help="the analysts' review queue")
    inner = f.add_subparsers(metavar="ACTION")
    e = inner.add_parser("export", help="closed reviews as labelled feedback (JSON lines; audited)")
    e.add_argument("--out", required=True, help="file to write (refuses to overwrite)")
    e.add_argument("--store", help=STORE_HELP)
    e.set_defaults(run=cmd_export_reviews)
    f.set_defaults(run=lambda args: f.print_help() or 2)


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1) - 1)


def cmd_serve(args) -> None:
    from trustshield.service.app import create_app
    from trustshield.service.context import ServiceContext
    from trustshield.service.settings import ServiceSettings
    from trustshield.store import default_store_path

    if not _loopback(args.host):
        console.print(NOT_LOOPBACK.format(host=args.host))
    settings = ServiceSettings(
        store=str(args.store or default_store_path()),
        models_dir=Path(args.models_dir),
        keys_dir=Path(args.keys) if args.keys else None,
        reports_dir=Path(args.reports) if args.reports else None,
        host=args.host,
        port=args.port,
        pseudonymise=args.pseudonymise,
        retention_days=args.retention_days,
        scoring_workers=max(0, args.workers),
        **_limits(args),
    )
    context = ServiceContext(settings)
    try:
        if args.model:
            from trustshield.service.registry import install_and_activate

            model_id = install_and_activate(context, Path(args.model), actor=operator_name())
            console.print(f"active model {model_id} (signature and sha256 verified)")
        context.keep_retention()
        console.print(
            f"TrustShield service on http://{args.host}:{args.port}/ui "
            f"(API /v1, OpenAPI /openapi.json); store {context.store.path}"
        )
        serve_until_stopped(
            create_app(settings, context=context),
            args.host,
            args.port,
            trusted_proxies=args.trusted_proxy,
        )
    finally:
        context.close()  # scoring workers and the store


def _limits(args) -> dict:
    """The request-limit settings of ``serve``'s flags; ConfigError on a value ≤ 0."""
    from trustshield.errors import ConfigError

    given = {
        "--rate-limit": args.rate_limit,
        "--max-batch": args.max_batch,
        "--max-body-mb": args.max_body_mb,
        "--max-bundle-mb": args.max_bundle_mb,
    }
    for flag, value in given.items():
        if value is not None and not value > 0:
            raise ConfigError(f"{flag} must be a number > 0; got {value}")
    mib = 1024 * 1024
    return {
        "rate_per_s": args.rate_limit,
        "max_batch": args.max_batch,
        "max_records_body_bytes": int(args.max_body_mb * mib),
        "max_bundle_body_bytes": int(args.max_bundle_mb * mib),
    }


def serve_until_stopped(app, host: str, port: int, *, trusted_proxies=()) -> None:
    """Run uvicorn until SIGTERM or SIGINT, which stop it cleanly: uvicorn shuts down
    gracefully and then raises the signal again, which here reaches a handler that only
    notes it, so the caller still closes the scoring workers and the store and the command
    exits with status 0 (left to the default handlers, the re-raised signal would kill the
    process first and orphan the workers). ``X-Forwarded-For`` is honoured only from
    ``trusted_proxies``: uvicorn would trust it from loopback by default."""
    import uvicorn

    noted = []
    previous = {
        s: signal.signal(s, lambda sig, frame: noted.append(sig))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies) or None,
        )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dataclasses.dataclass(frozen=True)
class CreatedToken:
    """A token just created: its id, whose it is, its roles and the secret itself, shown
    this once (the store keeps only its argon2 hash)."""

    token_id: str
    name: str
    roles: list[str]
    token: str = dataclasses.field(repr=False)


def cmd_create_token(args) -> None:
    from trustshield.store import AlertStore
    from trustshield.store.tokens import TokenTable

    with AlertStore(args.store) as store:
        token, info = TokenTable(store).create(args.name, args.role)
    if args.json:  # the secret's one showing: this document, never a log line
        print_json(
            dataclasses.asdict(CreatedToken(info.token_id, info.name, sorted(info.roles), token))
        )
        return
    output.print(f"token {info.token_id} for {info.name!r}, roles {sorted(info.roles)}.")
    output.print("Shown once; keep it secret (send it as 'Authorization: Bearer <token>'):")
    print(token)


def cmd_revoke_token(args) -> None:
    from trustshield.store import AlertStore
    from trustshield.store.tokens import TokenTable

    with AlertStore(args.store) as store:
        TokenTable(store).revoke(args.token_id)
    output.print(f"token {args.token_id} revoked")


def cmd_list_tokens(args) -> None:
    from trustshield.store.tokens import TokenTable

    with existing_store(args.store) as store:
        rows = TokenTable(store).list()
    if args.json:
        print_json(rows)
        return
    table = Table("token", "name", "roles", "created", "by", "revoked", title="API tokens")
    for r in rows:
        table.add_row(
            r["token_id"],
            r["name"],
            ", ".join(r["roles"]),
            str(r["created_at"]),
            r["created_by"],
            str(r["revoked_at"] or ""),
        )
    output.print(table)


def cmd_verify_audit(args) -> int:
    with existing_store(args.store) as store:
        check = store.audit.check()
    if args.json:
        print_json(dataclasses.asdict(check))
    elif check.ok:
        output.print(
            f"audit chain intact: {check.events} events, head sealed under key "
            f"fingerprint {check.head_key_fingerprint}"
            + (f" ({check.warning})" if check.warning else ""),
            soft_wrap=True,
        )
    else:
        output.print(
            f"[bold red]audit chain broken[/bold red] at event {check.first_broken}: "
            f"{check.reason}",
            soft_wrap=True,
            highlight=False,
        )
        if check.last_seq is not None:
            output.print(
                f"last event: seq {check.last_seq}, hash {check.last_hash}",
                soft_wrap=True,
                highlight=False,
            )
        if check.remedy:
            output.print(f"to go on: {check.remedy}", markup=False, soft_wrap=True, highlight=False)
    return 0 if check.ok else 1


def cmd_reseal_audit(args) -> None:
    from trustshield.store import AlertStore
    from trustshield.store.audit import UNKEYED
    from trustshield.store.audit_reseal import reseal

    with AlertStore(args.store) as store:
        event = reseal(
            store,
            accept_through=args.accept_through,
            accept_hash=args.accept_hash,
            reason=args.reason,
            login=login_name(),
        )
    details = event["details"]
    output.print(
        f"audit chain re-sealed over events 1..{details['accepted_through']} under key "
        f"fingerprint {details['key_id']}; recorded as event {event['seq']} "
        f"(audit.reseal)",
        soft_wrap=True,
        highlight=False,
    )
    if details["key_id"] == "none":
        console.print(f"warning: {UNKEYED}")


def cmd_export_reviews(args) -> None:
    from trustshield.store.reviews import ReviewQueue

    target = Path(args.out)
    if target.exists():
        raise StoreError(f"{target} exists; choose another --out (exports never overwrite)")
    with existing_store(args.store) as store:
        with store.transaction():
            items = ReviewQueue(store).feedback()
            write_new(
                target,
                "".join(json.dumps(i, default=str, sort_keys=True) + "\n" for i in items).encode(
                    "utf-8"
                ),
            )
    output.print(f"{len(items)} reviewed alerts written to {target}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
