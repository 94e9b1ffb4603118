"""Everything one running service shares between requests.

The store holds one database connection; every use of it goes through :meth:`write` or
:meth:`read`, which serialise access with one lock (DuckDB connections are not safe to share
between threads) and name the calling token as the actor of audit events. Scoring itself
runs outside the lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import ModelFiles, TextModel, TrainedModel, served_model_from_files
from trustshield.service.metrics import ServiceMetrics
from trustshield.service.settings import ServiceSettings
from trustshield.store import AlertStore
from trustshield.store.reviews import ReviewQueue
from trustshield.store.settings import SettingsTable
from trustshield.store.tokens import TokenTable

log = logging.getLogger("trustshield.service")
SERVICE_ACTOR = "service"
RETENTION_EVERY_S = 3600.0


class ServiceContext:
    def __init__(self, settings: ServiceSettings):
        from trustshield.service import abuse
        from trustshield.service.access import attach
        from trustshield.service.capacity import rates_for
        from trustshield.service.ratelimit import RateLimiter
        from trustshield.store.throttles import ThrottleTable

        self.settings = settings
        self.lock = threading.RLock()
        self.store = AlertStore(settings.store, actor=SERVICE_ACTOR)
        try:
            self.store.audit.require_sealed("the service does not start")
        except BaseException:
            self.store.close()
            raise
        self.tokens = TokenTable(self.store)
        self.reviews: ReviewQueue = self.store.reviews
        self.options = SettingsTable(self.store)
        self.throttles = ThrottleTable(self.store)
        attach(self)  # token_check, sessions (dashboard sign-in), refusals (audited)
        self.capacity = self.measuring = None  # measured when a model is activated
        self.rates = rates_for(settings, None)
        self.limiter = RateLimiter(rate_per_s=self.rates.rate_per_s, burst=self.rates.burst)
        self.monitor = None
        self.throttled: set[str] = set()  # token ids the probing monitor flagged
        abuse.restore(self)
        self.metrics = ServiceMetrics(self)  # its own registry: one per app
        self.started = time.time()
        self.model: TrainedModel | TextModel | None = None
        self.scorer = None
        self._pseudonymise(settings.pseudonymise)
        active = self.options.get("active_model")
        if active:
            self.activate(*self.load_installed(active))

    def _pseudonymise(self, switch_on: bool) -> None:
        """``serve --pseudonymise`` configures the store to pseudonymise (audited); a store
        that pseudonymises and no key in this process: ConfigError, the service does not start."""
        from trustshield.store.entities import switch_on as configure

        try:
            if switch_on:
                configure(self.store)
            self.store.pseudonymiser()
        except BaseException:
            self.store.close()
            raise

    def activate(self, model: TrainedModel | TextModel, files: ModelFiles | None = None) -> None:
        """Score with ``model`` (built from the verified ``files``) from now on: scoring
        workers build it from those same bytes, and the probing monitor starts afresh with
        the model's boundary band (models trained before the band was recorded get the
        monitor's default); the model's scoring capacity is measured and the per-token
        rates follow it."""
        from trustshield.service.capacity import apply_capacity
        from trustshield.service.probing import ProbeMonitor
        from trustshield.service.scoring_work import ScoringPool

        band = model.training.get("boundary_band")
        self.monitor = ProbeMonitor(
            window=self.settings.probe_window, **({"band": band} if band else {})
        )
        previous, self.scorer = (
            self.scorer,
            ScoringPool(
                model,
                files,
                self.settings.scoring_workers,
                on_restart=lambda exit_: self._worker_restarted(model.model_id, exit_),
            ),
        )
        self.model = model
        if previous is not None:
            previous.close(wait=False)
        self.measuring = apply_capacity(self, model)  # a thread: see service.capacity

    def _worker_restarted(self, model_id: str, exit_) -> None:
        """Audit ``scoring.worker_restarted`` (why the worker ended) and count it."""
        self.metrics.worker_restarts.inc()
        log.warning("scoring %s; starting another", exit_.reason)
        with self.write(SERVICE_ACTOR) as store:
            store.record_event(
                "scoring.worker_restarted",
                model_id,
                {
                    "pid": exit_.pid,
                    "exit_code": exit_.exit_code,
                    "reason": exit_.reason,
                    "restarts": exit_.restarts,
                },
            )

    def close(self) -> None:
        if self.scorer is not None:
            self.scorer.close()
        self.refusals.close()  # counts still held go to the audit log
        with self.lock:
            self.store.close()

    @contextlib.contextmanager
    def read(self):
        with self.lock:
            yield self.store

    @contextlib.contextmanager
    def write(self, actor: str):
        """The store, inside one transaction whose audit events name ``actor``."""
        with self.lock:
            self.store.actor = actor
            try:
                with self.store.transaction():
                    yield self.store
            finally:
                self.store.actor = SERVICE_ACTOR

    def model_folder(self, model_id: str) -> Path:
        if not model_id.replace("-", "").isalnum():
            raise ModelIntegrityError(f"{model_id!r} is not a model id")
        return Path(self.settings.models_dir) / model_id

    def load_installed(self, model_id: str) -> tuple[TrainedModel | TextModel, ModelFiles]:
        """Read an installed model's folder once, verify the signature and every file's
        sha256 on those bytes and build the model (tabular or text) from them; (model,
        verified bytes)."""
        from trustshield.service.registry import verify_installed

        files = verify_installed(self.model_folder(model_id), self.settings.keys_dir)
        return served_model_from_files(files), files

    def apply_retention(self, actor: str = SERVICE_ACTOR) -> dict:
        """Delete alerts older than the retention setting, audited as ``retention.delete``
        (nothing when no retention is set)."""
        from trustshield.service.privacy import apply_retention

        with self.write(actor) as store:
            days = self.options.get("retention_days", self.settings.retention_days)
            if days is None:
                return {"deleted": 0, "days": None, "cutoff": None}
            return apply_retention(store, days=days, now=datetime.now(timezone.utc))

    def keep_retention(self, every_s: float = RETENTION_EVERY_S) -> threading.Thread:
        """Apply retention now and then every ``every_s`` seconds, in a daemon thread."""

        def loop():
            while True:
                try:
                    self.apply_retention()
                except Exception:  # keep trying; the service log says why
                    log.exception("retention could not be applied; trying again in %.0f s", every_s)
                time.sleep(every_s)

        thread = threading.Thread(target=loop, name="retention", daemon=True)
        thread.start()
        return thread
