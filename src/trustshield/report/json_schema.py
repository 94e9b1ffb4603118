"""The published JSON Schema (draft 2020-12) of ``report.json``, shipped as package data."""

from __future__ import annotations

import json
from importlib import resources

SCHEMA_FILE = "report.schema.json"


def schema() -> dict:
    """The parsed JSON Schema of ``report.json`` (a fresh dict on every call)."""
    return json.loads((resources.files("trustshield.report") / SCHEMA_FILE).read_text("utf-8"))
