"""Detection metrics on small hand-checked cases."""

import numpy as np
import pytest

from trustshield.assess.performance import binary_metrics, confusion, detection_by, roc

Y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], dtype=bool)
ALERTED = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 0], dtype=bool)


def test_binary_metrics_count_alerts_not_reviews():
    m = binary_metrics(y_true=Y, alerted=ALERTED)
    assert m["fpr"] == pytest.approx(1 / 4)
    assert m["detection_rate"] == pytest.approx(4 / 6)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["precision"] == pytest.approx(4 / 5)


def test_confusion_rows_are_true_classes():
    assert confusion(y_true=Y, alerted=ALERTED)["matrix"] == [[3, 1], [2, 4]]


def test_detection_by_group_counts_attack_records_only():
    groups = np.array(["normal"] * 4 + ["a", "a", "a", "b", "b", "b"], dtype=object)
    rows = {r["group"]: r for r in detection_by(groups=groups, y_true=Y, alerted=ALERTED)}
    assert set(rows) == {"a", "b"}
    assert (rows["a"]["detected"], rows["b"]["detected"]) == (3, 1)


def test_roc_with_one_class_has_no_auc():
    assert roc(y_true=np.zeros(5, bool), suspicion=np.arange(5.0))["auc"] is None


def test_roc_is_thinned_and_keeps_its_ends():
    rng = np.random.default_rng(0)
    y = rng.random(5000) < 0.5
    curve = roc(y_true=y, suspicion=y + rng.normal(size=5000))
    assert len(curve["fpr"]) <= 200
    assert (curve["fpr"][0], curve["tpr"][-1]) == (0.0, 1.0)
    assert 0.7 < curve["auc"] < 0.8
