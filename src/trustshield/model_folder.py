"""EDGE: a trained model as a folder of plain files with a sha256 manifest.

``model.json`` holds every learned number (LightGBM model text, prototypes, thresholds,
categories, normal reference); ``spec.yaml`` the DatasetSpec it was trained with;
``drift_reference.json`` the drift monitor's training summary
(:class:`~trustshield.drift.monitor.DriftReference`; folders written before it existed lack
it and still load, without drift monitoring); ``manifest.json`` the sha256 of each, plus
provenance: ``training_data`` ({name, sha256} of
the training file, when training recorded it), ``metrics`` (the training-time selection
figures) and ``creator`` (the operator who saved it). Loading checks the manifest first and
never unpickles anything; manifests written before the provenance keys existed still load.
Signing the manifest is :mod:`trustshield.store.signing`'s business. A folder is read once
into :class:`ModelFiles` and the model built from those bytes, so what was checked is what
is loaded (scoring workers and Spark tasks get the bytes, never the folder).

A **text model folder** (a payload or domain model,
:class:`~trustshield.decide.text_model.TextModel`) has the same
manifest with ``"text": KIND`` (``payload`` or ``domain``) and one model file,
``model.json``: the text model's own plain-JSON document (``payloads train``,
``domains train``), byte for byte, which carries the sha256 of its content as well; so it
is signed, bundled, uploaded and verified like any other folder. :func:`model_from_files`
builds tabular models only and refuses a text folder naming what reads it;
:func:`served_model_from_files` builds either (the service and its scoring workers).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from trustshield.drift.monitor import DriftReference
from trustshield.config import operator_name
from trustshield.decide.policy import ThresholdPolicy
from trustshield.decide.text_model import TEXT_INPUTS, TextModel, text_model_from_document
from trustshield.detectors import describe, detector_from_dict
from trustshield.detectors.protocol import Detector, parts_of
from trustshield.errors import DataError, ModelIntegrityError
from trustshield.explain.reference import NormalReference
from trustshield.features import FeatureEncoder
from trustshield.specs import DatasetSpec, spec_from_text
from trustshield.plain_json import plain

FILES = ("model.json", "spec.yaml", "drift_reference.json")
MANIFEST = "manifest.json"
#: files every model folder has; the others may be missing from folders written before them
REQUIRED = ("model.json", "spec.yaml")
DRIFT_FILE = "drift_reference.json"
NO_DRIFT_REFERENCE = (
    "model {model_id} has no drift reference ({file} was not written when it "
    "was trained): drift cannot be measured; retrain it with `trustshield "
    "train` to monitor drift"
)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth")
#: pickle protocol 2+ streams start with 0x80 (as a byte, or as U+0080 once put in JSON text)
PICKLE_MARKERS = (b"\x80", "\x80".encode("utf-8"))


def looks_like_pickle(name: str, head: bytes) -> bool:
    """True for a file that is or may be a pickle, by its name or its first bytes."""
    return name.lower().endswith(PICKLE_SUFFIXES) or head.startswith(PICKLE_MARKERS)


#: the one file of a text model folder
TEXT_FILES = ("model.json",)
NOT_TABULAR = (
    "{folder} holds a {kind} model (a text model): it scores {what} through "
    "`trustshield {kind}s ...` or POST /v1/score, not as a tabular model"
)

#: the training-time figures of ``training["selection"]`` copied into the manifest
METRICS = ("objective", "normal_fpr", "per_category", "probability", "quantile")


@dataclass
class TrainedModel:
    """Everything detection needs, loaded from or saved to one folder."""

    spec: DatasetSpec
    spec_text: str
    encoder: FeatureEncoder
    detector: Detector
    policy: ThresholdPolicy
    reference: NormalReference
    training: dict  # provenance and selection protocol
    manifest: dict | None = None
    #: the drift monitor's training summary; None for folders written before it existed
    drift_reference: DriftReference | None = None

    @property
    def drift_unavailable(self) -> str | None:
        """Why drift cannot be measured for this model (None when it can)."""
        if self.drift_reference is not None:
            return None
        return NO_DRIFT_REFERENCE.format(model_id=self.model_id, file=DRIFT_FILE)

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"] if self.manifest else "unsaved"

    @property
    def spec_name(self) -> str:
        return self.spec.name

    def state(self) -> dict:
        return {
            "encoder": self.encoder.to_dict(),
            "detector": self.detector.to_dict(),
            "policy": self.policy.to_dict(),
            "reference": self.reference.to_dict(),
            "training": self.training,
        }


def save_model(model: TrainedModel, folder: str | Path) -> dict:
    """Write the folder atomically (temp folder, then rename); return the manifest."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(model.state(), sort_keys=True).encode()
    blobs = {"model.json": body, "spec.yaml": model.spec_text.encode()}
    if model.drift_reference is not None:
        blobs[DRIFT_FILE] = json.dumps(model.drift_reference.to_dict(), sort_keys=True).encode()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    manifest = {
        "model_id": hashlib.sha256(body).hexdigest()[:16],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": model.spec.name,
        "detector": describe(model.detector),
        "files": digests,
        "format": "trustshield-model/1",
        **provenance(model.training),
    }
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=folder.parent))
    staging.chmod(0o755)
    for name, data in blobs.items():
        (staging / name).write_bytes(data)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    replace_folder(staging, folder)
    model.manifest = manifest
    return manifest


