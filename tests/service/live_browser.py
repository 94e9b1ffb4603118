"""What the browser tests share: the service under uvicorn on a free port of 127.0.0.1,
the system Chromium driven by Playwright (no downloaded browser), and a fresh tab that
collects console and page errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from trustshield.errors import RenderError
from trustshield.report.pdf import find_chromium

try:
    CHROMIUM = find_chromium()
except RenderError:
    CHROMIUM = None

VIEWPORT = {"width": 1280, "height": 800}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served by uvicorn in a background thread while in the block; yields its
    base URL. Skips when uvicorn is not installed."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def chromium() -> Iterator:
    """The system Chromium, headless, while in the block; skips without it or Playwright."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def new_tab(browser) -> Iterator:
    """A page in a fresh browser context (no cookies) at :data:`VIEWPORT`; its
    ``problems`` list collects console errors and page errors."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    try:
        yield page
    finally:
        context.close()
