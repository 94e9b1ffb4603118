"""EDGE: the subcommands of ``trustshield``, each registered the same way."""

from trustshield.commands import (alerts, authentication, benchmark, context, datasets, modelling,
                                  models, redteam)


def register_all(sub) -> None:
    for module in (modelling, alerts, datasets, models, redteam, authentication, benchmark, context):
        module.register(sub)
