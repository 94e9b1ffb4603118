"""EDGE: enrolled biometric templates, encrypted at rest, one file per user.

An enrolment template (a verifier's ``to_dict()`` state, thresholds, feature names) is
biometric data. Each user's template is one file ``USER.template`` in a private folder
(mode 0700, files 0600), a JSON envelope::

    {"format": "trustshield-template/1", "user": ..., "kind": ..., "created_at": ...,
     "algorithm": "AES-256-GCM", "nonce": base64, "ciphertext": base64}

The ciphertext is AES-256-GCM under the key in ``$TRUSTSHIELD_TEMPLATE_KEY`` (32 random
bytes, URL-safe base64), with the format, user and kind as associated data: a file that is
altered, copied over another user's, relabelled as another kind or encrypted under another
key fails to load (:class:`~trustshield.errors.ModelIntegrityError`). One file per user,
rather than rows in the DuckDB store, because a deleted DuckDB row may survive in the
database file's free blocks; :meth:`TemplateStore.delete` overwrites the user's file with
zeros before unlinking it (on copy-on-write file systems and SSDs the old blocks may
outlive that; encrypted disks cover that case). Deleting and listing need no key.

Every change (``template.enrol``, ``template.delete``) is written to the store's audit
chain in the transaction that makes it; details hold counts, thresholds and hashes of the
encrypted file, never samples or templates.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trustshield.atomic_files import temp_beside
from trustshield.errors import ConfigError, ModelIntegrityError, StoreError

KEY_ENV = "TRUSTSHIELD_TEMPLATE_KEY"
FOLDER_ENV = "TRUSTSHIELD_TEMPLATES"
DEFAULT_FOLDER = "templates"
FORMAT = "trustshield-template/1"
SUFFIX = ".template"
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")

KEY_HINT = (
    'generate one with: python -c "import base64, os; '
    'print(base64.urlsafe_b64encode(os.urandom(32)).decode())" and keep it in your '
    "secret store"
)
KEY_MISSING = (
    f"{KEY_ENV} is not set; enrolment templates are biometric data and are "
    f"stored encrypted with that key: {KEY_HINT}"
)
KEY_MALFORMED = (
    f"{KEY_ENV} must be 32 random bytes in URL-safe base64 (44 characters), "
    "got {got}; " + KEY_HINT
)
BAD_USER = (
    "user id {user!r} is not usable: expected 1-128 letters, digits, '.', '_', '@' "
    "or '-', starting with a letter or digit"
)
NOT_ENROLLED = "no enrolled template for user {user!r} in {folder}"
TAMPERED = (
    "template of user {user!r} in {path} failed authentication: it was altered, "
    "belongs to another user or kind, or was encrypted under another key"
)


def new_template_key() -> str:
    """A fresh key for ``$TRUSTSHIELD_TEMPLATE_KEY``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def template_key(value: str | bytes | None = None) -> bytes:
    """The 32-byte key from ``value`` or, when None, from ``$TRUSTSHIELD_TEMPLATE_KEY``."""
    if value is None:
        value = os.environ.get(KEY_ENV, "").strip()
        if not value:
            raise ConfigError(KEY_MISSING)
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            KEY_MALFORMED.format(got=f"{len(text)} characters that do not decode to 32 bytes")
        )
    return key


def check_user(user: str) -> str:
    """``user`` when it is a usable id (it names the template file); StoreError if not."""
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        raise StoreError(BAD_USER.format(user=user))
    return user


def default_template_folder() -> Path:
    return Path(os.environ.get(FOLDER_ENV) or DEFAULT_FOLDER)


