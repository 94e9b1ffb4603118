"""``trustshield serve --workers 1`` stopped by SIGTERM or SIGINT: it exits with status 0
and, within a few seconds, nothing it started (scoring worker, resource tracker) is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import CHEAP_HASHER, bearer, sample_records
from trustshield.store import AlertStore
from trustshield.store import tokens as token_table
from trustshield.store.tokens import TokenTable

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from attacks.rig import free_port, session_processes, wait_for_no_session

TRUSTSHIELD = Path(sys.executable).parent / "trustshield"
START_WITHIN_S = 180.0


def analyst_token(store: Path) -> str:
    with pytest.MonkeyPatch.context() as patch, AlertStore(store, actor="test") as opened:
        patch.setattr(token_table, "_HASHER", CHEAP_HASHER)
        return TokenTable(opened).create("analyst (test)", ["analyst"])[0]


def wait_ready(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the service was not ready within {START_WITHIN_S} s")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_and_leaves_no_process_behind(signed_model, tmp_path, sig):
    store, port = tmp_path / "s.duckdb", free_port()
    token, url = analyst_token(store), f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(TRUSTSHIELD),
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
            "--models-dir",
            str(tmp_path / "models"),
            "--keys",
            str(signed_model.keys_dir),
            "--model",
            str(signed_model.folder),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_ready(server, url)
        scored = httpx.post(
            f"{url}/v1/score",
            headers=bearer(token),
            timeout=120,
            json={"records": sample_records(signed_model.frame)},
        )
        assert scored.status_code == 200, scored.text
        started = session_processes(server.pid)
        assert len(started) >= 3, started  # the service, its scoring worker, resource tracker
        server.send_signal(sig)
        status = server.wait(60)
        waited, left = wait_for_no_session(server.pid, timeout=5.0)
    finally:
        for pid, _, _ in session_processes(server.pid):  # whatever a failure left behind
            os.kill(pid, signal.SIGKILL)
    assert status == 0, server.stdout.read()
    assert left == [], f"still running {waited:.1f} s after serve ended: {left}"
