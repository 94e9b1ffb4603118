"""The trust report in a real browser: it opens offline in Chromium without console errors,
fetches nothing from the network, draws a real page, and prints to a PDF whose first page
turns into a real picture.

Playwright drives the system Chromium (``executable_path``; no downloaded browser) and
``pdftoppm`` (poppler-utils) turns the PDF page into a PNG. A test is skipped only when its
outside tool is absent; CI installs both (see ``.ci/run``).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from test_report_html import make_report
from trustshield.report import write_pdf, write_report
from trustshield.report.pdf import find_chromium
from trustshield.errors import RenderError

try:
    CHROMIUM = find_chromium()
except RenderError:
    CHROMIUM = None

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
LOCAL_SCHEMES = ("file:", "data:", "about:")
pytestmark = pytest.mark.browser


def png_facts(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decoded scanlines) of a PNG file.

    A deliberately small reader: checks the signature, walks the chunks (checking each
    CRC), inflates the IDAT stream. A page of one flat colour decodes to a handful of
    distinct byte values whatever the row filters; a drawn page to many.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, width, height, idat = 8, 0, 0, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} chunk"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert idat, "PNG has no image data"
    return width, height, len(set(zlib.decompress(b"".join(idat))))


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    html, _ = write_report(make_report(), tmp_path_factory.mktemp("browser"))
    return html


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose console messages, page errors and requests are recorded, with every
    request that would leave the machine blocked (and recorded as blocked)."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def console_errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.console if kind in ("error", "assert")]

    def close(self) -> None:
        self.context.close()


@needs_chromium
def test_report_opens_offline_in_chromium_without_console_errors(browser, report_html):
    watched = Watched(browser)
    try:
        watched.page.goto(report_html.resolve().as_uri(), wait_until="load")
        title = watched.page.title()
        sections = watched.page.locator("section").count()
        shot = watched.page.screenshot(full_page=True, type="png")
    finally:
        watched.close()
    assert watched.console_errors() == [], watched.console
    assert watched.errors == []
    assert watched.blocked == [], "the report tried to reach the network"
    assert watched.requests and all(url.startswith(LOCAL_SCHEMES) for url in watched.requests), (
        watched.requests
    )
    assert title.startswith("TrustShield trust report")
    assert sections >= 5
    width, height, distinct = png_facts(shot)
    assert len(shot) > 20_000
    assert width == 1280 and height > 1500, (width, height)  # the full page, not just the viewport
    assert distinct > 32, "the screenshot is (nearly) one flat colour"


@needs_chromium
def test_the_watch_itself_sees_console_errors_and_blocks_the_network(browser):
    """The checks above would pass vacuously if nothing were recorded; show they catch both."""
    watched = Watched(browser)
    try:
        watched.page.set_content(
            '<img src="http://203.0.113.7/pixel.png">'
            '<script>console.error("boom"); undefined_name;</script>'
        )
        watched.page.wait_for_timeout(200)
    finally:
        watched.close()
    assert ("error", "boom") in watched.console_errors()
    assert any("undefined_name" in e for e in watched.errors)
    assert watched.blocked == ["http://203.0.113.7/pixel.png"]


@needs_chromium
def test_report_pdf_is_a_real_pdf_whose_first_page_renders(report_html, tmp_path):
    pdf = write_pdf(report_html, tmp_path / "report.pdf")
    assert pdf == tmp_path / "report.pdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"], (
        "temp files were left behind"
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    assert pages >= 2, f"{pages} page(s): a report this long prints on several"

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
        capture_output=True,
    )
    (first,) = tmp_path.glob("page-*1.png")
    width, height, distinct = png_facts(first.read_bytes())
    assert height > width > 300, (width, height)  # a portrait page at 50 dpi
    assert distinct > 32, "the first page is blank"

    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout
        assert "TrustShield trust report" in text
        assert "gbm-<b>bold</b>-01" in text  # the escaped model id prints as the literal text
