"""Plain, canonical JSON: the one place that turns computed values into JSON-safe Python
values and writes the canonical text that audit hashes, signatures and stored columns use."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np


def plain(value):
    """``value`` with numpy scalars/arrays as Python values, tuples as lists and non-finite
    floats as None, so that it can be written as canonical JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def canonical(value) -> str:
    """Sorted keys, no whitespace, UTF-8 text; NaN and infinities are refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
