"""Web-request payload benchmark: TrustShield's ``payload`` detector beside libinjection
and a character 1-4-gram TF-IDF logistic regression, on HttpParamsDataset.

    python benchmarks/payloads.py --json out/bench_payloads.json [--quick]

Trains on payload_train.csv only and scores payload_test.csv once; the protocol is in
`trustshield.pipeline.payload_benchmark` and is printed with the figures.
"""

import argparse
import json
import sys

from trustshield.assess.payload_evidence import USE_CASE, payload_evidence
from trustshield.assess.robustness.payload_rewrites import Budget
from trustshield.commands.benchmark import write_json
from trustshield.ingest import known_files, locate
from trustshield.ingest.payloads import read_payloads
from trustshield.pipeline.payload_benchmark import Settings, payload_figures, quick

DATASET = "http-params-dataset"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="also write every figure to this JSON file")
    p.add_argument("--quick", action="store_true", help="2 folds, 5 rewrite candidates")
    p.add_argument("--tries", type=int, default=20, help="rewrite candidates per attack")
    p.add_argument("--moves", type=int, default=5, help="rewrites per candidate at most")
    args = p.parse_args(argv)
    files = {f.name: f for f in known_files()[DATASET]}
    train = read_payloads(locate(DATASET, files["payload_train.csv"]))
    test = read_payloads(locate(DATASET, files["payload_test.csv"]))
    settings = Settings(budget=Budget(moves=args.moves, tries=args.tries))
    if args.quick:
        settings = quick(settings)
    figures = payload_figures(train, test, settings, step=lambda m: print(m, file=sys.stderr))
    figures["data"] = {
        "train": {
            "file": files["payload_train.csv"].name,
            "sha256": files["payload_train.csv"].sha256,
        },
        "test": {
            "file": files["payload_test.csv"].name,
            "sha256": files["payload_test.csv"].sha256,
        },
    }
    evidence = payload_evidence(figures)
    figures["evidence"] = [e.as_dict() for e in evidence]
    figures["use_case"] = USE_CASE
    print("protocol:", figures["protocol"])
    for e in evidence:
        print(f"  {e.status:>13}  {e.check}: {e.value}  ({e.metric})")
    print(
        json.dumps(
            {k: figures[k] for k in ("models", "throughput", "explanations", "targets")}, indent=1
        )
    )
    write_json(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
