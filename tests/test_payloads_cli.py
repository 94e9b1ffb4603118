"""`trustshield payloads train | detect | evade` end to end on a small payload file."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from trustshield.cli import main
from trustshield.errors import ModelIntegrityError
from trustshield.pipeline.payload_model import load_payload_model
from trustshield.store import AlertStore
from trustshield.store import tokens as token_table
from trustshield.store.tokens import TokenTable

NORMAL = [
    "madrid",
    "calle mayor 5",
    "juan@example.org",
    "28001",
    "perez garcia",
    "1234567890",
    "ana lopez",
    "avenida sol 12",
    "08001",
    "maria",
]
ATTACK = [
    ("1' or 1=1--", "sqli"),
    ("1 union select null,null--", "sqli"),
    ("<script>alert(1)</script>", "xss"),
    ("<img src=x onerror=alert(1)>", "xss"),
    ("../../etc/passwd", "path-traversal"),
    ("a;/usr/bin/id", "cmdi"),
]


def write_csv(path, rows):
    lines = ['"payload","attack_type"'] + ['"' + p.replace('"', '""') + f'","{t}"' for p, t in rows]
    path.write_text("\r\n".join(lines) + "\r\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("payloads")
    rows = [(p, "norm") for p in NORMAL] * 3 + ATTACK * 3
    write_csv(folder / "train.csv", rows)
    code = main(
        [
            "payloads",
            "train",
            "--data",
            str(folder / "train.csv"),
            "--out",
            str(folder / "model.json"),
            "--folds",
            "2",
            "--augment",
            "1",
            "--bits",
            "12",
        ]
    )
    assert code == 0
    return folder


def test_detect_flags_names_and_explains_a_payload(trained, capsys, tmp_path):
    code = main(
        [
            "payloads",
            "detect",
            "--model",
            str(trained / "model.json"),
            "--payload",
            "<script>alert(7)</script>",
            "--payload",
            "madrid",
            "--html",
            str(tmp_path / "page.html"),
        ]
    )
    assert code == 0
    page = (tmp_path / "page.html").read_text()
    assert page.count('<code class="payload">') == 2 and "xss (CWE-79, T1190)" in page
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    attack, normal = records
    assert attack["flagged"] and attack["attack_type"] == "xss" and attack["cwe"] == "CWE-79"
    assert attack["technique"] == "T1190" and not normal["flagged"] and normal["cwe"] is None
    e = attack["explanation"]
    assert abs(e["base"] + sum(e["chars"]) - e["score"]) < 1e-9
    assert len(e["chars"]) == len(attack["payload"]) and e["ngrams"][0]["spans"]


def test_a_changed_model_file_is_refused(trained, tmp_path):
    doc = json.loads((trained / "model.json").read_text())
    doc["threshold"] = -100.0
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(ModelIntegrityError, match="does not match its sha256"):
        load_payload_model(tmp_path / "m.json")


def test_evade_is_refused_without_a_red_team_token_and_audited(
    trained, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("TRUSTSHIELD_TOKEN", raising=False)
    store = tmp_path / "s.duckdb"
    code = main(
        [
            "payloads",
            "evade",
            "--model",
            str(trained / "model.json"),
            "--data",
            str(trained / "train.csv"),
            "--purpose",
            "review",
            "--store",
            str(store),
        ]
    )
    assert code == 1
    with AlertStore(store) as s:
        refused = s.audit.events("redteam.refused")
    assert refused and refused[0]["details"]["command"] == "redteam payloads evade"


def test_evade_with_a_red_team_token_reports_counts_and_audits_the_run(
    trained, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        token_table, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    store = tmp_path / "s.duckdb"
    with AlertStore(store, actor="admin") as s:
        token, _ = TokenTable(s).create("red team", ["red-team"])
    monkeypatch.setenv("TRUSTSHIELD_TOKEN", token)
    code = main(
        [
            "payloads",
            "evade",
            "--model",
            str(trained / "model.json"),
            "--data",
            str(trained / "train.csv"),
            "--purpose",
            "review",
            "--store",
            str(store),
            "--tries",
            "3",
        ]
    )
    assert code == 0
    assert "flagged attacks evaded" in capsys.readouterr().out
    with AlertStore(store) as s:
        (run,) = s.audit.events("redteam.run")
    summary = run["details"]["summary"]
    assert 0 <= summary["evaded"] <= summary["caught"] <= len(ATTACK) * 3


def test_assess_writes_a_trust_report_with_evidence_and_governance(trained, tmp_path):
    out = tmp_path / "report.json"
    code = main(
        [
            "payloads",
            "assess",
            "--model",
            str(trained / "model.json"),
            "--data",
            str(trained / "train.csv"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    checks = {e["check"]: e for e in report["evidence"]}
    assert {"detection", "false alarms", "explanation exactness", "evasion resistance"} <= set(
        checks
    )
    assert checks["explanation exactness"]["status"] == "pass"
    assert checks["explanation exactness"]["value"] <= 1e-9
    assert report["governance"]["use_case"] == "web attack detection"
    assert report["figures"]["models"]["hardened"]["evasion"]["caught"] > 0


def test_detect_keeps_flagged_payloads_as_alerts_once(trained, tmp_path, capsys):
    store = tmp_path / "alerts.duckdb"
    args = [
        "payloads",
        "detect",
        "--model",
        str(trained / "model.json"),
        "--data",
        str(trained / "train.csv"),
        "--flagged-only",
        "--store",
        str(store),
    ]
    assert main(args) == 0
    flagged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(args) == 0  # the same file again adds no alert
    with AlertStore(store) as s:
        alerts = s.alerts()
        runs = s.audit.events("payloads.run")
    assert len(alerts) == len(flagged) > 0 and len(runs) == 2
    row = alerts.iloc[0]
    assert row["technique"] == "T1190" and row["category"] in {
        "sqli",
        "xss",
        "cmdi",
        "path-traversal",
    }
    assert "CWE-" in row["rationale"]
    # one term per character of the payload as sent, its code points beside them
    assert row["base"] + sum(row["attributions"]) == pytest.approx(row["suspicion"], abs=1e-9)
    text = "".join(chr(int(v)) for v in row["feature_values"])
    assert text in {f["payload"] for f in flagged}
    assert main(["explain", alerts.iloc[0]["alert_id"], "--store", str(store)]) == 0
