"""The README's Python code runs as written (the notebook workflow on NSL-KDD)."""

import subprocess
import sys
from pathlib import Path

import pytest

from markdown_code import code_blocks

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNER = Path(__file__).with_name("markdown_code.py")
#: what the README's example prints when a data file is absent (DatasetMissing)
NO_DATA = "trustshield.errors.DatasetMissing"


def python_api_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Python API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_python_api_section_shows_train_score_and_explain():
    blocks = code_blocks(python_api_section(), "python")
    assert len(blocks) == 1
    code = blocks[0].code
    for call in (
        "trustshield.load_spec(",
        "trustshield.train(",
        "trustshield.score(",
        ".explanations[",
        ".top(",
    ):
        assert call in code, f"the README's Python API example no longer calls {call}"


def test_readme_python_blocks_run(tmp_path):
    """Every ```python block, in order, in a child process in an empty folder; skipped
    (saying which file) when the NSL-KDD files the example reads are not available."""
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(README)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 and NO_DATA in done.stderr:
        pytest.skip(
            "the README example reads NSL-KDD: " + done.stderr.strip().splitlines()[-1][:300]
        )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "alert" in out and "suspicion" in out, out
    assert out.strip().endswith("python block(s)") and "ran 1 python block" in out
