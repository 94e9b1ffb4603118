"""A DatasetSpec written as YAML loads back to an equal spec (what a model folder stores for a
spec built in Python)."""

import pytest
import yaml

from synthetic import FLOWS_SPEC, SMALL_SPEC
from trustshield.specs import builtin_spec_names, load_spec, parse_spec
from trustshield.specs.writing import spec_document, spec_yaml

SPECS = {
    **{name: load_spec(name) for name in builtin_spec_names()},
    "flows": FLOWS_SPEC,
    "small": SMALL_SPEC,
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_written_yaml_loads_back_to_an_equal_spec(name):
    spec = SPECS[name]
    assert parse_spec(yaml.safe_load(spec_yaml(spec)), origin=name) == spec


def test_a_changed_spec_is_written_with_its_change():
    from dataclasses import replace

    narrower = replace(
        FLOWS_SPEC,
        columns=tuple(replace(c, max=500.0) if c.name == "n" else c for c in FLOWS_SPEC.columns),
    )
    back = parse_spec(yaml.safe_load(spec_yaml(narrower)))
    assert back.column("n").max == 500.0 and back != FLOWS_SPEC


def test_categories_keep_their_attacks_and_technique():
    label = spec_document(FLOWS_SPEC)["label"]
    assert label["categories"] == {
        "DoS": {"technique": "T1499", "attacks": ["flood"]},
        "Probe": {"technique": "T1046", "attacks": ["scan", "sweep"]},
    }
