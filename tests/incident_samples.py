"""Small incidents built by hand (with their flows) for store, API and page tests."""

from conn_flows import T0, beacon, chatter, flows
from trustshield.incidents.evidence import incident_evidence
from trustshield.incidents.grouping import Behaviour, Incident

HOST = "10.0.0.5"


def sample(host: str = HOST, start: float = T0, severity: str = "medium", n: int = 40):
    """(incident, evidence, flows): a beacon of ``n`` flows from ``host`` every 30 s plus
    the host's ordinary traffic; the beacon's flows are the evidence."""
    records = beacon(host, "203.0.113.9", 6667, 30.0, n, start=start)
    records += chatter(host, 30, start=start, seed=3)
    frame = flows(records)
    frame["uid"] = [f"U{host.replace('.', '')}-{int(start)}-{i}" for i in range(len(frame))]
    uids = tuple(sorted(frame["uid"][:n]))
    times = frame["ts"][:n]
    behaviour = Behaviour(
        name="beacon",
        techniques=("T1071", "T1571"),
        dst="203.0.113.9",
        dport=6667,
        proto="tcp",
        first_seen=float(times.min()),
        last_seen=float(times.max()),
        raised_at=float(times.max()),
        n_flows=n,
        evidence=f"{host} → 203.0.113.9:6667/tcp: {n} connections, one every 30.0 s; beacon",
        detector="behaviour",
        suspicion=0.8125,
        base=0.1,
        attributions=(("beacon_score", 0.5), ("rate_per_min", 0.2125)),
    )
    incident = Incident(
        incident_id="x",
        host=host,
        first_seen=behaviour.first_seen,
        last_seen=behaviour.last_seen,
        raised_at=behaviour.raised_at,
        behaviours=(behaviour,),
        techniques=behaviour.techniques,
        severity=severity,
        evidence_uids=uids,
        detector="behaviour",
        suspicion=0.8125,
        base=0.1,
        attributions=behaviour.attributions,
    )
    return incident, incident_evidence(incident, frame), frame
