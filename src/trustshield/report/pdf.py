"""Print the trust report HTML to ``report.pdf`` with headless Chromium.

The PDF is the same page as ``report.html``: Chromium loads the file from
disk (``file://``; the page fetches nothing) and prints it with the page's own
``@media print`` rules, without the browser's header and footer lines.

:func:`write_pdf` finds the browser through ``$TRUSTSHIELD_CHROMIUM`` or the
``chromium`` program on ``PATH``, runs it in a throw-away profile with a time
limit, and moves the finished file into place with ``os.replace``, so a
failed or interrupted print never leaves a half-written ``report.pdf``.
Failures raise :class:`trustshield.errors.RenderError` saying what went wrong
(and, when the browser is missing, how to install it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from trustshield.atomic_files import temp_beside
from trustshield.errors import DataError, RenderError

CHROMIUM_ENV = "TRUSTSHIELD_CHROMIUM"
"""Environment variable naming the Chromium executable to use."""

DEFAULT_TIMEOUT = 90.0
"""Seconds Chromium may take to print one report before it is stopped."""

_PROGRAMS = ("chromium", "chromium-browser")
_INSTALL_HINT = "install it with `apt-get install chromium` (Debian/Ubuntu)"


def find_chromium() -> str:
    """Path of the Chromium executable: ``$TRUSTSHIELD_CHROMIUM`` or ``chromium`` on PATH."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        found = shutil.which(named)
        if found is None:
            raise RenderError(
                f"${CHROMIUM_ENV} is {named!r}, which is not an executable program; "
                f"point it at Chromium or {_INSTALL_HINT}"
            )
        return found
    for program in _PROGRAMS:
        found = shutil.which(program)
        if found is not None:
            return found
    raise RenderError(
        f"Chromium is needed to write the PDF report and was not found on PATH; "
        f"{_INSTALL_HINT}, or set ${CHROMIUM_ENV} to its path"
    )


def write_pdf(
    html_path: str | os.PathLike[str],
    pdf_path: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; return ``pdf_path``.

    The PDF is written to a temp file next to ``pdf_path`` and moved into
    place only once Chromium has finished and the file starts with ``%PDF``.
    Raises :class:`DataError` if the HTML file does not exist and
    :class:`RenderError` if Chromium is missing, fails, or runs longer than
    ``timeout`` seconds.
    """
    source = Path(html_path).resolve()
    if not source.is_file():
        raise DataError(f"cannot print {str(source)!r} to PDF: no such file")
    target = Path(pdf_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    browser = find_chromium()
    with temp_beside(target) as partial:
        with tempfile.TemporaryDirectory(prefix="trustshield-chromium-") as profile:
            command = [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--mute-audio",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={partial}",
                source.as_uri(),
            ]
            code, errors = _run(command, timeout)
        if code != 0:
            raise RenderError(
                f"Chromium could not print {source.name} to PDF (exit code {code})"
                + (f": {errors}" if errors else "")
            )
        with open(partial, "rb") as pdf:
            head = pdf.read(5)
        if head != b"%PDF-":
            raise RenderError(
                f"Chromium did not write a PDF for {source.name}"
                + (f": {errors}" if errors else "")
            )
        os.replace(partial, target)
    return target


def _run(command: list[str], timeout: float) -> tuple[int, str]:
    """Run Chromium in its own process group; stop the whole group if it overruns."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise RenderError(
            f"Chromium ({command[0]}) could not be started: {exc}; {_INSTALL_HINT}"
        ) from exc
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        raise RenderError(
            f"Chromium took longer than {timeout:g} s to print the report and was stopped"
        ) from None
    except BaseException:
        _stop_group(process)
        raise
    return process.returncode, _last_error(stderr.decode("utf-8", "replace"))


def _stop_group(process: subprocess.Popen) -> None:
    """Kill the process group this module started (the browser and its helpers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.communicate()


def _last_error(stderr: str) -> str:
    """The last line of Chromium's log worth showing (its D-Bus chatter is not)."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and "dbus" not in line.lower() and "bytes written to file" not in line
    ]
    return lines[-1][:300] if lines else ""
