"""`import trustshield` and `trustshield --help` load no ML library; the lazy package root
still gives every public name; the start-up benchmark reports what it promises."""

import importlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import startup  # benchmarks/startup.py

import trustshield

PYTHON = sys.executable

#: where each public name was imported from before the package root became lazy
HOMES = {
    "AlertStore": "trustshield.store",
    "Attributions": "trustshield.detectors",
    "DataError": "trustshield.errors",
    "DatasetMissing": "trustshield.errors",
    "DatasetSpec": "trustshield.specs",
    "Decision": "trustshield.records",
    "Detector": "trustshield.detectors",
    "Evidence": "trustshield.records",
    "FeatureEncoder": "trustshield.features",
    "GradientBoostedDetector": "trustshield.detectors",
    "HybridDetector": "trustshield.detectors",
    "ModelIntegrityError": "trustshield.errors",
    "NormalPrototypeDetector": "trustshield.detectors",
    "NotFittedError": "trustshield.errors",
    "PermissionDenied": "trustshield.errors",
    "SpecError": "trustshield.errors",
    "StoreError": "trustshield.errors",
    "TableSource": "trustshield.ingest.tabular",
    "ThresholdPolicy": "trustshield.decide.policy",
    "TrainConfig": "trustshield.pipeline.train",
    "TrainedModel": "trustshield.model_folder",
    "TrustShieldError": "trustshield.errors",
    "load_model": "trustshield.model_folder",
    "load_spec": "trustshield.specs",
    "save_model": "trustshield.model_folder",
    "score": "trustshield.notebook",
    "train": "trustshield.notebook",
}
#: every subcommand's help formatted in one child, as `trustshield SUBCOMMAND --help` does
EVERY_HELP = """
import argparse
from trustshield.cli import build_parser

def walk(parser):
    parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                walk(sub)

walk(build_parser())
"""
#: package __init__s that re-export their names lazily
LAZY_PACKAGES = (
    "trustshield.assess",
    "trustshield.detectors",
    "trustshield.governance",
    "trustshield.specs",
)


def test_import_trustshield_loads_no_ml_library():
    assert startup.heavy_modules_loaded(PYTHON, "import trustshield") == []


def test_cli_help_loads_no_ml_library():
    assert startup.heavy_modules_loaded(PYTHON, startup.HELP_CODE) == []


def test_every_subcommand_help_loads_no_ml_library():
    assert startup.heavy_modules_loaded(PYTHON, EVERY_HELP) == []


def test_the_probe_sees_a_heavy_module_that_is_loaded():
    loaded = startup.heavy_modules_loaded(PYTHON, "import trustshield.pipeline.train, lightgbm")
    assert {"lightgbm", "numpy", "pandas"} <= set(loaded)


def test_every_public_name_is_the_object_of_its_home_module():
    assert set(HOMES) == set(trustshield.__all__)
    for name, home in HOMES.items():
        assert getattr(trustshield, name) is getattr(importlib.import_module(home), name), name


def test_the_public_names_are_listed_and_others_refused():
    assert set(trustshield.__all__) <= set(dir(trustshield))
    assert trustshield.__version__ == "0.1.0"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        trustshield.nonexistent  # noqa: B018


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_subpackages_still_give_every_name_they_export(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert (value.__module__ + ".").startswith(package + "."), (package, name, value.__module__)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        module.nonexistent  # noqa: B018


def test_the_benchmark_writes_medians_ratios_runs_and_verdicts(tmp_path):
    out = tmp_path / "startup.json"
    status = startup.main(["--json", str(out), "--runs", "2"])
    figures = json.loads(out.read_text())
    assert set(figures["runs_s"]) == {"baseline", "import", "help"}
    assert all(len(runs) == 2 for runs in figures["runs_s"].values())
    median = figures["median_s"]
    for name in ("import", "help"):
        assert figures["ratio_to_baseline"][name] == pytest.approx(
            median[name] / median["baseline"], rel=0.02
        )
        assert figures["meets_targets"][name] == (median[name] <= startup.TARGETS_S[name])
    assert figures["heavy_modules_loaded"] == {"import": [], "help": []}
    assert figures["meets_targets"]["no_heavy_modules"] is True
    assert status == (0 if all(figures["meets_targets"].values()) else 1)
    assert "median" in figures["protocol"] and "warm-up" in figures["protocol"]


def test_the_benchmark_refuses_fewer_than_one_run(capsys):
    with pytest.raises(SystemExit):
        startup.main(["--runs", "0"])
    assert "--runs must be at least 1, got 0" in capsys.readouterr().err
