"""EDGE: ``detect --engine spark`` with a behaviour model: conn logs to incidents in Spark.

The local engine (``pipeline.behaviour_stream.detect_log``) reads each log on its own and
gives ``detect_incidents`` of it. Here Spark does the same work, split by source host:

1. **Read** (distributed). A plain Zeek TSV conn.log (``#fields`` header, tab separated)
   is read by Spark as text lines (``spark.read.text``, blocks of
   ``spark.sql.files.maxPartitionBytes``); each task types its lines with the local
   block reader (:func:`~trustshield.ingest.zeek_columns.conn_block_arrow`: the same
   pyarrow parse and types, kept as Arrow) and numbers them within their block, so every record keeps its place
   in its file. A log that reader cannot take (JSON lines, a CSV conversion, the
   space-separated labelled variant, a record that does not parse) is read whole in one
   task by the strict reader (``read_conn_table``), as the local engine falls back to it;
   its errors name file, line and field. The records are cached for the second pass.
2. **Site pass** (distributed, then small on the driver). The one site-wide feature,
   ``dst_site_share``, needs each (host, destination)'s first window in the whole log (at
   the close and at each checkpoint): tasks compute it for their records
   (:func:`~trustshield.features.site_share.first_contacts`), Spark merges by minimum,
   and the merged table (one row per pair) is collected and broadcast as Arrow bytes
   (the same job counts the records).
3. **Hosts** (distributed). Records are grouped by (file, hash of the source host)
   (``groupBy().applyInPandas``); each group, sorted back into file order, goes through
   :func:`~trustshield.incidents.sharded.host_incidents` — the local engine's own
   functions: channel windows, checkpoints, flags, attributions, grouping — and, when
   the caller stores them, ``incident_evidence``. Hosts are independent, so the incidents are the local
   engine's: same ids, evidence uids and attributions, bit for bit (tested).
4. The incidents (small) come back to the driver as JSON, per log sorted by first_seen and
   host, where the caller stores them with the store's own code.

Inputs are local files (or a mount every executor sees): each log's header is read on
the driver. Executors need the same ``trustshield`` version installed. A log read by the
strict reader reaches the host groups with every behaviour field (absent ones null): a
CSV or JSON log without ``uid`` or ``conn_state`` would name its evidence differently
from the local engine (Zeek always writes both).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from trustshield.errors import DataError
from trustshield.features.behaviour import CHECKPOINTS, NEEDED
from trustshield.features.site_share import first_contacts, level_columns, merge_contacts
from trustshield.store.behaviour_watch import from_ipc, to_ipc
from trustshield.incidents.evidence import IncidentEvidence, incident_evidence
from trustshield.incidents.grouping import Incident
from trustshield.incidents.model import BehaviourDetection
from trustshield.incidents.sharded import (
    evidence_from_json,
    evidence_to_json,
    host_incidents,
    incident_from_json,
    incident_to_json,
)
from trustshield.ingest.zeek_chunks import read_conn_table
from trustshield.ingest.zeek_columns import (
    BEHAVIOUR_FIELDS,
    NotColumnar,
    _conversion,
    _header,
    conn_block_arrow,
)
from trustshield.pipeline.spark_session import spark_session, task_error

FILE, BLOCK, ROW, BUCKET = "_ts_file", "_ts_block", "_ts_row", "_ts_bucket"
TEXT = ("uid", "id.orig_h", "id.resp_h", "proto", "conn_state")
#: a field's column name in Spark (no dots: Spark reads a dot as a struct field)
COLUMN = {f: f.replace(".", "_") for f in BEHAVIOUR_FIELDS}
FLOW_SCHEMA = ", ".join(
    [f"{FILE} int", f"{BLOCK} bigint", f"{ROW} bigint"]
    + [f"{COLUMN[f]} {'string' if f in TEXT else 'double'}" for f in BEHAVIOUR_FIELDS]
)
FOUND_SCHEMA = f"{FILE} int, incident string, evidence string"
#: records per host group at most (about): more groups than this many records each
GROUP_RECORDS = 250_000
#: Spark's text blocks for a session started here (several tasks per log)
BLOCK_BYTES = "32m"
_UNPARSED = re.compile(r"trustshield-unparsed-log:(\d+)")


@dataclass(frozen=True)
class LogFile:
    """One input log as tasks need it: ``index`` in the input, local ``path``, its
    ``#fields`` ``names`` and unset marker when the columnar reader takes it (``names``
    empty: read whole by the strict reader)."""

    index: int
    path: str
    names: tuple[str, ...]
    unset: str


@dataclass(frozen=True)
class SparkBehaviourRun:
    """Per input log (in input order): (path, [(incident, its evidence or None)] sorted
    by first_seen and host); ``records``: records with a time; ``strict``: logs read whole
    by the strict reader."""

    found: tuple[tuple[str, tuple[tuple[Incident, IncidentEvidence | None], ...]], ...]
    records: int
    strict: tuple[str, ...]


def detect_behaviour_spark(
    model: BehaviourDetection,
    files: list[Path],
    *,
    master: str = "local[*]",
    spark: SparkSession | None = None,
    evidence: bool = True,
) -> SparkBehaviourRun:
    """The incidents of each conn log in ``files`` under ``model``, computed by Spark on
    ``master`` (or the session ``spark``); see the module docstring. Without
    ``evidence`` (what the store needs), each incident's evidence is None."""
    # a running session is used as it is configured; a new one reads in BLOCK_BYTES blocks
    spark = (
        spark
        or SparkSession.getActiveSession()
        or spark_session(master, config={"spark.sql.files.maxPartitionBytes": BLOCK_BYTES})
    )
    logs = [_describe(i, Path(p)) for i, p in enumerate(files)]
    fractions = CHECKPOINTS if model.early else ()
    while True:
        # cached for the second pass (less CPU than reading and typing the lines again)
        flows = _read(spark, logs).persist()
        try:
            contacts, records = _contacts(spark, flows, model.window_s, fractions)
            break
        except Exception as exc:  # a log the columnar reader refused: read it whole
            flows.unpersist()
            unparsed = _UNPARSED.search(str(exc))
            if unparsed is None:
                raise task_error(exc) from None
            k = int(unparsed.group(1))
            logs[k] = LogFile(k, logs[k].path, (), "")
    try:
        groups = max(2 * spark.sparkContext.defaultParallelism, math.ceil(records / GROUP_RECORDS))
        task = HostTask(
            json.dumps(model.to_dict()),
            spark.sparkContext.broadcast(contacts),
            fractions,
            {log.index: _present(log) for log in logs},
            evidence,
        )
        bucketed = flows.withColumn(
            BUCKET, F.pmod(F.hash(F.col(COLUMN["id.orig_h"])), F.lit(groups))
        )
        try:
            # a plain function of (key, group): PySpark counts a callable object's self
            rows = (
                bucketed.groupBy(FILE, BUCKET)
                .applyInPandas(lambda key, group: task(key, group), FOUND_SCHEMA)
                .collect()
            )
        except Exception as exc:
            raise task_error(exc) from None
    finally:
        flows.unpersist()
    per_file: dict[int, list[tuple[Incident, IncidentEvidence | None]]] = {}
    for row in rows:
        incident = incident_from_json(row["incident"])
        shown = None if row["evidence"] is None else evidence_from_json(row["evidence"])
        per_file.setdefault(row[FILE], []).append((incident, shown))
    found = tuple(
        (
            log.path,
            tuple(sorted(per_file.get(log.index, []), key=lambda p: (p[0].first_seen, p[0].host))),
        )
        for log in logs
    )
    strict = tuple(log.path for log in logs if not log.names)
    return SparkBehaviourRun(found, records, strict)


