"""EDGE: a quiet SparkSession, and the files of an input as Spark and Hadoop see them.

Everything here runs on the driver. Files are reached through Hadoop's ``FileSystem`` inside
the driver JVM, so a local path, ``file:``, ``hdfs://`` or ``s3a://`` URL all work alike,
and no file's bytes cross into Python (sha256 is computed by ``java.security``).

Line numbering: Spark reads a file in blocks (``_metadata.file_block_start``, bytes from the
file's start); every text line or Parquet row belongs to exactly one block, and a block's
rows reach a task in file order. :func:`block_offsets` counts the rows of every block once,
so a task can number its rows without seeing the rest of the file.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from trustshield import errors
from trustshield.atomic_files import write_atomic
from trustshield.errors import DataError, DatasetMissing
from trustshield.specs import DatasetSpec

PARQUET_SUFFIXES = (".parquet", ".pq")
FILE_COL, BLOCK_COL = "_ts_file", "_ts_block"
#: settings of every session :func:`spark_session` builds (``config`` may override them)
DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "65536",  # TableSource's batch size
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.executorEnv.OMP_NUM_THREADS": "1",
}
LOCAL = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
#: log4j2 settings for a driver JVM this module starts: errors only, on stderr
QUIET_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""
_TASK_ERROR = re.compile(r"trustshield\.errors\.(\w+): ([^\n]*)")


def spark_session(
    master: str = "local[*]", *, config: dict | None = None, log_level: str = "ERROR"
) -> SparkSession:
    """The active session, or a new one on ``master`` (``local[N]``, ``local[*]``,
    ``spark://host:7077``, ``yarn``, ...). UI off; in local mode the driver binds to
    127.0.0.1 and Python workers run this interpreter. A driver JVM started here logs
    errors only (QUIET_LOG4J); then ``log_level``. ``config`` entries win over these."""
    builder = SparkSession.builder.master(master).appName("trustshield-detect")
    settings = {
        **DEFAULTS,
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_log4j_file()}",
    }
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings.update(LOCAL)
    for key, value in {**settings, **(config or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    return spark


def _log4j_file() -> str:
    path = os.path.join(tempfile.gettempdir(), "trustshield-spark-log4j2.properties")
    if not os.path.isfile(path):
        write_atomic(Path(path), QUIET_LOG4J.encode("utf-8"), mode=0o600)
    return path


def read_input(
    spark: SparkSession, path: str, *, parquet: bool, columns: list[str] | None = None
) -> DataFrame:
    """Rows of ``path`` (file or folder) with the file URI and block start of each row:
    columns ``_ts_file``, ``_ts_block`` and ``value`` (one text line, for CSV) or
    ``columns`` (Parquet; all when None)."""
    if parquet:
        frame = spark.read.parquet(path)
        chosen = [F.col(f"`{c}`") for c in (columns or frame.columns)]
    else:
        frame = spark.read.text(path)
        chosen = [F.col("value")]
    return frame.select(
        F.col("_metadata.file_path").alias(FILE_COL),
        F.col("_metadata.file_block_start").alias(BLOCK_COL),
        *chosen,
    )


def block_offsets(frame: DataFrame) -> dict[str, dict[int, int]]:
    """{file URI: {block start: rows of that file before the block}}; one Spark job that
    counts the rows of each block."""
    counts = frame.groupBy(FILE_COL, BLOCK_COL).count().collect()
    per_file: dict[str, list[tuple[int, int]]] = {}
    for row in counts:
        per_file.setdefault(row[FILE_COL], []).append((row[BLOCK_COL], row["count"]))
    offsets = {}
    for uri, blocks in per_file.items():
        before, offsets[uri] = 0, {}
        for start, count in sorted(blocks):
            offsets[uri][start] = before
            before += count
    return offsets


@dataclass(frozen=True)
class HadoopFiles:
    """Files through the driver JVM's Hadoop ``FileSystem`` for the session's config."""

    spark: SparkSession

    def _path(self, uri: str):
        jvm = self.spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())

    def is_parquet(self, uri: str) -> bool:
        """True for a Parquet file, or a folder whose visible files include Parquet ones."""
        path, fs = self._path(uri)
        if not fs.getFileStatus(path).isDirectory():
            return uri.lower().endswith(PARQUET_SUFFIXES)
        names = [s.getPath().getName() for s in fs.listStatus(path)]
        return any(n.lower().endswith(PARQUET_SUFFIXES) for n in names if n[0] not in "._")

    def exists(self, uri: str) -> bool:
        path, fs = self._path(uri)
        return bool(fs.exists(path))

    def sha256(self, uri: str) -> str:
        """sha256 of the file's bytes, hashed inside the JVM."""
        jvm = self.spark.sparkContext._jvm
        path, fs = self._path(uri)
        digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
        stream = jvm.java.security.DigestInputStream(fs.open(path), digest)
        jvm.org.apache.hadoop.io.IOUtils.copyBytes(
            stream, jvm.java.io.OutputStream.nullOutputStream(), 1 << 20, True
        )
        return bytes(digest.digest()).hex()

    def first_line(self, uri: str) -> str:
        jvm = self.spark.sparkContext._jvm
        path, fs = self._path(uri)
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(fs.open(path), "UTF-8"))
        try:
            return reader.readLine() or ""
        finally:
            reader.close()

    def delete(self, uri: str) -> None:
        """Remove ``uri`` (recursively) if it exists; never raises (used while failing)."""
        try:
            path, fs = self._path(uri)
            fs.delete(path, True)
        except Exception:  # the error being handled matters more than a leftover folder
            pass

    def rename(self, source: str, target: str) -> None:
        src, fs = self._path(source)
        dst, _ = self._path(target)
        if not fs.rename(src, dst):
            raise OSError(f"could not rename {source} to {target}")

    def replace_output(self, staging: str, out: str) -> None:
        """Put the folder ``staging`` in place of ``out``; only a finished Spark output
        (with ``_SUCCESS``) is replaced."""
        if not self.exists(out):
            self.rename(staging, out)
            return
        if not self.exists(f"{out}/_SUCCESS"):
            self.delete(staging)
            raise DataError(
                f"{out} exists and is not an alerts output of an earlier run; "
                "refusing to replace it (choose another out folder)"
            )
        old = sibling(out, f".old-{uuid.uuid4().hex[:8]}")
        self.rename(out, old)
        self.rename(staging, out)
        self.delete(old)


