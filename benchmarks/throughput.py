"""Throughput of the whole `trustshield detect` path, against a pandas + LightGBM + shap reference.

    python benchmarks/throughput.py --json out/bench_throughput.json [--rows 500000] [--model DIR]
    python benchmarks/throughput.py --json /tmp/quick.json --quick        # smoke run: 100k rows, 1 run

Protocol
--------
* Input: KDDTest+ (located and sha256-checked by ``trustshield.commands.common.resolve_data``) repeated by
  concatenating the file's bytes until it holds at least ``--rows`` rows, written to a
  temporary folder outside the checkout (``--workdir`` to choose it).
* Model: ``--model DIR``, or one trained first by ``trustshield train`` on KDDTrain+_20Percent
  (not timed).
* TrustShield: ``<venv>/bin/trustshield detect --model M --data BIG --store FRESH.duckdb`` in a
  subprocess; the figure is rows / wall seconds of that whole process (interpreter start,
  imports, model load and sha256 check, CSV read, validation against the spec, encoding,
  scoring, decisions, exact explanation of every alert and review, rationale, DuckDB writes).
  Peak RSS is that process's own (``os.wait4``). A booster of 1,000 leaves or more keeps
  each tree's TreeSHAP per route once computed (``detectors.forest``); since the input
  repeats KDDTest+, ``exact.explanation_cost`` also times, on one copy's alerts, the first
  sight of every route, the known routes, and LightGBM's ``pred_contrib``.
* Reference: ``python benchmarks/throughput.py --reference ...`` in a subprocess: what a
  practitioner would write — default ``lightgbm.LGBMClassifier()`` on one-hot encoded
  KDDTrain+_20Percent (training untimed), then, timed: ``pandas.read_csv`` of the same file,
  ``pandas.get_dummies``, ``predict_proba`` on every row, alert at 0.5,
  ``shap.TreeExplainer(model).shap_values`` on every alert, alerts with their shap values
  written to DuckDB.
* Both are run ``--runs`` times (default 3, interleaved, fresh store each time); medians are
  reported, peak RSS is the largest of the runs.
* Exactness: 1,000 alerts of KDDTest+ scored by the model: supervised attributions vs
  ``shap.TreeExplainer(booster).shap_values`` and vs an independent subset-enumeration
  Shapley computation over the dumped trees (leaf by leaf, so that it finishes for deep
  trees too: its cost grows with the distinct features on one path, not in a whole tree);
  hybrid additivity; the additivity identity base + Σ attributions = score on every alert of
  KDDTest+ (supervised part: = the booster's raw margin; hybrid: = suspicion); additivity of
  1,000 attributions read back from the DuckDB store written by the last detect run.
* ``--capacity-rule best`` trains the model with that capacity rule (default: train's own).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from trustshield.pipeline.train_config import CAPACITY_RULES

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # not resolved: keep the venv's bin folder
TEST_FILE = "nsl-kdd:KDDTest+.txt"
TRAIN_FILE = "nsl-kdd:KDDTrain+_20Percent.txt"
SPEC = "nsl-kdd"
CATEGORICAL = ("protocol_type", "service", "flag")
TARGETS = {"rows_per_s": 20_000, "ratio": 3.0, "peak_rss_mb": 1_500, "exact": 1e-6}
N_EXACT = 1_000
QUICK_ROWS = 100_000
DEFAULT_ROWS = 500_000
MIN_REFERENCE_ROWS = 50_000


# --------------------------------------------------------------------------------------
# helpers


def mb(kilobytes: float) -> float:
    """ru_maxrss is in kB on Linux."""
    return round(kilobytes / 1024, 1)


def run_measured(cmd: list[str], *, cwd: Path, log: Path) -> dict:
    """Run ``cmd``; return its wall seconds and its own peak RSS (os.wait4)."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"command failed with status {proc.returncode}: {' '.join(cmd)}\n{tail}")
    return {
        "wall_s": wall,
        "peak_rss_mb": mb(usage.ru_maxrss),
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
    }


