"""Do the labels of training data match the spec's attack → category map?

A spec maps attack names to categories (``label.categories``); a label the map does not
list becomes the category "unknown". That is right for an attack seen only in test data
(it measures generalisation to a new attack), but in *training* data it is usually a
misspelling on one side, and silently trains an "unknown" class. So before training:

- with ``label.closed: true`` every non-normal training label must be listed: any other
  label is an error naming it, its row count and the nearest listed name;
- otherwise each unlisted label is a warning, with "did you mean" when a listed name is
  close (:func:`difflib.get_close_matches`, case-insensitive).

A listed attack absent from the training data is normal (test files hold attacks the
training file lacks) and is reported only when it is the near miss of an unlisted label.
A spec without categories (identity labels, for example) is not checked. Standard library
only.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trustshield.errors import DataError
from trustshield.specs.dataset_spec import DatasetSpec

#: how alike two names must be (difflib ratio, 0-1) to suggest one for the other
NEAR_MISS = 0.75


@dataclass(frozen=True)
class UnlistedLabel:
    """A non-normal label of the data that ``label.categories`` does not list."""

    label: str
    rows: int
    suggestion: str | None  # the nearest listed attack name, if one is close

    def message(self) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return (
            f"label {self.label!r} ({self.rows:,} row{'s' * (self.rows != 1)}) is not listed "
            f"under label.categories and becomes category 'unknown'{hint}"
        )


@dataclass(frozen=True)
class LabelCheck:
    """Training labels against the spec's map: unlisted labels, listed attacks absent from
    the data, and whether the map is closed (unlisted labels are then errors)."""

    unlisted: tuple[UnlistedLabel, ...]
    absent: tuple[str, ...]
    closed: bool

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(u.message() for u in self.unlisted) if self.closed else ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return () if self.closed else tuple(u.message() for u in self.unlisted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "closed": self.closed,
            "unlisted": [
                {"label": u.label, "rows": u.rows, "did_you_mean": u.suggestion}
                for u in self.unlisted
            ],
            "listed_but_absent": list(self.absent),
        }

    def raise_errors(self, where: str) -> None:
        """DataError naming every unlisted label when the map is closed."""
        if self.errors:
            raise DataError(
                f"{where}: label.closed is true, but "
                + "; ".join(self.errors)
                + ". List each under label.categories, or fix the spelling"
            )


def check_labels(spec: DatasetSpec, labels: Iterable[object]) -> LabelCheck:
    """Compare the labels of training records with ``spec``'s attack → category map."""
    listed = spec.category_of_attack
    if not listed:
        return LabelCheck((), (), spec.closed_labels)
    counts = Counter(str(v) for v in labels if v is not None and v == v)
    counts.pop(str(spec.normal_label), None)
    absent = tuple(sorted(a for a in listed if a not in counts))
    unlisted = tuple(
        UnlistedLabel(label, rows, _nearest(label, absent) or _nearest(label, tuple(listed)))
        for label, rows in sorted(counts.items())
        if label not in listed
    )
    return LabelCheck(unlisted, absent, spec.closed_labels)


def _nearest(name: str, candidates: tuple[str, ...]) -> str | None:
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=NEAR_MISS)
    return by_lower[close[0]] if close else None
