"""Mouse actions and their features: pure, vectorised functions of validated event frames.

A session's events are cut into actions the way the Balabit literature does (Antal and
Egyed-Zsigmond 2019), in client time:

- a run of events ends after every button release and before any pause longer than
  ``pause_s`` (and at the end of a session);
- a run ending in a release is a **point-and-click** (PC: the approach and the click) unless
  the button was dragged while pressed: then the run splits into a **mouse move** (MM, the
  approach before the press) and a **drag-and-drop** (DD, press, drag, release);
- any other run is a mouse move.

Wheel events and events with the pointer off screen (x or y = 65535) belong to no action.
Events sharing a timestamp collapse to the last of them (its position), so every step has
a positive duration; an action with fewer than ``min_points`` such positions, or that does
not move at all, is dropped as too short to describe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("MM", "PC", "DD")
#: a pause longer than this (s) ends a mouse move
PAUSE_S = 10.0
#: an action needs this many distinct (time, position) points: three steps give one jerk
MIN_POINTS = 4
OFF_SCREEN = 65535
SHARP_TURN = np.pi / 2
KINEMATICS = ("vx", "vy", "speed", "acceleration", "jerk", "angular_velocity", "curvature")
STATS = ("mean", "std", "min", "max")
SHAPE = (
    "duration",
    "path_length",
    "distance",
    "straightness",
    "points",
    "direction",
    "turn_total",
    "sharp_turns",
    "deviation",
    "accel_time",
    "click_time",
)
FEATURES = (
    ("is_mm", "is_pc", "is_dd") + SHAPE + tuple(f"{k}_{s}" for k in KINEMATICS for s in STATS)
)
UNITS = {
    "duration": "s",
    "path_length": "px",
    "distance": "px",
    "deviation": "px",
    "accel_time": "s",
    "click_time": "s",
    "turn_total": "rad",
    "vx": "px/s",
    "vy": "px/s",
    "speed": "px/s",
    "acceleration": "px/s²",
    "jerk": "px/s³",
    "angular_velocity": "rad/s",
    "curvature": "rad/px",
}


def unit_of(feature: str) -> str:
    """Unit of a feature name ('' when it has none), e.g. 'px/s' for 'speed_mean'."""
    return UNITS.get(feature, UNITS.get(feature.rsplit("_", 1)[0], ""))


def segment(
    events: pd.DataFrame, *, pause_s: float = PAUSE_S, starts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Action id (shape (n,), -1 outside any action) and kind code (index into KINDS).

    ``starts`` (bool, shape (n,)) marks events that begin a new recording, so that many
    sessions concatenated in one frame are cut apart; kind codes are per action.
    """
    n = len(events)
    button, state = events["button"].to_numpy(), events["state"].to_numpy()
    x, y = events["x"].to_numpy(), events["y"].to_numpy()
    keep = (button != "Scroll") & (x < OFF_SCREEN) & (y < OFF_SCREEN)
    idx = np.flatnonzero(keep)
    action = np.full(n, -1, dtype=np.int64)
    if len(idx) == 0:
        return action, np.empty(0, dtype=np.int64)
    t = events["client_time"].to_numpy(dtype=np.float64)[idx]
    st = state[idx]
    press, release, drag = st == "Pressed", st == "Released", st == "Drag"
    begins = np.zeros(len(idx), dtype=bool)
    begins[0] = True
    begins[1:] = (np.diff(t) > pause_s) | release[:-1]
    if starts is not None:  # a recording may open with events that belong to no action
        recording = np.cumsum(np.asarray(starts, dtype=bool))[idx]
        begins[1:] |= recording[1:] != recording[:-1]
    first = np.flatnonzero(begins)
    last = np.append(first[1:] - 1, len(idx) - 1)
    split, kinds_of_run = _split_runs(first, last, press, release, drag)
    begins[split[split >= 0]] = True
    local = np.cumsum(begins) - 1
    action[idx] = local
    return action, _action_kinds(split, kinds_of_run)


def _split_runs(first, last, press, release, drag) -> tuple[np.ndarray, np.ndarray]:
    """Per run: where a drag-and-drop starts inside it (-1: no split) and its kind."""
    pos = np.arange(len(press))
    last_press = np.maximum.accumulate(np.where(press, pos, -1))[last]
    grip = np.where(last_press >= first, last_press, first)
    dragged = np.cumsum(drag)
    drags = dragged[last] - dragged[grip] + drag[grip]
    ends_click = release[last]
    is_dd = ends_click & (drags > 0)
    kinds = np.where(is_dd, 2, np.where(ends_click, 1, 0))
    split = np.where(is_dd & (grip > first), grip, -1)
    return split, kinds