def repeat_file(source: Path, target: Path, min_rows: int) -> int:
    """Concatenate ``source``'s bytes until ``target`` holds at least ``min_rows`` rows."""
    data = source.read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    per_copy = data.count(b"\n")
    copies = max(1, math.ceil(min_rows / per_copy))
    with open(target, "wb") as out:
        for _ in range(copies):
            out.write(data)
    return per_copy * copies


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict:
    import duckdb
    import lightgbm
    import numpy
    import pandas
    import pyarrow
    import shap

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        ts_version = version("trustshield")
    except Exception:  # informational only
        ts_version = "unknown"
    git = {}
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        git = {"commit": head, "src_modified": bool(dirty)}
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        memory_mb = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "cpu_model": cpu_model,
        "memory_mb": memory_mb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "trustshield": ts_version,
        **({"git": git} if git else {}),
        "lightgbm": lightgbm.__version__,
        "shap": shap.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "thread_env": {
            k: os.environ.get(k, "unset")
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        },
    }


# --------------------------------------------------------------------------------------
# the measured steps


def train_model(
    train_path: Path, folder: Path, workdir: Path, capacity_rule: str | None = None
) -> dict:
    """`trustshield train`, exactly as a user runs it (not part of the measurement)."""
    cmd = [
        str(VENV_BIN / "trustshield"),
        "train",
        "--data",
        str(train_path),
        "--spec",
        SPEC,
        "--out",
        str(folder),
        *(["--capacity-rule", capacity_rule] if capacity_rule else []),
    ]
    figures = run_measured(cmd, cwd=workdir, log=workdir / "train.log")
    return {"command": " ".join(cmd), "wall_s": round(figures["wall_s"], 1)}


