"""A text model's decision: a payload or domain detector and the threshold it alerts above.

A payload model (``payloads train``) and a domain model (``domains train``) are each one
plain-JSON document: the detector's state, the threshold, provenance or calibration, and
the sha256 of the rest of the document (:func:`document_digest`), checked before anything
is built (:func:`text_model_from_document`). :class:`TextModel` is what the service
scores with (the folder that carries the document, signed like any model folder:
:mod:`trustshield.model_folder`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from trustshield.detectors.protocol import Detector
from trustshield.detectors.registry import detector_from_dict
from trustshield.errors import DataError, ModelIntegrityError

#: text model document formats -> the detector kind (and manifest ``text`` value) they hold
TEXT_FORMATS = {
    "trustshield-payload-model/1": "payload",
    "trustshield-domain-model/1": "domain",
}
#: what a text model reads, in words (the registry's ``spec``) and its one input field
TEXT_INPUTS = {
    "payload": ("web-request parameter values (text)", "payload"),
    "domain": ("domain names (text)", "domain"),
}


@dataclass(frozen=True)
class TextModel:
    """A payload or domain model (``kind``) as the service scores it: the fitted detector,
    its threshold (suspicion above it alerts; suspicion in log-odds, higher = more
    suspicious), what else its document holds (``training``: provenance, calibration) and
    the folder's manifest. It reads one text field per record (:attr:`field`)."""

    kind: str
    detector: Detector
    threshold: float
    training: dict[str, Any]
    manifest: dict[str, Any] | None = None
    drift_reference: None = None  #: drift is measured on tabular features only

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"]) if self.manifest else "unsaved"

    @property
    def spec_name(self) -> str:
        return TEXT_INPUTS[self.kind][0]

    @property
    def field(self) -> str:
        """The record field holding the text (``payload`` or ``domain``)."""
        return str(getattr(self.detector, "column", TEXT_INPUTS[self.kind][1]))

    @property
    def drift_unavailable(self) -> str:
        return (
            f"model {self.model_id} is a {self.kind} model: drift is measured on the "
            "features of tabular models only"
        )


def document_digest(body: dict[str, Any]) -> str:
    """The sha256 a text model document carries: of ``body`` (the document without its
    ``sha256``) as canonical JSON (sorted keys, no blanks, ASCII escapes, no NaN)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def text_model_from_document(
    document: object, where: str, manifest: dict[str, Any] | None = None
) -> TextModel:
    """The text model of a payload or domain model document, its format and own sha256
    checked first; ModelIntegrityError naming ``where`` otherwise."""
    if not isinstance(document, dict) or document.get("format") not in TEXT_FORMATS:
        raise ModelIntegrityError(
            f"{where}: not a text model document (expected format one of {sorted(TEXT_FORMATS)})"
        )
    kind = TEXT_FORMATS[document["format"]]
    body = {k: v for k, v in document.items() if k != "sha256"}
    try:
        digest = document_digest(body)
    except ValueError as exc:  # NaN or infinity
        raise ModelIntegrityError(f"{where}: not plain JSON numbers ({exc})") from None
    if digest != document.get("sha256"):
        raise ModelIntegrityError(
            f"{where}: its content does not match its sha256 (altered); refusing to load"
        )
    try:
        detector = detector_from_dict(document["detector"])
        threshold = float(document["threshold"])
    except (KeyError, TypeError, ValueError, IndexError, DataError) as exc:
        raise ModelIntegrityError(f"{where}: not a {kind} model ({exc!r})") from None
    if detector.kind != kind or not math.isfinite(threshold):
        raise ModelIntegrityError(
            f"{where}: a {kind} model needs a {kind!r} detector and a finite threshold; "
            f"got {detector.kind!r} and {threshold!r}"
        )
    training = {k: v for k, v in body.items() if k not in ("format", "detector", "threshold")}
    return TextModel(kind, detector, threshold, training, manifest)
