"""Evasion: can an attacker who shapes their traffic slip an attack record past the model?

The attacker starts from an attack record that the deployed model flags and changes a
few features it controls (:mod:`.moves` says which, in which direction and how far), so
that the model's decision becomes ``allow``. A record sent to ``review`` is NOT evaded:
a person will look at it. Three attacks, all projecting every step onto the feasible set
and keeping a candidate only when the independent checker
(:func:`trustshield.specs.infeasibility`) and the budget accept it:

- ``score``: beam search that reads the model's suspicion and moves one feature per step
  to a value on a geometric grid over its feasible interval;
- ``tree``: the same search, but the values it tries are those just either side of the
  gradient-boosted component's split thresholds (plus the interval ends), so it walks
  exactly the places where the trees change their answer;
- ``decision``: sees only allow / not allow; random feasible changes of up to
  ``max_features`` features (half at the interval ends), then drops each change that is
  not needed to stay allowed.

Everything is deterministic for a given seed. Each returns an :class:`EvasionOutcome`;
``attack="all"`` keeps, per record, the cheapest successful example of the three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trustshield.assess.robustness.moves import (
    Budget,
    Movable,
    changed_features,
    grid_values,
    log2_change,
    movable_features,
    threshold_values,
)
from trustshield.assess.evidence import SECURITY, at_most
from trustshield.assess.robustness.evasion_attacks import ATTACKS
from trustshield.detectors.protocol import part_scores_of, parts_of
from trustshield.errors import DataError
from trustshield.records import ALLOW, Evidence
from trustshield.specs.feasibility import derive, infeasibility

#: candidate states kept per record between steps of the score and tree searches
BEAM = 4
#: values tried per feature and step by the score search
GRID = 6
#: decision attack: rounds × candidates per round = queries per record before minimising
ROUNDS, PER_ROUND = 8, 25
#: largest acceptable share of flagged attack records evaded at the default budget
MAX_EVASION = 0.05


class ModelTarget:
    """The deployed decision of a trained model on raw records (spec features)."""

    def __init__(self, model):
        self.model = model
        self.features = list(model.spec.feature_names)

    def suspicion(self, raw: pd.DataFrame) -> np.ndarray:
        """(n,) the detector's suspicion, higher = more suspicious."""
        return self.model.detector.suspicion(self.model.encoder.transform(raw))

    def excess(self, raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(objective, suspicion), each (n,): the objective sums how far each component's
        scaled score lies above the review threshold, so a search that lowers it works on
        every component that still flags the record (max alone hides all but one)."""
        scaled = part_scores_of(self.model.detector, self.model.encoder.transform(raw))
        suspicion = scaled.max(axis=1)
        over = np.clip(scaled - self.model.policy.review_threshold_, 0, None).sum(axis=1)
        return over + 1e-3 * suspicion, suspicion

    def allowed(self, suspicion: np.ndarray) -> np.ndarray:
        """(n,) True where the policy's decision is ``allow``."""
        return self.model.policy.decide(suspicion).actions == ALLOW

    def allows(self, raw: pd.DataFrame) -> np.ndarray:
        """Decision only: the one answer a decision-based attacker gets."""
        return self.allowed(self.suspicion(raw))

    def thresholds(self) -> dict[str, np.ndarray]:
        """Split thresholds per feature of the gradient-boosted component."""
        booster = _booster(self.model.detector)
        trees = booster.trees_to_dataframe()
        splits = trees[trees["decision_type"] == "<="]
        return {
            name: np.unique(group["threshold"].to_numpy(dtype=float))
            for name, group in splits.groupby("split_feature")
        }


@dataclass
class EvasionOutcome:
    """Per-record result of one attack on n records (raw frames, spec features)."""

    attack: str
    budget: Budget
    originals: pd.DataFrame  # (n, d) the attack records
    adversarial: pd.DataFrame  # (n, d) best example; the original where none was found
    closest: pd.DataFrame  # (n, d) lowest-objective feasible example found, evaded or not
    evaded: np.ndarray  # (n,) bool: decision is allow
    changed: np.ndarray  # (n,) features changed in the example
    size: np.ndarray  # (n,) largest |log2(new / old)| of a changed feature
    queries: np.ndarray  # (n,) rows the model scored for this record
    categories: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    def summary(self) -> dict:
        """JSON-able figures: success rate, per category, median cost of a success."""
        ok = self.evaded
        per_category = {}
        for name in sorted(set(self.categories)):
            rows = self.categories == name
            per_category[name] = {
                "records": int(rows.sum()),
                "success_rate": float(ok[rows].mean()),
            }
        return {
            "attack": self.attack,
            "budget": self.budget.as_dict(),
            "records": len(ok),
            "success_rate": float(ok.mean()) if len(ok) else None,
            "median_changed_features": _median(self.changed[ok]),
            "median_log2_change": _median(self.size[ok]),
            "median_queries": _median(self.queries),
            "per_category": per_category,
        }


def evade(
    model,
    records: pd.DataFrame,
    *,
    attack: str,
    budget: Budget = Budget(),
    seed: int = 0,
    progress=None,
) -> EvasionOutcome:
    """Run one attack (``score``, ``tree``, ``decision`` or ``all``) on raw attack
    records (validated frame rows; label columns, if present, name the categories)."""
    if attack == "all":
        return best_of(
            [
                evade(model, records, attack=a, budget=budget, seed=seed, progress=progress)
                for a in ATTACKS
            ]
        )
    if attack not in ATTACKS:
        raise DataError(f"unknown attack {attack!r}; expected one of {', '.join(ATTACKS)} or all")
    spec = model.spec
    target = ModelTarget(model)
    originals = records[target.features].reset_index(drop=True)
    moves = movable_features(spec, originals)
    if not moves:
        # the spec leaves the attacker no feature to move: every record keeps its decision
        n = len(originals)
        result = (originals.copy(), originals.copy(), target.allows(originals), np.ones(n, int))
    elif attack == "decision":
        result = _decision_search(target, spec, originals, moves, budget, seed, progress)
    else:
        propose = _grid_proposer() if attack == "score" else _threshold_proposer(target)
        result = _beam_search(target, spec, originals, moves, budget, propose, progress, attack)
    adversarial, closest, evaded, queries = result
    return EvasionOutcome(
        attack,
        budget,
        originals,
        adversarial,
        closest,
        evaded,
        changed_features(spec, originals, adversarial).sum(axis=1),
        log2_change(spec, originals, adversarial),
        queries,
        _categories(spec, records),
    )


def best_of(outcomes: list[EvasionOutcome]) -> EvasionOutcome:
    """Per record, the successful example with the fewest changed features (then the
    smallest change) among several attacks on the same records; queries add up."""
    first = outcomes[0]
    cost = np.stack([np.where(o.evaded, o.changed + o.size / 1e3, np.inf) for o in outcomes])
    pick = cost.argmin(axis=0)
    adversarial, closest = first.originals.copy(), first.closest.copy()
    for k, o in enumerate(outcomes):
        rows = np.flatnonzero((pick == k) & o.evaded)
        adversarial.iloc[rows] = o.adversarial.iloc[rows].to_numpy()
        closest.iloc[rows] = o.adversarial.iloc[rows].to_numpy()
    dtypes = first.originals.dtypes.to_dict()
    adversarial, closest = adversarial.astype(dtypes), closest.astype(dtypes)
    evaded = np.any([o.evaded for o in outcomes], axis=0)
    changed = np.choose(pick, [o.changed for o in outcomes]) * evaded
    size = np.choose(pick, [o.size for o in outcomes]) * evaded
    return EvasionOutcome(
        "+".join(o.attack for o in outcomes),
        first.budget,
        first.originals,
        adversarial,
        closest,
        evaded,
        changed,
        size,
        np.sum([o.queries for o in outcomes], axis=0),
        first.categories,
    )


def select_attack_records(
    model, frame: pd.DataFrame, *, n: int = 500, seed: int = 0, allow_fewer: bool = False
) -> pd.DataFrame:
    """A seeded sample of ``n`` attack rows of a labelled frame that the model flags
    (alert or review): the records an attacker would need to hide. With ``allow_fewer``,
    all of them when there are fewer than ``n``."""
    spec = model.spec
    if spec.label_column not in frame.columns:
        raise DataError(f"selecting attack records needs the label column {spec.label_column!r}")
    attack = frame[spec.label_column].to_numpy(dtype=object) != spec.normal_label
    candidates = frame[attack]
    flagged = ~ModelTarget(model).allows(candidates)
    candidates = candidates[flagged]
    if len(candidates) < n and allow_fewer:
        n = len(candidates)
    if len(candidates) < n:
        raise DataError(f"only {len(candidates)} flagged attack records; asked for {n}")
    rows = np.sort(np.random.default_rng(seed).choice(len(candidates), size=n, replace=False))
    return candidates.iloc[rows]


def feasible(spec, originals: pd.DataFrame, candidates: pd.DataFrame, budget: Budget) -> np.ndarray:
    """(n,) bool: the independent checker finds no violation and the budget allows it."""
    physics = np.array([not v for v in infeasibility(spec, originals, candidates)], dtype=bool)
    return physics & budget.allows(spec, originals, candidates)


def evasion_evidence(summary: dict) -> list[Evidence]:
    """Evidence from :meth:`EvasionOutcome.summary` of ``attack="all"`` at the default
    budget; another budget or a single attack is ``not_evidenced``."""
    comparable = (
        summary.get("budget") == Budget().as_dict() and summary.get("attack", "").count("+") == 2
    )
    value = summary.get("success_rate") if comparable else None
    return [
        at_most(
            "evasion resistance",
            "share of flagged attack records that all three feasible "
            "attacks get allowed, changing at most 3 attacker-controlled features each "
            "by at most a factor 2",
            value,
            MAX_EVASION,
            SECURITY,
        )
    ]


# --- the searches -----------------------------------------------------------------------


def _grid_proposer():
    def propose(move: Movable, lo, hi, current):
        return grid_values(move, lo, hi, current, GRID)

    return propose


def _threshold_proposer(target: ModelTarget):
    thresholds = target.thresholds()

    def propose(move: Movable, lo, hi, current):
        return threshold_values(move, thresholds.get(move.name, np.empty(0)), lo, hi, current)

    return propose


def _beam_search(target, spec, originals, moves, budget, propose, progress, name):
    """Greedy beam search on the excess objective; one feature moved per step, each at
    most once. Returns (adversarial, closest, evaded, queries)."""
    n = len(originals)
    best = originals.copy()
    closest, closest_objective = originals.copy(), np.full(n, np.inf)
    queries = np.ones(n, dtype=int)
    evaded = target.allowed(target.suspicion(originals))
    states = originals[~evaded].reset_index(drop=True)
    owner = np.flatnonzero(~evaded)
    used = np.zeros((len(states), len(moves)), dtype=bool)
    for step in range(budget.max_features):
        if len(states) == 0:
            break
        parent, which, value = _expand(spec, budget, originals, states, owner, used, moves, propose)
        if len(parent) == 0:
            break
        candidates = derive(spec, _apply(states, parent, which, value, moves))
        cand_owner = owner[parent]
        ok = feasible(spec, originals.iloc[cand_owner], candidates, budget)
        objective, suspicion = target.excess(candidates)
        np.add.at(queries, cand_owner, 1)
        objective[~ok] = np.inf
        success = ok & target.allowed(suspicion)
        suspicion = objective
        lowest = np.lexsort((objective, cand_owner))
        lowest = lowest[np.r_[True, cand_owner[lowest][1:] != cand_owner[lowest][:-1]]]
        better = lowest[objective[lowest] < closest_objective[cand_owner[lowest]]]
        closest.iloc[cand_owner[better]] = candidates.iloc[better].to_numpy()
        closest_objective[cand_owner[better]] = objective[better]
        order = np.lexsort((suspicion, ~success, cand_owner))  # by owner, successes first
        first = np.r_[True, cand_owner[order][1:] != cand_owner[order][:-1]]
        winners = order[first & success[order]]
        best.iloc[cand_owner[winners]] = candidates.iloc[winners].to_numpy()
        evaded[cand_owner[winners]] = True
        keep = _beam(cand_owner, suspicion, evaded)
        states = candidates.iloc[keep].reset_index(drop=True)
        used = used[parent[keep]].copy()
        used[np.arange(len(keep)), which[keep]] = True
        owner = cand_owner[keep]
        if progress:
            progress(f"{name} attack step {step + 1}: {int(evaded.mean() * 100)} % evaded")
    dtypes = originals.dtypes.to_dict()
    return best.astype(dtypes), closest.astype(dtypes), evaded, queries


def _expand(spec, budget, originals, states, owner, used, moves, propose):
    """All single-feature moves from every state: (parent state, move index, value)."""
    parent, which, value = [], [], []
    for j, move in enumerate(moves):
        rows = np.flatnonzero(~used[:, j])
        if len(rows) == 0:
            continue
        current = states[move.name].to_numpy(dtype=float)[rows]
        lo, hi = move.interval(
            spec, budget, originals[move.name].to_numpy(dtype=float)[owner[rows]], states.iloc[rows]
        )
        values = propose(move, lo, hi, current)
        r, c = np.nonzero(~np.isnan(values))
        parent.append(rows[r])
        which.append(np.full(len(r), j))
        value.append(values[r, c])
    if not parent:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    return np.concatenate(parent), np.concatenate(which), np.concatenate(value)


def _apply(states, parent, which, value, moves) -> pd.DataFrame:
    """Copies of states[parent] with feature moves[which] set to value (row-aligned)."""
    out = states.iloc[parent].reset_index(drop=True)
    for j in np.unique(which):
        name = moves[j].name
        column = out[name].to_numpy(dtype=float).copy()
        rows = which == j
        column[rows] = value[rows]
        out[name] = column.astype(states[name].dtype) if moves[j].decimals == 0 else column
    return out


def _beam(owner, suspicion, evaded) -> np.ndarray:
    """Indices of the ``BEAM`` lowest-suspicion feasible candidates of each record that
    is still flagged; equal suspicion within a record counts as one state."""
    order = np.lexsort((suspicion, owner))
    o, s = owner[order], suspicion[order]
    duplicate = np.r_[False, (o[1:] == o[:-1]) & (s[1:] == s[:-1])]
    order = order[~duplicate & np.isfinite(s) & ~evaded[o]]
    return order[_rank_within(owner[order]) < BEAM]


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of a sorted array."""
    if len(groups) == 0:
        return np.empty(0, dtype=int)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    return np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))


def _decision_search(target, spec, originals, moves, budget, seed, progress):
    """Random feasible changes judged by the decision alone, then minimised."""
    rng = np.random.default_rng(seed)
    n = len(originals)
    best = originals.copy()
    queries = np.ones(n, dtype=int)
    evaded = target.allows(originals)
    bounds = [
        m.interval(spec, budget, originals[m.name].to_numpy(dtype=float), originals) for m in moves
    ]
    current = np.column_stack([originals[m.name].to_numpy(dtype=float) for m in moves])
    lo = np.column_stack([b[0] for b in bounds])
    hi = np.column_stack([b[1] for b in bounds])
    movable = (lo <= hi) & ((hi - current > 1e-9) | (current - lo > 1e-9))
    for round_ in range(ROUNDS):
        active = np.flatnonzero(~evaded)
        if len(active) == 0:
            break
        rows = np.repeat(active, PER_ROUND)
        priority = np.where(movable[rows], rng.random((len(rows), len(moves))), -1.0)
        rank = (-priority).argsort(axis=1).argsort(axis=1)
        chosen = (rank < budget.max_features) & (priority >= 0)
        end = np.where(rng.random(chosen.shape) < 0.5, lo[rows], hi[rows])
        uniform = lo[rows] + rng.random(chosen.shape) * (hi[rows] - lo[rows])
        pick = np.where(rng.random(chosen.shape) < 0.5, end, uniform)
        values = np.column_stack([m.nearest(pick[:, j]) for j, m in enumerate(moves)])
        values = np.clip(values, lo[rows], hi[rows])
        candidates = derive(
            spec,
            _set_many(originals.iloc[rows].reset_index(drop=True), moves, chosen, values),
        )
        ok = feasible(spec, originals.iloc[rows], candidates, budget)
        success = ok & target.allows(candidates)
        np.add.at(queries, rows, 1)
        hit = np.flatnonzero(success)
        hit = hit[np.r_[True, rows[hit][1:] != rows[hit][:-1]]] if len(hit) else hit
        best.iloc[rows[hit]] = candidates.iloc[hit].to_numpy()
        evaded[rows[hit]] = True
        if progress:
            progress(f"decision attack round {round_ + 1}: {int(evaded.mean() * 100)} % evaded")
    best = _minimise(
        target,
        spec,
        originals,
        best.astype(originals.dtypes.to_dict()),
        evaded,
        queries,
        moves,
        budget,
    )
    return best, best, evaded, queries


def _minimise(target, spec, originals, best, evaded, queries, moves, budget) -> pd.DataFrame:
    """Undo each change, one feature at a time, where the record stays allowed."""
    for move in moves:
        rows = np.flatnonzero(
            evaded
            & (
                np.abs(
                    best[move.name].to_numpy(dtype=float)
                    - originals[move.name].to_numpy(dtype=float)
                )
                > 1e-9
            )
        )
        if len(rows) == 0:
            continue
        trial = best.iloc[rows].copy()
        trial[move.name] = originals[move.name].to_numpy()[rows]
        trial = derive(spec, trial)
        ok = feasible(spec, originals.iloc[rows], trial, budget) & target.allows(trial)
        np.add.at(queries, rows, 1)
        best.iloc[rows[ok]] = trial.iloc[np.flatnonzero(ok)].to_numpy()
    return best.astype(originals.dtypes.to_dict())


def _set_many(frame, moves, chosen, values) -> pd.DataFrame:
    for j, move in enumerate(moves):
        if not chosen[:, j].any():
            continue
        column = frame[move.name].to_numpy(dtype=float).copy()
        column[chosen[:, j]] = values[chosen[:, j], j]
        frame[move.name] = column.astype(frame[move.name].dtype) if move.decimals == 0 else column
    return frame


# --- small helpers ----------------------------------------------------------------------


def _booster(detector):
    for part in (detector, *parts_of(detector)):
        if hasattr(part, "booster_"):
            return part.booster_
    raise DataError("the tree attack needs a gradient-boosted component; this model has none")


def _categories(spec, records: pd.DataFrame) -> np.ndarray:
    if spec.label_column in records.columns:
        return np.array([spec.category(v) for v in records[spec.label_column]], dtype=object)
    return np.full(len(records), "unknown", dtype=object)


def _median(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return float(np.median(values)) if len(values) else None
