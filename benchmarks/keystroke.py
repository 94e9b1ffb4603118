"""Keystroke verification benchmark (Killourhy & Maxion protocol on MEU-Mobile KSD or any
keystroke table); the same as `trustshield benchmark keystroke`.

    python benchmarks/keystroke.py --json out/bench_keystroke.json
    python benchmarks/keystroke.py --data TABLE --subject COLUMN --enrol 5 --impostor-typings 5

The protocol and the figures are defined in `trustshield.pipeline.keystroke_benchmark`.
"""

import sys

from trustshield.cli import main

if __name__ == "__main__":
    # the benchmarks' --json PATH is the command's --json-file PATH
    given = ["--json-file" if word == "--json" else word for word in sys.argv[1:]]
    sys.exit(main(["benchmark", "keystroke", *given]))
