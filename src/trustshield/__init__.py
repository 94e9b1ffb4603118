"""TrustShield: AI for cyber defence, with measured evidence that it can be trusted.

The public surface is listed in ``__all__``; everything else is internal and may change.
"""

from trustshield.pipeline import lifeline as _lifeline

_lifeline.tie_from_environment()  # a scoring worker: end with its parent, even mid-import
del _lifeline

from trustshield.decide.policy import ThresholdPolicy
from trustshield.detectors import (Attributions, Detector, GradientBoostedDetector,
                                   HybridDetector, NormalPrototypeDetector)
from trustshield.errors import (DataError, DatasetMissing, ModelIntegrityError,
                                NotFittedError, PermissionDenied, SpecError, StoreError,
                                TrustShieldError)
from trustshield.features import FeatureEncoder
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import TrainedModel, load_model, save_model
from trustshield.pipeline.train import TrainConfig, train
from trustshield.records import Decision, Evidence
from trustshield.specs import DatasetSpec, load_spec
from trustshield.store import AlertStore

__version__ = "0.1.0"

__all__ = [
    "AlertStore", "Attributions", "DataError", "DatasetMissing", "DatasetSpec", "Decision",
    "Detector", "Evidence", "FeatureEncoder", "GradientBoostedDetector", "HybridDetector",
    "ModelIntegrityError", "NormalPrototypeDetector", "NotFittedError", "PermissionDenied",
    "SpecError", "StoreError", "TableSource", "ThresholdPolicy", "TrainConfig",
    "TrainedModel", "TrustShieldError", "load_model", "load_spec", "save_model", "train",
]
