"""Governance catalogue commands: ``frameworks`` (and, alongside, practices and case studies).

Each command lives in its own ``_register_*`` / ``cmd_*`` pair; ``register`` adds them all.
"""

from __future__ import annotations

from rich.table import Table

from trustshield.commands.common import print_json
from trustshield.commands.progress import output


def register(sub) -> None:
    _register_frameworks(sub)
    _register_practices(sub)
    _register_casestudies(sub)


# --- frameworks -------------------------------------------------------------------------


def _register_frameworks(sub) -> None:
    from trustshield.governance.catalogue import KINDS

    p = sub.add_parser(
        "frameworks",
        help="the governance frameworks and their items (OECD, "
        "EU AI Act, NIST AI RMF, ALTAI, ENISA, ATLAS, OWASP ML, NIST IR 8596)",
    )
    p.add_argument(
        "--framework",
        metavar="F",
        help="list the items of this framework only (e.g. euaia, nist-rmf, atlas)",
    )
    p.add_argument("--kind", choices=KINDS, help="list only items of this kind")
    p.add_argument("--json", action="store_true", help="print frameworks and items as JSON")
    p.set_defaults(run=cmd_frameworks)


def cmd_frameworks(args) -> None:
    from trustshield.governance.catalogue import load_catalogue

    catalogue = load_catalogue()
    chosen = [catalogue.framework(args.framework)] if args.framework else list(catalogue.frameworks)
    listed = {fw.id: catalogue.items(fw.id, args.kind) for fw in chosen}
    if args.json:
        print_json(
            {
                "frameworks": [
                    dict(fw.as_dict(with_items=False), items=[i.as_dict() for i in listed[fw.id]])
                    for fw in chosen
                ]
            }
        )
    elif args.framework or args.kind:
        _print_items([i for fw in chosen for i in listed[fw.id]])
    else:
        _print_frameworks(chosen)


def _print_frameworks(frameworks) -> None:
    table = Table(
        "id",
        "framework",
        "version",
        "status",
        "items",
        title="governance frameworks (trustshield frameworks --framework ID for items)",
    )
    for fw in frameworks:
        table.add_row(fw.id, fw.title, fw.version, fw.status, str(len(fw.items)))
    output.print(table)


def _print_items(found) -> None:
    table = Table("id", "kind", "title", "section", "status")
    for it in found:
        table.add_row(it.id, it.kind, it.title, it.section, it.status)
    output.print(table)


# --- practices --------------------------------------------------------------------------


def _register_practices(sub) -> None:
    from trustshield.governance.practices import USE_CASES

    p = sub.add_parser(
        "practices",
        help="good practices for AI in cyber defence, each with "
        "the framework items it serves and the checks that evidence it",
    )
    p.add_argument(
        "--principle",
        metavar="P",
        help="only practices serving this OECD "
        "principle: oecd:1.1 … oecd:1.5 or a word such as transparency, fairness, "
        "privacy, robustness, security, accountability",
    )
    p.add_argument(
        "--framework",
        metavar="F",
        help="only practices serving this framework "
        "(e.g. euaia, atlas) or framework item (e.g. euaia:art14)",
    )
    p.add_argument(
        "--use-case",
        metavar="U",
        choices=USE_CASES,
        help=f"only practices for this use case ({', '.join(USE_CASES)})",
    )
    p.add_argument("--json", action="store_true", help="print the practices as JSON")
    p.set_defaults(run=cmd_practices)


def cmd_practices(args) -> None:
    from trustshield.governance.practices import practices

    found = practices(principle=args.principle, framework=args.framework, use_case=args.use_case)
    if args.json:
        print_json({"practices": [p.as_dict() for p in found]})
        return
    table = Table(
        "id",
        "practice",
        "serves",
        "checks",
        title=f"{len(found)} practices (--json for statements and reasons)",
    )
    for p in found:
        checks = ", ".join(p.checks) + (f" (planned: {p.planned})" if p.planned else "")
        table.add_row(p.id, p.title, ", ".join(p.serves), checks)
    output.print(table)


# --- case studies -----------------------------------------------------------------------


def _register_casestudies(sub) -> None:
    p = sub.add_parser(
        "casestudies",
        help="real, dated cases of AI in cyber security "
        "(deployments, attacks on ML defences, misuse) and the practices they teach",
    )
    p.add_argument("--json", action="store_true", help="print the case studies as JSON")
    p.set_defaults(run=cmd_casestudies)


def cmd_casestudies(args) -> None:
    from trustshield.governance.practices import case_studies

    found = case_studies()
    if args.json:
        print_json({"case_studies": [c.as_dict() for c in found]})
        return
    table = Table(
        "id",
        "date",
        "kind",
        "case",
        "practices",
        title=f"{len(found)} case studies (--json for what happened and the lesson)",
    )
    for c in found:
        table.add_row(c.id, c.date, c.kind, c.title, ", ".join(c.practices))
    output.print(table)
    for c in found:
        output.print(f"{c.id}: {c.source.title} {c.source.url}", soft_wrap=True)
