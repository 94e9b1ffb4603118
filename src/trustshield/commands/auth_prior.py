"""auth prior: learn a verifier kind's population prior from a background table, store it
signed next to the templates (audited).

The prior is learned exactly as the keystroke benchmark learns it for each half of its
subjects (:func:`trustshield.assess.keystroke_selection.select_prior`: nested selection of
the settings inside the table, then the population profile and weights on all of it), so
``enrol`` fits the verifier the benchmark measured. The table must hold OTHER users than
those who will enrol (a background population), never their test typings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trustshield.commands.common import STORE_HELP, resolve_data
from trustshield.commands.progress import output
from trustshield.errors import DataError, ModelIntegrityError

KEYS_HELP = (
    "keyring whose active key signs the prior (default $TRUSTSHIELD_KEYS or ./trustshield-keys)"
)


def register(sub, templates_help: str) -> None:
    p = sub.add_parser(
        "auth", help="authentication set-up: learn a population prior for enrolment (auth prior)"
    )
    p.set_defaults(run=lambda args: p.print_help() or 2)
    inner = p.add_subparsers(metavar="ACTION")
    q = inner.add_parser(
        "prior",
        help="learn the keystroke verifier's settings, population "
        "profile and weights from a background table; store "
        "them signed in the templates folder (audited)",
    )
    q.add_argument(
        "--data",
        required=True,
        help="background keystroke table (CSV/Parquet): "
        "one row per typing of OTHER users, in the "
        "order typed",
    )
    q.add_argument(
        "--subject", default="subject", help="column naming who typed each row (default: subject)"
    )
    q.add_argument(
        "--enrol", type=int, default=25, help="enrolment typings users will give (default 25)"
    )
    q.add_argument(
        "--impostor-typings",
        type=int,
        default=5,
        help="typings of each other subject used as impostor attempts (default 5)",
    )
    q.add_argument(
        "--genuine-typings",
        type=int,
        help="later typings per subject that measure drift and genuine scores "
        "(default: all after the enrolment ones)",
    )
    q.add_argument(
        "--kind",
        default="keystroke",
        choices=("keystroke", "keystroke-series"),
        help="verifier kind the prior is for (keystroke-series: the table is per-key "
        "series, summarised first)",
    )
    q.add_argument("--out", help="write the signed prior here instead of TEMPLATES/KIND.prior.json")
    q.add_argument("--templates", help=templates_help)
    q.add_argument("--keys", help=KEYS_HELP)
    q.add_argument("--store", help=STORE_HELP)
    q.set_defaults(run=cmd_prior)


def read_background(path: str, subject: str, kind: str):
    """The background table as KeystrokeData (series summarised first for that kind)."""
    from trustshield.ingest.datasets import sha256_of
    from trustshield.ingest.keystroke_table import keystroke_data, read_keystroke_table

    file = resolve_data(path)
    if kind != "keystroke-series":
        return read_keystroke_table(file, subject_column=subject)
    from trustshield.ingest.keystroke_series import read_series_table

    return keystroke_data(
        read_series_table(file, subject_column=subject),
        subject_column=subject,
        path=file,
        sha256=sha256_of(file),
    )


def check_protocol(args) -> None:
    """The protocol's numbers (--enrol, --impostor-typings, --genuine-typings) make sense."""
    if args.enrol < 2 or args.impostor_typings < 1 or (args.genuine_typings or 1) < 1:
        raise DataError(
            "expected --enrol ≥ 2, --impostor-typings ≥ 1 and --genuine-typings ≥ 1, "
            f"got {args.enrol}, {args.impostor_typings} and {args.genuine_typings}"
        )


def check_counts(data, args, *, subjects: int, why: str) -> None:
    """DataError naming the flags when the table has too few subjects or typings."""
    counts = data.frame.groupby(data.subject_column, sort=False).size()
    need = max(args.enrol + (args.genuine_typings or 1), args.impostor_typings)
    if counts.min() < need or len(counts) < subjects:
        genuine = args.genuine_typings or "at least 1"
        raise DataError(
            f"{args.data}: needs at least {subjects} subjects ({why}) with at least "
            f"{need} typings each (--enrol {args.enrol}, then {genuine} genuine "
            f"(--genuine-typings), and --impostor-typings {args.impostor_typings}); "
            f"the table has {len(counts)} subjects and subject {counts.idxmin()} "
            f"has {counts.min()} typings"
        )


