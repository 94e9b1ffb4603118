"""Template adaptation: a user's profile follows them as their typing settles.

A behavioural profile enrolled once drifts away from its owner (people type a password
faster and more evenly after a few dozen repetitions), so the same few users are turned
away again and again. :class:`AdaptiveTemplate` keeps the latest ``size`` samples of
attempts the policy ACCEPTED (a moving window, starting with the enrolment samples) and
refits the verifier after each. Only accepted attempts enter, so a rejected or stepped-up
attempt, which may be an impostor's, never reshapes the profile; thresholds stay those
set at enrolment. A verifier that corrects its enrolment profile for the drift people show
after enrolling (the keystroke verifier's ``drift``) is refitted through its ``settled()``
copy, which drops that correction: the window has followed the user already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from trustshield.errors import DataError
from trustshield.records import ACCEPT


class AdaptiveTemplate:
    """A verifier refitted on a moving window of the user's latest accepted samples."""

    def __init__(
        self, make_verifier: Callable[[], Any], enrolment: pd.DataFrame, *, size: int | None = None
    ):
        if len(enrolment) < 2:
            raise DataError(
                f"an adaptive template needs at least 2 enrolment samples, got {len(enrolment)}"
            )
        self.make_verifier = make_verifier
        self.size = size or len(enrolment)
        self.samples = enrolment.reset_index(drop=True)
        self.verifier = make_verifier().fit(self.samples)
        self.updates = 0

    def suspicion(self, samples: pd.DataFrame):
        """(n,) suspicion of each sample against the current profile."""
        return self.verifier.suspicion(samples)

    def observe(self, samples: pd.DataFrame, action: str) -> None:
        """After a decision: an accepted attempt's samples join the window, the oldest leave."""
        if action != ACCEPT:
            return
        window = pd.concat([self.samples, samples.reset_index(drop=True)], ignore_index=True)
        self.samples = window.tail(self.size).reset_index(drop=True)
        self.verifier = refit(self.verifier, self.make_verifier, self.samples)
        self.updates += 1


def refit(verifier, make_verifier: Callable[[], Any], window: pd.DataFrame):
    """``verifier``'s settings fitted on a window of later samples (its ``settled()`` copy
    when it has one, else a fresh ``make_verifier()``)."""
    settled = getattr(verifier, "settled", None)
    return (settled() if callable(settled) else make_verifier()).fit(window)
