"""``trustshield domains score``: verdicts with exact character attributions, from a file
or standard input; clear errors for no names, a bad name and a missing model."""

import io
import json

import numpy as np
import pytest

from domain_samples import domain_names
from trustshield.atomic_files import write_atomic
from trustshield.cli import main
from trustshield.errors import ModelIntegrityError
from trustshield.commands.domains import MODEL_FILE, shade
from trustshield.pipeline.domains import model_document, model_from_document, train


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    X, y = domain_names()
    model = train(np.asarray(X["domain"]), y, synthetic=40, pseudo=20, n_estimators=30)
    folder = tmp_path_factory.mktemp("domain-model")
    document = model_document(model, {"file": "made up in the test"})
    write_atomic(folder / MODEL_FILE, json.dumps(document).encode())
    return folder, model


def test_json_verdicts_are_exact_and_alert_above_the_threshold(model_folder, tmp_path, capsys):
    folder, model = model_folder
    names = tmp_path / "names.txt"
    names.write_text("# a comment\nhomecity.com\n\nqxzjkvwbfghqxz.net\n")
    assert main(["domains", "score", str(names), "--model", str(folder), "--json"]) == 0
    verdicts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [v["domain"] for v in verdicts] == ["homecity.com", "qxzjkvwbfghqxz.net"]
    for v in verdicts:
        assert abs(v["base"] + sum(v["characters"]) - v["score"]) <= 1e-9
        assert len(v["characters"]) == len(v["name"])
        assert v["alert"] == (v["score"] > model.threshold)
    assert not verdicts[0]["alert"] and verdicts[1]["alert"]
    assert verdicts[1]["family"] in ("family-a", "family-b") and verdicts[0]["family"] is None


def test_standard_input_and_text_output(model_folder, monkeypatch, capsys):
    folder, _ = model_folder
    monkeypatch.setattr("sys.stdin", io.StringIO("qxzjkvwbfghqxz.net\n"))
    assert main(["domains", "score", "-", "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "ALERT family-" in out and "qxzjkvwbfghqxz" in out


def test_errors_name_the_problem(model_folder, tmp_path, capsys):
    folder, _ = model_folder
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert main(["domains", "score", str(empty), "--model", str(folder)]) == 1
    assert "no domain names (one per line expected)" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("example.com\nпример.рф\n")
    assert main(["domains", "score", str(bad), "--model", str(folder)]) == 1
    assert "domain at row 1: expected an ASCII domain name" in capsys.readouterr().err
    assert main(["domains", "score", str(bad), "--model", str(tmp_path)]) == 1
    assert "not a readable domain model" in capsys.readouterr().err


def test_a_document_of_another_format_is_refused():
    with pytest.raises(Exception, match="not a domain model"):
        model_from_document({"format": "something else"})


def test_shade_marks_characters_by_their_push():
    assert shade((4.0, 0.1, -4.0, 2.5)) == "█ -▓"


def test_score_keeps_alerting_domains_in_the_store(model_folder, tmp_path, capsys):
    from trustshield.store import AlertStore

    folder, _ = model_folder
    names = tmp_path / "names.txt"
    names.write_text("homecity.com\nqxzjkvwbfghqxz.net\n")
    store = tmp_path / "alerts.duckdb"
    args = ["domains", "score", str(names), "--model", str(folder), "--json", "--store", str(store)]
    assert main(args) == 0
    verdicts = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"
    ]
    assert main(args) == 0  # the same input again adds no alert
    with AlertStore(store) as s:
        alerts = s.alerts()
        runs = s.audit.events("domains.run")
    alerting = [v for v in verdicts if v["alert"]]
    assert len(alerts) == len(alerting) >= 1 and len(runs) == 2
    row = alerts.iloc[0]
    assert row["technique"] == "T1568.002" and row["category"] == alerting[0]["family"]
    assert "".join(chr(int(v)) for v in row["feature_values"]) == alerting[0]["domain"]
    assert row["base"] + sum(row["attributions"]) == pytest.approx(row["suspicion"], abs=1e-9)
    assert main(["explain", row["alert_id"], "--store", str(store)]) == 0
    assert "characters that pushed most" in capsys.readouterr().out


def test_an_altered_model_document_is_refused(model_folder):
    _, model = model_folder
    document = json.loads(json.dumps(model_document(model, {"file": "t"})))
    assert model_from_document(document).threshold == model.threshold
    document["threshold"] = document["threshold"] + 100  # every domain would pass
    with pytest.raises(ModelIntegrityError, match="does not match its sha256"):
        model_from_document(document)
    del document["sha256"]
    with pytest.raises(ModelIntegrityError, match="sha256"):
        model_from_document(document)