def capacity_of(model_dir: Path) -> dict | None:
    """The supervised part's chosen shape and the held-out objectives of the capacities
    tried, from the model's manifest (None when it records no capacity trials)."""
    try:
        manifest = json.loads((model_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    trials = manifest.get("metrics", {}).get("capacity_trials")
    if not trials:
        return None
    chosen = next((t for t in trials if t.get("chosen")), None)
    return {"chosen": chosen, "trials": trials}


def startup_run(workdir: Path, i: int) -> float:
    """Wall seconds of `trustshield --help`: interpreter start and package imports only."""
    cmd = [str(VENV_BIN / "trustshield"), "--help"]
    return round(run_measured(cmd, cwd=workdir, log=workdir / f"startup_{i}.log")["wall_s"], 3)


def detect_run(model: Path, data: Path, store: Path, workdir: Path, rows: int, i: int) -> dict:
    import duckdb

    if store.exists():
        store.unlink()
    cmd = [
        str(VENV_BIN / "trustshield"),
        "detect",
        "--model",
        str(model),
        "--data",
        str(data),
        "--store",
        str(store),
    ]
    before = loadavg()
    figures = run_measured(cmd, cwd=workdir, log=workdir / f"detect_{i}.log")
    with duckdb.connect(str(store), read_only=True) as db:
        run = db.execute("SELECT rows_read, alerts_added, status FROM runs").fetchall()
        actions = dict(db.execute("SELECT action, count(*) FROM alerts GROUP BY action").fetchall())
    if len(run) != 1 or run[0][2] != "complete" or run[0][0] != rows:
        raise SystemExit(f"detect run {i} did not complete over {rows} rows: {run}")
    return {
        "run": i,
        "wall_s": round(figures["wall_s"], 3),
        "rows_per_s": round(rows / figures["wall_s"], 1),
        "peak_rss_mb": figures["peak_rss_mb"],
        "cpu_s": round(figures["user_s"] + figures["sys_s"], 2),
        "rows_per_cpu_s": round(rows / (figures["user_s"] + figures["sys_s"]), 1),
        "alerts": int(actions.get("alert", 0)),
        "reviews": int(actions.get("review", 0)),
        "loadavg_before": before,
        "command": " ".join(cmd),
    }


def reference_run(data: Path, train_path: Path, workdir: Path, rows: int, i: int) -> dict:
    out = workdir / f"reference_{i}.duckdb"
    result = workdir / f"reference_{i}.json"
    for path in (out, result):
        if path.exists():
            path.unlink()
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--reference",
        "--data",
        str(data),
        "--train",
        str(train_path),
        "--out",
        str(out),
        "--result",
        str(result),
    ]
    before = loadavg()
    figures = run_measured(cmd, cwd=workdir, log=workdir / f"reference_{i}.log")
    timed = json.loads(result.read_text())
    out.unlink(missing_ok=True)
    if timed["rows"] != rows:
        raise SystemExit(f"reference run {i} read {timed['rows']} rows, expected {rows}")
    return {
        "run": i,
        "timed_s": round(timed["timed_s"], 3),
        "rows_per_s": round(rows / timed["timed_s"], 1),
        "process_wall_s": round(figures["wall_s"], 3),
        "peak_rss_mb": figures["peak_rss_mb"],
        "rss_before_timed_mb": timed["rss_before_timed_mb"],
        "alerts": timed["alerts"],
        "stages_s": timed["stages_s"],
        "encoded_features": timed["encoded_features"],
        "loadavg_before": before,
        "command": " ".join(cmd),
    }


# --------------------------------------------------------------------------------------
# the reference pipeline (runs in its own process: --reference)


def reference_main(args) -> None:
    """Default LightGBM + pandas one-hot + shap, as a practitioner would write it."""
    import duckdb
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    import shap

    from trustshield.specs import load_spec

    names = list(load_spec(SPEC).column_names)  # the 43 NSL-KDD column names
    drop = ["label", "difficulty"]

    # --- not timed: training and explainer set-up
    train = pd.read_csv(args.train, header=None, names=names)
    y = (train["label"] != "normal").astype(int)
    X_train = pd.get_dummies(train.drop(columns=drop), columns=list(CATEGORICAL))
    model = lgb.LGBMClassifier()  # default settings
    model.fit(X_train, y)
    explainer = shap.TreeExplainer(model)
    del train
    rss_before = mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    # --- timed: read → encode → predict → explain every alert → store
    t0 = time.perf_counter()
    frame = pd.read_csv(args.data, header=None, names=names)
    X = pd.get_dummies(frame.drop(columns=drop), columns=list(CATEGORICAL))
    X = X.reindex(columns=X_train.columns, fill_value=False)
    t1 = time.perf_counter()
    proba = model.predict_proba(X)[:, 1]
    alerts = np.flatnonzero(proba >= 0.5)
    t2 = time.perf_counter()
    shap_values = np.asarray(explainer.shap_values(X.iloc[alerts]))
    if shap_values.ndim == 3:  # older shap: one slice per class
        shap_values = shap_values[..., -1]
    t3 = time.perf_counter()
    out = pd.DataFrame(shap_values, columns=[f"shap_{c}" for c in X.columns])
    out.insert(0, "line", alerts + 1)
    out.insert(1, "probability", proba[alerts])
    out.insert(2, "label", frame["label"].to_numpy()[alerts])
    out["base"] = float(np.ravel(explainer.expected_value)[-1])
    with duckdb.connect(args.out) as db:
        db.execute("CREATE TABLE alerts AS SELECT * FROM out")
    t4 = time.perf_counter()

    Path(args.result).write_text(
        json.dumps(
            {
                "rows": int(len(frame)),
                "alerts": int(len(alerts)),
                "timed_s": t4 - t0,
                "stages_s": {
                    "read_encode": round(t1 - t0, 3),
                    "predict": round(t2 - t1, 3),
                    "shap": round(t3 - t2, 3),
                    "store": round(t4 - t3, 3),
                },
                "encoded_features": int(X.shape[1]),
                "rss_before_timed_mb": rss_before,
            }
        )
    )


# --------------------------------------------------------------------------------------
# exactness


def _goes_left(node: dict, x):
    """LightGBM's routing (tree.h NumericalDecision / CategoricalDecision) for one split."""
    import numpy as np

    if node["decision_type"] == "==":
        cats = np.array([int(c) for c in str(node["threshold"]).split("||")])
        ok = ~np.isnan(x) & (x >= 0)
        codes = np.where(ok, x, -1).astype(np.int64)
        return ok & np.isin(codes, cats)
    missing = node["missing_type"]
    if missing != "NaN":
        x = np.where(np.isnan(x), 0.0, x)
    if missing == "Zero":
        is_missing = np.abs(x) <= 1e-35
    elif missing == "NaN":
        is_missing = np.isnan(x)
    else:
        is_missing = np.zeros(len(x), dtype=bool)
    return np.where(is_missing, bool(node["default_left"]), x <= node["threshold"])


#: a leaf whose path splits on more distinct features than this is not enumerated (its
#: game has 2**m coalitions); the check then says how many leaves it left out
MAX_PATH_FEATURES = 20


def _popcount(masks):
    import numpy as np

    counts = np.zeros(len(masks), dtype=np.int64)
    for k in range(int(masks.max()).bit_length()):
        counts += (masks >> k) & 1
    return counts


def _leaf_game(z):
    """Shapley weights of one leaf's game over its m = len(z) path features.

    The game is g(S) = Π_{j in S} o_j · Π_{j not in S} z_j (o_j in {0, 1}: the record meets
    every split of the path on feature j; z_j: the training share that passes those
    splits). Returns G (m, 2**m): G[i, a] = Σ over coalitions S ⊆ a without i of
    |S|!(m-|S|-1)!/m! · Π_{j not in S, j ≠ i} z_j, so that the Shapley value of feature i
    for a record whose o-pattern is the bit mask a is (bit i of a - z_i) · G[i, a]; and
    v(∅) = Π z_j. The sum over subsets is enumerated term by term (a subset-sum transform
    over the 2**m coalitions), not TreeSHAP's recursion.
    """
    import numpy as np

    m = len(z)
    masks = np.arange(1 << m)
    size = _popcount(masks)
    # P[S] = Π_{j not in S} z_j
    P = np.ones(1 << m)
    for k, zk in enumerate(z):
        P[((masks >> k) & 1) == 0] *= zk
    weight = np.array(
        [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) if s < m else 0.0
         for s in range(m + 1)]
    )[size]  # fmt: skip
    G = np.zeros((m, 1 << m))
    for i in range(m):
        without = ((masks >> i) & 1) == 0
        G[i, without] = weight[without] * P[masks[without] | (1 << i)]
    for k in range(m):  # G[i, a] = Σ_{S ⊆ a} G[i, S]
        view = G.reshape(m, -1, 2, 1 << k)
        view[:, :, 1, :] += view[:, :, 0, :]
    return G, float(P[0])


