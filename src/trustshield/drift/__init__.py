"""Drift monitoring: the training summary a model keeps (:class:`monitor.DriftReference`),
the comparison of a window with it (:func:`monitor.drift`) and its plain summary
(:mod:`summary`); turning a result into Evidence is :mod:`trustshield.assess.drift_evidence`."""
