"""Incidents: flagged host behaviour grouped per host, named, with evidence flows.

Layer: beside ``decide`` and ``explain`` (above detectors and features). Modules load
pandas; this package's ``__init__`` stays light.
"""
