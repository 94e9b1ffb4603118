"""Authentication benchmark: keystroke verification against the classic detectors, mouse
dynamics on Balabit, and the fairness of decisions before and after the mitigation.

    python benchmarks/auth.py --json out/bench_auth.json

Protocols: keystroke follows Killourhy & Maxion (DSN 2009) on MEU-Mobile KSD (first 25
typings enrol, remaining 26 genuine, first 5 of each impostor; subjects split into halves
so that nothing TrustShield learns from a population ever includes a tested impostor).
The short-enrolment protocol enrols on the first 5 typings and tests the next 26. The
generalisation rows change the population the way another data set would: timing
features only (hold, press-to-press, flight; no pressure or area) with 5 and 10 enrolment
typings, and the first 10 typings per subject only (enrol 5, test the next 5), the shape of
a small latency-only population. Mouse: each user's verifier is trained on training
sessions only; test sessions are scored once. Fairness: thresholds from enrolment data
only; see the printed protocol.
"""

from __future__ import annotations

import argparse
import sys
import time

from trustshield.assess.authentication import fail_safe_evidence, verification_evidence
from trustshield.assess.fairness import fairness_evidence
from trustshield.assess.keystroke_selection import SelectedFactory
from trustshield.assess.keystroke_fairness import fairness_study
from trustshield.commands.benchmark import write_json
from trustshield.decide.authentication import AuthPolicy
from trustshield.ingest.keystroke import KeystrokeData, load_keystroke_data
from trustshield.pipeline.keystroke_benchmark import keystroke_figures
from trustshield.pipeline.mouse_benchmark import mouse_figures

TARGETS = {
    "keystroke": "ours.mean ≤ 0.75 × best baseline mean EER (25 enrolment typings)",
    "keystroke_short": "ours.mean ≤ 0.75 × best baseline mean EER (5 enrolment typings)",
    "mouse": "pooled session AUC ≥ 0.85",
    "fairness": "worst-decile FRR at least halved, mean FAR up by ≤ 0.01",
    "seconds": "< 300",
}
SHORT = {"n_enrol": 5, "n_genuine": 26, "n_impostor": 5}
#: (label, timing features only?, first typings kept per subject, protocol)
GENERALISATION = [
    ("timings only, enrol 5, next 26", True, None, SHORT),
    ("timings only, enrol 10, next 26", True, None, {**SHORT, "n_enrol": 10}),
    ("timings only, first 10 typings: enrol 5, next 5", True, 10, {**SHORT, "n_genuine": 5}),
]
TIMINGS = ("Hold ", "DD ", "UD ")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_keystroke_data()
    factory = SelectedFactory()  # its priors of the 25-typing halves serve the fairness study
    print("keystroke: Killourhy & Maxion protocol, 9 verifiers", flush=True)
    keystroke = keystroke_figures(data, factory=factory)
    print("keystroke: short enrolment (5 typings, next 26 genuine)", flush=True)
    short = keystroke_figures(data, original=False, **SHORT)
    generalisation = {}
    for label, timings, first, protocol in GENERALISATION:
        print(f"keystroke: {label}", flush=True)
        generalisation[label] = _summary(
            keystroke_figures(
                variant(data, timings=timings, first=first),
                original=False,
                ablation=False,
                **protocol,
            )
        )
    print("fairness: global thresholds vs adaptive template", flush=True)
    fairness = fairness_study(data.frame, factory, subject_column=data.subject_column)
    print("mouse: Balabit sessions", flush=True)
    mouse = mouse_figures()
    evidence = [
        *verification_evidence(keystroke=keystroke, mouse=mouse),
        *fairness_evidence(fairness),
        *fail_safe_evidence(AuthPolicy.from_dict(fairness["global_policy"])),
    ]
    result = {
        "keystroke": keystroke,
        "keystroke_short": short,
        "keystroke_generalisation": generalisation,
        "mouse": mouse,
        "fairness": fairness,
        "targets": TARGETS,
        "evidence": [e.as_dict() for e in evidence],
        "seconds": round(time.perf_counter() - start, 1),
    }
    result["checks"] = checks(result)
    print_summary(result)
    if args.json:
        write_json(result, args.json)
    return 0


