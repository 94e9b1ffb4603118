"""How many records per second the active model can score here, and the per-token rate
limit derived from it.

**Capacity** is measured when a model is activated, in a thread of its own (activation
neither waits for it nor holds the store while it runs): :data:`SAMPLE_RECORDS` records built
from the model's own training summary (each feature's values drawn from the drift
reference's sample of training values; records that break the spec's relations are
dropped) are scored exactly as a request is — through the scoring pool, parsed,
validated, scored, explained and rendered — :data:`REPEATS` times after a warm-up; the
median time gives ``records_per_s`` of one scoring process. The service scores with
``workers`` processes (the service thread counts as one when there are none).

**Rates.** Unless set explicitly (``ServiceSettings.rate_per_s``), a token may score
:data:`CAPACITY_SHARE` of the total capacity: one token alone cannot take the machine.
Its burst (what it may send at once) is :data:`BURST_SECONDS` of its rate and never less
than ``max_batch``, so a full batch can always pass. Until a model has been measured
(the first seconds after the service starts) the rate is :data:`FALLBACK_RATE`; a model
activated later keeps the rates of the one before until its own capacity is known, and
for good when measuring it fails (the service log says why).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("trustshield.service")

CAPACITY_SHARE = 0.5  #: share of the measured total capacity one token may use
BURST_SECONDS = 2.0  #: a token's burst, in seconds of its rate
SAMPLE_RECORDS = 200  #: records in the timed sample batch
REPEATS = 3  #: timed runs; the median counts
WARM_UP_RECORDS = 5  #: scored first, untimed (worker start, model load, caches)
FALLBACK_RATE = 200.0  #: records/s per token when no capacity has been measured


@dataclass(frozen=True)
class Capacity:
    """Measured scoring speed of one model: ``records_per_s`` of one scoring process
    (records per second), ``workers`` processes scoring in parallel, from a sample of
    ``sample_records`` records scored in a median of ``seconds``."""

    model_id: str
    records_per_s: float
    workers: int
    sample_records: int
    seconds: float

    @property
    def total_per_s(self) -> float:
        """Records per second all scoring processes together get through."""
        return self.records_per_s * self.workers


@dataclass(frozen=True)
class Rates:
    """A token's limit: ``rate_per_s`` records per second, ``burst`` records at once, and
    where the numbers come from (``setting``, ``measured capacity`` or ``fallback``)."""

    rate_per_s: float
    burst: float
    source: str


def rates_for(settings, capacity: Capacity | None) -> Rates:
    """The per-token rates under ``settings`` given ``capacity`` (None: not measured)."""
    if settings.rate_per_s is not None:
        rate, source = float(settings.rate_per_s), "setting"
    elif capacity is not None:
        rate, source = CAPACITY_SHARE * capacity.total_per_s, "measured capacity"
    else:
        rate, source = FALLBACK_RATE, "fallback"
    burst = (
        settings.burst
        if settings.burst is not None
        else max(BURST_SECONDS * rate, float(settings.max_batch))
    )
    return Rates(rate, float(burst), source)


def sample_records(model, n: int, *, seed: int = 0) -> list[dict]:
    """Up to ``n`` valid records of ``model``'s spec drawn from its training summary (see
    the module docstring); fewer (possibly none) when few draws satisfy the spec. A text
    model keeps no training texts: its records are :func:`sample_texts`."""
    from trustshield.decide.text_model import TextModel
    from trustshield.service.batches import read_records

    if isinstance(model, TextModel):
        return [{model.field: text} for text in sample_texts(model.kind, n, seed=seed)]
    rng = np.random.default_rng(seed)
    drawn = 3 * n
    columns = {c.name: _values(model, c, rng, drawn) for c in model.spec.features}
    candidates = [{name: values[i] for name, values in columns.items()} for i in range(drawn)]
    bad = {p.line for p in read_records(candidates, model.spec, max_problems=10 * drawn).problems}
    kept = [r for i, r in enumerate(candidates) if i not in bad][:n]
    return kept if kept and not read_records(kept, model.spec).problems else []


#: characters of the made-up texts a text model's capacity is measured on
PAYLOAD_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 '\"<>=-;/._%()"
DOMAIN_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def sample_texts(kind: str, n: int, *, seed: int = 0) -> list[str]:
    """``n`` made-up texts of a text model's ``kind``, seeded: payloads of 4 to 64
    characters (letters, digits and the punctuation of web attacks), or domain names of a
    6- to 24-character label and a common TLD. Only their speed matters."""
    rng = np.random.default_rng(seed)
    alphabet = np.asarray(list(PAYLOAD_CHARACTERS if kind == "payload" else DOMAIN_CHARACTERS))
    low, high = (4, 65) if kind == "payload" else (6, 25)
    texts = ["".join(rng.choice(alphabet, int(k))) for k in rng.integers(low, high, n)]
    if kind == "payload":
        return texts
    return [f"{t}.{tld}" for t, tld in zip(texts, rng.choice(["com", "net", "org"], n))]


def _values(model, column, rng, n: int) -> list:
    """``n`` values of one feature as a request holds them: training values from the drift
    reference when it has them, else the normal reference's median or categories."""
    drift = (
        model.drift_reference.features_.get(column.name)
        if model.drift_reference is not None
        else None
    )
    if column.type == "categorical":
        names = model.encoder.categories_.get(column.name) or column.values
        codes = list((drift or {}).get("categories", [])) or list(
            model.reference.share_.get(column.name, {})
        )
        codes = [
            int(c)
            for c in codes
            if isinstance(c, (int, float)) and np.isfinite(c) and 0 <= c < len(names)
        ] or [0]
        return [str(names[c]) for c in rng.choice(codes, n)]
    pool = (drift or {}).get("sample") or [model.reference.median_.get(column.name, 0.0)]
    values = rng.choice(np.asarray(pool, dtype=float), n)
    if column.type in ("integer", "binary"):
        return [int(v) for v in values]
    return [float(v) for v in values]


