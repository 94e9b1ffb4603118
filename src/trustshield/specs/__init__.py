"""DatasetSpec: column types, units, ranges, attacker control, relations and label maps.

The names below are loaded on first use, so importing a light specs module (for example
:mod:`trustshield.specs.yaml_shape`) does not load pandas.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names for type checkers; at run time __getattr__ loads them
    from trustshield.specs.dataset_spec import (
        ColumnSpec,
        DatasetSpec,
        Predicate,
        Relation,
        SourceFile,
    )
    from trustshield.specs.feasibility import Feasibility, Violation, infeasibility, is_feasible
    from trustshield.specs.loading import (
        builtin_spec_names,
        load_spec,
        parse_spec,
        read_spec_text,
        spec_from_text,
    )

__all__ = [
    "ColumnSpec",
    "DatasetSpec",
    "Feasibility",
    "Predicate",
    "Relation",
    "SourceFile",
    "Violation",
    "infeasibility",
    "is_feasible",
    "builtin_spec_names",
    "load_spec",
    "parse_spec",
    "read_spec_text",
    "spec_from_text",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from trustshield.specs.dataset_spec import (
        ColumnSpec,
        DatasetSpec,
        Predicate,
        Relation,
        SourceFile,
    )
    from trustshield.specs.feasibility import Feasibility, Violation, infeasibility, is_feasible
    from trustshield.specs.loading import (
        builtin_spec_names,
        load_spec,
        parse_spec,
        read_spec_text,
        spec_from_text,
    )

    globals().update(
        ColumnSpec=ColumnSpec,
        DatasetSpec=DatasetSpec,
        Predicate=Predicate,
        Relation=Relation,
        SourceFile=SourceFile,
        Feasibility=Feasibility,
        Violation=Violation,
        infeasibility=infeasibility,
        is_feasible=is_feasible,
        builtin_spec_names=builtin_spec_names,
        load_spec=load_spec,
        parse_spec=parse_spec,
        read_spec_text=read_spec_text,
        spec_from_text=spec_from_text,
    )
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