def _describe(index: int, path: Path) -> LogFile:
    if not path.is_file():
        raise DataError(f"--input: no such file: {path} (--engine spark reads local files)")
    names, _, unset = _header(path)
    text = unset.decode("utf-8")
    if _conversion(names, BEHAVIOUR_FIELDS, text) is None:
        return LogFile(index, str(path), (), "")
    return LogFile(index, str(path), tuple(names), text)


def _present(log: LogFile) -> tuple[str, ...] | None:
    """The behaviour fields a columnar log holds (None: as the strict reader gives them)."""
    return tuple(f for f in BEHAVIOUR_FIELDS if f in log.names) if log.names else None


def _read(spark: SparkSession, logs: list[LogFile]) -> DataFrame:
    """Every record of ``logs`` (FLOW_SCHEMA): file index, block and row giving its place
    in its file, and the behaviour fields (unset or absent: null)."""
    parts = []
    columnar = [log for log in logs if log.names]
    if columnar:
        lines = spark.read.text([Path(log.path).resolve().as_uri() for log in columnar]).select(
            F.col("_metadata.file_path").alias("uri"),
            F.col("_metadata.file_block_start").alias(BLOCK),
            F.col("value"),
        )
        by_path = {str(Path(log.path).resolve()): log for log in columnar}
        parts.append(lines.mapInArrow(LineReader(by_path), FLOW_SCHEMA))
    strict = [log for log in logs if not log.names]
    if strict:
        listed = spark.createDataFrame(
            [(log.index, log.path) for log in strict], f"{FILE} int, path string"
        ).repartition(len(strict))
        parts.append(listed.mapInPandas(_read_whole, FLOW_SCHEMA))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


