"""TrustShield: AI for cyber defence, with measured evidence that it can be trusted.

The public surface is listed in ``__all__``; everything else is internal and may change.
Public names are resolved on first use (PEP 562 ``__getattr__``), so ``import trustshield``
loads no ML library: ``trustshield.train`` imports the training pipeline when first read.
"""

from trustshield.workers import lifeline as _lifeline

_lifeline.tie_from_environment()  # a scoring worker: end with its parent, even mid-import
del _lifeline

__version__ = "0.1.0"

__all__ = [
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
]

#: public name -> "module:attribute" it is read from on first use
_PUBLIC = {
    "AlertStore": "trustshield.store.alerts:AlertStore",
    "Attributions": "trustshield.detectors.protocol:Attributions",
    "DataError": "trustshield.errors:DataError",
    "DatasetMissing": "trustshield.errors:DatasetMissing",
    "DatasetSpec": "trustshield.specs.dataset_spec:DatasetSpec",
    "Decision": "trustshield.records:Decision",
    "Detector": "trustshield.detectors.protocol:Detector",
    "Evidence": "trustshield.records:Evidence",
    "FeatureEncoder": "trustshield.features.encoder:FeatureEncoder",
    "GradientBoostedDetector": "trustshield.detectors.gbdt:GradientBoostedDetector",
    "HybridDetector": "trustshield.detectors.hybrid:HybridDetector",
    "ModelIntegrityError": "trustshield.errors:ModelIntegrityError",
    "NormalPrototypeDetector": "trustshield.detectors.prototype:NormalPrototypeDetector",
    "NotFittedError": "trustshield.errors:NotFittedError",
    "PermissionDenied": "trustshield.errors:PermissionDenied",
    "SpecError": "trustshield.errors:SpecError",
    "StoreError": "trustshield.errors:StoreError",
    "TableSource": "trustshield.ingest.tabular:TableSource",
    "ThresholdPolicy": "trustshield.decide.policy:ThresholdPolicy",
    "TrainConfig": "trustshield.pipeline.train_config:TrainConfig",
    "TrainedModel": "trustshield.model_folder:TrainedModel",
    "TrustShieldError": "trustshield.errors:TrustShieldError",
    "load_model": "trustshield.model_folder:load_model",
    "load_spec": "trustshield.specs.loading:load_spec",
    "save_model": "trustshield.model_folder:save_model",
    "score": "trustshield.notebook:score",
    "train": "trustshield.notebook:train",
}


def __getattr__(name: str):
    """Import the module that defines public ``name`` and return its attribute (cached)."""
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'trustshield' has no attribute {name!r}")
    import importlib

    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
