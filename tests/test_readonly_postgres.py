"""A command that only reads, given a PostgreSQL database that holds no store, refuses with
an error naming the database and the missing tables and creates nothing there; given a
database that holds a store, it reads it (opening a store gives it the tables a newer
version adds, as on DuckDB)."""

from __future__ import annotations

import psycopg
import pytest

from trustshield.cli import main
from trustshield.store import AlertStore
from trustshield.store.alerts import STORE_TABLES

pytestmark = pytest.mark.postgres

READERS = [
    ["explain", "some-alert"],
    ["alerts", "list"],
    ["alerts", "export"],
    ["incidents", "list"],
    ["incidents", "export"],
    ["tokens", "list"],
    ["audit", "verify"],
]


def tables(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.mark.parametrize("argv", READERS, ids=" ".join)
def test_a_reader_refuses_a_database_without_a_store_and_creates_no_table(
    argv, fresh_postgres, capsys, monkeypatch
):
    monkeypatch.delenv("TRUSTSHIELD_STORE", raising=False)
    assert main([*argv, "--store", fresh_postgres]) == 1
    err = capsys.readouterr().err
    assert "no store at postgresql://" in err and "only reads" in err
    assert f"lacks the store's tables {', '.join(STORE_TABLES)}" in err
    assert tables(fresh_postgres) == []


def test_the_default_store_from_the_environment_is_refused_the_same_way(
    fresh_postgres, capsys, monkeypatch
):
    monkeypatch.setenv("TRUSTSHIELD_STORE", fresh_postgres)
    assert main(["alerts", "list"]) == 1
    assert "($TRUSTSHIELD_STORE)" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert "no models registered: no store at postgresql://" in capsys.readouterr().out
    assert tables(fresh_postgres) == []


def test_a_partly_created_store_names_only_the_missing_tables(fresh_postgres, capsys):
    AlertStore(fresh_postgres).close()
    with psycopg.connect(fresh_postgres, autocommit=True) as db:
        db.execute("DROP TABLE rejected_rows")
    before = tables(fresh_postgres)
    assert main(["alerts", "list", "--store", fresh_postgres]) == 1
    err = capsys.readouterr().err
    assert "lacks the store's tables rejected_rows;" in err
    assert tables(fresh_postgres) == before


def test_a_reader_reads_a_database_that_holds_a_store(fresh_postgres, capsys):
    AlertStore(fresh_postgres).close()
    before = tables(fresh_postgres)
    assert set(STORE_TABLES) <= set(before)
    assert main(["alerts", "list", "--store", fresh_postgres, "--json"]) == 0
    assert main(["tokens", "list", "--store", fresh_postgres, "--json"]) == 0
    assert capsys.readouterr().err == ""
    assert set(before) <= set(tables(fresh_postgres))  # an existing store is opened as it is
