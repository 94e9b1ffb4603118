"""Evasion attacks: every example they emit is feasible and within budget, and what they
call evaded is what the deployed scoring path allows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthetic import train_small, FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.assess.robustness.evasion import (
    ATTACKS,
    ModelTarget,
    best_of,
    evade,
    feasible,
    select_attack_records,
)
from trustshield.assess.robustness.moves import (
    Budget,
    grid_values,
    movable_features,
    threshold_values,
)
from trustshield.errors import DataError
from trustshield.pipeline.scoring import score_batch
from trustshield.records import ALLOW
from trustshield.specs import infeasibility

FEATURES = list(FLOWS_SPEC.feature_names)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT, n_estimators=8)


def moves_by_name(frame):
    return {m.name: m for m in movable_features(FLOWS_SPEC, frame[FEATURES])}


# --- the budget and the moves


def test_only_attacker_controlled_numeric_features_are_movable(frame):
    moves = moves_by_name(frame)
    assert set(moves) == {"n", "t", "r", "e", "w"}  # not b (binary) nor p (categorical)
    assert moves["n"].decimals == 0 and moves["r"].decimals == 3 and moves["w"].decimals == 1


def test_intervals_follow_direction_budget_bounds_and_the_sum_cap(frame):
    moves, budget = moves_by_name(frame), Budget(max_features=3, max_factor=2.0)
    state = pd.DataFrame(
        {"n": [400, 900], "t": [5, 0], "r": [0.3, 0.8], "e": [0.5, 0.2], "w": [10.0, 50.0]}
    )
    lo, hi = moves["n"].interval(FLOWS_SPEC, budget, state["n"].to_numpy(float), state)
    assert lo.tolist() == [400, 900] and hi.tolist() == [800, 1000]  # increase only; max 1000
    lo, hi = moves["w"].interval(FLOWS_SPEC, budget, state["w"].to_numpy(float), state)
    assert lo.tolist() == [5.0, 25.0] and hi.tolist() == [10.0, 50.0]  # decrease only
    lo, hi = moves["r"].interval(FLOWS_SPEC, budget, state["r"].to_numpy(float), state)
    assert lo.tolist() == [0.15, 0.4] and hi.tolist() == [0.5, 0.8]  # r + e ≤ 1 caps r at 0.5
    lo, hi = moves["t"].interval(FLOWS_SPEC, budget, state["t"].to_numpy(float), state)
    assert (lo[1], hi[1]) == (0, 0)  # a zero stays zero


def test_grid_and_threshold_values_stay_inside_the_interval_and_cross_each_threshold(frame):
    move = moves_by_name(frame)["n"]
    lo, hi, current = np.array([100.0]), np.array([200.0]), np.array([100.0])
    grid = grid_values(move, lo, hi, current, 6)[0]
    grid = grid[~np.isnan(grid)]
    assert len(grid) == 5 and grid.min() > 100 and grid.max() == 200
    assert np.all(grid == np.round(grid))
    crossing = threshold_values(move, np.array([150.5, 500.0]), lo, hi, current)[0]
    crossing = crossing[~np.isnan(crossing)]
    assert {150.0, 151.0, 200.0} == set(crossing)  # 500 is out of reach


def test_budget_counts_features_bounds_the_factor_and_freezes_categories(frame):
    original = frame[FEATURES].iloc[[0]].reset_index(drop=True)
    budget = Budget(max_features=2, max_factor=2.0)
    n = float(original.loc[0, "n"])

    def allowed(**changes):
        candidate = original.copy()
        for name, value in changes.items():
            candidate[name] = candidate[name].astype(object)
            candidate.loc[0, name] = value
        return bool(budget.allows(FLOWS_SPEC, original, candidate)[0])

    assert allowed(n=2 * n) and allowed(n=n / 2)
    assert not allowed(n=2.1 * n)
    assert not allowed(n=2 * n, t=original.loc[0, "t"] + 1, w=original.loc[0, "w"] / 2)
    assert not allowed(p="icmp" if original.loc[0, "p"] != "icmp" else "tcp")
    with pytest.raises(DataError, match="max_factor"):
        Budget(max_factor=1.0)


# --- the attacks


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.integers(0, 299), min_size=1, max_size=12, unique=True),
    attack=st.sampled_from(ATTACKS),
    max_features=st.integers(1, 4),
    max_factor=st.sampled_from([1.1, 1.5, 2.0, 4.0, 10.0]),
    seed=st.integers(0, 2**16),
)
def test_attacks_never_emit_an_infeasible_or_over_budget_example(
    model, frame, rows, attack, max_features, max_factor, seed
):
    budget = Budget(max_features=max_features, max_factor=max_factor)
    outcome = evade(model, frame.iloc[rows], attack=attack, budget=budget, seed=seed)
    for produced in (outcome.adversarial, outcome.closest):
        assert not any(infeasibility(FLOWS_SPEC, outcome.originals, produced))
        assert budget.allows(FLOWS_SPEC, outcome.originals, produced).all()
    assert (outcome.changed <= max_features).all()
    unchanged = ~outcome.evaded
    assert (
        outcome.adversarial[unchanged].to_numpy() == outcome.originals[unchanged].to_numpy()
    ).all()


@pytest.mark.parametrize("attack", ATTACKS)
def test_what_an_attack_calls_evaded_is_allowed_by_the_deployed_path(model, frame, attack):
    records = frame[frame.label != "normal"]
    outcome = evade(model, records, attack=attack, budget=Budget(3, 10.0))
    scored = score_batch(model, outcome.adversarial).decision.actions
    assert ((scored == ALLOW) == outcome.evaded).all()
    assert outcome.evaded.any(), "a factor of 10 on a tiny model should let some attacks through"
    assert (outcome.queries >= 1).all()
    summary = outcome.summary()
    assert summary["success_rate"] == pytest.approx(outcome.evaded.mean())
    assert set(summary["per_category"]) == {"DoS", "Probe"}


def test_the_decision_attack_is_deterministic_for_a_seed(model, frame):
    records = frame[frame.label != "normal"]
    a = evade(model, records, attack="decision", budget=Budget(3, 4.0), seed=5)
    b = evade(model, records, attack="decision", budget=Budget(3, 4.0), seed=5)
    pd.testing.assert_frame_equal(a.adversarial, b.adversarial)


def test_all_keeps_the_cheapest_success_per_record(model, frame):
    records = frame[frame.label != "normal"]
    each = [evade(model, records, attack=a, budget=Budget(3, 10.0)) for a in ATTACKS]
    union = best_of(each)
    assert (union.evaded == np.any([o.evaded for o in each], axis=0)).all()
    cheapest = np.min([np.where(o.evaded, o.changed, 99) for o in each], axis=0)
    assert (union.changed[union.evaded] == cheapest[union.evaded]).all()
    assert not any(infeasibility(FLOWS_SPEC, union.originals, union.adversarial))


def test_selected_records_are_flagged_attacks(model, frame):
    chosen = select_attack_records(model, frame, n=20, seed=1)
    assert (chosen.label != "normal").all()
    assert not ModelTarget(model).allows(chosen[FEATURES]).any()
    with pytest.raises(DataError, match="flagged attack records"):
        select_attack_records(model, frame, n=10_000)


def test_unknown_attack_and_tree_attack_without_trees_are_clear_errors(model, frame):
    with pytest.raises(DataError, match="unknown attack"):
        evade(model, frame.head(3), attack="gradient")

    class NoTrees:
        components = ()

    bare = type(
        "Bare",
        (),
        {
            "spec": model.spec,
            "encoder": model.encoder,
            "policy": model.policy,
            "detector": NoTrees(),
        },
    )()
    with pytest.raises(DataError, match="gradient-boosted"):
        evade(bare, frame.head(3), attack="tree")


def test_feasible_combines_the_checker_and_the_budget(frame):
    originals = frame[FEATURES].head(2).reset_index(drop=True)
    candidates = originals.copy()
    candidates.loc[0, "n"] = originals.loc[0, "n"] * 3  # physically fine, over budget
    candidates.loc[1, "b"] = 1 - originals.loc[1, "b"]  # fixed binary changed
    assert feasible(FLOWS_SPEC, originals, candidates, Budget()).tolist() == [False, False]
    assert feasible(FLOWS_SPEC, originals, originals, Budget()).tolist() == [True, True]


def test_evidence_reads_only_the_combined_attack_at_the_default_budget(model, frame):
    from trustshield.assess.robustness.evasion import MAX_EVASION, evasion_evidence

    records = frame[frame.label != "normal"]
    combined = evade(model, records, attack="all").summary()
    (evidence,) = evasion_evidence(combined)
    assert evidence.value == combined["success_rate"]
    assert evidence.status == ("pass" if combined["success_rate"] <= MAX_EVASION else "fail")
    single = evade(model, records, attack="tree").summary()
    assert evasion_evidence(single)[0].status == "not_evidenced"
    wider = evade(model, records, attack="all", budget=Budget(3, 10.0)).summary()
    assert evasion_evidence(wider)[0].status == "not_evidenced"


@pytest.mark.parametrize("attack", [*ATTACKS, "all"])
def test_a_spec_that_leaves_the_attacker_nothing_to_move_gives_no_evasion(model, frame, attack):
    import dataclasses

    import yaml

    from trustshield.specs import parse_spec

    text = FLOWS_SPEC_TEXT
    for control in ("increase", "decrease", "any"):
        text = text.replace(f"attacker: {control}", "attacker: fixed")
    fixed = dataclasses.replace(model, spec=parse_spec(yaml.safe_load(text)))
    assert not movable_features(fixed.spec, frame[FEATURES])
    records = select_attack_records(fixed, frame, n=5)
    outcome = evade(fixed, records, attack=attack)
    assert not outcome.evaded.any() and (outcome.changed == 0).all()
    pd.testing.assert_frame_equal(outcome.adversarial, outcome.originals)
