"""The keystroke protocol: exact EER, the typings each test uses, and the background split."""

import json
from pathlib import Path

import numpy as np
import pytest

from keystroke_typings import population
from trustshield.assess.keystroke import (
    Background,
    baseline_factory,
    equal_error_rate,
    halves,
    plan,
    run_protocol,
)
from trustshield.assess.keystroke_selection import (
    SETTINGS_GRID,
    SelectedFactory,
    grid_points,
    select_settings,
    weighted_factory,
)
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
    assert equal_error_rate(
        genuine=np.array([1.0, 2, 3, 4]), impostor=np.array([3.0, 4, 5, 6])
    ) == pytest.approx(0.25)


def test_eer_interpolates_between_adjacent_thresholds():
    # ROC points (FAR, FRR): t=1 -> (0, 1/3), t=1.5 -> (1/2, 1/3): the segment meets
    # FAR = FRR at 1/3
    assert equal_error_rate(
        genuine=np.array([0.0, 1, 2]), impostor=np.array([1.5, 3])
    ) == pytest.approx(1 / 3)


def test_eer_ignores_monotone_rescaling():
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    assert equal_error_rate(genuine=np.exp(genuine), impostor=np.exp(impostor)) == pytest.approx(
        equal_error_rate(genuine=genuine, impostor=impostor), abs=1e-12
    )


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
        (_, fitted), (_, genuine), (_, impostor) = Recorder.calls[3 * k : 3 * k + 3]
        assert np.array_equal(fitted, mine[:25])
        assert np.array_equal(genuine, mine[25:]) and len(genuine) == 26
        if split == "none":
            expected_impostors = [s for s in dict.fromkeys(frame.Subject) if s != result.subject]
        else:
            half = a if result.subject in a else b
            expected_impostors = [s for s in half if s != result.subject]
        assert list(result.impostor_subjects) == expected_impostors
        assert np.array_equal(
            impostor, np.concatenate([rows_of(frame, s)[:5] for s in expected_impostors])
        )
        assert result.genuine.shape == (26,)
        assert result.impostor.shape == (5 * len(expected_impostors),)
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
    run_protocol(
        tagged(), lambda bg: seen.append(bg) or Recorder, subject_column="Subject", split="none"
    )
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
    with pytest.raises(DataError, match="s1 has 25 typings; the protocol needs at least 26"):
        run_protocol(frame, baseline_factory(Recorder), subject_column="Subject")
    with pytest.raises(DataError, match="at least 31 [(]5 to enrol, then 26 genuine"):
        run_protocol(
            frame, baseline_factory(Recorder), subject_column="Subject", n_enrol=5, n_genuine=26
        )


def spy_on_learning(monkeypatch, into: list, kind=set):
    """Record the subjects of every background a prior's population and weights are
    learned on."""
    import trustshield.detectors.keystroke.prior as prior

    for name in ("learn_population", "learn_feature_weights"):
        real = getattr(prior, name)

        def spy(typings, subjects, _real=real, _name=name, **kwargs):
            into.append((_name, kind(subjects)))
            return _real(typings, subjects, **kwargs)

        monkeypatch.setattr(prior, name, spy)


def test_weighted_factory_learns_only_from_the_other_half(monkeypatch):
    calls = []
    spy_on_learning(monkeypatch, calls)
    frame = population(n_subjects=8)
    run = run_protocol(frame, weighted_factory(), subject_column="Subject", split="halves")
    a, b = halves(list(dict.fromkeys(frame.Subject)))
    for name in ("learn_population", "learn_feature_weights"):
        learnt = [subjects for called, subjects in calls if called == name]
        assert sorted(map(sorted, learnt)) == sorted([sorted(a), sorted(b)])
    assert np.isfinite(run.eers).all() and 0 <= run.mean <= 1


# ---------------------------------------------------------------- nested selection

SMALL_GRID = {"contrast": (0.0, 0.5), "drift": (False, True)}


def test_settings_for_one_half_are_chosen_without_any_of_its_subjects(monkeypatch):
    calls = []
    spy_on_learning(monkeypatch, calls, frozenset)
    frame = population(n_subjects=12, n_typings=31)
    factory = SelectedFactory(grid=SMALL_GRID)
    run = run_protocol(frame, factory, subject_column="Subject", split="halves")
    a, b = halves(list(dict.fromkeys(frame.Subject)))
    assert len(factory.selections) == 2
    by_background = {frozenset(s.background_subjects): s for s in factory.selections}
    for tested, other in ((a, b), (b, a)):
        selection = by_background[frozenset(other)]
        # every subject the inner runs enrolled, met as an impostor or learned from
        assert selection.inner_subjects == set(other)
        assert not selection.inner_subjects & set(tested)
        inner_1, inner_2 = selection.inner_halves
        assert set(inner_1) | set(inner_2) == set(other) and not set(inner_1) & set(inner_2)
        # the chosen settings are a grid point, the one with the lowest inner EER
        assert selection.candidates == grid_points(SMALL_GRID)
        assert selection.chosen in grid_points(SMALL_GRID)
        assert len(selection.inner_eers) == len(selection.candidates)
        assert selection.inner_eers[selection.candidates.index(selection.chosen)] == min(
            selection.inner_eers
        )
        # and the tested half is verified with exactly those settings
        for result in run.results:
            if result.subject in tested:
                assert set(result.background_subjects) == set(other)
    # priors (population and weights) were learned on one inner half per candidate, then
    # on the whole other half; no call ever mixed subjects of A and B
    for name in ("learn_population", "learn_feature_weights"):
        learnt = [subjects for called, subjects in calls if called == name]
        assert len(learnt) == 2 * (2 * len(grid_points(SMALL_GRID)) + 1)
        assert all(s <= set(a) or s <= set(b) for s in learnt)
        assert learnt.count(frozenset(a)) == 1 and learnt.count(frozenset(b)) == 1
    json.dumps([s.to_dict() for s in factory.selections])


