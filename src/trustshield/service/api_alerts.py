"""Alerts and the review queue: list, filter, sort and count, read one with its
explanation, review.

The list filters on the record's own time (``since``/``until`` on ``event_time``, e.g.
Zeek's ``ts``; ``created_at`` is when the alert was stored), addresses (``ip`` either side,
``src_ip``, ``dst_ip``, ``host`` as an address prefix), ports, category, technique, action,
suspicion and review status, and sorts by suspicion, event time or stored time with a stable
tiebreak (:mod:`trustshield.store.alert_queries`). A query parameter an endpoint does not
take is refused with 422 naming it (:mod:`trustshield.service.query_check`).

An alert's ``attributions`` list every feature with its value as the record held it and its
exact contribution, largest first; ``base`` + Σ contributions = ``suspicion``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_serializer

from trustshield.errors import DataError
from trustshield.explain.text_alerts import text_view
from trustshield.features.encoder import as_written
from trustshield.records import AlertEntities
from trustshield.service.access import Caller, requires
from trustshield.service.errors import ApiError
from trustshield.service.paging import page_json
from trustshield.privacy import identity_value, is_pseudonym
from trustshield.service.query_check import known_query_only
from trustshield.store.alert_queries import (
    SUMMARY,
    AlertFilter,
    AlertSort,
    alert_counts,
    alert_page,
)
from trustshield.store.entities import pseudonymising

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[Depends(known_query_only)])
Action = Literal["alert", "review"]
ReviewStatus = Literal["open", "confirmed", "dismissed"]
ReviewFilter = Literal["open", "confirmed", "dismissed", "none"]
NOT_AN_ADDRESS = "{name} must be an IPv4 or IPv6 address (or its hmac: pseudonym); got {value!r}"
SortKey = Literal["suspicion", "event_time", "created_at"]
Order = Literal["desc", "asc"]
#: the stored fields one alert's detail answers with (the page's fields, then its own)
DETAIL_FIELDS = (*(c for c in SUMMARY if c != "entities"), "line", "label", "base")


class Entities(BaseModel):
    """Who and what an alert is about (:class:`trustshield.records.AlertEntities`); fields
    not known are left out. Identities (src_ip, dst_ip, user) are ``hmac:`` pseudonyms when
    the store pseudonymises."""

    ts: float | None = Field(None, description="connection start, seconds since the epoch (UTC)")
    uid: str | None = Field(None, description="the sensor's connection id (Zeek uid)")
    src_ip: str | None = Field(None, description="originator address, or its pseudonym")
    src_port: int | None = Field(None, ge=0, le=65535, description="originator port")
    dst_ip: str | None = Field(None, description="responder address, or its pseudonym")
    dst_port: int | None = Field(None, ge=0, le=65535, description="responder port")
    proto: str | None = Field(None, description="transport protocol: tcp, udp, icmp, ...")
    user: str | None = Field(None, description="user name, or its pseudonym")

    @model_serializer(mode="wrap")
    def _known_only(self, handler) -> dict:
        return {name: value for name, value in handler(self).items() if value is not None}


def entities_json(entities: AlertEntities | None) -> dict:
    """An alert's decoded entities as the API shows them (typed; {} when none)."""
    return {} if entities is None else entities.as_dict()


class AlertSummary(BaseModel):
    alert_id: str
    model_id: str
    action: str
    suspicion: float
    category: str | None
    technique: str | None
    component: str | None
    rationale: str | None = Field(description="why, in one sentence")
    event_time: datetime | None = Field(
        description="the record's own time (e.g. Zeek's ts), UTC; null when the input has none"
    )
    created_at: datetime | None = Field(description="when the alert was stored, UTC")
    entities: Entities
    review_status: str | None


