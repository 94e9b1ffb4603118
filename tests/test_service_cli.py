"""`trustshield tokens | audit verify | reviews export | serve` through the command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest

from trustshield.cli import main
from trustshield.store import AlertStore
from trustshield.store.tokens import TokenTable


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_token_is_printed_once_verifies_and_is_revoked(tmp_path, capsys):
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(
        capsys, "tokens", "create", "--name", "sensor-1", "--role", "analyst", "--store", store
    )
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("tsk_")
    code, out, _ = run(capsys, "tokens", "list", "--json", "--store", store)
    listed = json.loads(out)
    assert [t["roles"] for t in listed] == [["analyst"]] and token not in out
    with AlertStore(store) as s:
        assert TokenTable(s).check_secret(token) == listed[0]["token_id"]
    assert run(capsys, "tokens", "revoke", listed[0]["token_id"], "--store", store)[0] == 0
    code, _, err = run(capsys, "tokens", "revoke", listed[0]["token_id"], "--store", store)
    assert code == 1 and "already revoked" in err


def test_audit_verify_exits_1_naming_the_first_broken_event(tmp_path, capsys):
    store = str(tmp_path / "s.duckdb")
    for name in ("a", "b", "c"):
        run(capsys, "tokens", "create", "--name", name, "--role", "viewer", "--store", store)
    code, out, _ = run(capsys, "audit", "verify", "--json", "--store", store)
    assert code == 0 and json.loads(out)["events"] == 3
    with AlertStore(store) as s:
        s.db.execute("UPDATE audit_events SET subject = 'forged' WHERE seq = 2")
    code, out, _ = run(capsys, "audit", "verify", "--store", store)
    assert code == 1 and "broken" in out and "event 2" in out


def test_reviews_export_writes_labelled_lines_and_never_overwrites(tmp_path, capsys):
    store, out_file = str(tmp_path / "s.duckdb"), tmp_path / "feedback.jsonl"
    AlertStore(store).close()  # an export reads a store; it never creates one
    assert run(capsys, "reviews", "export", "--out", str(out_file), "--store", store)[0] == 0
    assert out_file.read_text() == ""
    code, _, err = run(capsys, "reviews", "export", "--out", str(out_file), "--store", store)
    assert code == 1 and "exists" in err
    with AlertStore(store) as s:
        assert len(s.audit.events("review.export")) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_listens_on_loopback_and_answers_health(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trustshield.cli",
            "serve",
            "--store",
            str(tmp_path / "s.duckdb"),
            "--models-dir",
            str(tmp_path / "m"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}  # without a token: no model id, no uptime
        assert httpx.get(f"http://127.0.0.1:{port}/v1/alerts").status_code == 401
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True
        ).stdout
        if listening:  # ss is there: the socket is bound to loopback only
            assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("proxies, trusted", [([], False), (["10.0.0.5"], True)])
def test_serve_ignores_x_forwarded_for_unless_a_proxy_is_trusted(
    tmp_path, monkeypatch, proxies, trusted
):
    """Without --trusted-proxy no client can choose the address its failed sign-ins are
    counted under (uvicorn would trust X-Forwarded-For from loopback by default)."""
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    flags = [arg for proxy in proxies for arg in ("--trusted-proxy", proxy)]
    assert main(
        [
            "serve",
            "--store",
            str(tmp_path / "s.duckdb"),
            "--models-dir",
            str(tmp_path / "m"),
            "--workers",
            "0",
            *flags,
        ]
    ) in (0, None)
    assert seen["proxy_headers"] is trusted
    assert seen.get("forwarded_allow_ips") == (proxies or None)


def test_serve_flags_set_the_request_limits():
    from trustshield.cli import build_parser
    from trustshield.commands.service import _limits
    from trustshield.errors import ConfigError

    args = build_parser().parse_args(["serve", "--rate-limit", "50", "--max-body-mb", "0.5"])
    assert _limits(args) == {
        "rate_per_s": 50.0,
        "max_batch": 1000,
        "max_records_body_bytes": 512 * 1024,
        "max_bundle_body_bytes": 64 * 1024 * 1024,
    }
    assert _limits(build_parser().parse_args(["serve"]))["rate_per_s"] is None
    with pytest.raises(ConfigError, match="--max-batch must be a number > 0"):
        _limits(build_parser().parse_args(["serve", "--max-batch", "0"]))