def measure(
    score: Callable[[bytes, int], object],
    model_id: str,
    records: list[dict],
    workers: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Capacity | None:
    """Time ``score(body, max_batch)`` (a ScoredRequest out) on ``records`` after a warm-up;
    None when there are no records or scoring refuses them."""
    if not records:
        return None
    body = json.dumps({"records": records}).encode()
    warm = json.dumps({"records": records[:WARM_UP_RECORDS]}).encode()
    if getattr(score(warm, len(records)), "refusal", None):
        return None
    times = []
    for _ in range(REPEATS):
        started = clock()
        if getattr(score(body, len(records)), "refusal", None):
            return None
        times.append(max(clock() - started, 1e-9))
    seconds = statistics.median(times)
    return Capacity(model_id, len(records) / seconds, max(1, workers), len(records), seconds)


def measure_scorer(scorer, model, workers: int) -> Capacity | None:
    """The capacity of ``model`` on ``scorer`` (a ScoringPool); None, logged, when it
    cannot be measured (activation goes on with the fallback rate)."""
    try:
        records = sample_records(model, SAMPLE_RECORDS)
        return measure(
            lambda body, most: _run(scorer.score(body, max_batch=most)),
            model.model_id,
            records,
            workers,
        )
    except Exception:  # a measurement never stops activation; the log says why
        log.exception("could not measure the scoring capacity of model %s", model.model_id)
        return None


def apply_capacity(context, model) -> threading.Thread:
    """Measure ``model`` on the context's scorer in a daemon thread (returned, started) and
    then set the context's ``capacity``, ``rates`` and limiter from it, unless another
    model was activated meanwhile."""
    scorer = context.scorer

    def run():
        capacity = measure_scorer(scorer, model, context.settings.scoring_workers)
        if context.model is not model or capacity is None:
            return
        context.capacity = capacity
        context.rates = rates_for(context.settings, capacity)
        context.limiter.configure(context.rates.rate_per_s, context.rates.burst)
        log.info(
            "scoring capacity %s; per-token rate %.0f records/s, burst %.0f (%s)",
            capacity,
            context.rates.rate_per_s,
            context.rates.burst,
            context.rates.source,
        )

    thread = threading.Thread(target=run, name=f"capacity-{model.model_id}", daemon=True)
    thread.start()
    return thread


def _run(coroutine):
    """Run ``coroutine`` to its end from synchronous code, in a thread of its own when
    this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
