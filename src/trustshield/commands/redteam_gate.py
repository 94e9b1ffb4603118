"""The gate of every red-team command: a red-team token, a declared purpose, a registered
model; every refusal audited.

:func:`authorise` passes before any work when ``$TRUSTSHIELD_TOKEN`` holds an API token of
the store's token table (:mod:`trustshield.store.tokens`: argon2-checked, not revoked) that
holds the ``red-team`` role (``admin`` does not imply it) and whose creation is in the
audit chain (a token row written into the store without ``tokens create`` is refused); the
operator declared a non-blank purpose; and the model is in the local registry of the store
with the same files (for ``export``: the stored run's model). That is what the service's
red-team endpoints require too. A roles file or ``$TRUSTSHIELD_OPERATOR`` is no
credential: anyone can write one. The token is read from the environment only, so its
secret never shows in the process list or in the audit log.

A refusal appends ``redteam.refused`` (the reason, the purpose, the claimed operator, the
login, the token id when a well-formed token was given, the arguments) and is raised.
Once through, ``store.actor`` is the token's actor (``token:<id>(<name>)``), so the run,
its export and their audit events name the token.
"""

from __future__ import annotations

from dataclasses import dataclass

from trustshield.config import TOKEN_ENV, login_name, operator_name, presented_token
from trustshield.errors import PermissionDenied, TrustShieldError

ROLE = "red-team"
NO_PURPOSE = (
    "a red-team run needs a declared purpose: pass --purpose TEXT saying why it "
    "is run (for example --purpose 'quarterly robustness review'); got {got}"
)
UNREGISTERED = (
    "model {model_id} ({folder}) is not in the local registry of {store}; "
    "register it first: trustshield models register --model {folder} --store {store}"
)
FILES_DIFFER = (
    "model folder {folder} claims id {model_id}, but its files differ from the "
    "registered model of that id in {store}; red-team runs target registered models only"
)
NO_TOKEN = (
    f"red-team commands need a red-team API token in ${TOKEN_ENV} (tsk_...); an "
    "administrator creates one with `trustshield tokens create --name NAME --role "
    "red-team --store {store}`. Roles in a configuration file and $TRUSTSHIELD_OPERATOR "
    "are not a credential"
)
NOT_RED_TEAM = (
    "token {token_id} ({name}) holds {roles}, not the 'red-team' role (admin does "
    "not imply it); an administrator creates a red-team token with `trustshield "
    "tokens create --role red-team`"
)
UNRECORDED = (
    "token {token_id} ({name}) has no token.create event in the audit chain of "
    "{store}: only tokens made by `trustshield tokens create` are honoured"
)


@dataclass(frozen=True)
class Authorised:
    """What the gate established: who (the red-team token's actor), why, and against which
    registered model."""

    operator: str
    purpose: str
    model_id: str
    model: object | None  # TrainedModel for attacks; None for export
    run: dict | None  # the stored run, for export


def authorise(store, args, *, action: str) -> Authorised:
    """The one gate of every red-team command, passed before any work: a red-team token,
    then a non-blank purpose, then a registered model (for export: the stored run's model).
    From then on ``store.actor`` is the token's actor. Any refusal is audited as
    ``redteam.refused`` and raised."""
    from trustshield.model_folder import load_model

    token = presented_token()
    try:
        holder = red_team_token(store, token)
        purpose = declared_purpose(args)
        if action == "export":
            run = store.redteam.run(args.run_id)
            _registered(store, run["model_id"], None, folder=f"run {args.run_id}")
            model, model_id = None, run["model_id"]
        else:
            run, model = None, load_model(args.model)
            _registered(store, model.model_id, model.manifest, folder=args.model)
            model_id = model.model_id
    except TrustShieldError as refusal:
        _refused(store, args, action, refusal, token)
        raise
    store.actor = holder.actor
    return Authorised(holder.actor, purpose, model_id, model, run)


def declared_purpose(args) -> str:
    """``args.purpose`` stripped; PermissionDenied (naming what was given) when blank."""
    purpose = (args.purpose or "").strip()
    if not purpose:
        raise PermissionDenied(
            NO_PURPOSE.format(got="nothing" if args.purpose is None else f"{args.purpose!r}")
        )
    return purpose


def authorise_token(store, args, *, action: str, model_id: str) -> Authorised:
    """The gate for red-team work on a model kept as one checked file rather than a model
    folder (a payload model): a red-team token and a declared purpose, as
    :func:`authorise`; the model is named by ``model_id`` (its file's sha256). Refusals are
    audited as ``redteam.refused``; once through, ``store.actor`` is the token's actor."""
    token = presented_token()
    try:
        holder = red_team_token(store, token)
        purpose = declared_purpose(args)
    except TrustShieldError as refusal:
        _refused(store, args, action, refusal, token)
        raise
    store.actor = holder.actor
    return Authorised(holder.actor, purpose, model_id, None, None)


def red_team_token(store, token: str | None):
    """The :class:`~trustshield.store.tokens.TokenInfo` of ``token`` when it is a red-team
    token of ``store``: its secret matches the stored argon2 hash, it is not revoked, it
    holds ``red-team`` and its creation is in the audit chain; PermissionDenied otherwise."""
    from trustshield.store.tokens import TokenTable

    if token is None:
        raise PermissionDenied(NO_TOKEN.format(store=store.path))
    tokens = TokenTable(store)
    try:
        holder = tokens.info(tokens.check_secret(token))
    except PermissionDenied as refusal:
        raise PermissionDenied(f"${TOKEN_ENV}: {refusal}") from None
    if ROLE not in holder.roles:
        raise PermissionDenied(
            NOT_RED_TEAM.format(
                token_id=holder.token_id, name=holder.name, roles=sorted(holder.roles)
            )
        )
    if not store.audit.events("token.create", subject=holder.token_id, limit=1):
        raise PermissionDenied(
            UNRECORDED.format(token_id=holder.token_id, name=holder.name, store=store.path)
        )
    return holder


def _refused(store, args, action: str, refusal: Exception, token: str | None) -> None:
    """Audit a refusal (``redteam.refused``): the reason, the claimed operator and the
    login, the token id if a well-formed token was given (never its secret)."""
    from trustshield.store.tokens import TOKEN_PATTERN

    match = TOKEN_PATTERN.match(token or "")
    store.record_event(
        "redteam.refused",
        getattr(args, "run_id", None) or str(args.model),
        {
            "command": f"redteam {action}",
            "reason": str(refusal),
            "purpose": args.purpose,
            "login": login_name(),
            "operator": operator_name(),
            "token_id": match.group(1) if match else None,
            "arguments": arguments(args),
        },
    )


def _registered(store, model_id: str, manifest: dict | None, *, folder: str) -> None:
    registered = store.model(model_id)
    if registered is None:
        raise PermissionDenied(
            UNREGISTERED.format(model_id=model_id, folder=folder, store=store.path)
        )
    if manifest is not None and registered["manifest"].get("files") != manifest.get("files"):
        raise PermissionDenied(
            FILES_DIFFER.format(folder=folder, model_id=model_id, store=store.path)
        )


def arguments(args) -> dict:
    """The command's arguments as given (what a refusal or run records)."""
    return {k: v for k, v in vars(args).items() if k != "run" and not callable(v)}
