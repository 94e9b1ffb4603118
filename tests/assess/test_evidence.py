"""Evidence verdicts follow the measured figure; a missing figure is never a pass."""

from trustshield.assess.evidence import BARS, performance_evidence


def figures(accuracy=0.95, fpr=0.01, error=1e-12, sha="ab" * 32):
    return {
        "metrics": {"accuracy": accuracy, "fpr": fpr},
        "explanation": {"explained_rows": 10, "max_abs_sum_error": error},
        "dataset": {"sha256": sha},
    }


def verdicts(evidence):
    return {e.check: e.status for e in evidence}


def test_figures_within_bars_pass():
    assert set(verdicts(performance_evidence(figures())).values()) == {"pass"}


def test_each_bar_fails_on_its_own_figure():
    assert (
        verdicts(performance_evidence(figures(accuracy=BARS["accuracy"] - 0.01)))["detection"]
        == "fail"
    )
    assert verdicts(performance_evidence(figures(fpr=BARS["fpr"] + 0.01)))["false alarms"] == "fail"
    assert verdicts(performance_evidence(figures(error=1e-3)))["explanation exactness"] == "fail"


def test_missing_figures_are_not_evidenced():
    evidence = verdicts(performance_evidence({}))
    assert set(evidence.values()) == {"not_evidenced"}


def test_every_piece_of_evidence_names_principles():
    assert all(e.principles for e in performance_evidence(figures()))


def test_an_unknown_status_is_refused():
    import pytest
    from trustshield.records import Evidence

    with pytest.raises(ValueError, match="not_evidenced"):
        Evidence("detection", "accuracy", 0.9, 0.9, "passed")
