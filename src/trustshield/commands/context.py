"""assess-context: which EU AI Act class a deployment likely falls in, and why."""

from __future__ import annotations

import sys
from pathlib import Path

from trustshield.commands.common import print_json
from trustshield.commands.progress import output
from trustshield.errors import DataError


def register(sub) -> None:
    p = sub.add_parser(
        "assess-context",
        help="likely EU AI Act classification of a deployment "
        "and the practices that apply (not legal advice)",
    )
    p.add_argument(
        "--answers",
        help="YAML file of answers (keys: use_case, deployment, "
        "biometric_data, biometric_purpose, safety_component, "
        "monitors_workers, infers_emotions, affected); without it "
        "the questions are asked on the terminal",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=cmd_assess_context)


def cmd_assess_context(args) -> None:
    from trustshield.governance.context import assess_context

    answers = _from_file(args.answers) if args.answers else _ask()
    result = assess_context(answers)
    result["practices"] = _practices(result["use_case"])
    if args.json:
        print_json(result)
        return
    output.print(f"likely classification: {result['classification']}", markup=False)
    for r in result["reasons"]:
        output.print(f"  because {r['reason']} ({r['reference']})", markup=False)
    for o in result["obligations"]:
        output.print(f"  owes: {o['obligation']} ({o['reference']})", markup=False)
    if result["practices"]:
        output.print(
            f"practices for {result['use_case']}: {', '.join(result['practices'])}",
            markup=False,
            soft_wrap=True,
        )
    output.print(result["caveat"], markup=False, soft_wrap=True)


def _from_file(path: str) -> dict:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(
            f"--answers {path}: not a readable YAML file ({type(exc).__name__})"
        ) from None


def _ask() -> dict:
    from trustshield.governance.context import QUESTIONS

    if not sys.stdin.isatty():
        raise DataError("no --answers file and no terminal to ask on: give --answers FILE.yaml")
    return {key: input(f"{question}: ").strip() for key, question in QUESTIONS.items()}


def _practices(use_case: str) -> list[str]:
    """Ids of the practices for the use case, when the practice menu is installed."""
    try:
        from trustshield.governance.practices import practices
    except ImportError:
        return []
    return [p.id for p in practices(use_case=use_case)]
