"""The web-payload benchmark: TrustShield's ``payload`` detector beside libinjection and a
character n-gram TF-IDF logistic regression, on the same split, with the same rewrites.

Protocol (:data:`PROTOCOL`, printed with the figures): everything chosen on the training
file only; the test file is scored once per model. Each model's threshold is the score
that at most ``target_fpr`` of the normal training payloads exceed when each is scored by
a model that did not see it (``folds``-fold stratified cross-validation); the final model
is fitted on the whole training file. Recall per attack type and the false-positive rate
are then measured on the test file. The TF-IDF peer gets the same threshold rule, and is
also shown at the threshold giving it the same test false-positive rate as TrustShield
(its best case). Evasion: every test attack payload flagged by a model gets ``tries``
rewritten candidates of up to ``moves`` semantics-preserving rewrites
(:mod:`trustshield.assess.robustness.payload_rewrites`), the same candidates for every
model; it evades when one candidate is not flagged. Models: ``plain`` (no normalisation,
raw training data), ``normalised`` (normalisation), ``hardened`` (normalisation and
training on ``augment`` rewritten variants of each training attack, made with another
seed than the test candidates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from trustshield.assess.robustness.payload_rewrites import (
    Budget,
    candidates,
    evasion,
    guided_evasion,
)
from trustshield.detectors.payload import PayloadDetector
from trustshield.errors import DataError
from trustshield.explain.payload import explain_payloads
from trustshield.ingest.payloads import PayloadTable
from trustshield.pipeline.payload_peers import TfidfPeer, libinjection_flags

PROTOCOL = (
    "train on the training file only; threshold = score exceeded by at most the target "
    "share of normal training payloads, each scored out of fold ({folds}-fold stratified "
    "CV, seed {seed}), at the count whose {confidence:g} % Clopper-Pearson upper bound stays within "
    "the target; final model fitted on all training rows; test file scored once. "
    "Evasion: {tries} candidates of up to {moves} semantics-preserving rewrites per "
    "flagged test attack, identical for every model (seed {seed}); hardening trains on "
    "{augment} rewritten variant(s) per training attack (seed {seed} + 1)."
)

Scorer = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Settings:
    """Benchmark settings (see the module docstring)."""

    target_fpr: float = 0.001
    #: the one-sided Clopper-Pearson confidence of the threshold rule: 0.99, chosen over 0.95
    #: on training data only (benchmarks/payload_thresholds.py: held-out normal flagged 1 vs
    #: 3 of 12,870 in three 2/3-1/3 splits of the training file, recall per type equal)
    confidence: float | None = 0.99
    folds: int = 3
    seed: int = 0
    budget: Budget = Budget()
    augment: int = 2
    #: a second, larger budget (score-guided search only; random search for libinjection)
    strong: Budget | None = Budget(moves=10, tries=100)
    C: float = 10.0
    bits: int = 18
    repeats: int = 3


def augmented(payloads: Sequence[str], labels: Sequence[str], copies: int, seed: int):
    """Training payloads plus ``copies`` rewritten variants of every attack payload."""
    attacks = [i for i, t in enumerate(labels) if t != "normal"]
    if copies < 1 or not attacks:
        return list(payloads), list(labels)
    made = candidates(
        [payloads[i] for i in attacks],
        [labels[i] for i in attacks],
        Budget(moves=5, tries=copies),
        seed,
    )
    extra = [c for row in made for c in row]
    extra_labels = [labels[i] for i in attacks for _ in range(copies)]
    return [*payloads, *extra], [*labels, *extra_labels]


def threshold_at(normal_scores: np.ndarray, fpr: float, confidence: float | None = None) -> float:
    """The smallest threshold t with share(normal_scores > t) <= fpr; with ``confidence``,
    the smallest t whose count k of normal scores above it keeps the one-sided
    Clopper-Pearson upper bound of the false-positive rate at ``confidence`` within
    ``fpr`` (so the rate on new normal payloads stays under ``fpr`` at that confidence)."""
    ordered = np.sort(np.asarray(normal_scores))[::-1]
    m = len(ordered)
    k = int(np.floor(fpr * m))
    if confidence is not None:
        while k > 0 and fpr_upper_bound(k, m, confidence) > fpr:
            k -= 1
    return float(ordered[min(k, m - 1)])


#: the threshold rule :func:`choose_threshold` applies, as recorded in model files and figures
THRESHOLD_RULE = "out-of-fold-clopper-pearson"


@dataclass(frozen=True)
class ThresholdChoice:
    """A payload threshold (flag when score > ``threshold``, score in log-odds units) and
    what the training data say about it.

    ``oof_*``: the ``normal_rows`` normal training payloads, each scored by a model fitted
    without its fold (``folds`` folds): ``oof_exceeding`` of them score above the
    threshold, ``oof_fpr`` that share, ``oof_fpr_upper`` its one-sided Clopper-Pearson
    upper bound at ``confidence`` (None without a confidence). ``in_sample_*``: the same
    normal payloads scored by the final model, which saw them: the threshold the same rule
    would pick from those scores (the optimistic choice, lower when the model overfits)
    and the share of them above the chosen threshold."""

    rule: str
    threshold: float
    target_fpr: float
    confidence: float | None
    folds: int
    normal_rows: int
    oof_exceeding: int
    oof_fpr: float
    oof_fpr_upper: float | None
    in_sample_threshold: float
    in_sample_fpr: float

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "threshold": self.threshold,
            "target_fpr": self.target_fpr,
            "confidence": self.confidence,
            "folds": self.folds,
            "normal_rows": self.normal_rows,
            "oof_exceeding": self.oof_exceeding,
            "oof_fpr": self.oof_fpr,
            "oof_fpr_upper": self.oof_fpr_upper,
            "in_sample_threshold": self.in_sample_threshold,
            "in_sample_fpr": self.in_sample_fpr,
        }


def fpr_upper_bound(exceeding: int, rows: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen as ``exceeding`` of ``rows``."""
    if exceeding >= rows:
        return 1.0
    from scipy.special import betaincinv

    return float(betaincinv(exceeding + 1, rows - exceeding, confidence))


