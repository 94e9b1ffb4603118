"""Small synthetic traffic built in code: normal records and two attack kinds."""

import numpy as np
import pandas as pd


def synthetic_traffic(n_normal: int = 400, n_attack: int = 200, seed: int = 0):
    """(X, labels, categories): X has 4 numeric columns and one categorical code column."""
    rng = np.random.default_rng(seed)
    normal = pd.DataFrame({
        "bytes": rng.lognormal(6, 1, n_normal), "count": rng.integers(1, 10, n_normal).astype(float),
        "error_rate": rng.uniform(0, 0.1, n_normal), "hosts": rng.integers(1, 50, n_normal).astype(float),
        "service": rng.choice([0.0, 1.0], n_normal)})
    attack = pd.DataFrame({
        "bytes": rng.lognormal(2, 1, n_attack), "count": rng.integers(100, 500, n_attack).astype(float),
        "error_rate": rng.uniform(0.6, 1.0, n_attack), "hosts": rng.integers(1, 50, n_attack).astype(float),
        "service": rng.choice([1.0, 2.0], n_attack)})
    X = pd.concat([normal, attack], ignore_index=True)
    kinds = rng.choice(["flood", "scan"], n_attack)
    labels = np.array(["normal"] * n_normal + list(kinds), dtype=object)
    categories = np.array(["normal"] * n_normal + ["DoS" if k == "flood" else "Probe" for k in kinds],
                          dtype=object)
    return X, labels, categories


