"""EDGE: read a keystroke data set (one row per typing) through its built-in DatasetSpec.

The file is found under the data roots (``TRUSTSHIELD_DATA_DIR``, else ``../shared/data``,
then the download cache), its sha256 checked against the spec, and every row validated;
a missing or altered file raises DatasetMissing naming the file and every place looked in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trustshield.ingest.tabular import recorded_source
from trustshield.specs import load_spec

DEFAULT_SPEC = "meu-mobile-ksd"


@dataclass(frozen=True)
class KeystrokeData:
    """Validated typings: ``frame`` holds the subject column then the features, in file order."""

    frame: pd.DataFrame
    subject_column: str
    feature_names: tuple[str, ...]
    sha256: str
    path: Path

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[list(self.feature_names)]


def load_keystroke_data(spec_name: str = DEFAULT_SPEC) -> KeystrokeData:
    """Locate, verify and read the single data file a keystroke spec records."""
    spec = load_spec(spec_name)
    source = recorded_source(spec, "subject")
    frame = source.read_all()
    columns = [spec.label_column, *spec.feature_names]
    return KeystrokeData(
        frame[columns], spec.label_column, spec.feature_names, source.sha256, source.path
    )
