"""Model card and data sheet of a trust report, built from what the report measured.

Both are plain functions of values: the model card reads the spec and the report dict
(headline metrics, ceilings, evidence), so every limitation it states is a measured ceiling
or a failing check; the data sheet reads the report's datasets and, for each, the text of
the ``SOURCE.md`` beside its file (the only file read, through a replaceable reader).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

HEADLINE = ("accuracy", "macro_f1", "fpr", "detection_rate", "precision", "roc_auc", "review_share")

OUT_OF_SCOPE = (
    "Inspecting packet payloads or message content: the model sees flow-record features only.",
    "Identifying, profiling or attributing actions to individual people.",
    "Offensive use: generating evasive traffic or probing other parties' detectors.",
    "Fully automatic blocking without human review of the cases it refers for review.",
    "Traffic of a kind other than the records it was trained on (other networks, protocols "
    "or log formats) without a new assessment.",
)

ETHICS = (
    "Dual use: what explains an alert to an analyst can also show an attacker what to change; "
    "attack generation is gated, audited and kept in feature space.",
    "Human oversight: records whose suspicion falls in the review band go to a person, not to "
    "an automatic decision.",
    "Privacy: flow records can carry addresses and usage patterns of people on the network; "
    "keep them no longer and no wider than the defence needs.",
    "False alarms fall on legitimate users and false negatives on the defended network; both "
    "rates are reported above and should be watched in operation.",
)

NO_LICENCE = "licence not recorded"
NO_SOURCE = "source not recorded"
_LICENCE_HEADING = re.compile(r"^#{1,6}[^\n]*\blicen[cs]e\b[^\n]*$", re.IGNORECASE | re.MULTILINE)
_URL = re.compile(r"https?://[^\s)<>\]\"'`]+")


def model_card(spec, report: dict) -> dict:
    """Intended and out-of-scope uses, headline metrics, limitations and ethics."""
    kind = spec.description or f"{spec.name} records"
    metrics = report.get("metrics") or {}
    return {
        "intended_use": (
            f"Intrusion detection on flow records of the kind described by the "
            f"{spec.name} spec ({kind}): score each record, alert, refer the uncertain "
            "band to human review, and explain every alert to a defender."
        ),
        "out_of_scope": list(OUT_OF_SCOPE),
        "metrics": {k: metrics[k] for k in HEADLINE if k in metrics},
        "limitations": limitations(report),
        "ethical_considerations": list(ETHICS),
    }


def limitations(report: dict) -> list[str]:
    """Measured ceilings, then every failing check, then what was not measured."""
    notes = [str(c) for c in report.get("ceilings") or []]
    unmeasured = []
    for e in report.get("evidence") or []:
        if e.get("status") == "fail":
            notes.append(_failure(e))
        elif e.get("status") == "not_evidenced":
            unmeasured.append(str(e.get("check")))
    if unmeasured:
        notes.append("Not measured in this report: " + ", ".join(sorted(set(unmeasured))) + ".")
    return notes


def _failure(e: dict) -> str:
    value, bar = e.get("value"), e.get("threshold")
    if isinstance(value, (int, float)) and isinstance(bar, (int, float)):
        side = "below" if value < bar else "above"
        return f"{e['check']} failed: {e.get('metric')} is {value:.4g}, {side} the {bar:.4g} bar."
    return f"{e['check']} failed: {e.get('metric')}."


def data_sheet(
    spec, datasets: list[dict], read: Callable[[Path], str | None] | None = None
) -> list[dict]:
    """Each dataset's name, role, rows, rejected rows, sha256, licence and source URL."""
    read = read or _read_source
    urls = {f.name: f.url for f in spec.files}
    sheet = []
    for d in datasets:
        path = d.get("path")
        text = read(Path(path).parent / "SOURCE.md") if path else None
        found = parse_source(text) if text else {}
        sheet.append(
            {
                "name": d.get("name"),
                "role": d.get("role"),
                "rows": d.get("rows"),
                "rejected_rows": d.get("rejected_rows"),
                "sha256": d.get("sha256"),
                "licence": found.get("licence") or NO_LICENCE,
                "source_url": found.get("source_url") or urls.get(d.get("name")) or NO_SOURCE,
            }
        )
    return sheet


def parse_source(text: str) -> dict:
    """The licence paragraph (first one under a heading that names the licence, markdown
    emphasis removed) and the first URL of a data set's SOURCE.md."""
    found: dict = {}
    heading = _LICENCE_HEADING.search(text)
    if heading:
        rest = text[heading.end() :].lstrip("\n")
        paragraph = re.split(r"\n\s*\n|\n#", rest, maxsplit=1)[0]
        licence = " ".join(paragraph.replace("**", "").split())
        if licence:
            found["licence"] = licence
    url = _URL.search(text)
    if url:
        found["source_url"] = url.group(0).rstrip(".,;:")
    return found


def _read_source(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
