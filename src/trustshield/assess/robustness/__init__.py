"""Robustness evaluators: poisoning, noise and missing values (evasion comes with the red-team gate)."""
