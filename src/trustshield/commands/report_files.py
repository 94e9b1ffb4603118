"""The report files a command writes: report.html, report.json and, unless --no-pdf, report.pdf."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trustshield.commands.progress import console

PDF_HELP = (
    "skip report.pdf, which is otherwise printed from report.html with headless Chromium "
    "(an older report.pdf in the folder is removed so it cannot be mistaken for this run's)"
)


def add_pdf_option(p) -> None:
    p.add_argument("--no-pdf", dest="pdf", action="store_false", help=PDF_HELP)


@dataclass(frozen=True)
class ReportFiles:
    """The files a report command wrote (``pdf`` None when none was printed)."""

    html: Path
    json: Path
    pdf: Path | None

    def lines(self) -> str:
        """One line per file, as the commands print them."""
        named = [("report", self.html), ("json", self.json), ("pdf", self.pdf)]
        return "\n".join(f"{f'{name}:':<7} {path}" for name, path in named if path is not None)

    def as_dict(self) -> dict[str, str | None]:
        return {k: None if v is None else str(v) for k, v in vars(self).items()}


def write_report_files(report: dict, args) -> ReportFiles:
    """Write the HTML and its JSON twin, then the PDF; return the files written.

    The HTML and JSON are the record; the PDF is a print of the HTML. If
    Chromium is missing or fails, the command still succeeds with the other
    two files and warns in one line on stderr why there is no PDF.
    """
    from trustshield.errors import RenderError
    from trustshield.report import write_pdf, write_report

    html, js = write_report(report, args.out)
    pdf = html.with_suffix(".pdf")
    printed = None
    if getattr(args, "pdf", True):
        try:
            printed = write_pdf(html, pdf)
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
    return ReportFiles(Path(html), Path(js), None if printed is None else Path(printed))


def _drop_stale(pdf: Path) -> None:
    """Remove a report.pdf left by an earlier run: it would not match the new report.html."""
    pdf.unlink(missing_ok=True)
