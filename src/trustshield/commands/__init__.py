"""EDGE: the subcommands of ``trustshield``, each registered the same way."""

from trustshield.commands import (
    alert_exports,
    alerts,
    assessment,
    authentication,
    behaviour,
    benchmark,
    context,
    datasets,
    domains,
    governance,
    keys,
    modelling,
    models,
    payloads,
    redteam,
    service,
    spec,
    watch,
    web_page,
)


def register_all(sub) -> None:
    for module in (
        modelling,
        alerts,
        alert_exports,
        datasets,
        models,
        redteam,
        payloads,
        authentication,
        benchmark,
        context,
        governance,
        assessment,
        keys,
        service,
        spec,
        watch,
        behaviour,
        domains,
        web_page,
    ):
        module.register(sub)
