"""The risk register: residual risk falls only with passing evidence."""

import pytest

from trustshield.errors import SpecError
from trustshield.governance.risks import level, load_risks, register
from trustshield.records import Evidence

ISSUE_RISKS = ("evade", "oison", "extract", "alarm", "locked out", "leak", "offensive")


def ev(check, status):
    return Evidence(check, "m", None if status == "not_evidenced" else 1.0, None, status, ())


def test_the_register_covers_the_named_risks_and_every_mitigation_check_exists():
    from trustshield.governance.practices import KNOWN_CHECKS

    risks = load_risks()
    titles = " ".join(r.title for r in risks)
    assert all(word in titles for word in ISSUE_RISKS)
    assert {m["check"] for r in risks for m in r.mitigations} <= set(KNOWN_CHECKS)


def test_residual_falls_only_with_passing_evidence():
    nothing = {r["id"]: r for r in register([])}
    assert all(r["residual"] == r["inherent"] for r in nothing.values())
    proved = {r["id"]: r for r in register([ev("evasion resistance", "pass")])}
    assert proved["R01"]["residual"] == (4 - 2) * 4 and proved["R01"]["residual_level"] == "medium"
    failed = {r["id"]: r for r in register([ev("evasion resistance", "fail")])}
    assert failed["R01"]["residual"] == failed["R01"]["inherent"]
    assert failed["R01"]["mitigations"][0]["verdict"] == "fail"


def test_likelihood_never_drops_below_one_and_use_case_filters():
    rows = register(
        [ev("model artifact integrity", "pass"), ev("no pickle in model artifacts", "pass")]
    )
    r08 = next(r for r in rows if r["id"] == "R08")
    assert r08["residual_likelihood"] == 1 and r08["residual"] == 5
    assert {r["id"] for r in register([], use_case="authentication")} == {
        "R03",
        "R05",
        "R06",
        "R07",
        "R08",
    }


def test_levels_and_malformed_entries():
    assert [level(s) for s in (4, 5, 16, 20)] == ["low", "medium", "high", "critical"]
    with pytest.raises(SpecError, match="likelihood must be 1-5"):
        load_risks(
            "risks:\n  - {id: X, title: t, use_cases: [], likelihood: 9, impact: 1, mitigations: []}\n"
        )
    with pytest.raises(SpecError, match="exactly the keys"):
        load_risks("risks:\n  - {id: X, title: t}\n")
