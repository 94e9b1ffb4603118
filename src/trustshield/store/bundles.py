"""EDGE: signed model folders and upload bundles, checked before any model is used.

An upload bundle (the JSON body ``POST /v1/models`` receives, and ``trustshield models
bundle`` writes) is a signed model folder as one object::

    {"format": "trustshield-bundle/1", "manifest": {...}, "signature": {...},
     "files": {"model.json": text, "spec.yaml": text}}

:func:`verify_bundle` and :func:`verify_model_folder` run four checks, in this order, and
refuse with a :class:`~trustshield.errors.ModelIntegrityError` naming the failed check:

1. shape — the fields above with the right types, a ``trustshield-model/1`` manifest whose
   ``model_id`` is 16 hex digits, a signature record;
2. files — only ``model.json``, ``spec.yaml`` and ``drift_reference.json`` (a text model
   folder, manifest key ``text``: ``model.json`` alone; nothing pickle-like: no ``.pkl``,
   ``.pickle``, ``.joblib`` name and no leading ``0x80`` pickle protocol byte);
3. signature — Ed25519 over the canonical manifest by an active, retired or trusted key;
4. sha256 — every file against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trustshield.atomic_files import write_atomic
from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import (
    FILES,
    REQUIRED,
    ModelFiles,
    listed_files,
    looks_like_pickle,
    replace_folder,
    required_files,
    load_served_model,
)
from trustshield.store.signing import SIGNATURE_FILE, Keyring, check_signature, sign_manifest

BUNDLE_FORMAT = "trustshield-bundle/1"
MODEL_FORMAT = "trustshield-model/1"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FIELDS = ("key_id", "algorithm", "signed_at", "signer", "signature")
MODEL_ID = re.compile(r"[0-9a-f]{16}")

SHAPE = (
    "shape check failed: {what}; sign the folder with `trustshield models sign` and "
    "build bundles with `trustshield models bundle`"
)
UNSIGNED = (
    "shape check failed: {folder} is not signed (no signature.json); sign it with "
    "`trustshield models sign --model {folder}`"
)
NOT_ALLOWED = (
    "file check failed: {name!r} is not an allowed model file (only model.json and "
    "spec.yaml); remove it and re-sign"
)
PICKLE = (
    "file check failed: {name!r} looks like a pickle; TrustShield never loads pickles — "
    "retrain with `trustshield train`, which writes plain JSON"
)
ALTERED = (
    "sha256 check failed: {name} has sha256 {actual}, the signed manifest says "
    "{expected}; the file was altered after signing — use the original or retrain"
)


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check: manifest, signature, file bytes, signing key entry."""

    manifest: dict
    signature: dict
    files: dict[str, bytes]
    key: dict

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]


def verify_bundle(bundle: dict, keyring: Keyring) -> VerifiedBundle:
    """Run the four checks on an upload bundle (the module docstring lists them)."""
    if not isinstance(bundle, dict):
        raise ModelIntegrityError(
            SHAPE.format(what=f"expected a JSON object, got {type(bundle).__name__}")
        )
    if bundle.get("format") != BUNDLE_FORMAT:
        raise ModelIntegrityError(
            SHAPE.format(what=f"'format' must be {BUNDLE_FORMAT!r}, got {bundle.get('format')!r}")
        )
    for key in ("manifest", "signature", "files"):
        if not isinstance(bundle.get(key), dict):
            raise ModelIntegrityError(
                SHAPE.format(
                    what=f"{key!r} must be an object, got {type(bundle.get(key)).__name__}"
                )
            )
    blobs = {}
    for name, text in bundle["files"].items():
        if not isinstance(text, str):
            raise ModelIntegrityError(
                SHAPE.format(what=f"files[{name!r}] must be text, got {type(text).__name__}")
            )
        try:
            blobs[name] = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ModelIntegrityError(
                SHAPE.format(what=f"files[{name!r}] is not valid UTF-8 text")
            ) from None
    return _verify(bundle["manifest"], bundle["signature"], blobs, keyring)


def verify_model_folder(folder: str | Path, keyring: Keyring) -> dict:
    """Run the four checks on a model folder; return its verified manifest."""
    return read_verified_folder(folder, keyring).manifest


def read_verified_folder(folder: str | Path, keyring: Keyring) -> ModelFiles:
    """Read a model folder once and run the four checks on exactly those bytes; the verified
    bytes, to build the model from (a file changed on disk afterwards is never loaded)."""
    folder = Path(folder)
    if not (folder / SIGNATURE_FILE).is_file():
        raise ModelIntegrityError(UNSIGNED.format(folder=folder))
    raw = _read_bytes(folder / MANIFEST_FILE)
    verified = _verify(
        _parse_json(raw, folder / MANIFEST_FILE),
        _read_json(folder / SIGNATURE_FILE),
        _folder_blobs(folder),
        keyring,
    )
    return ModelFiles(str(folder), {MANIFEST_FILE: raw, **verified.files})


def sign_model_folder(
    folder: str | Path, keyring: Keyring, *, signer: str | None = None
) -> tuple[dict, dict]:
    """Check the folder (plain files only, sha256 as in the manifest, model loads), then write
    ``signature.json`` by the active key; return (manifest, signature record)."""
    folder = Path(folder)
    _check_kinds(_folder_blobs(folder))
    manifest = load_served_model(folder).manifest
    if manifest is None:
        raise ModelIntegrityError(f"{folder}: the model loaded without its {MANIFEST_FILE}")
    signature = sign_manifest(manifest, keyring, signer=signer)
    write_atomic(folder / SIGNATURE_FILE, json.dumps(signature, indent=2, sort_keys=True).encode())
    return manifest, signature


