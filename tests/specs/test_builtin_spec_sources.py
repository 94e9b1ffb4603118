"""Every built-in spec records the sha256 its data set's SOURCE.md gives for each file."""

import pytest

from trustshield.ingest import data_dirs, parse_source_sha256
from trustshield.specs import builtin_spec_names, load_spec


def _source_md(dataset: str):
    for root in data_dirs():
        if (root / dataset / "SOURCE.md").is_file():
            return root / dataset / "SOURCE.md"
    return None


@pytest.mark.parametrize("name", builtin_spec_names())
def test_every_recorded_sha256_matches_the_data_sets_source_md(name):
    spec = load_spec(name)
    if not spec.files:
        pytest.skip(f"spec {name} records no files")
    source = _source_md(spec.dataset)
    if source is None:
        pytest.skip(f"no SOURCE.md for {spec.dataset} under {data_dirs()}")
    recorded = parse_source_sha256(source.read_text(encoding="utf-8"))
    for file in spec.files:
        assert recorded.get(file.name) == file.sha256, f"{name}: {file.name}"