@dataclass(frozen=True)
class SourceFile:
    """One input file as tasks need it: name in messages, sha256, CSV layout."""

    shown: str
    sha256: str
    names: tuple[str, ...] = ()  # CSV column names in file order
    first_row: int = 1  # CSV line of the first record (2 after a header)


def describe(
    files: HadoopFiles, uri: str, given: str, spec: DatasetSpec, *, parquet: bool
) -> SourceFile:
    """The file's sha256 (refused when a file the spec records was altered) and, for CSV,
    its columns as TableSource reads them: from the header, or by the first line's width."""
    shown = shown_path(uri, given)
    sha256 = files.sha256(uri)
    known = {f.name: f for f in spec.files}.get(shown.rsplit("/", 1)[-1])
    if known is not None and known.sha256 != sha256:
        raise DatasetMissing(
            f"{shown}: altered: expected sha256 {known.sha256} "
            f"(recorded in spec {spec.name}), found {sha256}"
        )
    if parquet:
        return SourceFile(shown, sha256)
    first = files.first_line(uri).split(",")
    if spec.header:
        names = [name.strip() for name in first]
        check_columns(shown, spec, names)
        return SourceFile(shown, sha256, tuple(names), 2)
    for names in (spec.column_names, spec.feature_names):
        if len(first) == len(names):
            return SourceFile(shown, sha256, tuple(names), 1)
    raise DataError(
        f"{shown}: line 1 has {len(first)} fields; spec {spec.name} expects "
        f"{len(spec.column_names)} (all columns) or {len(spec.feature_names)} "
        "(features only)"
    )


def check_columns(shown: str, spec: DatasetSpec, names) -> None:
    missing = [f for f in spec.feature_names if f not in names]
    if missing:
        raise DataError(f"{shown}: missing columns required by spec {spec.name}: {missing}")


def sibling(uri: str, suffix: str) -> str:
    """A hidden sibling of ``uri``: ``<parent>/.<name><suffix>``."""
    head, _, name = uri.rpartition("/")
    return f"{head}/.{name}{suffix}" if head else f".{name}{suffix}"


def task_error(exc: Exception) -> Exception:
    """The TrustShield error a task raised (Spark wraps it in its own), else ``exc``."""
    found = _TASK_ERROR.search(str(exc))
    kind = getattr(errors, found.group(1), None) if found else None
    if not (isinstance(kind, type) and issubclass(kind, errors.TrustShieldError)):
        return exc
    return kind(found.group(2))


def shown_path(uri: str, given: str) -> str:
    """How messages name a file: ``given`` when the input was that one file, else the
    file's local path (``file:`` URIs) or its URI."""
    parsed = urllib.parse.urlparse(uri)
    local = urllib.parse.unquote(parsed.path) if parsed.scheme in ("", "file") else uri
    if given and os.path.abspath(given) == local or given == uri:
        return given
    return local
