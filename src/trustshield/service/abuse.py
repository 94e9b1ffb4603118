"""Throttled tokens: flagged by the probing monitor, kept in the store, lifted by an admin.

A token the monitor flags is throttled to ``ServiceSettings.throttled_rate_per_s`` records
per second until an admin lifts it. The throttle is written to the store
(:class:`~trustshield.store.throttles.ThrottleTable`) in the transaction of its
``abuse.flagged`` event and restored by :func:`restore` when the service starts, so a
restart does not free a flagged token. Lifting it (``POST /v1/abuse/{token_id}/lift``) is
audited as ``abuse.lift`` and also clears the monitor's statistics of the token.
"""

from __future__ import annotations

from trustshield.service.probing import ProbeVerdict


def throttle_factor(context) -> float:
    """The throttled rate as a share of the normal rate, in [0, 1]."""
    return min(1.0, context.settings.throttled_rate_per_s / context.limiter.rate_per_s)


def restore(context) -> None:
    """Throttle every token the store says is throttled (at service start)."""
    with context.read():
        throttled = context.throttles.active()
    for token_id in throttled:
        context.throttled.add(token_id)
        context.limiter.throttle(token_id, factor=throttle_factor(context))


def flag(context, caller, verdict: ProbeVerdict) -> None:
    """Throttle ``caller``'s token for the monitor's ``verdict``: stored and audited
    (``abuse.flagged``) in one transaction, then applied."""
    details = {
        "reasons": list(verdict.reasons),
        "boundary_share": verdict.boundary_share,
        "sweep_share": verdict.sweep_share,
        "queries": verdict.queries,
    }
    with context.write(caller.actor):
        context.throttles.flag(caller.token_id, details)
    context.throttled.add(caller.token_id)
    context.limiter.throttle(caller.token_id, factor=throttle_factor(context))


def lift(context, token_id: str, *, actor: str, reason: str) -> dict:
    """End the throttle of ``token_id`` (audited ``abuse.lift``); StoreError when it is not
    throttled. What the flag held, and the reason."""
    with context.write(actor):
        lifted = context.throttles.lift(token_id, reason)
    context.throttled.discard(token_id)
    context.limiter.lift(token_id)
    if context.monitor is not None:
        context.monitor.reset(token_id)
    return lifted
