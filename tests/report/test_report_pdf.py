"""write_pdf fails clearly and leaves nothing half-written when Chromium is missing, fails,
hangs or writes something that is not a PDF (stand-in executables; no browser needed)."""

from __future__ import annotations

import stat
import time

import pytest

from trustshield.errors import DataError, RenderError
from trustshield.report import write_pdf
from trustshield.report.pdf import CHROMIUM_ENV


def fake_browser(folder, body: str):
    """An executable shell script standing in for Chromium; its last argument is the URL,
    the one before it --print-to-pdf=PATH."""
    path = folder / "fake-chromium"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def page(tmp_path):
    html = tmp_path / "report.html"
    html.write_text("<!doctype html><title>t</title><p>hello</p>")
    return html


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_missing_chromium_says_how_to_install_it(page, monkeypatch):
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(page.parent / "no-such-dir"))
    with pytest.raises(RenderError, match=r"apt-get install chromium"):
        write_pdf(page, page.with_suffix(".pdf"))
    assert not page.with_suffix(".pdf").exists() and leftovers(page.parent) == []


def test_env_naming_no_program_is_named_in_the_error(page, monkeypatch):
    monkeypatch.setenv(CHROMIUM_ENV, "/nowhere/chromium")
    with pytest.raises(
        RenderError, match=r"TRUSTSHIELD_CHROMIUM.*/nowhere/chromium.*apt-get install chromium"
    ):
        write_pdf(page, page.with_suffix(".pdf"))


def test_missing_html_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv(CHROMIUM_ENV, str(fake_browser(tmp_path, "exit 0")))
    with pytest.raises(DataError, match="no such file"):
        write_pdf(tmp_path / "absent.html", tmp_path / "report.pdf")


def test_chromium_arguments_and_atomic_success(page, monkeypatch):
    log = page.parent / "args.txt"
    script = fake_browser(
        page.parent,
        f'printf "%s\\n" "$@" > {log}\n'
        'for a; do case "$a" in --print-to-pdf=*) '
        'printf "%%PDF-1.4 fake\\n%%%%EOF\\n" > "${a#--print-to-pdf=}";; esac; done',
    )
    monkeypatch.setenv(CHROMIUM_ENV, str(script))
    out = write_pdf(page, page.parent / "sub" / "report.pdf")
    assert out.read_bytes().startswith(b"%PDF-1.4")
    args = log.read_text().splitlines()
    assert {"--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"} <= set(args)
    assert args[-1] == page.resolve().as_uri()
    assert leftovers(out.parent) == []


@pytest.mark.parametrize(
    "body, message",
    [
        ("echo 'something broke' >&2; exit 3", r"exit code 3.*something broke"),
        ("exit 0", r"did not write a PDF"),
    ],
)
def test_failure_keeps_the_previous_pdf_and_leaves_no_temp_files(page, monkeypatch, body, message):
    previous = page.with_suffix(".pdf")
    previous.write_bytes(b"%PDF-old")
    monkeypatch.setenv(CHROMIUM_ENV, str(fake_browser(page.parent, body)))
    with pytest.raises(RenderError, match=message):
        write_pdf(page, previous)
    assert previous.read_bytes() == b"%PDF-old"
    assert leftovers(page.parent) == []


def test_a_hanging_chromium_is_stopped_with_its_children(page, monkeypatch):
    pids = page.parent / "pids"
    # the stand-in starts a child that would outlive it, then hangs itself
    script = fake_browser(page.parent, f"sleep 30 & echo $! > {pids}\nsleep 30")
    monkeypatch.setenv(CHROMIUM_ENV, str(script))
    start = time.monotonic()
    with pytest.raises(RenderError, match=r"longer than 0.5 s"):
        write_pdf(page, page.with_suffix(".pdf"), timeout=0.5)
    assert time.monotonic() - start < 10
    assert not page.with_suffix(".pdf").exists() and leftovers(page.parent) == []
    child = int(pids.read_text())
    for _ in range(50):  # the kill is sent; give the kernel a moment
        if not running(child):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the browser's child process {child} is still running")


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
