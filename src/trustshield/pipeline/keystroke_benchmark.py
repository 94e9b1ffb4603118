"""Keystroke verification benchmark: TrustShield's verifier beside the eight classic
detectors of Killourhy & Maxion (DSN 2009), same run, same protocol, on MEU-Mobile KSD or
any keystroke table.

    trustshield benchmark keystroke --json out/bench_keystroke.json   (or python benchmarks/keystroke.py)
    trustshield benchmark keystroke --data TABLE --subject COLUMN --enrol 5 --impostor-typings 5

Protocol (assess/keystroke.py): each subject is enrolled on its first ``n_enrol`` typings
(25 on MEU), genuine tests are its next ``n_genuine`` (None: all remaining, 26 on MEU),
impostor tests the first ``n_impostor`` (5) typings of other subjects; EER per subject, mean
and sd over subjects. TrustShield's verifier is built from a prior learned on a background
population, so subjects are split into two halves (alternating in file order): a
subject's verifier learns only from the other half and meets impostors of its own half
only. Every detector, baselines included, is measured on exactly those impostors.
The prior's settings (clip, population contrast, drift, learned or uniform weights) are
chosen the same way: for half A, by running this protocol inside half B alone over a small
grid (nested selection); the prior is then learned on all of B with the chosen settings;
and vice versa. The tested half never takes part in choosing anything, and the verifier
measured is the one ``trustshield enrol`` fits from a prior learned by
``trustshield auth prior`` (the same function builds both). The ablation rows are a
post-hoc analysis on all subjects with fixed settings; nothing is chosen from them.
The baselines are also run on the original protocol (every other subject an impostor) for
comparison with the paper, whose figures (CMU data: 51 subjects, 200 enrolment typings on a
keyboard) are printed beside them.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping, Sequence

from trustshield.assess.keystroke import baseline_factory, run_protocol, split_record
from trustshield.assess.keystroke_selection import SelectedFactory, grid_points, weighted_factory
from trustshield.detectors.keystroke import BASELINES
from trustshield.ingest.keystroke import KeystrokeData, load_keystroke_data

OURS = "TrustShield keystroke verifier"
TARGET_RATIO = 0.75
#: Killourhy & Maxion 2009, Table 2: mean (sd) EER on the CMU keystroke benchmark
PUBLISHED = {
    "Euclidean": (0.171, 0.095),
    "Manhattan": (0.153, 0.092),
    "Manhattan (scaled)": (0.096, 0.069),
    "Mahalanobis": (0.110, 0.065),
    "Nearest neighbour (Mahalanobis)": (0.100, 0.064),
    "Outlier count (z-score)": (0.102, 0.077),
    "SVM (one-class)": (0.102, 0.065),
    "k-means": (0.372, 0.139),
}
#: post-hoc analysis (reported, never used to choose anything): TrustShield's verifier
#: without a prior, then with a prior of fixed settings and one ingredient changed at a time
FIXED = {"clip": 5.0, "contrast": 0.5, "drift": True, "learn_weights": False}
ABLATIONS = {
    "no prior: fixed defaults (log, clip 5, floor 0.01, unit weights)": None,
    "prior, fixed (clip 5, contrast 0.5, drift, unit weights)": FIXED,
    "  without population contrast": {**FIXED, "contrast": 0.0},
    "  without drift": {**FIXED, "drift": False},
    "  with learned weights": {**FIXED, "learn_weights": True},
    "  without log scale": {**FIXED, "log": False},
    "  clip 8": {**FIXED, "clip": 8.0},
}
ABLATION_NOTE = (
    "post-hoc analysis on every subject under the same halves protocol, with "
    "fixed settings instead of nested selection; reported only, never used to "
    "choose a setting"
)


def _figures(run) -> dict:
    return {"mean": run.mean, "sd": run.sd, "seconds": run.seconds}


def keystroke_figures(
    data: KeystrokeData | None = None,
    *,
    n_enrol: int = 25,
    n_genuine: int | None = None,
    n_impostor: int = 5,
    original: bool = True,
    ablation: bool = True,
    grid: Mapping[str, Sequence] | None = None,
    factory: SelectedFactory | None = None,
) -> dict:
    """Every figure of the benchmark as plain JSON. Keys: ``baselines`` (name → {mean, sd,
    seconds}), ``ours`` ({mean, sd, seconds}), ``best_baseline``, ``ratio``, ``target``,
    ``protocol`` (text), ``typings`` ({n_enrol, n_genuine, n_impostor}), ``split``,
    ``selection`` (grid, and per half the settings chosen inside the other half with every
    candidate's inner EER), ``per_subject``, ``original_protocol`` (baselines without the
    split), ``published``, ``ablation`` (post-hoc), ``data``, ``seconds``. ``grid`` replaces
    the settings grid of the nested selection; ``factory`` (a SelectedFactory) is used
    instead of a fresh one (its priors can then serve another study of the same halves)."""
    start = time.perf_counter()
    data = data or load_keystroke_data()
    frame, column = data.frame, data.subject_column
    typings = {"n_enrol": n_enrol, "n_genuine": n_genuine, "n_impostor": n_impostor}
    runs = {
        name: run_protocol(
            frame, baseline_factory(cls), subject_column=column, name=name, **typings
        )
        for name, cls in BASELINES.items()
    }
    if factory is None:
        factory = SelectedFactory() if grid is None else SelectedFactory(grid=dict(grid))
    ours = run_protocol(frame, factory, subject_column=column, name=OURS, **typings)
    selection = _selection(factory, ours.split)
    best = min(runs, key=lambda name: runs[name].mean)
    result = {
        "baselines": {name: _figures(run) for name, run in runs.items()},
        "ours": _figures(ours),
        "best_baseline": best,
        "error_curves": {OURS: ours.error_curve(), best: runs[best].error_curve()},
        "ratio": ours.mean / runs[best].mean if runs[best].mean > 0 else None,
        "target": {
            "ratio_at_most": TARGET_RATIO,
            "met": ours.mean <= TARGET_RATIO * runs[best].mean,
        },
        "protocol": f"{ours.protocol} {selection['protocol']}",
        "typings": typings,
        "split": {**ours.split, "text": f"{ours.split['text']}; {selection['text']}"},
        "selection": {k: v for k, v in selection.items() if k not in ("protocol", "text")},
        "per_subject": {
            name: run.to_dict()["per_subject"] for name, run in [*runs.items(), (OURS, ours)]
        },
        "published": {name: {"mean": m, "sd": s} for name, (m, s) in PUBLISHED.items()},
        "data": {
            "file": data.path.name,
            "sha256": data.sha256,
            "typings": len(frame),
            "subjects": int(frame[column].nunique()),
            "features": len(data.feature_names),
        },
    }
    if original:
        result["original_protocol"] = _original(frame, column, typings)
    if ablation:
        result["ablation"] = {
            "note": ABLATION_NOTE,
            "runs": {
                label: _figures(
                    run_protocol(
                        frame, _ablated(change), subject_column=column, name=label, **typings
                    )
                )
                for label, change in ABLATIONS.items()
            },
        }
    result["seconds"] = time.perf_counter() - start
    return result


def _settings_text(settings: dict) -> str:
    from trustshield.detectors.keystroke.prior import complete_settings

    s = complete_settings({k: v for k, v in settings.items() if k != "inner_eer"})
    clip = "none" if s["clip"] is None else f"{s['clip']:g}"
    return (
        f"clip {clip}, contrast {s['contrast']:g}, drift {'on' if s['drift'] else 'off'}, "
        f"{'learned' if s['learn_weights'] else 'unit'} weights"
        + ("" if s["log"] else ", log off")
        + ("" if s["min_scale"] == 0.01 else f", floor {s['min_scale']:g}")
    )


def _selection(factory: SelectedFactory, split: dict) -> dict:
    """Which settings each half was verified with, chosen inside the other half."""
    halves = {"A": split["A"], "B": split["B"]}
    served = {}
    for choice in factory.selections:
        background = {str(s) for s in choice.background_subjects}
        for half, other in (("A", "B"), ("B", "A")):
            if background == set(halves[other]):
                served[half] = {"chosen_in": other, **choice.to_dict()}
    chosen = "; ".join(
        f"for half {half}: {_settings_text(served[half]['chosen'])} "
        f"(chosen in {served[half]['chosen_in']})"
        for half in sorted(served)
    )
    grid = factory.grid
    return {
        "grid": {name: list(values) for name, values in grid.items()},
        "candidates": len(grid_points(grid)),
        "halves": served,
        "protocol": (
            "TrustShield's settings (clip, population contrast, drift, learned or "
            "unit weights) are chosen per half over a grid of "
            f"{len(grid_points(grid))} by the same protocol run inside the other half "
            "alone (its subjects alternate into two inner halves, each learning its "
            "prior from the other), lowest mean inner EER wins; the prior (population "
            "profile and weights) is then learned on the whole other half."
        ),
        "text": f"settings chosen inside the other half only: {chosen}",
    }


def _ablated(change):
    if change is None:  # no prior: the verifier's fixed defaults
        return lambda background: weighted_factory()(None)
    return weighted_factory(**change)


def _original(frame, column, typings) -> dict:
    runs = {
        name: run_protocol(
            frame, baseline_factory(cls), subject_column=column, name=name, split="none", **typings
        )
        for name, cls in BASELINES.items()
    }
    first = next(iter(runs.values()))
    return {
        "protocol": first.protocol,
        "split": split_record([], "none")["text"],
        "baselines": {name: _figures(run) for name, run in runs.items()},
    }


def print_table(result: dict) -> None:
    original = result.get("original_protocol", {}).get("baselines", {})
    print(
        f"\n{'verifier':<34} {'EER mean ± sd':>17} {'s':>6} | {'original protocol':>17} | "
        f"{'paper (CMU)':>13}"
    )
    for name, fig in result["baselines"].items():
        orig = original.get(name)
        paper = result["published"][name]
        print(
            f"{name:<34} {fig['mean']:8.4f} ± {fig['sd']:.4f} {fig['seconds']:6.1f} | "
            + (f"{orig['mean']:8.4f} ± {orig['sd']:.4f}" if orig else f"{'':>17}")
            + f" | {paper['mean']:.3f} ({paper['sd']:.3f})"
        )
    ours = result["ours"]
    print(f"{OURS:<34} {ours['mean']:8.4f} ± {ours['sd']:.4f} {ours['seconds']:6.1f} |")
    if "ablation" in result:
        print(f"post-hoc ({result['ablation']['note']}):")
        for label, fig in result["ablation"]["runs"].items():
            print(f"  {label:<40} {fig['mean']:8.4f} ± {fig['sd']:.4f} {fig['seconds']:6.1f}")
    target = result["target"]
    ratio = "undefined" if result["ratio"] is None else f"{result['ratio']:.3f}"
    print(
        f"\nratio to the best baseline ({result['best_baseline']}): {ratio} "
        f"(target ≤ {target['ratio_at_most']}: {'met' if target['met'] else 'NOT met'})"
    )
    print(f"protocol: {result['protocol']}")
    print(f"split: {result['split']['text']}")
    for half, choice in result["selection"]["halves"].items():
        ranked = sorted(choice["inner_eer"], key=lambda c: c["inner_eer"])
        shown = ", ".join(f"{_settings_text(c)}: {c['inner_eer']:.4f}" for c in ranked[:3])
        print(
            f"selection for half {half} (inside {choice['chosen_in']}, "
            f"{choice['seconds']:.1f} s): best inner EERs {shown}"
        )
    if original:
        print(f"original protocol: {result['original_protocol']['protocol']}")
    data = result["data"]
    print(
        f"data: {data['file']} sha256 {data['sha256']} ({data['typings']} typings, "
        f"{data['subjects']} subjects, {data['features']} features); "
        f"{result['seconds']:.1f} s on {platform.machine()} / Python {platform.python_version()}"
    )
