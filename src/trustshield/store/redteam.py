"""EDGE: red-team runs and the examples they generated, kept with the run.

``redteam_runs`` holds one row per run (kind, model, operator, purpose, parameters and
result summary as canonical JSON, times, status). ``redteam_examples`` holds the generated
examples in feature space only: the model encoder's vectors, in the model's feature order
(``models.features`` names them), before (``original``) and after (``adversarial``)
the attack. ``row`` is the record's line in the file it came from; ``detail`` says what
the example is (the evasion attack, the flipped label, the changed decision); ``evaded``
marks an example that got past the model; ``changed`` counts the features that differ.

A run, its examples and its ``redteam.run`` audit event are written in one transaction.
Nothing here writes files: exporting is a separate, audited step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from trustshield.errors import StoreError
from trustshield.plain_json import canonical, plain
from trustshield.store.database import frame, records

SCHEMA = """
CREATE TABLE IF NOT EXISTS redteam_runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR, model_id VARCHAR, operator VARCHAR,
    purpose VARCHAR, parameters VARCHAR, summary VARCHAR, started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ, status VARCHAR);
CREATE TABLE IF NOT EXISTS redteam_examples (
    run_id VARCHAR, "row" BIGINT, detail VARCHAR, evaded BOOLEAN, changed INTEGER,
    original DOUBLE PRECISION[], adversarial DOUBLE PRECISION[]);
"""


@dataclass(frozen=True)
class RedTeamExamples:
    """n generated examples over d encoded features."""

    rows: np.ndarray  # (n,) int: line in the source file
    detail: np.ndarray  # (n,) str
    evaded: np.ndarray  # (n,) bool
    changed: np.ndarray  # (n,) int
    original: np.ndarray  # (n, d) float
    adversarial: np.ndarray  # (n, d) float

    def __post_init__(self) -> None:
        n = len(self.rows)
        shapes = {
            name: np.shape(getattr(self, name))
            for name in ("detail", "evaded", "changed", "original", "adversarial")
        }
        if (
            any(s[0] != n for s in shapes.values())
            or np.shape(self.original) != np.shape(self.adversarial)
            or len(shapes["original"]) != 2
        ):
            raise ValueError(
                f"examples need {n} rows everywhere and original/adversarial of "
                f"equal shape (n, d); got rows ({n},) and {shapes}"
            )

    @classmethod
    def empty(cls, d: int) -> RedTeamExamples:
        none = np.zeros(0)
        return cls(
            none.astype(np.int64),
            none.astype(object),
            none.astype(bool),
            none.astype(np.int64),
            np.zeros((0, d)),
            np.zeros((0, d)),
        )

    def table(self, run_id: str) -> pa.Table:
        n, d = np.shape(self.original)

        def vectors(m):
            return pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(m, dtype=np.float64).ravel(), pa.float64()), d
            )

        return pa.table(
            {
                "run_id": pa.array([run_id] * n, pa.string()),
                "row": pa.array(np.asarray(self.rows, dtype=np.int64), pa.int64()),
                "detail": pa.array([str(x) for x in self.detail], pa.string()),
                "evaded": pa.array(np.asarray(self.evaded, dtype=bool), pa.bool_()),
                "changed": pa.array(np.asarray(self.changed, dtype=np.int32), pa.int32()),
                "original": vectors(self.original),
                "adversarial": vectors(self.adversarial),
            }
        )


class RedTeamRuns:
    """Red-team runs of one :class:`~trustshield.store.AlertStore` (``store.redteam``)."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def save(
        self,
        *,
        run_id: str,
        kind: str,
        model_id: str,
        purpose: str,
        parameters: dict,
        summary: dict,
        started_at: datetime,
        finished_at: datetime,
        status: str,
        examples: RedTeamExamples,
        audit: dict | None = None,
    ) -> dict:
        """Write the run, its examples and its audit event atomically; return the event.
        ``audit`` adds fields to the event's details (e.g. the operator's login)."""
        db = self.store.db
        with self.store.transaction():
            db.execute(
                "INSERT INTO redteam_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    kind,
                    model_id,
                    self.store.actor,
                    purpose,
                    canonical(plain(parameters)),
                    canonical(plain(summary)),
                    started_at,
                    finished_at,
                    status,
                ],
            )
            if len(examples.rows):
                db.insert_arrow("redteam_examples", examples.table(run_id))
            return self.store.record_event(
                "redteam.run",
                run_id,
                {
                    **(audit or {}),
                    "kind": kind,
                    "model_id": model_id,
                    "purpose": purpose,
                    "parameters": parameters,
                    "summary": summary,
                    "status": status,
                    "examples": int(len(examples.rows)),
                    "started_at": started_at,
                    "finished_at": finished_at,
                },
            )

    def run(self, run_id: str) -> dict:
        rows = self.runs(run_id=run_id)
        if not rows:
            raise StoreError(f"no red-team run with id {run_id!r} in {self.store.path}")
        return rows[0]

    def runs(self, *, run_id: str | None = None) -> list[dict]:
        """Every run (or the one ``run_id``), oldest first, parameters and summary parsed."""
        sql = "SELECT * FROM redteam_runs" + (" WHERE run_id = ?" if run_id else "")
        rows = records(
            self.store.db.execute(sql + " ORDER BY started_at, run_id", [run_id] if run_id else [])
        )
        for run in rows:
            run["parameters"], run["summary"] = (
                json.loads(run["parameters"]),
                json.loads(run["summary"]),
            )
        return rows

    def examples(self, run_id: str) -> pd.DataFrame:
        """Columns row, detail, evaded, changed, original, adversarial; ordered by row."""
        return frame(
            self.store.db.execute(
                'SELECT "row", detail, evaded, changed, original, adversarial FROM redteam_examples'
                ' WHERE run_id = ? ORDER BY "row", detail',
                [run_id],
            )
        )

    def export_frame(self, run_id: str) -> pd.DataFrame:
        """The run's examples as a table: two rows per example (``version`` original, then
        adversarial) with one column per model feature holding its encoded value
        (categories as their index in the model's category list, ``models.features``)."""
        run = self.run(run_id)
        names = [f["name"] for f in self.store.model(run["model_id"])["features"]]
        examples = self.examples(run_id)
        meta = examples[["row", "detail", "evaded", "changed"]].reset_index(drop=True)
        parts = []
        for version in ("original", "adversarial"):
            values = np.array(examples[version].tolist(), dtype=np.float64).reshape(
                len(examples), len(names)
            )
            block = pd.concat([meta, pd.DataFrame(values, columns=names)], axis=1)
            block.insert(0, "version", version)
            parts.append(block)
        frame = pd.concat(parts, ignore_index=True).sort_values(
            ["row", "detail", "version"], ascending=[True, True, False], kind="stable"
        )
        frame.insert(0, "run_id", run_id)
        return frame.reset_index(drop=True)
