"""Names for flagged channel windows: what the host was doing, with measured evidence.

Rules are generic (no address, port or scenario constant): each behaviour has a test on
the channel window's behaviour features (``features.behaviour``) and a strength, the
measured value over its threshold. A flagged row is named by the first rule, in
:data:`RULES` order, that holds; when none holds it is a ``rare destination`` (flagged by
a detector for being unlike the site or like known malicious behaviour, without one of
the stronger patterns). Thresholds are round numbers describing the pattern, not fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: behaviour name → ATT&CK techniques it is evidence of
TECHNIQUES: dict[str, tuple[str, ...]] = {
    "horizontal scan": ("T1046",),
    "vertical scan": ("T1046",),
    "flood": ("T1498",),
    "brute force": ("T1110",),
    "large upload": ("T1041",),
    "beacon": ("T1071",),
    "long connection": ("T1071",),
    "rare destination": ("T1071",),
}
#: ATT&CK technique names, for reports
TECHNIQUE_NAMES = {
    "T1041": "Exfiltration Over C2 Channel",
    "T1046": "Network Service Discovery",
    "T1071": "Application Layer Protocol",
    "T1110": "Brute Force",
    "T1498": "Network Denial of Service",
    "T1499": "Endpoint Denial of Service",
    "T1571": "Non-Standard Port",
}
#: destination ports below this are registered (well-known) ports; a command channel on
#: a higher TCP port is evidence of T1571
WELL_KNOWN_PORTS = 1024
SCAN_TARGETS = 10  #: destinations on one port (or ports on one destination) in a window
FLOOD_PER_MIN = 30.0  #: connections per minute to one channel, over the whole window
BRUTE_CONNS = 20  #: answered short connections to one service in a window
UPLOAD_BYTES = 10_000_000  #: bytes sent to one outside destination in a window
LONG_S = 3600.0  #: a connection lasting longer than this
BEACON_CONNS = 4  #: connections needed to call a channel regular
BEACON_DISPERSION = 0.7  #: MAD / median of the intervals at most this


@dataclass(frozen=True)
class Named:
    """A behaviour name, its strength (≥ 1 when its rule holds; higher = clearer) and the
    ATT&CK techniques it is evidence of."""

    name: str
    strength: float
    techniques: tuple[str, ...]


Rule = tuple[str, Callable[[Mapping[str, float]], float]]


def _ratio(value: float, limit: float) -> float:
    return float(value) / limit if limit else 0.0


RULES: tuple[Rule, ...] = (
    ("horizontal scan", lambda f: _ratio(f["dsts_on_port"], SCAN_TARGETS)),
    ("vertical scan", lambda f: _ratio(f["ports_on_dst"], SCAN_TARGETS)),
    ("flood", lambda f: _ratio(f["rate_per_min"], FLOOD_PER_MIN)),
    (
        "brute force",
        lambda f: (
            _ratio(f["n_conn"], BRUTE_CONNS)
            if f["failed_share"] < 0.5
            and f["duration_mean"] < 10
            and f["interval_dispersion"] > BEACON_DISPERSION
            else 0.0
        ),
    ),
    (
        "large upload",
        lambda f: (
            _ratio(f["upload_external"], UPLOAD_BYTES)
            if f["orig_bytes"] > 2 * f["resp_bytes"]
            else 0.0
        ),
    ),
    (
        "beacon",
        lambda f: (
            _ratio(BEACON_DISPERSION, max(f["interval_dispersion"], 1e-9))
            if f["n_conn"] >= BEACON_CONNS
            else 0.0
        ),
    ),
    ("long connection", lambda f: _ratio(f["duration_max"], LONG_S)),
)


def name_behaviour(features: Mapping[str, float], *, dport: int, proto: str) -> Named:
    """The behaviour of one flagged channel window (``features``: its behaviour features by
    name), with T1571 added for a command channel on a TCP port ≥ 1024 and T1499 instead
    of T1498 for a flood of a local destination."""
    for name, strength in RULES:
        value = strength(features)
        if value >= 1.0:
            return Named(name, value, _techniques(name, features, dport, proto))
    rarity = float(features.get("dst_rarity_host", 0.0))
    return Named(
        "rare destination", rarity, _techniques("rare destination", features, dport, proto)
    )


def _techniques(
    name: str, features: Mapping[str, float], dport: int, proto: str
) -> tuple[str, ...]:
    out = TECHNIQUES[name]
    if name == "flood" and features.get("dst_local", 0.0) >= 1.0:
        out = ("T1499",)
    if name in ("beacon", "long connection", "rare destination") and proto == "tcp":
        if dport >= WELL_KNOWN_PORTS:
            out = (*out, "T1571")
    return out
