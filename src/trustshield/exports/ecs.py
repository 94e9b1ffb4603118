"""Alerts as Elastic Common Schema (ECS) documents, one JSON object per alert.

Every ECS field written here is in :data:`ECS_FIELDS` with its ECS type, as the ECS field
reference gives it (Elastic Common Schema 8.12, ``generated/csv/fields.csv`` of the ECS
repository; the same names and types are in the field reference at
elastic.co/guide/en/ecs/current/ecs-field-reference.html). TrustShield's own fields sit
under the custom ``trustshield`` object (:data:`CUSTOM_FIELDS`, types in the same terms),
as ECS advises for fields it does not define.

Mapping (an absent value leaves its field out):

- ``@timestamp``: the record's own time (``entities.ts``) when known, else the insert
  time; ``event.created``: the insert time; ``event.start``: the record's own time;
- ``event.kind`` ``alert``, ``event.category`` ``[network, intrusion_detection]``,
  ``event.type`` ``[info]``, ``event.action`` the decision (``alert`` / ``review``),
  ``event.id`` the alert id, ``event.risk_score`` the suspicion (higher = more suspicious);
- ``source.*`` / ``destination.*``: ``address`` always, ``ip`` only for a real address (a
  pseudonym, ``hmac:…``, is not an IP), ``port``; ``network.transport`` the protocol;
  ``user.name`` (or ``user.hash`` for a pseudonym); ``related.ip`` / ``related.user``;
- ``rule.id`` the model id, ``rule.name`` the detector component, ``rule.category`` the
  attack category, ``rule.ruleset`` the data set spec;
- ``threat.framework`` ``MITRE ATT&CK``, ``threat.technique.{id,name,reference}`` (a
  sub-technique ``T1234.001`` also fills ``threat.technique.subtechnique.*``);
- ``message``: the rationale; ``labels.trustshield_action``: the decision;
- ``trustshield.*``: what ECS has no field for, and nothing it has: run, input file
  (sha256) and line, detector component, the record's label when the input had one, the
  connection id, the attribution base and the largest exact contributions
  (``top_contributions``: feature and contribution, largest magnitude first). The alert
  id is ``event.id``, the model id ``rule.id``, the suspicion ``event.risk_score``.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from trustshield.exports.query import ModelInfo, StoredAlert
from trustshield.privacy import PREFIX, is_pseudonym

ECS_VERSION = "8.12.0"
#: every ECS field this module writes → its ECS type (ECS 8.12 field reference)
ECS_FIELDS = {
    "@timestamp": "date",
    "ecs.version": "keyword",
    "message": "match_only_text",
    "labels": "object",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.action": "keyword",
    "event.id": "keyword",
    "event.created": "date",
    "event.start": "date",
    "event.module": "keyword",
    "event.dataset": "keyword",
    "event.risk_score": "float",
    "observer.vendor": "keyword",
    "observer.product": "keyword",
    "observer.type": "keyword",
    "source.address": "keyword",
    "source.ip": "ip",
    "source.port": "long",
    "destination.address": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "network.transport": "keyword",
    "user.name": "keyword",
    "user.hash": "keyword",
    "related.ip": "ip",
    "related.user": "keyword",
    "rule.id": "keyword",
    "rule.name": "keyword",
    "rule.category": "keyword",
    "rule.ruleset": "keyword",
    "threat.framework": "keyword",
    "threat.technique.id": "keyword",
    "threat.technique.name": "keyword",
    "threat.technique.reference": "keyword",
    "threat.technique.subtechnique.id": "keyword",
    "threat.technique.subtechnique.reference": "keyword",
}
#: TrustShield's custom fields (under ``trustshield``), in ECS type terms
CUSTOM_FIELDS = {
    "trustshield.run_id": "keyword",
    "trustshield.source_sha256": "keyword",
    "trustshield.line": "long",
    "trustshield.component": "keyword",
    "trustshield.label": "keyword",
    "trustshield.connection_uid": "keyword",
    "trustshield.attribution_base": "float",
    "trustshield.top_contributions.feature": "keyword",
    "trustshield.top_contributions.contribution": "float",
}
CATEGORIES = ["network", "intrusion_detection"]
EVENT_TYPE = ["info"]
OBSERVER = {"vendor": "TrustShield", "product": "TrustShield", "type": "ids"}
ECS = {"version": ECS_VERSION}
ATTACK_URL = "https://attack.mitre.org/techniques/{path}/"
FRAMEWORK = "MITRE ATT&CK"


def iso(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 with microseconds and ``Z``."""
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drops "+00:00"


