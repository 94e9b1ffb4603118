"""Models, their trust reports, and the practices status of the active model.

``POST /v1/models`` takes a signed bundle (``trustshield models bundle``); it is installed
only when its Ed25519 signature comes from a trusted key and every file matches the signed
manifest. ``POST /v1/models/{id}/activate`` verifies the installed files again before the
service scores with them. Both are audited (``model.upload``, ``model.activate``), and so
is a refusal of either (``model.refused``). Payload and domain models are model folders too
(``trustshield models pack``) and go through the same checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from trustshield.service import registry
from trustshield.service.access import Caller, requires
from trustshield.service.errors import ApiError

router = APIRouter(prefix="/v1", tags=["models"])


class ModelInfo(BaseModel):
    model_id: str
    spec: str | None
    detector: str | None
    created_at: str | None
    creator: str | None = None
    signed_by: str | None = None
    installed: bool
    active: bool
    report: bool


class ModelList(BaseModel):
    active_model: str | None
    items: list[ModelInfo]


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["trustshield-bundle/1"]
    manifest: dict[str, Any]
    signature: dict[str, Any]
    files: dict[str, str] = Field(description="file name → text (model.json, spec.yaml)")


def model_list(context) -> dict:
    with context.read() as store:
        active = context.options.get("active_model")
        rows = store.models().to_dict(orient="records")
    items = []
    for row in rows:
        folder = context.model_folder(row["model_id"])
        manifest = _json(folder / "manifest.json") or {}
        signature = _json(folder / "signature.json") or {}
        items.append(
            {
                "model_id": row["model_id"],
                "spec": row.get("spec"),
                "detector": row.get("detector"),
                "created_at": str(row.get("created_at")),
                "creator": manifest.get("creator"),
                "signed_by": signature.get("key_id"),
                "installed": folder.is_dir(),
                "active": row["model_id"] == active,
                "report": find_report(context, row["model_id"]) is not None,
            }
        )
    return {"active_model": active, "items": items}


@router.get("/models", response_model=ModelList)
def list_models(request: Request, caller: Caller = Depends(requires("models.list"))) -> dict:
    return model_list(request.app.state.context)


@router.post("/models", response_model=ModelInfo, status_code=201)
def upload_model(
    bundle: Bundle, request: Request, caller: Caller = Depends(requires("models.upload"))
) -> dict:
    context = request.app.state.context
    manifest = registry.upload(context, bundle.model_dump(), actor=caller.actor)
    return next(m for m in model_list(context)["items"] if m["model_id"] == manifest["model_id"])


@router.post("/models/{model_id}/activate", response_model=ModelInfo)
def activate_model(
    model_id: str, request: Request, caller: Caller = Depends(requires("models.activate"))
) -> dict:
    context = request.app.state.context
    with context.read() as store:
        if store.model(model_id) is None:
            raise ApiError(404, f"no model {model_id!r} in the registry; upload it first")
    registry.activate(context, model_id, actor=caller.actor)
    return next(m for m in model_list(context)["items"] if m["model_id"] == model_id)


def find_report(context, model_id: str) -> Path | None:
    """The folder holding the trust report of ``model_id`` (report.json names the model):
    of ``REPORTS_DIR/MODEL_ID`` and ``REPORTS_DIR``, the latest assessment (a report with
    the principles roll-up), else the latest report."""
    found = _reports(context, model_id)
    return found[0][0] if found else None


def _reports(context, model_id: str) -> list[tuple[Path, dict]]:
    """(folder, report.json) of every report of ``model_id``: assessments first, then
    latest ``generated_at`` first (ISO 8601 text, so it sorts as time)."""
    root = context.settings.reports_dir
    if root is None or not model_id.replace("-", "").isalnum():
        return []
    found = []
    for folder in (Path(root) / model_id, Path(root)):
        report = _json(folder / "report.json")
        if isinstance(report, dict) and report.get("model", {}).get("model_id") == model_id:
            found.append((folder, report))
    found.sort(key=lambda f: ("governance" in f[1], str(f[1].get("generated_at") or "")))
    return found[::-1]


@router.get("/reports/{model_id}", responses={200: {"content": {"text/html": {}}}})
def get_report(
    model_id: str,
    request: Request,
    format: Literal["json", "html"] = "json",
    caller: Caller = Depends(requires("reports.get")),
):
    """The model's trust report: JSON (default) or the HTML page (``?format=html``)."""
    folder = find_report(request.app.state.context, model_id)
    if folder is None:
        raise ApiError(
            404,
            f"no trust report for model {model_id!r}; write one with "
            "`trustshield report --model DIR --out REPORTS_DIR/MODEL_ID`",
        )
    if format == "html":
        return HTMLResponse((folder / "report.html").read_text(encoding="utf-8"))
    return _json(folder / "report.json")


@router.get("/practices")
def list_practices(request: Request, caller: Caller = Depends(requires("practices.list"))) -> dict:
    """Principles and practices status for the active model, from its latest assessment;
    every practice is ``not evidenced`` when there is none, and ``advice`` is the command
    that writes it."""
    return practices_status(request.app.state.context)


def practices_status(context) -> dict:
    """The principles and practices of the active model's latest assessment (the trust
    report that ``trustshield assess`` writes, with its roll-up); without one, every
    practice ``not evidenced`` and ``advice``: the command that writes the assessment."""
    from trustshield.governance.crosswalk import crosswalk
    from trustshield.governance.practices import practices

    model_id = context.model.model_id if context.model else None
    found = _reports(context, model_id) if model_id else []
    if found and "governance" in found[0][1]:
        report = found[0][1]
        g = report["governance"]
        return {
            "model_id": model_id,
            "source": "assessment",
            "assessed_at": report.get("generated_at"),
            "report": f"/ui/reports/{model_id}",
            "principles": g["principles"],
            "practices": g["crosswalk"]["practices"],
            "advice": None,
        }
    walk = crosswalk(practices(), [])
    return {
        "model_id": model_id,
        "source": (
            "trust report without the principles roll-up (written by `trustshield report`)"
            if found
            else "no assessment: nothing measured"
        ),
        "assessed_at": None,
        "report": f"/ui/reports/{model_id}" if found else None,
        "principles": [],
        "practices": walk["practices"],
        "advice": assess_command(context, model_id, found[0][1] if found else None),
    }


def assess_command(context, model_id: str | None, report: dict | None) -> str | None:
    """The ``trustshield assess`` command that writes the assessment the Practices page
    reads: the installed model folder, the test data of the model's last report (else a
    placeholder to fill in) and the reports folder the service reads. None without an
    active model. The service's store is not named: a DuckDB file is locked by the running
    service, and a store URL may hold a password."""
    import shlex

    if model_id is None:
        return None
    tested = [d for d in (report or {}).get("datasets", ()) if d.get("role") == "test"]
    data = (tested[0].get("path") or tested[0].get("name")) if tested else None
    root = context.settings.reports_dir
    words = [
        "trustshield",
        "assess",
        "--model",
        str(context.model_folder(model_id)),
        "--data",
        data or "LABELLED_TEST_DATA",
        "--out",
        str(Path(root) / model_id) if root is not None else f"REPORTS_DIR/{model_id}",
    ]
    command = shlex.join(words)
    return command if root is not None else f"{command}, then serve with --reports REPORTS_DIR"


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
