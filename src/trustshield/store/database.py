"""EDGE: one small database interface over DuckDB (embedded file) and PostgreSQL (server).

:func:`connect` opens a target: a path, or ``duckdb:PATH``, opens a DuckDB file; a
``postgresql://`` or ``postgres://`` URL opens PostgreSQL through psycopg 3. Both
implementations of :class:`Database` offer the same surface, so the store's SQL is written
once:

- ``execute(sql, params=())`` and ``executemany(sql, rows)`` with ``?`` placeholders on both
  databases; the result has ``fetchone()``, ``fetchall()``, ``fetchmany(n)`` and
  ``description`` (DB-API: the first item of each column entry is its name);
- ``insert_arrow(table, arrow_table, ignore_conflicts=False)`` inserts an Arrow table by
  column name (DuckDB reads it zero-copy; PostgreSQL gets the rows in one pipelined
  batch); ``ignore_conflicts`` skips rows whose key is already stored;
- ``arrow_batches(sql, params, rows)``: the result as Arrow record batches of at most
  ``rows`` rows, streamed (DuckDB hands over its own batches; PostgreSQL's rows are fetched
  ``rows`` at a time and converted);
- ``columns(table)``, ``tables()``, ``close()``, ``dialect`` (``"duckdb"`` or ``"postgres"``) and
  ``target`` (the path, or the URL with any password removed: safe to print and store);
- ``trim_cache(size)``: DuckDB drops cached pages until its buffer pool holds at most
  ``size`` (PostgreSQL: nothing to do, its cache is the server's).

Transactions are plain SQL (``BEGIN TRANSACTION`` / ``COMMIT`` / ``ROLLBACK``); outside one,
each statement commits on its own. Timestamps are read back as timezone-aware datetimes.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from trustshield.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DUCKDB_PREFIX = "duckdb:"
#: DuckDB's buffer pool; written batches are flushed to the file instead of held in memory
MEMORY_LIMIT = os.environ.get("TRUSTSHIELD_STORE_MEMORY", "512MB")
CANNOT_OPEN = "cannot open the store at {target}: expected a reachable database, got {error}"
_names = itertools.count()


def is_url(target) -> bool:
    """True when ``target`` is a PostgreSQL URL."""
    return isinstance(target, str) and target.lower().startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """``url`` without its password (in the user part or as a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def connect(target: str | Path) -> Database:
    """Open ``target``: a PostgreSQL URL, else a DuckDB file path (``duckdb:`` optional)."""
    if is_url(target):
        return PostgresDatabase(str(target))
    text = str(target)
    return DuckDatabase(
        Path(text[len(DUCKDB_PREFIX) :] if text.startswith(DUCKDB_PREFIX) else text)
    )


def frame(result) -> pd.DataFrame:
    """A DataFrame of a result's remaining rows, columns named by its ``description``."""
    names = [column[0] for column in result.description]
    return pd.DataFrame.from_records(result.fetchall(), columns=names)


def records(result) -> list[dict]:
    """The remaining rows of a result as dicts keyed by column name."""
    names = [column[0] for column in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def to_pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders (outside quotes and comments) as psycopg's ``%s`` and
    every literal ``%`` doubled."""
    out, quote, i = [], None, 0
    while i < len(sql):
        char = sql[i]
        if quote is None and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        out.append("%s" if char == "?" and quote is None else "%%" if char == "%" else char)
        i += 1
    return "".join(out)


def _size(text: str) -> str:
    """``text`` when it is a size such as ``512MB`` or ``1.5 GiB`` (it goes into SQL), else
    StoreError."""
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[KMGT]i?B\s*", text, flags=re.IGNORECASE):
        raise StoreError(f"memory limit: expected a size such as '64MB', got {text!r}")
    return text.strip()


def _quoted(names) -> str:
    return ", ".join('"' + str(n).replace('"', '""') + '"' for n in names)


class Database:
    """What the store needs of a database connection (see the module docstring)."""

    dialect = ""
    target = ""
    #: the driver's error classes (what a refused statement raises)
    errors: tuple[type[Exception], ...] = ()

    def execute(self, sql: str, params=()):
        raise NotImplementedError

    def executemany(self, sql: str, rows) -> None:
        raise NotImplementedError

    def insert_arrow(self, table: str, data, *, ignore_conflicts: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def arrow_batches(self, sql: str, params=(), rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """The result of ``sql`` as Arrow record batches of at most ``rows`` rows."""
        import pyarrow as pa

        result = self.execute(sql, params)
        names = [column[0] for column in result.description]
        while batch := result.fetchmany(rows):
            columns = list(zip(*batch))
            yield pa.RecordBatch.from_arrays([pa.array(c) for c in columns], names=names)

    def trim_cache(self, size: str) -> None:
        """Drop cached pages until the database's cache in this process holds at most
        ``size`` (e.g. ``"32MB"``). Here: nothing to do (a server keeps its own cache)."""

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``, in table order."""
        return [column[0] for column in self.execute(f"SELECT * FROM {table} LIMIT 0").description]

    def tables(self) -> set[str]:
        """Names of the tables in the connection's current schema (reads; creates nothing)."""
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return {str(row[0]) for row in rows}

    def _insert_sql(self, table: str, names, source: str, ignore_conflicts: bool) -> str:
        return f"INSERT INTO {table} ({_quoted(names)}) {source}" + (
            " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        )


class DuckDatabase(Database):
    """A DuckDB file; the parent folder is created when missing."""

    dialect = "duckdb"

    def __init__(self, path: Path):
        import duckdb

        self.path = path
        self.target = str(path)
        self.errors = (duckdb.Error,)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.limit = MEMORY_LIMIT
        try:
            self._db = duckdb.connect(str(path), config={"memory_limit": self.limit})
        except duckdb.Error as error:
            raise StoreError(CANNOT_OPEN.format(target=path, error=error)) from None
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("SET enable_progress_bar = false")  # a store prints nothing

    def execute(self, sql: str, params=()):
        return self._db.execute(sql, list(params) if params else None)

    def executemany(self, sql: str, rows) -> None:
        self._db.executemany(sql, [list(r) for r in rows])

    def insert_arrow(self, table: str, data, *, ignore_conflicts: bool = False) -> None:
        """Zero-copy insert of the Arrow table ``data`` by column name."""
        name = f"incoming_{next(_names)}"
        self._db.register(name, data)
        try:
            self._db.execute(
                self._insert_sql(
                    table,
                    data.column_names,
                    f"SELECT {_quoted(data.column_names)} FROM {name}",
                    ignore_conflicts,
                )
            )
        finally:
            self._db.unregister(name)

    def trim_cache(self, size: str) -> None:
        """Drop cached pages until DuckDB's buffer pool holds at most ``size`` (e.g.
        ``"32MB"``); its limit stays the store's. DuckDB keeps the pages it wrote in its pool
        until the pool is full (its limit, 512 MB by default), so a process that keeps
        appending (``watch``) grows by what it stored; those pages are in the file. DuckDB
        has no call to drop them, but lowering its limit evicts them (pages of the file
        first, then, to reach ``size``, data not checkpointed yet to its temporary folder),
        so the limit is lowered to ``size`` and set back. Nothing is dropped when the pool
        cannot shrink that far (the limit then stays as it was)."""
        target = _size(size)
        try:
            self._db.execute(f"SET memory_limit = '{target}'")
        except self.errors:
            return
        self._db.execute(f"SET memory_limit = '{_size(self.limit)}'")

    def arrow_batches(self, sql: str, params=(), rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """DuckDB's own record batches, streamed (no Python object per value)."""
        reader = self._db.sql(sql, params=list(params) if params else None).to_arrow_reader(rows)
        yield from reader

    def close(self) -> None:
        self._db.close()


class PostgresDatabase(Database):
    """A PostgreSQL database through psycopg 3, in autocommit mode (explicit transactions)."""

    dialect = "postgres"

    def __init__(self, url: str):
        import psycopg

        self.target = redact(url)
        self.errors = (psycopg.Error,)
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as error:
            message = str(error).replace(url, self.target)
            raise StoreError(CANNOT_OPEN.format(target=self.target, error=message)) from None
        self._db.execute("SET TIME ZONE 'UTC'")
        self._db.execute("SET client_min_messages = warning")

    def execute(self, sql: str, params=()):
        if not params:
            return self._db.execute(sql)
        return self._db.execute(to_pyformat(sql), list(params))

    def executemany(self, sql: str, rows) -> None:
        rows = [list(r) for r in rows]
        if rows:
            self._db.cursor().executemany(to_pyformat(sql), rows)

    def insert_arrow(self, table: str, data, *, ignore_conflicts: bool = False) -> None:
        """Insert the rows of the Arrow table ``data`` by column name, in one batch."""
        if not data.num_rows:
            return
        names = data.column_names
        values = f"VALUES ({', '.join('?' * len(names))})"
        rows = zip(*(column.to_pylist() for column in data.columns))
        self.executemany(self._insert_sql(table, names, values, ignore_conflicts), rows)

    def close(self) -> None:
        self._db.close()