def choose_threshold(
    oof_normal: np.ndarray, in_sample_normal: np.ndarray, s: Settings
) -> ThresholdChoice:
    """:func:`threshold_at` on out-of-fold normal scores (m,), with the validation figures
    of :class:`ThresholdChoice`; ``in_sample_normal`` (m,) are the same payloads scored by
    the final model."""
    oof = np.asarray(oof_normal, dtype=np.float64)
    seen = np.asarray(in_sample_normal, dtype=np.float64)
    if len(oof) == 0 or len(oof) != len(seen):
        raise DataError(
            f"choose_threshold: expected equal, non-zero numbers of out-of-fold and in-sample "
            f"normal scores; got {len(oof)} and {len(seen)}"
        )
    t = threshold_at(oof, s.target_fpr, s.confidence)
    k = int((oof > t).sum())
    return ThresholdChoice(
        rule=THRESHOLD_RULE,
        threshold=t,
        target_fpr=s.target_fpr,
        confidence=s.confidence,
        folds=s.folds,
        normal_rows=len(oof),
        oof_exceeding=k,
        oof_fpr=k / len(oof),
        oof_fpr_upper=None if s.confidence is None else fpr_upper_bound(k, len(oof), s.confidence),
        in_sample_threshold=threshold_at(seen, s.target_fpr, s.confidence),
        in_sample_fpr=float((seen > t).mean()),
    )


