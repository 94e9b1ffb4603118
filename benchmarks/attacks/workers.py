"""Attacks on the scoring workers: a model folder changed after activation, a killed
worker, and processes left behind after the service or watch is stopped.

Records scored are the NSL-KDD spec's feature columns of ``nsl-kdd:KDDTest+.txt`` (as
``benchmarks/service_load.py`` sends them).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from attacks.rig import (
    VENV_BIN,
    AttackResult,
    Rig,
    session_processes,
    spawned_children,
    wait_for_no_session,
)

RECORDS = 200
RECOVER_WITHIN_S = 120.0
GONE_WITHIN_S = 5.0


def records_body() -> bytes:
    from service_load import request_bodies

    return request_bodies(RECORDS)[0]


def decisions(answer: dict) -> list[tuple[str, float]]:
    return [(r["action"], round(r["suspicion"], 9)) for r in answer["results"]]


def local_decisions(folder: Path, body: bytes) -> list[tuple[str, float]]:
    """What the model in ``folder`` decides for ``body``, scored here."""
    from trustshield.model_folder import load_model
    from trustshield.service.scoring_work import score_request

    return decisions(json.loads(score_request(load_model(folder), body, max_batch=10**6).body))


def tamper(folder: Path) -> None:
    """Raise the alert and review thresholds out of reach in model.json and put its new
    sha256 in the manifest (the signature is left as it was)."""
    state = json.loads((folder / "model.json").read_text())
    state["policy"]["alert_threshold"] = state["policy"]["review_threshold"] = 1e300
    body = json.dumps(state, sort_keys=True).encode()
    (folder / "model.json").write_bytes(body)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256(body).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def score(rig: Rig, body: bytes):
    return rig.post(
        "/v1/score",
        role="analyst",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=120.0,
    )


def score_until_ok(rig: Rig, body: bytes, answers: list):
    deadline = time.monotonic() + RECOVER_WITHIN_S
    while time.monotonic() < deadline:
        answers.append(score(rig, body))
        if answers[-1].status_code == 200:
            return answers[-1]
        time.sleep(0.2)
    return None


def model_folder_changed_after_activation(rig: Rig) -> AttackResult:
    """Write access to the installed model folder: after activation, model.json is edited
    (every record allowed) and its manifest sha256 entry updated; then records are scored,
    the worker is killed (its replacement must not read the folder) and re-activation is
    tried."""
    body = records_body()
    signed = local_decisions(rig.model, body)
    rig.start()
    installed = rig.models_dir / rig.model_id
    tamper(installed)
    tampered = local_decisions(installed, body)
    first = score(rig, body)
    for pid in spawned_children(rig.server.pid):
        os.kill(pid, signal.SIGKILL)
    second = score_until_ok(rig, body, [])
    again = rig.post(f"/v1/models/{rig.model_id}/activate", role="admin")
    answers = [r.json() for r in (first, second) if r is not None and r.status_code == 200]
    same = [decisions(a) == signed for a in answers]
    held = len(same) == 2 and all(same) and tampered != signed and again.status_code == 422
    return AttackResult(
        "model_folder_changed_after_activation",
        "scores are the signed model's, before and after a worker restart; re-activating "
        "the changed folder is refused (422)",
        f"first score {first.status_code}, after the worker was killed "
        f"{second.status_code if second is not None else 'no 200'}; signed model's decisions: "
        f"{same}; tampered model would differ: {tampered != signed}; re-activation "
        f"{again.status_code}",
        held,
        {
            "alerts_signed": sum(a == "alert" for a, _ in signed),
            "alerts_tampered": sum(a == "alert" for a, _ in tampered),
        },
    )


def scoring_worker_killed(rig: Rig) -> AttackResult:
    """Kill the scoring worker (SIGKILL): the request it takes down gets a retryable 503,
    health says degraded until a replacement is ready, scoring recovers, every answer
    carries the security headers and the metrics count every answer."""
    from trustshield.service.app import SECURITY_HEADERS

    body = records_body()
    rig.start()
    answers = [score_until_ok(rig, body, [])]
    metrics_before = rig.get("/v1/metrics", role="auditor").text
    (victim,) = spawned_children(rig.server.pid)
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    hit = score(rig, body)
    health = []
    while time.monotonic() - killed < RECOVER_WITHIN_S:
        health.append(rig.get("/v1/health"))
        if health[-1].status_code == 200:
            break
        time.sleep(0.05)
    retries = []
    recovered = score_until_ok(rig, body, retries)
    seconds = time.monotonic() - killed
    metrics_after = rig.get("/v1/metrics", role="auditor").text
    events = rig.get(
        "/v1/audit", role="auditor", params={"action": "scoring.worker_restarted"}
    ).json()["items"]
    seen = [hit, *health, *retries]
    status_503 = sum(r.status_code == 503 for r in seen)
    counted = _counter(metrics_after, "responses_503") - _counter(metrics_before, "responses_503")
    every = [r for r in [*answers, *seen, recovered] if r is not None]
    headers_ok = all(r.headers.get(k) == v for r in every for k, v in SECURITY_HEADERS.items())
    degraded = [h for h in health if h.status_code == 503 and h.json()["status"] == "degraded"]
    held = (
        hit.status_code == 503
        and "Retry-After" in hit.headers
        and bool(degraded)
        and recovered is not None
        and headers_ok
        and counted == status_503
        and len(events) == 1
        and events[0]["details"].get("pid") == victim
    )
    return AttackResult(
        "scoring_worker_killed",
        "the request hitting the dead worker gets 503 with Retry-After; /v1/health answers "
        "503 degraded until a new worker is ready; scoring recovers; the restart is audited; "
        "every answer has the security headers and is counted",
        f"hit {hit.status_code}; {len(degraded)} degraded health answers; recovered "
        f"{recovered is not None} after {seconds:.1f} s; audited restarts {len(events)}; "
        f"503s seen {status_503}, counted {counted}; security headers on all: {headers_ok}",
        held,
        {"seconds_to_recover": round(seconds, 2), "responses_503": status_503},
    )


def _counter(metrics: str, name: str) -> int:
    for line in metrics.splitlines():
        if line.startswith(f"trustshield_{name} "):
            return int(float(line.split()[1]))
    return 0


def _stop_server(rig: Rig, sig: int, name: str) -> AttackResult:
    rig.start()
    score_until_ok(rig, records_body(), [])
    before = session_processes(rig.server.pid)
    status = rig.stop(sig)
    waited, left = wait_for_no_session(rig.server.pid, GONE_WITHIN_S)
    for pid, _, _ in left:  # leave the machine clean whatever happened
        os.kill(pid, signal.SIGKILL)
    return AttackResult(
        name,
        f"serve exits with status 0 on {signal.Signals(sig).name} and no process it "
        f"started is alive {GONE_WITHIN_S:.0f} s later",
        f"{len(before)} processes in its session before; exit status {status}; left after "
        f"{waited:.1f} s: {left}",
        status == 0 and not left,
        {"processes_before": len(before), "left": len(left)},
    )


def serve_sigterm_leaves_nothing(rig: Rig) -> AttackResult:
    return _stop_server(rig, signal.SIGTERM, "serve_sigterm_leaves_nothing")


def serve_sigint_leaves_nothing(rig: Rig) -> AttackResult:
    return _stop_server(rig, signal.SIGINT, "serve_sigint_leaves_nothing")


def watch_sigkill_leaves_nothing(rig: Rig) -> AttackResult:
    """SIGKILL ``trustshield watch --workers 1`` following a growing conn.log."""
    import numpy as np
    from watch import _lines, baseline_records, write_conn_log

    log, store = rig.root / "conn.log", rig.root / "watch.duckdb"
    write_conn_log(log, 2000)
    base, rng, stop = baseline_records(), np.random.default_rng(1), threading.Event()

    def grow():
        start = 2000
        while not stop.wait(0.2):
            with open(log, "a", encoding="utf-8") as out:
                out.write("".join(_lines(base, start, 200, rng)))
            start += 200

    watcher = subprocess.Popen(
        [
            str(VENV_BIN / "trustshield"),
            "watch",
            str(log),
            "--model",
            str(rig.model),
            "--store",
            str(store),
            "--workers",
            "1",
            "--batch-records",
            "500",
            "--batch-seconds",
            "0.5",
            "--until-idle",
            "300",
        ],
        cwd=rig.root,
        env=rig.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    writer = threading.Thread(target=grow, daemon=True)
    writer.start()
    try:
        wal, deadline = Path(str(store) + ".wal"), time.monotonic() + RECOVER_WITHIN_S
        while time.monotonic() < deadline and not (
            wal.exists() and wal.stat().st_size > 0 and len(session_processes(watcher.pid)) >= 3
        ):
            time.sleep(0.2)
        time.sleep(1.0)  # scoring batches
        before = session_processes(watcher.pid)
        watcher.send_signal(signal.SIGKILL)
        watcher.wait()
        waited, left = wait_for_no_session(watcher.pid, GONE_WITHIN_S)
    finally:
        stop.set()
        for pid, _, _ in session_processes(watcher.pid):
            os.kill(pid, signal.SIGKILL)
    return AttackResult(
        "watch_sigkill_leaves_nothing",
        f"no process watch started is alive {GONE_WITHIN_S:.0f} s after it is killed",
        f"{len(before)} processes in its session before; left after {waited:.1f} s: {left}",
        len(before) >= 3 and not left,
        {"processes_before": len(before), "left": len(left)},
    )


ATTACKS = [
    model_folder_changed_after_activation,
    scoring_worker_killed,
    serve_sigterm_leaves_nothing,
    serve_sigint_leaves_nothing,
    watch_sigkill_leaves_nothing,
]
