"""Every built-in spec records the sha256 its data set's SOURCE.md gives for each file."""

import pytest

from trustshield.ingest import data_dirs, parse_source_sha256
from trustshield.specs import builtin_spec_names, load_spec


def _source_md(dataset: str, folder: str = ""):
    for root in data_dirs():
        if (root / dataset / folder / "SOURCE.md").is_file():
            return root / dataset / folder / "SOURCE.md"
    return None


@pytest.mark.parametrize("name", builtin_spec_names())
def test_every_recorded_sha256_matches_the_data_sets_source_md(name):
    spec = load_spec(name)
    if not spec.files:
        pytest.skip(f"spec {name} records no files")
    checked = 0
    for file in spec.files:
        folder = file.name.rpartition("/")[0]  # a file in a sub-folder may have its own
        source = _source_md(spec.dataset, folder) or _source_md(spec.dataset)
        if source is None:
            continue
        recorded = parse_source_sha256(source.read_text(encoding="utf-8"))
        found = recorded.get(file.name, recorded.get(f"{spec.dataset}/{file.name}"))
        assert found == file.sha256, f"{name}: {file.name}"
        checked += 1
    if not checked:
        pytest.skip(f"no SOURCE.md for {spec.dataset} under {data_dirs()}")
