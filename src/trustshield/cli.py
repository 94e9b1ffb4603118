"""EDGE: the ``trustshield`` command line.

Every command catches :class:`~trustshield.errors.TrustShieldError`, prints one line and
exits with status 1. DATA is a CSV/Parquet path or ``DATASET:FILE`` (for example
``nsl-kdd:KDDTest+.txt``), found under TRUSTSHIELD_DATA_DIR or the download cache and
checked against its recorded sha256.
"""

from __future__ import annotations

import argparse
import sys

from trustshield.errors import TrustShieldError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except TrustShieldError as exc:
        print(f"trustshield: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "trustshield: interrupted; completed batches are stored, nothing half-written",
            file=sys.stderr,
        )
        return 130


def build_parser() -> argparse.ArgumentParser:
    from trustshield.commands import register_all

    parser = argparse.ArgumentParser(
        prog="trustshield",
        description=("Detect intrusions with explained, audited machine learning."),
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    register_all(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
