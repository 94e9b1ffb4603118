"""datasets: what is available and verified; datasets fetch: download and verify."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from trustshield.commands.common import add_json, print_json
from trustshield.commands.progress import output
from trustshield.errors import DataError, did_you_mean


def register(sub) -> None:
    p = sub.add_parser(
        "datasets", help="list data sets under TRUSTSHIELD_DATA_DIR with sha256 checks"
    )
    p.add_argument("--json", action="store_true", help="print the inventory as JSON")
    p.set_defaults(run=cmd_list)
    inner = p.add_subparsers(metavar="ACTION")
    f = inner.add_parser("fetch", help="download a data set's published files and verify them")
    f.add_argument("dataset", metavar="DATASET")
    f.add_argument("--dest", help="folder to download into (default: the cache folder)")
    f.add_argument("--base-url", help="fetch from this mirror instead (BASE/FILE)")
    add_json(f, "the verified files")
    f.set_defaults(run=cmd_fetch)


def cmd_list(args) -> int:
    from trustshield.ingest import data_dirs, inventory, known_files

    rows = inventory(known_files())
    if args.json:
        print_json(rows)
    else:
        table = Table(
            "data set",
            "file",
            "status",
            "size",
            "path",
            title=f"data roots: {', '.join(map(str, data_dirs()))}",
        )
        for row in rows:
            colour = {"ok": "green", "altered": "red", "missing": "yellow"}.get(row["status"], "")
            size = f"{row['size_bytes'] / 1e6:.1f} MB" if row.get("size_bytes") else ""
            table.add_row(
                row["dataset"],
                row["file"],
                f"[{colour}]{row['status']}[/{colour}]" if colour else row["status"],
                size,
                row["path"] or "",
            )
        output.print(table)
    return 1 if any(r["status"] == "altered" for r in rows) else 0


def cmd_fetch(args) -> None:
    from trustshield.ingest import fetch, known_files

    known = known_files()
    if args.dataset not in known:
        raise DataError(
            f"no download recorded for data set {args.dataset!r}"
            f"{did_you_mean(args.dataset, known)}; known: {', '.join(sorted(known))}"
        )
    paths = fetch(
        args.dataset,
        known[args.dataset],
        dest=Path(args.dest) if args.dest else None,
        base_url=args.base_url,
    )
    if args.json:
        sha = {k.name: k.sha256.lower() for k in known[args.dataset]}
        files = [{"file": p.name, "path": str(p), "sha256": sha[p.name]} for p in paths]
        print_json({"dataset": args.dataset, "verified": files})
        return
    for path in paths:
        output.print(f"verified {path}")
