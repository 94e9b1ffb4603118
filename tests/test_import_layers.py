"""The import contract in pyproject.toml holds: layers only point down, and it is enforced."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--config", str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module", autouse=True)
def linter():
    if not LINT.exists():
        pytest.fail(f"{LINT} missing: install the test extra (pip install -e '.[test]')")


def test_layers_contract_is_kept():
    done = lint(ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Layers point down KEPT" in done.stdout and "0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The same contract with two layers swapped (store above assess): assess imports the
    store, so the check must fail and name that import."""
    text = (ROOT / "pyproject.toml").read_text()
    swapped = text.replace(
        '    "trustshield.assess",\n    "trustshield.store",\n',
        '    "trustshield.store",\n    "trustshield.assess",\n',
    )
    assert swapped != text, "expected assess directly above store in the contract"
    config = tmp_path / "pyproject.toml"
    config.write_text(swapped)
    done = lint(config)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout
    assert "trustshield.assess.security -> trustshield.store.templates" in done.stdout


def test_no_hidden_imports_outside_detectors():
    """No ``__import__`` calls in the package (import strings hide edges from the contract);
    detectors/verifiers.py still resolves readers by string and is listed apart."""
    hidden = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "trustshield").rglob("*.py")
        if "__import__(" in p.read_text()
    ]
    assert hidden == []
