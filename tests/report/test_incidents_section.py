"""The trust report's incidents section: built from a store's incidents, it meets the
published schema, reads back typed byte for byte, and the page lists the incidents."""

from __future__ import annotations

import json

import jsonschema
import pytest

from incident_samples import sample
from test_report_html import make_report
from trustshield.commands.modelling import incidents_of
from trustshield.pipeline.report_sections import IncidentsSection, ReportContent
from trustshield.report import render_html, schema
from trustshield.store import AlertStore


def test_a_report_given_a_store_summarises_its_incidents(tmp_path):
    target = tmp_path / "store.duckdb"

    a, b = sample(), sample(host="10.0.0.7", severity="high")
    with AlertStore(target, actor="analyst") as store:
        low, high = store.incidents.add("beh", "conn.log", [a[:2], b[:2]])
        store.incidents.decide(high, "confirmed", "scan")
    section = incidents_of(str(target))
    assert isinstance(section, IncidentsSection)
    assert section.total == 2 and section.by_severity == {"high": 1, "medium": 1}
    assert section.by_status == {"confirmed": 1, "open": 1}
    assert [row.incident_id for row in section.shown] == [high, low]
    assert section.shown[0].behaviours == ("beacon",) and section.shown[0].n_evidence == 40

    report = {**make_report(), "incidents": section.as_dict()}
    validator = jsonschema.Draft202012Validator(schema())
    assert [e.message for e in validator.iter_errors(report)] == []
    typed = ReportContent.from_dict(report)
    assert json.dumps(typed.as_dict()["incidents"], sort_keys=True) == json.dumps(
        report["incidents"], sort_keys=True
    )
    html = render_html(report)
    assert 'id="incidents"' in html and high in html and "10.0.0.7" in html
    assert "By review: confirmed 1, open 1" in html
    assert incidents_of(None) is None
    assert 'id="incidents"' not in render_html(make_report())


def test_the_timeline_chart_highlights_part_of_each_column_and_refuses_more():
    from trustshield.errors import DataError
    from trustshield.report import svg

    drawn = svg.timeline_chart(["<a>", "b", "c"], [3, 0, 5], [1, 0, 0], title="t <x>")
    assert drawn.count('class="bucket evidence"') == 1 and drawn.count('class="bucket"') == 2
    assert "<a>" not in drawn and "&lt;a&gt;" in drawn
    for total, part in (([1], [2]), ([1], [-1]), ([float("nan")], [0])):
        with pytest.raises(DataError):
            svg.timeline_chart(["x"], total, part, title="t")
