"""EDGE: persistent stores (DuckDB by default)."""

from trustshield.store.duckdb_store import (DEFAULT_STORE, AlertStore, alert_id,
                                            default_store_path)

__all__ = ["DEFAULT_STORE", "AlertStore", "alert_id", "default_store_path"]