class AlertPage(BaseModel):
    items: list[AlertSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class FeatureContribution(BaseModel):
    feature: str
    value: str
    contribution: float


class CharacterContribution(BaseModel):
    char: str
    contribution: float


class ReviewItem(BaseModel):
    alert_id: str
    model_id: str | None
    status: str
    reason: str | None
    queued_at: datetime | None
    queued_by: str | None
    comment: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None


class AlertDetail(AlertSummary):
    line: int
    label: str | None
    base: float
    attributions: list[FeatureContribution]
    characters: list[CharacterContribution] | None = Field(
        default=None,
        description="a text model's alert (a payload, a domain name): the term of each "
        "character of the text as sent, in order (base + Σ terms = suspicion)",
    )
    review: ReviewItem | None


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["confirmed", "dismissed"]
    comment: str = Field(min_length=1, max_length=2000, description="why: what the analyst saw")


class ReviewPick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    limit: int
    offset: int


class FeedbackItem(BaseModel):
    alert_id: str
    model_id: str | None
    outcome: str
    comment: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    category: str | None
    label: str = Field(description="attack (confirmed) or normal (dismissed)")
    features: dict[str, str]


class Feedback(BaseModel):
    items: list[FeedbackItem]


class Count(BaseModel):
    value: str | None = Field(description="the category, technique or hour (ISO, UTC)")
    count: int


class AlertCounts(BaseModel):
    """The matching alerts counted by category, ATT&CK technique and hour of event time
    (UTC; alerts without an event time are not in ``hour``)."""

    total: int
    category: list[Count]
    technique: list[Count]
    hour: list[Count]


@dataclass(frozen=True)
class ListQuery:
    """The filters and sort ``GET /v1/alerts`` and ``GET /v1/alerts/counts`` take (see
    :class:`~trustshield.store.alert_queries.AlertFilter`)."""

    action: Action | None = None
    category: str | None = None
    technique: str | None = None
    model_id: str | None = None
    min_suspicion: float | None = None
    review_status: ReviewFilter | None = None
    since: datetime | None = None
    until: datetime | None = None
    ip: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    host: str | None = None
    port: int | None = None
    dst_port: int | None = None
    sort: SortKey = "event_time"
    order: Order = "desc"

    def filter(self, store) -> AlertFilter:
        """The store filter; addresses searched as the store keeps them (pseudonymised
        when it pseudonymises: ConfigError without the key)."""
        given = {f.name: getattr(self, f.name) for f in fields(AlertFilter)}
        for name in ("since", "until"):
            if given[name] is not None and given[name].tzinfo is None:
                given[name] = given[name].replace(tzinfo=timezone.utc)  # naive means UTC
        keyed = store.pseudonymiser() if pseudonymising(store) else None
        for name, side in (("ip", "src_ip"), ("src_ip", "src_ip"), ("dst_ip", "dst_ip")):
            if given[name] is not None and not is_pseudonym(given[name]):
                try:
                    given[name] = (
                        identity_value(side, given[name].strip())
                        if keyed is None
                        else keyed.pseudonymise(given[name].strip(), field=side)
                    )
                except DataError:  # 422 naming the parameter
                    raise DataError(
                        NOT_AN_ADDRESS.format(name=name, value=given[name][:80])
                    ) from None
        return AlertFilter(**given)

    def sorting(self) -> AlertSort:
        return AlertSort(self.sort, self.order)


def list_query(
    action: Action | None = None,
    category: str | None = Query(None, max_length=100),
    technique: str | None = Query(None, max_length=100),
    model_id: str | None = Query(None, max_length=100),
    min_suspicion: float | None = Query(None, ge=-1e6, le=1e6),
    review_status: ReviewFilter | None = None,
    since: datetime | None = Query(None, description="event time at or after (ISO 8601; UTC)"),
    until: datetime | None = Query(None, description="event time before (ISO 8601; UTC)"),
    ip: str | None = Query(None, max_length=256, description="source or destination address"),
    src_ip: str | None = Query(None, max_length=256),
    dst_ip: str | None = Query(None, max_length=256),
    host: str | None = Query(
        None, max_length=256, description="source or destination address starting with this"
    ),
    port: int | None = Query(None, ge=0, le=65535, description="source or destination port"),
    dst_port: int | None = Query(None, ge=0, le=65535),
    sort: SortKey = "event_time",
    order: Order = "desc",
) -> ListQuery:
    return ListQuery(**{k: v for k, v in locals().items()})


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    request: Request,
    query: ListQuery = Depends(list_query),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
    caller: Caller = Depends(requires("alerts.list")),
) -> dict:
    """Alerts matching every given filter, in the chosen order (ties: newest stored first,
    then by input file and line)."""
    with request.app.state.context.read() as store:
        items, total = alert_page(
            store.db, query.filter(store), limit=limit, offset=offset, sort=query.sorting()
        )
    for item in items:
        item["entities"] = entities_json(item["entities"])
    return page_json(items, total, limit, offset)