def enumerated_shapley(booster, X):
    """Exact path-dependent Shapley values, computed by the definition, not by TreeSHAP.

    For every tree, v(S) = E[tree(x) | x_S] with unknown features averaged by training
    counts (the conditional expectation TreeSHAP explains). That expectation is a sum over
    the tree's leaves of leaf value × a product over the features split on along the
    leaf's path (for a known feature: whether x meets all of the path's splits on it; for
    an unknown one: the share of training records that do), so by the linearity of Shapley
    values each leaf is a game of its own path features only; every leaf's Shapley values
    are summed over all 2**m coalitions of its m path features (``_leaf_game``).
    Independent of LightGBM's and shap's TreeSHAP code, and its cost grows with the
    number of distinct features on one path (at most MAX_PATH_FEATURES), not in a whole
    tree. Returns (values (n, d), base, v(all features) summed over trees (n,), leaves
    enumerated, leaves left out, largest m).
    """
    import numpy as np

    n, d = X.shape
    values = np.zeros((n, d))
    base = 0.0
    full = np.zeros(n)
    enumerated = left_out = widest = 0
    for info in booster.dump_model()["tree_info"]:
        root = info["tree_structure"]
        if "leaf_value" in root:
            base += root["leaf_value"]
            full += root["leaf_value"]
            continue
        left = {}
        stack = [(root, ())]
        while stack:
            node, path = stack.pop()
            if "leaf_value" not in node:
                left[id(node)] = _goes_left(node, X[:, node["split_feature"]])
                stack.append((node["left_child"], (*path, (node, True))))
                stack.append((node["right_child"], (*path, (node, False))))
                continue
            feats: dict[int, tuple[float, np.ndarray]] = {}  # feature → (z, o)
            for parent, went_left in path:
                f = parent["split_feature"]
                child = parent["left_child"] if went_left else parent["right_child"]
                count = child.get("leaf_count", child.get("internal_count"))
                share = count / parent["internal_count"]
                meets = left[id(parent)] if went_left else ~left[id(parent)]
                z, o = feats.get(f, (1.0, np.ones(n, dtype=bool)))
                feats[f] = (z * share, o & meets)
            m = len(feats)
            widest = max(widest, m)
            if m > MAX_PATH_FEATURES:
                left_out += 1
                continue
            enumerated += 1
            order = list(feats)
            z = np.array([feats[f][0] for f in order])
            a = np.zeros(n, dtype=np.int64)
            for k, f in enumerate(order):
                a |= feats[f][1].astype(np.int64) << k
            G, empty = _leaf_game(z)
            bits = (a[None, :] >> np.arange(m)[:, None]) & 1  # (m, n)
            value = node["leaf_value"]
            values[:, order] += (value * (bits - z[:, None]) * G[np.arange(m)[:, None], a]).T
            base += value * empty
            full += value * (a == (1 << m) - 1)
    return values, base, full, enumerated, left_out, widest


