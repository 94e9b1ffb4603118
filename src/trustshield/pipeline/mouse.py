"""Mouse-dynamics verification wired end to end: per-user verifiers from training actions,
out-of-fold scores on training data, and scores of any other actions.

Actions come from :func:`trustshield.features.mouse_actions.session_actions` (columns
``user``, ``session``, ``split``, ``is_illegal``, ``order`` and the features). Only
training actions ever fit a verifier: the owner's as y = 0, other users' as y = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.detectors.mouse import MouseVerifier
from trustshield.errors import DataError
from trustshield.features.mouse_actions import FEATURES, action_features
from trustshield.ingest.mouse import parse_session

#: held-out training sessions are cut into pseudo-sessions of this many actions
PSEUDO_SESSION = 100
OOF_FOLDS = 3
NEED_THREE_USERS = (
    "out-of-fold scores against unseen impostors need training actions of "
    "at least three users (owner, impostor held out, others as negatives); "
    "got {users}"
)


def read_session_actions(path: str | Path) -> pd.DataFrame:
    """The action features (one row per action, :data:`FEATURES` columns) of one session
    file in the Balabit layout: a samples reader for enrolling or verifying by mouse."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"session file {path} does not exist")
    events = parse_session(path.read_bytes(), file=str(path))
    return action_features(events)[list(FEATURES)]


def train_verifiers(
    train: pd.DataFrame,
    *,
    make: Callable[[], MouseVerifier] = MouseVerifier,
    owner_only: bool = False,
) -> dict[str, MouseVerifier]:
    """One verifier per user: owner's training actions against every other user's
    (``owner_only``: the owner's alone)."""
    verifiers = {}
    for user in sorted(train["user"].unique()):
        mine = (train["user"] == user).to_numpy()
        verifiers[user] = (
            make().fit(train[mine]) if owner_only else make().fit(train, (~mine).astype(int))
        )
    return verifiers


def score_actions(verifiers: dict[str, MouseVerifier], actions: pd.DataFrame) -> np.ndarray:
    """Suspicion of every action under the verifier of the user its session claims."""
    out = np.full(len(actions), np.nan)
    users = actions["user"].to_numpy()
    for user in np.unique(users):
        if user not in verifiers:
            raise DataError(f"no verifier for user {user!r}; trained users: {sorted(verifiers)}")
        mine = users == user
        out[mine] = verifiers[user].suspicion(actions[mine])
    return out


def out_of_fold(
    train: pd.DataFrame,
    *,
    make: Callable[[], MouseVerifier] = MouseVerifier,
    folds: int = OOF_FOLDS,
    block: int = PSEUDO_SESSION,
) -> pd.DataFrame:
    """Out-of-fold action scores on training data, with impostors the model never saw.

    For each owner and each other user playing the impostor: the owner's sessions and the
    impostor's are dealt into ``folds`` folds; a verifier fitted on the owner's other folds
    against the remaining users (never the impostor) scores the fold's owner sessions
    (genuine) and impostor sessions. Held-out sessions are cut into pseudo-sessions of
    ``block`` actions. Rows: owner, pseudo_session, is_illegal, suspicion, in action order.
    """
    users = sorted(train["user"].unique())
    if len(users) < 3:
        raise DataError(NEED_THREE_USERS.format(users=users))
    parts = []
    for owner in users:
        for impostor in (u for u in users if u != owner):
            parts += _oof_pair(train, owner, impostor, make, folds, block)
    return pd.concat(parts, ignore_index=True)


def _oof_pair(train, owner, impostor, make, folds, block) -> list[pd.DataFrame]:
    fold_of = {**_deal(train, owner, folds), **_deal(train, impostor, folds)}
    fold = train["session"].map(fold_of).to_numpy()
    user = train["user"].to_numpy()
    negatives = (user != owner) & (user != impostor)
    out = []
    for f in range(folds):
        fit_rows = ((user == owner) & (fold != f)) | negatives
        verifier = make().fit(train[fit_rows], negatives[fit_rows].astype(int))
        held = ((user == owner) | (user == impostor)) & (fold == f)
        scored = train.loc[held, ["session", "order"]].copy()
        scored["suspicion"] = verifier.suspicion(train[held])
        scored["is_illegal"] = (user[held] == impostor).astype(int)
        scored["owner"] = owner
        piece = scored["order"].to_numpy() // block
        scored["pseudo_session"] = [
            f"{owner}|{impostor}|{s}|{p}" for s, p in zip(scored["session"], piece)
        ]
        out.append(scored[["owner", "pseudo_session", "is_illegal", "suspicion"]])
    return out


def _deal(train: pd.DataFrame, user: str, folds: int) -> dict[str, int]:
    """The user's training sessions dealt round-robin into folds, in session order."""
    sessions = sorted(train.loc[train["user"] == user, "session"].unique())
    if len(sessions) < folds:
        raise DataError(
            f"{user} has {len(sessions)} training sessions; {folds} folds need at least {folds}"
        )
    return {s: i % folds for i, s in enumerate(sessions)}
