"""A record the model lets through (action "allow") names no attack category and no ATT&CK
technique anywhere it is shown: the notebook frame, the REST results, the store's rows."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.ingest.tabular import Batch
from trustshield.notebook import score
from trustshield.pipeline.detect import alerts_table
from trustshield.pipeline.scoring import score_batch
from trustshield.records import ALLOW
from trustshield.service.scoring_work import _results


@pytest.fixture(scope="module")
def scored():
    model = train_small(small_flows(0), SMALL_SPEC, SMALL_SPEC_TEXT)
    frame = small_flows(3)
    batch = score_batch(model, frame)
    actions = np.asarray(batch.decision.actions)
    assert (actions == ALLOW).any() and (actions != ALLOW).any()  # both kinds to look at
    return model, frame, batch


def test_the_notebook_frame_leaves_allowed_records_without_a_technique(scored):
    model, frame, _ = scored
    table = score(model, frame).to_frame()
    allowed = table[table["action"] == ALLOW]
    assert allowed["technique"].isna().all() and allowed["category"].isna().all()
    flagged = table[table["action"] != ALLOW]
    expected = [model.spec.technique(category=c) or "" for c in flagged["category"]]
    assert flagged["technique"].tolist() == expected


def test_rest_results_and_stored_rows_hold_only_flagged_records(scored):
    model, frame, batch = scored
    results = _results(batch, [f"a{k}" for k in range(len(batch.flagged))])
    for result in results:
        if result["action"] == ALLOW:
            assert not {"technique", "category", "rationale"} & set(result)
    lines = np.arange(1, len(frame) + 1)
    table = alerts_table(model, "0" * 64, "run", Batch(frame, lines), batch)
    assert ALLOW not in table.column("action").to_pylist()
    assert table.num_rows == int((np.asarray(batch.decision.actions) != ALLOW).sum())