def out_of_fold(fit: Callable[[list[str], list[str]], Scorer], payloads, labels, s: Settings):
    """Scores (n,) of every training payload by a model fitted without its fold."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(payloads))
    folds = StratifiedKFold(s.folds, shuffle=True, random_state=s.seed)
    for train, held in folds.split(np.zeros(len(labels)), labels):
        score = fit([payloads[i] for i in train], [labels[i] for i in train])
        scores[held] = score([payloads[i] for i in held])
    return scores


def detector_fitter(normalise: bool, augment: int, s: Settings):
    def fit(payloads: list[str], labels: list[str]) -> Scorer:
        if augment:
            payloads, labels = augmented(payloads, labels, augment, s.seed + 1)
        detector = PayloadDetector(C=s.C, normalise=normalise, bits=s.bits)
        detector.fit_payloads(payloads, labels)
        fit.last = detector  # type: ignore[attr-defined]
        return lambda p: detector.score_payloads(p)[0]

    return fit


def _tfidf(payloads: list[str], labels: list[str]) -> Scorer:
    peer = TfidfPeer().fit(payloads, np.asarray(labels) != "normal")
    return peer.score


def per_type(flagged: np.ndarray, labels: np.ndarray) -> dict:
    """Recall per attack type and the false-positive rate on normal rows."""
    out = {t: float(flagged[labels == t].mean()) for t in sorted(set(labels)) if t != "normal"}
    out["fpr"] = float(flagged[labels == "normal"].mean())
    out["false_positives"] = int(flagged[labels == "normal"].sum())
    return out


def evasion_summary(flag: Callable[[list[str]], np.ndarray], test, tried, labels) -> dict:
    attack = labels != "normal"
    caught = np.zeros(len(labels), bool)
    caught[attack] = flag([test[i] for i in np.flatnonzero(attack)])
    sub = [tried[i] for i in np.flatnonzero(attack)]
    evaded = np.zeros(len(labels), bool)
    evaded[attack] = evasion(flag, sub, caught[attack])
    types = sorted(set(labels[attack]))
    return {
        "caught": int(caught.sum()),
        "evaded": int(evaded.sum()),
        "rate": float(evaded.sum() / max(caught.sum(), 1)),
        "per_type": {
            t: float(evaded[labels == t].sum() / max(caught[labels == t].sum(), 1)) for t in types
        },
    }


def payload_figures(
    train: PayloadTable, test: PayloadTable, s: Settings = Settings(), step=print
) -> dict:
    """Every figure of the benchmark (see the module docstring) as plain JSON values."""
    assert train.attack_types is not None and test.attack_types is not None
    tr_p, tr_y = list(train.payloads), list(train.attack_types)
    te_p, te_y = list(test.payloads), np.asarray(test.attack_types)
    attack_idx = np.flatnonzero(te_y != "normal")
    step(f"rewriting {len(attack_idx):,} test attacks: {s.budget.tries} candidates each")
    made = candidates([te_p[i] for i in attack_idx], list(te_y[attack_idx]), s.budget, s.seed)
    tried: list[list[str]] = [[] for _ in te_p]
    for i, row in zip(attack_idx, made, strict=True):
        tried[i] = row
    results: dict = {}
    normal_train = np.asarray(tr_y) == "normal"
    variants = {"plain": (False, 0), "normalised": (True, 0), "hardened": (True, s.augment)}
    detectors = {}
    for name, (normalise, augment) in variants.items():
        step(f"{name}: {s.folds}-fold out-of-fold scores, then the final fit")
        fit = detector_fitter(normalise, augment, s)
        oof = out_of_fold(fit, tr_p, tr_y, s)
        score = fit(tr_p, tr_y)
        detectors[name] = fit.last  # type: ignore[attr-defined]
        seen = score([p for p, n in zip(tr_p, normal_train, strict=True) if n])
        choice = choose_threshold(oof[normal_train], seen, s)
        test_scores = score(te_p)
        results[name] = _model_figures(
            choice.threshold, oof[normal_train], test_scores, te_y, te_p, tried, score, s
        )
        results[name]["threshold_rule"] = choice.as_dict()
    step("TF-IDF peer: out-of-fold scores, then the final fit")
    oof = out_of_fold(_tfidf, tr_p, tr_y, s)
    t = threshold_at(oof[normal_train], s.target_fpr, s.confidence)
    peer = _tfidf(tr_p, tr_y)
    peer_test = peer(te_p)
    results["tfidf"] = _model_figures(t, oof[normal_train], peer_test, te_y, te_p, tried, peer, s)
    ours_test = detectors["hardened"].score_payloads(te_p)[0]
    for name, scores in (("hardened", ours_test), ("tfidf", peer_test)):
        t_test = threshold_at(scores[te_y == "normal"], s.target_fpr)
        results[f"{name}_at_test_fpr"] = {
            "threshold": t_test,
            "test": per_type(scores > t_test, te_y),
            "note": "threshold set on the test file at the target FPR (equal-FPR comparison)",
        }
    if s.strong is not None:
        step(f"larger budget: {s.strong.moves} rewrites, {s.strong.tries} queries")
        strong = replace(s, budget=s.strong)
        scorers = {"plain": detectors["plain"], "hardened": detectors["hardened"]}
        for name, det in scorers.items():
            score = lambda p, d=det: d.score_payloads(p)[0]  # noqa: E731
            t = results[name]["threshold"]
            results[name]["guided_evasion_strong"] = guided_summary(score, t, te_p, te_y, strong)
        results["tfidf"]["guided_evasion_strong"] = guided_summary(
            peer, results["tfidf"]["threshold"], te_p, te_y, strong
        )
    step("libinjection")
    results["libinjection"] = _libinjection_figures(te_p, te_y, tried)
    if s.strong is not None and results["libinjection"].get("installed"):
        made = candidates([te_p[i] for i in attack_idx], list(te_y[attack_idx]), s.strong, s.seed)
        strong_tried: list[list[str]] = [[] for _ in te_p]
        for i, row in zip(attack_idx, made, strict=True):
            strong_tried[i] = row
        results["libinjection"]["evasion_strong"] = evasion_summary(
            _libinjection_flag, te_p, strong_tried, te_y
        )
    figures = {
        "protocol": PROTOCOL.format(
            confidence=100 * (s.confidence or 0.0),
            folds=s.folds,
            seed=s.seed,
            tries=s.budget.tries,
            moves=s.budget.moves,
            augment=s.augment,
        ),
        "settings": {
            "target_fpr": s.target_fpr,
            "confidence": s.confidence,
            "folds": s.folds,
            "seed": s.seed,
            "moves": s.budget.moves,
            "tries": s.budget.tries,
            "augment": s.augment,
            "strong_moves": s.strong.moves if s.strong else None,
            "strong_tries": s.strong.tries if s.strong else None,
            "C": s.C,
            "bits": s.bits,
        },
        "models": results,
        "throughput": throughput(detectors["hardened"], te_p, s.repeats),
        "explanations": exactness(detectors["hardened"], te_p),
    }
    figures["targets"] = targets(figures)
    return figures


def _model_figures(t, oof_normal, test_scores, te_y, te_p, tried, score, s, note=None) -> dict:
    flag = lambda p: score(p) > t  # noqa: E731
    out = {
        "threshold": t,
        "training_oof_fpr": float((oof_normal > t).mean()),
        "test": per_type(test_scores > t, te_y),
        "evasion": evasion_summary(flag, te_p, tried, te_y),
        "guided_evasion": guided_summary(score, t, te_p, te_y, s),
    }
    if note:
        out["note"] = note
    return out


def guided_summary(score: Scorer, t: float, te_p, te_y, s: Settings) -> dict:
    """Score-guided evasion (:func:`guided_evasion`) of the test attacks, per type."""
    attack = np.flatnonzero(te_y != "normal")
    payloads, kinds = [te_p[i] for i in attack], [str(te_y[i]) for i in attack]
    caught = score(payloads) > t
    evaded = guided_evasion(score, t, payloads, kinds, s.budget, s.seed)
    kinds_arr = np.asarray(kinds)
    return {
        "caught": int(caught.sum()),
        "evaded": int(evaded.sum()),
        "rate": float(evaded.sum() / max(caught.sum(), 1)),
        "per_type": {
            k: float(evaded[kinds_arr == k].sum() / max(caught[kinds_arr == k].sum(), 1))
            for k in sorted(set(kinds))
        },
    }


def _libinjection_flag(p: list[str]) -> np.ndarray:
    found = libinjection_flags(p)
    assert found is not None
    return found


def _libinjection_figures(te_p, te_y, tried) -> dict:
    flags = libinjection_flags(te_p)
    if flags is None:
        return {"installed": False, "note": "libinjection-python is not installed"}

    flag = _libinjection_flag
    start = time.perf_counter()
    flag(te_p)
    rate = len(te_p) / (time.perf_counter() - start)
    return {
        "installed": True,
        "test": per_type(flags, te_y),
        "evasion": evasion_summary(flag, te_p, tried, te_y),
        "payloads_per_s": rate,
    }


def throughput(detector: PayloadDetector, payloads: list[str], repeats: int) -> dict:
    """Payloads per second scored with exact n-gram explanations (``terms``), median of
    ``repeats`` runs over the test payloads, in wall-clock and in CPU time of this process
    (the machine's load average is recorded beside them); and the rate of per-character
    explanations (:func:`~trustshield.explain.payload.explain_payloads`)."""
    import os

    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        detector.terms(payloads)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    sample = payloads[:1000]
    start = time.perf_counter()
    explain_payloads(detector, sample)
    chars = len(sample) / (time.perf_counter() - start)
    return {
        "payloads": len(payloads),
        "seconds_median": float(np.median(walls)),
        "payloads_per_s": float(len(payloads) / np.median(walls)),
        "payloads_per_cpu_s": float(len(payloads) / np.median(cpus)),
        "load_average_1min": float(os.getloadavg()[0]),
        "character_explanations_per_s": float(chars),
    }


def exactness(detector: PayloadDetector, payloads: list[str]) -> dict:
    """Largest |base + Σ terms − score| over all payloads (n-gram terms) and over the first
    500 (per-character terms)."""
    found = detector.terms(payloads)
    scores = detector.score_payloads(payloads)[0]
    chars = explain_payloads(detector, payloads[:500])
    return {
        "rows": len(payloads),
        "max_abs_sum_error": float(np.max(np.abs(found.total() - scores))),
        "character_rows": len(chars),
        "character_max_abs_sum_error": float(max(e.gap() for e in chars)),
    }


def targets(figures: dict) -> dict:
    """Which of the issue's bars the figures reach. Recall is compared at equal test FPR
    (both thresholds set on the test file at the target; libinjection has no threshold and
    flags no normal payload), and at the trained thresholds."""
    m = figures["models"]
    types = [t for t in m["hardened"]["test"] if t not in ("fpr", "false_positives")]

    def at_least(ours: dict, peers: list[dict]) -> dict:
        return {t: all(ours[t] >= p.get(t, 0.0) for p in peers) for t in types}

    lib = [m["libinjection"]["test"]] if m["libinjection"].get("installed") else []
    peer_evasion = [max(m["tfidf"]["evasion"]["rate"], m["tfidf"]["guided_evasion"]["rate"])]
    if m["libinjection"].get("installed"):  # no score to guide by: the random search
        peer_evasion.append(m["libinjection"]["evasion"]["rate"])
    ours_evasion = max(m["hardened"]["evasion"]["rate"], m["hardened"]["guided_evasion"]["rate"])
    return {
        "recall_at_least_peers_at_equal_test_fpr": at_least(
            m["hardened_at_test_fpr"]["test"], [m["tfidf_at_test_fpr"]["test"], *lib]
        ),
        "recall_at_least_peers_at_trained_thresholds": at_least(
            m["hardened"]["test"], [m["tfidf"]["test"], *lib]
        ),
        "trained_threshold_test_fpr_at_most_target": m["hardened"]["test"]["fpr"]
        <= figures["settings"]["target_fpr"],
        "hardened_evasion_at_most_half_best_peer": ours_evasion <= 0.5 * min(peer_evasion),
        "throughput_at_least_50000": figures["throughput"]["payloads_per_s"] >= 50_000,
        "throughput_per_cpu_s_at_least_50000": figures["throughput"]["payloads_per_cpu_s"]
        >= 50_000,
        "explanations_exact": figures["explanations"]["max_abs_sum_error"] <= 1e-9
        and figures["explanations"]["character_max_abs_sum_error"] <= 1e-9,
    }


def quick(s: Settings) -> Settings:
    """Smaller settings for a fast look (2 folds, 5 tries)."""
    return replace(s, folds=2, budget=Budget(moves=s.budget.moves, tries=5), repeats=1, strong=None)
