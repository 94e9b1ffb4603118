"""What a running service is configured with; read from the command line and environment.

Secrets never live here: the pseudonymisation key comes from ``$TRUSTSHIELD_PSEUDONYM_KEY``,
the audit key from ``$TRUSTSHIELD_AUDIT_KEY``, database passwords from the store URL in
``$TRUSTSHIELD_STORE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8700


@dataclass(frozen=True)
class ServiceSettings:
    """``store`` is a DuckDB path or a PostgreSQL URL; ``models_dir`` holds installed signed
    models (one folder per model id); ``keys_dir`` the keyring whose keys are trusted;
    ``reports_dir`` trust reports (``<model_id>/report.json`` and ``report.html``).
    Rates are records per second per token; ``max_batch`` records per request;
    ``scoring_workers`` processes share the scoring (Python runs one thread at a time per
    process). Request limits are in the last block (see :mod:`trustshield.service.limits`
    and :mod:`trustshield.service.capacity`)."""

    store: str
    models_dir: Path
    keys_dir: Path | None = None
    reports_dir: Path | None = None
    host: str = LOOPBACK
    port: int = DEFAULT_PORT
    max_batch: int = 1000
    throttled_rate_per_s: float = 10.0
    pseudonymise: bool = False
    retention_days: int | None = None
    probe_window: int = 2000
    scoring_workers: int = 0  # processes that parse and score; 0 scores in a service thread
    # --- sign-in (see service.attempts, service.token_check, store.sessions, service.refusals)
    # failed token checks allowed per window of auth_window_s seconds: per client on one
    # token id, per client in all; past auth_failures_per_token failures on one id, only
    # clients that have not failed on it may try (no plain per-id lock-out)
    auth_window_s: float = 300.0
    auth_failures_per_client_token: int = 5
    auth_failures_per_client: int = 20
    auth_failures_per_token: int = 20
    auth_verify_concurrency: int = 1  # argon2 verifications at once
    auth_verify_queue: int = 8  # more may wait; beyond that 503 at once
    session_lifetime_s: float = 8 * 3600.0  # dashboard session: absolute lifetime
    session_idle_s: float = 30 * 60.0  # ... and ended after this long unused
    refusal_window_s: float = 60.0  # refusals aggregated per window in the audit log
    # --- request limits: sizes in bytes, rates in records per second per token ----------
    #: None derives the rate from the active model's measured scoring capacity
    #: (:data:`~trustshield.service.capacity.CAPACITY_SHARE` of it); a number is used as set
    rate_per_s: float | None = None
    #: records a token may send at once; None: BURST_SECONDS of its rate, at least max_batch
    burst: float | None = None
    max_body_bytes: int = 64 * 1024  # any other request body (settings, reviews)
    max_records_body_bytes: int = 8 * 1024 * 1024  # POST /v1/score and /v1/redteam/*
    max_bundle_body_bytes: int = 64 * 1024 * 1024  # POST /v1/models (a signed model bundle)
