"""The keystroke protocol: exact EER, the typings each test uses, and the background split."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import population
from trustshield.assess.keystroke import (Background, baseline_factory, equal_error_rate,
                                          halves, plan, run_protocol, weighted_factory)
from trustshield.detectors.keystroke import KeystrokeVerifier
from trustshield.errors import DataError

# ---------------------------------------------------------------- equal-error rate


def test_eer_of_perfectly_separated_scores_is_zero():
    assert equal_error_rate(genuine=np.array([0.1, 0.5, 0.9]), impostor=np.array([1.0, 7.0])) == 0.0


def test_eer_of_reversed_scores_is_one():
    assert equal_error_rate(genuine=np.array([5.0, 6.0]), impostor=np.array([1.0, 2.0])) == 1.0


def test_eer_of_identical_samples_is_one_half():
    scores = np.array([0.3, 1.2, 2.2, 5.0])
    assert equal_error_rate(genuine=scores, impostor=scores.copy()) == pytest.approx(0.5)


def test_eer_of_one_distribution_is_near_one_half():
    rng = np.random.default_rng(0)
    eer = equal_error_rate(genuine=rng.normal(size=4000), impostor=rng.normal(size=4000))
    assert abs(eer - 0.5) < 0.03


def test_eer_where_the_rates_meet_at_a_threshold():
    # t = 3: FRR = 1/4 (genuine 4 above), FAR = 1/4 (impostor 3 at or below)
    assert equal_error_rate(genuine=np.array([1.0, 2, 3, 4]),
                            impostor=np.array([3.0, 4, 5, 6])) == pytest.approx(0.25)


def test_eer_interpolates_between_adjacent_thresholds():
    # ROC points (FAR, FRR): t=1 -> (0, 1/3), t=1.5 -> (1/2, 1/3): the segment meets
    # FAR = FRR at 1/3
    assert equal_error_rate(genuine=np.array([0.0, 1, 2]),
                            impostor=np.array([1.5, 3])) == pytest.approx(1 / 3)


def test_eer_ignores_monotone_rescaling():
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    assert equal_error_rate(genuine=np.exp(genuine), impostor=np.exp(impostor)) == pytest.approx(
        equal_error_rate(genuine=genuine, impostor=impostor), abs=1e-12)


@pytest.mark.parametrize("genuine, impostor", [([], [1.0]), ([1.0], []), ([np.nan], [1.0])])
def test_eer_refuses_empty_or_non_finite(genuine, impostor):
    with pytest.raises(DataError):
        equal_error_rate(genuine=np.array(genuine), impostor=np.array(impostor))


# ---------------------------------------------------------------- what each test uses


class Recorder:
    """A verifier that remembers the 'row' feature of everything it fits and scores, and
    scores a typing by the distance of its subject number from the enrolled one."""

    calls: list = []

    def fit(self, X):
        self.enrolled = X["row"].to_numpy()
        self.own = X["who"].iloc[0]
        Recorder.calls.append(("fit", self.enrolled))
        return self

    def suspicion(self, X):
        Recorder.calls.append(("score", X["row"].to_numpy()))
        return np.abs(X["who"].to_numpy() - self.own) + X["noise"].to_numpy()


def tagged(n_subjects=6, n_typings=51):
    """population() plus 'row' (file line), 'who' (subject number) and a small noise."""
    frame = population(n_subjects=n_subjects, n_typings=n_typings)
    frame["row"] = np.arange(len(frame), dtype=float)
    frame["who"] = frame["Subject"].str[1:].astype(float)
    frame["noise"] = np.random.default_rng(0).uniform(0, 0.1, len(frame))
    return frame


def rows_of(frame, subject):
    return frame.index[frame.Subject == subject].to_numpy(dtype=float)


@pytest.mark.parametrize("split", ["none", "halves"])
def test_protocol_uses_first_25_remaining_26_and_first_5_of_impostors(split):
    frame = tagged()
    Recorder.calls = []
    run = run_protocol(frame, baseline_factory(Recorder), subject_column="Subject", split=split)
    assert len(Recorder.calls) == 3 * 6
    a, b = halves(list(dict.fromkeys(frame.Subject)))
    for k, result in enumerate(run.results):
        mine = rows_of(frame, result.subject)
        (_, fitted), (_, genuine), (_, impostor) = Recorder.calls[3 * k:3 * k + 3]
        assert np.array_equal(fitted, mine[:25])
        assert np.array_equal(genuine, mine[25:]) and len(genuine) == 26
        if split == "none":
            expected_impostors = [s for s in dict.fromkeys(frame.Subject) if s != result.subject]
        else:
            half = a if result.subject in a else b
            expected_impostors = [s for s in half if s != result.subject]
        assert list(result.impostor_subjects) == expected_impostors
        assert np.array_equal(impostor, np.concatenate([rows_of(frame, s)[:5]
                                                        for s in expected_impostors]))
        assert result.genuine.shape == (26,) and result.impostor.shape == (5 * len(expected_impostors),)
    assert run.mean == 0.0 and run.sd == 0.0  # the recorder separates subjects perfectly


def test_background_never_holds_an_impostor_or_the_subject():
    frame = tagged(n_subjects=8)
    seen = []

    def factory(background):
        seen.append(background)
        return Recorder

    run = run_protocol(frame, factory, subject_column="Subject", split="halves")
    assert len(seen) == 2  # one background per half, learnt once
    for result in run.results:
        assert result.background_subjects
        assert not set(result.background_subjects) & set(result.impostor_subjects)
        assert result.subject not in result.background_subjects
    for background in seen:
        assert isinstance(background, Background)
        subjects = set(background.subjects)
        tested = [r for r in run.results if set(r.background_subjects) == subjects]
        assert len(tested) == 4
        for result in tested:
            assert not subjects & set(result.impostor_subjects) and result.subject not in subjects
        who = {f"s{int(w)}" for w in background.typings["who"]}
        assert who == subjects and len(background.typings) == 51 * len(subjects)
        assert "Subject" not in background.typings.columns


def test_the_original_protocol_passes_no_background():
    seen = []
    run_protocol(tagged(), lambda bg: seen.append(bg) or Recorder, subject_column="Subject",
                 split="none")
    assert seen == [None]


def test_plan_halves_alternate_in_order_of_first_appearance():
    sets = plan(["b", "a", "b", "d", "c", "e"], split="halves")
    assert halves(["b", "a", "d", "c", "e"]) == (("b", "d", "e"), ("a", "c"))
    assert sets["b"] == (("d", "e"), ("a", "c"))
    assert sets["c"] == (("a",), ("b", "d", "e"))
    with pytest.raises(DataError, match="split"):
        plan(["a", "b"], split="thirds")


def test_subjects_with_too_few_typings_are_refused():
    frame = tagged(n_typings=25)
    with pytest.raises(DataError, match="more than 25"):
        run_protocol(frame, baseline_factory(Recorder), subject_column="Subject")


def test_weighted_factory_learns_only_from_the_other_half(monkeypatch):
    import trustshield.detectors.keystroke as keystroke
    learnt = []
    real = keystroke.learn_feature_weights

    def spy(typings, subjects, **kwargs):
        learnt.append(set(subjects))
        return real(typings, subjects, **kwargs)

    monkeypatch.setattr(keystroke, "learn_feature_weights", spy)
    frame = population(n_subjects=8)
    run = run_protocol(frame, weighted_factory(), subject_column="Subject", split="halves")
    a, b = halves(list(dict.fromkeys(frame.Subject)))
    assert sorted(map(sorted, learnt)) == sorted([sorted(a), sorted(b)])
    assert np.isfinite(run.eers).all() and 0 <= run.mean <= 1


def test_run_is_json_with_every_score_on_request():
    run = run_protocol(population(n_subjects=4), baseline_factory(KeystrokeVerifier),
                       subject_column="Subject")
    compact = json.loads(json.dumps(run.to_dict()))
    assert set(compact["per_subject"]) == {"s1", "s2", "s3", "s4"}
    assert compact["mean"] == pytest.approx(np.mean(list(compact["per_subject"].values())))
    assert "25 typings" in compact["protocol"] and "same half" in compact["protocol"]
    assert compact["split"]["A"] == ["s1", "s3"] and compact["split"]["B"] == ["s2", "s4"]
    full = json.loads(json.dumps(run.to_dict(scores=True)))
    assert len(full["scores"]["s1"]["genuine"]) == 26
    assert len(full["scores"]["s1"]["impostor"]) == 5


def test_benchmark_figures_have_the_keys_the_auth_benchmark_reads():
    path = Path(__file__).parents[2] / "benchmarks" / "keystroke.py"
    spec = importlib.util.spec_from_file_location("keystroke_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from trustshield.ingest.keystroke import KeystrokeData
    frame = population(n_subjects=4, n_typings=31)
    data = KeystrokeData(frame, "Subject", tuple(frame.columns[1:]), "0" * 64, Path("synthetic.csv"))
    figures = json.loads(json.dumps(module.keystroke_figures(data, original=False, ablation=False)))
    assert set(figures["baselines"]) == set(module.BASELINES)
    for entry in [*figures["baselines"].values(), figures["ours"]]:
        assert 0 <= entry["mean"] <= 1 and entry["sd"] >= 0
    best = figures["baselines"][figures["best_baseline"]]["mean"]
    assert best == min(entry["mean"] for entry in figures["baselines"].values())
    if best > 0:
        assert figures["ratio"] == pytest.approx(figures["ours"]["mean"] / best)
    else:
        assert figures["ratio"] is None
    assert "half" in figures["protocol"] and figures["seconds"] > 0
