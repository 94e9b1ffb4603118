"""The peer side of the evasion benchmark: ART's HopSkipJump and ZOO, unconstrained.

    python benchmarks/art_peer.py --model out/model [--records 500] [--attack hopskipjump]

The Adversarial Robustness Toolbox (ART) attacks the deployed model as a black box with
two classes: 0 = allow, 1 = flagged (review or alert). ART works in the unit cube: every
one of the d encoded features (``FeatureEncoder`` order, categoricals as integer codes) is
mapped affinely from [lo, hi] to [0, 1], with lo, hi the spec's bounds where finite and
otherwise the min / max over the reference normal rows and the attacked records
(categorical codes: 0 … number of categories − 1). Scoring a point of the cube maps it
back, rounds and clips each categorical code to the nearest valid code (what an
unconstrained attack sees), and asks the detector and policy, exactly as ``score_batch``
does. ART's outputs are then decoded to raw records as produced (numbers unrounded; a
categorical code that is not a whole valid code becomes the string ``"<code 2.37>"``) and
given to the feasibility checker and the budget.

Success = the model allows ART's output as ART's black box scored it. A feasible success
also needs the checker to accept the output (including the recorded resolution: whole
numbers, rates to two decimals) and the budget to allow it. Outputs are read as ART
produced them, except that ART's float32 rounding (within 4 ulps of its input) is not read
as a change, and a record whose query count passes ``CALLS_PER_RECORD`` (HopSkipJump can
loop for ever, see there) keeps the last point the model allowed it.

Departures from ART's defaults, all reported in ``parameters``: HopSkipJump runs 8
iterations instead of 50 (time), and starts from the nearest allowed reference normal
record (``x_adv_init``) because its random-uniform start is never allowed by this model
(``random_init_allowed_share``); ZOO runs 41 parallel coordinates instead of 128 (ART draws
them without replacement from the d = 41). ART 1.20.1's ZOO clips its perturbation, not
the perturbed point, to ``clip_values``, so here it can only raise features; a stronger
setting (initial_const 10, learning_rate 0.1, 30 iterations, no early abort, with or
without clip_values) evaded none of 100 records in a trial either. Seeds are fixed (NumPy's
global generator, restored afterwards), so runs repeat.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.model_folder import TrainedModel
from trustshield.records import ALLOW
from trustshield.specs.feasibility import infeasibility

#: HopSkipJump: ART defaults except max_iter (50 → 8, for time; success hardly depends on it:
#: HopSkipJump starts allowed and stays allowed, iterations only shrink the change)
HSJ_PARAMS = {
    "norm": 2,
    "max_iter": 8,
    "max_eval": 10000,
    "init_eval": 100,
    "init_size": 100,
    "batch_size": 64,
    "targeted": False,
}
#: ZOO: ART defaults except nb_parallel (128 → 41); batch_size 1 is ART's only choice for
#: feature vectors
ZOO_PARAMS = {
    "confidence": 0.0,
    "learning_rate": 1e-2,
    "max_iter": 10,
    "binary_search_steps": 1,
    "initial_const": 1e-3,
    "abort_early": True,
    "nb_parallel": 41,
    "batch_size": 1,
    "variable_h": 1e-4,
    "targeted": False,
}
INIT_NEIGHBOURS = 32  # allowed normal records tried as start points, nearest first
PROGRESS_EVERY = 50  # records between progress messages
#: model calls one record may use (HopSkipJump needs ~250 with HSJ_PARAMS). ART 1.20.1's
#: HopSkipJump can loop for ever: under NumPy 2 its last interpolation runs in float32
#: while its binary search ran in float64, and where this model's score jumps the float32
#: point is not adversarial, so its step-size search never succeeds.
CALLS_PER_RECORD = 2000

PROTOCOL = (
    "ART {attack} ({form}) against the deployed model as a 2-class black box "
    "(allow / flagged) on the 41 encoded features mapped to [0, 1] by spec bounds where "
    "finite, else the min/max of KDDTest+ normal and attacked records; categorical codes "
    "rounded to the nearest valid code for scoring, outputs decoded unrounded and judged "
    "by the feasibility checker and the budget; success = the model allows the output, "
    "feasible success = also accepted by the checker and within the budget."
)


class UnitView:
    """Maps between raw frames, encoded vectors (n, d) and ART's unit cube (n, d)."""

    def __init__(self, model: TrainedModel, reference: pd.DataFrame):
        enc = model.encoder
        X = enc.transform(reference).to_numpy()
        self.model, self.names = model, enc.feature_names
        self.columns = pd.Index(self.names, dtype=object)  # plain strings: cheap to iterate
        self.cat = np.array([n in enc.categories_ for n in self.names])
        lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        for j, name in enumerate(self.names):
            if self.cat[j]:
                lo[j], hi[j] = 0, len(enc.categories_[name]) - 1
                continue
            spec_lo, spec_hi = model.spec.column(name).bounds()
            lo[j] = spec_lo if np.isfinite(spec_lo) else lo[j]
            hi[j] = spec_hi if np.isfinite(spec_hi) else hi[j]
        self.lo, self.span = lo, hi - lo

    def to_unit(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw frame → float32 (n, d) in [0, 1]; NaN where a category was unseen at fit."""
        X = self.model.encoder.transform(frame).to_numpy()
        safe = np.where(self.span > 0, self.span, 1.0)
        return np.clip((X - self.lo) / safe, 0, 1).astype(np.float32)

    def encoded(self, unit: np.ndarray) -> np.ndarray:
        """Unit cube (n, d) → encoded float64 values, categorical codes as ART produced them."""
        return self.lo + np.asarray(unit, dtype=np.float64) * self.span

    def suspicion(self, unit: np.ndarray) -> np.ndarray:
        """Suspicion (n,) of cube points, codes snapped to the nearest valid code; higher =
        more suspicious, flagged from ``policy.review_threshold_`` up."""
        X = self.encoded(unit)
        X[:, self.cat] = np.clip(
            np.round(X[:, self.cat]), 0, self.lo[self.cat] + self.span[self.cat]
        )
        return self.model.detector.suspicion(pd.DataFrame(X, columns=self.columns, copy=False))

    def allowed(self, unit: np.ndarray) -> np.ndarray:
        return self.model.policy.decide(self.suspicion(unit)).actions == ALLOW

    def decode(self, unit: np.ndarray, start: np.ndarray, originals: pd.DataFrame) -> pd.DataFrame:
        """ART's outputs (n, d) → raw frame aligned with ``originals``. A coordinate within
        4 float32 ulps of what ART was given (``start``) keeps the original raw value: ART
        computes in float32, and its rounding (up to ~60 bytes on a byte counter whose
        range is 1e9) is not a change the attack chose."""
        out = originals.reset_index(drop=True).copy()
        X = self.encoded(unit)
        kept_all = np.abs(unit - start) <= 4 * np.spacing(np.abs(start))
        for j, name in enumerate(self.names):
            kept = kept_all[:, j]
            if not self.cat[j]:
                out[name] = np.where(kept, out[name].to_numpy(dtype=float), X[:, j])
                continue
            codes = self.model.encoder.categories_[name]
            whole = np.abs(X[:, j] - np.round(X[:, j])) <= 1e-6
            out[name] = [
                orig if k else (codes[int(round(v))] if w else f"<code {v:.4g}>")
                for orig, k, w, v in zip(out[name], kept, whole, X[:, j])
            ]
        return out


class QueryLimit(Exception):
    """One record used more than ``Oracle.limit`` model calls."""


class Oracle:
    """ART's ``predict_fn``: cube points (n, d) → (n, 2) class scores, counting calls.

    HopSkipJump gets one-hot decisions (0 = allow, 1 = flagged). ZOO gets log-probabilities
    of p(flagged) = logistic(suspicion − review threshold), so its margin log p1 − log p0
    is exactly suspicion − review threshold (the ZOO paper's log-probability loss).
    ``limit`` calls per record (see :data:`CALLS_PER_RECORD`), then :class:`QueryLimit`;
    ``last_allowed`` is the last single point it allowed for the current record.
    """

    def __init__(self, view: UnitView, *, log_proba: bool, limit: int):
        self.view, self.log_proba, self.limit = view, log_proba, limit
        self.calls = self.rows = 0
        self.seconds = 0.0
        self.new_record()

    def new_record(self) -> None:
        self.record_calls, self.last_allowed = 0, None

    def __call__(self, unit: np.ndarray) -> np.ndarray:
        self.record_calls += 1
        if self.record_calls > self.limit:
            raise QueryLimit
        started = time.perf_counter()
        policy = self.view.model.policy
        suspicion = self.view.suspicion(unit)
        flagged = policy.decide(suspicion).actions != ALLOW
        if len(unit) == 1 and not flagged[0]:
            self.last_allowed = np.array(unit[0], dtype=np.float32)
        if self.log_proba:
            margin = suspicion - policy.review_threshold_
            out = np.column_stack([-np.logaddexp(0, margin), -np.logaddexp(0, -margin)])
        else:
            out = np.column_stack([~flagged, flagged]).astype(np.float32)
        self.calls, self.rows = self.calls + 1, self.rows + len(unit)
        self.seconds += time.perf_counter() - started
        return out


@contextlib.contextmanager
def single_thread(model: TrainedModel):
    """One thread for BLAS and LightGBM while ART queries row by row: thread start-up
    costs more than the work on 1–100 rows, and the machine is shared. Scores unchanged."""
    from threadpoolctl import threadpool_limits

    supervised = model.detector.parts()["supervised"]
    before = supervised.get_params(deep=False)["n_threads"]
    supervised.set_params(n_threads=1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        supervised.set_params(n_threads=before)


@contextlib.contextmanager
def numpy_seed(seed: int):
    """Seed NumPy's global generator (ART draws its noise there), restore it afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _whole_batches():
    from art.estimators.classification import BlackBoxClassifier

    class WholeBatches(BlackBoxClassifier):
        """ART's black box, but each ``predict`` scores all its rows in one call (ZOO asks
        with batch_size 1); the predictions are the same."""

        def predict(self, x, batch_size=128, **kwargs):
            return super().predict(x, batch_size=max(len(x), 1), **kwargs)

    return WholeBatches


@dataclass(frozen=True)
class PeerRun:
    """Figures (JSON-able) and the adversarial raw frame, aligned with the attacked records."""

    figures: dict
    adversarial: pd.DataFrame


def start_points(view: UnitView, x: np.ndarray, normals: np.ndarray, mask: np.ndarray):
    """Per record (n, d), the nearest allowed point x·(1 − mask) + normal·mask among its
    INIT_NEIGHBOURS nearest allowed normals (distance on features outside the mask
    weighted 1000×, so masked starts keep close fixed parts); (start (n, d), found (n,))."""
    w = 1 + 1000 * (1 - mask)
    d2 = (w * x**2).sum(1)[:, None] + (w * normals**2).sum(1)[None, :] - 2 * (w * x) @ normals.T
    near = np.argsort(d2, axis=1)[:, :INIT_NEIGHBOURS]
    hybrid = x[:, None, :] * (1 - mask) + normals[near] * mask  # (n, k, d)
    ok = view.allowed(hybrid.reshape(-1, x.shape[1])).reshape(near.shape)
    dist = np.where(ok, ((hybrid - x[:, None, :]) ** 2).sum(2), np.inf)
    best = dist.argmin(axis=1)
    return hybrid[np.arange(len(x)), best].astype(np.float32), ok.any(axis=1)


def run_peer(
    model: TrainedModel,
    records_raw: pd.DataFrame,
    *,
    reference: pd.DataFrame,
    budget,
    attack: str = "hopskipjump",
    controllable_only: bool = False,
    seed: int = 0,
    progress=None,
) -> PeerRun:
    """Attack ``records_raw`` (n rows the model flags) with ART; figures over all n.

    ``reference``: the labelled frame the records were drawn from; its normal rows set
    the unit-cube bounds and HopSkipJump's start points. ``controllable_only``
    (HopSkipJump only) sets ART's ``mask`` to the features whose spec ``attacker`` is
    not ``fixed``. ``budget``: anything with ``allows(spec, originals, candidates)``.
    """
    if attack not in ("hopskipjump", "zoo") or (controllable_only and attack == "zoo"):
        raise ValueError(
            f"attack must be 'hopskipjump' or 'zoo' (masked: hopskipjump only), got {attack!r}"
        )
    started = time.perf_counter()
    spec = model.spec
    normals_raw = reference[reference[spec.label_column] == spec.normal_label]
    view = UnitView(model, pd.concat([normals_raw, records_raw]))
    x, normals = view.to_unit(records_raw), view.to_unit(normals_raw)
    usable = ~np.isnan(x).any(axis=1)
    originals, x = records_raw[usable].reset_index(drop=True), x[usable]
    mask = np.array(
        [not controllable_only or spec.column(n).attacker != "fixed" for n in view.names],
        dtype=np.float32,
    )
    oracle = Oracle(view, log_proba=attack == "zoo", limit=CALLS_PER_RECORD)
    with single_thread(model), numpy_seed(seed):
        random_allowed = float(view.allowed(np.random.uniform(size=(1000, x.shape[1]))).mean())
        if attack == "hopskipjump":
            normals = normals[~np.isnan(normals).any(axis=1)]
            start, found = start_points(view, x, normals[view.allowed(normals)], mask)
        else:
            start, found = None, np.ones(len(x), dtype=bool)
        adv, stalled = _generate(
            attack, oracle, x, start, found, mask, progress or (lambda m: None), started
        )
    adv = np.where(mask > 0, adv, x)  # ART's contract: masked-out features are not perturbed
    adversarial = view.decode(adv, x, originals)
    figures = evasion_figures(model, originals, adversarial, view.allowed(adv), budget)
    params = {
        **(HSJ_PARAMS if attack == "hopskipjump" else ZOO_PARAMS),
        "seed": seed,
        "start": "nearest allowed normal (x_adv_init)" if attack == "hopskipjump" else "the record",
        "mask": [n for n, m in zip(view.names, mask) if m] if controllable_only else "all",
    }
    figures.update(
        attack=attack,
        variant="controllable features only" if controllable_only else "unconstrained",
        excluded_unseen_category=int((~usable).sum()),
        start_point_found=int(found.sum()),
        stopped_at_call_limit=stalled,
        median_features_changed=float(np.median((adv != x).sum(axis=1))),
        median_l2_unit_cube=float(np.median(np.linalg.norm(adv - x, axis=1))),
        random_init_allowed_share=random_allowed,
        queries={
            "calls": oracle.calls,
            "rows": oracle.rows,
            "model_seconds": round(oracle.seconds, 1),
        },
        seconds=round(time.perf_counter() - started, 1),
        parameters=params,
        protocol=PROTOCOL.format(
            attack="HopSkipJump" if attack == "hopskipjump" else "ZOO",
            form="ART mask on attacker-controllable features"
            if controllable_only
            else "usual unconstrained form",
        ),
    )
    return PeerRun(figures, adversarial)


def _generate(attack, oracle, x, start, found, mask, step, started) -> tuple[np.ndarray, int]:
    """ART's outputs (n, d) in the unit cube, one record at a time, and how many records
    hit the call limit (their output: the last point the model allowed them, else the
    record). Rows without a start point stay as given."""
    from art.attacks.evasion import HopSkipJump, ZooAttack

    classifier = _whole_batches()(
        oracle, input_shape=(x.shape[1],), nb_classes=2, clip_values=(0.0, 1.0)
    )
    if attack == "hopskipjump":
        art = HopSkipJump(classifier, verbose=False, **HSJ_PARAMS)
    else:
        art = ZooAttack(classifier, verbose=False, **ZOO_PARAMS)
    adv, stalled = x.copy(), 0
    for i in range(len(x)):
        oracle.new_record()
        extra = {"mask": mask, "x_adv_init": start[i : i + 1].copy()} if start is not None else {}
        try:
            if found[i]:
                adv[i] = art.generate(x[i : i + 1], **extra)[0]
        except QueryLimit:
            adv[i] = x[i] if oracle.last_allowed is None else oracle.last_allowed
            stalled += 1
        if (i + 1) % PROGRESS_EVERY == 0 or i + 1 == len(x):
            step(f"{attack}: {i + 1}/{len(x)} records, {time.perf_counter() - started:.0f} s")
    return adv, stalled


def evasion_figures(model, originals, adversarial, success, budget) -> dict:
    """Success, feasibility and budget shares over the n attacked records: ``originals`` and
    ``adversarial`` aligned raw frames (n, ·), ``success`` (n,) bool. A feasible success is
    a success the checker accepts (types, ranges, recorded resolution, attacker control,
    relations) within the budget."""
    violations = infeasibility(model.spec, originals, adversarial)
    feasible = np.array([not v for v in violations])
    within = np.asarray(budget.allows(model.spec, originals, adversarial), dtype=bool)
    reasons = Counter(r for found in violations for r in {f"{v.column}: {v.reason}" for v in found})
    n = max(len(originals), 1)
    return {
        "records": len(originals),
        "success_rate": float(success.sum() / n),
        "infeasible_share": float((~feasible).sum() / n),
        "within_budget_share": float(within.sum() / n),
        "feasible_success_rate": float((success & feasible & within).sum() / n),
        "feasible_success_rate_any_budget": float((success & feasible).sum() / n),
        "top_violations": [{"reason": r, "records": c} for r, c in reasons.most_common(5)],
        "mean_violations": float(np.mean([len(v) for v in violations])) if violations else 0.0,
        "budget": budget.as_dict(),
    }


def main(argv=None) -> int:
    import argparse
    import json

    from trustshield.assess.robustness.evasion import Budget, select_attack_records
    from trustshield.commands.common import resolve_data
    from trustshield.ingest.tabular import TableSource
    from trustshield.model_folder import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model folder (trustshield train --out)")
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument(
        "--attack",
        choices=("hopskipjump", "zoo", "both", "all"),
        default="both",
        help="all = both plus HopSkipJump masked to controllable features",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = load_model(args.model)
    test = TableSource(resolve_data("nsl-kdd:KDDTest+.txt"), model.spec).read_all()
    records = select_attack_records(model, test, n=args.records, seed=0)
    runs = [("hopskipjump", False)] if args.attack != "zoo" else []
    runs += [("zoo", False)] if args.attack in ("zoo", "both", "all") else []
    runs += [("hopskipjump", True)] if args.attack == "all" else []
    results = []
    for attack, masked in runs:
        run = run_peer(
            model,
            records,
            reference=test,
            budget=Budget(),
            attack=attack,
            controllable_only=masked,
            progress=lambda m: print(f"  {m}", flush=True),
        )
        f = run.figures
        results.append(f)
        print(
            f"{attack} ({f['variant']}), {f['records']} records, {f['seconds']} s, "
            f"{f['queries']['calls']} calls / {f['queries']['rows']} rows scored"
        )
        for key in (
            "success_rate",
            "infeasible_share",
            "within_budget_share",
            "feasible_success_rate",
            "feasible_success_rate_any_budget",
            "start_point_found",
            "stopped_at_call_limit",
            "median_features_changed",
            "median_l2_unit_cube",
        ):
            print(f"  {key:<34} {f[key]:.4g}")
        for v in f["top_violations"]:
            print(f"  {v['records']:5d} × {v['reason'][:100]}")
        print(f"  parameters {f['parameters']}")
    print(f"wall time {time.perf_counter() - started:.1f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
