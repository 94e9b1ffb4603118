"""enrol | verify | forget: biometric authentication with encrypted templates.

``enrol`` fits the kind's verifier on the user's enrolment samples, sets the user's accept
and deny thresholds on those samples only (out of fold, with an optional background of
other users' enrolment samples), and stores both encrypted (``trustshield.store.templates``).
A kind built from a population prior (keystroke) fits the verifier of the signed prior that
``trustshield auth prior`` stored (``--prior`` names another file; ``--no-prior`` fits the
verifier's fixed defaults instead, which the benchmark does not measure). Below the number
of samples separate accept and deny thresholds need, the deny threshold is raised to the
highest score a sample within the enrolment range can get, and enrol says so; a verifier
that cannot bound that score is refused with how many more samples are needed.
``verify`` decides accept / step_up / deny for one attempt; whatever fails on the way
(no key, no template, an altered template, an unreadable file, a malformed sample) gives
step_up with the reason and exit status 0, since step-up is a valid outcome. ``forget``
deletes a user's template completely. All three are audited; none prints or logs sample
values (only counts, thresholds, scores and feature names).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from trustshield.commands.common import STORE_HELP, add_json, print_json, resolve_data
from trustshield.commands import auth_prior
from trustshield.commands.progress import output
from trustshield.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TEMPLATES_HELP = "folder of encrypted templates (default $TRUSTSHIELD_TEMPLATES or ./templates)"
TOP_FEATURES = 3


def register(sub) -> None:
    from trustshield.detectors.verifiers import VERIFIERS

    e = sub.add_parser(
        "enrol",
        help="fit a user's verifier and thresholds on their enrolment "
        "samples; store them encrypted (audited)",
    )
    e.add_argument("--user", required=True, help="user id (letters, digits, . _ @ -)")
    e.add_argument(
        "--data",
        required=True,
        help="the user's enrolment samples: CSV/Parquet, one row per sample",
    )
    e.add_argument("--kind", required=True, choices=sorted(VERIFIERS), help="verifier kind")
    e.add_argument(
        "--background",
        help="other users' enrolment samples (same columns) to place "
        "the deny threshold; never test data",
    )
    e.add_argument(
        "--accept-position",
        type=float,
        help="place the accept threshold this far from the user's genuine median "
        "(0) towards the background impostors' median (1), a position learned "
        "for the population by the normalised calibration; needs --background",
    )
    e.add_argument(
        "--folds",
        type=int,
        default=10,
        help="folds for out-of-fold enrolment scores (default 10; as many as "
        "samples: leave-one-out)",
    )
    e.add_argument(
        "--adaptive",
        action="store_true",
        help="keep the latest accepted samples (encrypted, as many as enrolled) so "
        "that each accepted verify refits the profile as the user's behaviour "
        "settles (the fairness mitigation; thresholds stay those of enrolment)",
    )
    e.add_argument(
        "--prior",
        help="signed population prior to fit the verifier from (default: "
        "TEMPLATES/KIND.prior.json, made by `trustshield auth prior`)",
    )
    e.add_argument(
        "--no-prior",
        action="store_true",
        help="fit the verifier's fixed defaults without a population prior (not the "
        "verifier the benchmark measures)",
    )
    e.add_argument(
        "--keys",
        help="keyring that verifies the prior's signature (default "
        "$TRUSTSHIELD_KEYS or ./trustshield-keys)",
    )
    e.add_argument("--templates", help=TEMPLATES_HELP)
    e.add_argument("--store", help=STORE_HELP)
    add_json(e, "the enrolment (counts, thresholds, notes; never sample values)")
    e.set_defaults(run=cmd_enrol)
    v = sub.add_parser(
        "verify", help="accept, step up or deny one attempt against a user's template"
    )
    v.add_argument("--user", required=True, help="the identity the attempt claims")
    v.add_argument(
        "--data", required=True, help="the attempt's samples: CSV/Parquet, one row per sample"
    )
    v.add_argument("--json", action="store_true", help="print the decision as JSON")
    v.add_argument("--templates", help=TEMPLATES_HELP)
    v.add_argument("--store", help=STORE_HELP)
    v.set_defaults(run=cmd_verify)
    f = sub.add_parser("forget", help="delete a user's template completely (audited)")
    f.add_argument("--user", required=True, help="user id")
    f.add_argument("--templates", help=TEMPLATES_HELP)
    f.add_argument("--store", help=STORE_HELP)
    f.set_defaults(run=cmd_forget)
    auth_prior.register(sub, TEMPLATES_HELP)


@dataclass(frozen=True)
class Enrolment:
    """What ``enrol`` stored: the user and verifier kind, how many samples of how many
    features it was fitted on, the per-sample accept and deny thresholds (scores: higher
    is less like the user), the templates folder and notes for the operator. Never sample
    values."""

    user: str
    kind: str
    samples: int
    features: int
    accept_threshold: float
    deny_threshold: float
    adaptive: bool
    templates: str
    notes: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def cmd_enrol(args) -> None:
    from trustshield.decide.authentication import AuthPolicy
    from trustshield.decide.enrolment import calibration_scores
    from trustshield.detectors.verifiers import samples_reader, verifier_class
    from trustshield.ingest.samples import malformed_rows
    from trustshield.store import AlertStore
    from trustshield.store.templates import TemplateStore, check_user, template_key

    check_user(args.user)
    template_key()  # refuse before any work when the key is missing or malformed
    make, read = verifier_class(args.kind), samples_reader(args.kind)
    prior = auth_prior.enrolment_prior(args)
    if prior is not None:
        make = prior["make"]
    samples = _read(read, args.data)
    if prior is not None:
        samples = auth_prior.prior_columns(samples, prior["features"], args.data)
    bad = malformed_rows(samples)
    if bad:
        raise DataError(
            f"{args.data}: {len(bad)} sample row(s) {bad[:10]} have missing or "
            "non-numeric values (not shown: samples are biometric data); fix or "
            "drop them before enrolling"
        )
    if args.accept_position is not None and args.background is None:
        raise DataError(
            "--accept-position places the threshold between the user's scores and "
            "other users' scores: give those with --background"
        )
    background = _background(read, args.background, list(samples.columns))
    calibration = calibration_scores(make, samples, background=background, folds=args.folds)
    policy = AuthPolicy(accept_position=args.accept_position).fit(
        genuine=calibration.genuine, impostor=calibration.impostor, ceiling=calibration.ceiling
    )
    provenance = None if prior is None else prior["provenance"]
    state = {
        "verifier": calibration.verifier.to_dict(),
        "policy": policy.to_dict(),
        "features": list(samples.columns),
        "samples": len(samples),
        "prior": provenance,
    }
    if args.adaptive:
        state["window"] = samples.to_numpy(dtype=float).tolist()
    details = {
        "samples": len(samples),
        "features": samples.shape[1],
        "folds": args.folds,
        "accept_position": args.accept_position,
        "background_samples": 0 if background is None else len(background),
        "accept_threshold": policy.accept_threshold_,
        "deny_threshold": policy.deny_threshold_,
        "adaptive": bool(args.adaptive),
        "prior": provenance,
        "short_enrolment": policy.short_enrolment_,
    }
    with AlertStore(args.store) as store:
        templates = TemplateStore(args.templates, audit=store)
        templates.enrol(args.user, args.kind, state, details=details)
    notes = _notes(prior, policy, len(samples), args)
    if args.json:
        done = Enrolment(
            user=args.user,
            kind=args.kind,
            samples=len(samples),
            features=int(samples.shape[1]),
            accept_threshold=float(policy.accept_threshold_),
            deny_threshold=float(policy.deny_threshold_),
            adaptive=bool(args.adaptive),
            templates=str(templates.path),
            notes=notes,
        )
        print_json(done.as_dict())
        return
    output.print(
        f"enrolled user {args.user} ({args.kind}) from {len(samples)} samples of "
        f"{samples.shape[1]} features; per sample: accept ≤ "
        f"{policy.accept_threshold_:.5g}, deny > {policy.deny_threshold_:.5g}; "
        f"template encrypted in {templates.path}",
        markup=False,
        soft_wrap=True,
    )
    for note in notes:
        output.print(f"note: {note}", markup=False, soft_wrap=True)


def _notes(prior, policy, n: int, args) -> list[str]:
    """What the operator should know about this enrolment (never sample values)."""
    notes = []
    if prior is None and args.no_prior:
        notes.append(
            "fitted without a population prior: the verifier's fixed defaults, not "
            "the verifier the keystroke benchmark measures"
        )
    elif prior is not None and prior["provenance"]["protocol"]["n_enrol"] != n:
        notes.append(
            f"the prior was learned for enrolment on "
            f"{prior['provenance']['protocol']['n_enrol']} typings; this user gave {n}"
        )
    short = policy.short_enrolment_
    if short:
        more = (
            ""
            if short["needed"] is None
            else (
                f"; with {short['needed'] - n} more sample(s) the thresholds would be quantiles "
                "of the user's own scores"
            )
        )
        notes.append(
            f"{n} samples are fewer than the {short['needed']} needed for separate "
            "accept and deny thresholds: the deny threshold is raised to the highest "
            f"score any sample within the enrolment range can get "
            f"({short['ceiling']:.5g}), so such a sample is stepped up, never "
            f"denied{more}"
        )
    return notes


def cmd_verify(args) -> None:
    from trustshield.decide.authentication import AuthPolicy, decide_safely
    from trustshield.detectors.verifiers import samples_reader, verifier_class
    from trustshield.records import ACCEPT
    from trustshield.store import AlertStore
    from trustshield.store.templates import TemplateStore

    seen: dict = {}

    with AlertStore(args.store) as store:
        templates = TemplateStore(args.templates, audit=store)

        def load():
            kind, state = templates.load(args.user)
            seen.update(kind=kind, features=list(state["features"]), state=state)
            seen["verifier"] = verifier_class(kind).from_dict(state["verifier"])
            return seen["verifier"], AuthPolicy.from_dict(state["policy"])

        def read():
            table = _read(samples_reader(seen["kind"]), args.data)
            missing = [c for c in seen["features"] if c not in table.columns]
            if missing:
                raise DataError(f"the samples lack enrolled feature(s) {missing[:10]}")
            seen["samples"] = table[seen["features"]]
            return seen["samples"]

        decision = decide_safely(load, read)
        departing = _departing(seen.get("verifier"), seen.get("samples"), decision.scores)
        store.record_event(
            "auth.verify",
            args.user,
            {
                "kind": seen.get("kind"),
                "action": decision.action,
                "reason": decision.reason,
                "samples": len(decision.scores),
                "unscored": sum(s is None for s in decision.scores),
            },
        )
        if decision.action == ACCEPT and "window" in seen.get("state", {}):
            _adapt(templates, args.user, seen)
    if args.json:
        print_json(
            {
                "user": args.user,
                "kind": seen.get("kind"),
                **decision.as_dict(),
                "departing_features": [{"feature": f, "contribution": c} for f, c in departing],
            }
        )
        return
    output.print(
        f"user {args.user}: {decision.action} ({decision.reason})", markup=False, soft_wrap=True
    )
    if departing:
        output.print(
            "  most unlike the enrolment: " + ", ".join(f"{f} (+{c:.2f})" for f, c in departing),
            markup=False,
            soft_wrap=True,
        )


def _adapt(templates, user: str, seen: dict) -> None:
    """An accepted attempt joins the user's moving window of samples; the verifier is refitted
    on it with its own parameters and the template re-encrypted (audited as template.enrol)."""
    import pandas as pd

    from trustshield.decide.adaptation import refit
    from trustshield.detectors.verifiers import verifier_class

    state, features = seen["state"], seen["features"]
    window = pd.DataFrame(state["window"], columns=features)
    window = pd.concat([window, seen["samples"]], ignore_index=True).tail(state["samples"])
    stored = verifier_class(seen["kind"]).from_dict(state["verifier"])
    verifier = refit(stored, lambda: stored, window)  # its own parameters, refitted
    templates.enrol(
        user,
        seen["kind"],
        {**state, "verifier": verifier.to_dict(), "window": window.to_numpy(dtype=float).tolist()},
        details={"adapted": True, "samples_added": len(seen["samples"])},
    )


def cmd_forget(args) -> None:
    from trustshield.store import AlertStore
    from trustshield.store.templates import TemplateStore

    with AlertStore(args.store) as store:
        templates = TemplateStore(args.templates, audit=store)
        templates.delete(args.user)
    output.print(
        f"deleted every stored template of user {args.user} from {templates.path} "
        "(audited as template.delete)",
        markup=False,
        soft_wrap=True,
    )


def _read(reader, arg: str) -> pd.DataFrame:
    """The kind's reader on ``arg``; any failure becomes a DataError that names the file
    and the error type but never the reader's message (it might quote sample values)."""
    import pandas as pd

    path = resolve_data(arg)
    if not path.is_file():
        raise DataError(f"samples file {path} does not exist")
    try:
        table = reader(path)
    except Exception as exc:
        raise DataError(f"samples file {path} could not be read ({type(exc).__name__})") from None
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise DataError(f"samples file {path} holds no samples")
    return table