class LineReader:
    """``mapInArrow`` over text lines (uri, block, value): each batch's records typed by
    the local block reader (:func:`~trustshield.ingest.zeek_columns.conn_block_arrow`),
    with their file, block and row within the block, as Arrow (no Python object per
    record). Raises a marked NotColumnar when a record does not parse that way (the driver
    then reads that log whole, as the local engine does)."""

    def __init__(self, logs: dict[str, LogFile]):
        self.logs = logs

    def __call__(self, batches):
        seen: dict[tuple[str, int], int] = {}
        for batch in batches:
            uri = batch.column("uri").dictionary_encode()
            names = uri.dictionary.to_pylist()
            block = batch.column(BLOCK).to_numpy()
            keys = pd.MultiIndex.from_arrays([uri.indices.to_numpy(), block])
            codes, uniques = pd.factorize(keys)
            value = batch.column("value")
            skip = pc.or_(pc.starts_with(value, "#"), pc.equal(value, "")).to_numpy(
                zero_copy_only=False
            )
            for k, (u, b) in enumerate(uniques):
                at = np.flatnonzero(codes == k)
                key = (names[u], int(b))
                done = seen.get(key, 0)
                seen[key] = done + len(at)
                log = self.logs[_local(names[u])]
                rows = done + np.arange(len(at))[~skip[at]]
                if not len(rows):
                    continue
                lines = value.take(pa.array(at[~skip[at]])).to_pylist()
                data = ("\n".join(lines) + "\n").encode("utf-8")
                table = conn_block_arrow(data, list(log.names), BEHAVIOUR_FIELDS, log.unset)
                if table is None:
                    raise NotColumnar(f"trustshield-unparsed-log:{log.index} {log.path}")
                yield from _arrow_rows(table, log.index, int(b), rows).to_batches()


def _arrow_rows(table, index: int, block: int, rows: np.ndarray):
    """The parsed ``table`` in FLOW_SCHEMA's columns (text decoded from dictionaries;
    absent fields null)."""
    n = table.num_rows
    columns = [
        pa.array(np.full(n, index, np.int32)),
        pa.array(np.full(n, block, np.int64)),
        pa.array(rows.astype(np.int64)),
    ]
    for f in BEHAVIOUR_FIELDS:
        kind = pa.string() if f in TEXT else pa.float64()
        if f in table.column_names:
            columns.append(table.column(f).combine_chunks().cast(kind))
        else:
            columns.append(pa.nulls(n, kind))
    return pa.Table.from_arrays(
        columns, names=[FILE, BLOCK, ROW, *(COLUMN[f] for f in BEHAVIOUR_FIELDS)]
    )


def _read_whole(listed):
    """``mapInPandas`` over (file index, path): each log read whole by the strict reader."""
    for part in listed:
        for index, path in zip(part[FILE], part["path"]):
            frame = read_conn_table(path)
            yield _flow_rows(frame, int(index), 0, range(len(frame)))


def _local(uri: str) -> str:
    parsed = urllib.parse.urlparse(uri)
    return str(Path(urllib.parse.unquote(parsed.path)).resolve())


def _flow_rows(frame: pd.DataFrame, index: int, block: int, rows) -> pd.DataFrame:
    """``frame`` (as a Zeek reader types it) in FLOW_SCHEMA's columns: text as str or
    None, numbers as float64 (NaN unset)."""
    out = {FILE: index, BLOCK: block, ROW: pd.array(list(rows), dtype="int64")}
    n = len(frame)
    for f in BEHAVIOUR_FIELDS:
        if f not in frame.columns:
            out[COLUMN[f]] = [None] * n if f in TEXT else float("nan")
        elif f in TEXT:
            column = frame[f].astype(object)
            out[COLUMN[f]] = column.where(column.notna(), None).to_numpy(object)
        else:
            out[COLUMN[f]] = pd.to_numeric(frame[f], errors="coerce").to_numpy(
                "float64", na_value=float("nan")
            )
    return pd.DataFrame(out)


