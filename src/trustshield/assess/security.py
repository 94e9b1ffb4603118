"""Security checks on TrustShield's own state, as Evidence: is the tool itself trustworthy?

Each function reads what a store, a model folder or a template folder holds and says
whether it is as it must be. None of them changes anything.

- ``audit chain integrity``: every audit event links to the one before and its hash
  covers its content (:meth:`trustshield.store.audit.AuditLog.verify`).
- ``model artifact integrity``: every file of a model folder matches its manifest sha256
  (:func:`trustshield.model_folder.load_model` refuses it otherwise).
- ``no pickle in model artifacts``: no file of a model folder is a pickle (by name or by
  its first bytes).
- ``red-team gating``: every red-team run in the audit chain names an operator and a
  non-blank purpose.
- ``template encryption at rest``: every biometric template is an AES-GCM envelope
  holding no readable state, in a folder only its owner can read.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from trustshield.assess.evidence import ACCOUNTABILITY, at_most
from trustshield.errors import TrustShieldError
from trustshield.records import Evidence

SECURITY = ("OECD: robustness, security and safety", "EU AI Act Art. 15 (cybersecurity)")
PRIVACY = ("OECD: human rights, fairness and privacy", "EU AI Act Art. 10 (data governance)")
RECORDS = ("OECD: accountability", "EU AI Act Art. 12 (record-keeping)")


def audit_evidence(store) -> list[Evidence]:
    """Audit-chain integrity and red-team gating, from an open AlertStore."""
    broken = store.audit.verify()
    events = store.audit.events()
    runs = [e for e in events if e["action"] == "redteam.run"]
    ungated = [
        e
        for e in runs
        if not str(e["details"].get("purpose") or "").strip()
        or not str(e.get("actor") or "").strip()
    ]
    return [
        Evidence(
            "audit chain integrity",
            f"first broken link among {len(events)} audit events (0 = none)",
            float(broken or 0),
            0.0,
            "pass" if broken is None else "fail",
            RECORDS,
        ),
        Evidence(
            "red-team gating",
            f"red-team runs without an operator or a purpose, of {len(runs)}",
            float(len(ungated)),
            0.0,
            "not_evidenced" if not runs else ("pass" if not ungated else "fail"),
            ACCOUNTABILITY,
        ),
    ]


def model_evidence(folder: str | Path) -> list[Evidence]:
    """Manifest integrity and absence of pickles in one model folder."""
    from trustshield.model_folder import load_model

    folder = Path(folder)
    try:
        load_model(folder)
        intact = True
    except TrustShieldError:
        intact = False
    pickles = [p.name for p in sorted(folder.iterdir()) if p.is_file() and _is_pickle(p)]
    return [
        Evidence(
            "model artifact integrity",
            f"every file of {folder.name} matches its manifest sha256 (1 = yes)",
            float(intact),
            1.0,
            "pass" if intact else "fail",
            SECURITY,
        ),
        at_most(
            "no pickle in model artifacts",
            f"pickle files in {folder.name}: {', '.join(pickles) or 'none'}",
            float(len(pickles)),
            0.0,
            SECURITY,
        ),
    ]


def template_evidence(folder: str | Path) -> list[Evidence]:
    """Every template in ``folder`` is an encrypted envelope, readable by its owner only."""
    from trustshield.store.templates import FORMAT, SUFFIX

    folder = Path(folder)
    files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not files:
        return [
            Evidence(
                "template encryption at rest",
                "no templates to check",
                None,
                None,
                "not_evidenced",
                PRIVACY,
            )
        ]
    exposed = [p.name for p in files if not _sealed(p, FORMAT)]
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        exposed.append(f"{folder.name}/ (readable by others)")
    return [
        Evidence(
            "template encryption at rest",
            f"templates not sealed or readable by others, "
            f"of {len(files)}: {', '.join(exposed[:5]) or 'none'}",
            float(len(exposed)),
            0.0,
            "pass" if not exposed else "fail",
            PRIVACY,
        )
    ]


def _sealed(path: Path, expected_format: str) -> bool:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return False
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(envelope, dict)
        and envelope.get("format") == expected_format
        and {"nonce", "ciphertext"} <= set(envelope)
        and not {"verifier", "window"} & set(envelope)
    )


def _is_pickle(path: Path) -> bool:
    from trustshield.model_folder import looks_like_pickle

    with path.open("rb") as handle:
        return looks_like_pickle(path.name, handle.read(2))
