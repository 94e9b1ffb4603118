"""What a refused write raises on either store backend (DuckDB or PostgreSQL)."""

import duckdb
import psycopg

DATABASE_ERRORS = (duckdb.Error, psycopg.Error)
