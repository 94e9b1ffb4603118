"""The built-in meu-mobile-ksd spec: its shape, every row of the real file, the relations
the spec cannot express, and the loader's message when the file is absent."""

from __future__ import annotations

import numpy as np
import pytest

from trustshield.errors import DatasetMissing
from trustshield.ingest import known_files, locate
from trustshield.ingest import datasets as ds
from trustshield.ingest.keystroke import load_keystroke_data
from trustshield.ingest.tabular import TableSource
from trustshield.specs import builtin_spec_names, load_spec

SPEC = load_spec("meu-mobile-ksd")
KEYS = [".", "t", "i", "e", "Shift", "5", "Shift.1", "Caps", "r", "o", "a", "n", "l", "Enter"]


def test_shape_of_the_spec():
    assert "meu-mobile-ksd" in builtin_spec_names() and SPEC.dataset == "meu-mobile-ksd"
    assert SPEC.label_column == "Subject" and SPEC.normal_label is None
    assert SPEC.column("Subject").role == "label" and SPEC.column_names[0] == "Subject"
    assert len(SPEC.features) == 71
    groups = {
        p: [f for f in SPEC.feature_names if f.startswith(p + " ")]
        for p in ("Hold", "DD", "UD", "Pressure", "Size")
    }
    assert [len(groups[p]) for p in groups] == [14, 13, 13, 14, 14]
    assert groups["Hold"] == [f"Hold {k}" for k in KEYS]
    assert all(c.attacker == "any" for c in SPEC.features)
    assert [f.rows for f in SPEC.files] == [2856]


@pytest.fixture(scope="module")
def real():
    known = {k.name: k for k in known_files().get("meu-mobile-ksd", ())}
    try:
        path = locate("meu-mobile-ksd", known["meu_mobile_ksd_2016.csv"])
    except DatasetMissing as exc:
        pytest.skip(f"real MEU-Mobile KSD data not available ({exc})")
    source = TableSource(path, SPEC)  # on_error="raise": any invalid row fails here
    return source, source.read_all()


def test_spec_holds_on_every_row_of_the_real_file(real):
    source, frame = real
    assert source.rejected_rows == 0 and source.rows_read == len(frame) == 2856
    counts = frame["Subject"].value_counts()
    assert len(counts) == 56 and (counts == 51).all()


def test_relations_the_spec_language_cannot_express_hold_on_the_real_file(real):
    _, frame = real
    for first, second in zip(KEYS[:-1], KEYS[1:]):
        pair = f"{first}.{second}".replace("Shift.1", "Shift")
        flight = frame[f"DD {pair}"] - frame[f"Hold {first}"]
        assert np.array_equal(frame[f"UD {pair}"].to_numpy(), flight.to_numpy()), pair
    for average, prefix in (("AvH", "Hold"), ("AvP", "Pressure"), ("AvA", "Size")):
        mean = frame[[f"{prefix} {k}" for k in KEYS]].mean(axis=1)
        np.testing.assert_allclose(frame[average], mean, rtol=1e-9)


def test_loader_returns_subject_then_features_in_file_order(real):
    data = load_keystroke_data()
    assert list(data.frame.columns) == ["Subject", *SPEC.feature_names]
    assert data.sha256 == SPEC.files[0].sha256
    assert data.frame["Subject"].iloc[0] == "1" and data.frame["Subject"].iloc[-1] == "56"


def test_loader_names_the_missing_file_and_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTSHIELD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRUSTSHIELD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "_sha_cache", {})
    with pytest.raises(DatasetMissing) as info:
        load_keystroke_data()
    message = str(info.value)
    assert "meu-mobile-ksd/meu_mobile_ksd_2016.csv" in message
    assert str(tmp_path / "data" / "meu-mobile-ksd" / "meu_mobile_ksd_2016.csv") in message
    assert "TRUSTSHIELD_DATA_DIR" in message


def test_the_relations_above_are_expression_relations_that_hold_on_every_real_row(real):
    """The same relations, stated in the spec language (arithmetic ``expression``
    relations on backquoted column names), accept every row of the real file and reject a
    row whose flight time no longer matches."""
    from dataclasses import replace

    from trustshield.ingest.validate import check_frame
    from trustshield.specs import Relation

    _, frame = real
    relations = [
        Relation(
            kind="expression",
            name=f"flight {first} to {second}",
            expression=f"`UD {pair}` = `DD {pair}` - `Hold {first}`",
        )
        for first, second in zip(KEYS[:-1], KEYS[1:])
        for pair in [f"{first}.{second}".replace("Shift.1", "Shift")]
    ]
    for average, prefix in (("AvH", "Hold"), ("AvP", "Pressure"), ("AvA", "Size")):
        total = " + ".join(f"`{prefix} {k}`" for k in KEYS)
        relations.append(
            Relation(
                kind="expression",
                name=f"{average} is the mean",
                expression=f"{average} = ({total}) / {len(KEYS)}",
            )
        )
    spec = replace(SPEC, relations=tuple(relations))
    raw = frame.astype(str)
    raw.loc[7, "UD t.i"] = str(int(frame.loc[7, "UD t.i"]) + 5)
    checked = check_frame(raw, spec, file="ksd.csv", lines=np.arange(2, 2 + len(raw)))
    assert checked.rejected_rows == 1
    assert [(p.line, p.expected.split(":")[0]) for p in checked.problems] == [
        (9, "relation 'flight t to i'")
    ]
