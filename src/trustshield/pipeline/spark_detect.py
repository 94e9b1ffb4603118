"""EDGE: ``detect --engine spark``: the local detection pipeline run by Apache Spark tasks.

Each Spark task gets the model folder's bytes, read once on the driver (a broadcast of
:class:`~trustshield.model_folder.ModelFiles`; built once per Python worker with
:func:`~trustshield.workers.models.model_for`, which checks every sha256 against
the manifest; nothing is unpickled from the folder) and
runs, per Arrow batch of its rows (``mapInArrow``), what the local engine runs per batch:
:func:`~trustshield.ingest.validate.check_frame` against the model's spec,
:func:`~trustshield.pipeline.scoring.score_batch` and
:func:`~trustshield.pipeline.detect.alerts_table`. Scoring does not depend on how records are
cut into batches, so decisions, suspicion, exact attributions and rationale text are those of
the local engine, bit for bit.

A record's **line** is what :class:`~trustshield.ingest.tabular.TableSource` calls it: for
CSV the 1-based number of the text line that holds it in its file (header and blank lines
count, a record spans one line); for Parquet its 1-based row number in the file. Alert ids
(model, file sha256, line) are therefore the local engine's, on any number of partitions.
For a folder input every file is its own source (its own sha256 and lines); the run's
``source_sha256`` is then the sha256 of the lines ``"<sha256>  <file URI>"``, sorted.

With ``on_error="raise"`` the first invalid row of the batch that fails first stops the run
with the local engine's message; when several partitions hold invalid rows, which of them is
named depends on task timing. Executors need the same ``trustshield`` version installed.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.accumulators import AccumulatorParam

from trustshield.errors import DataError
from trustshield.ingest.tabular import ON_ERROR, Batch, first_problem, quoted_as_written
from trustshield.ingest.validate import check_frame
from trustshield.model_folder import model_from_files, read_model_files
from trustshield.pipeline.detect import alerts_table
from trustshield.pipeline.scoring import score_batch
from trustshield.records import ENTITY_TYPE
from trustshield.pipeline.spark_session import (
    BLOCK_COL,
    FILE_COL,
    HadoopFiles,
    SourceFile,
    block_offsets,
    check_columns,
    describe,
    read_input,
    sibling,
    spark_session,
    task_error,
)
from trustshield.workers.models import model_for

#: the alerts Parquet schema: the columns of ``alerts_table``, fixed-size lists as lists,
#: ``entities`` the typed struct the store takes (NULL: table inputs name no connection)
SCHEMA = pa.schema(
    [
        ("alert_id", pa.string()),
        ("run_id", pa.string()),
        ("model_id", pa.string()),
        ("source_sha256", pa.string()),
        ("line", pa.int64()),
        ("action", pa.string()),
        ("suspicion", pa.float64()),
        ("category", pa.string()),
        ("technique", pa.string()),
        ("component", pa.string()),
        ("label", pa.string()),
        ("base", pa.float64()),
        ("attributions", pa.list_(pa.float64())),
        ("feature_values", pa.list_(pa.float64())),
        ("rationale", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("entities", ENTITY_TYPE),
    ]
)
SPARK_TYPES = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.int32(): "int",
    pa.float64(): "double",
    pa.timestamp("us", tz="UTC"): "timestamp",
}
SPARK_SCHEMA = ", ".join(
    f"`{f.name}` "
    + (
        SPARK_TYPES.get(f.type)
        or (
            "struct<" + ",".join(f"`{c.name}`:{SPARK_TYPES[c.type]}" for c in f.type) + ">"
            if pa.types.is_struct(f.type)
            else "array<double>"
        )
    )
    for f in SCHEMA
)
STORE_BATCH_ROWS = 65_536


class Tally(AccumulatorParam):
    """{(file URI, first line of a batch): {read, rejected, alerts, problems}}, merged by
    key: a task Spark runs again overwrites its own entries instead of counting twice."""

    def zero(self, value):
        return {}

    def addInPlace(self, a, b):
        a.update(b)
        return a


def detect_spark(
    model_folder,
    input,
    *,
    out,
    master: str = "local[*]",
    store=None,
    on_error: str = "raise",
    progress=None,
    spark=None,
) -> dict:
    """Score ``input`` (CSV or Parquet; a file or folder; a path or any URL Spark reads)
    with the model in ``model_folder`` on ``master`` (or the session ``spark``); write the
    alerts and reviews as Parquet to the folder ``out`` (atomically: a temporary sibling,
    then a rename); with ``store``, also add them to that AlertStore as one ``detect`` run.

    Returns {run_id, model_id, rows_read, alerts, rejected_rows, out, seconds, files}; with a
    store also ``alerts_added``. ``progress(rows)`` is called once the rows are scored.
    """
    started = time.perf_counter()
    if on_error not in ON_ERROR:
        raise DataError(f"on_error must be one of {list(ON_ERROR)}, got {on_error!r}")
    model_files = read_model_files(model_folder)
    model = model_from_files(model_files)  # the tasks build theirs from the same bytes
    spark = spark or spark_session(master)
    files = HadoopFiles(spark)
    if not files.exists(str(input)):
        raise DataError(f"data file not found: {input}")
    parquet = files.is_parquet(str(input))
    frame = read_input(spark, str(input), parquet=parquet)
    if parquet:
        check_columns(str(input), model.spec, frame.columns)
        frame = read_input(
            spark,
            str(input),
            parquet=True,
            columns=[c.name for c in model.spec.columns if c.name in frame.columns],
        )
    offsets = block_offsets(frame)
    sources = {
        uri: describe(files, uri, str(input), model.spec, parquet=parquet)
        for uri in sorted(offsets)
    }
    run_id = uuid.uuid4().hex[:16]
    tally = spark.sparkContext.accumulator({}, Tally())
    task = PartitionScorer(
        spark.sparkContext.broadcast(model_files),
        run_id,
        sources,
        offsets,
        parquet,
        on_error,
        tally,
    )
    out = str(out).rstrip("/")
    staging = sibling(out, f".partial-{run_id}")
    try:
        frame.mapInArrow(task, SPARK_SCHEMA).write.parquet(staging)
    except Exception as exc:
        files.delete(staging)
        raise task_error(exc) from None
    files.replace_output(staging, out)
    totals = {
        key: sum(t[key] for t in tally.value.values()) for key in ("read", "rejected", "alerts")
    }
    problems = sorted(
        (p for t in tally.value.values() for p in t["problems"]), key=lambda p: (p.file, p.line)
    )
    if progress:
        progress(totals["read"])
    summary = {
        "run_id": run_id,
        "model_id": model.model_id,
        "rows_read": totals["read"],
        "alerts": totals["alerts"],
        "rejected_rows": totals["rejected"],
        "out": out,
        "files": [{"file": s.shown, "sha256": s.sha256} for s in sources.values()],
    }
    if store is not None:
        summary["alerts_added"] = _to_store(
            spark, store, model, str(input), sources, run_id, out, totals["read"], problems
        )
    summary["seconds"] = time.perf_counter() - started
    return summary


class PartitionScorer:
    """The function ``mapInArrow`` runs on each partition: Arrow batches of raw rows in,
    Arrow batches of alerts (``SCHEMA``) out. Picklable; holds no model until it runs."""

    def __init__(self, files, run_id, sources, offsets, parquet, on_error, tally):
        self.files, self.run_id, self.sources, self.offsets = files, run_id, sources, offsets
        self.parquet, self.on_error, self.tally = parquet, on_error, tally

    def __call__(self, batches):
        # one LightGBM thread per task: Spark runs tasks side by side
        model = model_for(self.files.value, threads=1)
        seen: dict[tuple[str, int], int] = {}
        for batch in batches:
            raw = batch.to_pandas()
            lines = _number(raw, self.offsets, seen)
            for uri, rows in raw.groupby(FILE_COL, sort=False).indices.items():
                table = self._score(model, uri, raw.iloc[rows], lines[rows])
                if table is not None and table.num_rows:
                    yield from table.to_batches()

    def _score(self, model, uri, raw, lines):
        source = self.sources[uri]
        raw = raw.drop(columns=[FILE_COL, BLOCK_COL])
        if not self.parquet:
            raw, lines, text = _parse_csv(raw["value"].to_numpy(dtype=object), lines, source, model)
        checked = check_frame(
            raw.reset_index(drop=True), model.spec, file=source.shown, lines=lines
        )
        problems = checked.problems
        if problems and not self.parquet:
            problems = quoted_as_written(problems, text(), source.names)
        if problems and self.on_error == "raise":
            raise first_problem(problems)
        table = None
        if len(checked.frame):
            scored = score_batch(model, checked.frame)
            batch = Batch(checked.frame, checked.lines, problems, checked.rejected_rows)
            table = _spark_table(alerts_table(model, source.sha256, self.run_id, batch, scored))
        if len(lines):
            self.tally.add(
                {
                    (uri, int(lines[0])): {
                        "read": len(raw),
                        "rejected": checked.rejected_rows,
                        "problems": problems,
                        "alerts": table.num_rows if table is not None else 0,
                    }
                }
            )
        return table


def _number(raw: pd.DataFrame, offsets: dict, seen: dict) -> np.ndarray:
    """1-based row number in its file of every row of ``raw``; ``seen`` counts the rows of
    each (file, block) already numbered in this partition."""
    lines = np.empty(len(raw), dtype=np.int64)
    keys = pd.MultiIndex.from_arrays([raw[FILE_COL], raw[BLOCK_COL]])
    codes, uniques = pd.factorize(keys)
    for k, (uri, block) in enumerate(uniques):
        rows = np.flatnonzero(codes == k)
        done = seen.get((uri, block), 0)
        lines[rows] = offsets[uri][block] + done + 1 + np.arange(len(rows))
        seen[(uri, block)] = done + len(rows)
    return lines


def _parse_csv(values: np.ndarray, lines: np.ndarray, source: SourceFile, model):
    """Text lines → (raw frame as TableSource reads it, their lines, a callable giving
    {line: text}): header and blank lines dropped (the others keep their numbers)."""
    keep = lines >= source.first_row
    values, lines = values[keep], lines[keep]
    text_cols = {c.name: str for c in model.spec.columns if not c.is_numeric}
    try:
        frame = pd.read_csv(
            io.StringIO("".join(v + "\n" for v in values)),
            header=None,
            names=list(source.names),
            dtype=text_cols,
            skip_blank_lines=False,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        )
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, at, saw = (int(x) for x in found.groups())
            raise DataError(
                f"{source.shown}: line {lines[at - 1]}: expected {expected} fields, found {saw}"
            ) from None
        raise DataError(f"{source.shown}: malformed CSV near line {lines[0]}: {exc}") from None
    blank = frame.isna().all(axis=1).to_numpy()
    return frame[~blank], lines[~blank], lambda: dict(zip(lines.tolist(), values))


def _spark_table(table: pa.Table) -> pa.Table:
    """``alerts_table`` with its fixed-size lists as plain lists (Spark has no fixed size)."""
    columns = []
    for field in SCHEMA:
        column = table.column(field.name).combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            width = column.type.list_size
            offsets = pa.array(np.arange(0, (len(column) + 1) * width, width, dtype=np.int32))
            column = pa.ListArray.from_arrays(offsets, column.flatten())
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _to_store(spark, store, model, input, sources, run_id, out, rows_read, problems) -> int:
    """Add the alerts at ``out`` and the rejected rows as one ``detect`` run; alerts added."""
    from trustshield.store import AlertStore

    combined = hashlib.sha256(
        "".join(sorted(f"{s.sha256}  {uri}\n" for uri, s in sources.items())).encode()
    ).hexdigest()
    sha256 = next(iter(sources.values())).sha256 if len(sources) == 1 else combined
    own = not isinstance(store, AlertStore)
    target = AlertStore(store) if own else store
    added = 0
    try:
        target.record_model(model.manifest, model.encoder.describe_features())
        target.start_run(
            run_id=run_id,
            kind="detect",
            model_id=model.model_id,
            source_path=input,
            source_sha256=sha256,
        )
        try:
            target.add_batch(run_id, SCHEMA.empty_table(), problems, rows_read=rows_read)
            for table in _read_alerts(spark, out):
                added += target.add_batch(run_id, table, (), rows_read=0)
        except BaseException:
            target.finish_run(run_id, "failed")
            raise
        target.finish_run(run_id, "complete")
    finally:
        if own:
            target.close()
    return added


def _read_alerts(spark, out: str):
    """The alerts at ``out`` as Arrow tables of up to STORE_BATCH_ROWS rows."""
    import pyarrow.dataset as ds

    if "://" not in out or out.startswith("file:"):
        local = out[len("file:") :] if out.startswith("file:") else out
        for batch in ds.dataset(local, format="parquet").to_batches(batch_size=STORE_BATCH_ROWS):
            yield pa.Table.from_batches([batch])
    else:  # any other file system: through Spark, collected on this driver
        yield from spark.read.parquet(out).toArrow().to_batches(max_chunksize=STORE_BATCH_ROWS)
