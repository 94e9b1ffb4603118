"""The service's signed model registry: install an uploaded bundle, verify before loading.

Only a bundle whose Ed25519 signature comes from a trusted key (the keyring at
``keys_dir``) and whose files match the signed manifest is installed; an installed model
is verified again every time it is activated or the service starts, so a file changed on
disk after installation is refused too. Verification reads the folder once and the model
is built from those very bytes; the scoring workers get the same bytes, so a folder changed
after activation is never scored.
"""

from __future__ import annotations

from pathlib import Path

from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import ModelFiles


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
    from trustshield.model_folder import model_from_files

    with context.lock:
        files = install(bundle, context.settings.models_dir, context.settings.keys_dir)
        manifest, model = files.manifest, model_from_files(files)
        with context.write(actor) as store:
            store.record_model(manifest, model.encoder.describe_features())
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
        model, files = context.load_installed(model_id)  # signature and sha256 checked again
        with context.write(actor) as store:
            context.options.set("active_model", model_id)
            store.record_event("model.activate", model_id, {"spec": model.spec.name})
        context.activate(model, files)


def install_and_activate(context, folder: Path, *, actor: str) -> str:
    """Install a signed model folder as if uploaded and make it active; its id."""
    from trustshield.store.bundles import bundle_from_folder

    model_id = upload(context, bundle_from_folder(folder), actor=actor)["model_id"]
    activate(context, model_id, actor=actor)
    return model_id
