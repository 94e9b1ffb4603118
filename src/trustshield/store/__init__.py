"""EDGE: persistent stores (a DuckDB file by default, PostgreSQL for a shared server)."""

from trustshield.store.alerts import DEFAULT_STORE, AlertStore, alert_id, default_store_path
from trustshield.store.audit import ChainCheck
from trustshield.store.database import Database, connect

__all__ = [
    "DEFAULT_STORE",
    "AlertStore",
    "ChainCheck",
    "Database",
    "alert_id",
    "connect",
    "default_store_path",
]