def exactness(model_dir: Path, store: Path, seed: int = 0) -> dict:
    import warnings

    import duckdb
    import numpy as np
    import pandas as pd
    import shap

    from trustshield.commands.common import resolve_data
    from trustshield.ingest.tabular import TableSource
    from trustshield.model_folder import load_model

    model = load_model(model_dir)
    source = TableSource(resolve_data(TEST_FILE), model.spec)
    frame = pd.concat([batch.frame for batch in source], ignore_index=True)
    X = model.encoder.transform(frame)
    detector = model.detector
    decision = model.policy.decide(detector.suspicion(X))
    alerted = np.flatnonzero(decision.alerted)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(alerted, size=min(N_EXACT, len(alerted)), replace=False))
    X_alerts = X.iloc[rows]
    matrix = X_alerts.to_numpy(dtype=np.float64)

    supervised = detector.parts()["supervised"]
    booster = supervised.booster_
    ours = supervised.explain(X_alerts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(booster)
        theirs = np.asarray(explainer.shap_values(matrix))
    enum_values, enum_base, enum_full, leaves, left_out, widest = enumerated_shapley(
        booster, matrix
    )
    margin = booster.predict(matrix, raw_score=True)

    hybrid = detector.explain(X_alerts)
    winner = detector.part_scores(X_alerts).argmax(axis=1)
    hybrid_error = np.abs(hybrid.total() - decision.suspicion[rows])
    # the additivity identity on every alert of the file, not only the sample
    X_all = X.iloc[alerted]
    every = supervised.explain(X_all)
    every_margin = booster.predict(X_all.to_numpy(dtype=np.float64), raw_score=True)
    supervised_error_all = np.abs(every.total() - every_margin)
    cost = explanation_cost(supervised, X_all)
    hybrid_error_all = np.abs(detector.explain(X_all).total() - decision.suspicion[alerted])

    with duckdb.connect(str(store), read_only=True) as db:
        total = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        stored = db.execute(
            "SELECT action, base, suspicion, attributions FROM alerts "
            f"USING SAMPLE reservoir({N_EXACT} ROWS) REPEATABLE ({seed})"
        ).fetchall()
    stored_error = np.array([abs(b + math.fsum(a) - s) for _, b, s, a in stored])
    stored_actions = {}
    for action, *_ in stored:
        stored_actions[action] = stored_actions.get(action, 0) + 1

    return {
        "n_alerts": int(len(rows)),
        "alerts_in_test_file": int(len(alerted)),
        "max_abs_diff_vs_shap": float(np.abs(ours.values - theirs).max()),
        "max_abs_base_diff_vs_shap": float(
            np.abs(ours.base - np.ravel(explainer.expected_value)[-1]).max()
        ),
        "max_abs_diff_vs_enumerated_shapley": float(np.abs(ours.values - enum_values).max()),
        "max_abs_base_diff_vs_enumerated_shapley": float(np.abs(ours.base - enum_base).max()),
        "enumeration_self_check": float(np.abs(enum_full - margin).max()),
        "enumerated_leaves": leaves,
        "enumeration_leaves_left_out": left_out,
        "widest_path_features": widest,
        "max_abs_sum_error": float(hybrid_error.max()),
        "max_abs_sum_error_all_alerts": float(hybrid_error_all.max()),
        "supervised_max_abs_sum_error_all_alerts": float(supervised_error_all.max()),
        "hybrid_winner_counts": {
            name: int((winner == i).sum()) for i, name in enumerate(detector.parts())
        },
        "stored_max_abs_sum_error": float(stored_error.max()) if len(stored_error) else None,
        "stored_n": int(len(stored_error)),
        "stored_total": int(total),
        "stored_sample_actions": stored_actions,
        "note": (
            "shap.TreeExplainer on a LightGBM model calls LightGBM's own pred_contrib "
            "(shap's tree_path_dependent shortcut), so max_abs_diff_vs_shap compares the "
            "same C++ code; max_abs_diff_vs_enumerated_shapley is an independent check "
            "(Shapley values by subset enumeration over the dumped trees, leaf by leaf: each "
            "leaf's game over the distinct features on its path, all 2**m coalitions, "
            f"m ≤ {MAX_PATH_FEATURES}; enumeration_leaves_left_out counts leaves with more, "
            "none when 0; enumeration_self_check = its v(all features) vs the booster's raw "
            "margin); max_abs_sum_error_all_alerts and "
            "supervised_max_abs_sum_error_all_alerts: base + Σ attributions vs the "
            "suspicion (hybrid) and vs the booster's raw margin (supervised part) on every "
            "alert of the test file."
        ),
        "gbdt_threads": supervised.get_params(deep=False)["n_threads"],
        "explanation_cost": cost,
    }


def explanation_cost(supervised, X) -> dict:
    """CPU seconds (one thread) to explain the supervised part on ``X`` (every alert of one
    copy of KDDTest+) with a freshly loaded copy of it: the first time, when every route
    through a tree is new to the table of a large booster, and again, when every route is
    known; and LightGBM's ``pred_contrib`` on the same rows."""
    import numpy as np

    from trustshield.detectors.gbdt import FOREST_MIN_LEAVES

    fresh = type(supervised).from_dict(supervised.to_dict())
    fresh.set_params(n_threads=1)
    matrix = X.to_numpy(dtype=np.float64)
    seconds = {}
    for name, call in (
        ("first_sight", lambda: fresh.explain(X)),
        ("routes_known", lambda: fresh.explain(X)),
        ("lightgbm_pred_contrib", lambda: fresh.booster_.predict(matrix, pred_contrib=True)),
    ):
        start = time.process_time()
        call()
        seconds[name] = time.process_time() - start
    leaves = fresh.booster_.num_trees() * fresh.num_leaves
    return {
        "rows": int(len(X)),
        "booster_leaves": int(leaves),
        "route_table": leaves >= FOREST_MIN_LEAVES,
        **{f"{k}_ms_per_row": round(1e3 * v / max(len(X), 1), 4) for k, v in seconds.items()},
    }


def cache_text(cost: dict) -> str:
    """What TrustShield keeps between explanations of this model, and what that means here."""
    if not cost["route_table"]:
        return "no explanation is kept: every alert and review is explained when scored"
    return (
        "each tree's TreeSHAP values are kept per route once computed (a booster of "
        f"{cost['booster_leaves']:,} leaves); the input repeats KDDTest+, so after the first "
        "copy every route is known: on one copy's alerts, first sight "
        f"{cost['first_sight_ms_per_row']} ms a row, routes known "
        f"{cost['routes_known_ms_per_row']} ms, LightGBM's pred_contrib "
        f"{cost['lightgbm_pred_contrib_ms_per_row']} ms (CPU, one thread)"
    )


@contextmanager
def workdir_for(args):
    if args.workdir:
        path = Path(args.workdir).resolve()
        if path == REPO or REPO in path.parents:
            raise SystemExit(
                f"--workdir {path} is inside the checkout {REPO}; choose a folder outside it"
            )
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="trustshield-bench-") as tmp:
            yield Path(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"at least this many rows (KDDTest+ repeated; default {DEFAULT_ROWS})",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs of each pipeline (default 3)")
    parser.add_argument("--model", help="model folder; default: train one with `trustshield train`")
    parser.add_argument(
        "--reference-rows",
        type=int,
        default=None,
        help=f"time the reference on a smaller file of at least this many rows "
        f"(≥ {MIN_REFERENCE_ROWS}); default: the same file as TrustShield",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ROWS} rows, 1 run")
    parser.add_argument(
        "--capacity-rule",
        choices=CAPACITY_RULES,
        help="train the model with this capacity rule (default: train's own); not with --model",
    )
    parser.add_argument(
        "--workdir",
        help="folder for temporary files (outside the checkout); "
        "default: a temporary folder removed at the end",
    )
    # internal: the reference pipeline in its own process
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference:
        reference_main(args)
        return 0
    rows_wanted = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    runs = args.runs or (1 if args.quick else 3)
    if args.capacity_rule and args.model:
        parser.error("--capacity-rule trains a model; it cannot be used with --model")
    if args.reference_rows is not None and args.reference_rows < MIN_REFERENCE_ROWS:
        parser.error(f"--reference-rows must be at least {MIN_REFERENCE_ROWS}")
    return benchmark(args, rows_wanted, runs)


def benchmark(args, rows_wanted: int, runs: int) -> int:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from trustshield.commands.common import resolve_data

    err = Console(stderr=True)
    test_path, train_path = resolve_data(TEST_FILE), resolve_data(TRAIN_FILE)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with (
        workdir_for(args) as workdir,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            refresh_per_second=2,
        ) as progress,
    ):

        @contextmanager
        def step(description: str):
            task = progress.add_task(description, total=1)
            yield
            progress.update(task, completed=1, description=f"[green]✓[/green] {description}")

        big = workdir / f"KDDTest+_x{math.ceil(rows_wanted / 22_544)}.csv"
        with step(f"writing {big.name} (KDDTest+ repeated to ≥ {rows_wanted:,} rows)"):
            rows = repeat_file(test_path, big, rows_wanted)
        ref_data, ref_rows = big, rows
        if args.reference_rows and args.reference_rows < rows:
            ref_data = workdir / "reference_input.csv"
            ref_rows = repeat_file(test_path, ref_data, args.reference_rows)

        training = None
        if args.model:
            model_dir = Path(args.model).resolve()
        else:
            model_dir = workdir / "model"
            with step(
                "training a model with `trustshield train` on KDDTrain+_20Percent "
                "(not timed; a few minutes)"
            ):
                training = train_model(train_path, model_dir, workdir, args.capacity_rule)

        with step("start-up cost: `trustshield --help` × 3 (interpreter + imports)"):
            startup = [startup_run(workdir, i) for i in range(1, 4)]
        ts_runs, ref_runs = [], []
        store = workdir / "detect.duckdb"
        for i in range(1, runs + 1):
            with step(f"run {i}/{runs}: trustshield detect on {rows:,} rows"):
                ts_runs.append(detect_run(model_dir, big, store, workdir, rows, i))
            r = ts_runs[-1]
            progress.console.print(
                f"    trustshield run {i}: {r['wall_s']:.1f} s, "
                f"{r['rows_per_s']:,.0f} rows/s, {r['peak_rss_mb']:,.0f} MB"
            )
            with step(f"run {i}/{runs}: reference pipeline on {ref_rows:,} rows"):
                ref_runs.append(reference_run(ref_data, train_path, workdir, ref_rows, i))
            r = ref_runs[-1]
            progress.console.print(
                f"    reference run {i}: {r['timed_s']:.1f} s timed, "
                f"{r['rows_per_s']:,.0f} rows/s, {r['peak_rss_mb']:,.0f} MB"
            )

        with step(f"exactness on {N_EXACT:,} alerts and {N_EXACT:,} stored attributions"):
            exact = exactness(model_dir, store)

        rows_per_s = statistics.median(r["rows_per_s"] for r in ts_runs)

        machine = machine_info()

    ref_rows_per_s = statistics.median(r["rows_per_s"] for r in ref_runs)
    last = ts_runs[-1]
    threads = (
        f"TrustShield's LightGBM uses num_threads={exact['gbdt_threads']} (from the model), "
        f"numpy/BLAS and DuckDB their defaults; the reference uses LightGBM's default "
        f"(all {machine['cpus_available']} available cores) and shap's LightGBM path "
        f"(LightGBM pred_contrib)"
    )
    protocol = (
        f"Timed the whole `trustshield detect` command in a subprocess (interpreter start, imports, "
        f"model load, CSV read, validation against the spec, encoding, scoring, decisions, exact "
        f"explanation of every alert and review, rationale, DuckDB writes) over {rows:,} rows "
        f"(KDDTest+ concatenated {rows // 22_544} times), rows/s = rows / process wall time; "
        f"reference = pandas.read_csv + get_dummies + default LGBMClassifier.predict_proba + "
        f"shap.TreeExplainer on every alert (p ≥ 0.5) + DuckDB, timed from read_csv to the store "
        f"(imports, training and explainer set-up excluded, which favours the reference) over "
        f"{ref_rows:,} rows; {runs} interleaved run(s) each, fresh store each time, median reported, "
        f"peak RSS = largest run's own (os.wait4); {cache_text(exact['explanation_cost'])}; "
        f"{threads}; {machine['cpus_available']} CPUs, shared machine."
    )
    figures = {
        "rows": rows,
        "rows_per_s": round(rows_per_s, 1),
        "reference_rows": ref_rows,
        "reference_rows_per_s": round(ref_rows_per_s, 1),
        "ratio": round(rows_per_s / ref_rows_per_s, 3),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in ts_runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in ts_runs),
        "startup_s": statistics.median(startup),
        "rows_per_s_after_startup": round(
            rows / (statistics.median(r["wall_s"] for r in ts_runs) - statistics.median(startup)), 1
        ),
        "reference_peak_rss_mb": max(r["peak_rss_mb"] for r in ref_runs),
        "alerts_share": round(last["alerts"] / rows, 4),
        "reviews_share": round(last["reviews"] / rows, 4),
        "reference_alerts_share": round(ref_runs[-1]["alerts"] / ref_rows, 4),
        "runs": {"trustshield": ts_runs, "reference": ref_runs},
        "exact": exact,
        "targets": TARGETS,
        "meets_targets": {
            "rows_per_s": rows_per_s >= TARGETS["rows_per_s"],
            "ratio": rows_per_s / ref_rows_per_s >= TARGETS["ratio"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ts_runs) <= TARGETS["peak_rss_mb"],
            "exact": max(
                exact["max_abs_diff_vs_shap"],
                exact["max_abs_diff_vs_enumerated_shapley"],
                exact["max_abs_sum_error"],
                exact["max_abs_sum_error_all_alerts"],
                exact["supervised_max_abs_sum_error_all_alerts"],
                exact["stored_max_abs_sum_error"] or 0.0,
            )
            <= TARGETS["exact"]
            and exact["enumeration_leaves_left_out"] == 0,
        },
        "protocol": protocol,
        "explanation_cache": cache_text(exact["explanation_cost"]),
        "model": {
            "dir": str(model_dir) if args.model else "trained in the temporary folder",
            "training": training,
            "capacity": capacity_of(model_dir),
        },
        "machine": machine,
        "started_at": started,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print_table(figures)
    return 0


