"""EDGE: the subcommands of ``trustshield``, each registered the same way."""

from trustshield.commands import alerts, datasets, modelling


def register_all(sub) -> None:
    for module in (modelling, alerts, datasets):
        module.register(sub)
