"""check_detector on every registered kind, scikit-learn compatibility (clone, get_params,
set_params), and check_detector catching detectors that break a promise."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone as sklearn_clone

from conn_flows import beacon, chatter, flows, scan
from domain_samples import domain_names
from keystroke_typings import FEATURES, population, typist
from synthetic import synthetic_traffic
from trustshield.detectors import (
    GradientBoostedDetector,
    HybridDetector,
    NormalPrototypeDetector,
    kinds,
)
from trustshield.detectors.behaviour import BehaviourModel, SiteBaselineDetector
from trustshield.detectors.domain import DomainDetector
from trustshield.detectors.inputs import check_frame, check_labels, feature_matrix
from trustshield.detectors.keystroke import BASELINES, KeystrokeVerifier, learn_population
from trustshield.detectors.mouse import MouseVerifier
from trustshield.detectors.params import Parameters
from trustshield.detectors.payload import PayloadDetector
from trustshield.detectors.protocol import Attributions, attack_mask, check_columns, check_fitted
from trustshield.errors import DataError
from trustshield.features.behaviour import behaviour_table
from trustshield.features.mouse_actions import FEATURES as MOUSE_FEATURES
from trustshield.testing import CheckReport, DetectorCheckError, check_detector
from trustshield.testing.detector_check import CHECKS

CATEGORICAL = ("service",)
_BACKGROUND = population(n_subjects=6, n_typings=31, seed=9)
PROFILE = learn_population(_BACKGROUND.drop(columns="Subject"), _BACKGROUND["Subject"], n_enrol=5)


def traffic():
    X, labels, _ = synthetic_traffic(n_normal=240, n_attack=120)
    return X, labels


def typings():
    """A user's 24 typings (y = 0) and 24 of three other people (y = 1)."""
    others = pd.concat([typist(s, 8, scale=1.3 + 0.1 * s) for s in (2, 3, 4)], ignore_index=True)
    X = pd.concat([typist(1, 24), others], ignore_index=True)
    return X, np.r_[np.zeros(24, int), np.ones(24, int)]


def mouse_actions():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, len(MOUSE_FEATURES))), columns=list(MOUSE_FEATURES))
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    X.loc[y == 1, ["speed_mean", "click_time", "straightness"]] += 1.5
    return X, y


def behaviour_rows():
    """Channel windows of ordinary hosts (y = 0) and of beaconing or scanning ones (y = 1)."""
    records = []
    for h in range(10):
        records += chatter(f"10.0.1.{h}", 40, seed=h)
    for h in range(3):
        records += beacon(f"10.0.2.{h}", f"203.0.113.{h}", 6000 + h, 5.0 + h, 300)
        records += scan(f"10.0.3.{h}", 23 + h, 40)
    table = behaviour_table(flows(records))
    malicious = flows(records)["label"].eq("Malicious").to_numpy()
    y = np.bincount(table.flow_row, weights=malicious, minlength=len(table)) > 0
    return table.features, y.astype(int)


def gbdt():
    return GradientBoostedDetector(n_estimators=15, categorical=CATEGORICAL, n_threads=1)


def prototype():
    return NormalPrototypeDetector(
        n_prototypes=12, categorical=CATEGORICAL, log_features=("bytes", "count")
    )


def payloads():
    """Short parameter values: ordinary ones (normal) and SQLi, XSS and traversal ones."""
    normal = ["madrid", "calle mayor 5", "juan@example.org", "28001", "perez", "1234567890"]
    attack = ["1' or 1=1--", "<script>alert(1)</script>", "../../etc/passwd", "1 union select null"]
    X = pd.DataFrame({"payload": normal * 3 + attack * 3})
    y = ["normal"] * 18 + ["sqli", "xss", "path-traversal", "sqli"] * 3
    return X, np.asarray(y)


