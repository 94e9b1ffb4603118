"""Arithmetic relations between columns: ``tcprtt = synack + ackdat``, ``mean <= bytes / 1``.

A relation's text is one comparison (``=``, ``<=``, ``<``, ``>=`` or ``>``) between two
arithmetic expressions of column names and numbers joined by ``+ - * /`` (brackets and
a leading minus allowed). A column whose name is not a Python identifier is written in
backquotes: ```Flow Bytes/s` = `Total Bytes` / duration``. The text is parsed with
:mod:`ast` and every node is checked against a short whitelist, so nothing in it is ever
run: a function call, an attribute, a subscript or any other construct is refused with
the construct named.

Evaluation is vectorised over a frame (or mapping of column name → array of shape (n,)).
A row where either side is undefined (a division by zero, a missing value) is not judged
by the relation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np

#: the comparisons a relation may make, as written in a spec
COMPARISONS = ("=", "<=", "<", ">=", ">")
#: relative slack of ``=`` and ``<=`` / ``>=`` on top of the declared tolerance: values read
#: back from text and summed in float64 differ from the exact result by a few units of
#: the last place
RELATIVE_SLACK = 1e-9
#: longest relation text accepted (deeply nested text could exhaust the parser)
MAX_TEXT = 2000

_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {ast.Eq: "=", ast.LtE: "<=", ast.Lt: "<", ast.GtE: ">=", ast.Gt: ">"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ExpressionError(ValueError):
    """A relation text that is not a comparison of arithmetic expressions."""


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Arithmetic:
    op: str  # one of + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Negative:
    operand: Node


Node: TypeAlias = "Column | Number | Arithmetic | Negative"


@dataclass(frozen=True)
class Comparison:
    """``left op right``; ``op`` one of :data:`COMPARISONS`."""

    left: Node
    op: str
    right: Node

    def columns(self) -> tuple[str, ...]:
        """Column names in order of first appearance, each once."""
        seen: dict[str, None] = {}
        for side in (self.left, self.right):
            for name in _names(side):
                seen.setdefault(name, None)
        return tuple(seen)

    def derived_column(self) -> str | None:
        """The column this relation defines (``name = expression`` with ``name`` absent from
        the expression), else None."""
        if self.op != "=" or not isinstance(self.left, Column):
            return None
        return None if self.left.name in _names(self.right) else self.left.name

    def sides(self, frame: Mapping[str, Any] | Any) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) evaluated per row, float64 of shape (n,) each."""
        return evaluate(self.left, frame), evaluate(self.right, frame)

    def violated(self, frame: Mapping[str, Any] | Any, tolerance: float = 0.0) -> np.ndarray:
        """Boolean mask, shape (n,), of rows that break the comparison beyond ``tolerance``
        (absolute; ``=``, ``<=`` and ``>=`` also allow :data:`RELATIVE_SLACK` of the larger
        side); rows where a side is undefined are not flagged."""
        left, right = self.sides(frame)
        with np.errstate(invalid="ignore", over="ignore"):
            defined = np.isfinite(left) & np.isfinite(right)
            slack = tolerance + RELATIVE_SLACK * np.maximum(np.abs(left), np.abs(right))
            if self.op == "=":
                broken = np.abs(left - right) > slack
            elif self.op == "<=":
                broken = left > right + slack
            elif self.op == ">=":
                broken = left < right - slack
            elif self.op == "<":
                broken = left >= right + tolerance
            else:
                broken = left <= right - tolerance
        return np.asarray(defined & broken, dtype=bool)

    def text(self) -> str:
        """The comparison written back in the spec's notation (backquoted names where
        needed, fewest brackets)."""
        return f"{_text(self.left)} {self.op} {_text(self.right)}"


def evaluate(node: Node, frame: Mapping[str, Any] | Any) -> np.ndarray:
    """``node`` computed per row of ``frame``: float64 of shape (n,), or a 0-d array for an
    expression of numbers only; a division by zero gives ±inf or NaN (undefined)."""
    if isinstance(node, Column):
        return np.asarray(frame[node.name], dtype=np.float64)
    if isinstance(node, Number):
        return np.asarray(node.value, dtype=np.float64)
    if isinstance(node, Negative):
        return np.asarray(-evaluate(node.operand, frame))
    left, right = evaluate(node.left, frame), evaluate(node.right, frame)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if node.op == "+":
            return np.asarray(left + right)
        if node.op == "-":
            return np.asarray(left - right)
        if node.op == "*":
            return np.asarray(left * right)
        return np.asarray(left / right)


