"""EDGE: run detection over a source and write alerts, reviews and rejected rows, and the
drift of every window of ``drift_window`` records against the model's drift reference
(written with the batch that completes the window; none for a model without a reference)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from trustshield.errors import DataError
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.drift_windows import WINDOW, DriftWindows
from trustshield.pipeline.scoring import ScoredBatch, score_batch
from trustshield.records import (
    BAD_ENTITY,
    ENTITY_EXPECTED,
    ENTITY_FIELDS,
    ENTITY_TYPE,
    RunSummary,
)
from trustshield.store import AlertStore, alert_id


def detect(
    model: TrainedModel,
    source: TableSource,
    store: AlertStore,
    *,
    progress=None,
    drift_window: int = WINDOW,
) -> RunSummary:
    """Score every batch of ``source``; one transaction per batch (its alerts, rejected
    rows and the drift events of the windows it completes). Returns the stored run.

    Re-running with the same model on the same input adds nothing but the run's own record
    (``runs`` row, ``detect.run`` audit event): alerts, review items and drift events
    already stored are skipped, and so are rejected rows already recorded for the file."""
    windows = (
        None
        if model.drift_reference is None
        else DriftWindows(model.drift_reference, window=drift_window)
    )
    run_id = uuid.uuid4().hex[:16]
    store.pseudonymiser()  # a store that pseudonymises refuses a writer without the key now
    store.record_model(model.manifest, model.encoder.describe_features())
    store.start_run(
        run_id=run_id,
        kind="detect",
        model_id=model.model_id,
        source_path=str(source.path),
        source_sha256=source.sha256,
    )
    try:
        for batch in source:
            scored = score_batch(model, batch.frame)
            table = alerts_table(model, source.sha256, run_id, batch, scored)
            completed = (
                []
                if windows is None or not len(batch.frame)
                else windows.add(
                    encoded_frame(model, scored), scored.decision.suspicion, batch.lines
                )
            )
            with store.transaction():
                store.add_batch(
                    run_id, table, batch.rejected, rows_read=len(batch.frame) + batch.rejected_rows
                )
                store.drift.add(run_id, model.model_id, completed, source_sha256=source.sha256)
            if progress:
                progress(len(batch.frame) + batch.rejected_rows)
        last = None if windows is None else windows.finish()
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    with store.transaction():  # the last, partial window is written with the run's end
        store.drift.add(
            run_id,
            model.model_id,
            [] if last is None else [last],
            source_sha256=source.sha256,
        )
        return store.finish_run(run_id, "complete")


def encoded_frame(model: TrainedModel, scored: ScoredBatch) -> pd.DataFrame:
    """Every row's encoded features (n, d) as the frame the model saw: float64 columns in
    ``model.encoder.feature_names`` order, categories as codes (NaN for unseen ones)."""
    return pd.DataFrame(scored.features, columns=list(model.encoder.feature_names))


def alerts_table(
    model: TrainedModel, source_sha256: str, run_id: str, batch, scored: ScoredBatch
) -> pa.Table:
    """Arrow table of the flagged rows, columns as in the store's ``alerts`` table;
    ``entities`` is the typed column of :func:`entity_column` (NULL where the batch names
    no entities)."""
    rows = scored.flagged
    lines = batch.lines[rows]
    frame = batch.frame.iloc[rows]
    label_col = model.spec.label_column
    labels = (
        frame[label_col].to_numpy(dtype=object)
        if label_col in frame.columns
        else [None] * len(rows)
    )
    n_features = scored.attributions.values.shape[1]
    return pa.table(
        {
            "alert_id": [alert_id(model.model_id, source_sha256, int(x)) for x in lines],
            "run_id": pa.array([run_id] * len(rows), pa.string()),
            "model_id": pa.array([model.model_id] * len(rows), pa.string()),
            "source_sha256": pa.array([source_sha256] * len(rows), pa.string()),
            "line": pa.array(lines, pa.int64()),
            "action": pa.array(scored.decision.actions[rows], pa.string()),
            "suspicion": pa.array(scored.decision.suspicion[rows], pa.float64()),
            "category": pa.array(scored.categories, pa.string()),
            "technique": pa.array(scored.techniques, pa.string()),
            "component": pa.array(
                np.asarray(scored.part_names, dtype=object)[scored.component[rows]], pa.string()
            ),
            "label": pa.array(labels, pa.string()),
            "base": pa.array(scored.attributions.base, pa.float64()),
            "attributions": pa.FixedSizeListArray.from_arrays(
                pa.array(scored.attributions.values.ravel(), pa.float64()), n_features
            ),
            "feature_values": pa.FixedSizeListArray.from_arrays(
                pa.array(scored.encoded.ravel(), pa.float64()), n_features
            ),
            "rationale": pa.array(scored.rationales, pa.string()),
            "created_at": pa.array(
                [datetime.now(timezone.utc)] * len(rows), pa.timestamp("us", tz="UTC")
            ),
            "entities": entity_column(batch.entities, rows),
        }
    )


def entity_column(entities: pd.DataFrame | None, rows: np.ndarray) -> pa.StructArray:
    """The ``rows`` of ``entities`` (a frame whose columns are among
    :data:`~trustshield.records.ENTITY_FIELDS`, missing values as NaN/None/NA; None when no
    entities are known) as the typed column the store takes (:data:`ENTITY_TYPE`)."""
    if entities is None:
        return pa.nulls(len(rows), ENTITY_TYPE)
    picked, arrays = entities.iloc[rows], []
    for name, (kind, arrow_type) in ENTITY_FIELDS.items():
        if name not in picked.columns:
            arrays.append(pa.nulls(len(rows), arrow_type))
            continue
        try:
            arrays.append(pa.Array.from_pandas(picked[name]).cast(arrow_type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                BAD_ENTITY.format(field=name, expected=ENTITY_EXPECTED[kind], value=str(exc)[:200])
            ) from None
    return pa.StructArray.from_arrays(arrays, fields=list(ENTITY_TYPE))
