"""Small made-up domain names for the ``domain`` detector's tests (no data file)."""

import numpy as np
import pandas as pd


def domain_names():
    """Legitimate-looking names (y = "normal") and two made-up random-letter families."""
    rng = np.random.default_rng(3)
    words = ["shop", "news", "cloud", "photo", "travel", "green", "city", "music", "home"]
    legit = [f"{a}{b}.com" for a in words for b in words if a != b][:60]
    letters = np.array(list("qxzjkvwbfgh"))
    dga = ["".join(rng.choice(letters, 14)) + ".net" for _ in range(30)]
    dga += ["".join(rng.choice(letters, 9)) + "7.biz" for _ in range(30)]
    labels = ["normal"] * len(legit) + ["family-a"] * 30 + ["family-b"] * 30
    return pd.DataFrame({"domain": legit + dga}), np.array(labels, dtype=object)