@lru_cache(maxsize=512)
def parse_comparison(text: str) -> Comparison:
    """Parse one relation text; :class:`ExpressionError` says what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expected a comparison such as 'a = b + c', got an empty text")
    if len(text) > MAX_TEXT:
        raise ExpressionError(f"is {len(text)} characters long; at most {MAX_TEXT} allowed")
    source, quoted = _unquote(text)
    source = re.sub(r"(?<![<>=!])=(?!=)", "==", source)  # a spec writes = for equality
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError(
            f"{text!r} is not a comparison of arithmetic expressions (columns, numbers, "
            "+ - * /, brackets and one of = <= < >= >)"
        ) from None
    body = tree.body
    if not isinstance(body, ast.Compare):
        _node(body, quoted, text)  # names a construct that is not arithmetic
        raise ExpressionError(
            f"{text!r} compares nothing: expected one of {', '.join(COMPARISONS)}"
        )
    if len(body.ops) != 1:
        raise ExpressionError(f"{text!r} chains comparisons: write one comparison per relation")
    op = _COMPARE.get(type(body.ops[0]))
    if op is None:
        raise ExpressionError(
            f"{text!r} uses a comparison other than {', '.join(COMPARISONS)} "
            f"({type(body.ops[0]).__name__})"
        )
    return Comparison(_node(body.left, quoted, text), op, _node(body.comparators[0], quoted, text))


def _unquote(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with each backquoted name replaced by a fresh identifier, and the map back."""
    if text.count("`") % 2:
        raise ExpressionError(f"{text!r} has an unclosed backquote")
    quoted: dict[str, str] = {}
    prefix = "_q"
    while prefix in text:
        prefix += "_"

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            raise ExpressionError(f"{text!r} has an empty backquoted name")
        placeholder = f"{prefix}{len(quoted)}"
        quoted[placeholder] = name
        return f" {placeholder} "

    return re.sub(r"`([^`]*)`", swap, text), quoted


def _node(node: ast.AST, quoted: Mapping[str, str], text: str) -> Node:
    if isinstance(node, ast.Name):
        return Column(quoted.get(node.id, node.id))
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"{text!r} holds {node.value!r}: only numbers may be constants")
        return Number(float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _node(node.operand, quoted, text)
        return Negative(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return Arithmetic(
            _ARITHMETIC[type(node.op)],
            _node(node.left, quoted, text),
            _node(node.right, quoted, text),
        )
    if isinstance(node, ast.Compare):
        raise ExpressionError(f"{text!r} chains comparisons: write one comparison per relation")
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        raise ExpressionError(
            f"{text!r} uses the operator {type(node.op).__name__}: only + - * / (and a "
            "leading minus) are allowed"
        )
    raise ExpressionError(
        f"{text!r} uses {type(node).__name__}, which a relation may not: allowed are column "
        "names, numbers, + - * /, brackets and one of = <= < >= >"
    )


def _names(node: Node) -> list[str]:
    if isinstance(node, Column):
        return [node.name]
    if isinstance(node, Number):
        return []
    if isinstance(node, Negative):
        return _names(node.operand)
    return _names(node.left) + _names(node.right)


def _text(node: Node, parent: int = 0, right: bool = False) -> str:
    if isinstance(node, Column):
        return node.name if _IDENTIFIER.match(node.name) else f"`{node.name}`"
    if isinstance(node, Number):
        return f"{node.value:g}" if node.value == float(f"{node.value:g}") else repr(node.value)
    if isinstance(node, Negative):
        return f"-{_text(node.operand, 3)}"
    level = _PRECEDENCE[node.op]
    shown = f"{_text(node.left, level)} {node.op} {_text(node.right, level, True)}"
    return f"({shown})" if level < parent or (right and level == parent) else shown
