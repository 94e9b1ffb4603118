"""The service's signed model registry: install an uploaded bundle, verify before loading.

Only a bundle whose Ed25519 signature comes from a trusted key (the keyring at
``keys_dir``) and whose files match the signed manifest is installed; an installed model
is verified again every time it is activated or the service starts, so a file changed on
disk after installation is refused too. Verification reads the folder once and the model
is built from those very bytes; the scoring workers get the same bytes, so a folder changed
after activation is never scored.

Text models (payload, domain: :class:`~trustshield.decide.text_model.TextModel`) are signed,
uploaded, verified and activated the same way; they are registered with one feature, the
text field, of type ``text`` (so their alerts show the text coloured). A refused upload
or activation (bad signature, altered file, unknown key, not a model) is audited as
``model.refused`` with the check that failed, then the error reaches the caller.
"""

from __future__ import annotations

from pathlib import Path

from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import ModelFiles, TextModel, registered_features


def _keyring(keys_dir):
    from trustshield.store.signing import Keyring

    return Keyring(keys_dir)


def verify_installed(folder: Path, keys_dir) -> ModelFiles:
    """The verified bytes of an installed model folder, read once; ModelIntegrityError
    otherwise."""
    from trustshield.store.bundles import read_verified_folder

    if not Path(folder).is_dir():
        raise ModelIntegrityError(
            f"model {Path(folder).name} is not installed in "
            f"{Path(folder).parent}; upload its signed bundle first"
        )
    return read_verified_folder(folder, _keyring(keys_dir))


def install(bundle: dict, models_dir: Path, keys_dir) -> ModelFiles:
    """Verify an uploaded bundle, write it under ``models_dir`` and verify what was written;
    its verified bytes."""
    from trustshield.store.bundles import install_bundle, verify_bundle

    verified = verify_bundle(bundle, _keyring(keys_dir))
    folder = install_bundle(verified, Path(models_dir))
    return verify_installed(folder, keys_dir)


def upload(context, bundle: dict, *, actor: str) -> dict:
    """Install a verified bundle, add it to the registry and audit ``model.upload``; its
    manifest."""
    from trustshield.model_folder import served_model_from_files

    with context.lock:
        try:
            files = install(bundle, context.settings.models_dir, context.settings.keys_dir)
            manifest, model = files.manifest, served_model_from_files(files)
        except ModelIntegrityError as exc:
            _refused(context, actor, "upload", _claimed_id(bundle), exc)
            raise
        with context.write(actor) as store:
            store.record_model(manifest, registered_features(model))
            store.record_event(
                "model.upload",
                manifest["model_id"],
                {
                    "files": manifest.get("files", {}),
                    "signed_by": bundle.get("signature", {}).get("key_id"),
                    "creator": manifest.get("creator"),
                },
            )
    return manifest


def activate(context, model_id: str, *, actor: str) -> None:
    """Verify the installed model again, make it the one the service scores with and audit
    ``model.activate``."""
    with context.lock:
        try:
            model, files = context.load_installed(model_id)  # signature and sha256 again
        except ModelIntegrityError as exc:
            _refused(context, actor, "activate", model_id, exc)
            raise
        with context.write(actor) as store:
            context.options.set("active_model", model_id)
            details = {"spec": model.spec_name}
            if isinstance(model, TextModel):
                details["text"] = model.kind
            store.record_event("model.activate", model_id, details)
        context.activate(model, files)


def _claimed_id(bundle) -> str:
    """The model id an uploaded bundle claims (unverified: for the audit record only)."""
    manifest = bundle.get("manifest") if isinstance(bundle, dict) else None
    claimed = manifest.get("model_id") if isinstance(manifest, dict) else None
    return str(claimed)[:64] if claimed is not None else "unknown"


def _refused(context, actor: str, step: str, subject: str, exc: Exception) -> None:
    """Audit ``model.refused``: which step, and the check that failed."""
    with context.write(actor) as store:
        store.record_event("model.refused", subject, {"step": step, "reason": str(exc)[:500]})


def install_and_activate(context, folder: Path, *, actor: str) -> str:
    """Install a signed model folder as if uploaded and make it active; its id."""
    from trustshield.store.bundles import bundle_from_folder

    model_id = upload(context, bundle_from_folder(folder), actor=actor)["model_id"]
    activate(context, model_id, actor=actor)
    return model_id
