"""The attacks of ``benchmarks/attack_suite.py``, one module per area.

Each module exposes ``ATTACKS``: a list of functions ``attack(rig: Rig) -> AttackResult``
(see :mod:`attacks.rig`). Every attack gets a fresh rig (its own store, model copy and
tokens), performs the attack exactly as an adversary would, and says what it expected the
service to do, what it observed and whether the defence held.
"""
