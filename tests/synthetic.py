"""Small synthetic traffic built in code: normal records and two attack kinds."""

import numpy as np
import pandas as pd
import yaml

from trustshield.ingest.validate import check_frame
from trustshield.specs import parse_spec


def synthetic_traffic(n_normal: int = 400, n_attack: int = 200, seed: int = 0):
    """(X, labels, categories): X has 4 numeric columns and one categorical code column."""
    rng = np.random.default_rng(seed)
    normal = pd.DataFrame(
        {
            "bytes": rng.lognormal(6, 1, n_normal),
            "count": rng.integers(1, 10, n_normal).astype(float),
            "error_rate": rng.uniform(0, 0.1, n_normal),
            "hosts": rng.integers(1, 50, n_normal).astype(float),
            "service": rng.choice([0.0, 1.0], n_normal),
        }
    )
    attack = pd.DataFrame(
        {
            "bytes": rng.lognormal(2, 1, n_attack),
            "count": rng.integers(100, 500, n_attack).astype(float),
            "error_rate": rng.uniform(0.6, 1.0, n_attack),
            "hosts": rng.integers(1, 50, n_attack).astype(float),
            "service": rng.choice([1.0, 2.0], n_attack),
        }
    )
    X = pd.concat([normal, attack], ignore_index=True)
    kinds = rng.choice(["flood", "scan"], n_attack)
    labels = np.array(["normal"] * n_normal + list(kinds), dtype=object)
    categories = np.array(
        ["normal"] * n_normal + ["DoS" if k == "flood" else "Probe" for k in kinds], dtype=object
    )
    return X, labels, categories


#: a small spec with every attacker control (fixed, increase, decrease, any), integer, real,
#: rate, binary and categorical columns, an ``implies`` and a ``sum_at_most`` relation
FLOWS_SPEC_TEXT = """\
name: tiny-flows
columns:
  - {name: n, type: integer, unit: bytes, min: 0, max: 1000, attacker: increase}
  - {name: t, type: integer, unit: s, min: 0, attacker: increase}
  - {name: r, type: rate, attacker: any}
  - {name: e, type: rate, attacker: any}
  - {name: w, type: real, unit: s, min: 0, max: 60, attacker: decrease}
  - {name: b, type: binary}
  - {name: p, type: categorical, values: [tcp, udp, icmp]}
  - {name: label, type: label}
  - {name: difficulty, type: integer, role: metadata, min: 0, max: 21}
relations:
  - {kind: implies, name: icmp sends nothing, if: {column: p, in: [icmp]}, then: {column: n, equals: 0}}
  - {kind: sum_at_most, name: one window, columns: [r, e], limit: 1.0, tolerance: 0.0}
label:
  column: label
  normal: normal
  categories:
    DoS: {technique: T1499, attacks: [flood]}
    Probe: {technique: T1046, attacks: [scan, sweep]}
techniques:
  T1499: Endpoint Denial of Service
  T1046: Network Service Discovery
"""
FLOWS_SPEC = parse_spec(yaml.safe_load(FLOWS_SPEC_TEXT))


def synthetic_flows(seed: int = 0) -> pd.DataFrame:
    """300 validated records of FLOWS_SPEC: normal tcp/udp traffic, an icmp flood and two
    probes; some counters sit at their upper bound and some rate pairs sum to exactly 1."""
    rng = np.random.default_rng(seed)
    labels = np.array(
        ["normal"] * 180 + ["flood"] * 40 + ["scan"] * 40 + ["sweep"] * 40, dtype=object
    )
    n = len(labels)
    proto = np.where(
        labels == "flood",
        "icmp",
        np.where(labels == "normal", rng.choice(["tcp", "udp"], n), "tcp"),
    )
    size = np.where(labels == "normal", rng.integers(100, 1001, n), rng.integers(0, 50, n))
    r = np.where(labels == "scan", rng.uniform(0.6, 1, n), rng.uniform(0, 0.5, n)).round(3)
    raw = pd.DataFrame(
        {
            "n": np.where(proto == "icmp", 0, size),
            "t": rng.integers(0, 30, n),
            "r": r,
            "e": np.where(labels == "sweep", (1 - r).round(3), 0.0),
            "w": np.where(labels == "normal", rng.uniform(1, 10, n), rng.uniform(20, 60, n)).round(
                1
            ),
            "b": (labels == "sweep").astype(int),
            "p": proto,
            "label": labels,
            "difficulty": rng.integers(0, 22, n),
        }
    )
    checked = check_frame(raw, FLOWS_SPEC, file="synthetic", lines=np.arange(1, n + 1))
    assert checked.rejected_rows == 0, checked.problems[:3]
    return checked.frame


#: the smallest useful spec: one counter, one rate, one category; flood and scan attacks
SMALL_SPEC_TEXT = """\
name: tiny-flows
columns:
  - {name: n, type: integer, min: 0, max: 1000, attacker: increase}
  - {name: r, type: rate, attacker: any}
  - {name: p, type: categorical, values: [tcp, udp, icmp]}
  - {name: label, type: label}
label:
  column: label
  normal: normal
  categories:
    DoS: {technique: T1499, attacks: [flood]}
    Probe: {technique: T1046, attacks: [scan]}
techniques:
  T1499: Endpoint Denial of Service
  T1046: Network Service Discovery
"""
SMALL_SPEC = parse_spec(yaml.safe_load(SMALL_SPEC_TEXT))


def small_flows(
    seed: int, n_normal: int = 200, n_flood: int = 80, n_scan: int = 40
) -> pd.DataFrame:
    """Validated records of SMALL_SPEC: normal tcp/udp, an icmp flood, a high-rate scan."""
    rng = np.random.default_rng(seed)
    labels = np.array(["normal"] * n_normal + ["flood"] * n_flood + ["scan"] * n_scan, dtype=object)
    n = len(labels)
    raw = pd.DataFrame(
        {
            "n": np.where(labels == "normal", rng.integers(100, 1000, n), rng.integers(0, 50, n)),
            "r": np.where(labels == "scan", rng.uniform(0.6, 1, n), rng.uniform(0, 0.5, n)).round(
                2
            ),
            "p": np.where(labels == "flood", "icmp", rng.choice(["tcp", "udp"], n)),
            "label": labels,
        }
    )
    checked = check_frame(raw, SMALL_SPEC, file="synthetic", lines=np.arange(1, n + 1))
    assert checked.rejected_rows == 0, checked.problems[:3]
    return checked.frame


def train_small(frame, spec, spec_text, *, n_estimators: int = 5):
    """A quick model for tests: 8 prototypes, a few trees, one LightGBM thread (with two,
    OpenMP spin-waiting makes a tiny fit take seconds on a busy 2-core machine)."""
    from trustshield.pipeline.train import TrainConfig, train

    return train(
        frame,
        spec,
        spec_text,
        config=TrainConfig(
            n_prototypes=8, n_estimators=n_estimators, n_threads=1, capacity="fixed"
        ),
        provenance={"data": {"name": "synthetic"}},
    )
