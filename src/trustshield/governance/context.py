"""Which rules likely apply: a short applicability questionnaire for a deployment.

:func:`assess_context` takes the answers (from a YAML file or asked on the command line)
and returns the likely EU AI Act classification with the provisions behind it, and the
use case whose practices apply. It reads the Regulation (EU) 2024/1689 as follows, for the
uses TrustShield serves:

- emotion recognition of people at work is a prohibited practice (Art. 5(1)(f));
- biometric *verification* whose sole purpose is to confirm that a person is who they
  claim to be is excluded from the high-risk biometric systems of Annex III point 1(a);
  remote biometric identification is high-risk;
- a component used solely for cybersecurity is not a "safety component" of critical
  infrastructure (Recital 55), so Annex III point 2 does not catch it; a safety component
  that does more than that is high-risk;
- monitoring and evaluating the behaviour of workers (for example insider-threat scores of
  named employees) falls under Annex III point 4(b), high-risk;
- every provider and deployer owes AI literacy (Art. 4, applicable since 2 February 2025);
  Annex III high-risk obligations apply from 2 August 2026 as adopted in 2024; a 2026
  amendment is reported to defer them, so the result says to check the Official Journal.

This is orientation, not legal advice: the result says so in every form.
"""

from __future__ import annotations

from collections.abc import Mapping

from trustshield.errors import DataError

USE_CASES = (
    "intrusion detection",
    "anomaly detection",
    "authentication",
    "web attack detection",
    "phishing",
)
SETTINGS = (
    "enterprise network",
    "critical infrastructure",
    "public service",
    "cloud service",
    "research",
)
QUESTIONS = {
    "use_case": f"Which use case? one of: {', '.join(USE_CASES)}",
    "deployment": f"Deployment setting? one of: {', '.join(SETTINGS)}",
    "biometric_data": "Does it process biometric data (typing rhythm, mouse movement, face, voice)? yes/no",
    "biometric_purpose": "If so, only to confirm a person is who they claim to be (verification)? yes/no",
    "safety_component": "Is it a safety component of critical infrastructure beyond cybersecurity? yes/no",
    "monitors_workers": "Does it monitor or evaluate the behaviour of named workers? yes/no",
    "infers_emotions": "Does it infer emotions of people at work? yes/no",
    "affected": "Who is affected? (free text, e.g. employees, customers, the public)",
}
CAVEAT = (
    "Orientation only, not legal advice: the classification depends on facts this "
    "questionnaire does not see; confirm it with counsel."
)
YES, NO = ("yes", "y", "true", True), ("no", "n", "false", False)


def assess_context(answers: Mapping) -> dict:
    """Validated answers → {classification, reasons (text, reference), obligations,
    use_case, caveat}."""
    a = _validated(answers)
    reasons, classification = [], "minimal risk"
    if a["infers_emotions"]:
        classification = "prohibited practice"
        reasons.append(("infers emotions of people at work", "EU AI Act Art. 5(1)(f)"))
    if a["biometric_data"] and not a["biometric_purpose"]:
        classification = _higher(classification, "high-risk")
        reasons.append(
            ("biometric identification, not only verification", "EU AI Act Annex III 1(a)")
        )
    elif a["biometric_data"]:
        reasons.append(
            (
                "biometric verification only: excluded from Annex III 1(a)",
                "EU AI Act Annex III 1(a)",
            )
        )
    if a["safety_component"]:
        classification = _higher(classification, "high-risk")
        reasons.append(("safety component of critical infrastructure", "EU AI Act Annex III 2"))
    elif a["deployment"] == "critical infrastructure":
        reasons.append(
            ("used solely for cybersecurity: not a safety component", "EU AI Act Recital 55")
        )
    if a["monitors_workers"]:
        classification = _higher(classification, "high-risk")
        reasons.append(
            ("monitors or evaluates the behaviour of workers", "EU AI Act Annex III 4(b)")
        )
    obligations = [("AI literacy of staff who operate it", "EU AI Act Art. 4")]
    if classification == "high-risk":
        obligations += [
            (
                "risk management, data governance, documentation, record-keeping, "
                "transparency, human oversight, accuracy and robustness",
                "EU AI Act Art. 9-15 (Annex III: from 2 August 2026 as adopted; check "
                "the Official Journal for a later deferral)",
            )
        ]
    if classification == "prohibited practice":
        obligations = [("must not be placed on the market or used", "EU AI Act Art. 5")]
    return {
        "classification": classification,
        "reasons": [{"reason": r, "reference": ref} for r, ref in reasons],
        "obligations": [{"obligation": o, "reference": ref} for o, ref in obligations],
        "use_case": a["use_case"],
        "deployment": a["deployment"],
        "affected": a["affected"],
        "caveat": CAVEAT,
    }


def _higher(current: str, new: str) -> str:
    order = ("minimal risk", "high-risk", "prohibited practice")
    return max(current, new, key=order.index)


def _validated(answers: Mapping) -> dict:
    if not isinstance(answers, Mapping):
        raise DataError(
            f"answers must be a mapping of question → answer; got {type(answers).__name__}"
        )
    unknown = sorted(set(answers) - set(QUESTIONS))
    if unknown:
        raise DataError(f"unknown question(s) {unknown}; expected some of {sorted(QUESTIONS)}")
    out = {}
    for key, allowed in (("use_case", USE_CASES), ("deployment", SETTINGS)):
        value = answers.get(key)
        if value not in allowed:
            raise DataError(f"{key}: expected one of {list(allowed)}, got {value!r}")
        out[key] = value
    for key in (
        "biometric_data",
        "biometric_purpose",
        "safety_component",
        "monitors_workers",
        "infers_emotions",
    ):
        value = answers.get(key, "no" if key != "biometric_purpose" else "yes")
        value = value.strip().lower() if isinstance(value, str) else value
        if value not in YES + NO:
            raise DataError(f"{key}: expected yes or no, got {answers.get(key)!r}")
        out[key] = value in YES
    out["affected"] = str(answers.get("affected", "") or "not stated")
    return out