def cmd_prior(args) -> None:
    from trustshield.assess.keystroke import Background
    from trustshield.assess.keystroke_selection import select_prior
    from trustshield.store import AlertStore
    from trustshield.store.priors import prior_path, save_prior
    from trustshield.store.signing import Keyring
    from trustshield.store.templates import default_template_folder

    check_protocol(args)
    keyring = Keyring(args.keys)
    keyring.signing_key()  # refuse before any work when there is no usable signing key
    data = read_background(args.data, args.subject, args.kind)
    check_counts(
        data, args, subjects=4, why="nested selection splits it into two inner halves of 2"
    )
    background = Background(
        data.features,
        data.frame[data.subject_column].to_numpy(),
        args.enrol,
        args.impostor_typings,
        args.genuine_typings,
    )
    prior, selection = select_prior(background)
    source = {
        "file": data.path.name,
        "sha256": data.sha256,
        "typings": len(data.frame),
        "subjects": int(data.frame[data.subject_column].nunique()),
        "features": len(data.feature_names),
    }
    prior = replace(prior, source=source)
    folder = Path(args.templates) if args.templates else default_template_folder()
    target = Path(args.out) if args.out else prior_path(folder, args.kind)
    best = min(selection.inner_eers)
    with AlertStore(args.store) as store:
        signature = save_prior(
            target,
            args.kind,
            prior.to_dict(),
            keyring,
            audit=store,
            details={
                **source,
                "settings": prior.settings,
                "protocol": prior.protocol,
                "inner_eer": best,
            },
        )
    output.print(
        f"learned the {args.kind} prior from {source['subjects']} subjects "
        f"({source['typings']} typings, {source['features']} features) for enrolment on "
        f"{args.enrol} typings: {_settings(prior.settings)} (inner EER {best:.4f}, "
        f"{len(selection.candidates)} candidates); signed by key "
        f"{signature['key_id']} in {target}",
        markup=False,
        soft_wrap=True,
    )


def _settings(settings: dict) -> str:
    clip = "none" if settings["clip"] is None else f"{settings['clip']:g}"
    return (
        f"clip {clip}, population contrast {settings['contrast']:g}, drift "
        f"{'on' if settings['drift'] else 'off'}, "
        f"{'learned' if settings['learn_weights'] else 'unit'} weights"
    )


def enrolment_prior(args) -> dict | None:
    """The kind's signed prior as {make, features, provenance, protocol}; None for a kind
    without one or with --no-prior. Refused when it is missing or does not verify."""
    from trustshield.detectors.verifiers import prior_class
    from trustshield.store.priors import load_prior, prior_path
    from trustshield.store.signing import Keyring
    from trustshield.store.templates import default_template_folder

    cls = prior_class(args.kind)
    if cls is None or args.no_prior:
        if args.prior:
            raise DataError(
                f"--prior: verifier kind {args.kind!r} takes no population prior"
                if cls is None
                else "--prior and --no-prior exclude each other"
            )
        return None
    folder = args.templates or default_template_folder()
    path = args.prior or prior_path(folder, args.kind)
    try:
        state, provenance = load_prior(path, args.kind, Keyring(args.keys))
        prior = cls.from_dict(state)
    except ModelIntegrityError as refusal:  # a prior that does not verify: audited
        from trustshield.store import AlertStore

        with AlertStore(args.store) as store:
            store.record_event(
                "prior.refused",
                args.user,
                {"command": "enrol", "kind": args.kind, "file": str(path), "reason": str(refusal)},
            )
        raise
    return {
        "make": prior.verifier,
        "features": list(prior.features),
        "provenance": {**provenance, "protocol": prior.protocol},
    }


def prior_columns(samples, features: list[str], data: str):
    """The samples in the prior's column order; DataError naming the columns it lacks."""
    missing = [c for c in features if c not in samples.columns]
    if missing:
        raise DataError(
            f"{data}: the samples lack feature(s) {missing[:10]} that the prior was "
            "learned on; enrol with the same columns as its background table"
        )
    return samples[features]
