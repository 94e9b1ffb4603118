"""Attacks on sign-in: wrong-secret floods, revocation while running, the dashboard
session after sign-out, and refusals that leave no trace.

Each attack holds what an adversary would: a network path to the service and, where said,
a valid low-privilege token or a copy of a dashboard cookie. Latencies are wall-clock
milliseconds measured in the attacking process (which shares the machine with the service);
the viewer's requests run on a fixed schedule, so a stall shows in every request it delays.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time

import httpx
import numpy as np

from attacks.rig import AttackResult, Rig

FLOOD_CLIENTS = 4
FLOOD_SECONDS = 10.0
TIMING_SAMPLES = 5  # per kind; within the default failed-attempt limits
TIMING_TOLERANCE = 0.25  # |known − unknown| / the larger, of the medians
P90_TARGET_MS = 100.0
REFUSED_FLOOD = 1000
VIEWER_EVERY_S = 0.1  # the viewer's request schedule (open loop)

#: one flooding client, in its own process: wrong secrets for one token id for some seconds,
#: starting when told (after its start-up, which is not the service's doing)
FLOODER = """
import collections, json, sys, time, httpx
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
statuses = collections.Counter()
with httpx.Client(timeout=30.0) as client:
    print("ready", flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            statuses[client.get(url, headers={"Authorization": "Bearer " + token}).status_code] += 1
        except httpx.HTTPError:
            statuses["error"] += 1
print(json.dumps(statuses))
"""


def wrong_secret(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def token_id(token: str) -> str:
    return token.split("_")[1]


def unknown_id_token(token: str) -> str:
    return f"tsk_{secrets.token_hex(6)}_" + token[len("tsk_0123456789ab_") :]


def _timing_medians(client: httpx.Client, url: str, token: str) -> tuple[float, float]:
    """Medians (ms) of TIMING_SAMPLES wrong secrets for ``token``'s (known) id and as many
    for unknown ids, interleaved so that a change in the machine's load hits both alike."""
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(TIMING_SAMPLES):
        for kind, presented in (
            ("known", wrong_secret(token)),
            ("unknown", unknown_id_token(token)),
        ):
            started = time.perf_counter()
            client.get(url, headers={"Authorization": f"Bearer {presented}"})
            times[kind].append((time.perf_counter() - started) * 1000)
    return statistics.median(times["known"]), statistics.median(times["unknown"])


def _viewer_p90(rig: Rig, seconds: float) -> tuple[float, int]:
    """p90 (ms) of the viewer's GETs sent on a fixed schedule (one every VIEWER_EVERY_S,
    whether or not earlier ones have answered, so a stall delays every request sent during
    it); a non-200 answer counts as infinitely slow. Also the number of requests."""

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=60.0, headers=rig.headers("viewer")) as viewer:

            async def one(at: float) -> float:
                await asyncio.sleep(max(0.0, at - loop.time()))
                started = time.perf_counter()
                status = (await viewer.get(rig.url + "/v1/alerts?limit=5")).status_code
                return (time.perf_counter() - started) * 1000 if status == 200 else 1e9

            start = loop.time()
            return await asyncio.gather(
                *(one(start + k * VIEWER_EVERY_S) for k in range(int(seconds / VIEWER_EVERY_S)))
            )

    latencies = asyncio.run(run())
    return float(np.percentile(latencies, 90)), len(latencies)