#: one small example of every registered kind: (unfitted detector, data); a new kind adds one
EXAMPLES = {
    "gbdt": (gbdt, traffic),
    "prototype": (prototype, traffic),
    "hybrid": (lambda: HybridDetector(gbdt(), prototype(), n_folds=3), traffic),
    "keystroke": (
        lambda: KeystrokeVerifier(
            population=PROFILE,
            contrast=0.5,
            drift=True,
            weights={f: 1.0 + i for i, f in enumerate(FEATURES)},
        ),
        typings,
    ),
    **{cls.kind: (cls, typings) for cls in BASELINES.values()},
    "mouse": (lambda: MouseVerifier(n_estimators=15, min_child_samples=10), mouse_actions),
    "behaviour": (BehaviourModel, behaviour_rows),
    "payload": (lambda: PayloadDetector(bits=12, C=5.0), payloads),
    "domain": (lambda: DomainDetector(synthetic=40, pseudo=20, n_estimators=30), domain_names),
    "behaviour-baseline": (
        lambda: SiteBaselineDetector(directions={"dst_local": -1}, combine="max"),
        behaviour_rows,
    ),
}
NOT_EXPLAINABLE = {"keystroke-one-class-svm"}


def test_every_registered_kind_has_an_example():
    assert set(EXAMPLES) == set(kinds())


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_registered_kind_passes_check_detector(kind):
    make, data = EXAMPLES[kind]
    detector = make()
    params = detector.get_params(deep=False)
    report = check_detector(detector, *data())
    assert report == CheckReport(
        kind=kind, registered=True, explainable=kind not in NOT_EXPLAINABLE, passed=CHECKS
    )
    assert detector.get_params(deep=False) == params and not hasattr(detector, "feature_names_")


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_sklearn_clone_gives_an_unfitted_copy_that_fits_to_the_same_scores(kind):
    make, data = EXAMPLES[kind]
    X, y = data()
    fitted = make().fit(X, y)
    copy = sklearn_clone(fitted)
    assert type(copy) is type(fitted) and copy is not fitted
    assert not hasattr(copy, "feature_names_")
    assert values(copy.get_params(deep=True)) == values(fitted.get_params(deep=True))
    np.testing.assert_array_equal(copy.fit(X, y).suspicion(X), fitted.suspicion(X))


def values(params: dict) -> str:
    """Parameters by value (parts are compared through their own ``part__name`` entries)."""
    return json.dumps(
        {k: v for k, v in params.items() if not hasattr(v, "get_params")}, default=repr
    )


def test_deep_params_reach_a_composite_detectors_parts():
    hybrid = EXAMPLES["hybrid"][0]()
    params = hybrid.get_params(deep=True)
    assert params["supervised"] is hybrid.parts()["supervised"]
    assert params["supervised__n_estimators"] == 15 and params["novelty__n_prototypes"] == 12
    assert hybrid.set_params(supervised__n_estimators=7, n_folds=4) is hybrid
    assert hybrid.parts()["supervised"].n_estimators == 7 and hybrid.n_folds == 4
    assert sklearn_clone(hybrid).parts()["supervised"].n_estimators == 7


def test_set_params_refuses_an_unknown_name_and_a_value_the_constructor_refuses():
    with pytest.raises(DataError, match="no parameter 'trees'.*n_estimators"):
        gbdt().set_params(trees=3)
    verifier = KeystrokeVerifier()
    with pytest.raises(DataError, match="contrast must be a number in"):
        verifier.set_params(contrast=0.5)  # contrast needs a population profile
    assert verifier.contrast == 0.0
    assert verifier.set_params(population=PROFILE, clip=4.0).clip == 4.0


# ---------------------------------------------------------------- input validation


