"""Load benchmark of the REST service: POST /v1/score with batches of NSL-KDD records.

    python benchmarks/service_load.py --json out/bench_service_load.json [--seconds 60]
                                      [--concurrency 3] [--workers N] [--batch 100]
                                      [--model out/model]

Protocol
--------
* Model: ``--model`` (default ``out/model`` from ``make demo``), copied to a temporary
  folder and signed there with a temporary keyring; nothing is trained.
* Server: ``<venv>/bin/trustshield serve`` in its own process on 127.0.0.1 (a free port),
  a fresh DuckDB store, the copy installed and activated with ``--model``, ``--workers``
  scoring processes; one token with the ``analyst`` role, whose rate limit is lifted
  (``--rate-limit`` :data:`UNLIMITED`: the default lets one token use half the measured
  capacity, and this benchmark measures all of it). The run starts once ``/v1/health``
  answers.
* Client: a second process (``multiprocessing``, spawn) drives ``POST /v1/score`` for
  ``--seconds`` with ``--concurrency`` workers of one ``httpx.AsyncClient``, each sending
  batches of ``--batch`` KDDTest+ records (every spec column but the label and difficulty,
  as JSON objects, cycled through the file in order). Request bodies are encoded before the
  clock starts. Both processes share the machine.
* Per request: latency (send to parsed response), status, ``alerts_returned``. Errors are
  non-2xx answers and exceptions. After the run the server is stopped and the alerts in its
  store are counted (``alerts_stored``); every returned alert must be stored.
* Figures: records/s = records answered with 2xx / wall seconds of the run; p50 and p99 of
  the latencies of all requests; CPU seconds of the server and client processes (user +
  system, from their rusage once both exited) and the 1-minute load average before and
  after the run, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trustshield.commands.service import default_workers

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # not resolved: keep the venv's bin folder
TEST_FILE = "nsl-kdd:KDDTest+.txt"
TARGETS = {"records_per_s": 2000, "p99_ms": 250, "errors": 0, "alerts_stored": "= alerts_returned"}
NO_MODEL = (
    "no model folder at {path}: run `make demo` first (it writes out/model), or pass --model DIR"
)
START_TIMEOUT_S = 120.0
UNLIMITED = "1e9"  # records/s per token: no rate limit in the way of the measurement


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--model", default=str(REPO / "out" / "model"), help="model folder")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run")
    parser.add_argument("--concurrency", type=int, default=3, help="requests in flight (default 3)")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="the server's scoring processes (default: `serve`'s, one per core but one)",
    )
    parser.add_argument("--batch", type=int, default=100, help="records per request")
    args = parser.parse_args(argv)
    model = Path(args.model)
    if not (model / "manifest.json").is_file():
        raise SystemExit(NO_MODEL.format(path=model))
    with tempfile.TemporaryDirectory(prefix="trustshield-load-") as tmp:
        result = run(model, Path(tmp), args)
    print_summary(result)
    if args.json:
        from trustshield.commands.benchmark import write_json

        write_json(result, args.json)
    return 0 if all(result["checks"].values()) else 1


def run(model: Path, root: Path, args) -> dict:
    """Sign a copy of the model, start the server, drive it, stop it, count what it stored."""
    model_id, keys, store, token = prepare(model, root)
    bodies = request_bodies(args.batch)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load_before, children = os.getloadavg()[0], _children_cpu()
    server = start_server(root, keys, store, port, args.workers)
    try:
        wait_healthy(url, server, root / "server.log")
        drive = client_process(url, token, bodies, args.seconds, args.concurrency)
    finally:
        stop_server(server)
    cpu = _children_cpu() - children
    from trustshield.store import AlertStore

    with AlertStore(store) as opened:
        stored = int(opened.db.execute("SELECT count(*) FROM alerts").fetchall()[0][0])
    latencies = np.array(drive["latencies_s"]) * 1000
    result = {
        "records_per_s": round(drive["records_ok"] / drive["wall_s"], 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "errors": drive["errors"],
        "alerts_returned": drive["alerts_returned"],
        "alerts_stored": stored,
        "requests": len(latencies),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "batch": args.batch,
        "seconds": args.seconds,
        "wall_s": round(drive["wall_s"], 2),
        "cpu_seconds": round(cpu, 1),
        "load_average": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "model_id": model_id,
        "error_samples": drive["error_samples"],
        "targets": TARGETS,
        "protocol": __doc__.split("Protocol\n--------\n", 1)[1].strip(),
    }
    result["checks"] = checks(result)
    return result


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: the server and the
    client process, once both have exited."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def prepare(model: Path, root: Path) -> tuple[str, Path, Path, str]:
    """(model id, keyring folder, store path, analyst token): the model copied and signed
    with a fresh keyring, a fresh store holding one analyst token."""
    from trustshield.store import AlertStore
    from trustshield.store.bundles import sign_model_folder
    from trustshield.store.signing import Keyring
    from trustshield.store.tokens import TokenTable

    copy = root / "model"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("signature.json"))
    keys = root / "keys"
    keyring = Keyring(keys)
    keyring.generate()
    manifest, _ = sign_model_folder(copy, keyring, signer="service-load benchmark")
    store = root / "store.duckdb"
    with AlertStore(store, actor="service-load benchmark") as opened:
        token, _ = TokenTable(opened).create("load generator", ["analyst"])
    return manifest["model_id"], keys, store, token


def request_bodies(batch: int) -> list[bytes]:
    """JSON bodies of ``batch`` KDDTest+ records each, covering the file in order (the last
    batch wraps round to the start)."""
    import pandas as pd

    from trustshield.commands.common import resolve_data
    from trustshield.specs import load_spec

    spec = load_spec("nsl-kdd")
    names = [c.name for c in spec.columns]
    raw = pd.read_csv(resolve_data(TEST_FILE), header=None, names=names)
    features = raw[[c.name for c in spec.features]]
    records = features.to_dict(orient="records")
    n = -(-len(records) // batch) * batch
    records = [records[i % len(records)] for i in range(n)]
    return [json.dumps({"records": records[i : i + batch]}).encode() for i in range(0, n, batch)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, keys: Path, store: Path, port: int, workers: int) -> subprocess.Popen:
    cmd = [
        str(VENV_BIN / "trustshield"),
        "serve",
        "--store",
        str(store),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--models-dir",
        str(root / "models"),
        "--keys",
        str(keys),
        "--model",
        str(root / "model"),
        "--workers",
        str(workers),
        "--rate-limit",
        UNLIMITED,
    ]
    with open(root / "server.log", "wb") as log:  # the server keeps its own copy
        return subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"server exited with status {server.returncode}:\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/v1/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not answer /v1/health within {START_TIMEOUT_S:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def client_process(
    url: str, token: str, bodies: list[bytes], seconds: float, concurrency: int
) -> dict:
    """Run :func:`drive` in a separate (spawned) process; its figures."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(drive, (url, token, bodies, seconds, concurrency))


