"""Risk register: inherent risk per use case, and the residual risk the evidence supports.

Inherent risk = likelihood × impact (each 1-5). Each mitigation names an Evidence check; a
check that PASSED in the given evidence removes its ``reduces`` likelihood steps (never
below 1); a failed or unmeasured check removes nothing, so residual risk falls only with
proof. Levels: 1-4 low, 5-9 medium, 10-16 high, 20-25 critical.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from trustshield.errors import SpecError
from trustshield.governance.crosswalk import measured

RISK_KEYS = {"id", "title", "use_cases", "likelihood", "impact", "mitigations"}
MITIGATION_KEYS = {"check", "reduces", "how"}


@dataclass(frozen=True)
class Risk:
    id: str
    title: str
    use_cases: tuple[str, ...]
    likelihood: int
    impact: int
    mitigations: tuple[dict, ...]


def load_risks(text: str | None = None) -> tuple[Risk, ...]:
    """The packaged register (or ``text``), validated; errors name the risk and key."""
    text = (
        text
        if text is not None
        else resources.files("trustshield.governance")
        .joinpath("risks.yaml")
        .read_text(encoding="utf-8")
    )
    raw = yaml.safe_load(text) or {}
    risks = []
    for i, entry in enumerate(raw.get("risks") or []):
        where = f"risks[{i}] ({entry.get('id', '?') if isinstance(entry, dict) else '?'})"
        if not isinstance(entry, dict) or set(entry) != RISK_KEYS:
            raise SpecError(f"{where}: expected exactly the keys {sorted(RISK_KEYS)}")
        for key in ("likelihood", "impact"):
            if entry[key] not in (1, 2, 3, 4, 5):
                raise SpecError(f"{where}: {key} must be 1-5, got {entry[key]!r}")
        for m in entry["mitigations"]:
            if (
                not isinstance(m, dict)
                or set(m) != MITIGATION_KEYS
                or m["reduces"] not in (1, 2, 3, 4)
            ):
                raise SpecError(
                    f"{where}: a mitigation needs check, reduces (1-4) and how; got {m!r}"
                )
        risks.append(
            Risk(
                entry["id"],
                entry["title"],
                tuple(entry["use_cases"]),
                entry["likelihood"],
                entry["impact"],
                tuple(entry["mitigations"]),
            )
        )
    ids = [r.id for r in risks]
    if len(set(ids)) != len(ids):
        raise SpecError(f"risk ids must be unique; got {ids}")
    return tuple(risks)


def level(score: int) -> str:
    return (
        "low" if score <= 4 else "medium" if score <= 9 else "high" if score <= 16 else "critical"
    )


def register(
    evidence, *, use_case: str | None = None, risks: tuple[Risk, ...] | None = None
) -> list[dict]:
    """Each applicable risk with inherent and residual score and level, and per mitigation
    whether its check passed (JSON-able)."""
    verdicts = measured(evidence)
    rows = []
    for risk in risks if risks is not None else load_risks():
        if use_case is not None and use_case not in risk.use_cases:
            continue
        steps = 0
        mitigations = []
        for m in risk.mitigations:
            verdict = verdicts.get(m["check"], "not_evidenced")
            steps += m["reduces"] if verdict == "pass" else 0
            mitigations.append({**m, "verdict": verdict})
        likelihood = max(1, risk.likelihood - steps)
        inherent, residual = risk.likelihood * risk.impact, likelihood * risk.impact
        rows.append(
            {
                "id": risk.id,
                "title": risk.title,
                "likelihood": risk.likelihood,
                "impact": risk.impact,
                "inherent": inherent,
                "inherent_level": level(inherent),
                "residual_likelihood": likelihood,
                "residual": residual,
                "residual_level": level(residual),
                "mitigations": mitigations,
            }
        )
    return rows
