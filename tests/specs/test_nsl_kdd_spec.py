"""The built-in nsl-kdd spec: its shape, its label maps, and that it fits the real files."""

from __future__ import annotations

import pandas as pd
import pytest

from trustshield.errors import DatasetMissing
from trustshield.ingest import known_files, locate
from trustshield.ingest.tabular import TableSource
from trustshield.specs import builtin_spec_names, load_spec

SPEC = load_spec("nsl-kdd")


def test_nsl_kdd_is_builtin():
    assert "nsl-kdd" in builtin_spec_names()
    assert SPEC.name == "nsl-kdd" and SPEC.dataset == "nsl-kdd"


def test_nsl_kdd_has_41_features_then_label_and_difficulty():
    assert len(SPEC.features) == 41
    assert len(set(SPEC.feature_names)) == 41
    assert SPEC.label_column == "label" and SPEC.normal_label == "normal"
    assert SPEC.column("label").type == "label" and SPEC.column("label").role == "label"
    assert SPEC.column("difficulty").role == "metadata"
    assert SPEC.column_names[-2:] == ("label", "difficulty")
    assert SPEC.header is False


def test_every_attack_maps_to_a_listed_technique():
    assert SPEC.category_of_attack, "no attacks listed"
    assert set(SPEC.category_of_attack.values()) == set(SPEC.technique_of_category)
    for attack, category in SPEC.category_of_attack.items():
        assert SPEC.category(attack) == category
        technique = SPEC.technique(attack=attack)
        assert technique in SPEC.technique_names, f"{attack} → {technique} not listed"
    for category, technique in SPEC.technique_of_category.items():
        assert technique in SPEC.technique_names, f"{category} → {technique} not listed"


def test_attack_level_techniques_name_known_attacks():
    for attack in SPEC.technique_of_attack:
        assert attack in SPEC.category_of_attack, f"{attack} has a technique but no category"


def test_relations_only_involve_declared_feature_columns():
    for relation in SPEC.relations:
        for name in relation.involved():
            assert name in SPEC.feature_names


def test_files_record_sha256_and_rows():
    assert len(SPEC.files) == 3
    for f in SPEC.files:
        assert len(f.sha256) == 64 and f.rows and f.rows > 0


def _real_path(name: str):
    known = {k.name: k for k in known_files().get("nsl-kdd", ())}
    if name not in known:
        pytest.skip(f"nsl-kdd/{name} is not a known file of the built-in specs")
    try:
        return locate("nsl-kdd", known[name])
    except DatasetMissing as exc:
        pytest.skip(f"real NSL-KDD data not available ({exc})")


@pytest.mark.parametrize("source_file", SPEC.files, ids=[f.name for f in SPEC.files])
def test_spec_holds_on_every_row_of_the_real_file(source_file):
    path = _real_path(source_file.name)
    source = TableSource(path, SPEC)  # on_error="raise": any invalid row fails here
    frame = pd.concat([batch.frame for batch in source], ignore_index=True)
    assert source.rejected_rows == 0
    assert source.rows_read == source_file.rows
    assert len(frame) == source_file.rows
    for relation in SPEC.relations:
        assert int(relation.violated(frame).sum()) == 0, relation.name
    labels = frame[SPEC.label_column]
    unknown = sorted({v for v in labels if SPEC.category(v) == "unknown"})
    assert unknown == [], f"labels without a category in {source_file.name}: {unknown}"
