"""Every check a practice or a risk cites is one that TrustShield's evaluators produce."""

import ast
from pathlib import Path

import trustshield
from trustshield.governance.practices import KNOWN_CHECKS, load_practices
from trustshield.governance.risks import load_risks


def string_constants() -> set[str]:
    """Every string literal in the evaluators (assess/)."""
    root = Path(trustshield.__file__).parent / "assess"
    found = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_known_check_is_named_by_an_evaluator():
    missing = sorted(set(KNOWN_CHECKS) - string_constants())
    assert missing == []


def test_practices_and_risks_cite_only_known_checks():
    cited = {c for p in load_practices() for c in p.checks}
    cited |= {m["check"] for r in load_risks() for m in r.mitigations}
    assert cited <= set(KNOWN_CHECKS)