def _action_kinds(split, kinds_of_run) -> np.ndarray:
    """Kind of every action in order: a split run yields MM then DD."""
    counts = 1 + (split >= 0)
    kinds = np.repeat(kinds_of_run, counts)
    kinds[(np.cumsum(counts) - counts)[split >= 0]] = 0
    return kinds


def action_features(
    events: pd.DataFrame,
    *,
    pause_s: float = PAUSE_S,
    min_points: int = MIN_POINTS,
    starts: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per kept action: ``kind``, ``first_event`` and ``last_event`` (row positions
    in ``events``), ``start_time``, then :data:`FEATURES`; actions in time order."""
    action, kinds = segment(events, pause_s=pause_s, starts=starts)
    rows = np.flatnonzero(action >= 0)
    a = action[rows]
    t = events["client_time"].to_numpy(dtype=np.float64)[rows]
    state = events["state"].to_numpy()[rows]
    x = events["x"].to_numpy(dtype=np.float64)[rows]
    y = events["y"].to_numpy(dtype=np.float64)[rows]
    bounds = _bounds(a)
    click = _click_time(a, t, state, bounds)
    latest = np.append((a[1:] != a[:-1]) | (t[1:] != t[:-1]), True)
    p_a, p_t, p_x, p_y = a[latest], t[latest], x[latest], y[latest]
    feats = _trajectory(p_a, p_t, p_x, p_y)
    feats["click_time"] = click[feats.index.to_numpy()]
    ids = feats.index.to_numpy()
    feats.insert(0, "kind", np.asarray(KINDS, dtype=object)[kinds[ids]])
    feats.insert(1, "first_event", rows[bounds[0][ids]])
    feats.insert(2, "last_event", rows[bounds[1][ids]])
    feats.insert(3, "start_time", t[bounds[0][ids]])
    for i, name in enumerate(("is_mm", "is_pc", "is_dd")):
        feats[name] = (kinds[ids] == i).astype(np.float64)
    keep = (feats["points"] >= min_points) & (feats["path_length"] > 0)
    out = feats.loc[keep, ["kind", "first_event", "last_event", "start_time", *FEATURES]]
    return out.reset_index(drop=True)


def _bounds(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last position of every action id 0..max in a sorted id array."""
    n_actions = int(a[-1]) + 1 if len(a) else 0
    first = np.searchsorted(a, np.arange(n_actions), side="left")
    last = np.searchsorted(a, np.arange(n_actions), side="right") - 1
    return first, last


def _click_time(a, t, state, bounds) -> np.ndarray:
    """Seconds from the last press to the closing release, 0 for actions without a click."""
    first, last = bounds
    pos = np.arange(len(a))
    last_press = np.maximum.accumulate(np.where(state == "Pressed", pos, -1))[last]
    clicked = (state[last] == "Released") & (last_press >= first)
    return np.where(clicked, t[last] - t[np.maximum(last_press, 0)], 0.0)


def _trajectory(a, t, x, y) -> pd.DataFrame:
    """Shape and kinematic features of every action from its collapsed points."""
    step = np.append(False, a[1:] == a[:-1])  # point i closes a step of its action
    dt = np.where(step, np.diff(t, prepend=t[0]), np.nan)
    dx = np.where(step, np.diff(x, prepend=x[0]), np.nan)
    dy = np.where(step, np.diff(y, prepend=y[0]), np.nan)
    ds = np.hypot(dx, dy)
    speed = ds / dt
    heading = np.where(ds > 0, np.arctan2(dy, dx), np.nan)
    both = step & np.append(False, step[:-1])  # point i closes two steps in a row
    turn = np.where(both, _wrap(heading - _shift(heading)), np.nan)
    accel = np.where(both, (speed - _shift(speed)) / dt, np.nan)
    three = both & np.append(False, both[:-1])
    jerk = np.where(three, (accel - _shift(accel)) / dt, np.nan)
    per_point = pd.DataFrame(
        {
            "vx": dx / dt,
            "vy": dy / dt,
            "speed": speed,
            "acceleration": accel,
            "jerk": jerk,
            "angular_velocity": turn / dt,
            "curvature": np.where(ds > 0, turn / np.where(ds > 0, ds, 1.0), np.nan),
        }
    )
    grouped = per_point.groupby(a, sort=True)
    stats = grouped.agg(["mean", "min", "max"])
    spread = grouped.std(ddof=0)
    out = {
        f"{k}_{s}": (spread[k] if s == "std" else stats[(k, s)]) for k in KINEMATICS for s in STATS
    }
    shape = _shape(a, t, x, y, ds, turn, accel)
    return pd.concat([shape, pd.DataFrame(out)], axis=1).fillna(0.0)


def _shape(a, t, x, y, ds, turn, accel) -> pd.DataFrame:
    first, last = _bounds(a)
    ids = np.unique(a)
    first, last = first[ids], last[ids]
    ex, ey = x[last] - x[first], y[last] - y[first]
    distance = np.hypot(ex, ey)
    path = pd.Series(ds).groupby(a).sum().to_numpy()
    turns = pd.DataFrame({"abs": np.abs(turn), "sharp": np.abs(turn) > SHARP_TURN}).groupby(a)
    r = _rank(a)  # distance of every point from its action's start-to-end line
    across = np.abs(ex[r] * (y - y[first][r]) - ey[r] * (x - x[first][r]))
    deviation = pd.Series(across).groupby(a).max().to_numpy() / np.where(
        distance > 0, distance, np.inf
    )
    return pd.DataFrame(
        {
            "duration": t[last] - t[first],
            "path_length": path,
            "distance": distance,
            "straightness": np.where(path > 0, distance / np.where(path > 0, path, 1.0), 1.0),
            "points": (last - first + 1).astype(np.float64),
            "direction": _direction(ex, ey),
            "turn_total": turns["abs"].sum().to_numpy(),
            "sharp_turns": turns["sharp"].sum().to_numpy(),
            "deviation": deviation,
            "accel_time": _accel_time(a, t, accel, first, last),
        },
        index=ids,
    )


def _rank(a: np.ndarray) -> np.ndarray:
    """Position of each point's action among the distinct ids (ids are sorted)."""
    return np.cumsum(np.append(True, a[1:] != a[:-1])) - 1


def _accel_time(a, t, accel, first, last) -> np.ndarray:
    """Time from an action's start until the pointer first stops speeding up."""
    stops = accel <= 0
    pos = np.where(stops, np.arange(len(a)), len(a))
    first_stop = pd.Series(pos).groupby(a).min().to_numpy()
    ended = np.where(first_stop < len(a), first_stop, last)
    return t[np.minimum(ended, last)] - t[first]


def _direction(ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """Sector 0-7 of the start-to-end direction (0 = right, 2 = up on screen)."""
    angle = np.mod(np.arctan2(-ey, ex), 2 * np.pi)
    return np.minimum(np.floor(angle / (np.pi / 4)), 7.0)


def _shift(values: np.ndarray) -> np.ndarray:
    return np.append(np.nan, values[:-1])


def _wrap(angle: np.ndarray) -> np.ndarray:
    return np.mod(angle + np.pi, 2 * np.pi) - np.pi


def session_actions(
    sessions, *, pause_s: float = PAUSE_S, min_points: int = MIN_POINTS
) -> pd.DataFrame:
    """Actions of many sessions in one pass, each row tagged with its session.

    ``sessions``: objects with ``user``, ``session``, ``split``, ``is_illegal`` and
    ``events`` (see :class:`trustshield.ingest.mouse.MouseSession`). Adds those four
    columns and ``order`` (position of the action in its session) in front of the columns
    of :func:`action_features`; ``first_event`` and ``last_event`` count within the session.
    """
    sessions = list(sessions)
    sizes = np.array([len(s.events) for s in sessions], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    events = pd.concat([s.events for s in sessions], ignore_index=True)
    starts = np.zeros(len(events), dtype=bool)
    starts[offsets[:-1][sizes > 0]] = True
    actions = action_features(events, pause_s=pause_s, min_points=min_points, starts=starts)
    which = np.searchsorted(offsets, actions["first_event"].to_numpy(), side="right") - 1
    for column in ("first_event", "last_event"):
        actions[column] -= offsets[which]
    order = np.arange(len(actions)) - np.searchsorted(which, which, side="left")
    meta = pd.DataFrame(
        {
            "user": [sessions[i].user for i in which],
            "session": [sessions[i].session for i in which],
            "split": [sessions[i].split for i in which],
            "is_illegal": np.array([sessions[i].is_illegal for i in which], dtype=np.int64),
            "order": order,
        }
    )
    return pd.concat([meta, actions], axis=1)