def registered_features(model: TrainedModel | TextModel) -> list[dict]:
    """The features the store's model registry lists for ``model``: a text model's one
    text field, of type ``text`` (so its alerts show the text coloured)."""
    if isinstance(model, TextModel):
        from trustshield.explain.text_alerts import TEXT

        return [{"name": model.field, "type": TEXT, "categories": None}]
    return model.encoder.describe_features()


def save_text_model_folder(document: bytes, folder: str | Path) -> dict:
    """Write a model folder (``model.json`` = ``document``, byte for byte, and its
    manifest) for the payload or domain model document ``document``, checked first;
    atomically (temp folder, then rename). Returns the manifest; sign it with
    :func:`trustshield.store.bundles.sign_model_folder`."""
    folder = Path(folder)
    try:
        parsed = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"not a text model document: not JSON in UTF-8 ({exc})") from None
    model = text_model_from_document(parsed, "the text model document")
    training = model.training
    data = training.get("data") or {}
    digest = hashlib.sha256(document).hexdigest()
    metrics = {k: training[k] for k in ("target_fpr", "oof_fpr", "calibration") if k in training}
    manifest = {
        "model_id": digest[:16],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": model.spec_name,
        "detector": model.kind,
        "text": model.kind,
        "files": {"model.json": digest},
        "format": "trustshield-model/1",
        "metrics": plain({"threshold": model.threshold, **metrics}),
        "creator": operator_name(),
    }
    if data:
        manifest["training_data"] = {
            "name": data.get("file") or data.get("name"),
            "sha256": data.get("sha256"),
        }
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=folder.parent))
    staging.chmod(0o755)
    (staging / "model.json").write_bytes(document)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    replace_folder(staging, folder)
    return manifest


def provenance(training: dict) -> dict:
    """Manifest keys ``training_data`` ({name, sha256}; sha256 None when training did not
    record it), ``metrics`` ({} when none; with the capacity trials when training chose a
    capacity) and ``creator``; JSON-safe (NaN → None)."""
    data = training.get("data") or {}
    selection = training.get("selection") or {}
    metrics = training.get("metrics") or {k: selection[k] for k in METRICS if k in selection}
    if training.get("capacity_trials"):  # each candidate size and its held-out objective
        metrics = {**metrics, "capacity_trials": training["capacity_trials"]}
    found = {"metrics": plain(metrics), "creator": operator_name()}
    if data:
        found["training_data"] = {"name": data.get("name"), "sha256": data.get("sha256")}
    return found


@dataclass(frozen=True)
class ModelFiles:
    """A model folder's bytes, read once: ``blobs`` maps ``manifest.json`` and every model
    file the manifest lists to their content; ``origin`` is the folder they came from (for
    messages only). Whatever checked these bytes (sha256, a signature) checked exactly what
    :func:`model_from_files` builds the model from, however the folder changes later; scoring
    workers and Spark tasks receive them instead of reading the folder again."""

    origin: str
    blobs: Mapping[str, bytes]

    @property
    def manifest(self) -> dict:
        return parse_manifest(self.blobs.get(MANIFEST, b""), Path(self.origin) / MANIFEST)

    @property
    def key(self) -> str:
        """The sha256 of the manifest's bytes: names these files (the manifest holds the
        sha256 of every file)."""
        return hashlib.sha256(self.blobs.get(MANIFEST, b"")).hexdigest()


def load_model(folder: str | Path) -> TrainedModel:
    """Verify the manifest's sha256 of every file, then rebuild the model. A folder whose
    manifest does not list ``drift_reference.json`` (written before it existed) loads with
    ``drift_reference`` None; one that lists it must have it intact."""
    return model_from_files(read_model_files(folder))


def load_served_model(folder: str | Path) -> TrainedModel | TextModel:
    """:func:`load_model` for the service: a text model folder too."""
    return served_model_from_files(read_model_files(folder))


