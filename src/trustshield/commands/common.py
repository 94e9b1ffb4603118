"""What the subcommands share: the default output folder, the ``--store`` help, the
``--drift-window`` option, DATA resolution, opening a store that must exist, and the JSON
options (``--json`` prints on standard output, ``--json-file PATH`` writes a file)."""

from __future__ import annotations

import json
from pathlib import Path

from trustshield.errors import DataError, StoreError, did_you_mean

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
    known = known_files()
    if dataset not in known:
        raise DataError(
            f"{arg}: no file {arg!r} and no data set {dataset!r}"
            f"{did_you_mean(dataset, known)}; known data sets: {', '.join(sorted(known))} "
            "(`trustshield datasets` lists their files)"
        )
    files = {f.name: f for f in known[dataset]}
    if name not in files:
        raise DataError(
            f"{arg}: no file {name!r} recorded for data set {dataset!r}"
            f"{did_you_mean(name, files)}; its files: {', '.join(files)}"
        )
    return locate(dataset, files[name])


def existing_store(target: str | None):
    """The :class:`~trustshield.store.AlertStore` at ``target`` (default
    ``$TRUSTSHIELD_STORE`` or ./trustshield.duckdb) for a command that only reads: a DuckDB
    file that does not exist, or a PostgreSQL database without the store's tables, is a
    StoreError naming it (and the missing tables), never a new empty store."""
    from trustshield.store import AlertStore, default_store_path
    from trustshield.store.alerts import missing_store_tables
    from trustshield.store.database import DUCKDB_PREFIX, is_url, redact

    chosen = target or default_store_path()
    if is_url(chosen):
        missing = missing_store_tables(str(chosen))
        if missing:
            how = "--store" if target else "$TRUSTSHIELD_STORE"
            raise StoreError(
                f"no store at {redact(str(chosen))} ({how}): the database lacks the store's "
                f"tables {', '.join(missing)}; this command only reads a store, it does not "
                "create one; name the store `trustshield detect --store URL` wrote"
            )
    else:
        text = str(chosen)
        path = Path(text[len(DUCKDB_PREFIX) :] if text.startswith(DUCKDB_PREFIX) else text)
        if not path.is_file():
            how = "--store" if target else "$TRUSTSHIELD_STORE or the default"
            raise StoreError(
                f"no store at {path} ({how}): this command only reads a store, it does not "
                "create one; name the store `trustshield detect --store FILE` wrote"
            )
    return AlertStore(chosen)


def add_json(parser, what: str) -> None:
    """``--json``: print ``what`` as JSON on standard output instead of text."""
    parser.add_argument(
        "--json", action="store_true", help=f"print {what} as JSON on standard output"
    )


def add_json_file(parser, what: str) -> None:
    """``--json`` (print ``what`` as JSON) and ``--json-file PATH`` (also write it there,
    atomically). ``--json PATH``, the old spelling of ``--json-file PATH``, still works and
    warns (see :func:`trustshield.cli.old_json_path`)."""
    add_json(parser, what)
    parser.add_argument(
        "--json-file",
        metavar="PATH",
        help=f"also write {what} as JSON to this file (atomically)",
    )


def write_json_file(value, path: str | None, *, mode: int = 0o644) -> None:
    """``value`` as indented JSON at ``path`` (complete or not at all); nothing without one.
    numpy scalars and other values with ``item()`` are written as Python numbers."""
    if not path:
        return
    from trustshield.atomic_files import write_atomic

    target = Path(path)
    if target.parent != Path(""):
        target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, indent=2, default=_plain)
    write_atomic(target, text.encode("utf-8"), mode=mode)


def print_json(value) -> None:
    """``value`` as indented JSON on standard output, flushed at once, so that the whole
    document is written even when a reader of a pipe stops early after it; a reader that
    closed the pipe first raises BrokenPipeError (the command line exits quietly on it)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=_plain), flush=True)


def _plain(value):
    """JSON for what json cannot write: numpy scalars as numbers, paths, times and the
    rest as text."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)
