"""Attacks on request limits, rate limits and small leaks (issue 13, weaknesses 5, 9, 12).

* ``unauthenticated_94mb_body``: 94 MB to ``POST /v1/score`` (and ``/v1/models``) with no
  token, declared and chunked, while a monitor polls ``/v1/health``.
* ``huge_label_and_comment``: a 50 MB label in a scored record, a 50 MB review comment and
  red-team purpose, and a 100 KB label under the body cap.
* ``batch_of_100k_records``: 100,000 records in one batch, as full records and as tiny
  ones that fit under the body cap.
* ``throttled_token_costs_no_scoring``: a token flagged by the probing monitor sends a
  full batch, before and after a restart; then an admin lifts the throttle.
* ``small_leaks``: a 404 and a tampered model's refusal (paths), anonymous health (model
  id), ``true`` and ``"3"`` in integer features and an unknown top-level key.
"""

from __future__ import annotations

import json
import select
import socket
import statistics
import threading
import time

from attacks.rig import AttackResult

MB = 1_000_000
CHUNK = 64 * 1024


def kdd_records(n: int) -> list[dict]:
    """The first ``n`` KDDTest+ records as JSON objects of the spec's features."""
    import pandas as pd

    from trustshield.commands.common import resolve_data
    from trustshield.specs import load_spec

    spec = load_spec("nsl-kdd")
    raw = pd.read_csv(
        resolve_data("nsl-kdd:KDDTest+.txt"),
        header=None,
        names=[c.name for c in spec.columns],
        nrows=n,
    )
    return raw[[c.name for c in spec.features]].to_dict(orient="records")


def start_measured(rig, timeout: float = 120.0) -> None:
    """Start the service and wait until it has measured its scoring capacity (the
    measurement scores in the background after activation: timings before it ends are
    start-up, not steady state)."""
    rig.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = rig.get("/v1/metrics", role="auditor").text
        if (
            "trustshield_scoring_capacity_records_per_s" in metrics
            or "trustshield_rate_limit_records_per_s" not in metrics
        ):  # or it never will
            return
        time.sleep(0.2)
    raise RuntimeError(f"no capacity measured within {timeout:.0f} s")


def time_to_answer(
    rig, path: str, size: int, *, chunked: bool = False, headers: dict | None = None
) -> tuple[int | None, float, int]:
    """Send ``size`` bytes to ``path`` over a raw socket, reading while sending; (status of
    the answer or None, milliseconds from the first byte sent until the answer's status
    line arrived, bytes of the body sent by then)."""
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{rig.port}",
        "Content-Type: application/json",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    block = b"x" * CHUNK
    piece = (f"{CHUNK:x}\r\n".encode() + block + b"\r\n") if chunked else block
    answer, sent = b"", 0
    with socket.create_connection(("127.0.0.1", rig.port), timeout=30) as sock:
        started = time.perf_counter()
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.setblocking(False)
        writing = True
        while b"\r\n" not in answer and time.perf_counter() - started < 60:
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], 1.0)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionError:
                    break
                if not data:
                    break
                answer += data
            if writable and writing:
                try:
                    sent += sock.send(piece)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:  # the server closed: read what it answered
                    writing = False
                if sent >= size:
                    writing = False
        elapsed = (time.perf_counter() - started) * 1000
    status = int(answer.split()[1]) if answer.startswith(b"HTTP/") else None
    return status, round(elapsed, 1), sent


class HealthWatch:
    """Polls ``/v1/health`` every 20 ms on one kept-alive connection in a thread; the
    latencies (ms) of the polls made while it ran."""

    def __init__(self, rig):
        import httpx

        self.client, self.url = httpx.Client(timeout=30), rig.url + "/v1/health"
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            started = time.perf_counter()
            self.client.get(self.url)
            self.latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.client.close()

    def p50(self) -> float:
        return round(statistics.median(self.latencies), 1) if self.latencies else float("nan")


def unauthenticated_94mb_body(rig) -> AttackResult:
    start_measured(rig)
    with HealthWatch(rig) as before:
        time.sleep(1.0)
    with HealthWatch(rig) as during:
        runs = {
            name: time_to_answer(rig, path, 94 * MB, chunked=chunked)
            for name, path, chunked in (
                ("score", "/v1/score", False),
                ("score_chunked", "/v1/score", True),
                ("models", "/v1/models", False),
                ("models_chunked", "/v1/models", True),
            )
        }
        time.sleep(0.5)
    import httpx

    started = time.perf_counter()
    plain = httpx.post(rig.url + "/v1/score", content=b"x" * (94 * MB), timeout=60)
    plain_ms = round((time.perf_counter() - started) * 1000, 1)
    reject_ms = runs["score"][1]
    held = (
        all(status in (401, 413) for status, _, _ in runs.values())
        and max(ms for _, ms, _ in runs.values()) <= 200.0
        and plain.status_code in (401, 413)
        and during.p50() <= 100.0
    )
    return AttackResult(
        "unauthenticated_94mb_body",
        "each 94 MB body without a token is refused (401/413) within 200 ms, unread; "
        "/v1/health stays fast meanwhile; an ordinary client gets the refusal, not a reset",
        "; ".join(
            f"{name}: {status} after {ms} ms, {sent / MB:.1f} MB sent"
            for name, (status, ms, sent) in runs.items()
        )
        + f"; httpx: {plain.status_code} after {plain_ms} ms; /v1/health p50 "
        f"{before.p50()} ms before, {during.p50()} ms during",
        held,
        {
            "unauth_94mb_reject_ms": reject_ms,
            "health_p50_ms_during": during.p50(),
            "health_p50_ms_before": before.p50(),
            "httpx_94mb_reject_ms": plain_ms,
            **{f"{name}_reject_ms": ms for name, (_, ms, _) in runs.items()},
        },
    )