def _flood_p90(rig: Rig, victim: str) -> tuple[float, dict]:
    """p90 (ms) of the viewer's GETs while FLOOD_CLIENTS processes send wrong secrets for
    ``victim``'s id; and the flooders' answers by status."""
    url = rig.url + "/v1/alerts?limit=5"
    flooders = [
        subprocess.Popen(
            [sys.executable, "-c", FLOODER, url, wrong_secret(victim), str(FLOOD_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(FLOOD_CLIENTS)
    ]
    for flooder in flooders:
        assert flooder.stdout.readline().strip() == "ready"
    for flooder in flooders:
        flooder.stdin.write("go\n")
        flooder.stdin.flush()
    time.sleep(0.2)  # the flood is under way
    p90, requests = _viewer_p90(rig, FLOOD_SECONDS - 0.5)
    answers: dict = {}
    for flooder in flooders:
        out = flooder.stdout.read()
        flooder.wait(timeout=120)
        for status, count in json.loads(out or "{}").items():
            answers[status] = answers.get(status, 0) + count
    return p90, {"viewer_requests": requests, **answers}


def auth_wrong_secret_flood(rig: Rig) -> AttackResult:
    rig.start()
    with httpx.Client(timeout=30.0) as client:
        assert client.get(rig.url + "/v1/alerts", headers=rig.headers("viewer")).status_code == 200
        # another known id than the flood's below, which gets its own failed-attempt budget
        known, unknown = _timing_medians(
            client, rig.url + "/v1/alerts?limit=5", rig.tokens["auditor"]
        )
    baseline, _ = _viewer_p90(rig, 3.0)
    p90_other, answers_other = _flood_p90(rig, rig.tokens["analyst"])
    p90_own, answers_own = _flood_p90(rig, rig.tokens["viewer"])
    difference = abs(known - unknown) / max(known, unknown)
    p90 = max(p90_other, p90_own)
    held = p90 <= P90_TARGET_MS and difference <= TIMING_TOLERANCE
    return AttackResult(
        "auth_wrong_secret_flood",
        f"a verified viewer's GETs keep p90 ≤ {P90_TARGET_MS:.0f} ms while {FLOOD_CLIENTS} "
        "clients send wrong secrets for the analyst's id (then the viewer's own id); "
        f"known and unknown ids cost the same (medians within {TIMING_TOLERANCE:.0%})",
        f"viewer p90 {p90_other:.1f} ms (flood on the analyst's id, flooders got "
        f"{answers_other}), {p90_own:.1f} ms (flood on the viewer's own id, {answers_own}); "
        f"wrong secret for a known id {known:.1f} ms, unknown id {unknown:.1f} ms (median of "
        f"{TIMING_SAMPLES}; difference {difference:.0%}); viewer p90 without a flood "
        f"{baseline:.1f} ms",
        held,
        {
            "auth_p90_ms_under_wrong_secret_flood": round(p90, 1),
            "auth_p90_ms_without_flood": round(baseline, 1),
            "auth_p90_ms_flood_on_other_id": round(p90_other, 1),
            "auth_p90_ms_flood_on_own_id": round(p90_own, 1),
            "known_id_wrong_secret_ms_median": round(known, 1),
            "unknown_id_ms_median": round(unknown, 1),
            "known_unknown_difference": round(difference, 3),
            "flood_answers_other_id": answers_other,
            "flood_answers_own_id": answers_own,
        },
    )


def auth_revoke_while_running(rig: Rig) -> AttackResult:
    rig.start()
    first = rig.get("/v1/alerts", role="analyst").status_code  # verified and cached
    analyst_id = token_id(rig.tokens["analyst"])
    revoked = rig.post(f"/v1/tokens/{analyst_id}/revoke", role="admin")
    after = rig.get("/v1/alerts", role="analyst").status_code
    held = first == 200 and revoked.status_code == 200 and after == 401
    return AttackResult(
        "auth_revoke_while_running",
        "an admin revokes the analyst's token through the API while the service runs on "
        "DuckDB; the token's next request is refused (401)",
        f"before: {first}; POST /v1/tokens/{analyst_id}/revoke: {revoked.status_code}; "
        f"next request with the token: {after}",
        held,
    )


def auth_forwarded_for_spoof(rig: Rig) -> AttackResult:
    rig.start()
    wrong = {"Authorization": f"Bearer {wrong_secret(rig.tokens['analyst'])}"}
    with httpx.Client(timeout=30.0) as client:
        answers = [
            client.get(
                rig.url + "/v1/alerts", headers={**wrong, "X-Forwarded-For": f"203.0.113.{k}"}
            ).status_code
            for k in range(12)
        ]
    argon2_attempts = answers.count(401)
    held = argon2_attempts <= 5 and answers[-1] == 429
    return AttackResult(
        "auth_forwarded_for_spoof",
        "a client that names a new address in X-Forwarded-For on every try is still counted "
        "under its real address: wrong secrets turn into 429 after the failed-attempt limit",
        f"answers to 12 wrong secrets, each from a different claimed address: {answers}",
        held,
        {"wrong_secrets_verified": argon2_attempts},
    )


def _sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/ui/login")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post("/ui/login", data={"csrf": csrf, "token": token, "next": "/ui/alerts"})


def auth_logout_ends_session(rig: Rig) -> AttackResult:
    rig.start()
    token = rig.tokens["analyst"]
    with httpx.Client(base_url=rig.url, timeout=30.0) as browser:
        signed_in = _sign_in(browser, token).status_code
        name, cookie = next(
            (
                (c.name, c.value)
                for c in browser.cookies.jar  # what sign-in set
                if c.name != "trustshield_login"
            ),
            ("none", "none"),
        )
        page_before = browser.get("/ui/alerts").status_code
        logout_page = browser.get("/ui/logout").text
        csrf = logout_page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed_out = browser.post("/ui/logout", data={"csrf": csrf}).status_code
    as_bearer = rig.get("/v1/alerts", headers={"Authorization": f"Bearer {cookie}"}).status_code
    kept = {"Cookie": f"{name}={cookie}"}
    as_cookie_v1 = rig.get("/v1/alerts", headers=kept).status_code
    replay = rig.get("/ui/alerts", headers=kept)
    replay_json = rig.get("/ui/alerts?format=json", headers=kept).status_code
    held = (
        signed_in == 303
        and page_before == 200
        and signed_out == 303
        and bool(cookie)
        and token not in cookie
        and as_bearer == 401
        and as_cookie_v1 == 401
        and replay.status_code == 303
        and replay_json == 401
    )
    return AttackResult(
        "auth_logout_ends_session",
        "the dashboard cookie holds a session, not the token; it is no bearer token and no "
        "/v1 credential; after sign-out a kept copy of it no longer opens any page",
        f"sign-in {signed_in}, cookie is the token: {token in cookie}, page {page_before}, "
        f"cookie as bearer {as_bearer}, cookie on /v1 {as_cookie_v1}, sign-out {signed_out}, "
        f"replayed cookie: page {replay.status_code} → {replay.headers.get('location')}, "
        f"JSON twin {replay_json}",
        held,
    )


def auth_refusals_audited(rig: Rig) -> AttackResult:
    rig.start()
    with httpx.Client(timeout=30.0) as client:
        statuses = {client.get(rig.url + "/v1/alerts").status_code for _ in range(REFUSED_FLOOD)}
    at_once = rig.get("/v1/audit?action=access.refused", role="auditor").json()["items"]
    rig.stop()
    events = _refusal_events(rig)
    total = sum(e["details"]["count"] for e in events)
    from_flood = [e for e in events if e["details"]["endpoint"] == "alerts.list"]
    held = (
        statuses == {401}
        and len(at_once) >= 1
        and len(events) <= 4
        and sum(e["details"]["count"] for e in from_flood) == REFUSED_FLOOD
    )
    return AttackResult(
        "auth_refusals_audited",
        f"{REFUSED_FLOOD} requests without a token are refused (401) and audited as a "
        "bounded number of access.refused events whose counts add up to them; the first is "
        "on record at once",
        f"answers {sorted(statuses)}; access.refused events right after the flood: "
        f"{len(at_once)}; after the service stopped: {len(events)} events counting {total}",
        held,
        {
            "refused_requests": REFUSED_FLOOD,
            "refusal_events": len(events),
            "refusals_counted": total,
        },
    )


def _refusal_events(rig: Rig) -> list[dict]:
    from trustshield.store import AlertStore

    previous = os.environ.get("TRUSTSHIELD_AUDIT_KEY")
    os.environ["TRUSTSHIELD_AUDIT_KEY"] = rig.env["TRUSTSHIELD_AUDIT_KEY"]
    try:
        with AlertStore(rig.store, actor="attack suite") as store:
            return store.audit.events("access.refused")
    finally:
        if previous is None:
            os.environ.pop("TRUSTSHIELD_AUDIT_KEY", None)
        else:
            os.environ["TRUSTSHIELD_AUDIT_KEY"] = previous


ATTACKS = [
    auth_wrong_secret_flood,
    auth_forwarded_for_spoof,
    auth_revoke_while_running,
    auth_logout_ends_session,
    auth_refusals_audited,
]
