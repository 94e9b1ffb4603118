"""Per-user mouse verifiers and out-of-fold scores: only training actions fit, and the
impostor of a fold is never among its negatives."""

import numpy as np
import pandas as pd
import pytest

from trustshield.detectors.mouse import MouseVerifier
from trustshield.errors import DataError
from trustshield.features.mouse_actions import FEATURES
from trustshield.pipeline.mouse import (
    out_of_fold,
    read_session_actions,
    score_actions,
    train_verifiers,
)

USERS = ("u1", "u2", "u3")


def synthetic_train(sessions=3, per_session=40):
    rng = np.random.default_rng(0)
    parts = []
    for k, user in enumerate(USERS):
        for s in range(sessions):
            frame = pd.DataFrame(
                rng.normal(size=(per_session, len(FEATURES))), columns=list(FEATURES)
            )
            frame["speed_mean"] += 2.0 * k
            frame.insert(0, "order", np.arange(per_session))
            frame.insert(0, "is_illegal", 0)
            frame.insert(0, "split", "train")
            frame.insert(0, "session", f"{user}-s{s}")
            frame.insert(0, "user", user)
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


class Recording(MouseVerifier):
    """Remembers the sessions and users each fitted model saw, and what it then scored."""

    fitted: dict = {}
    scored: dict = {}

    def fit(self, X, y=None):
        self.tag = len(Recording.fitted)
        Recording.fitted[self.tag] = (set(X["session"]), set(X.loc[np.asarray(y) == 1, "user"]))
        return super().fit(X, y)

    def suspicion(self, X):
        Recording.scored.setdefault(self.tag, set()).update(X["session"])
        return super().suspicion(X)


def make():
    return Recording(n_estimators=10, min_child_samples=5)


def test_each_user_is_contrasted_with_all_other_users():
    train = synthetic_train()
    verifiers = train_verifiers(train, make=lambda: MouseVerifier(n_estimators=10))
    assert sorted(verifiers) == list(USERS)
    scores = score_actions(verifiers, train)
    mine = train["user"] == "u2"
    assert scores[mine].mean() < verifiers["u1"].suspicion(train[mine]).mean()
    with pytest.raises(DataError, match="no verifier for user 'u9'"):
        score_actions(verifiers, train.assign(user="u9"))


def test_out_of_fold_never_fits_on_what_it_scores():
    Recording.fitted, Recording.scored = {}, {}
    train = synthetic_train()
    oof = out_of_fold(train, make=make, folds=3, block=15)
    assert len(Recording.fitted) == 3 * 2 * 3
    for owner, impostor in [(o, i) for o in USERS for i in USERS if i != o]:
        rows = oof[oof["pseudo_session"].str.startswith(f"{owner}|{impostor}|")]
        assert set(rows["is_illegal"]) == {0, 1}
    for model, (sessions, negatives) in Recording.fitted.items():
        scored = Recording.scored[model]
        assert not sessions & scored  # held out means held out
        impostors = {s[:2] for s in scored} - {s[:2] for s in sessions}
        assert len(negatives) == 1 and not negatives & impostors  # impostor never a negative
    # every owner session is scored exactly once per impostor, by a model not fitted on it
    keys = oof["pseudo_session"].str.split("|", expand=True)
    genuine = oof["is_illegal"] == 0
    assert (keys.loc[genuine, 0] == keys.loc[genuine, 2].str[:2]).all()
    per_pair = oof[genuine].groupby([keys.loc[genuine, 0], keys.loc[genuine, 1]]).size()
    assert (per_pair == 3 * 40).all()
    assert oof.groupby("pseudo_session").size().max() == 15


def test_out_of_fold_refuses_too_few_users_or_sessions():
    train = synthetic_train()
    with pytest.raises(DataError, match="at least three users"):
        out_of_fold(train[train["user"] != "u3"], make=make)
    with pytest.raises(DataError, match="u1 has 3 training sessions; 4 folds"):
        out_of_fold(train, make=make, folds=4)


def test_a_session_file_reads_as_one_row_of_features_per_action(tmp_path):
    lines = ["record timestamp,client timestamp,button,state,x,y"]
    lines += [f"{0.1 * i:.1f},{0.1 * i:.1f},NoButton,Move,{10 * i},50" for i in range(6)]
    lines += ["0.6,0.6,Left,Pressed,50,50", "0.7,0.7,Left,Released,50,50"]
    lines += [f"{30 + 0.1 * i:.1f},{30 + 0.1 * i:.1f},NoButton,Move,0,{5 * i}" for i in range(6)]
    path = tmp_path / "session_1"
    path.write_text("\n".join(lines) + "\n")
    table = read_session_actions(path)
    assert list(table.columns) == list(FEATURES)
    assert table[["is_pc", "is_mm"]].to_numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(DataError, match="does not exist"):
        read_session_actions(tmp_path / "nothing")
