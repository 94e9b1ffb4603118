"""Operating points chosen by held-out attack groups on training data only."""

import numpy as np
import pytest

from trustshield.decide.selection import held_out_scores, objective, select_operating_points
from trustshield.detectors import GradientBoostedDetector, HybridDetector, NormalPrototypeDetector
from synthetic import synthetic_traffic


def test_objective_weights_names_and_categories_equally_per_category():
    detection = {
        ("name", "a1"): 0.5,
        ("name", "a2"): 1.0,
        ("category", "A"): 0.2,
        ("name", "b1"): 0.0,
        ("category", "B"): 1.0,
    }
    value, per_category = objective(detection, {"a1": "A", "a2": "A", "b1": "B"})
    assert per_category["A"] == {"names": 0.75, "category": 0.2}
    assert value == pytest.approx(((0.5 * 0.75 + 0.5 * 0.2) + (0.5 * 0.0 + 0.5 * 1.0)) / 2)


@pytest.fixture(scope="module")
def fitted():
    """A hybrid fitted with its held-out scores (4 to 7 s measured): the tests using it are
    slow."""
    X, labels, categories = synthetic_traffic(n_normal=500, n_attack=200)
    hybrid = HybridDetector(
        GradientBoostedDetector(n_estimators=15, categorical=("service",)),
        NormalPrototypeDetector(n_prototypes=16, categorical=("service",)),
        n_folds=3,
    ).fit(X, labels, categories)
    held = held_out_scores(hybrid, X, labels, categories)
    return hybrid, held


@pytest.mark.slow
def test_every_attack_name_and_category_is_held_out(fitted):
    hybrid, held = fitted
    assert set(held) == {
        ("name", "flood"),
        ("name", "scan"),
        ("category", "DoS"),
        ("category", "Probe"),
    }
    assert all(scores.shape[1] == 2 for scores in held.values())


@pytest.mark.slow
@pytest.mark.parametrize("ceiling", [0.01, 0.03, 0.1])
def test_chosen_points_respect_the_normal_ceiling(fitted, ceiling):
    hybrid, held = fitted
    before = hybrid.points_.copy()
    selection = select_operating_points(
        hybrid, held, {"flood": "DoS", "scan": "Probe"}, max_normal_fpr=ceiling
    )
    np.testing.assert_array_equal(hybrid.points_, before)  # selection changes no detector
    hybrid.set_params(operating_points=selection.points)
    try:
        alerted = (hybrid.scaled(hybrid.normal_out_of_fold()).max(axis=1) >= 1).mean()
    finally:
        hybrid.set_params(operating_points=None)
    assert alerted == pytest.approx(selection.normal_fpr)
    assert selection.normal_fpr <= ceiling
    assert "No test record" in selection.protocol


@pytest.mark.slow
def test_a_looser_ceiling_never_lowers_held_out_detection(fitted):
    hybrid, held = fitted
    cat_of = {"flood": "DoS", "scan": "Probe"}
    tight = select_operating_points(hybrid, held, cat_of, max_normal_fpr=0.005).objective
    loose = select_operating_points(hybrid, held, cat_of, max_normal_fpr=0.1).objective
    assert loose >= tight
