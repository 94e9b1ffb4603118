"""Trust report rendering: one self-contained HTML page, its JSON twin and a PDF print of it.

``render_html(report) -> str`` and ``write_report(report, out_dir) -> (html_path, json_path)``
take the typed content (:class:`trustshield.pipeline.report_sections.ReportContent`) or its
plain-JSON dict; the page is drawn by the Jinja2 templates in ``report/templates``; see
:mod:`trustshield.report.html` for its conventions.
``write_pdf(html_path, pdf_path)`` prints the page with headless Chromium
(:mod:`trustshield.report.pdf`).
``schema()`` is the published JSON Schema of ``report.json`` (``report/report.schema.json``).
"""

from trustshield.report.html import render_html, write_report
from trustshield.report.json_schema import schema
from trustshield.report.pdf import write_pdf

__all__ = ["render_html", "schema", "write_pdf", "write_report"]
