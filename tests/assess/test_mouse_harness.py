"""Session-level measures of mouse verification: AUC, AUC after k actions, and how many
actions a decision takes under a band fitted on training scores."""

import numpy as np
import pytest

from trustshield.assess.mouse import (
    DecisionBand,
    auc_report,
    decision_summary,
    decisions,
    evidence_matrix,
    first_exit,
    fit_band,
    session_table,
)
from trustshield.errors import DataError


def flat(per_session):
    """Per-action arrays from {session: (user, is_illegal, [suspicion, ...])}."""
    sessions, users, labels, scores = [], [], [], []
    for name, (user, label, values) in per_session.items():
        sessions += [name] * len(values)
        users += [user] * len(values)
        labels += [label] * len(values)
        scores += list(values)
    return dict(
        action_suspicion=np.array(scores),
        sessions=np.array(sessions),
        is_illegal=np.array(labels),
        users=np.array(users),
    )


def test_separated_sessions_have_auc_one_pooled_and_per_user():
    data = flat(
        {
            "a": ("u1", 0, [-1, -2]),
            "b": ("u1", 1, [2, 1]),
            "c": ("u2", 0, [-0.5]),
            "d": ("u2", 1, [0.5, 3, 1]),
        }
    )
    report = auc_report(**data)
    assert report["auc_pooled"] == 1.0 and report["auc_per_user"] == {"u1": 1.0, "u2": 1.0}
    assert report["sessions"] == 4 and report["impostor_sessions"] == 2


def test_swapped_scores_give_auc_zero_and_one_class_gives_none():
    data = flat({"a": ("u", 0, [5.0]), "b": ("u", 1, [-5.0])})
    assert auc_report(**data)["auc_pooled"] == 0.0
    only_owners = flat({"a": ("u", 0, [1.0]), "b": ("u", 0, [2.0])})
    assert auc_report(**only_owners)["auc_pooled"] is None


def test_running_session_score_uses_only_the_first_k_actions():
    # the first action separates; later actions say the opposite
    data = flat({"a": ("u", 0, [-1, 9, 9, 9]), "b": ("u", 1, [1, -9, -9, -9])})
    by_k = auc_report(**data, lengths=(1, 2, None))["auc_by_actions"]
    assert by_k == {"1": 1.0, "2": 0.0, "all": 0.0}
    table = session_table(**{k: v for k, v in data.items() if k != "users"}, n_actions=1)
    assert table.set_index("session")["score"].to_dict() == {"a": -1.0, "b": 1.0}
    assert table.set_index("session")["actions"].to_dict() == {"a": 4, "b": 4}


def test_evidence_runs_as_a_sum_and_stops_at_the_session_end():
    names, evidence = evidence_matrix(
        np.array([1.0, 2.0, -1.0, 0.5]), sessions=np.array(["x", "x", "x", "y"]), centre=0.5
    )
    assert list(names) == ["x", "y"]
    np.testing.assert_allclose(evidence[0], [0.5, 2.0, 0.5])
    assert evidence[1, 0] == 0.0 and np.isnan(evidence[1, 1:]).all()


def test_first_exit_reports_the_actions_used_and_the_side():
    evidence = np.array([[0.5, 1.5, 3.5], [-1.0, -3.0, -6.0], [0.1, -0.2, np.nan]])
    used, verdict = first_exit(evidence, 3.0)
    assert used.tolist() == [3, 2, 0] and verdict.tolist() == [1, -1, 0]


def test_band_from_training_scores_decides_clear_sessions_within_the_error_bound():
    rng = np.random.default_rng(0)
    owners = {f"o{i}": ("u", 0, rng.normal(-1, 1, 60)) for i in range(40)}
    impostors = {f"i{i}": ("u", 1, rng.normal(1, 1, 60)) for i in range(40)}
    data = flat({**owners, **impostors})
    data.pop("users")
    band = fit_band(**data, max_error=0.05)
    assert band.centre == pytest.approx(0.0, abs=0.2)
    assert max(band.training_error.values()) <= 0.05
    per_session = decisions(**data, band=band)
    summary = decision_summary(per_session)
    assert summary["decided_share"] == 1.0 and summary["wrong_share_of_decided"] <= 0.05
    assert 1 <= summary["median_actions"] <= 10
    assert (per_session["actions"] == 60).all()


def test_decision_summary_counts_undecided_sessions_apart():
    band = DecisionBand(centre=0.0, half_width=2.5, max_error=0.05, training_error={})
    data = flat(
        {
            "a": ("u", 1, [1, 1, 1]),
            "b": ("u", 0, [-1, -1, -1, -1]),
            "c": ("u", 0, [1, -1, 1, -1]),
            "d": ("u", 0, [2, 2]),
        }
    )
    data.pop("users")
    per_session = decisions(**data, band=band).set_index("session")
    assert per_session["actions_used"].to_dict() == {"a": 3, "b": 3, "c": 0, "d": 2}
    assert per_session["verdict"].to_dict() == {"a": 1, "b": -1, "c": 0, "d": 1}
    summary = decision_summary(per_session.reset_index())
    assert summary["median_actions"] == 3.0 and summary["decided_share"] == 0.75
    assert summary["wrong_share_of_decided"] == pytest.approx(1 / 3)
    assert summary["median_all"] == 3.0


def test_a_band_needs_both_kinds_of_session():
    data = flat({"a": ("u", 0, [1.0, 2.0]), "b": ("u", 0, [0.0])})
    data.pop("users")
    with pytest.raises(DataError, match="got 3 owner and 0 impostor actions"):
        fit_band(**data)