def technique_reference(technique: str) -> str:
    """The ATT&CK page of a technique id (``T1498``) or sub-technique (``T1498.001``)."""
    return ATTACK_URL.format(path=technique.replace(".", "/"))


def _pseudonym(value: str) -> bool:
    return value.startswith(PREFIX) and is_pseudonym(value)  # the prefix test is the fast one


def top_contributions(alert: StoredAlert) -> list[dict[str, Any]]:
    """The alert's largest contributions by magnitude, as ``{feature, contribution}``."""
    return [{"feature": f, "contribution": c} for f, c in alert.top]


def ecs_document(alert: StoredAlert) -> dict[str, Any]:
    """The ECS document of one alert (see the module docstring for the mapping)."""
    event: dict[str, Any] = {
        "kind": "alert",
        "category": CATEGORIES,
        "type": EVENT_TYPE,
        "action": alert.action,
        "id": alert.alert_id,
        "created": alert.created_text,
        "module": "trustshield",
        "dataset": "trustshield.alerts",
        "risk_score": alert.suspicion,
    }
    if alert.event_text is not None:
        event["start"] = alert.event_text
    doc: dict[str, Any] = {
        "@timestamp": alert.timestamp_text,
        "ecs": ECS,
        "event": event,
        "observer": OBSERVER,
        "labels": {"trustshield_action": alert.action},
        "rule": _rule(alert),
    }
    if alert.rationale:
        doc["message"] = alert.rationale
    _entities(alert, doc)
    if alert.technique:
        doc["threat"] = _threat(alert.technique, alert.model)
    doc["trustshield"] = _custom(alert)
    return doc


def _rule(alert: StoredAlert) -> dict[str, Any]:
    rule = {"id": alert.model_id, "name": f"trustshield {alert.component or 'model'}"}
    if alert.category:
        rule["category"] = alert.category
    if alert.model.spec:
        rule["ruleset"] = alert.model.spec
    return rule


def _entities(alert: StoredAlert, doc: dict[str, Any]) -> None:
    related_ip = []
    for side, ip, port in (
        ("source", alert.src_ip, alert.src_port),
        ("destination", alert.dst_ip, alert.dst_port),
    ):
        part: dict[str, Any] = {}
        if ip is not None:
            part["address"] = ip
            if not _pseudonym(ip):
                part["ip"] = ip
                if ip not in related_ip:
                    related_ip.append(ip)
        if port is not None:
            part["port"] = port
        if part:
            doc[side] = part
    if alert.proto is not None:
        doc["network"] = {"transport": alert.proto.lower()}
    related: dict[str, Any] = {}
    if alert.user is not None:
        doc["user"] = {"hash" if _pseudonym(alert.user) else "name": alert.user}
        related["user"] = [alert.user]
    if related_ip:
        related["ip"] = related_ip
    if related:
        doc["related"] = related


@functools.lru_cache(maxsize=1024)
def _threat(technique: str, model: ModelInfo) -> dict[str, Any]:
    """The ``threat`` object of a technique (the same object for every alert naming it)."""
    names = model.technique_names
    parent, _, sub = technique.partition(".")
    part: dict[str, Any] = {"id": [parent], "reference": [technique_reference(parent)]}
    if parent in names:
        part["name"] = [names[parent]]
    if sub:
        part["subtechnique"] = {"id": [technique], "reference": [technique_reference(technique)]}
    return {"framework": FRAMEWORK, "technique": part}


def _custom(alert: StoredAlert) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for name in ("run_id", "source_sha256", "line", "component", "label"):
        value = getattr(alert, name)
        if value is not None:
            custom[name] = value
    if alert.uid is not None:
        custom["connection_uid"] = alert.uid
    if alert.base is not None:
        custom["attribution_base"] = alert.base
    if alert.top:
        custom["top_contributions"] = top_contributions(alert)
    return custom
