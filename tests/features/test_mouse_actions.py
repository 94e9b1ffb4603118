"""Mouse actions: segmentation into MM / PC / DD on hand-built event sequences, and the
features of trajectories whose answers are known."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from trustshield.features.mouse_actions import (
    FEATURES,
    action_features,
    segment,
    session_actions,
    unit_of,
)


def events(*rows):
    """Event frame from (t, button, state, x, y) rows; both clocks read t."""
    frame = pd.DataFrame(rows, columns=["client_time", "button", "state", "x", "y"])
    frame.insert(0, "record_time", frame["client_time"])
    return frame


def moves(t0, points, dt=0.1, step=(10, 0), start=(100, 100)):
    return [
        (t0 + i * dt, "NoButton", "Move", start[0] + i * step[0], start[1] + i * step[1])
        for i in range(points)
    ]


def test_a_move_ending_in_a_click_is_one_point_and_click():
    rows = moves(0.0, 5) + [(0.5, "Left", "Pressed", 140, 100), (0.6, "Left", "Released", 140, 100)]
    actions = action_features(events(*rows))
    assert list(actions["kind"]) == ["PC"]
    assert (actions.loc[0, "first_event"], actions.loc[0, "last_event"]) == (0, 6)
    assert actions.loc[0, "click_time"] == pytest.approx(0.1)
    assert actions.loc[0, ["is_mm", "is_pc", "is_dd"]].tolist() == [0.0, 1.0, 0.0]


def test_press_drag_release_is_a_drag_and_drop_after_its_approach():
    approach = moves(0.0, 5)
    drag = [(0.5, "Left", "Pressed", 140, 100)] + [
        (0.5 + 0.1 * i, "NoButton", "Drag", 140, 100 + 20 * i) for i in range(1, 6)
    ]
    rows = approach + drag + [(1.1, "Left", "Released", 140, 200)]
    actions = action_features(events(*rows))
    assert list(actions["kind"]) == ["MM", "DD"]
    assert actions.loc[0, "last_event"] == 4 and actions.loc[1, "first_event"] == 5
    assert actions.loc[1, "last_event"] == len(rows) - 1
    assert actions.loc[1, "click_time"] == pytest.approx(0.6)
    assert actions.loc[1, "distance"] == pytest.approx(100.0)


def test_a_drag_without_an_approach_is_a_single_drag_and_drop():
    rows = (
        [(0.0, "Left", "Pressed", 10, 10)]
        + [(0.1 * i, "NoButton", "Drag", 10 + 5 * i, 10) for i in range(1, 6)]
        + [(0.6, "Left", "Released", 35, 10)]
    )
    assert list(action_features(events(*rows))["kind"]) == ["DD"]


def test_a_long_pause_splits_a_move_and_a_short_one_does_not():
    rows = moves(0.0, 5) + moves(20.0, 5, start=(300, 300))
    assert list(action_features(events(*rows))["kind"]) == ["MM", "MM"]
    assert list(action_features(events(*rows), pause_s=30.0)["kind"]) == ["MM"]


def test_a_release_ends_an_action_even_without_a_pause():
    rows = (
        moves(0.0, 5)
        + [(0.5, "Left", "Pressed", 140, 100), (0.55, "Left", "Released", 140, 100)]
        + moves(0.6, 5, start=(150, 100))
    )
    assert list(action_features(events(*rows))["kind"]) == ["PC", "MM"]


def test_straight_line_at_constant_speed():
    rows = moves(0.0, 6, dt=0.1, step=(10, 0), start=(0, 50))  # 10 px every 0.1 s
    a = action_features(events(*rows)).iloc[0]
    assert a["straightness"] == pytest.approx(1.0)
    assert a["speed_mean"] == pytest.approx(100.0) and a["speed_std"] == pytest.approx(0.0)
    assert a["vx_mean"] == pytest.approx(100.0) and a["vy_mean"] == pytest.approx(0.0)
    assert a["acceleration_max"] == pytest.approx(0.0, abs=1e-6)
    assert a["jerk_max"] == pytest.approx(0.0, abs=1e-6)
    assert a["curvature_max"] == pytest.approx(0.0) and a["turn_total"] == pytest.approx(0.0)
    assert (a["path_length"], a["distance"], a["points"]) == pytest.approx((50.0, 50.0, 6.0))
    assert a["duration"] == pytest.approx(0.5) and a["deviation"] == pytest.approx(0.0)
    assert a["direction"] == 0.0


def test_direction_counts_screen_up_as_up_and_a_detour_lowers_straightness():
    up = action_features(events(*moves(0.0, 5, step=(0, -10)))).iloc[0]
    assert up["direction"] == 2.0  # y grows downwards on screen
    corner = [
        (0.0, "NoButton", "Move", 0, 0),
        (0.1, "NoButton", "Move", 30, 0),
        (0.2, "NoButton", "Move", 60, 0),
        (0.3, "NoButton", "Move", 60, 40),
        (0.4, "NoButton", "Move", 60, 80),
    ]
    a = action_features(events(*corner)).iloc[0]
    assert a["straightness"] == pytest.approx(100.0 / 140.0)
    assert a["sharp_turns"] == 0 and a["turn_total"] == pytest.approx(np.pi / 2)
    assert a["deviation"] == pytest.approx(60 * 80 / 100.0)


def test_scroll_and_off_screen_events_join_no_action_and_short_actions_are_dropped():
    rows = (
        moves(0.0, 3)
        + [(0.35, "Scroll", "Down", 0, 0), (0.4, "NoButton", "Move", 65535, 65535)]
        + [(0.5, "Left", "Pressed", 120, 100), (0.6, "Left", "Released", 120, 100)]
    )
    action, _ = segment(events(*rows))
    assert action[3] == -1 and action[4] == -1
    # three moves + press + release collapse to four positions: kept; two positions alone are not
    assert len(action_features(events(*rows))) == 1
    assert action_features(events(*moves(0.0, 3))).empty


def test_events_sharing_a_timestamp_collapse_so_speeds_stay_finite():
    rows = moves(0.0, 5) + [
        (0.4, "NoButton", "Move", 145, 100),
        (0.5, "NoButton", "Move", 150, 100),
    ]
    a = action_features(events(*rows))
    assert np.isfinite(a[list(FEATURES)].to_numpy()).all()
    assert a.loc[0, "points"] == 6


def test_sessions_are_cut_apart_and_numbered_from_zero():
    one = SimpleNamespace(
        user="u1",
        session="s1",
        split="train",
        is_illegal=0,
        events=events(*(moves(0.0, 5) + moves(20.0, 5))),
    )
    two = SimpleNamespace(
        user="u2", session="s2", split="test", is_illegal=1, events=events(*moves(0.5, 6))
    )  # would continue s1 without the cut
    actions = session_actions([one, two])
    assert list(actions["session"]) == ["s1", "s1", "s2"]
    assert list(actions["order"]) == [0, 1, 0]
    assert actions.loc[2, "first_event"] == 0 and actions.loc[2, "last_event"] == 5
    assert list(actions["is_illegal"]) == [0, 0, 1]


def test_units_are_known_for_kinematic_statistics():
    assert unit_of("speed_mean") == "px/s" and unit_of("jerk_max") == "px/s³"
    assert unit_of("click_time") == "s" and unit_of("straightness") == ""
