"""DatasetSpec: column types, units, ranges, attacker control, relations and label maps."""

from trustshield.specs.dataset_spec import (ColumnSpec, DatasetSpec, Predicate, Relation,
                                            SourceFile)
from trustshield.specs.feasibility import Feasibility, Violation, infeasibility, is_feasible
from trustshield.specs.loading import (builtin_spec_names, load_spec, parse_spec,
                                      read_spec_text, spec_from_text)

__all__ = ["ColumnSpec", "DatasetSpec", "Feasibility", "Predicate", "Relation", "SourceFile",
           "Violation", "infeasibility", "is_feasible",
           "builtin_spec_names", "load_spec", "parse_spec", "read_spec_text", "spec_from_text"]
