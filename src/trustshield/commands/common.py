"""What the subcommands share: the default output folder, the ``--store`` help, the
``--drift-window`` option, DATA resolution and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

from trustshield.errors import DataError

DEFAULT_OUT = "out"
STORE_HELP = "DuckDB file or postgresql:// URL (default $TRUSTSHIELD_STORE or ./trustshield.duckdb)"


def add_drift_window(parser) -> None:
    """Add ``--drift-window`` (records per drift window, default 10000) to ``parser``."""
    parser.add_argument(
        "--drift-window",
        type=int,
        default=10_000,
        help="records per drift window compared with the model's training reference "
        "(default 10000)",
    )


def add_pseudonymise(parser) -> None:
    """Add ``--pseudonymise`` (switch the store to keyed pseudonyms, for every writer)."""
    parser.add_argument(
        "--pseudonymise",
        action="store_true",
        help="configure the store to keep src_ip, dst_ip and user as keyed HMACs "
        "($TRUSTSHIELD_PSEUDONYM_KEY) from now on, for every writer (audited); "
        "a store already configured is pseudonymised without it",
    )


def resolve_data(arg: str) -> Path:
    """A path as given, or DATASET:FILE located and sha256-checked."""
    path = Path(arg)
    if path.exists() or ":" not in arg:
        return path
    from trustshield.ingest import known_files, locate

    dataset, _, name = arg.partition(":")
    files = {f.name: f for f in known_files().get(dataset, ())}
    if name not in files:
        raise DataError(
            f"{arg}: no file {name!r} recorded for data set {dataset!r}; known: "
            f"{ {d: [f.name for f in fs] for d, fs in known_files().items()} }"
        )
    return locate(dataset, files[name])


def print_json(value) -> None:
    """``value`` as indented JSON on standard output, flushed at once, so that the whole
    document is written even when a reader of a pipe stops early after it; a reader that
    closed the pipe first raises BrokenPipeError (the command line exits quietly on it)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str), flush=True)
