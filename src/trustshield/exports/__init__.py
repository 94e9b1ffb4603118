"""EDGE: stored alerts out to the tools a security team already runs: JSON lines, CSV, the
Elastic Common Schema (:mod:`.ecs`) and STIX 2.1 (:mod:`.stix`), read from the store in
chunks (:mod:`.query`) and written by :mod:`.writing`."""
