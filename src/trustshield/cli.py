"""EDGE: the ``trustshield`` command line.

Every command catches :class:`~trustshield.errors.TrustShieldError`, prints one line and
exits with status 1. When the reader of standard output goes away early (``trustshield
explain ID --json | head -1``), the command stops quietly with status 141 (128 + SIGPIPE,
as a shell reports a process that SIGPIPE ended); otherwise everything printed is flushed
before the exit status is returned. DATA is a CSV/Parquet path or ``DATASET:FILE`` (for example
``nsl-kdd:KDDTest+.txt``), found under TRUSTSHIELD_DATA_DIR or the download cache and
checked against its recorded sha256.
"""

from __future__ import annotations

import argparse
import os
import sys

from trustshield.errors import TrustShieldError


def main(argv: list[str] | None = None) -> int:
    from trustshield.commands.threads import apply_thread_settings

    apply_thread_settings()  # before NumPy, LightGBM or scikit-learn loads
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        status = args.run(args) or 0
        sys.stdout.flush()  # all of the output written before the exit status
        return status
    except BrokenPipeError:
        return reader_gone()
    except TrustShieldError as exc:
        print(f"trustshield: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "trustshield: interrupted; completed batches are stored, nothing half-written",
            file=sys.stderr,
        )
        return 130


#: exit status when standard output's reader closed early (128 + SIGPIPE)
CLOSED_PIPE = 141


def reader_gone() -> int:
    """Point standard output at the null device, so that Python's last flush at exit finds
    no closed pipe to complain about (the recipe of the Python docs' "Note on SIGPIPE"),
    and return :data:`CLOSED_PIPE`."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_PIPE


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
