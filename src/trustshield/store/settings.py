"""EDGE: service settings kept in the store, so every change is audited and survives restarts.

Keys are :data:`KEYS`; values are JSON. Changing one appends a ``config.change`` event
holding the old and the new value in the same transaction.
"""

from __future__ import annotations

import json

from trustshield.errors import StoreError

SCHEMA = "CREATE TABLE IF NOT EXISTS service_settings (key VARCHAR PRIMARY KEY, value VARCHAR)"
#: key → (what it holds, check of a value)
KEYS = {
    "active_model": (
        "the model id the service scores with",
        lambda v: v is None or isinstance(v, str),
    ),
    "pseudonymise": (
        "store identities (IPs, user names) as keyed HMACs",
        lambda v: isinstance(v, bool),
    ),
    "retention_days": (
        "delete alerts older than this many days (null keeps them)",
        lambda v: (
            v is None or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 36_500)
        ),
    ),
}


class SettingsTable:
    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def get(self, key: str, default=None):
        _known(key)
        rows = self.store.db.execute(
            "SELECT value FROM service_settings WHERE key = ?", [key]
        ).fetchall()  # fetched to the end: DuckDB then
        return default if not rows else json.loads(rows[0][0])  # takes the next statement

    def all(self) -> dict:
        rows = self.store.db.execute("SELECT key, value FROM service_settings").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set(self, key: str, value) -> bool:
        """Store ``value``; True (and a ``config.change`` event) when it changed."""
        what, valid = _known(key)
        if not valid(value):
            raise StoreError(f"setting {key!r} ({what}): value {value!r} is not allowed")
        with self.store.transaction():
            old = self.get(key)
            if old == value and self._present(key):
                return False
            self.store.db.execute("DELETE FROM service_settings WHERE key = ?", [key])
            self.store.db.execute(
                "INSERT INTO service_settings VALUES (?, ?)", [key, json.dumps(value)]
            )
            self.store.record_event("config.change", key, {"old": old, "new": value})
        return True

    def _present(self, key: str) -> bool:
        return bool(
            self.store.db.execute("SELECT 1 FROM service_settings WHERE key = ?", [key]).fetchall()
        )


def _known(key: str):
    if key not in KEYS:
        raise StoreError(f"unknown setting {key!r}; settings are {sorted(KEYS)}")
    return KEYS[key]
