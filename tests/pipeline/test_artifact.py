"""Model folders: plain files, sha256 manifest checked on load, atomic replacement."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from synthetic import train_small, FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.errors import ModelIntegrityError
from trustshield.model_folder import FILES, load_model, save_model

SPEC, SPEC_TEXT = FLOWS_SPEC, FLOWS_SPEC_TEXT


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, SPEC, SPEC_TEXT)


def suspicion(model, frame) -> np.ndarray:
    return model.detector.suspicion(model.encoder.transform(frame))


@pytest.fixture
def saved(model, tmp_path):
    folder = tmp_path / "models" / "tiny"
    manifest = save_model(model, folder)
    return folder, manifest


def test_round_trip_gives_identical_suspicion_and_decisions(model, frame, saved):
    folder, manifest = saved
    loaded = load_model(folder)
    assert loaded.model_id == manifest["model_id"] == model.model_id
    assert loaded.spec == SPEC and loaded.spec_text == SPEC_TEXT
    before, after = suspicion(model, frame), suspicion(loaded, frame)
    assert before.shape == (len(frame),) and np.isfinite(before).all()
    assert np.ptp(before) > 0, "suspicion is constant: the round trip would prove nothing"
    np.testing.assert_array_equal(after, before)
    scaled_before = model.detector.part_scores(model.encoder.transform(frame))
    scaled_after = loaded.detector.part_scores(loaded.encoder.transform(frame))
    np.testing.assert_array_equal(scaled_after, scaled_before)
    np.testing.assert_array_equal(
        loaded.policy.decide(scaled_after.max(axis=1)).actions,
        model.policy.decide(scaled_before.max(axis=1)).actions,
    )
    assert loaded.training == json.loads(json.dumps(model.training))


def test_manifest_records_sha256_of_every_file(saved):
    folder, manifest = saved
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert set(manifest["files"]) == set(FILES)
    for name in FILES:
        assert manifest["files"][name] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "manifest.json"])


def test_nothing_in_the_model_folder_is_a_pickle(saved):
    folder, _ = saved
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not data.startswith(b"\x80"), f"{path.name} looks like a pickle"
            if path.suffix == ".json":
                json.loads(data)  # plain JSON
    yaml.safe_load((folder / "spec.yaml").read_text())


@pytest.mark.parametrize("name", FILES)
def test_one_altered_byte_is_refused_naming_the_file(saved, name):
    folder, _ = saved
    path = folder / name
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("7") if data[middle] != ord("7") else ord("8")
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as info:
        load_model(folder)
    assert str(path) in str(info.value) and "altered" in str(info.value)


@pytest.mark.parametrize("name", FILES)
def test_missing_model_file_is_refused(saved, name):
    folder, _ = saved
    (folder / name).unlink()
    with pytest.raises(ModelIntegrityError, match=name):
        load_model(folder)


def test_missing_manifest_is_refused(saved):
    folder, _ = saved
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelIntegrityError) as info:
        load_model(folder)
    assert str(folder) in str(info.value) and "manifest.json" in str(info.value)


def test_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="manifest.json"):
        load_model(tmp_path / "never-trained")


@pytest.mark.parametrize("fmt", ["trustshield-model/2", None])
def test_unknown_format_is_refused(saved, fmt):
    folder, manifest = saved
    changed = (
        dict(manifest, format=fmt) if fmt else {k: v for k, v in manifest.items() if k != "format"}
    )
    (folder / "manifest.json").write_text(json.dumps(changed))
    with pytest.raises(ModelIntegrityError) as info:
        load_model(folder)
    assert "format" in str(info.value) and str(fmt) in str(info.value)


def test_manifest_that_is_not_json_is_refused(saved):
    folder, _ = saved
    (folder / "manifest.json").write_text("{ not json")
    with pytest.raises(ModelIntegrityError, match="not valid JSON"):
        load_model(folder)


def test_manifest_with_a_non_utf8_byte_is_refused(saved):
    folder, _ = saved
    path = folder / "manifest.json"
    data = bytearray(path.read_bytes())
    data[0] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        load_model(folder)


@pytest.mark.parametrize(
    "text", ["[1, 2]", '{"format": "trustshield-model/1", "files": ["model.json"]}']
)
def test_manifest_of_the_wrong_shape_is_refused(saved, text):
    folder, _ = saved
    (folder / "manifest.json").write_text(text)
    with pytest.raises(ModelIntegrityError):
        load_model(folder)


def test_saving_over_an_existing_folder_replaces_it(model, frame, saved):
    folder, _ = saved
    (folder / "stale.txt").write_text("left by an older model")
    manifest = save_model(model, folder)
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp/old folders
    assert not (folder / "stale.txt").exists()
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    np.testing.assert_array_equal(suspicion(load_model(folder), frame), suspicion(model, frame))


def test_first_save_leaves_no_staging_folder(model, tmp_path):
    save_model(model, tmp_path / "fresh")
    assert [p.name for p in tmp_path.iterdir()] == ["fresh"]


def test_saving_over_a_folder_with_a_subfolder(model, saved):
    folder, _ = saved
    (folder / "notes").mkdir()
    save_model(model, folder)
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_a_folder_that_is_not_a_model_is_never_replaced(model, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("analyst notes")
    with pytest.raises(ModelIntegrityError, match="not a TrustShield model folder"):
        save_model(model, folder)
    assert (folder / "keep.txt").read_text() == "analyst notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
