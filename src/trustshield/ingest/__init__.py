"""Reading data into TrustShield: finding, verifying and fetching public data sets."""

from trustshield.ingest.datasets import (
    KnownFile,
    cache_dir,
    data_dirs,
    fetch,
    inventory,
    known_files,
    locate,
    parse_source_sha256,
    sha256_of,
)

__all__ = [
    "KnownFile",
    "cache_dir",
    "data_dirs",
    "fetch",
    "inventory",
    "known_files",
    "locate",
    "parse_source_sha256",
    "sha256_of",
]