@router.get("/alerts/counts", response_model=AlertCounts)
def count_alerts(
    request: Request,
    query: ListQuery = Depends(list_query),
    caller: Caller = Depends(requires("alerts.list")),
) -> dict:
    """The alerts matching the filters of ``GET /v1/alerts``, counted."""
    with request.app.state.context.read() as store:
        counts = alert_counts(store.db, query.filter(store))
    shown = {
        name: [
            {"value": v.isoformat() if isinstance(v, datetime) else v, "count": n} for v, n in pairs
        ]
        for name, pairs in counts.items()
    }
    return {"total": sum(n for _, n in counts["category"]), **shown}


def alert_detail(context, alert_id: str) -> dict:
    """One alert with decoded feature values and contributions, largest first."""
    with context.read() as store:
        alert = store.alert(alert_id)
        review = context.reviews.item(alert_id)
    values = np.asarray(alert["attributions"], dtype=float)
    features = alert["features"]
    order = np.argsort(-np.abs(values))
    text = text_view(features, alert["feature_values"], alert["attributions"])
    if text is not None:  # one term per character: the text is one feature, shown whole
        return {
            **{k: alert[k] for k in DETAIL_FIELDS},
            "entities": entities_json(alert["entities"]),
            "review_status": review["status"] if review else None,
            "review": review,
            "attributions": [
                {"feature": features[0]["name"], "value": text[0], "contribution": values.sum()}
            ],
            "characters": [{"char": c, "contribution": v} for c, v in text[1]],
        }
    return {
        **{k: alert[k] for k in DETAIL_FIELDS},
        "entities": entities_json(alert["entities"]),
        "review_status": review["status"] if review else None,
        "review": review,
        "attributions": [
            {
                "feature": features[j]["name"],
                "value": as_written(alert["feature_values"][j], features[j]),
                "contribution": float(values[j]),
            }
            for j in order
        ],
    }


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: str, request: Request, caller: Caller = Depends(requires("alerts.get"))
) -> dict:
    return alert_detail(request.app.state.context, alert_id)


@router.post("/alerts/{alert_id}/review", response_model=ReviewItem)
def review_alert(
    alert_id: str,
    body: ReviewDecision,
    request: Request,
    caller: Caller = Depends(requires("alerts.review")),
) -> dict:
    context = request.app.state.context
    with context.write(caller.actor):
        return context.reviews.decide(alert_id, body.outcome, body.comment)


@router.get("/reviews", response_model=ReviewPage)
def list_reviews(
    request: Request,
    status: ReviewStatus | None = "open",
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
    caller: Caller = Depends(requires("reviews.list")),
) -> dict:
    context = request.app.state.context
    with context.read():
        items = context.reviews.items(status=status, limit=limit, offset=offset)
    return {"items": items, "limit": limit, "offset": offset}


@router.post("/reviews", response_model=ReviewItem, status_code=201)
def pick_review(
    body: ReviewPick, request: Request, caller: Caller = Depends(requires("reviews.pick"))
) -> dict:
    context = request.app.state.context
    with context.write(caller.actor):
        if context.reviews.item(body.alert_id) is not None:
            raise ApiError(409, f"alert {body.alert_id} is already in the review queue")
        return context.reviews.pick(body.alert_id, body.note)


@router.get("/reviews/export", response_model=Feedback)
def export_reviews(request: Request, caller: Caller = Depends(requires("reviews.export"))) -> dict:
    """Closed reviews as labelled records for the next training run (audited)."""
    context = request.app.state.context
    with context.write(caller.actor) as store:
        items = context.reviews.feedback()
        features = {}
        for item in items:
            if item["model_id"] not in features:
                features[item["model_id"]] = (store.model(item["model_id"]) or {}).get(
                    "features", []
                )
    for item in items:
        spec = features[item["model_id"]]
        values = item.pop("feature_values") or []
        item["label"] = "attack" if item["outcome"] == "confirmed" else "normal"
        text = text_view(spec, values, values)  # a text model's alert: its text, whole
        item["features"] = (
            {spec[0]["name"]: text[0]}
            if text is not None
            else {f["name"]: as_written(v, f) for v, f in zip(values, spec)}
        )
    return {"items": items}