def print_table(f: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    if not out.is_terminal:
        out = Console(width=120)
    ok = f["meets_targets"]
    mark = {True: "[green]meets[/green]", False: "[red]misses[/red]"}
    e = f["exact"]
    table = Table(
        title=f"TrustShield detect throughput — {f['rows']:,} rows, "
        f"median of {len(f['runs']['trustshield'])} run(s)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("")
    table.add_row(
        "rows/s (whole detect process)",
        f"{f['rows_per_s']:,.0f}",
        "≥ 20,000",
        mark[ok["rows_per_s"]],
    )
    table.add_row("  start-up (interpreter + imports) s", f"{f['startup_s']:.1f}", "", "")
    table.add_row(
        "  rows/s after start-up (derived)", f"{f['rows_per_s_after_startup']:,.0f}", "", ""
    )
    table.add_row(
        "reference rows/s (pandas+LightGBM+shap)", f"{f['reference_rows_per_s']:,.0f}", "", ""
    )
    table.add_row("ratio", f"{f['ratio']:.2f}", "≥ 3", mark[ok["ratio"]])
    table.add_row(
        "peak RSS MB (largest run)", f"{f['peak_rss_mb']:,.0f}", "≤ 1,500", mark[ok["peak_rss_mb"]]
    )
    table.add_row("reference peak RSS MB", f"{f['reference_peak_rss_mb']:,.0f}", "", "")
    table.add_row(
        "alert / review share", f"{f['alerts_share']:.3f} / {f['reviews_share']:.3f}", "", ""
    )
    table.add_row("reference alert share", f"{f['reference_alerts_share']:.3f}", "", "")
    table.add_row(
        f"max |attr − shap| ({e['n_alerts']} alerts)",
        f"{e['max_abs_diff_vs_shap']:.2e}",
        "≤ 1e-6",
        "",
    )
    table.add_row(
        "max |attr − enumerated Shapley|",
        f"{e['max_abs_diff_vs_enumerated_shapley']:.2e}",
        "≤ 1e-6",
        "",
    )
    table.add_row(
        "hybrid max |base + Σattr − suspicion|", f"{e['max_abs_sum_error']:.2e}", "≤ 1e-6", ""
    )
    table.add_row(
        f"  on every alert ({e['alerts_in_test_file']}): hybrid / supervised vs margin",
        f"{e['max_abs_sum_error_all_alerts']:.2e} / "
        f"{e['supervised_max_abs_sum_error_all_alerts']:.2e}",
        "≤ 1e-6",
        "",
    )
    table.add_row(
        f"stored max |base + Σattr − suspicion| ({e['stored_n']})",
        f"{e['stored_max_abs_sum_error']:.2e}",
        "≤ 1e-6",
        mark[ok["exact"]],
    )
    out.print(table)
    runs = Table(title="runs")
    for col in (
        "run",
        "trustshield s",
        "rows/s",
        "RSS MB",
        "ref timed s",
        "ref rows/s",
        "ref RSS MB",
        "ref read / predict / shap / store s",
    ):
        runs.add_column(col, justify="right")
    for t, r in zip(f["runs"]["trustshield"], f["runs"]["reference"]):
        s = r["stages_s"]
        runs.add_row(
            str(t["run"]),
            f"{t['wall_s']:.1f}",
            f"{t['rows_per_s']:,.0f}",
            f"{t['peak_rss_mb']:,.0f}",
            f"{r['timed_s']:.1f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{s['read_encode']:.1f} / {s['predict']:.1f} / {s['shap']:.1f} / {s['store']:.1f}",
        )
    out.print(runs)
    out.print(f"[dim]{f['protocol']}[/dim]")


if __name__ == "__main__":
    sys.exit(main())
