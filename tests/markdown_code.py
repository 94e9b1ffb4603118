"""The fenced code blocks of a Markdown file, and running its ```python blocks as written.

``python tests/markdown_code.py FILE.md`` runs every ```python block of FILE.md in order,
in one namespace (a later block uses what an earlier one defined), each compiled under the
file's name with its own line numbers, so a traceback points at the line of the document.
Tests run it in a child process: a document's code may register things (a detector kind)
that must not leak into the test process.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class CodeBlock:
    language: str  #: the word after the opening fence ("" when none)
    line: int  #: 1-based line of the block's first code line in the file
    code: str


def code_blocks(text: str, language: str | None = None) -> list[CodeBlock]:
    """Every fenced block of ``text`` in order; only those of ``language`` when given."""
    blocks = []
    for match in FENCE.finditer(text):
        found = CodeBlock(match.group(1), text.count("\n", 0, match.start(2)) + 1, match.group(2))
        if language is None or found.language == language:
            blocks.append(found)
    return blocks


def run_python_blocks(path: Path) -> int:
    """Run every ```python block of ``path`` in one namespace; the number of blocks run."""
    blocks = code_blocks(path.read_text(encoding="utf-8"), "python")
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        padded = "\n" * (block.line - 1) + block.code  # tracebacks name the file's lines
        exec(compile(padded, str(path), "exec"), namespace)  # noqa: S102 - running the documents' code blocks is their test
    return len(blocks)


if __name__ == "__main__":
    print(f"ran {run_python_blocks(Path(sys.argv[1]))} python block(s)")
