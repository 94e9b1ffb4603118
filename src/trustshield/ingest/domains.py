"""The labelled DGA domain names (spec ``dga-domains``): located, sha256-verified, read.

Labels are the detector's: ``"normal"`` for a legitimate domain, else the DGA family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustshield.errors import DatasetMissing
from trustshield.ingest.datasets import KnownFile, locate
from trustshield.ingest.tabular import TableSource
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
    """Locate, verify (sha256) and read the domain file the spec records."""
    spec = load_spec(spec_name)
    if not spec.files or spec.dataset is None or spec.label_column is None:
        raise DatasetMissing(f"spec {spec.name} records no data file, data set or label column")
    recorded = spec.files[0]
    path = locate(
        spec.dataset, KnownFile(recorded.name, recorded.sha256, recorded.url, recorded.rows)
    )
    source = TableSource(path, spec)
    frame = source.read_all()
    family = frame[spec.label_column].astype(str).to_numpy()
    labels = np.where(family == spec.normal_label, "normal", family).astype(object)
    return DomainData(frame["domain"].astype(str).to_numpy(), labels, source.sha256, path)
