"""Wiring of the stages: train, score, detect, evaluate, report content."""
