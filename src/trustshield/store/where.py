"""A SQL WHERE clause built up from conditions that must all hold, with its ``?``
parameters (portable SQL: DuckDB and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Where:
    """Conditions joined with AND, in the order added, and their parameters in order."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        """``clause`` with one ``?`` per value of ``params``."""
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, given: object, columns: Iterable[str], prefix: str = "") -> None:
        """``{prefix}{column} = ?`` for each of ``columns`` whose attribute of ``given``
        is not None."""
        for column in columns:
            value = getattr(given, column)
            if value is not None:
                self.add(f"{prefix}{column} = ?", value)

    def sql(self) -> str:
        """`` WHERE …`` (with its leading space), or "" when there is no condition."""
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""