class TemplateStore:
    """Encrypted per-user templates in the folder ``path``; ``key`` (URL-safe base64)
    defaults to ``$TRUSTSHIELD_TEMPLATE_KEY``; ``audit`` is an open
    :class:`~trustshield.store.AlertStore`, or the path of its file (default: the default
    store), whose audit chain records every change."""

    def __init__(
        self, path: str | Path | None = None, key: str | bytes | None = None, *, audit=None
    ):
        self.path = Path(path) if path is not None else default_template_folder()
        self._key_text = key
        self._audit = audit

    def users(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(
            p.name[: -len(SUFFIX)]
            for p in self.path.glob(f"*{SUFFIX}")
            if USER_ID.fullmatch(p.name[: -len(SUFFIX)])
        )

    def enrol(self, user: str, kind: str, state: dict, *, details: dict | None = None) -> None:
        """Encrypt and store ``state`` for ``user`` (replacing an earlier enrolment);
        ``details`` (counts, thresholds; never samples) go into the audit event."""
        target = self._file(user)
        envelope = self._seal(user, kind, state)
        self._private_folder()
        with temp_beside(target, suffix=".partial") as temp:
            temp.write_text(envelope, encoding="utf-8")
            with self._audit_store() as store, store.transaction():
                store.record_event(
                    "template.enrol",
                    user,
                    {
                        **(details or {}),
                        "kind": kind,
                        "replaced": target.exists(),
                        "file_sha256": hashlib.sha256(envelope.encode("utf-8")).hexdigest(),
                    },
                )
                os.replace(temp, target)

    def load(self, user: str) -> tuple[str, dict]:
        """``(kind, state)`` of ``user``'s template; StoreError when none is enrolled,
        ModelIntegrityError when the file does not authenticate."""
        path = self._file(user)
        if not path.is_file():
            raise StoreError(NOT_ENROLLED.format(user=user, folder=self.path))
        try:
            envelope = json.loads(path.read_text(encoding="utf-8"))
            kind = str(envelope["kind"])
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ModelIntegrityError(TAMPERED.format(user=user, path=path)) from None
        key = AESGCM(template_key(self._key_text))
        try:
            plain = key.decrypt(nonce, ciphertext, _associated(user, kind))
        except (InvalidTag, ValueError):
            raise ModelIntegrityError(TAMPERED.format(user=user, path=path)) from None
        return kind, json.loads(plain.decode("utf-8"))

    def delete(self, user: str) -> None:
        """Remove every trace of ``user``'s template (file and leftover partial writes),
        audited as ``template.delete``; StoreError when none is enrolled."""
        path = self._file(user)
        if not path.is_file():
            raise StoreError(NOT_ENROLLED.format(user=user, folder=self.path))
        leftovers = sorted(self.path.glob(f".{user}.*.partial"))
        with self._audit_store() as store, store.transaction():
            store.record_event(
                "template.delete",
                user,
                {
                    "files_removed": 1 + len(leftovers),
                    "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                },
            )
            for file in (path, *leftovers):
                _shred(file)

    def _seal(self, user: str, kind: str, state: dict) -> str:
        key = AESGCM(template_key(self._key_text))
        nonce = secrets.token_bytes(12)
        plain = json.dumps(state, sort_keys=True, allow_nan=False).encode("utf-8")
        ciphertext = key.encrypt(nonce, plain, _associated(user, kind))
        return json.dumps(
            {
                "format": FORMAT,
                "user": user,
                "kind": kind,
                "algorithm": "AES-256-GCM",
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "nonce": base64.b64encode(nonce).decode("ascii"),
                "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
            },
            sort_keys=True,
        )

    def _file(self, user: str) -> Path:
        return self.path / f"{check_user(user)}{SUFFIX}"

    def _private_folder(self) -> None:
        if not self.path.is_dir():
            self.path.mkdir(parents=True, mode=0o700)
            os.chmod(self.path, 0o700)

    @contextlib.contextmanager
    def _audit_store(self):
        from trustshield.store.alerts import AlertStore

        if isinstance(self._audit, AlertStore):
            yield self._audit
            return
        with AlertStore(self._audit) as store:
            yield store


def _associated(user: str, kind: str) -> bytes:
    return json.dumps(
        {"format": FORMAT, "kind": kind, "user": user}, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def _shred(path: Path) -> None:
    """Overwrite the file's bytes with zeros, flush them to disk, then unlink it."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
