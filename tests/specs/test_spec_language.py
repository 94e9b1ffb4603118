"""The spec language additions: arithmetic relations between columns, not_in, open
categories, numeric categories, optional ATT&CK techniques, decimals up to 17."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from trustshield.errors import SpecError
from trustshield.ingest.validate import check_frame
from trustshield.specs import Predicate, parse_spec
from trustshield.specs.expressions import ExpressionError, parse_comparison
from trustshield.specs.feasibility import derive, infeasibility, is_feasible
from trustshield.specs.writing import spec_yaml

FLOW_COLUMNS = [
    {"name": "synack", "type": "real", "min": 0, "attacker": "any"},
    {"name": "ackdat", "type": "real", "min": 0, "attacker": "any"},
    {"name": "tcprtt", "type": "real", "min": 0},
    {"name": "bytes", "type": "integer", "min": 0, "attacker": "increase"},
    {"name": "packets", "type": "integer", "min": 0, "attacker": "increase"},
    {"name": "mean", "type": "real", "min": 0, "attacker": "any"},
    {"name": "proto", "type": "categorical", "values": ["tcp", "udp"]},
]
RELATIONS = [
    {
        "kind": "expression",
        "name": "round trip",
        "expression": "tcprtt = synack + ackdat",
        "tolerance": 1e-6,
    },
    {"name": "mean size", "expression": "mean <= bytes / packets"},
]


def flow_spec(relations=RELATIONS, columns=FLOW_COLUMNS):
    return parse_spec({"name": "flows", "columns": columns, "relations": relations})


def check(spec, rows: dict):
    raw = pd.DataFrame({k: [str(v) for v in vs] for k, vs in rows.items()})
    return check_frame(raw, spec, file="f.csv", lines=np.arange(2, 2 + len(raw)))


# --- 1. relations between columns with arithmetic -------------------------------------


def test_an_expression_relation_parses_with_its_columns_and_derived_column():
    spec = flow_spec()
    rtt, mean = spec.relations
    assert rtt.kind == "expression" and mean.kind == "expression"  # kind inferred
    assert rtt.involved() == ("tcprtt", "synack", "ackdat")
    assert rtt.derived_column == "tcprtt" and mean.derived_column is None
    assert "tcprtt = synack + ackdat" in rtt.describe()


def test_equality_holds_within_tolerance_and_other_comparisons_hold_as_written():
    frame = {
        "synack": np.array([0.1, 0.1, 0.1]),
        "ackdat": np.array([0.2, 0.2, 0.2]),
        "tcprtt": np.array([0.3, 0.3000001, 0.31]),  # float sum, within 1e-6, beyond
        "bytes": np.array([100.0, 100.0, 7.0]),
        "packets": np.array([4.0, 0.0, 2.0]),
        "mean": np.array([25.0, 9.0, 3.6]),  # ok, undefined (÷0: not judged), 3.6 > 3.5
    }
    rtt, mean = flow_spec().relations
    assert rtt.violated(frame).tolist() == [False, False, True]
    assert mean.violated(frame).tolist() == [False, False, True]


@pytest.mark.parametrize(
    "text, left, right, expected",
    [
        ("a < b", [1, 2, 3], [2, 2, 2], [False, True, True]),
        ("a >= b", [1, 2, 3], [2, 2, 2], [True, False, False]),
        ("a > b * 2 - 1", [1, 2, 4], [1, 1, 2], [True, False, False]),
        ("a = -(b - 4) / 2", [1, 0, 1], [2, 4, 4], [False, False, True]),
    ],
)
def test_each_comparison_and_operator(text, left, right, expected):
    comparison = parse_comparison(text)
    frame = {"a": np.array(left, float), "b": np.array(right, float)}
    assert comparison.violated(frame).tolist() == expected


@pytest.mark.parametrize(
    "text, named",
    [
        ("a = __import__('os').system('x')", "Call"),
        ("a = b.real", "Attribute"),
        ("a = b[0]", "Subscript"),
        ("a = b ** 2", "Pow"),
        ("a = b if c else d", "IfExp"),
        ("a = (lambda: 1)()", "Call"),
        ("a = b = c", "chains"),
        ("a + b", "compares nothing"),
        ("a != b", "NotEq"),
        ("a = 'x'", "only numbers"),
        ("a = True", "only numbers"),
        ("a = `b", "backquote"),
        ("a = ", "not a comparison"),
    ],
)
def test_anything_but_arithmetic_is_refused_without_running_it(text, named):
    with pytest.raises(ExpressionError, match=named):
        parse_comparison(text)


def test_a_relation_naming_an_unknown_column_is_refused_naming_relation_and_column():
    bad = [{"name": "round trip", "expression": "tcprtt = synack + ack_dat"}]
    with pytest.raises(SpecError) as info:
        flow_spec(bad)
    message = str(info.value)
    assert "relations[0]" in message and "round trip" in message and "'ack_dat'" in message


def test_a_relation_doing_arithmetic_on_a_category_or_running_code_is_a_spec_error():
    with pytest.raises(SpecError, match="proto"):
        flow_spec([{"name": "x", "expression": "bytes = proto + 1"}])
    with pytest.raises(SpecError, match="Call"):
        flow_spec([{"name": "x", "expression": "bytes = open('f')"}])
    with pytest.raises(SpecError, match="tolerance"):
        flow_spec([{"name": "x", "expression": "bytes >= 0", "tolerance": -1}])
    with pytest.raises(SpecError, match="colour"):
        flow_spec([{"name": "x", "expression": "bytes >= 0", "colour": "red"}])


def test_backquoted_names_reach_columns_with_spaces_and_symbols():
    columns = [
        {"name": "Flow Bytes/s", "type": "real"},
        {"name": "Total Bytes", "type": "integer"},
        {"name": "duration", "type": "real"},
    ]
    spec = flow_spec(
        [{"name": "rate", "expression": "`Flow Bytes/s` = `Total Bytes` / duration"}], columns
    )
    frame = {"Flow Bytes/s": [10.0, 11.0], "Total Bytes": [20.0, 20.0], "duration": [2.0, 2.0]}
    assert spec.relations[0].violated(frame).tolist() == [False, True]
    assert spec.relations[0].involved() == ("Flow Bytes/s", "Total Bytes", "duration")


def test_rows_breaking_an_expression_relation_are_rejected_with_their_line():
    spec = flow_spec()
    checked = check(
        spec,
        {
            "synack": [0.1, 0.1],
            "ackdat": [0.2, 0.2],
            "tcprtt": [0.3, 0.5],
            "bytes": [10, 10],
            "packets": [2, 2],
            "mean": [5, 5],
            "proto": ["tcp", "tcp"],
        },
    )
    assert checked.rejected_rows == 1 and len(checked.frame) == 1
    (problem,) = checked.problems
    assert problem.line == 3 and "round trip" in problem.expected
    assert "tcprtt=0.5" in problem.value


def feasible_pair():
    spec = flow_spec()
    original = {
        "synack": 0.1,
        "ackdat": 0.2,
        "tcprtt": 0.3,
        "bytes": 10,
        "packets": 2,
        "mean": 5.0,
        "proto": "tcp",
    }
    return spec, original


def test_the_checker_refuses_a_perturbation_that_breaks_an_expression_relation():
    spec, original = feasible_pair()
    verdict = is_feasible(spec, original, {**original, "mean": 6.0})
    assert [v.reason for v in verdict.violations] == [
        "breaks relation 'mean size': mean <= bytes / packets"
    ]
    # moving an input without its derived column breaks the derivation
    verdict = is_feasible(spec, original, {**original, "synack": 0.4})
    assert any("round trip" in v.reason for v in verdict.violations)


def test_a_derived_column_follows_its_inputs_and_derive_recomputes_it():
    spec, original = feasible_pair()
    # tcprtt is fixed for the attacker, but it is derived: moving synack moves it too
    moved = {**original, "synack": 0.4, "tcprtt": 0.6}
    assert is_feasible(spec, original, moved)
    # the attacker cannot set a derived column on its own
    assert not is_feasible(spec, original, {**original, "tcprtt": 0.9})
    candidates = pd.DataFrame([{**original, "synack": 0.4}])
    repaired = derive(spec, candidates)
    assert repaired.loc[0, "tcprtt"] == pytest.approx(0.6)
    assert candidates.loc[0, "tcprtt"] == 0.3  # derive returns a copy
    assert infeasibility(spec, pd.DataFrame([original]), repaired) == [[]]


def test_the_evasion_budget_counts_moved_features_not_derived_ones():
    from trustshield.assess.robustness.evasion import feasible
    from trustshield.assess.robustness.moves import Budget

    spec, original = feasible_pair()
    originals = pd.DataFrame([original])
    moved = derive(spec, pd.DataFrame([{**original, "synack": 0.15}]))
    assert moved.loc[0, "tcprtt"] == pytest.approx(0.35)
    # one feature moved (synack); tcprtt followed it and does not count as a second
    budget = Budget(max_features=1, max_factor=1.5)
    assert feasible(spec, originals, moved, budget).tolist() == [True]
    both = derive(spec, pd.DataFrame([{**original, "synack": 0.15, "ackdat": 0.25}]))
    assert feasible(spec, originals, both, budget).tolist() == [False]  # two moved


def test_derive_leaves_a_spec_without_derived_columns_alone():
    spec = flow_spec(RELATIONS[1:])
    frame = pd.DataFrame([feasible_pair()[1]])
    assert derive(spec, frame) is frame


def test_expression_relations_round_trip_through_yaml():
    spec = flow_spec()
    assert parse_spec(yaml.safe_load(spec_yaml(spec))) == spec


# --- 2. not in -----------------------------------------------------------------------


def not_in_spec():
    return parse_spec(
        {
            "name": "ports",
            "columns": [
                {"name": "port", "type": "integer", "min": 0, "max": 65535, "not_in": [0]},
                {"name": "proto", "type": "categorical", "values": ["tcp", "udp", "-"]},
                {"name": "state", "type": "categorical", "values": "open", "not_in": ["-"]},
            ],
            "relations": [
                {
                    "kind": "implies",
                    "name": "tcp has a state",
                    "if": {"column": "proto", "in": ["tcp"]},
                    "then": {"column": "state", "not_in": ["OTH"]},
                }
            ],
        }
    )


def test_not_in_rejects_listed_values_of_integer_and_categorical_columns():
    checked = check(
        not_in_spec(),
        {
            "port": [80, 0, 53, 22],
            "proto": ["tcp", "tcp", "udp", "tcp"],
            "state": ["SF", "SF", "-", "OTH"],
        },
    )
    assert [(p.line, p.column) for p in checked.problems] == [
        (3, "port"),
        (4, "state"),
        (5, "proto+state"),
    ]
    assert "not one of {0}" in checked.problems[0].expected
    assert checked.frame["port"].tolist() == [80.0]


def test_not_in_is_a_predicate_and_a_feasibility_rule():
    mask = Predicate("port", "not_in", (0.0, 22.0)).holds({"port": np.array([0.0, 80.0, 22.0])})
    assert mask.tolist() == [False, True, False]
    spec = parse_spec(
        {
            "name": "p",
            "columns": [{"name": "port", "type": "integer", "not_in": [0], "attacker": "any"}],
        }
    )
    assert not is_feasible(spec, {"port": 80}, {"port": 0})
    assert is_feasible(spec, {"port": 80}, {"port": 81})


@pytest.mark.parametrize(
    "column",
    [
        {"name": "x", "type": "real", "not_in": [0.5]},
        {"name": "x", "type": "integer", "not_in": [1.5]},
        {"name": "x", "type": "integer", "not_in": []},
    ],
)
def test_not_in_is_for_exact_values_only(column):
    with pytest.raises(SpecError, match="not_in"):
        parse_spec({"name": "t", "columns": [column]})


# --- 3. open categories ---------------------------------------------------------------


@pytest.mark.parametrize("declared", [{"values": "open"}, {"values": ["tcp"], "unseen": "allow"}])
def test_an_open_category_accepts_a_new_value_and_encodes_it_as_unseen(declared):
    from trustshield.features.encoder import FeatureEncoder

    spec = parse_spec(
        {"name": "o", "columns": [{"name": "proto", "type": "categorical", **declared}]}
    )
    assert spec.column("proto").is_open
    checked = check(spec, {"proto": ["tcp", "sctp"]})
    assert checked.rejected_rows == 0 and checked.frame["proto"].tolist() == ["tcp", "sctp"]
    encoder = FeatureEncoder(spec).fit(pd.DataFrame({"proto": ["tcp"]}))
    encoded = encoder.transform(checked.frame)["proto"].to_numpy()
    assert encoded[0] == 0.0 and np.isnan(encoded[1])
    assert encoder.format_encoded("proto", encoded) == ["tcp", "unseen"]
    assert parse_spec(yaml.safe_load(spec_yaml(spec))) == spec


def test_a_closed_category_still_rejects_a_new_value_and_is_the_default():
    spec = parse_spec(
        {"name": "c", "columns": [{"name": "proto", "type": "categorical", "values": ["tcp"]}]}
    )
    assert not spec.column("proto").is_open
    checked = check(spec, {"proto": ["tcp", "sctp"]})
    assert [(p.line, p.column) for p in checked.problems] == [(3, "proto")]


def test_an_open_category_bounds_its_text_and_only_categoricals_may_be_open():
    spec = parse_spec(
        {"name": "o", "columns": [{"name": "p", "type": "categorical", "values": "open"}]}
    )
    assert check(spec, {"p": ["x" * 201]}).rejected_rows == 1
    with pytest.raises(SpecError, match="open"):
        parse_spec({"name": "o", "columns": [{"name": "n", "type": "integer", "unseen": "allow"}]})
    with pytest.raises(SpecError, match="unseen"):
        parse_spec(
            {
                "name": "o",
                "columns": [
                    {"name": "p", "type": "categorical", "values": ["a"], "unseen": "maybe"}
                ],
            }
        )


# --- 4. numbers as categories ---------------------------------------------------------


@pytest.mark.parametrize("declared", [[6, 17, 1], [6.0, 17.0, 1.0], ["6", "17.0", "1"]])
def test_numeric_categories_compare_as_numbers_in_spec_and_data(declared):
    spec = parse_spec(
        {
            "name": "n",
            "columns": [
                {"name": "proto", "type": "categorical", "values": declared},
                {"name": "bytes", "type": "integer", "min": 0},
            ],
            "relations": [
                {
                    "kind": "implies",
                    "name": "icmp sends nothing",
                    "if": {"column": "proto", "equals": 1.0},
                    "then": {"column": "bytes", "equals": "0"},
                }
            ],
        }
    )
    assert spec.column("proto").values == ("6", "17", "1")
    checked = check(spec, {"proto": ["6", "6.0", "17.00", "1", "1.0"], "bytes": [5, 5, 5, 0, 3]})
    assert checked.frame["proto"].tolist() == ["6", "6", "17", "1"]
    assert [(p.line, p.column) for p in checked.problems] == [(6, "proto+bytes")]


def test_numeric_categories_from_a_json_batch_and_a_feasibility_check():
    from trustshield.service.batches import read_records

    spec = parse_spec(
        {"name": "n", "columns": [{"name": "proto", "type": "categorical", "values": [6, 17]}]}
    )
    batch = read_records([{"proto": 6}, {"proto": "17.0"}, {"proto": 6.0}], spec)
    assert batch.problems == () and batch.frame["proto"].tolist() == ["6", "17", "6"]
    assert is_feasible(spec, {"proto": "6"}, {"proto": 6.0})
    assert not is_feasible(spec, {"proto": "6"}, {"proto": 17})


def test_text_categories_are_not_read_as_numbers():
    spec = parse_spec(
        {"name": "t", "columns": [{"name": "code", "type": "categorical", "values": ["007", "x"]}]}
    )
    checked = check(spec, {"code": ["007", "7"]})
    assert checked.frame["code"].tolist() == ["007"] and checked.rejected_rows == 1


def test_a_list_naming_one_number_twice_is_refused():
    with pytest.raises(SpecError, match="more than once"):
        parse_spec(
            {"name": "t", "columns": [{"name": "p", "type": "categorical", "values": [6, "6.0"]}]}
        )


# --- 5. optional ATT&CK technique -----------------------------------------------------


def labelled(categories, attack_techniques=None):
    label = {"column": "label", "normal": "normal", "categories": categories}
    if attack_techniques is not None:
        label["attack_techniques"] = attack_techniques
    return parse_spec(
        {
            "name": "l",
            "columns": [{"name": "n", "type": "integer"}, {"name": "label", "type": "label"}],
            "label": label,
            "techniques": {"T1499": "Endpoint Denial of Service"},
        }
    )


def test_a_category_may_have_no_technique_and_survives_writing():
    spec = labelled(
        {"DoS": {"technique": "T1499", "attacks": ["flood"]}, "Misc": {"attacks": ["odd"]}},
        {"flood": None},
    )
    assert spec.category("odd") == "Misc"
    assert spec.technique(category="Misc") is None and spec.technique(attack="odd") is None
    assert spec.technique(attack="flood") is None  # the attack says it has none
    assert spec.technique(category="DoS") == "T1499"
    assert parse_spec(yaml.safe_load(spec_yaml(spec))) == spec
    nulled = labelled({"Misc": {"technique": None, "attacks": ["odd"]}})
    assert nulled.technique(category="Misc") is None


def test_a_technique_that_is_given_must_still_be_listed():
    with pytest.raises(SpecError, match="T9999"):
        labelled({"Misc": {"technique": "T9999", "attacks": ["odd"]}})


def test_a_headline_without_a_technique_names_the_category_alone():
    from types import SimpleNamespace

    from trustshield.pipeline.scoring import _headlines

    spec = labelled(
        {"DoS": {"technique": "T1499", "attacks": ["flood"]}, "Misc": {"attacks": ["odd"]}}
    )
    model = SimpleNamespace(spec=spec)
    heads = _headlines(model, ["DoS", "Misc"], ["T1499", ""], ["supervised", "supervised"])
    assert heads.tolist() == ["DoS (T1499 Endpoint Denial of Service)", "Misc"]


# --- 6. decimals up to 18 -------------------------------------------------------------


@pytest.mark.parametrize("decimals", [13, 15, 17, 18])
def test_decimals_beyond_12_are_accepted_up_to_18(decimals):
    spec = parse_spec(
        {
            "name": "d",
            "columns": [{"name": "x", "type": "real", "decimals": decimals, "attacker": "any"}],
        }
    )
    assert spec.column("x").decimals == decimals
    value = round(0.1234567890123456789, decimals)
    assert is_feasible(spec, {"x": 0.5}, {"x": value})


def test_more_than_18_decimals_is_refused_saying_why():
    with pytest.raises(SpecError, match=r"0-18.*float64"):
        parse_spec({"name": "d", "columns": [{"name": "x", "type": "real", "decimals": 19}]})


def test_twelve_decimals_of_a_long_value_are_on_the_grid_and_a_finer_value_is_not():
    spec = parse_spec(
        {"name": "d", "columns": [{"name": "x", "type": "real", "decimals": 12, "attacker": "any"}]}
    )
    # 277.088846626231 * 1e12 lands 1/32 off a whole number in float64
    assert is_feasible(spec, {"x": 0.5}, {"x": 277.088846626231})
    assert not is_feasible(spec, {"x": 0.5}, {"x": 0.1234567890125})


def test_the_readme_example_of_the_spec_language_loads():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The DatasetSpec language", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    raw = yaml.safe_load(example)
    raw["name"] = "readme"
    raw["columns"].append({"name": "label", "type": "label"})
    raw["techniques"] = {"T1499": "Endpoint Denial of Service"}
    spec = parse_spec(raw)
    assert spec.column("proto").values == ("6", "17", "1") and spec.column("service").is_open
    assert spec.relations[0].derived_column == "tcprtt" and spec.closed_labels
    assert spec.technique(category="Misc") is None