@pytest.fixture(scope="module")
def fitted_kinds():
    """A fitted gbdt, prototype and hybrid on the same traffic."""
    X, y = traffic()
    return {kind: EXAMPLES[kind][0]().fit(X, y) for kind in ("gbdt", "prototype", "hybrid")}


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
def test_fit_refuses_nan_in_a_numeric_column_naming_column_and_row(kind):
    X, y = traffic()
    X.loc[5, "count"] = np.nan
    with pytest.raises(
        DataError,
        match=r"fit\(\): missing value \(NaN\) in column 'count', "
        r"row position 5 \(NaN, missing, is accepted here in "
        r"categorical columns only\)",
    ):
        EXAMPLES[kind][0]().fit(X, y)


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
def test_suspicion_refuses_infinity(kind, fitted_kinds):
    X, _ = traffic()
    X.loc[3, "bytes"] = np.inf
    with pytest.raises(DataError, match="infinite value inf in column 'bytes', row position 3"):
        fitted_kinds[kind].suspicion(X)


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
@pytest.mark.parametrize("column", ["service", "count"])
def test_nan_when_scoring_is_a_missing_value_and_scores(kind, column, fitted_kinds):
    X, _ = traffic()
    X.loc[0, column] = np.nan  # an unseen category, or a value lost in measurement
    scores = fitted_kinds[kind].suspicion(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
def test_fit_accepts_nan_in_a_categorical_column(kind):
    X, y = traffic()
    X.loc[0, "service"] = np.nan  # a missing category
    assert np.isfinite(EXAMPLES[kind][0]().fit(X, y).suspicion(X)).all()


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
def test_fit_and_suspicion_refuse_a_numpy_array(kind, fitted_kinds):
    X, y = traffic()
    with pytest.raises(
        DataError,
        match=r"fit\(\) expects a pandas DataFrame .*got ndarray of "
        r"shape \(360, 5\)",
    ):
        EXAMPLES[kind][0]().fit(X.to_numpy(), y)
    with pytest.raises(DataError, match=r"suspicion\(\) expects a pandas DataFrame"):
        fitted_kinds[kind].suspicion(X.to_numpy())


@pytest.mark.parametrize("kind", ["gbdt", "prototype", "hybrid"])
def test_fit_refuses_labels_of_another_length(kind):
    X, y = traffic()
    with pytest.raises(DataError, match=r"fit\(\): y has 359 entries for 360 rows of X"):
        EXAMPLES[kind][0]().fit(X, y[:-1])


def test_fit_refuses_categories_of_another_length_and_non_numeric_columns():
    X, labels, categories = synthetic_traffic(n_normal=60, n_attack=30)
    with pytest.raises(DataError, match="categories has 89 entries for 90 rows"):
        gbdt().fit(X, labels, categories[1:])
    with pytest.raises(DataError, match=r"column\(s\) \['proto'\] are not numeric"):
        gbdt().fit(X.assign(proto="tcp"), labels)


def test_hybrid_needs_enough_rows_of_each_class_for_its_folds():
    X, labels, _ = synthetic_traffic(n_normal=40, n_attack=2)
    with pytest.raises(
        DataError, match="n_folds = 3 normal rows and 3 attack rows.*got 40 normal and 2 attack"
    ):
        EXAMPLES["hybrid"][0]().fit(X, labels)


def test_keystroke_fit_with_labels_learns_the_users_typings_only():
    X, y = typings()
    with_labels = KeystrokeVerifier().fit(X, y)
    users_only = KeystrokeVerifier().fit(X[y == 0])
    np.testing.assert_array_equal(with_labels.suspicion(X), users_only.suspicion(X))


@pytest.mark.parametrize("kind", ["keystroke", "mouse"])
def test_verifiers_refuse_a_numpy_array_and_labels_of_another_length(kind):
    make, data = EXAMPLES[kind]
    X, y = data()
    with pytest.raises(DataError, match="DataFrame"):
        make().fit(X.to_numpy(), y)
    with pytest.raises(DataError, match=str(len(X))):
        make().fit(X, y[1:])
    with pytest.raises(DataError, match="DataFrame"):
        make().fit(X, y).suspicion(X.to_numpy())


# ---------------------------------------------------------------- check_detector catches


class MeanDistance(Parameters):
    """A small honest detector outside the registry: squared standardised distance to the
    mean normal row."""

    kind = "test-mean-distance"

    def __init__(self, *, scale: float = 1.0):
        self.scale = scale

    def fit(self, X, y=None):
        check_frame(X, type(self).__name__, "fit")
        matrix = feature_matrix(X, type(self).__name__, "fit")
        if y is not None:
            matrix = matrix[~attack_mask(check_labels(y, len(X), type(self).__name__, "fit"))]
        self.feature_names_ = tuple(X.columns)
        self.mean_, self.sd_ = matrix.mean(axis=0), matrix.std(axis=0) + 1e-9
        return self

    def _terms(self, X):
        return self.scale * ((check_columns(self, X) - self.mean_) / self.sd_) ** 2

    def suspicion(self, X):
        check_fitted(self, "suspicion")
        return self._terms(X).sum(axis=1)

    def explain(self, X):
        check_fitted(self, "explain")
        return Attributions(self.feature_names_, self._terms(X), np.zeros(len(X)))

    def to_dict(self):
        check_fitted(self, "to_dict")
        return {
            "kind": self.kind,
            "scale": self.scale,
            "features": list(self.feature_names_),
            "mean": self.mean_.tolist(),
            "sd": self.sd_.tolist(),
        }

    @classmethod
    def from_dict(cls, state):
        detector = cls(scale=state["scale"])
        detector.feature_names_ = tuple(state["features"])
        detector.mean_, detector.sd_ = np.asarray(state["mean"]), np.asarray(state["sd"])
        return detector


class ConstantScore(MeanDistance):
    def suspicion(self, X):
        check_fitted(self, "suspicion")
        return np.zeros(len(check_columns(self, X)))


class ForgetsItsMean(MeanDistance):
    @classmethod
    def from_dict(cls, state):
        detector = super().from_dict(state)
        detector.mean_ = np.zeros_like(detector.mean_)
        return detector


class NumpyState(MeanDistance):
    def to_dict(self):
        return {**super().to_dict(), "mean": self.mean_}


class LooseExplanation(MeanDistance):
    def explain(self, X):
        exact = super().explain(X)
        return Attributions(exact.feature_names, exact.values, exact.base + 0.1)


class ChangesItsParameter(MeanDistance):
    def __init__(self, *, scale: float = 1.0):
        self.scale = round(scale, 6)  # a new object: clone cannot tell it was kept


class AcceptsAnything(MeanDistance):
    def suspicion(self, X):
        check_fitted(self, "suspicion")
        matrix = np.asarray(X, dtype=float)[:, : len(self.mean_)]
        return (((matrix - self.mean_) / self.sd_) ** 2).sum(axis=1)


class Unseeded(MeanDistance):
    def fit(self, X, y=None):
        super().fit(X, y)
        self.mean_ = self.mean_ + np.random.default_rng().normal(0, 1e-3, len(self.mean_))
        return self


def test_an_honest_detector_outside_the_registry_passes_unregistered():
    report = check_detector(MeanDistance(), *traffic())
    assert report.passed == CHECKS and not report.registered and report.explainable


@pytest.mark.parametrize(
    "broken, check, says",
    [
        (ConstantScore, "direction", "higher must mean more suspicious"),
        (ForgetsItsMean, "round_trip", "scores differently"),
        (NumpyState, "json", "not plain JSON"),
        (LooseExplanation, "explain", "misses suspicion by 0.1"),
        (ChangesItsParameter, "params", "sklearn.base.clone failed"),
        (AcceptsAnything, "input_errors", "suspicion of a NumPy array raised no error"),
        (Unseeded, "deterministic", "a second fit"),
    ],
)
def test_check_detector_fails_a_detector_that_breaks_a_promise(broken, check, says):
    with pytest.raises(DetectorCheckError, match=says) as caught:
        check_detector(broken(), *traffic())
    assert caught.value.check == check
    assert f"check_detector[{check}] {broken.__name__}" in str(caught.value)


def test_check_detector_fails_a_kind_registered_to_another_class():
    class LooksLikeGbdt(MeanDistance):
        kind = "gbdt"

    with pytest.raises(DetectorCheckError, match="registered to GradientBoostedDetector"):
        check_detector(LooksLikeGbdt(), *traffic())


def test_check_detector_needs_both_classes_in_y():
    X, y = traffic()
    with pytest.raises(DataError, match="both attack rows"):
        check_detector(MeanDistance(), X, np.full(len(X), "normal"))