def _alerts_and_batches(rig) -> tuple[int, int]:
    total = rig.get("/v1/alerts?limit=1", role="viewer").json()["total"]
    batches = rig.get("/v1/audit?action=score.batch&limit=1000", role="auditor").json()
    return total, len(batches["items"])


def huge_label_and_comment(rig) -> AttackResult:
    start_measured(rig)
    record = kdd_records(1)[0]
    scored = rig.post("/v1/score", role="analyst", json={"records": [record]})
    before = _alerts_and_batches(rig)
    big = {"records": [{**record, "label": "x" * (50 * MB)}]}
    label = rig.post(
        "/v1/score",
        role="analyst",
        content=json.dumps(big).encode(),
        headers={"Content-Type": "application/json"},
    )
    medium = rig.post(
        "/v1/score", role="analyst", json={"records": [{**record, "label": "y" * 100_000}]}
    )
    comment = rig.post(
        "/v1/alerts/any/review",
        role="analyst",
        json={"outcome": "confirmed", "comment": "z" * (50 * MB)},
    )
    purpose = rig.post(
        "/v1/redteam/evade", role="red-team", json={"purpose": "p" * (50 * MB), "records": [record]}
    )
    after = _alerts_and_batches(rig)
    field = (medium.json().get("error", {}).get("details") or [{}])[0]
    held = (
        scored.status_code == 200
        and label.status_code == 413
        and medium.status_code == 422
        and field.get("field") == "label"
        and "at most" in field.get("expected", "")
        and comment.status_code == 413
        and purpose.status_code == 413
        and before == after
    )
    return AttackResult(
        "huge_label_and_comment",
        "a 50 MB label, comment or purpose is refused 413 unread; a 100 KB label 422 naming "
        "the field and its maximum; nothing is stored",
        f"50 MB label {label.status_code}; 100 KB label {medium.status_code} {field}; "
        f"50 MB comment {comment.status_code}; 50 MB purpose {purpose.status_code}; "
        f"(alerts, score batches) before {before}, after {after}",
        held,
    )


def batch_of_100k_records(rig) -> AttackResult:
    """Full records make a 90 MB body (timed over a raw socket until the refusal arrives);
    tiny ones (``{}``) fit under the body cap and must be counted, not validated."""
    import httpx

    start_measured(rig)
    records = kdd_records(1000)
    full = json.dumps({"records": [records[i % 1000] for i in range(100_000)]}).encode()
    tiny = json.dumps({"records": [{}] * 100_000}).encode()
    with httpx.Client(headers=rig.headers("analyst"), timeout=60) as client:
        client.get(rig.url + "/v1/alerts?limit=1")  # the token's argon2 check, done once
        full_status, full_ms, _ = time_to_answer(
            rig, "/v1/score", len(full), headers=rig.headers("analyst")
        )
        started = time.perf_counter()
        response = client.post(
            rig.url + "/v1/score", content=tiny, headers={"Content-Type": "application/json"}
        )
        tiny_ms = round((time.perf_counter() - started) * 1000, 1)
    message = response.json()["error"]["message"]
    held = full_status == 413 and response.status_code == 413 and max(full_ms, tiny_ms) <= 1000
    return AttackResult(
        "batch_of_100k_records",
        "100,000 records in one batch are refused 413 within 1 s, whether the body is over "
        "the size cap or fits under it",
        f"full records ({len(full) / MB:.1f} MB): {full_status} after {full_ms} ms; tiny "
        f"records ({len(tiny) / MB:.1f} MB): {response.status_code} after {tiny_ms} ms "
        f"({message})",
        held,
        {"batch_100k_full_reject_ms": full_ms, "batch_100k_tiny_reject_ms": tiny_ms},
    )


def _sweep(record: dict, steps: int, start: int) -> list[dict]:
    """One record with src_bytes stepped: the sensitivity scan of extraction and evasion."""
    return [{**record, "src_bytes": start + 37 * k} for k in range(steps)]


