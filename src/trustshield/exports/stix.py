"""Alerts as a STIX 2.1 bundle, every object built (and so checked) by the ``stix2`` library.

The bundle holds:

- one **Identity** for TrustShield (``identity_class`` ``system``), the creator of every
  other object and the place where alerts are sighted;
- one **Attack-Pattern** per ATT&CK technique the alerts name, with
  ``external_references`` ``{source_name: mitre-attack, external_id: T…, url}`` (alerts
  without a technique get one Attack-Pattern per attack category, without that reference);
- per alert a **Sighting** of its Attack-Pattern (``where_sighted_refs`` TrustShield,
  ``first_seen`` = ``last_seen`` = the record's own time when known, else the insert time,
  ``count`` 1, ``description`` the rationale, the ATT&CK reference repeated in its
  ``external_references``) with TrustShield's own properties as ``x_trustshield_*``
  custom properties (alert id, decision, suspicion, model, run, line, largest
  contributions); when the alert names an IP address, an **Observed-Data** of the
  connection (a ``network-traffic`` object with its ``ipv4-addr`` / ``ipv6-addr`` ends) is
  referenced by the Sighting's ``observed_data_refs``.

Ids are deterministic (UUIDv5 of the alert id, technique or address), so exporting the same
alerts twice gives the same objects; an address or connection seen again is written once.
Pseudonymised addresses (``hmac:…``) are not addresses: they stay as custom properties.
The bundle is written object by object, so its size is not bounded by memory; its envelope
(``type``, ``id``, ``objects``) is the one STIX 2.1 defines.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from trustshield.exports.ecs import technique_reference, top_contributions
from trustshield.exports.query import StoredAlert
from trustshield.privacy import is_pseudonym

#: namespace of TrustShield's deterministic STIX ids
NAMESPACE = uuid.UUID("5b0c2e0e-6f0f-5c5e-9d2b-7472757374ab")
#: when the TrustShield identity and the attack patterns were first defined
DEFINED = datetime(2024, 1, 1, tzinfo=timezone.utc)
MITRE = "mitre-attack"


def sdo_id(kind: str, key: str) -> str:
    """A deterministic STIX id of ``kind`` for ``key``."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{key}')}"


IDENTITY_ID = sdo_id("identity", "trustshield")


def identity():
    import stix2

    return stix2.Identity(
        id=IDENTITY_ID,
        name="TrustShield",
        identity_class="system",
        description="AI-based intrusion detection with explained, audited decisions",
        created=DEFINED,
        modified=DEFINED,
    )


def mitre_reference(technique: str) -> dict[str, str]:
    return {
        "source_name": MITRE,
        "external_id": technique,
        "url": technique_reference(technique),
    }


