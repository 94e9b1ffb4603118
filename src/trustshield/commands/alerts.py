"""explain: show one stored alert with its exact attributions."""

from __future__ import annotations

from rich.table import Table

from trustshield.commands.common import STORE_HELP, existing_store, print_json
from trustshield.commands.progress import output

SHOWN = 12


def register(sub) -> None:
    p = sub.add_parser("explain", help="show why an alert was raised")
    p.add_argument("alert_id", metavar="ALERT_ID")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--json", action="store_true", help="print the alert as JSON")
    p.set_defaults(run=cmd_explain)


def cmd_explain(args) -> None:
    import numpy as np

    from trustshield.explain.text_alerts import text_view
    from trustshield.features.encoder import as_written

    with existing_store(args.store) as store:
        alert = store.alert(args.alert_id)
    names = [f["name"] for f in alert["features"]]
    values = np.asarray(alert["attributions"], dtype=float)
    text = text_view(alert["features"], alert["feature_values"], alert["attributions"])
    if text is not None:  # a text model: one term per character, the text shown whole
        values = np.asarray([values.sum()])
        shown = [text[0]]
    else:
        shown = [as_written(v, f) for v, f in zip(alert["feature_values"], alert["features"])]
    entities = {} if alert["entities"] is None else alert["entities"].as_dict()
    if args.json:
        print_json(
            {
                **{
                    k: v
                    for k, v in alert.items()
                    if k not in ("attributions", "feature_values", "features")
                },
                "entities": entities,
                "contributions": [
                    {"feature": n, "value": shown[j], "contribution": float(values[j])}
                    for j, n in enumerate(names)
                ],
                **(
                    {}
                    if text is None
                    else {"characters": [{"char": c, "contribution": v} for c, v in text[1]]}
                ),
            }
        )
        return
    output.print(
        f"[bold]{alert['alert_id']}[/bold]  {alert['action']}  suspicion "
        f"{alert['suspicion']:.3f} ({alert['component']} component)  line {alert['line']}"
    )
    output.print(alert["rationale"])
    if entities:
        output.print(
            "entities: " + ", ".join(f"{k}={v}" for k, v in entities.items()), markup=False
        )
    table = Table("feature", "value", "contribution", title="exact attributions (largest first)")
    for j in np.argsort(-np.abs(values))[:SHOWN]:
        table.add_row(names[j], shown[j], f"{values[j]:+.4f}")
    output.print(table)
    if text is not None:
        pushed = sorted(text[1], key=lambda cv: -abs(cv[1]))[:SHOWN]
        output.print(
            "characters that pushed most: " + ", ".join(f"{c!r} {v:+.4f}" for c, v in pushed),
            markup=False,
        )
    output.print(
        f"base {alert['base']:+.4f} + Σ contributions {values.sum():+.4f} = "
        f"{alert['base'] + values.sum():+.4f} (suspicion {alert['suspicion']:+.4f})"
    )