def bundle_from_folder(folder: str | Path, keyring: Keyring | None = None) -> dict:
    """The upload bundle of a signed folder; verified against ``keyring`` first when one is
    given (the sender's check: the receiver runs :func:`verify_bundle` in any case)."""
    folder = Path(folder)
    if keyring is not None:
        verify_model_folder(folder, keyring)
    elif not (folder / SIGNATURE_FILE).is_file():
        raise ModelIntegrityError(UNSIGNED.format(folder=folder))
    files = {}
    for name in listed_files(_read_json(folder / MANIFEST_FILE)):
        try:
            files[name] = (folder / name).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelIntegrityError(
                SHAPE.format(what=f"{folder / name} is not readable UTF-8 text ({exc})")
            ) from None
    return {
        "format": BUNDLE_FORMAT,
        "manifest": _read_json(folder / MANIFEST_FILE),
        "signature": _read_json(folder / SIGNATURE_FILE),
        "files": files,
    }


def write_bundle(bundle: dict, out: str | Path) -> Path:
    """Write the bundle as JSON atomically (temp file + rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(bundle, indent=2, sort_keys=True).encode("utf-8"))
    return out


def install_bundle(verified: VerifiedBundle, models_dir: str | Path) -> Path:
    """Write the verified model as ``models_dir/<model_id>/`` atomically; return the folder."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=models_dir))
    staging.chmod(0o755)
    for name, data in verified.files.items():
        (staging / name).write_bytes(data)
    (staging / MANIFEST_FILE).write_text(json.dumps(verified.manifest, indent=2, sort_keys=True))
    (staging / SIGNATURE_FILE).write_text(json.dumps(verified.signature, indent=2, sort_keys=True))
    target = models_dir / verified.model_id
    replace_folder(staging, target)
    return target


def _verify(manifest, signature, blobs: dict[str, bytes], keyring: Keyring) -> VerifiedBundle:
    _check_shape(manifest, signature, blobs)
    _check_kinds({**dict.fromkeys(manifest["files"], b""), **blobs})  # listed or present
    key = check_signature(manifest, signature, keyring)
    for name in listed_files(manifest):
        actual, expected = hashlib.sha256(blobs[name]).hexdigest(), manifest["files"][name]
        if actual != expected:
            raise ModelIntegrityError(ALTERED.format(name=name, actual=actual, expected=expected))
    return VerifiedBundle(
        manifest=manifest,
        signature=signature,
        files={name: blobs[name] for name in listed_files(manifest)},
        key=key,
    )


def _check_shape(manifest, signature, blobs: dict[str, bytes]) -> None:
    def refuse(what: str):
        raise ModelIntegrityError(SHAPE.format(what=what))

    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        refuse(f"the manifest must be an object with format {MODEL_FORMAT!r}")
    if not isinstance(manifest.get("model_id"), str) or not MODEL_ID.fullmatch(
        manifest["model_id"]
    ):
        refuse(f"manifest 'model_id' must be 16 hex digits, got {manifest.get('model_id')!r}")
    files = manifest.get("files")
    required = required_files(manifest)
    if (
        not isinstance(files, dict)
        or not all(isinstance(files.get(n), str) for n in required)
        or not all(isinstance(v, str) for v in files.values())
    ):
        refuse(
            f"manifest 'files' must map {list(required)} (and optionally "
            f"{[n for n in FILES if n not in REQUIRED]}) to sha256 hex, got {files!r}"
        )
    if not isinstance(signature, dict):
        refuse(f"the signature must be an object, got {type(signature).__name__}")
    for field in SIGNATURE_FIELDS:
        if not isinstance(signature.get(field), str):
            refuse(f"signature field {field!r} must be text, got {signature.get(field)!r}")
    for name in listed_files(manifest):
        if name not in blobs:
            refuse(f"model file {name} is missing")


def _check_kinds(blobs: dict[str, bytes]) -> None:
    for name, data in blobs.items():
        if looks_like_pickle(name, data):
            raise ModelIntegrityError(PICKLE.format(name=name))
        if name not in FILES:
            raise ModelIntegrityError(NOT_ALLOWED.format(name=name))


def _folder_blobs(folder: Path) -> dict[str, bytes]:
    """Every entry of the folder but the manifest and signature; a subfolder counts as a
    file (and is refused by the file check)."""
    if not folder.is_dir():
        raise ModelIntegrityError(SHAPE.format(what=f"{folder} is not a model folder"))
    return {
        p.name: (p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.iterdir())
        if p.name not in (MANIFEST_FILE, SIGNATURE_FILE)
    }


def _read_json(path: Path) -> dict:
    return _parse_json(_read_bytes(path), path)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ModelIntegrityError(SHAPE.format(what=f"{path.name} is missing from {path.parent}"))
    return path.read_bytes()


def _parse_json(raw: bytes, path: Path) -> dict:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(
            SHAPE.format(what=f"{path} is not JSON in UTF-8 ({exc})")
        ) from None