def read_model_files(folder: str | Path) -> ModelFiles:
    """Read ``manifest.json`` and the files it lists, each once; nothing is checked but the
    manifest's shape (:func:`model_from_files` checks the rest)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelIntegrityError(
            f"{folder} is not a TrustShield model folder "
            "(no manifest.json); train one with `trustshield train`"
        )
    raw = path.read_bytes()
    blobs = {MANIFEST: raw}
    for name in listed_files(parse_manifest(raw, path)):
        if not (folder / name).is_file():
            raise ModelIntegrityError(f"{folder}: model file {name} is missing")
        blobs[name] = (folder / name).read_bytes()
    return ModelFiles(str(folder), blobs)


def model_from_files(files: ModelFiles) -> TrainedModel:
    """Check every listed file's sha256 against the manifest in ``files``, then build the
    model from these bytes (never from the folder they were read from). A text model
    folder is refused (ModelIntegrityError saying what reads it)."""
    manifest = files.manifest
    kind = text_kind(manifest)
    if kind is not None:
        raise ModelIntegrityError(
            NOT_TABULAR.format(folder=files.origin, kind=kind, what=TEXT_INPUTS[kind][0])
        )
    return _tabular(files, manifest)


def served_model_from_files(files: ModelFiles) -> TrainedModel | TextModel:
    """The model ``files`` hold, tabular or text, its files' sha256 checked first."""
    manifest = files.manifest
    kind = text_kind(manifest)
    if kind is None:
        return _tabular(files, manifest)
    _check_digests(files, manifest)
    try:
        document = json.loads(files.blobs["model.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(
            f"{files.origin}: model.json is not JSON in UTF-8 ({exc})"
        ) from None
    model = text_model_from_document(document, f"{files.origin}/model.json", manifest)
    if model.kind != kind:
        raise ModelIntegrityError(
            f"{files.origin}: the manifest says a {kind} model, "
            f"model.json holds a {model.kind} model"
        )
    return model


def _check_digests(files: ModelFiles, manifest: dict) -> None:
    folder, blobs = Path(files.origin), files.blobs
    for name in listed_files(manifest):
        if name not in blobs:
            raise ModelIntegrityError(f"{folder}: model file {name} is missing")
        actual = hashlib.sha256(blobs[name]).hexdigest()
        if actual != manifest["files"].get(name):
            raise ModelIntegrityError(
                f"{folder / name}: sha256 {actual} does not match the "
                f"manifest ({manifest['files'].get(name)}); the model was "
                "altered"
            )


def _tabular(files: ModelFiles, manifest: dict) -> TrainedModel:
    _check_digests(files, manifest)
    folder, blobs = Path(files.origin), files.blobs
    try:
        spec_text = blobs["spec.yaml"].decode("utf-8")
        state = json.loads(blobs["model.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(
            f"{folder}: model files are not JSON/YAML text in UTF-8 ({exc})"
        ) from None
    spec = spec_from_text(spec_text, str(folder / "spec.yaml"))
    return TrainedModel(
        spec=spec,
        spec_text=spec_text,
        encoder=FeatureEncoder.from_dict(spec, state["encoder"]),
        detector=detector_from_dict(state["detector"]),
        policy=ThresholdPolicy.from_dict(state["policy"]),
        reference=NormalReference.from_dict(state["reference"]),
        training=state["training"],
        manifest=manifest,
        drift_reference=_drift_reference(files, manifest),
    )


def limit_threads(model: TrainedModel | TextModel, threads: int) -> None:
    """Score with at most ``threads`` threads inside the model (for processes or tasks that
    run side by side: the pool is the parallelism; results do not depend on it)."""
    for detector in (model.detector, *parts_of(model.detector)):
        if "n_threads" in detector.get_params(deep=False):
            detector.set_params(n_threads=threads)


def listed_files(manifest: dict) -> list[str]:
    """The model files a manifest covers: the required ones and the optional ones it lists
    (a text model folder: ``model.json`` only)."""
    required, listed = required_files(manifest), manifest.get("files", {})
    return [name for name in FILES if name in required or name in listed]


def required_files(manifest: dict) -> tuple[str, ...]:
    """The files a folder with this manifest must have."""
    return TEXT_FILES if text_kind(manifest) is not None else REQUIRED


def text_kind(manifest: dict) -> str | None:
    """``payload`` or ``domain`` for a text model folder's manifest, None for a tabular
    one; ModelIntegrityError for any other ``text`` value."""
    kind = manifest.get("text")
    if kind is None:
        return None
    if kind not in TEXT_INPUTS:
        raise ModelIntegrityError(
            f"unknown text model kind {kind!r} in the manifest; expected one of {sorted(TEXT_INPUTS)}"
        )
    return kind


def _drift_reference(files: ModelFiles, manifest: dict) -> DriftReference | None:
    if DRIFT_FILE not in manifest["files"]:
        return None
    path = Path(files.origin) / DRIFT_FILE
    try:
        return DriftReference.from_dict(json.loads(files.blobs[DRIFT_FILE].decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, DataError) as exc:
        raise ModelIntegrityError(f"{path}: not a drift reference ({exc})") from None


def parse_manifest(raw: bytes, path: Path) -> dict:
    """The manifest in ``raw`` (read from ``path``), checked for shape and format."""
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{path}: not valid JSON in UTF-8 ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelIntegrityError(f"{path}: expected an object with a 'files' mapping")
    if manifest.get("format") != "trustshield-model/1":
        raise ModelIntegrityError(f"{path}: unknown model format {manifest.get('format')!r}")
    return manifest


def replace_folder(staging: Path, folder: Path) -> None:
    """Put ``staging`` in place of ``folder``; only an earlier model folder is replaced."""
    if not folder.exists():
        staging.rename(folder)
        return
    if not (folder / "manifest.json").is_file():
        shutil.rmtree(staging)
        raise ModelIntegrityError(
            f"{folder} exists and is not a TrustShield model folder; "
            "refusing to replace it (choose another --out)"
        )
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old)