def variant(data: KeystrokeData, *, timings: bool, first: int | None) -> KeystrokeData:
    """MEU changed the way another population differs: timing features only, and / or only
    the first ``first`` typings of each subject."""
    names = tuple(n for n in data.feature_names if not timings or n.startswith(TIMINGS))
    frame = data.frame[[data.subject_column, *names]]
    if first is not None:
        frame = frame.groupby(data.subject_column, sort=False).head(first)
    return KeystrokeData(
        frame.reset_index(drop=True), data.subject_column, names, data.sha256, data.path
    )


def _summary(figures: dict) -> dict:
    keep = ("ours", "best_baseline", "ratio", "target", "typings", "protocol", "data")
    best = figures["baselines"][figures["best_baseline"]]
    return {
        **{k: figures[k] for k in keep},
        "best_baseline_figures": best,
        "baselines": {
            n: {"mean": v["mean"], "sd": v["sd"]} for n, v in figures["baselines"].items()
        },
        "chosen": {h: c["chosen"] for h, c in figures["selection"]["halves"].items()},
    }


def checks(r: dict) -> dict:
    k, f, short = r["keystroke"], r["fairness"], r["keystroke_short"]
    best = k["baselines"][k["best_baseline"]]["mean"]
    best_short = short["baselines"][short["best_baseline"]]["mean"]
    return {
        "keystroke ours ≤ 0.75 × best baseline": k["ours"]["mean"] <= 0.75 * best,
        "keystroke (5 enrolment typings) ours ≤ 0.75 × best baseline": short["ours"]["mean"]
        <= 0.75 * best_short,
        "mouse pooled AUC ≥ 0.85": r["mouse"]["auc_pooled"] >= 0.85,
        "worst-decile FRR at least halved": (f["worst_decile_frr_ratio"] or 1) <= 0.5,
        "mean FAR up by ≤ 0.01": (f["mean_far_increase"] or 0) <= 0.01,
        "under 5 minutes": r["seconds"] < 300,
    }


def print_summary(r: dict) -> None:
    k, m, f = r["keystroke"], r["mouse"], r["fairness"]
    for label, figures in (("keystroke", k), ("keystroke, short enrolment", r["keystroke_short"])):
        print(f"\n{label} ({figures['protocol']})")
        for name, v in sorted(figures["baselines"].items(), key=lambda kv: kv[1]["mean"]):
            print(f"  {name:<34} EER {v['mean']:.4f} ± {v['sd']:.4f}")
        print(
            f"  {'TrustShield':<34} EER {figures['ours']['mean']:.4f} ± "
            f"{figures['ours']['sd']:.4f} (ratio to {figures['best_baseline']}: "
            f"{figures['ratio']:.3f})"
        )
    print("\nkeystroke generalisation (MEU changed the way another population differs)")
    for label, g in r["keystroke_generalisation"].items():
        best = g["best_baseline_figures"]
        print(
            f"  {label:<48} TrustShield {g['ours']['mean']:.4f} ± {g['ours']['sd']:.4f}, "
            f"{g['best_baseline']} {best['mean']:.4f}: ratio {g['ratio'] or float('nan'):.3f}"
        )
    print(f"mouse ({m['protocol']})")
    print(
        f"  pooled session AUC {m['auc_pooled']:.3f}; per user "
        + ", ".join(f"{u}: {a:.3f}" for u, a in m["auc_per_user"].items())
    )
    print(f"fairness ({f['protocol']})")
    for name, v in f["variants"].items():
        print(
            f"  {name:<11} mean FRR {v['mean_frr']:.3f}  worst-decile FRR {v['worst_decile_frr']:.3f}"
            f"  mean FAR {v['mean_far']:.3f}"
        )
    print(
        f"  worst-decile FRR ratio {f['worst_decile_frr_ratio']:.3f}, mean FAR change "
        f"{f['mean_far_increase']:+.4f}"
    )
    for e in r["evidence"]:
        print(f"evidence: {e['check']}: {e['value']} (bar {e['threshold']}) {e['status']}")
    for name, ok in r["checks"].items():
        print(f"check {name}: {ok}")
    print(f"total {r['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
