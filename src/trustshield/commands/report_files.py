"""The report files a command writes: report.html, report.json and, unless --no-pdf, report.pdf."""

from __future__ import annotations

from pathlib import Path

from trustshield.commands.progress import console

PDF_HELP = (
    "skip report.pdf, which is otherwise printed from report.html with headless Chromium "
    "(an older report.pdf in the folder is removed so it cannot be mistaken for this run's)"
)


def add_pdf_option(p) -> None:
    p.add_argument("--no-pdf", dest="pdf", action="store_false", help=PDF_HELP)


def write_report_files(report: dict, args) -> str:
    """Write the HTML and its JSON twin, then the PDF; return the lines naming the files.

    The HTML and JSON are the record; the PDF is a print of the HTML. If
    Chromium is missing or fails, the command still succeeds with the other
    two files and warns in one line on stderr why there is no PDF.
    """
    from trustshield.errors import RenderError
    from trustshield.report import write_pdf, write_report

    html, js = write_report(report, args.out)
    lines = [f"report: {html}", f"json:   {js}"]
    pdf = html.with_suffix(".pdf")
    if getattr(args, "pdf", True):
        try:
            lines.append(f"pdf:    {write_pdf(html, pdf)}")
        except RenderError as exc:
            _drop_stale(pdf)
            console.print(
                f"warning: report.pdf not written: {exc}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    else:
        _drop_stale(pdf)
    return "\n".join(lines)


def _drop_stale(pdf: Path) -> None:
    """Remove a report.pdf left by an earlier run: it would not match the new report.html."""
    pdf.unlink(missing_ok=True)
