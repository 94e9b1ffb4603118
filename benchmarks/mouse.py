"""Mouse-dynamics benchmark (Balabit sessions); the same as `trustshield benchmark mouse`.

    python benchmarks/mouse.py --json out/bench_mouse.json

The protocol and the figures are defined in `trustshield.pipeline.mouse_benchmark`.
"""

import sys

from trustshield.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "mouse", *sys.argv[1:]]))
