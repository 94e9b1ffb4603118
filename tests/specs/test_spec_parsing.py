"""parse_spec / load_spec: a valid spec loads, every malformed one is refused by name."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from trustshield.errors import SpecError
from trustshield.specs import builtin_spec_names, load_spec, parse_spec
from trustshield.specs.loading import COLUMN_KEYS, TOP_KEYS

GOOD_SHA = "ab" * 32


def tiny() -> dict:
    """A small but complete spec, as yaml.safe_load would return it."""
    return {
        "name": "tiny-flows",
        "description": "synthetic flows for tests",
        "source": {
            "dataset": "tiny",
            "format": "csv",
            "header": True,
            "files": [{"name": "flows.csv", "sha256": GOOD_SHA, "rows": 3, "role": "train"}],
        },
        "columns": [
            {
                "name": "bytes",
                "type": "integer",
                "unit": "bytes",
                "min": 0,
                "max": 1000,
                "attacker": "increase",
            },
            {"name": "err", "type": "rate", "attacker": "any"},
            {"name": "rej", "type": "rate", "attacker": "any"},
            {"name": "syn", "type": "binary"},
            {"name": "proto", "type": "categorical", "values": ["tcp", "udp", "icmp"]},
            {"name": "label", "type": "label"},
        ],
        "relations": [
            {
                "kind": "implies",
                "name": "icmp sends nothing",
                "if": {"column": "proto", "in": ["icmp"]},
                "then": {"column": "bytes", "equals": 0},
            },
            {
                "kind": "sum_at_most",
                "name": "errors share a window",
                "columns": ["err", "rej"],
                "limit": 1.0,
                "tolerance": 0.01,
            },
        ],
        "label": {
            "column": "label",
            "normal": "normal",
            "categories": {
                "DoS": {"technique": "T1499", "attacks": ["flood"]},
                "Probe": {"technique": "T1046", "attacks": ["scan", "sweep"]},
            },
            "attack_techniques": {"sweep": "T1018"},
        },
        "techniques": {
            "T1499": "Endpoint Denial of Service",
            "T1046": "Network Service Discovery",
            "T1018": "Remote System Discovery",
        },
    }


def test_tiny_spec_parses_into_its_parts():
    spec = parse_spec(tiny())
    assert spec.name == "tiny-flows"
    assert spec.column_names == ("bytes", "err", "rej", "syn", "proto", "label")
    assert spec.feature_names == ("bytes", "err", "rej", "syn", "proto")
    assert spec.label_column == "label" and spec.column("label").role == "label"
    assert spec.column("bytes").bounds() == (0.0, 1000.0)
    assert spec.column("bytes").attacker == "increase"
    assert spec.column("proto").values == ("tcp", "udp", "icmp")
    assert [r.kind for r in spec.relations] == ["implies", "sum_at_most"]
    assert spec.relations[1].tolerance == 0.01
    assert spec.category("flood") == "DoS" and spec.category("normal") == "normal"
    assert spec.category("never-seen") == "unknown"
    assert spec.technique(attack="sweep") == "T1018"  # attack-level override
    assert spec.technique(attack="scan") == "T1046"  # falls back to its category
    assert spec.file("flows.csv").sha256 == GOOD_SHA and spec.file("flows.csv").rows == 3
    assert spec.header is True


def mutate(path: tuple, value) -> dict:
    """tiny() with the item at ``path`` (keys / indexes) set to ``value``."""
    raw = tiny()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


BAD_SPECS = {
    # id: (raw spec, fragments the message must contain)
    "unknown top-level key": (mutate(("colour",), "blue"), ["colour"]),
    "unknown column key": (mutate(("columns", 1, "colour"), "blue"), ["columns[1]", "colour"]),
    "bad type": (mutate(("columns", 0, "type"), "float"), ["bytes", "type", "float"]),
    "bad attacker": (
        mutate(("columns", 1, "attacker"), "sometimes"),
        ["err", "attacker", "sometimes"],
    ),
    "categorical without values": (mutate(("columns", 4, "values"), []), ["proto", "values"]),
    "min above max": (mutate(("columns", 0, "min"), 2000), ["bytes", "min", "2000", "1000"]),
    "duplicate column": (mutate(("columns", 2, "name"), "err"), ["duplicate", "err"]),
    "implies on undeclared column": (
        mutate(("relations", 0, "then", "column"), "payload"),
        ["relations[0]", "payload"],
    ),
    "sum on undeclared column": (
        mutate(("relations", 1, "columns"), ["err", "retries"]),
        ["relations[1]", "retries"],
    ),
    "predicate with two ops": (
        mutate(("relations", 0, "if", "equals"), "icmp"),
        ["relations[0].if", "in", "equals"],
    ),
    "attack in two categories": (
        mutate(("label", "categories", "Probe", "attacks"), ["scan", "flood"]),
        ["flood", "DoS"],
    ),
    "category technique not listed": (
        mutate(("label", "categories", "DoS", "technique"), "T9999"),
        ["T9999", "DoS"],
    ),
    "attack technique not listed": (
        mutate(("label", "attack_techniques", "sweep"), "T8888"),
        ["T8888", "sweep"],
    ),
    "sha256 too short": (
        mutate(("source", "files", 0, "sha256"), "abc123"),
        ["source.files[0]", "abc123"],
    ),
    "sha256 not hex": (mutate(("source", "files", 0, "sha256"), "zz" * 32), ["sha256", "zz" * 32]),
    "label column undeclared": (
        mutate(("label", "column"), "verdict"),
        ["label.column", "verdict"],
    ),
}


@pytest.mark.parametrize("raw, fragments", list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_malformed_spec_is_refused_naming_the_offending_key(raw, fragments):
    with pytest.raises(SpecError) as info:
        parse_spec(raw, origin="tiny.yaml")
    message = str(info.value)
    assert message.startswith("tiny.yaml")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not named in: {message}"


def test_allowed_key_sets_are_what_the_messages_list():
    # the unknown-key message lists the allowed keys, so they must be real keys of the format
    with pytest.raises(SpecError) as info:
        parse_spec(mutate(("columns", 0, "colour"), "x"))
    for key in COLUMN_KEYS:
        assert repr(key) in str(info.value)
    assert set(tiny()) <= TOP_KEYS


def test_valid_predicate_ops_and_sum_defaults():
    raw = tiny()
    raw["relations"] = [
        {
            "kind": "implies",
            "if": {"column": "syn", "above": 0},
            "then": {"column": "err", "at_most": 0.5},
        },
        {"kind": "sum_at_most", "columns": ["err", "rej"]},
    ]
    spec = parse_spec(raw)
    implies, total = spec.relations
    assert implies.name == "implies" and implies.condition.op == "above"
    assert implies.consequence.op == "at_most" and implies.consequence.value == 0.5
    assert total.name == "sum_at_most" and total.limit == 1.0 and total.tolerance == 0.0


def test_load_spec_missing_path_names_it(tmp_path):
    missing = tmp_path / "nowhere" / "flows.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(missing)
    assert str(missing) in str(info.value)


def test_load_spec_unknown_name_lists_builtins():
    with pytest.raises(SpecError) as info:
        load_spec("no-such-dataset")
    message = str(info.value)
    assert "no-such-dataset" in message
    for name in builtin_spec_names():
        assert name in message


def test_load_spec_invalid_yaml_names_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\ncolumns: {", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value) and "YAML" in str(info.value)


def test_load_spec_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(mutate(("columns", 0, "type"), "float")), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value) and "float" in str(info.value)


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_yaml_file_round_trips(tmp_path, suffix):
    path = tmp_path / f"tiny{suffix}"
    path.write_text(yaml.safe_dump(tiny(), sort_keys=False), encoding="utf-8")
    assert load_spec(path) == parse_spec(tiny())
    assert load_spec(str(path)) == parse_spec(tiny())


def test_builtin_spec_round_trips_through_a_file(tmp_path):
    builtin = load_spec("nsl-kdd")
    from importlib import resources

    text = (resources.files("trustshield.specs") / "nsl-kdd.yaml").read_text(encoding="utf-8")
    copy_path = tmp_path / "my-nsl-kdd.yaml"
    copy_path.write_text(text, encoding="utf-8")
    assert load_spec(copy_path) == builtin


def test_parse_spec_does_not_mutate_its_input():
    raw = tiny()
    before = copy.deepcopy(raw)
    parse_spec(raw)
    assert raw == before


def test_non_numeric_min_is_a_spec_error():
    with pytest.raises(SpecError, match="bytes"):
        parse_spec(mutate(("columns", 0, "min"), "zero"))


def test_builtin_name_wins_over_a_same_named_directory(tmp_path, monkeypatch):
    (tmp_path / "nsl-kdd").mkdir()
    monkeypatch.chdir(tmp_path)
    assert os.path.isdir("nsl-kdd")
    assert load_spec("nsl-kdd").name == "nsl-kdd"


@pytest.mark.parametrize("column, decimals", [(1, 2.5), (1, -1), (1, True), (0, 2)])
def test_decimals_must_be_a_small_whole_number_on_a_real_or_rate_column(column, decimals):
    raw = tiny()
    raw["columns"][column]["decimals"] = decimals
    with pytest.raises(SpecError, match="decimals"):
        parse_spec(raw)
    raw["columns"][1]["decimals"] = 2
    if column == 1:
        assert parse_spec(raw).column("err").decimals == 2


def test_a_label_column_may_bound_its_text_and_the_reader_enforces_it():
    import numpy as np
    import pandas as pd

    from trustshield.ingest.validate import check_frame
    from trustshield.specs.dataset_spec import DEFAULT_MAX_TEXT

    spec = parse_spec(
        {
            "name": "t",
            "columns": [
                {"name": "n", "type": "integer"},
                {"name": "who", "type": "label", "max_length": 5},
            ],
        }
    )
    assert spec.column("who").text_limit == 5
    raw = pd.DataFrame({"n": ["1", "2"], "who": ["alice", "mallory"]})
    checked = check_frame(raw, spec, file="f.csv", lines=np.array([2, 3]))
    assert [(p.line, p.column, p.expected) for p in checked.problems] == [
        (3, "who", "a non-empty label of at most 5 characters")
    ]
    plain = parse_spec({"name": "t", "columns": [{"name": "who", "type": "label"}]})
    assert plain.column("who").text_limit == DEFAULT_MAX_TEXT


@pytest.mark.parametrize(
    "column",
    [
        {"name": "n", "type": "integer", "max_length": 5},
        {"name": "w", "type": "label", "max_length": 0},
        {"name": "w", "type": "label", "max_length": True},
    ],
)
def test_max_length_is_a_whole_number_on_label_columns_only(column):
    with pytest.raises(SpecError, match="max_length"):
        parse_spec({"name": "t", "columns": [column]})
