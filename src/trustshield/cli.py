"""EDGE: the ``trustshield`` command line.

Every command catches :class:`~trustshield.errors.TrustShieldError`, prints one line and
exits with status 1. When the reader of standard output goes away early (``trustshield
explain ID --json | head -1``), the command stops quietly with status 141 (128 + SIGPIPE,
as a shell reports a process that SIGPIPE ended); otherwise everything printed is flushed
before the exit status is returned. DATA is a CSV/Parquet path or ``DATASET:FILE`` (for example
``nsl-kdd:KDDTest+.txt``), found under TRUSTSHIELD_DATA_DIR or the download cache and
checked against its recorded sha256.

Conventions shared by every command: ``--json`` prints JSON on standard output (never a
file: files are written with ``--out`` or ``--json-file``); help and messages take the
terminal's width only when written to a terminal, and are never wrapped for a pipe or a
file; an unknown command or choice names the closest known ones. ``trustshield completion
bash|zsh|tcsh`` prints a shell completion script (shtab).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from trustshield.errors import TrustShieldError, did_you_mean

#: line width for help and messages written to a pipe or a file: never wrapped
UNWRAPPED = 100_000
#: commands whose ``--json`` once took a PATH to write (now ``--json-file PATH``)
JSON_PATH_COMMANDS = (("evaluate",), ("benchmark", "keystroke"), ("benchmark", "mouse"))
SHELLS = ("bash", "zsh", "tcsh")
#: options and positionals that name a file or folder: completed as paths by the shell
PATH_DESTS = frozenset(
    {"data", "model", "store", "out", "spec", "json_file", "incidents", "incidents_store",
     "auth", "train", "templates", "keys", "answers", "prior", "background", "models_dir",
     "reports", "dest", "path", "public"}
)  # fmt: skip
#: shtab's file completion in each shell (shtab.FILE, spelt out so that building the parser
#: does not import shtab)
FILE_COMPLETION = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


def main(argv: list[str] | None = None) -> int:
    from trustshield.commands.threads import apply_thread_settings

    apply_thread_settings()  # before NumPy, LightGBM or scikit-learn loads
    parser = build_parser()
    argv = old_json_path(list(sys.argv[1:] if argv is None else argv))
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


def old_json_path(argv: list[str]) -> list[str]:
    """``argv`` with the old ``--json PATH`` (or ``--json=PATH``) of the commands in
    :data:`JSON_PATH_COMMANDS` spelt ``--json-file PATH``, and a deprecation warning on
    standard error; other arguments as given."""
    if not any(argv[: len(c)] == list(c) for c in JSON_PATH_COMMANDS):
        return argv
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        path = None
        if word.startswith("--json="):
            path = word.partition("=")[2]
        elif word == "--json" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            path, i = argv[i + 1], i + 1
        if path is None:
            out.append(word)
        else:
            print(
                f"trustshield: warning: `--json {path}` is deprecated: --json prints JSON on "
                f"standard output; writing the file as `--json-file {path}` does",
                file=sys.stderr,
            )
            out += ["--json-file", path]
        i += 1
    return out


def help_width(stream) -> int:
    """Columns for help and messages written to ``stream``: the terminal's when it is one,
    else :data:`UNWRAPPED` (a pipe or a file gets whole lines)."""
    try:
        on_terminal = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        on_terminal = False
    if not on_terminal:
        return UNWRAPPED
    return max(shutil.get_terminal_size().columns - 2, 20)


class Parser(argparse.ArgumentParser):
    """argparse as every ``trustshield`` command uses it: help and usage at the width of
    the stream they are written to (:func:`help_width`), and an unknown command or choice
    answered with the closest known ones."""

    _stream = None

    def print_help(self, file=None) -> None:
        self._stream = file or sys.stdout
        super().print_help(file)

    def print_usage(self, file=None) -> None:
        self._stream = file or sys.stdout
        super().print_usage(file)

    def error(self, message: str):
        self._stream = sys.stderr
        super().error(message)

    def _get_formatter(self):
        stream = self._stream or sys.stdout
        return self.formatter_class(prog=self.prog, width=help_width(stream))

    def _check_value(self, action, value) -> None:
        if action.choices is not None and value not in action.choices:
            known = ", ".join(map(str, action.choices))
            raise argparse.ArgumentError(
                action,
                f"invalid choice: {value!r}{did_you_mean(str(value), action.choices)}; "
                f"choose from {known}",
            )


def build_parser() -> argparse.ArgumentParser:
    from trustshield import __version__
    from trustshield.commands import register_all

    parser = Parser(
        prog="trustshield",
        description=("Detect intrusions with explained, audited machine learning."),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    register_all(sub)
    _complete_paths(parser)
    completion = sub.add_parser(
        "completion", help="print a shell completion script (bash, zsh or tcsh)"
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    completion.set_defaults(run=lambda args: print_completion(parser, args.shell))
    return parser


def _complete_paths(parser: argparse.ArgumentParser) -> None:
    """Mark every action of :data:`PATH_DESTS` (in every subcommand) for file completion."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _complete_paths(child)
        elif action.dest in PATH_DESTS and action.nargs != 0:
            action.complete = FILE_COMPLETION  # type: ignore[attr-defined]


def print_completion(parser: argparse.ArgumentParser, shell: str) -> None:
    """The completion script of ``parser`` for ``shell`` on standard output, e.g.
    ``trustshield completion bash > ~/.local/share/bash-completion/completions/trustshield``
    or ``eval "$(trustshield completion bash)"``."""
    import shtab

    print(shtab.complete(parser, shell=shell), flush=True)


if __name__ == "__main__":
    sys.exit(main())
