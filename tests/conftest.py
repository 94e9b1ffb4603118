"""Fixtures shared by all tests.

Store and service tests run on both databases: a DuckDB file and a throwaway PostgreSQL
cluster. ``postgres_url`` starts one cluster per session (``initdb`` into a temporary
folder, listening on 127.0.0.1 only, on a free port) and removes it at the end; each test
that asks for ``store_target`` gets either a fresh DuckDB file or the cluster's database
with an empty ``public`` schema. Without PostgreSQL's server programs the fixture fails,
saying what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from synthetic import synthetic_traffic


@pytest.fixture(scope="module")
def traffic():
    """(X, labels, categories) of synthetic traffic; see tests/synthetic.py."""
    return synthetic_traffic()


MISSING = (
    "PostgreSQL server programs (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
    "or `pg_config --bindir`; install them with: apt-get install postgresql"
)
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server programs as ``postgres`` then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_url():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail(MISSING)
    root = Path(tempfile.mkdtemp(prefix="trustshield-pg-"))
    data, port = root / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")

    def run(*cmd):
        return subprocess.run(
            as_server_user([str(c) for c in cmd]), check=True, capture_output=True, text=True
        )

    try:
        run(
            bindir / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(bindir / "pg_ctl", "-D", data, "-o", options, "-l", root / "log", "-w", "start")
    except subprocess.CalledProcessError as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {error.stderr or error.stdout}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres(postgres_url):
    """The session's database with an empty ``public`` schema (emptied again afterwards)."""
    empty = "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(empty)
    yield postgres_url
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(empty)


@pytest.fixture(params=BACKENDS)
def store_target(request, tmp_path):
    """Where a test's store lives: a DuckDB file or a fresh PostgreSQL database."""
    if request.param == "duckdb":
        return tmp_path / "db" / "store.duckdb"
    return request.getfixturevalue("fresh_postgres")
