"""A live TrustShield service for the attack suite: a signed model, a store, tokens, and
``trustshield serve`` in its own process on loopback.

:class:`Rig` is what every attack receives. It is made fresh per attack (a copy of one
signed model, a new DuckDB store with one token per role, the audit key set in the
environment) and started on demand::

    rig.start()                      # trustshield serve --model <copy> ... ; waits for /v1/health
    rig.get("/v1/alerts", role="viewer")
    rig.stop()                       # SIGTERM, then SIGKILL after 30 s
    rig.cli("audit", "verify", "--store", str(rig.store))

The CLI runs with the rig's environment (audit key, data folder), so commands see the
store exactly as the service does. DuckDB allows one process at a time on a file: stop the
service before running CLI commands on the same store.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent  # not resolved: keep the venv's bin folder
START_TIMEOUT_S = 120.0
AUDIT_KEY = "attack-suite audit key: long, random enough for a benchmark"
ROLES = ("viewer", "analyst", "auditor", "red-team", "admin")


@dataclass
class AttackResult:
    """One attack's outcome: ``expected`` and ``observed`` in words, ``held`` when the
    defence did what was expected; ``figures`` are measurements reported beside it (and,
    for the suite's headline figures, at the top level of its JSON)."""

    attack: str
    expected: str
    observed: str
    held: bool
    figures: dict = field(default_factory=dict)


def session_processes(session: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every live process in session ``session``, from
    /proc (Linux); zombies are left out. A process started with ``start_new_session=True``
    leads the session numbered by its pid, and everything it starts stays in it (scoring
    workers, the multiprocessing resource tracker) unless it calls setsid itself."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid, _pgrp, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(sid) == session and state != "Z":
            found.append((int(entry.name), int(ppid), name))
    return sorted(found)


def spawned_children(parent: int) -> list[int]:
    """The children of process ``parent`` that multiprocessing's spawn started (scoring
    workers; not the resource tracker), from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and _parent_of(entry) == parent
                and b"spawn_main" in (entry / "cmdline").read_bytes()
            ):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return sorted(found)


def _parent_of(entry: Path) -> int:
    return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_for_no_session(session: int, timeout: float) -> tuple[float, list]:
    """(seconds until session ``session`` had no live process, or ``timeout``; the processes
    left then)."""
    started = time.monotonic()
    while True:
        left = session_processes(session)
        waited = time.monotonic() - started
        if not left or waited >= timeout:
            return waited, left
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign_copy(model: Path, root: Path) -> tuple[Path, Path, str]:
    """(signed copy, keyring folder, model id): ``model`` copied under ``root`` and signed
    with a fresh keyring."""
    from trustshield.store.bundles import sign_model_folder
    from trustshield.store.signing import Keyring

    copy = root / "model"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("signature.json"))
    keyring = Keyring(root / "keys")
    keyring.generate()
    manifest, _ = sign_model_folder(copy, keyring, signer="attack suite")
    return copy, root / "keys", manifest["model_id"]


class Rig:
    """One service under attack; see the module docstring."""

    def __init__(self, root: Path, model: Path, *, workers: int = 1, env: dict | None = None):
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.workers = root, workers
        self.env = {**os.environ, "TRUSTSHIELD_AUDIT_KEY": AUDIT_KEY, **(env or {})}
        self.model, self.keys, self.model_id = sign_copy(model, root)
        self.store = root / "store.duckdb"
        self.models_dir = root / "models"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen | None = None
        self.tokens = self._create_tokens()

    def _create_tokens(self) -> dict[str, str]:
        from trustshield.store import AlertStore
        from trustshield.store.tokens import TokenTable

        previous = os.environ.get("TRUSTSHIELD_AUDIT_KEY")
        os.environ["TRUSTSHIELD_AUDIT_KEY"] = self.env["TRUSTSHIELD_AUDIT_KEY"]
        try:
            with AlertStore(self.store, actor="attack suite") as store:
                table = TokenTable(store)
                return {role: table.create(f"{role} (attack suite)", [role])[0] for role in ROLES}
        finally:
            if previous is None:
                os.environ.pop("TRUSTSHIELD_AUDIT_KEY", None)
            else:
                os.environ["TRUSTSHIELD_AUDIT_KEY"] = previous

    # --- the service ------------------------------------------------------------------

    def serve_command(self, *extra: str) -> list[str]:
        return [
            str(VENV_BIN / "trustshield"),
            "serve",
            "--store",
            str(self.store),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--models-dir",
            str(self.models_dir),
            "--keys",
            str(self.keys),
            "--model",
            str(self.model),
            "--workers",
            str(self.workers),
            *extra,
        ]

    def start(self, *extra: str, wait: bool = True) -> subprocess.Popen:
        """Start ``trustshield serve`` (extra arguments appended); wait for /v1/health
        unless ``wait`` is False. The server's output goes to ``root/server.log``."""
        with open(self.root / "server.log", "ab") as log:  # the server keeps its own copy
            self.server = subprocess.Popen(
                self.serve_command(*extra),
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_healthy()
        return self.server

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(
                    f"server exited with status {self.server.returncode}:\n{self.log()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2.0).status_code in (200, 503):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /v1/health within {timeout:.0f} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` to the server and wait for it (SIGKILL after ``timeout``); its exit
        status, None when it was not running."""
        if self.server is None or self.server.poll() is not None:
            return None if self.server is None else self.server.returncode
        self.server.send_signal(sig)
        try:
            return self.server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.server.kill()
            return self.server.wait()

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- HTTP and CLI -----------------------------------------------------------------

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, *, role: str | None = None, **kwargs):
        import httpx

        return httpx.get(
            self.url + path,
            headers={**self.headers(role), **kwargs.pop("headers", {})},
            timeout=kwargs.pop("timeout", 30.0),
            **kwargs,
        )

    def post(self, path: str, *, role: str | None = None, **kwargs):
        import httpx

        return httpx.post(
            self.url + path,
            headers={**self.headers(role), **kwargs.pop("headers", {})},
            timeout=kwargs.pop("timeout", 60.0),
            **kwargs,
        )

    def cli(
        self, *args: str, env: dict | None = None, timeout: float = 300.0, input: str | None = None
    ) -> subprocess.CompletedProcess:
        """``trustshield ARGS`` with the rig's environment (plus ``env``), in ``root``."""
        return subprocess.run(
            [str(VENV_BIN / "trustshield"), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    def close(self) -> None:
        self.stop()
