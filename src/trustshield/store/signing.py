"""EDGE: Ed25519 signing keys (the keyring) and signatures over model manifests.

The keyring is a folder, ``$TRUSTSHIELD_KEYS`` or ``./trustshield-keys/`` (mode 0700)::

    keyring.json          {"format": "trustshield-keyring/1",
                           "keys": [{"key_id", "created_at", "status", "private"}, ...]}
    <key_id>.pub.pem      public key (SubjectPublicKeyInfo PEM)
    <key_id>.key.pem      private key (PKCS8 PEM, mode 0600; encrypted with
                          $TRUSTSHIELD_KEY_PASSPHRASE when that is set)

``key_id`` is the first 16 hex digits of the sha256 of the 32-byte raw public key. Status:
``active`` signs and verifies (exactly one at a time, created by ``generate``/``rotate``);
``retired`` was active once and still verifies what it signed; ``trusted`` is a public key
imported from another keyring (verifies, never signs here); ``revoked`` verifies nothing and
its private key is deleted. A keyring folder or file that group or others may write is
refused: anyone who could write it could plant a key. Every write is a temp file + rename.

A signature (``signature.json`` beside ``manifest.json``) is::

    {"key_id", "algorithm": "ed25519", "signed_at", "signer",
     "signature": base64(Ed25519 over canonical JSON of the manifest, UTF-8)}

Only the manifest is signed (it holds every file's sha256 and the provenance); ``signed_at``
and ``signer`` are informational, the audit event of ``models sign`` is their record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trustshield.atomic_files import write_atomic
from trustshield.config import operator_name, refuse_if_writable_by_others
from trustshield.errors import ConfigError, ModelIntegrityError
from trustshield.plain_json import canonical

KEYS_ENV = "TRUSTSHIELD_KEYS"
PASSPHRASE_ENV = "TRUSTSHIELD_KEY_PASSPHRASE"
DEFAULT_KEYS = "trustshield-keys"
KEYRING_FILE = "keyring.json"
KEYRING_FORMAT = "trustshield-keyring/1"
ALGORITHM = "ed25519"
SIGNATURE_FILE = "signature.json"
VERIFYING = ("active", "retired", "trusted")

ACTIVE_EXISTS = (
    "{path} already has an active key {key_id}; to replace it use "
    "`trustshield keys rotate` (the old key is retired and still verifies)"
)
NO_ACTIVE = "{path} has no active signing key: create one with `trustshield keys generate`"
UNSAFE_KEYRING = (
    "{path} can be written by other users (mode {mode}); anyone could plant a "
    "key: run `chmod go-w {path}`"
)
NO_SUCH_KEY = "{path} has no key {key_id}; known keys: {known}"
WRONG_ALGORITHM = (
    "signature check failed: algorithm {got!r} is not supported (expected "
    "'ed25519'); re-sign with `trustshield models sign --model DIR`"
)
BAD_ENCODING = (
    "signature check failed: the signature is not 64 bytes of base64 ({why}); "
    "re-sign with `trustshield models sign --model DIR`"
)
UNKNOWN_KEY = (
    "signature check failed: signed by unknown key {key_id}: add its public key "
    "with `trustshield keys trust FILE`, or sign with an active key"
)
REVOKED_KEY = (
    "signature check failed: signed by revoked key {key_id}, which verifies "
    "nothing; re-sign the model with the active key (`trustshield models sign`)"
)
BAD_SIGNATURE = (
    "signature check failed: the manifest does not match its signature by key "
    "{key_id}; the manifest was altered after signing — retrain or re-sign it"
)


def keyring_dir() -> Path:
    return Path(os.environ.get(KEYS_ENV) or DEFAULT_KEYS)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Keyring:
    """The signing and verifying keys in one folder (see the module docstring)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else keyring_dir()

    def entries(self) -> list[dict]:
        """Every key as {key_id, created_at, status, private}, oldest first."""
        file = self.path / KEYRING_FILE
        if not file.is_file():
            return []
        refuse_if_writable_by_others(self.path, UNSAFE_KEYRING)
        refuse_if_writable_by_others(file, UNSAFE_KEYRING)
        try:
            raw = json.loads(file.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{file}: not valid JSON in UTF-8 ({exc})") from None
        if (
            not isinstance(raw, dict)
            or raw.get("format") != KEYRING_FORMAT
            or not isinstance(raw.get("keys"), list)
        ):
            raise ConfigError(f"{file}: expected {{'format': '{KEYRING_FORMAT}', 'keys': [...]}}")
        return raw["keys"]

    def entry(self, key_id: str) -> dict | None:
        return next((e for e in self.entries() if e["key_id"] == key_id), None)

    def active(self) -> dict | None:
        return next((e for e in self.entries() if e["status"] == "active"), None)

    def generate(self) -> dict:
        """Create the first active key; refused while an active key exists."""
        current = self.active()
        if current:
            raise ConfigError(ACTIVE_EXISTS.format(path=self.path, key_id=current["key_id"]))
        return self._add_new_key(retire=None)

    def rotate(self) -> tuple[dict, dict]:
        """(new active key, retired old key) in one keyring write."""
        current = self.active()
        if current is None:
            raise ConfigError(NO_ACTIVE.format(path=self.path))
        return self._add_new_key(retire=current["key_id"]), dict(current, status="retired")

    def revoke(self, key_id: str) -> dict:
        """Mark ``key_id`` revoked (it verifies nothing from now on) and delete its private key."""
        entries = self.entries()
        target = self._find(entries, key_id)
        target.update(status="revoked", private=False)
        self._write(entries)
        (self.path / f"{key_id}.key.pem").unlink(missing_ok=True)
        return target

    def trust(self, pem: bytes) -> dict:
        """Add a public key generated elsewhere as ``trusted``; a known key is left as it is."""
        try:
            key = ser.load_pem_public_key(pem)
        except ValueError as exc:
            raise ConfigError(f"expected a PEM public key, could not read it ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"expected an Ed25519 public key, got {type(key).__name__}")
        key_id, entries = key_id_of(key), self.entries()
        known = next((e for e in entries if e["key_id"] == key_id), None)
        if known:
            return known
        self._prepare_dir()
        write_atomic(self.path / f"{key_id}.pub.pem", _public_pem(key))
        entry = {"key_id": key_id, "created_at": _now(), "status": "trusted", "private": False}
        self._write([*entries, entry])
        return entry

    def public_pem(self, key_id: str | None = None) -> str:
        """The PEM of ``key_id`` (default: the active key)."""
        entry = self._find(self.entries(), key_id) if key_id else self.active()
        if entry is None:
            raise ConfigError(NO_ACTIVE.format(path=self.path))
        return _public_pem(self._public_key(entry["key_id"])).decode("ascii")

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """(key_id, private key) of the active key."""
        entry = self.active()
        if entry is None:
            raise ConfigError(NO_ACTIVE.format(path=self.path))
        path = self.path / f"{entry['key_id']}.key.pem"
        if path.stat().st_mode & 0o077:
            raise ConfigError(
                f"{path}: a private key must be readable by its owner only "
                f"(mode {oct(stat.S_IMODE(path.stat().st_mode))}): run `chmod 600 {path}`"
            )
        passphrase = os.environ.get(PASSPHRASE_ENV)
        try:
            key = ser.load_pem_private_key(
                path.read_bytes(), passphrase.encode() if passphrase else None
            )
        except (TypeError, ValueError):
            raise ConfigError(
                f"{path}: cannot open the private key: encrypted keys need the "
                f"passphrase in ${PASSPHRASE_ENV} (missing or wrong)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(
                f"{path}: expected an Ed25519 private key, found {type(key).__name__}"
            )
        return entry["key_id"], key

    def verifying_key(self, key_id: str) -> tuple[dict, Ed25519PublicKey]:
        """(entry, public key) of a key that may verify; ModelIntegrityError otherwise."""
        entry = self.entry(key_id)
        if entry is None:
            raise ModelIntegrityError(UNKNOWN_KEY.format(key_id=key_id))
        if entry["status"] not in VERIFYING:
            raise ModelIntegrityError(REVOKED_KEY.format(key_id=key_id))
        return entry, self._public_key(key_id)

    def _add_new_key(self, *, retire: str | None) -> dict:
        self._prepare_dir()
        key = Ed25519PrivateKey.generate()
        key_id, entries = key_id_of(key.public_key()), self.entries()
        passphrase = os.environ.get(PASSPHRASE_ENV)
        encryption = (
            ser.BestAvailableEncryption(passphrase.encode()) if passphrase else ser.NoEncryption()
        )
        files = [self.path / f"{key_id}.key.pem", self.path / f"{key_id}.pub.pem"]
        try:
            write_atomic(
                files[0],
                key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, encryption),
                mode=0o600,
            )
            write_atomic(files[1], _public_pem(key.public_key()))
            for e in entries:
                if e["key_id"] == retire:
                    e["status"] = "retired"
            entry = {"key_id": key_id, "created_at": _now(), "status": "active", "private": True}
            self._write([*entries, entry])
        except BaseException:
            for file in files:
                file.unlink(missing_ok=True)
            raise
        return entry

    def _public_key(self, key_id: str) -> Ed25519PublicKey:
        path = self.path / f"{key_id}.pub.pem"
        try:
            key = ser.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the public key of {key_id} ({exc})") from None
        if not isinstance(key, Ed25519PublicKey) or key_id_of(key) != key_id:
            raise ConfigError(
                f"{path}: expected the Ed25519 public key {key_id}; the file "
                "holds another key (was it replaced?)"
            )
        return key

    def _find(self, entries: list[dict], key_id: str) -> dict:
        found = next((e for e in entries if e["key_id"] == key_id), None)
        if found is None:
            known = [e["key_id"] for e in entries] or "none"
            raise ConfigError(NO_SUCH_KEY.format(path=self.path, key_id=key_id, known=known))
        return found

    def _prepare_dir(self) -> None:
        if not self.path.is_dir():
            self.path.mkdir(parents=True, mode=0o700)
        refuse_if_writable_by_others(self.path, UNSAFE_KEYRING)

    def _write(self, entries: list[dict]) -> None:
        body = json.dumps({"format": KEYRING_FORMAT, "keys": entries}, indent=2, sort_keys=True)
        write_atomic(self.path / KEYRING_FILE, body.encode("utf-8"))


def sign_manifest(manifest: dict, keyring: Keyring, *, signer: str | None = None) -> dict:
    """The signature record of ``manifest`` by the keyring's active key."""
    key_id, key = keyring.signing_key()
    signature = key.sign(canonical(manifest).encode("utf-8"))
    return {
        "key_id": key_id,
        "algorithm": ALGORITHM,
        "signed_at": _now(),
        "signer": signer or operator_name(),
        "signature": base64.b64encode(signature).decode(),
    }


def check_signature(manifest: dict, signature: dict, keyring: Keyring) -> dict:
    """The keyring entry of the key that signed ``manifest``; ModelIntegrityError when the
    algorithm, encoding, key or signature is not acceptable."""
    if signature["algorithm"] != ALGORITHM:
        raise ModelIntegrityError(WRONG_ALGORITHM.format(got=signature["algorithm"]))
    try:
        raw = base64.b64decode(signature["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ModelIntegrityError(BAD_ENCODING.format(why=exc)) from None
    if len(raw) != 64:
        raise ModelIntegrityError(BAD_ENCODING.format(why=f"{len(raw)} bytes"))
    entry, public = keyring.verifying_key(signature["key_id"])
    try:
        public.verify(raw, canonical(manifest).encode("utf-8"))
    except InvalidSignature:
        raise ModelIntegrityError(BAD_SIGNATURE.format(key_id=signature["key_id"])) from None
    return entry


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
