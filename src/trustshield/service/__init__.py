"""EDGE: the REST service (FastAPI): scoring API, auth and roles, dashboard pages, and the
pure parts it calls (rate limits, probing monitor, privacy)."""
