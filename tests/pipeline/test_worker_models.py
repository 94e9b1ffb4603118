"""A worker process builds each model once, from the verified bytes it was sent."""

from __future__ import annotations

import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import ModelFiles, read_model_files, save_model
from trustshield.workers import models


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> ModelFiles:
    folder = tmp_path_factory.mktemp("models") / "model"
    save_model(train_small(synthetic_flows(), FLOWS_SPEC, FLOWS_SPEC_TEXT), folder)
    return read_model_files(folder)


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(models, "_MODELS", {})


def test_the_model_is_built_once_per_manifest(files):
    first = models.model_for(files)
    again = models.model_for(ModelFiles(files.origin, dict(files.blobs)))
    assert again is first and first.model_id == files.manifest["model_id"]
    assert list(models._MODELS) == [files.key]


def test_threads_are_limited_on_the_cached_model(files):
    model = models.model_for(files, threads=1)
    assert model.detector.get_params()["supervised__n_threads"] == 1
    assert models.model_for(files, threads=3) is model
    assert model.detector.get_params()["supervised__n_threads"] == 3


def test_altered_bytes_are_refused_and_nothing_is_cached(files):
    blobs = dict(files.blobs)
    blobs["model.json"] = blobs["model.json"].replace(b'"floor"', b'"Floor"', 1)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        models.model_for(ModelFiles(files.origin, blobs))
    assert models._MODELS == {}
