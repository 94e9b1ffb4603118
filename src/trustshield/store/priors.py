"""EDGE: verifier priors stored signed next to the enrolment templates.

A prior (what a verifier kind learns from a background population, e.g. a
:class:`~trustshield.detectors.keystroke.KeystrokePrior`) decides how every user of that
kind is enrolled, so whoever could swap it could weaken every verifier at once. It is kept
as one file ``KIND.prior.json`` in the templates folder (or any path), written in one
atomic rename::

    {"format": "trustshield-signed-prior/1", "kind": ..., "prior": {...},
     "signature": {"key_id", "algorithm": "ed25519", "signed_at", "signer", "signature"}}

The signature is Ed25519 over the canonical JSON of ``{"kind", "prior"}`` by the active key
of the keyring (:mod:`trustshield.store.signing`); loading checks it against the keyring and
refuses (:class:`~trustshield.errors.ModelIntegrityError`) a file that is altered, signed by
an unknown or revoked key, or holds another kind's prior. A prior holds aggregate
statistics and weights, never a sample, so it is signed, not encrypted. Writing is audited
(``prior.learn``) in the store's chain, in the transaction that renames the file into place.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from trustshield.errors import ModelIntegrityError, StoreError
from trustshield.atomic_files import write_atomic
from trustshield.store.signing import Keyring, check_signature, sign_manifest

FORMAT = "trustshield-signed-prior/1"
SUFFIX = ".prior.json"
NO_PRIOR = (
    "no {kind} prior at {path}: learn one from a background population with "
    "`trustshield auth prior --data TABLE --subject COLUMN` (it is stored signed in the "
    "templates folder), or give its file with --prior"
)
NOT_A_PRIOR = (
    "{path} is not a signed {kind} prior ({why}); learn it again with `trustshield auth prior`"
)


def prior_path(folder: str | Path, kind: str) -> Path:
    """Where the prior of ``kind`` lives in a templates folder."""
    return Path(folder) / f"{kind}{SUFFIX}"


def save_prior(
    path: str | Path,
    kind: str,
    prior: dict,
    keyring: Keyring,
    *,
    audit,
    details: dict | None = None,
) -> dict:
    """Sign ``prior`` (plain JSON) with the keyring's active key and write it to ``path``
    atomically, audited as ``prior.learn`` (``audit``: an open AlertStore) with ``details``.
    Returns the signature record."""
    path = Path(path)
    signature = sign_manifest({"kind": kind, "prior": prior}, keyring)
    body = json.dumps(
        {"format": FORMAT, "kind": kind, "prior": prior, "signature": signature},
        sort_keys=True,
        indent=1,
        allow_nan=False,
    ).encode("utf-8")
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o700)
    with audit.transaction():
        audit.record_event(
            "prior.learn",
            kind,
            {
                **(details or {}),
                "file": str(path),
                "key_id": signature["key_id"],
                "file_sha256": hashlib.sha256(body).hexdigest(),
            },
        )
        write_atomic(path, body)
    return signature


def load_prior(path: str | Path, kind: str, keyring: Keyring) -> tuple[dict, dict]:
    """(prior, provenance) of the signed prior at ``path``: provenance names the file, its
    sha256 and the signing key. StoreError when there is none; ModelIntegrityError when it
    does not verify or is another kind's."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(NO_PRIOR.format(kind=kind, path=path))
    raw = path.read_bytes()
    try:
        envelope = json.loads(raw.decode("utf-8"))
        prior, signature = envelope["prior"], envelope["signature"]
        if envelope.get("format") != FORMAT or not isinstance(prior, dict):
            raise ValueError(f"expected format {FORMAT!r} holding a prior object")
        if envelope.get("kind") != kind:
            raise ValueError(f"it holds a prior of kind {envelope.get('kind')!r}")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(NOT_A_PRIOR.format(path=path, kind=kind, why=exc)) from None
    try:
        entry = check_signature({"kind": kind, "prior": prior}, signature, keyring)
    except (KeyError, TypeError) as exc:
        raise ModelIntegrityError(
            NOT_A_PRIOR.format(path=path, kind=kind, why=f"malformed signature: {exc}")
        ) from None
    except ModelIntegrityError as exc:
        raise ModelIntegrityError(NOT_A_PRIOR.format(path=path, kind=kind, why=exc)) from None
    return prior, {
        "file": str(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "key_id": entry["key_id"],
    }
