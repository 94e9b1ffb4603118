"""The applicability questionnaire: likely EU AI Act class, with references and the caveat."""

import pytest

from trustshield.errors import DataError
from trustshield.governance.context import CAVEAT, assess_context

BASE = {"use_case": "intrusion detection", "deployment": "enterprise network"}


def references(result):
    return [r["reference"] for r in result["reasons"]]


def test_an_intrusion_detector_is_minimal_risk_with_ai_literacy():
    result = assess_context(BASE)
    assert result["classification"] == "minimal risk" and result["caveat"] == CAVEAT
    assert result["obligations"] == [
        {"obligation": "AI literacy of staff who operate it", "reference": "EU AI Act Art. 4"}
    ]


def test_cybersecurity_only_in_critical_infrastructure_is_not_a_safety_component():
    result = assess_context(BASE | {"deployment": "critical infrastructure"})
    assert result["classification"] == "minimal risk"
    assert "EU AI Act Recital 55" in references(result)
    result = assess_context(
        BASE | {"deployment": "critical infrastructure", "safety_component": "yes"}
    )
    assert result["classification"] == "high-risk" and "EU AI Act Annex III 2" in references(result)


def test_biometric_verification_is_excluded_but_identification_is_high_risk():
    verification = assess_context(BASE | {"use_case": "authentication", "biometric_data": "yes"})
    assert verification["classification"] == "minimal risk"
    identification = assess_context(
        BASE | {"use_case": "authentication", "biometric_data": "yes", "biometric_purpose": "no"}
    )
    assert identification["classification"] == "high-risk"
    assert any("Art. 9-15" in o["reference"] for o in identification["obligations"])


def test_worker_monitoring_is_high_risk_and_emotion_inference_is_prohibited():
    assert assess_context(BASE | {"monitors_workers": True})["classification"] == "high-risk"
    result = assess_context(BASE | {"monitors_workers": True, "infers_emotions": "yes"})
    assert result["classification"] == "prohibited practice"
    assert result["obligations"][0]["reference"] == "EU AI Act Art. 5"


@pytest.mark.parametrize(
    "answers, named",
    [
        ({"deployment": "enterprise network"}, "use_case"),
        (BASE | {"deployment": "moon"}, "deployment"),
        (BASE | {"biometric_data": "maybe"}, "biometric_data"),
        (BASE | {"colour": "red"}, "colour"),
    ],
)
def test_bad_answers_name_the_question(answers, named):
    with pytest.raises(DataError, match=named):
        assess_context(answers)


def test_the_command_reads_answers_and_prints_the_caveat(tmp_path, capsys):
    import json

    from trustshield.cli import main

    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "use_case: authentication\ndeployment: enterprise network\n"
        "biometric_data: yes\nbiometric_purpose: no\n"
    )
    assert main(["assess-context", "--answers", str(answers), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["classification"] == "high-risk" and result["caveat"] == CAVEAT
    answers.write_text("use_case: nothing\ndeployment: enterprise network\n")
    assert main(["assess-context", "--answers", str(answers)]) == 1
    assert "use_case: expected one of" in capsys.readouterr().err
