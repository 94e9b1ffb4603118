"""The Python API for the notebook workflow: train on a pandas DataFrame, score one.

:func:`train` and :func:`score` (public as ``trustshield.train`` and ``trustshield.score``)
take records as a DataFrame, one row per record, with the columns of a DatasetSpec, and
check them exactly as ``POST /v1/score`` checks a JSON batch
(:func:`trustshield.service.batches.read_records`, then ``ingest.validate.check_frame``): a
numeric column holds numbers (never text or booleans; integer columns whole numbers), a
categorical column one of the spec's values, every feature a value (NaN or None counts as
missing), no column the spec does not name besides the identity fields ``src_ip``,
``dst_ip`` and ``user``, every relation of the spec holds. A frame with any problem is
refused whole with a :class:`~trustshield.errors.DataError` naming the row, the column,
the value and what was expected.

Training and scoring then run the same pipeline functions as ``trustshield train`` and
``trustshield detect`` (``pipeline.train.train``, ``pipeline.scoring.score_batch``), so the
same rows give the same decisions and suspicion on either path.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError, SpecError
from trustshield.ingest.validate import RowProblem
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.scoring import ScoredBatch, score_batch
from trustshield.pipeline.train import train as train_pipeline
from trustshield.pipeline.train_config import TrainConfig
from trustshield.plain_json import canonical, plain
from trustshield.service.batches import MAX_PROBLEMS, read_records
from trustshield.specs import DatasetSpec, read_spec_text, spec_from_text
from trustshield.specs.labels import check_labels
from trustshield.specs.writing import spec_yaml

#: problems quoted in one DataError; the message gives the count of the rest
SHOWN_PROBLEMS = 5
#: provenance name of training data that came as a DataFrame, not a file
IN_MEMORY = "in-memory frame"


def train(
    frame: pd.DataFrame,
    spec: DatasetSpec | str | Path,
    *,
    config: TrainConfig | None = None,
    progress=None,
) -> TrainedModel:
    """A model trained on ``frame`` (n records, the spec's columns, label column included).

    ``spec`` is a DatasetSpec, a built-in spec name (``"nsl-kdd"``) or a spec YAML path.
    ``config`` defaults to ``TrainConfig()``, the settings ``trustshield train`` uses
    without options. The model's provenance names the data ``"in-memory frame"`` with the
    sha256 of :func:`frame_sha256` of the validated rows; ``progress``, when given, is
    called with one line of text per training stage. Save it with
    ``trustshield.save_model(model, folder)``. A non-normal label the spec's
    ``label.categories`` does not list is a ``UserWarning`` (with the nearest listed name),
    or a DataError when the spec says ``label.closed: true``
    (:mod:`trustshield.specs.labels`).
    """
    spec, spec_text = spec_and_text(spec)
    rows = validated(frame, spec)
    if spec.label_column in rows.columns:
        labels = check_labels(spec, rows[spec.label_column])
        labels.raise_errors(f"training frame (spec {spec.name})")
        for warning in labels.warnings:
            warnings.warn(warning, UserWarning, stacklevel=2)
    provenance = {
        "data": {
            "name": IN_MEMORY,
            "sha256": frame_sha256(rows),
            "rows": int(len(rows)),
            "rejected_rows": 0,
        }
    }
    return train_pipeline(
        rows,
        spec,
        spec_text,
        config=config or TrainConfig(),
        provenance=provenance,
        progress=progress,
    )


def spec_and_text(spec: DatasetSpec | str | Path) -> tuple[DatasetSpec, str]:
    """The spec and the YAML text a model folder keeps for it: a file's or built-in spec's
    own text, or :func:`~trustshield.specs.writing.spec_yaml` of a DatasetSpec object."""
    if isinstance(spec, DatasetSpec):
        return spec, spec_yaml(spec)
    if not isinstance(spec, (str, Path)):
        raise SpecError(
            f"spec: expected a DatasetSpec, a built-in spec name or a YAML path, "
            f"got {type(spec).__name__}"
        )
    text, origin = read_spec_text(spec)
    return spec_from_text(text, origin), text


def frame_sha256(rows: pd.DataFrame) -> str:
    """sha256 (64 hex digits) of the canonical JSON ``{"columns": [...], "rows": [[...]]}``
    of validated records (numbers as float64, text as str): equal rows in equal order give
    equal digests however the frame was built."""
    dump = {"columns": [str(c) for c in rows.columns], "rows": rows.to_numpy(dtype=object).tolist()}
    return hashlib.sha256(canonical(plain(dump)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Explanation:
    """Why one record was flagged (alerted or sent to review).

    ``contributions`` holds every feature's exact share of the record's suspicion as
    (feature, contribution) pairs, largest magnitude first (positive: towards suspicious);
    ``base + sum of contributions`` equals the record's suspicion (to 1e-6).
    """

    category: str  #: attack category the supervised component names
    technique: str  #: MITRE ATT&CK technique id ("" when the spec names none)
    rationale: str  #: the one-line explanation an analyst reads
    base: float
    contributions: tuple[tuple[str, float], ...]

    def top(self, k: int = 5) -> tuple[tuple[str, float], ...]:
        """The ``k`` contributions of largest magnitude."""
        return self.contributions[:k]


@dataclass(frozen=True)
class ScoredFrame:
    """The decision for every record of a scored frame, in its row order.

    ``actions`` (n,) holds ``"alert"``, ``"review"`` or ``"allow"``; ``suspicion`` (n,)
    float64, higher = more suspicious, on the model's scale where 1 is the operating point
    of its components (the policy alerts at ``model.policy.alert_threshold_`` and above);
    ``explanations`` (n,) an :class:`Explanation` for each flagged record, None for an
    allowed one; ``index`` the scored frame's index.
    """

    actions: np.ndarray
    suspicion: np.ndarray
    explanations: tuple[Explanation | None, ...]
    index: pd.Index

    def __len__(self) -> int:
        return len(self.actions)

    def to_frame(self) -> pd.DataFrame:
        """One row per record, on the scored frame's index; columns ``action`` (str),
        ``suspicion`` (float64), and for flagged records ``category``, ``technique`` and
        ``rationale`` (object columns of str; None for allowed records)."""

        def column(name: str) -> pd.Series:
            return pd.Series(
                [None if e is None else getattr(e, name) for e in self.explanations],
                index=self.index,
                dtype=object,
            )

        return pd.DataFrame(
            {
                "action": self.actions,
                "suspicion": self.suspicion,
                "category": column("category"),
                "technique": column("technique"),
                "rationale": column("rationale"),
            },
            index=self.index,
        )


def score(model: TrainedModel, frame: pd.DataFrame) -> ScoredFrame:
    """Validate ``frame`` against ``model.spec`` (see the module docstring), then decide and
    explain every record; label and metadata columns may be present and are not used."""
    rows = validated(frame, model.spec)
    return scored_frame(score_batch(model, rows), frame.index)


def scored_frame(scored: ScoredBatch, index: pd.Index) -> ScoredFrame:
    """The per-record view of a :class:`~trustshield.pipeline.scoring.ScoredBatch`."""
    explanations: list[Explanation | None] = [None] * len(scored.decision.actions)
    names = scored.attributions.feature_names
    for k, row in enumerate(scored.flagged):
        values = scored.attributions.values[k]
        order = np.argsort(-np.abs(values), kind="stable")
        explanations[row] = Explanation(
            category=str(scored.categories[k]),
            technique=str(scored.techniques[k]),
            rationale=str(scored.rationales[k]),
            base=float(scored.attributions.base[k]),
            contributions=tuple((names[j], float(values[j])) for j in order),
        )
    return ScoredFrame(
        actions=np.asarray(scored.decision.actions, dtype=object),
        suspicion=np.asarray(scored.decision.suspicion, dtype=np.float64),
        explanations=tuple(explanations),
        index=index,
    )


def validated(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``frame``'s records as the REST API accepts them (typed per spec, index 0..n-1), or
    DataError naming the columns, or the rows and columns, that break ``spec``."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame of records with the columns of spec "
            f"{spec.name!r}, got {type(frame).__name__}"
        )
    if frame.empty:
        raise DataError(
            f"the frame holds no records (expected rows with the columns of spec {spec.name!r})"
        )
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once; expected each column once")
    missing = [c for c in spec.feature_names if c not in names]
    if missing:
        raise DataError(f"the frame lacks feature column(s) {missing} of spec {spec.name!r}")
    plain_values = frame.set_axis(names, axis=1).astype(object)
    records = plain_values.where(frame.notna().to_numpy(), None).to_dict("records")
    batch = read_records(records, spec)
    if batch.problems:
        raise DataError(_problems_text(batch.problems, frame.index, spec))
    return batch.frame


def _problems_text(problems: tuple[RowProblem, ...], index: pd.Index, spec: DatasetSpec) -> str:
    """The first problems, one clause each: 'row 3 (index 'x'), column 'n': got '-1',
    expected ...'; the row is the 0-based position in the frame."""
    shown = []
    for p in problems[:SHOWN_PROBLEMS]:
        label = index[p.line]
        where = f"row {p.line}" + ("" if label == p.line else f" (index {label!r})")
        shown.append(f"{where}, column {p.column!r}: got {p.value!r}, expected {p.expected}")
    more = len(problems) - len(shown)
    tail = (
        f"; and {'at least ' if len(problems) >= MAX_PROBLEMS else ''}{more} more problem(s)"
        if more
        else ""
    )
    return f"the frame breaks spec {spec.name!r}; nothing was used: " + "; ".join(shown) + tail