def _contacts(
    spark: SparkSession, flows: DataFrame, window_s: float, fractions: tuple[float, ...]
) -> tuple[dict[int, bytes], int]:
    """({file index: Arrow IPC bytes of the log's merged first contacts}, records with a
    time in all the logs)."""
    levels = level_columns(fractions)
    schema = f"{FILE} int, host string, dst string, n bigint, " + ", ".join(
        f"{c} double" for c in levels
    )

    def partial(parts):
        for part in parts:
            part = part.rename(columns={c: f for f, c in COLUMN.items()})
            for index, rows in part.groupby(FILE, sort=False):
                got = first_contacts(rows, window_s, fractions)
                n = np.zeros(len(got), np.int64)
                timed = int(rows["ts"].notna().sum())
                if not len(got):  # records without a host: counted, no contact
                    got = pd.DataFrame(
                        {"host": [None], "dst": [None], **{c: [np.nan] for c in levels}}
                    )
                    n = np.zeros(1, np.int64)
                n[0] = timed
                yield got.assign(**{FILE: int(index), "n": n})[[FILE, "host", "dst", "n", *levels]]

    merged = (
        flows.select(FILE, *(COLUMN[f] for f in NEEDED))
        .mapInPandas(partial, schema)
        .groupBy(FILE, "host", "dst")
        .agg(F.sum("n").alias("n"), *(F.min(c).alias(c) for c in levels))
        .toPandas()
    )
    records = int(merged["n"].sum())
    out = {}
    for index, rows in merged[merged["host"].notna()].groupby(FILE, sort=False):
        table = merge_contacts([rows.drop(columns=[FILE, "n"])])
        out[int(index)] = to_ipc(pa.Table.from_pandas(table, preserve_index=False))
    return out, records


@lru_cache(maxsize=4)
def _model(text: str) -> BehaviourDetection:
    """The model of its JSON text, built once per Python worker."""
    return BehaviourDetection.from_dict(json.loads(text))


@lru_cache(maxsize=16)
def _contacts_of(data: bytes) -> pd.DataFrame:
    return from_ipc(data).to_pandas()


class HostTask:
    """``applyInPandas`` over (file, host bucket) groups: the group's records back in file
    order, typed as the local reader types them, to incidents and their evidence."""

    def __init__(self, model_json: str, contacts, fractions, present: dict, evidence: bool):
        self.model_json, self.contacts = model_json, contacts
        self.fractions, self.present = tuple(fractions), present
        self.evidence = evidence

    def __call__(self, key: tuple, group: pd.DataFrame) -> pd.DataFrame:
        index = int(key[0])
        model = _model(self.model_json)
        flows = _as_read(group.sort_values([BLOCK, ROW], kind="stable"), self.present[index])
        data = self.contacts.value.get(index)
        if data is None or not len(flows):
            return pd.DataFrame({FILE: [], "incident": [], "evidence": []})
        contacts = _contacts_of(data)
        found = host_incidents(model, flows, contacts, self.fractions)
        return pd.DataFrame(
            {
                FILE: [index] * len(found),
                "incident": [incident_to_json(i) for i in found],
                "evidence": [
                    evidence_to_json(incident_evidence(i, flows)) if self.evidence else None
                    for i in found
                ],
            }
        )


def _as_read(group: pd.DataFrame, present: tuple[str, ...] | None) -> pd.DataFrame:
    """The group's flows as the local reader gives them: only the fields the log holds,
    text as categoricals and uids as Arrow strings (unset: missing), numbers float64."""
    fields = [f for f in BEHAVIOUR_FIELDS if present is None or f in present]
    out = {}
    for f in fields:
        column = group[COLUMN[f]].reset_index(drop=True)
        if f == "uid":
            out[f] = column.astype("string[pyarrow]")
        elif f in TEXT:
            out[f] = column.astype("category")
        else:
            out[f] = column.astype("float64")
    return pd.DataFrame(out)
