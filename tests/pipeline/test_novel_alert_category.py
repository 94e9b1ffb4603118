"""An alert the supervised part calls normal (raised by the novelty part alone) names no
attack category and no ATT&CK technique; one it calls an attack keeps the category head's."""

from __future__ import annotations

import numpy as np

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows
from trustshield.pipeline.scoring import SUPERVISED_PART, UNKNOWN_CATEGORY, score_batch
from trustshield.pipeline.train import TrainConfig, train


def test_only_records_the_supervised_part_calls_attacks_carry_a_category_and_technique():
    frame = synthetic_flows()
    model = train(
        frame,
        FLOWS_SPEC,
        FLOWS_SPEC_TEXT,
        config=TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed"),
        provenance={},
    )
    odd = frame[frame.label == "normal"].head(40).copy()
    odd["w"] = 59.0  # far from every normal record, but normal in every other way
    scored = score_batch(model, odd)
    part = scored.part_names.index(SUPERVISED_PART)
    supervised = model.detector.part_scores(model.encoder.transform(odd))[scored.flagged, part]
    novel = supervised < 1
    assert novel.any() and len(scored.flagged)  # the test needs novelty-only alerts
    assert set(scored.categories[novel]) == {UNKNOWN_CATEGORY}
    assert set(scored.techniques[novel]) == {""}
    attacks = score_batch(model, frame[frame.label != "normal"])
    called = model.detector.part_scores(model.encoder.transform(frame[frame.label != "normal"]))
    known = called[attacks.flagged, part] >= 1
    assert known.any() and UNKNOWN_CATEGORY not in set(attacks.categories[known])
    assert all(t for t in attacks.techniques[known])
    assert np.isin(attacks.categories[known], ["DoS", "Probe"]).all()