def test_the_default_grid_holds_the_prior_defaults_and_stays_small():
    from trustshield.detectors.keystroke.prior import DEFAULT_SETTINGS

    points = grid_points(SETTINGS_GRID)
    assert len(points) == 32 and len({json.dumps(p) for p in points}) == 32
    assert {k: DEFAULT_SETTINGS[k] for k in SETTINGS_GRID} in points


def test_selection_needs_four_background_subjects():
    frame = population(n_subjects=3, n_typings=31)
    background = Background(frame.drop(columns="Subject"), frame.Subject.to_numpy(), 25, 5)
    with pytest.raises(DataError, match="at least 4"):
        select_settings(background, grid_points(SMALL_GRID))


def test_without_background_the_selected_factory_gives_the_defaults():
    factory = SelectedFactory(grid=SMALL_GRID)
    verifier = factory(None)()
    assert isinstance(verifier, KeystrokeVerifier)
    assert verifier.get_params() == KeystrokeVerifier().get_params()
    assert factory.selections == []


def test_run_is_json_with_every_score_on_request():
    run = run_protocol(
        population(n_subjects=4), baseline_factory(KeystrokeVerifier), subject_column="Subject"
    )
    compact = json.loads(json.dumps(run.to_dict()))
    assert set(compact["per_subject"]) == {"s1", "s2", "s3", "s4"}
    assert compact["mean"] == pytest.approx(np.mean(list(compact["per_subject"].values())))
    assert "25 typings" in compact["protocol"] and "same half" in compact["protocol"]
    assert compact["split"]["A"] == ["s1", "s3"] and compact["split"]["B"] == ["s2", "s4"]
    full = json.loads(json.dumps(run.to_dict(scores=True)))
    assert len(full["scores"]["s1"]["genuine"]) == 26
    assert len(full["scores"]["s1"]["impostor"]) == 5


def test_benchmark_figures_have_the_keys_the_auth_benchmark_reads():
    from trustshield.pipeline import keystroke_benchmark as module
    from trustshield.ingest.keystroke import KeystrokeData

    frame = population(n_subjects=8, n_typings=31)
    data = KeystrokeData(
        frame, "Subject", tuple(frame.columns[1:]), "0" * 64, Path("synthetic.csv")
    )
    figures = json.loads(
        json.dumps(
            module.keystroke_figures(data, original=False, ablation=False, grid=SMALL_GRID),
            allow_nan=False,
        )
    )
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
    selection = figures["selection"]
    assert selection["grid"] == {k: list(v) for k, v in SMALL_GRID.items()}
    assert set(selection["halves"]) == {"A", "B"}
    for half, other in (("A", "B"), ("B", "A")):
        choice = selection["halves"][half]
        assert choice["chosen_in"] == other and choice["background"] == figures["split"][other]
        assert choice["chosen"] in [
            {k: v for k, v in c.items() if k != "inner_eer"} for c in choice["inner_eer"]
        ]
        assert len(choice["inner_eer"]) == 4
    assert "chosen inside the other half" in figures["split"]["text"]
    assert "inside the other half alone" in figures["protocol"]


def test_error_curve_averages_each_subjects_lowest_frr_at_each_far():
    from trustshield.assess.keystroke import ProtocolRun, SubjectResult

    separated = SubjectResult("s1", 0.0, np.array([0.0, 0.1]), np.array([1.0, 2.0]), (), ())
    mixed = SubjectResult("s2", 0.5, np.array([1.0, 3.0]), np.array([2.0, 4.0]), (), ())
    curve = ProtocolRun("x", (separated, mixed), "", {}, 0.0).error_curve(points=3)
    assert curve["far"] == [0.0, 0.5, 1.0]
    # s1: FRR 0 everywhere; s2: threshold 1 rejects 3 only (FRR 0.5, FAR 0), threshold 3
    # rejects nothing genuine and accepts impostor 2 (FRR 0, FAR 0.5)
    assert curve["frr"] == [0.25, 0.0, 0.0]
