"""Every test that starts PostgreSQL, Spark or Chromium carries its marker, so that
``make test-fast`` (``-m "not slow and not browser and not postgres and not spark"``)
starts none of them.

The check reads the test files: a test or fixture that names what starts a resource (a
fixture such as ``postgres_url``, a call such as ``spark_session``) must carry the marker
on itself, on its parameters (``pytest.param(..., marks=...)``) or on its module
(``pytestmark``).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent

#: marker -> the names that start its resource when a test or fixture uses them
STARTERS = {
    "postgres": {"postgres_url", "fresh_postgres"},
    "spark": {"spark_session"},
    "browser": {"find_chromium", "sync_playwright"},
}


def _names(node: ast.AST) -> set[str]:
    """Names a piece of code uses: arguments, names, attributes and string constants
    (``request.getfixturevalue("postgres_url")`` names the fixture as a string)."""
    found: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.arg):
            found.add(inner.arg)
        elif isinstance(inner, ast.Name):
            found.add(inner.id)
        elif isinstance(inner, ast.Attribute):
            found.add(inner.attr)
        elif isinstance(inner, ast.Constant) and isinstance(inner.value, str):
            found.add(inner.value)
    return found


def _marks(nodes: list[ast.expr]) -> set[str]:
    """Markers named as ``pytest.mark.NAME`` anywhere in ``nodes`` (decorators, params)."""
    return {
        inner.attr
        for node in nodes
        for inner in ast.walk(node)
        if isinstance(inner, ast.Attribute)
        and isinstance(inner.value, ast.Attribute)
        and inner.value.attr == "mark"
    }


def unmarked(source: str, filename: str) -> list[str]:
    """``filename:line name: uses X without the M marker`` for each test or fixture (or the
    module's own code) that starts a resource without carrying its marker."""
    tree = ast.parse(source, filename)
    module_marks = _marks(
        [
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        ]
    )
    functions = [
        node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    units = [(node.name, node.lineno, node, _marks(node.decorator_list)) for node in functions]
    top_level = [
        node
        for node in tree.body
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    units += [("<module>", node.lineno, node, set()) for node in top_level]
    problems = []
    for name, line, node, marks in units:
        used = _names(node)
        for marker, starters in STARTERS.items():
            if used & starters and marker not in marks | module_marks:
                problems.append(
                    f"{filename}:{line} {name}: uses {sorted(used & starters)} "
                    f"without the {marker} marker"
                )
    return problems


def test_every_test_that_starts_a_service_carries_its_marker():
    problems = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.name == Path(__file__).name:  # its examples name the starters
            continue
        problems += unmarked(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS)))
    assert problems == []


def test_the_postgres_store_backend_carries_the_marker():
    # loaded by path: `import conftest` finds whichever conftest module pytest loaded first
    spec = importlib.util.spec_from_file_location("root_conftest", TESTS / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    postgres = [p for p in conftest.BACKENDS if getattr(p, "values", (p,))[0] == "postgres"]
    assert len(postgres) == 1
    assert [mark.name for mark in postgres[0].marks] == ["postgres"]


def test_the_check_finds_an_unmarked_use_and_accepts_each_way_of_marking():
    unmarked_use = (
        "def test_a(postgres_url):\n    pass\n"
        "def test_b(request):\n    request.getfixturevalue('fresh_postgres')\n"
        "def test_c():\n    spark_session('local[1]')\n"
    )
    assert [p.split(" ", 2)[1] for p in unmarked(unmarked_use, "t.py")] == [
        "test_a:",
        "test_b:",
        "test_c:",
    ]
    assert "without the spark marker" in unmarked(unmarked_use, "t.py")[2]
    marked = (
        "import pytest\n"
        "@pytest.mark.postgres\ndef test_a(postgres_url):\n    pass\n"
        "@pytest.fixture(params=['duckdb', pytest.param('postgres', "
        "marks=pytest.mark.postgres)])\ndef store(request):\n"
        "    return request.getfixturevalue('postgres_url')\n"
    )
    assert unmarked(marked, "t.py") == []
    module = "import pytest\npytestmark = pytest.mark.browser\nCHROMIUM = find_chromium()\n"
    assert unmarked(module, "t.py") == []
    assert unmarked(module.replace("pytestmark = pytest.mark.browser\n", ""), "t.py") == [
        "t.py:2 <module>: uses ['find_chromium'] without the browser marker"
    ]
