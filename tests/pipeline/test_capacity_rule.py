"""How training chooses the supervised part's capacity from the held-out objectives."""

import pytest

from trustshield.errors import DataError
from trustshield.pipeline.train import CAPACITY_RULES, choose_capacity
from trustshield.pipeline.train_config import TrainConfig


def test_best_takes_the_highest_objective_even_within_one_standard_error():
    # the larger model wins by less than the standard error: "best" keeps it, "one_se" not
    assert choose_capacity([0.950, 0.953], [0.01, 0.01], "best") == 1
    assert choose_capacity([0.950, 0.953], [0.01, 0.01], "one_se") == 0


def test_best_keeps_the_smaller_model_when_it_is_better_or_tied():
    assert choose_capacity([0.96, 0.95], [0.0, 0.0], "best") == 0
    assert choose_capacity([0.95, 0.95], [0.0, 0.0], "best") == 0


def test_one_se_takes_the_larger_model_when_it_wins_by_more_than_one_standard_error():
    assert choose_capacity([0.90, 0.95], [0.01, 0.01], "one_se") == 1
    assert choose_capacity([0.90, 0.95, 0.951], [0.0, 0.02, 0.02], "one_se") == 1


def test_the_default_rule_is_one_se_and_an_unknown_rule_is_refused():
    assert TrainConfig().capacity_rule == "one_se" and "best" in CAPACITY_RULES
    with pytest.raises(DataError, match="capacity_rule must be one of best, one_se; got 'x'"):
        choose_capacity([0.9], [0.0], "x")
