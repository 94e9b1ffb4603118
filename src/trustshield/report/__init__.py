"""Trust report rendering: one self-contained HTML page plus its JSON twin.

``render_html(report) -> str`` and ``write_report(report, out_dir) -> (html_path, json_path)``;
see :mod:`trustshield.report.html` for the report dict and its conventions.
"""

from trustshield.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]
