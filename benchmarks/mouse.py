"""Mouse-dynamics benchmark (Balabit sessions); the same as `trustshield benchmark mouse`.

    python benchmarks/mouse.py --json out/bench_mouse.json

The protocol and the figures are defined in `trustshield.pipeline.mouse_benchmark`.
"""

import sys

from trustshield.cli import main

if __name__ == "__main__":
    # the benchmarks' --json PATH is the command's --json-file PATH
    given = ["--json-file" if word == "--json" else word for word in sys.argv[1:]]
    sys.exit(main(["benchmark", "mouse", *given]))
