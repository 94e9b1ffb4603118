"""Small synthetic conn logs (as the Zeek readers type them) for behaviour tests."""

import numpy as np
import pandas as pd

T0 = 1_700_000_000.0 - (1_700_000_000.0 % 3600)  # a window boundary


def flows(rows: list[dict]) -> pd.DataFrame:
    """A conn frame of ``rows`` (defaults: an answered TCP exchange)."""
    base = {
        "uid": None,
        "id.orig_p": 40000,
        "proto": "tcp",
        "duration": 0.5,
        "orig_bytes": 100,
        "resp_bytes": 200,
        "conn_state": "SF",
        "orig_pkts": 4,
        "resp_pkts": 4,
        "label": "Benign",
    }
    out = pd.DataFrame([{**base, **r} for r in rows])
    out["uid"] = [u or f"C{i}" for i, u in enumerate(out["uid"])]
    for c in ("id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts"):
        out[c] = out[c].astype("Int64")
    return out


def beacon(host: str, dst: str, port: int, every: float, n: int, start: float = T0, **extra):
    """``n`` unanswered connections every ``every`` s (jitter ±5 %), malicious."""
    rng = np.random.default_rng(1)
    ts = start + np.cumsum(every * (1 + rng.uniform(-0.05, 0.05, n)))
    return [
        {"ts": t, "id.orig_h": host, "id.resp_h": dst, "id.resp_p": port, "conn_state": "S0",
         "resp_bytes": 0, "resp_pkts": 0, "orig_bytes": 0, "label": "Malicious", **extra}
        for t in ts
    ]  # fmt: skip


def scan(host: str, port: int, n: int, start: float = T0) -> list[dict]:
    """One SYN to each of ``n`` destinations on ``port``, 0.5 s apart, malicious."""
    return [
        {"ts": start + 0.5 * i, "id.orig_h": host, "id.resp_h": f"198.51.100.{i % 250 + 1}",
         "id.resp_p": port, "conn_state": "S0", "resp_bytes": 0, "resp_pkts": 0,
         "orig_bytes": 0, "label": "Malicious"}
        for i in range(n)
    ]  # fmt: skip


def chatter(host: str, n: int, start: float = T0, seed: int = 0) -> list[dict]:
    """Ordinary answered traffic: irregular DNS and web connections, benign."""
    rng = np.random.default_rng(seed)
    ts = start + np.sort(rng.uniform(0, 3 * 3600, n))
    dsts = ["10.0.0.1", "203.0.113.10", "203.0.113.11"]
    return [
        {"ts": t, "id.orig_h": host, "id.resp_h": dsts[i % 3], "id.resp_p": (53, 443, 443)[i % 3],
         "proto": ("udp", "tcp", "tcp")[i % 3], "orig_bytes": int(rng.integers(50, 900)),
         "resp_bytes": int(rng.integers(100, 5000))}
        for i, t in enumerate(ts)
    ]  # fmt: skip


def site_log(path, seed: int, infected: bool, labelled: bool = True, uids: bool = False):
    """A conn log CSV at ``path``: two hosts' chatter and, when ``infected``, 10.0.0.5
    beaconing to ``203.0.113.{seed}`` and scanning port 23; ``uids``: connection ids
    ``S{seed}-{i}``, unique across sites; without ``labelled`` no label column."""
    records = chatter("10.0.0.5", 100, seed=seed) + chatter("10.0.0.6", 100, seed=seed + 9)
    if infected:
        records += beacon("10.0.0.5", f"203.0.113.{seed}", 7000 + seed, 3.0, 2000)
        records += scan("10.0.0.5", 23, 300, start=T0 + 3600)
    frame = flows(records)
    if uids:
        frame["uid"] = [f"S{seed}-{i}" for i in range(len(frame))]
    if not labelled:
        frame = frame.drop(columns="label")
    frame.to_csv(path, index=False, na_rep="-")
    return path


def behaviour_model(work, uids: bool = False, note: bool = False):
    """A behaviour model trained by ``trustshield train`` on four site logs (two
    infected) in ``work / "logs"`` (``note``: with a README there, which training skips);
    its folder ``work / "model"``."""
    from trustshield.cli import main

    logs = work / "logs"
    logs.mkdir()
    for seed, infected in ((1, True), (2, False), (3, True), (4, False)):
        site_log(logs / f"site{seed}.csv", seed, infected, uids=uids)
    if note:
        (logs / "README.md").write_text("notes are skipped", encoding="utf-8")
    out = work / "model"
    assert main(["train", "--kind", "behaviour", "--input", str(logs), "--out", str(out)]) == 0
    return out
