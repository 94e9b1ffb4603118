"""The names of the evasion attacks :mod:`trustshield.assess.robustness.evasion` runs.

Standard library only, so the command line lists them without loading the attacks.
"""

#: evasion attacks by the name ``--attack`` takes (see the evasion module for each one)
ATTACKS = ("score", "decision", "tree")