def throttled_token_costs_no_scoring(rig) -> AttackResult:
    start_measured(rig)
    record = next(r for r in kdd_records(50) if r["flag"] == "SF")
    batch = {"records": kdd_records(1000)}
    started = time.perf_counter()
    normal = rig.post("/v1/score", role="admin", json=batch)
    scored_ms = (time.perf_counter() - started) * 1000
    for k in range(4):  # probing: 4 × 100 records, one feature stepped
        rig.post("/v1/score", role="analyst", json={"records": _sweep(record, 100, 1000 * k)})
    flagged = rig.get("/v1/abuse", role="auditor").json()["throttled"]
    scored_before = _metric(rig, "trustshield_records_scored")
    started = time.perf_counter()
    refused = rig.post("/v1/score", role="analyst", json=batch)
    refused_ms = (time.perf_counter() - started) * 1000
    scored_after = _metric(rig, "trustshield_records_scored")
    rig.stop()
    start_measured(rig)
    again = rig.post("/v1/score", role="analyst", json=batch)
    listed = rig.get("/v1/abuse", role="auditor").json()["throttled"]
    token_id = rig.tokens["analyst"].split("_")[1]
    lift = rig.post(
        f"/v1/abuse/{token_id}/lift",
        role="admin",
        json={"reason": "attack suite: the sweep was a test"},
    )
    freed = rig.post("/v1/score", role="analyst", json={"records": [record]})
    lifts = rig.get("/v1/audit?action=abuse.lift", role="auditor").json()["items"]
    held = (
        normal.status_code == 200
        and flagged == [token_id]
        and refused.status_code == 429
        and scored_after == scored_before
        and refused_ms < scored_ms / 3
        and again.status_code == 429
        and listed == [token_id]
        and lift.status_code == 200
        and freed.status_code == 200
        and [e["subject"] for e in lifts] == [token_id]
    )
    return AttackResult(
        "throttled_token_costs_no_scoring",
        "a flagged token's 1000-record batch is refused 429 before scoring (records scored "
        "unchanged) and again after a restart; an admin lift (audited) frees it",
        f"flagged {flagged}; refused {refused.status_code} in {refused_ms:.0f} ms vs "
        f"{scored_ms:.0f} ms to score; records scored {scored_before} → {scored_after}; "
        f"after restart {again.status_code}, listed {listed}; lift {lift.status_code}, "
        f"then {freed.status_code}; abuse.lift events {len(lifts)}",
        held,
        {"throttled_refusal_ms": round(refused_ms, 1), "scored_batch_ms": round(scored_ms, 1)},
    )


def _metric(rig, name: str) -> float:
    for line in rig.get("/v1/metrics", role="auditor").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def small_leaks(rig) -> AttackResult:
    start_measured(rig)
    record = kdd_records(1)[0]
    root = str(rig.root.resolve())
    missing = rig.get("/v1/alerts/nope-404", role="viewer")
    page = rig.get("/ui/alerts/nope-404", role="viewer")
    anonymous = rig.get("/v1/health").json()
    viewer = rig.get("/v1/health", role="viewer").json()
    typed = {
        name: rig.post("/v1/score", role="analyst", json={"records": [{**record, **change}]})
        for name, change in (("true", {"duration": True}), ("string", {"duration": "3"}))
    }
    unknown = rig.post("/v1/score", role="analyst", json={"records": [record], "extra": 1})
    (rig.models_dir / rig.model_id / "spec.yaml").write_text("tampered: true\n")
    tampered = rig.post(f"/v1/models/{rig.model_id}/activate", role="admin")
    leaks = [
        name
        for name, r in (("404", missing), ("page", page), ("tampered", tampered))
        if root in r.text or "/tmp/" in r.text
    ]
    named = {
        name: [(d.get("row"), d.get("field")) for d in (r.json()["error"].get("details") or [])]
        for name, r in typed.items()
    }
    held = (
        not leaks
        and missing.status_code == 404
        and tampered.status_code >= 400
        and anonymous == {"status": "ok"}
        and "active_model" in viewer
        and all(r.status_code == 422 for r in typed.values())
        and all(rows == [(0, "duration")] for rows in named.values())
        and unknown.status_code == 422
    )
    return AttackResult(
        "small_leaks",
        "no answer names a server path; anonymous health says only its status; true and "
        '"3" in an integer feature and an unknown top-level key are refused 422',
        f"answers naming a path: {leaks or 'none'} (404: {missing.json()['error']['message']!r}; "
        f"tampered model {tampered.status_code}: {tampered.json()['error']['message'][:120]!r}); "
        f"health anonymous {anonymous}, viewer keys {sorted(viewer)}; integer feature "
        f"{ {k: (r.status_code, named[k]) for k, r in typed.items()} }; unknown key "
        f"{unknown.status_code}",
        held,
    )


ATTACKS = [
    unauthenticated_94mb_body,
    huge_label_and_comment,
    batch_of_100k_records,
    throttled_token_costs_no_scoring,
    small_leaks,
]
