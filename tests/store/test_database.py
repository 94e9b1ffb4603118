"""The database wrapper: one interface, ``?`` placeholders and the same results on DuckDB
and PostgreSQL; URLs never show their password."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from database_errors import DATABASE_ERRORS

from trustshield.errors import StoreError
from trustshield.store.database import (
    DuckDatabase,
    PostgresDatabase,
    connect,
    frame,
    records,
    redact,
    to_pyformat,
)


@pytest.fixture
def db(store_target):
    database = connect(store_target)
    database.execute(
        "CREATE TABLE things (id BIGINT PRIMARY KEY, name VARCHAR,"
        " score DOUBLE PRECISION, marks DOUBLE PRECISION[])"
    )
    yield database
    database.close()


def test_placeholders_become_pyformat_outside_quotes_and_percent_doubles():
    sql = "SELECT '?', \"a?\", x FROM t WHERE y LIKE 'a%' AND z = ? -- why? 5%\nAND w = ?"
    assert to_pyformat(sql) == (
        "SELECT '?', \"a?\", x FROM t WHERE y LIKE 'a%%' AND z = %s -- why? 5%%\nAND w = %s"
    )
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://soc:s3cret@db.example:5432/ts", "postgresql://soc@db.example:5432/ts"),
        (
            "postgres://soc@db/ts?sslmode=require&password=s3cret",
            "postgres://soc@db/ts?sslmode=require",
        ),
        ("postgresql://db/ts", "postgresql://db/ts"),
    ],
)
def test_redact_removes_only_the_password(url, shown):
    assert redact(url) == shown


def test_connect_picks_the_database_by_target(tmp_path):
    for target in (tmp_path / "a.duckdb", f"duckdb:{tmp_path / 'b.duckdb'}"):
        database = connect(target)
        assert isinstance(database, DuckDatabase) and database.dialect == "duckdb"
        database.close()
    assert (tmp_path / "b.duckdb").is_file() and not Path("duckdb:").exists()


def test_same_results_on_both_databases(db):
    db.executemany(
        "INSERT INTO things VALUES (?, ?, ?, ?)",
        [(1, "50% off", 0.5, [1.0, 2.5]), (2, "what?", None, None)],
    )
    result = db.execute(
        "SELECT id, name, score, marks FROM things WHERE name LIKE '%off' OR id = ? ORDER BY id",
        [2],
    )
    assert [c[0] for c in result.description] == ["id", "name", "score", "marks"]
    assert result.fetchall() == [(1, "50% off", 0.5, [1.0, 2.5]), (2, "what?", None, None)]
    many = db.execute("SELECT id FROM things ORDER BY id")
    assert many.fetchmany(1) == [(1,)] and many.fetchmany(5) == [(2,)]
    assert db.execute("SELECT count(*) FROM things WHERE name = '?'").fetchone() == (0,)
    assert db.columns("things") == ["id", "name", "score", "marks"]
    assert records(db.execute("SELECT id, name FROM things WHERE id = ?", [1])) == [
        {"id": 1, "name": "50% off"}
    ]
    assert frame(db.execute("SELECT id, score FROM things ORDER BY id"))["id"].tolist() == [1, 2]


def test_insert_arrow_by_name_can_skip_stored_keys(db):
    batch = pa.table(
        {
            "name": ["a", "b"],
            "id": pa.array([1, 2], pa.int64()),
            "marks": pa.FixedSizeListArray.from_arrays(pa.array([1.0, 2.0, 3.0, 4.0]), 2),
        }
    )
    db.insert_arrow("things", batch)
    db.insert_arrow(
        "things",
        pa.table({"id": pa.array([2, 3], pa.int64()), "name": ["x", "c"]}),
        ignore_conflicts=True,
    )
    rows = db.execute("SELECT id, name, score, marks FROM things ORDER BY id").fetchall()
    assert rows == [(1, "a", None, [1.0, 2.0]), (2, "b", None, [3.0, 4.0]), (3, "c", None, None)]
    with pytest.raises(DATABASE_ERRORS):
        db.insert_arrow("things", pa.table({"id": pa.array([3], pa.int64())}))


def test_a_transaction_rolls_back_on_both(db):
    db.execute("BEGIN TRANSACTION")
    db.execute("INSERT INTO things (id) VALUES (?)", [7])
    db.execute("ROLLBACK")
    assert db.execute("SELECT count(*) FROM things").fetchone()[0] == 0


@pytest.mark.postgres
def test_the_postgres_target_hides_its_password(fresh_postgres):
    url = fresh_postgres.replace("postgres@", "postgres:not-checked@")
    database = connect(url)
    assert isinstance(database, PostgresDatabase) and database.dialect == "postgres"
    assert "not-checked" not in database.target and database.target == fresh_postgres
    database.close()


@pytest.mark.postgres
def test_an_unreachable_server_is_a_store_error_without_the_password(postgres_url):
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    url = f"postgresql://soc:hunter2@127.0.0.1:{port + 1 if port < 65535 else port - 1}/ts?connect_timeout=2"
    with pytest.raises(StoreError) as info:
        connect(url)
    assert "hunter2" not in str(info.value) and "postgresql://soc@127.0.0.1" in str(info.value)


def _cached_mb(database) -> float:
    rows = database.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    return rows[0][0] / 2**20


def _limit(database) -> str:
    return database.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def _append(database, batches: int, start: int) -> None:
    """``batches`` commits of 2 MB of incompressible numbers each, checkpointed."""
    import numpy as np

    rng = np.random.default_rng(start)
    for k in range(batches):
        values = rng.random(250_000)
        ids = np.arange(250_000, dtype=np.int64) + (start + k) * 250_000
        database.insert_arrow("pages", pa.table({"id": ids, "x": values}))
        database.execute("CHECKPOINT")


def test_duckdb_keeps_what_it_wrote_cached_until_the_cache_is_trimmed(tmp_path):
    database = connect(tmp_path / "pages.duckdb")
    database.execute("CREATE TABLE pages (id BIGINT, x DOUBLE)")
    limit = _limit(database)
    _append(database, 12, 0)  # 24 MB written
    cached = _cached_mb(database)
    database.trim_cache("8MB")
    trimmed = _cached_mb(database)
    _append(database, 2, 12)  # the store goes on as before
    assert _limit(database) == limit
    assert database.execute("SELECT count(*) FROM pages").fetchall()[0][0] == 14 * 250_000
    database.close()
    assert cached >= 16  # the pages written stay in the pool...
    assert trimmed <= 8  # ...until trimmed


def test_a_cache_size_must_be_a_size(tmp_path):
    database = connect(tmp_path / "size.duckdb")
    with pytest.raises(StoreError, match="expected a size"):
        database.trim_cache("64MB'; DROP TABLE x; --")
    database.close()
