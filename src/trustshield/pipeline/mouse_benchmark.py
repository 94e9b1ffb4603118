"""Mouse-dynamics verification benchmark on the Balabit challenge subset (users 21, 23, 29).

    trustshield benchmark mouse --json out/bench_mouse.json   (or python benchmarks/mouse.py)

Protocol: sessions are cut into mouse actions (MM, PC, DD); each user's verifier is a
LightGBM classifier of that user's training actions against the other two users' training
actions (the usual Balabit protocol; test sessions never train anything). A test session's
score is the mean suspicion of its actions; ROC AUC per user and pooled over all 193
labelled test sessions (the challenge's global AUC), also after the first k actions. The
decision band that says how many actions a decision takes is fitted on out-of-fold scores
of training sessions only, with impostors the fold's model never saw.
"""

from __future__ import annotations

import platform
import time

import numpy as np
import pandas as pd

from trustshield.assess.mouse import auc_report, decision_summary, decisions, fit_band
from trustshield.detectors.mouse import session_attributions, session_scores
from trustshield.explain.mouse import mouse_rationales, session_traits
from trustshield.features.mouse_actions import FEATURES, PAUSE_S, session_actions
from trustshield.ingest.mouse import ARCHIVE, DATASET, read_balabit
from trustshield.pipeline.mouse import (
    OOF_FOLDS,
    PSEUDO_SESSION,
    out_of_fold,
    score_actions,
    train_verifiers,
)
from trustshield.specs import load_spec

TARGET_AUC = 0.85
PROTOCOL = (
    "Balabit subset (users 21, 23, 29): each user's verifier contrasts the user's "
    "training actions with the other two users' training actions (LightGBM, classes "
    "weighted equally); test sessions are only scored; session score = mean action "
    "suspicion; ROC AUC over labelled test sessions, per user and pooled. Decision "
    f"band fitted on out-of-fold training scores ({OOF_FOLDS} folds of sessions, "
    f"pseudo-sessions of {PSEUDO_SESSION} actions, the impostor user held out of the "
    "fold's training), one band per user, so that at most 5 % of that user's owner and "
    "of impostor pseudo-sessions are decided wrongly."
)
VERDICTS = {1: "deny", -1: "accept", 0: "undecided"}


def mouse_figures(sessions=None) -> dict:
    """Every figure as plain JSON: ``auc_pooled``, ``auc_per_user``, ``auc_by_actions``,
    ``actions_to_decision``, ``protocol``, ``seconds`` (whole run), plus ``timings``,
    ``training_cv``, ``bands`` (per user), ``owner_only``, ``examples``, ``explanation_max_error``,
    ``target`` and ``data``."""
    start = time.perf_counter()
    timings = {}
    clock = time.perf_counter()
    sha256 = None if sessions is not None else load_spec(DATASET).file(ARCHIVE).sha256
    sessions = sessions if sessions is not None else read_balabit()  # verified against sha256
    timings["read"] = _lap(clock)
    clock = time.perf_counter()
    actions = session_actions(sessions)
    timings["segment_and_features"] = _lap(clock)
    train = actions[actions["split"] == "train"].reset_index(drop=True)
    test = actions[actions["split"] == "test"].reset_index(drop=True)

    clock = time.perf_counter()
    oof = out_of_fold(train)
    bands = {
        user: fit_band(
            action_suspicion=g["suspicion"],
            sessions=g["pseudo_session"],
            is_illegal=g["is_illegal"],
        )
        for user, g in oof.groupby("owner")
    }
    training_cv = auc_report(
        action_suspicion=oof["suspicion"],
        sessions=oof["pseudo_session"],
        is_illegal=oof["is_illegal"],
        users=oof["owner"],
        lengths=(),
    )
    timings["training_cv_and_band"] = _lap(clock)

    clock = time.perf_counter()
    verifiers = train_verifiers(train)
    timings["fit"] = _lap(clock)
    clock = time.perf_counter()
    suspicion = score_actions(verifiers, test)
    timings["score"] = _lap(clock)
    report = auc_report(
        action_suspicion=suspicion,
        sessions=test["session"],
        is_illegal=test["is_illegal"],
        users=test["user"],
    )
    per_session = pd.concat(
        [
            decisions(
                action_suspicion=suspicion[mine],
                sessions=test.loc[mine, "session"],
                is_illegal=test.loc[mine, "is_illegal"],
                band=bands[user],
            ).assign(user=user)
            for user in bands
            for mine in [(test["user"] == user).to_numpy()]
        ],
        ignore_index=True,
    )
    decision = decision_summary(per_session)
    decision["per_user"] = {user: decision_summary(g) for user, g in per_session.groupby("user")}
    decision["verdicts"] = {VERDICTS[v]: int((per_session["verdict"] == v).sum()) for v in VERDICTS}
    clock = time.perf_counter()
    examples, exact = _explain(verifiers, test, suspicion, per_session)
    timings["explain"] = _lap(clock)
    owner_only = _owner_only(train, test)
    return {
        "auc_pooled": report["auc_pooled"],
        "auc_per_user": report["auc_per_user"],
        "auc_by_actions": report["auc_by_actions"],
        "actions_to_decision": decision,
        "protocol": PROTOCOL,
        "seconds": time.perf_counter() - start,
        "timings": timings,
        "training_cv": {
            "auc_pooled": training_cv["auc_pooled"],
            "auc_per_user": training_cv["auc_per_user"],
            "pseudo_sessions": training_cv["sessions"],
        },
        "bands": {user: band.to_dict() for user, band in bands.items()},
        "owner_only": owner_only,
        "examples": examples,
        "explanation_max_error": exact,
        "target": {
            "auc_pooled_at_least": TARGET_AUC,
            "met": report["auc_pooled"] is not None and report["auc_pooled"] >= TARGET_AUC,
        },
        "data": {
            "dataset": DATASET,
            "file": ARCHIVE,
            "sha256": sha256,
            "sessions": len(sessions),
            "test_sessions": report["sessions"],
            "impostor_test_sessions": report["impostor_sessions"],
            "events": int(sum(len(s.events) for s in sessions)),
            "actions": len(actions),
            "train_actions": len(train),
            "test_actions": len(test),
            "test_actions_per_session_median": report["actions_per_session_median"],
            "pause_s": PAUSE_S,
            "features": len(FEATURES),
        },
    }


