"""Training labels against the spec's attack → category map: a misspelt name is reported,
with the nearest listed name; with ``label.closed: true`` it stops training."""

from __future__ import annotations

import warnings

import pytest
import yaml

from trustshield.errors import DataError, SpecError
from trustshield.specs import parse_spec
from trustshield.specs.labels import check_labels
from trustshield.specs.writing import spec_yaml


def spec(closed: bool | None = None):
    label = {
        "column": "label",
        "normal": "normal",
        "categories": {
            "DoS": {"technique": "T1499", "attacks": ["neptune", "smurf"]},
            "Probe": {"technique": "T1046", "attacks": ["portsweep", "satan"]},
        },
    }
    if closed is not None:
        label["closed"] = closed
    return parse_spec(
        {
            "name": "l",
            "columns": [{"name": "n", "type": "integer"}, {"name": "label", "type": "label"}],
            "label": label,
            "techniques": {"T1499": "Endpoint DoS", "T1046": "Network Service Discovery"},
        }
    )


LABELS = ["normal"] * 5 + ["neptune"] * 3 + ["Smurff"] * 2 + ["portswep", "teardrop"]


def test_unlisted_labels_are_warnings_with_the_nearest_listed_name():
    check = check_labels(spec(), LABELS)
    found = {u.label: (u.rows, u.suggestion) for u in check.unlisted}
    assert found == {
        "Smurff": (2, "smurf"),
        "portswep": (1, "portsweep"),
        "teardrop": (1, None),
    }
    assert check.errors == () and len(check.warnings) == 3
    assert "did you mean 'smurf'?" in check.warnings[0]
    assert check.absent == ("portsweep", "satan", "smurf")
    check.raise_errors("train.csv")  # open map: nothing raised


def test_a_closed_map_makes_unlisted_labels_an_error_naming_each():
    check = check_labels(spec(closed=True), LABELS)
    assert check.warnings == ()
    with pytest.raises(DataError) as info:
        check.raise_errors("train.csv")
    message = str(info.value)
    assert message.startswith("train.csv: label.closed is true")
    for fragment in ("'Smurff' (2 rows)", "did you mean 'smurf'?", "'teardrop' (1 row)"):
        assert fragment in message


def test_a_clean_training_set_and_a_spec_without_categories_give_nothing():
    assert check_labels(spec(closed=True), ["normal", "neptune", "satan"]).unlisted == ()
    identity = parse_spec({"name": "i", "columns": [{"name": "who", "type": "label"}]})
    assert check_labels(identity, ["alice", "bob"]).unlisted == ()


def test_closed_is_a_boolean_and_round_trips():
    assert spec(closed=True).closed_labels and not spec().closed_labels
    assert parse_spec(yaml.safe_load(spec_yaml(spec(closed=True)))) == spec(closed=True)
    with pytest.raises(SpecError, match="label.closed"):
        spec(closed="yes")


def test_an_unknown_label_key_is_refused():
    raw = yaml.safe_load(spec_yaml(spec()))
    raw["label"]["closd"] = True
    with pytest.raises(SpecError, match="closd"):
        parse_spec(raw)


def test_notebook_training_warns_or_refuses_before_fitting(monkeypatch):
    """trustshield.train checks the labels before any model is fitted."""
    import pandas as pd

    from trustshield import notebook

    frame = pd.DataFrame({"n": [1, 2, 3, 4], "label": ["normal", "normal", "neptun", "satan"]})
    with pytest.raises(DataError, match="did you mean 'neptune'"):
        notebook.train(frame, spec(closed=True))

    class Fitted(Exception):
        """Raised in place of fitting: the check ran before it."""

    def fit(*args, **kwargs):
        raise Fitted

    monkeypatch.setattr(notebook, "train_pipeline", fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Fitted):
            notebook.train(frame, spec())
    assert any("did you mean 'neptune'" in str(w.message) for w in caught)