def _background(read, arg: str | None, features: list[str]) -> pd.DataFrame | None:
    """Other users' enrolment samples in the enrolled column order, complete rows only."""
    from trustshield.ingest.samples import malformed_rows

    if arg is None:
        return None
    table = _read(read, arg)
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise DataError(f"background {arg} lacks the enrolled feature(s) {missing[:10]}")
    table = table[features]
    bad = malformed_rows(table)
    return table.drop(index=table.index[[i - 1 for i in bad]]) if bad else table


def _departing(verifier, samples: pd.DataFrame | None, scores) -> list[tuple[str, float]]:
    """Features that push the scored samples' suspicion up most (mean exact attribution),
    largest first; empty when the verifier cannot explain itself."""
    import numpy as np

    scored = [i for i, s in enumerate(scores) if s is not None]
    if verifier is None or samples is None or not scored or not hasattr(verifier, "explain"):
        return []
    try:
        attributions = verifier.explain(samples.iloc[scored])
        mean = np.asarray(attributions.values, dtype=float).mean(axis=0)
    except Exception:  # an explanation is a courtesy here; the decision stands without it
        return []
    order = [i for i in np.argsort(-mean) if mean[i] > 0][:TOP_FEATURES]
    return [(str(attributions.feature_names[i]), float(mean[i])) for i in order]