def drive(url: str, token: str, bodies: list[bytes], seconds: float, concurrency: int) -> dict:
    """The load generator (runs in the client process)."""
    return asyncio.run(_drive(url, token, bodies, seconds, concurrency))


async def _drive(url, token, bodies, seconds, concurrency) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    figures = {
        "latencies_s": [],
        "records_ok": 0,
        "errors": 0,
        "alerts_returned": 0,
        "error_samples": [],
    }
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    next_body = iter(range(10**12))
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30.0
    ) as client:
        start = time.perf_counter()
        stop = start + seconds

        async def worker():
            while time.perf_counter() < stop:
                body = bodies[next(next_body) % len(bodies)]
                await _one(client, body, figures)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        figures["wall_s"] = time.perf_counter() - start
    return figures


async def _one(client, body: bytes, figures: dict) -> None:
    sent = time.perf_counter()
    try:
        response = await client.post("/v1/score", content=body)
        answer = response.json()
        ok = 200 <= response.status_code < 300
    except Exception as exc:  # every failure is counted, none stops the run
        answer, ok = {"error": repr(exc)}, False
    figures["latencies_s"].append(time.perf_counter() - sent)
    if ok:
        figures["records_ok"] += answer["records"]
        figures["alerts_returned"] += answer["alerts_returned"]
    else:
        figures["errors"] += 1
        if len(figures["error_samples"]) < 5:
            figures["error_samples"].append(str(answer)[:300])


def checks(r: dict) -> dict:
    return {
        "records/s ≥ 2000": r["records_per_s"] >= TARGETS["records_per_s"],
        "p99 ≤ 250 ms": r["p99_ms"] <= TARGETS["p99_ms"],
        "no errors": r["errors"] == 0,
        "every returned alert stored": r["alerts_stored"] == r["alerts_returned"],
    }


def print_summary(r: dict) -> None:
    print(
        f"\nservice load ({r['batch']} records per request, {r['concurrency']} in flight, "
        f"{r['seconds']:.0f} s, model {r['model_id']})"
    )
    rows = [
        ("records/s", r["records_per_s"], "≥ 2000"),
        ("p50 ms", r["p50_ms"], ""),
        ("p99 ms", r["p99_ms"], "≤ 250"),
        ("requests", r["requests"], ""),
        ("CPU s (server+client)", r["cpu_seconds"], ""),
        ("load average", r["load_average"], "1-minute, before the run"),
        ("errors", r["errors"], "0"),
        ("alerts returned", r["alerts_returned"], ""),
        ("alerts stored", r["alerts_stored"], "= returned"),
    ]
    for name, value, bar in rows:
        print(f"  {name:<16} {value:>12}  {bar}")
    for sample in r["error_samples"]:
        print(f"  error: {sample}")
    for name, ok in r["checks"].items():
        print(f"check {name}: {ok}")
    print("protocol:\n  " + r["protocol"].replace("\n", "\n  "))


if __name__ == "__main__":
    sys.exit(main())
