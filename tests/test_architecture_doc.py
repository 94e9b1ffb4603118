"""docs/architecture.md stays true: its layer diagram is the import contract's order, and
its worked example of a new detector kind runs and passes check_detector."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from markdown_code import code_blocks

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
RUNNER = Path(__file__).with_name("markdown_code.py")


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [" | ".join(m.strip() for m in layer.split("|")) for layer in layers]


def diagram_layers() -> list[str]:
    """The layers of the doc's diagram (the text block after the ``layers`` comment), top
    to bottom, written in full as the contract writes them."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index("<!-- layers:") :]
    (diagram,) = code_blocks(after, "text")[:1]
    names = [
        re.split(r"\s{2,}", line.strip())[0] for line in diagram.code.splitlines() if line.strip()
    ]
    return [" | ".join(f"trustshield.{m.strip()}" for m in name.split("|")) for name in names]


def test_the_layer_diagram_is_the_import_contract():
    assert diagram_layers() == contract_layers()


def test_the_doc_names_every_protocol_module_that_exists():
    text = DOC.read_text(encoding="utf-8")
    for module in re.findall(r"`((?:detectors|ingest|decide)/\w+\.py)", text):
        assert (ROOT / "src" / "trustshield" / module).is_file(), module
    assert "[tool.importlinter]" in text and "lint-imports" in text


def test_the_worked_detector_example_runs_and_passes_check_detector(tmp_path):
    blocks = code_blocks(DOC.read_text(encoding="utf-8"), "python")
    assert any('@register("mean-distance")' in b.code for b in blocks)
    assert any("check_detector(MeanDistanceDetector()" in b.code for b in blocks)
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(DOC)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'params', 'not_fitted', 'fit'" in done.stdout and "'input_errors')" in done.stdout
