"""``detect`` queues the review band as ``POST /v1/score`` does, and counts it in the run."""

from __future__ import annotations

import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import load_model, save_model
from trustshield.pipeline.detect import detect
from trustshield.store import AlertStore


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    trained = train_small(
        small_flows(0, n_normal=600, n_flood=240, n_scan=120), SMALL_SPEC, SMALL_SPEC_TEXT
    )
    folder = tmp_path_factory.mktemp("model") / "m"
    save_model(trained, folder)
    return load_model(folder)


def test_detect_queues_review_band_records_once_and_counts_them(model, tmp_path):
    data = tmp_path / "d.csv"
    small_flows(3, n_normal=900, n_flood=300, n_scan=300).sample(frac=1.0, random_state=1).to_csv(
        data, index=False
    )
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = detect(model, TableSource(data, SMALL_SPEC, batch_rows=400), store)
        review_band = sorted(
            r[0]
            for r in store.db.execute(
                "SELECT alert_id FROM alerts WHERE action = 'review'"
            ).fetchall()
        )
        queued = store.reviews.items(limit=10_000)
        assert review_band, "the data must put records in the abstain band"
        assert sorted(i["alert_id"] for i in queued) == review_band
        assert run.reviews_added == len(review_band) and run.alerts_added > len(review_band)
        again = detect(model, TableSource(data, SMALL_SPEC, batch_rows=400), store)
        assert (again.alerts_added, again.reviews_added) == (0, 0)
        assert len(store.reviews.items(limit=10_000)) == len(review_band)
