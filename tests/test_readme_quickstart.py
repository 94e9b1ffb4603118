"""The README's quickstart can be followed verbatim in a fresh clone: every command it
gives runs from the checkout without an activated virtual environment, each names a
command and file the demo really provides, and the dashboard address is the one `serve`
prints."""

from __future__ import annotations

import re
from pathlib import Path

from trustshield.cli import build_parser
from trustshield.service.settings import DEFAULT_PORT, LOOPBACK

ROOT = Path(__file__).resolve().parents[1]


def quickstart() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[: text.index("\n## ")]  # everything before the first section


def commands(text: str) -> list[str]:
    """The inline code spans (outside fenced blocks) that run ``trustshield``."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = (" ".join(c.split()) for c in re.findall(r"`([^`]+)`", prose))
    return [c for c in spans if re.search(r"(^|/)trustshield ", c)]


def test_every_quickstart_command_runs_without_an_activated_environment():
    found = commands(quickstart())
    assert len(found) >= 3
    bare = [c for c in found if not c.startswith(".venv/bin/trustshield ")]
    assert bare == [], f"not runnable as written from a fresh clone: {bare}"


def test_every_quickstart_command_parses_and_reads_what_make_demo_writes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = makefile[makefile.index("\ndemo:") : makefile.index("\n\n", makefile.index("\ndemo:"))]
    parser = build_parser()
    for command in commands(quickstart()):
        argv = command.split()[1:]
        parser.parse_args(argv)  # exits (fails the test) on an unknown command or option
        if "--store" in argv:
            assert argv[argv.index("--store") + 1] in demo.replace("$(OUT)", "out")


def test_the_dashboard_address_is_the_one_serve_prints():
    urls = re.findall(r"<(http://[^>]+)>", quickstart())
    assert urls == [f"http://{LOOPBACK}:{DEFAULT_PORT}/ui"]
