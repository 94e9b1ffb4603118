"""Authentication benchmark: keystroke verification against the classic detectors, mouse
dynamics on Balabit, and the fairness of decisions before and after the mitigation.

    python benchmarks/auth.py --json out/bench_auth.json

Protocols: keystroke follows Killourhy & Maxion (DSN 2009) on MEU-Mobile KSD (first 25
typings enrol, remaining 26 genuine, first 5 of each impostor; subjects split into halves
so that nothing TrustShield learns from a population ever includes a tested impostor).
Mouse: each user's verifier is trained on training sessions only; test sessions are
scored once. Fairness: thresholds from enrolment data only; see the printed protocol.
"""

from __future__ import annotations

import argparse
import sys
import time

from trustshield.assess.authentication import fail_safe_evidence, verification_evidence
from trustshield.assess.fairness import fairness_evidence
from trustshield.assess.keystroke import SelectedFactory
from trustshield.assess.keystroke_fairness import fairness_study
from trustshield.commands.benchmark import write_json
from trustshield.decide.authentication import AuthPolicy
from trustshield.ingest.keystroke import load_keystroke_data
from trustshield.pipeline.keystroke_benchmark import keystroke_figures
from trustshield.pipeline.mouse_benchmark import mouse_figures

TARGETS = {"keystroke": "ours.mean ≤ 0.75 × best baseline mean EER",
           "mouse": "pooled session AUC ≥ 0.85",
           "fairness": "worst-decile FRR at least halved, mean FAR up by ≤ 0.01",
           "seconds": "< 300"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_keystroke_data()
    print("keystroke: Killourhy & Maxion protocol, 9 verifiers", flush=True)
    keystroke = keystroke_figures(data)
    print("fairness: global thresholds vs adaptive template", flush=True)
    fairness = fairness_study(data.frame, SelectedFactory(), subject_column=data.subject_column)
    print("mouse: Balabit sessions", flush=True)
    mouse = mouse_figures()
    evidence = [*verification_evidence(keystroke=keystroke, mouse=mouse),
                *fairness_evidence(fairness),
                *fail_safe_evidence(AuthPolicy.from_dict(fairness["global_policy"]))]
    result = {"keystroke": keystroke, "mouse": mouse, "fairness": fairness, "targets": TARGETS,
              "evidence": [e.as_dict() for e in evidence],
              "seconds": round(time.perf_counter() - start, 1)}
    result["checks"] = checks(result)
    print_summary(result)
    if args.json:
        write_json(result, args.json)
    return 0


def checks(r: dict) -> dict:
    k, f = r["keystroke"], r["fairness"]
    best = k["baselines"][k["best_baseline"]]["mean"]
    return {"keystroke ours ≤ 0.75 × best baseline": k["ours"]["mean"] <= 0.75 * best,
            "mouse pooled AUC ≥ 0.85": r["mouse"]["auc_pooled"] >= 0.85,
            "worst-decile FRR at least halved": (f["worst_decile_frr_ratio"] or 1) <= 0.5,
            "mean FAR up by ≤ 0.01": (f["mean_far_increase"] or 0) <= 0.01,
            "under 5 minutes": r["seconds"] < 300}


def print_summary(r: dict) -> None:
    k, m, f = r["keystroke"], r["mouse"], r["fairness"]
    print(f"\nkeystroke ({k['protocol']})")
    for name, v in sorted(k["baselines"].items(), key=lambda kv: kv[1]["mean"]):
        print(f"  {name:<34} EER {v['mean']:.4f} ± {v['sd']:.4f}")
    print(f"  {'TrustShield':<34} EER {k['ours']['mean']:.4f} ± {k['ours']['sd']:.4f} "
          f"(ratio to {k['best_baseline']}: {k['ratio']:.3f})")
    print(f"mouse ({m['protocol']})")
    print(f"  pooled session AUC {m['auc_pooled']:.3f}; per user "
          + ", ".join(f"{u}: {a:.3f}" for u, a in m["auc_per_user"].items()))
    print(f"fairness ({f['protocol']})")
    for name, v in f["variants"].items():
        print(f"  {name:<11} mean FRR {v['mean_frr']:.3f}  worst-decile FRR {v['worst_decile_frr']:.3f}"
              f"  mean FAR {v['mean_far']:.3f}")
    print(f"  worst-decile FRR ratio {f['worst_decile_frr_ratio']:.3f}, mean FAR change "
          f"{f['mean_far_increase']:+.4f}")
    for e in r["evidence"]:
        print(f"evidence: {e['check']}: {e['value']} (bar {e['threshold']}) {e['status']}")
    for name, ok in r["checks"].items():
        print(f"check {name}: {ok}")
    print(f"total {r['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