def _lap(clock: float) -> float:
    return round(time.perf_counter() - clock, 3)


def _explain(verifiers, test, suspicion, per_session) -> tuple[list[str], float]:
    """Rationale of every test verdict over the actions it used; a few examples back, and
    the largest gap between session attributions and session scores."""
    used = dict(
        zip(
            per_session["session"],
            np.where(
                per_session["actions_used"] > 0, per_session["actions_used"], np.iinfo(np.int64).max
            ),
        )
    )
    verdict = dict(zip(per_session["session"], per_session["verdict"]))
    lines, gap = {}, 0.0
    for user, verifier in verifiers.items():
        mine = (test["user"] == user).to_numpy()
        rows = test[mine]
        names, attributions = session_attributions(
            verifier.explain(rows), sessions=rows["session"], n_actions=used
        )
        scores = session_scores(suspicion[mine], sessions=rows["session"], n_actions=used)
        gap = max(gap, float(np.abs(attributions.total() - scores[names].to_numpy()).max()))
        observed = session_traits(
            rows, sessions=rows["session"], features=verifier.feature_names_, n_actions=used
        ).loc[names]
        counts = rows.groupby("session").size()
        headlines = [
            f"{user} {s}: {VERDICTS[verdict[s]]} after {min(used[s], counts[s])} actions "
            f"(score {score:+.2f})"
            for s, score in zip(names, attributions.total())
        ]
        for s, line in zip(
            names,
            mouse_rationales(
                headlines=headlines,
                attributions=attributions,
                observed=observed,
                profile=verifier.profile_,
            ),
        ):
            lines[s] = line
    picks = [
        next((lines[s] for s in per_session.loc[per_session["verdict"] == v, "session"]), None)
        for v in (1, -1, 0)
    ]
    return [p for p in picks if p is not None], gap


def _owner_only(train, test) -> dict:
    """The same test with verifiers fitted on the owner's actions alone (no negatives)."""
    clock = time.perf_counter()
    suspicion = score_actions(train_verifiers(train, owner_only=True), test)
    report = auc_report(
        action_suspicion=suspicion,
        sessions=test["session"],
        is_illegal=test["is_illegal"],
        users=test["user"],
        lengths=(),
    )
    return {
        "auc_pooled": report["auc_pooled"],
        "auc_per_user": report["auc_per_user"],
        "seconds": _lap(clock),
    }


def print_report(result: dict) -> None:
    print(f"\n{'':<22}{'pooled':>8} " + " ".join(f"{u:>8}" for u in result["auc_per_user"]))
    print(
        f"{'test session AUC':<22}{result['auc_pooled']:8.3f} "
        + " ".join(f"{a:8.3f}" for a in result["auc_per_user"].values())
    )
    cv = result["training_cv"]
    print(
        f"{'training CV AUC':<22}{cv['auc_pooled']:8.3f} "
        + " ".join(f"{a:8.3f}" for a in cv["auc_per_user"].values())
        + f"   ({cv['pseudo_sessions']} pseudo-sessions)"
    )
    owner = result["owner_only"]
    print(
        f"{'owner-only verifier':<22}{owner['auc_pooled']:8.3f} "
        + " ".join(f"{a:8.3f}" for a in owner["auc_per_user"].values())
    )
    print(
        "\nAUC after the first k actions: "
        + ", ".join(f"{k}: {a:.3f}" for k, a in result["auc_by_actions"].items())
    )
    d = result["actions_to_decision"]
    print(
        f"actions to a decision: median {d['median_actions']} over decided sessions "
        f"({d['decided_share']:.0%} decided, {d['wrong_share_of_decided']:.1%} of them wrongly; "
        f"verdicts {d['verdicts']})"
    )
    for user, u in d["per_user"].items():
        band = result["bands"][user]
        print(
            f"  {user}: median {u['median_actions']} actions, {u['decided_share']:.0%} decided, "
            f"{u['wrong_share_of_decided']:.1%} wrongly; band centre {band['centre']:+.3f}, "
            f"evidence ±{band['half_width']:.2f}"
        )
    target = result["target"]
    print(
        f"target pooled AUC ≥ {target['auc_pooled_at_least']}: "
        f"{'met' if target['met'] else 'NOT met'}"
    )
    print("\nexample rationales:")
    for line in result["examples"]:
        print(f"  {line}")
    print(f"session attributions match session scores to {result['explanation_max_error']:.1e}")
    print(f"\nprotocol: {result['protocol']}")
    data, t = result["data"], result["timings"]
    print(
        f"data: {data['file']} sha256 {data['sha256']} ({data['sessions']} sessions, {data['events']} events → "
        f"{data['actions']} actions); timings (s): "
        + ", ".join(f"{k} {v}" for k, v in t.items())
        + f"; total {result['seconds']:.1f} s on {platform.machine()} / Python "
        f"{platform.python_version()}"
    )
