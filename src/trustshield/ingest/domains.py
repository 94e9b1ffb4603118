"""The labelled DGA domain names (spec ``dga-domains``): located, sha256-verified, read.

Labels are the detector's: ``"normal"`` for a legitimate domain, else the DGA family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustshield.errors import DatasetMissing
from trustshield.ingest.tabular import recorded_source
from trustshield.specs import load_spec

SPEC = "dga-domains"


@dataclass(frozen=True)
class DomainData:
    """``domains`` (n,) text and ``labels`` (n,) "normal" or the family, in file order."""

    domains: np.ndarray
    labels: np.ndarray
    sha256: str
    path: Path


def load_domains(spec_name: str = SPEC) -> DomainData:
    """Locate, verify (sha256) and read the domain file the spec records; the names are
    the spec's one feature column."""
    spec = load_spec(spec_name)
    if len(spec.feature_names) != 1:
        raise DatasetMissing(
            f"spec {spec.name} must name exactly one feature column (the domain names); "
            f"it names {list(spec.feature_names)}"
        )
    source = recorded_source(spec)
    frame = source.read_all()
    family = frame[spec.label_column].astype(str).to_numpy()
    labels = np.where(family == spec.normal_label, "normal", family).astype(object)
    names = frame[spec.feature_names[0]].astype(str).to_numpy()
    return DomainData(names, labels, source.sha256, source.path)