class StixWriter:
    """Turns alerts into STIX objects, each object once (see the module docstring)."""

    def __init__(self) -> None:
        self.written: set[str] = set()
        self.patterns: dict[tuple[str, str], Any] = {}  # (key, name) → its Attack-Pattern
        self.addresses: dict[str, Any] = {}  # address → its ipv4-addr / ipv6-addr

    def objects(self, alerts: Iterable[StoredAlert]) -> Iterator[Any]:
        """The objects of ``alerts`` not written before (the Identity first of all)."""
        if IDENTITY_ID not in self.written:
            self.written.add(IDENTITY_ID)
            yield identity()
        for alert in alerts:
            yield from self._alert(alert)

    def _once(self, obj) -> Iterator[Any]:
        if obj.id not in self.written:
            self.written.add(obj.id)
            yield obj

    def _alert(self, alert: StoredAlert) -> Iterator[Any]:
        import stix2

        pattern = self._pattern(alert)
        yield from self._once(pattern)
        observed = self._observed(alert)
        observed_ids = []
        for obj in observed:
            yield from self._once(obj)
        if observed:
            observed_ids.append(observed[-1].id)
        seen = alert.timestamp_text
        custom = _custom(alert)
        yield stix2.Sighting(
            id=sdo_id("sighting", alert.alert_id),
            created_by_ref=IDENTITY_ID,
            created=alert.created_text,
            modified=alert.created_text,
            sighting_of_ref=pattern.id,
            where_sighted_refs=[IDENTITY_ID],
            first_seen=seen,
            last_seen=seen,
            count=1,
            description=alert.rationale or None,
            external_references=[mitre_reference(alert.technique)] if alert.technique else None,
            observed_data_refs=observed_ids or None,
            allow_custom=True,
            **custom,
        )

    def _pattern(self, alert: StoredAlert):
        import stix2

        if alert.technique:
            key = alert.technique
            name = alert.model.technique_names.get(key.partition(".")[0], key)
            refs = [mitre_reference(key)]
        else:
            key = f"category:{alert.category or 'unknown'}"
            name = f"TrustShield attack category {alert.category or 'unknown'}"
            refs = None
        if (key, name) not in self.patterns:  # built once: stix2 checks every object made
            self.patterns[key, name] = stix2.AttackPattern(
                id=sdo_id("attack-pattern", key),
                created_by_ref=IDENTITY_ID,
                created=DEFINED,
                modified=DEFINED,
                name=name,
                external_references=refs,
            )
        return self.patterns[key, name]

    def _observed(self, alert: StoredAlert) -> list[Any]:
        """The address objects, connection and Observed-Data of ``alert`` (empty when it
        names no IP address); the Observed-Data last."""
        import stix2

        ends = {}
        for side, value in (("src_ref", alert.src_ip), ("dst_ref", alert.dst_ip)):
            if value is not None and not is_pseudonym(value):
                if value not in self.addresses:
                    kind = (
                        stix2.IPv6Address
                        if ipaddress.ip_address(value).version == 6
                        else stix2.IPv4Address
                    )
                    self.addresses[value] = kind(value=value)
                ends[side] = self.addresses[value]
        if not ends:
            return []
        first = next(iter(ends.values()))
        protocols = [alert.proto.lower()] if alert.proto else [first.type.split("-")[0]]
        ports = {
            k: v
            for k, v in (("src_port", alert.src_port), ("dst_port", alert.dst_port))
            if v is not None
        }
        traffic = stix2.NetworkTraffic(
            protocols=protocols,
            start=alert.event_text,
            **{side: obj.id for side, obj in ends.items()},
            **ports,
        )
        observed = stix2.ObservedData(
            id=sdo_id("observed-data", alert.alert_id),
            created_by_ref=IDENTITY_ID,
            created=alert.created_text,
            modified=alert.created_text,
            first_observed=alert.timestamp_text,
            last_observed=alert.timestamp_text,
            number_observed=1,
            object_refs=[traffic.id, *(obj.id for obj in ends.values())],
        )
        return [*ends.values(), traffic, observed]


def _custom(alert: StoredAlert) -> dict[str, Any]:
    values: dict[str, Any] = {
        "x_trustshield_alert_id": alert.alert_id,
        "x_trustshield_action": alert.action,
        "x_trustshield_suspicion": alert.suspicion,
        "x_trustshield_model_id": alert.model_id,
        "x_trustshield_run_id": alert.run_id,
        "x_trustshield_line": alert.line,
        "x_trustshield_category": alert.category,
        "x_trustshield_component": alert.component,
    }
    if alert.top:
        values["x_trustshield_top_contributions"] = top_contributions(alert)
    for name, value in alert.entities().items():
        if name in ("src_ip", "dst_ip") and not is_pseudonym(value):
            continue  # a real address is in the Observed-Data
        values[f"x_trustshield_{name}"] = value
    return {k: v for k, v in values.items() if v is not None}


def bundle_start() -> str:
    """The bundle's opening text (a fresh bundle id), up to its first object."""
    envelope = json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}"})
    return envelope[:-1] + ', "objects": [\n'


BUNDLE_END = "\n]}\n"
