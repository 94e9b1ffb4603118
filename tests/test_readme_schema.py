"""The README's table of the store's tables and columns is the schema a new store has."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from trustshield.store.alerts import AlertStore

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## The store: tables and columns"
ROW = re.compile(r"^\| `(?P<table>\w+)` \| [^|]+ \| (?P<columns>[^|]+) \|$")


def readme_schema() -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, DuckDB type), ...]}`` as the README's table states them."""
    text = README.read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    tables = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            pairs = [c.strip().split(" ", 1) for c in match["columns"].split(",")]
            tables[match["table"]] = [(name, kind) for name, kind in pairs]
    return tables


def store_schema(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, DuckDB type), ...]}`` of the DuckDB store at ``path``."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    return tables


def test_readme_lists_every_table_and_column_of_a_new_store(tmp_path):
    path = tmp_path / "new.duckdb"
    AlertStore(path).close()
    documented = readme_schema()
    assert documented, f"no table rows under {HEADING!r} in README.md"
    assert store_schema(path) == documented
