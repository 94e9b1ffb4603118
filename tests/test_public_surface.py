"""The public surface is exactly what is intended, and every command is documented."""

from pathlib import Path

import trustshield
from trustshield.cli import build_parser

INTENDED = {
    "AlertStore",
    "Attributions",
    "DataError",
    "DatasetMissing",
    "DatasetSpec",
    "Decision",
    "Detector",
    "Evidence",
    "FeatureEncoder",
    "GradientBoostedDetector",
    "HybridDetector",
    "ModelIntegrityError",
    "NormalPrototypeDetector",
    "NotFittedError",
    "PermissionDenied",
    "SpecError",
    "StoreError",
    "TableSource",
    "ThresholdPolicy",
    "TrainConfig",
    "TrainedModel",
    "TrustShieldError",
    "load_model",
    "load_spec",
    "save_model",
    "score",
    "train",
}


def test_all_is_exactly_the_intended_surface():
    assert set(trustshield.__all__) == INTENDED
    assert all(hasattr(trustshield, name) for name in trustshield.__all__)


def test_every_error_derives_from_the_base_error():
    errors = [
        getattr(trustshield, n) for n in INTENDED if n.endswith(("Error", "Missing", "Denied"))
    ]
    assert all(issubclass(e, trustshield.TrustShieldError) for e in errors)


def test_every_command_and_option_is_in_the_readme():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert f"trustshield {name}" in readme, f"command {name!r} is not documented"
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in readme, f"option {flag} of {name!r} is not documented"
