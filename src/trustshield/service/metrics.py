"""The service's Prometheus metrics, kept by ``prometheus_client`` in one registry per app.

Each :class:`~trustshield.service.context.ServiceContext` owns a :class:`ServiceMetrics`
with its own ``CollectorRegistry`` (never the library's global default registry), so two
apps in one process (tests, a reload) never share or collide on a metric.

Names follow Prometheus conventions (base units, ``_total`` on counters, ``_seconds`` on
durations):

- ``trustshield_http_requests_total{method, route, status}``: every response, by the route
  template that answered (``/v1/alerts/{alert_id}``, not the path asked for, so the label
  set stays bounded; ``unmatched`` when no route did);
- ``trustshield_http_request_duration_seconds{method, route}``: a histogram of the time
  from the request to the start of the response;
- ``trustshield_records_scored_total``, ``trustshield_alerts_total`` (records
  ``POST /v1/score`` flagged), ``trustshield_records_refused_total{reason="rate_limit"}``,
  ``trustshield_scoring_worker_restarts_total`` and
  ``trustshield_score_duration_seconds`` (a histogram of whole scoring requests);
- gauges read when scraped: ``trustshield_scoring_capacity_records_per_second`` (absent
  before a model is measured), ``trustshield_rate_limit_records_per_second`` and
  ``trustshield_rate_limit_burst_records``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

#: request durations: 5 ms to 30 s
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"


class ServiceMetrics:
    """The metrics of one app (see the module docstring); ``render`` writes them."""

    def __init__(self, context=None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "trustshield_http_requests",
            "HTTP responses, by method, route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "trustshield_http_request_duration_seconds",
            "Seconds from a request to the start of its response",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.records_scored = Counter(
            "trustshield_records_scored", "Records scored by POST /v1/score", registry=r
        )
        self.alerts = Counter(
            "trustshield_alerts", "Records POST /v1/score flagged (alert or review)", registry=r
        )
        self.records_refused = Counter(
            "trustshield_records_refused",
            "Records refused before scoring, by reason",
            ["reason"],
            registry=r,
        )
        self.worker_restarts = Counter(
            "trustshield_scoring_worker_restarts",
            "Scoring worker processes replaced after they ended",
            registry=r,
        )
        self.score_seconds = Histogram(
            "trustshield_score_duration_seconds",
            "Seconds to read, score, store and answer one POST /v1/score",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        if context is not None:
            r.register(RateGauges(context))

    def observe_response(self, method: str, route: str | None, status: int, seconds: float):
        route = route or UNMATCHED
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """(the exposition, its content type), in the format the scraper's ``Accept``
        header asks for: Prometheus text 0.0.4 by default, OpenMetrics when asked."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class RateGauges(Collector):
    """The scoring capacity and rate limits in force, read from the context when scraped."""

    def __init__(self, context):
        self.context = context

    def collect(self):
        context = self.context
        if context.capacity is not None:
            yield GaugeMetricFamily(
                "trustshield_scoring_capacity_records_per_second",
                "Measured scoring capacity of the active model, all scoring processes",
                value=context.capacity.total_per_s,
            )
        yield GaugeMetricFamily(
            "trustshield_rate_limit_records_per_second",
            "Records per second each token may send",
            value=context.rates.rate_per_s,
        )
        yield GaugeMetricFamily(
            "trustshield_rate_limit_burst_records",
            "Records a token may send at once",
            value=context.rates.burst,
        )
