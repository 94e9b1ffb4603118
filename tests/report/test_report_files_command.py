"""`report` and `assess` write report.pdf by default; without Chromium they warn in one line and
still write the HTML and JSON; --no-pdf skips the PDF and removes a stale one."""

from __future__ import annotations

from argparse import Namespace

from test_report_html import make_report
from trustshield.cli import build_parser
from trustshield.commands.report_files import write_report_files
from trustshield.report.pdf import CHROMIUM_ENV


def test_both_report_commands_write_the_pdf_unless_told_not_to():
    parser = build_parser()
    for command in (["report"], ["assess"]):
        base = command + ["--model", "m", "--data", "d"]
        assert parser.parse_args(base).pdf is True
        assert parser.parse_args(base + ["--no-pdf"]).pdf is False


def test_without_chromium_html_and_json_are_written_with_a_one_line_warning(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-chromium-here"))
    (tmp_path / "report.pdf").write_bytes(b"%PDF- from an earlier run")
    files = write_report_files(make_report(), Namespace(out=tmp_path, pdf=True))
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.json").is_file()
    assert not (tmp_path / "report.pdf").exists(), "a stale PDF would not match the new HTML"
    assert files.pdf is None and "pdf:" not in files.lines()
    assert files.as_dict()["html"] == str(tmp_path / "report.html")
    warning = capsys.readouterr().err.strip()
    assert (
        warning.startswith("warning: report.pdf not written:")
        and "apt-get install chromium" in warning
    )
    assert "\n" not in warning


def test_no_pdf_runs_no_browser_and_removes_a_stale_pdf(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(
        CHROMIUM_ENV, str(tmp_path / "no-chromium-here")
    )  # would warn if it were tried
    (tmp_path / "report.pdf").write_bytes(b"%PDF- from an earlier run")
    write_report_files(make_report(), Namespace(out=tmp_path, pdf=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
    assert capsys.readouterr().err == ""
