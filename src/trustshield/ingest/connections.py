"""EDGE: connection records (Zeek conn.log, nfdump or CICFlowMeter CSV, a packet capture) as
validated batches of KDD-style features, for models trained on NSL-KDD's 41 features.

:class:`ConnectionSource` is the ``Source`` protocol, like
:class:`~trustshield.ingest.tabular.TableSource`: iterate it for
:class:`~trustshield.ingest.tabular.Batch` objects. The whole file is read with its format's
reader, the features are derived over all of it
(:func:`~trustshield.features.kdd_derived.kdd_features`, rows in ``ts`` order), then checked
against the model's spec in batches; the first problem stops the read (``on_error="skip"``
is refused). A connection of a protocol other than TCP, UDP or ICMP (IP protocol 0, GRE,
...) has no KDD-style features: it is skipped and counted in ``rejected_rows``, and the
first batch lists each one in ``rejected`` (its file line for flow CSVs, else its record
number). A batch's ``lines`` are record numbers: the 1-based
position of the connection in the file as read (a conn.log or CSV record, or a capture's
connection in first-packet order), so the same file scored twice keeps its alert ids. Each
batch also carries ``entities``: per row, who talked to whom (``ts``, ``uid`` when the
format has it, ``src_ip``, ``src_port``, ``dst_ip``, ``dst_port``, ``proto``: the fields of
:class:`~trustshield.records.AlertEntities`), so an alert names the connection it is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.features.kdd_derived import COLUMNS as KDD_FEATURES, kdd_features
from trustshield.ingest.connection_formats import FORMATS
from trustshield.ingest.datasets import sha256_of
from trustshield.ingest.tabular import DEFAULT_BATCH_ROWS, ON_ERROR, Batch
from trustshield.ingest.validate import RowProblem, check_frame, refuse_blank
from trustshield.specs import DatasetSpec

PCAP_MAGIC = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)
#: conn.log fields → the AlertEntities fields they fill
ENTITY_COLUMNS = {
    "ts": "ts",
    "uid": "uid",
    "id.orig_h": "src_ip",
    "id.orig_p": "src_port",
    "id.resp_h": "dst_ip",
    "id.resp_p": "dst_port",
    "proto": "proto",
}
UNKNOWN_FORMAT = (
    "{path}: cannot tell its format: expected a pcap/pcapng capture, a Zeek "
    "conn.log (TSV with #fields or JSON lines), an nfdump CSV (header ts,te,td,...) "
    "or a CICFlowMeter CSV (a Flow Duration column); name it with --format"
)
SKIP_UNAVAILABLE = (
    "--on-error skip is not available for connection records: their readers "
    "stop at the first bad field (named with its line); mend or drop that line"
)
#: the protocols KDD-style features describe; a connection of any other is skipped
KDD_PROTOCOLS = ("tcp", "udp", "icmp")
OTHER_PROTOCOL = (
    "a TCP, UDP or ICMP connection (KDD-style features describe no other protocol; "
    "the record is skipped)"
)
ONLY_OTHER_PROTOCOLS = (
    "{path}: no TCP, UDP or ICMP connection to score: all {n} records are of other "
    "protocols (first: {first})"
)
EXPECTED_CONNECTIONS = (
    "connection records: a pcap/pcapng capture, a Zeek conn.log, an nfdump CSV or a "
    "CICFlowMeter CSV"
)
NOT_KDD = (
    "spec {spec} lacks the KDD-style features {missing} that connection records are "
    "turned into; score {format} input with a model trained on NSL-KDD features"
)


def sniff_format(path: str | Path) -> str | None:
    """The connection format of the file at ``path`` (one of :data:`FORMATS`), or None when
    it looks like none of them (a generic CSV/Parquet table, for instance)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head[:4] in PCAP_MAGIC:
        return "pcap"
    text = head.decode("utf-8-sig", "replace").lstrip()
    first = text.split("\n", 1)[0].strip().lower()
    starts = [line.split("\t", 1)[0].split(" ", 1)[0] for line in text.splitlines()[:16]]
    if {"#separator", "#fields"} & set(starts) or (text.startswith("{") and '"id.orig_h"' in first):
        return "zeek"
    if first.startswith("ts,te,td"):
        return "nfdump"
    if "flow duration" in first or "flow_duration" in first:
        return "cicflowmeter"
    return None


def read_connections(path: str | Path, format: str) -> pd.DataFrame:
    """Connection records of ``path`` in conn.log's vocabulary, read as ``format``."""
    if format == "pcap":
        from trustshield.ingest.pcap import connections

        return connections(path)
    if format == "zeek":
        from trustshield.ingest.zeek import read_conn_log

        return read_conn_log(path)
    from trustshield.ingest.flow_csv import read_cicflowmeter_csv, read_nfdump_csv

    if format == "nfdump":
        return read_nfdump_csv(path)
    if format == "cicflowmeter":  # the time-window features need every flow's time
        return read_cicflowmeter_csv(path, timestamps=True)
    raise DataError(f"--format must be one of {list(FORMATS)}, got {format!r}")


def connection_entities(conns: pd.DataFrame) -> pd.DataFrame:
    """The entity fields of each connection (same rows and order, index 0..n-1): the
    :data:`ENTITY_COLUMNS` that ``conns`` has, named as in
    :class:`~trustshield.records.AlertEntities` (ts in seconds since the epoch)."""
    present = [column for column in ENTITY_COLUMNS if column in conns.columns]
    return conns[present].rename(columns=ENTITY_COLUMNS).reset_index(drop=True)


@dataclass
class ConnectionSource:
    """Validated batches of KDD-style features derived from one file of connection records."""

    path: Path
    spec: DatasetSpec
    format: str = "auto"
    batch_rows: int = DEFAULT_BATCH_ROWS
    on_error: str = "raise"
    rejected_rows: int = field(default=0, init=False)
    rows_read: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.on_error not in ON_ERROR:
            raise DataError(f"on_error must be one of {list(ON_ERROR)}, got {self.on_error!r}")
        if self.on_error == "skip":
            raise DataError(SKIP_UNAVAILABLE)
        if not self.path.is_file():
            raise DataError(f"data file not found: {self.path}")
        refuse_blank(self.path, EXPECTED_CONNECTIONS)
        if self.format == "auto":
            self.format = sniff_format(self.path) or ""
            if not self.format:
                raise DataError(UNKNOWN_FORMAT.format(path=self.path))
        elif self.format not in FORMATS:
            raise DataError(f"--format must be one of {['auto', *FORMATS]}, got {self.format!r}")
        if missing := [f for f in KDD_FEATURES if f not in self.spec.feature_names]:
            raise DataError(
                NOT_KDD.format(spec=self.spec.name, missing=missing, format=self.format)
            )
        self.sha256 = sha256_of(self.path)

    def __iter__(self) -> Iterator[Batch]:
        conns = read_connections(self.path, self.format).reset_index(drop=True)
        if not len(conns):
            raise DataError(f"{self.path}: no connection records")
        conns, rejected = self._other_protocols(conns)
        features = kdd_features(conns)  # ts order; index = position in the file
        lines = features.index.to_numpy(np.int64) + 1
        entities = connection_entities(conns.loc[features.index])
        features = features.reset_index(drop=True)
        for start in range(0, len(features), self.batch_rows):
            part = slice(start, start + self.batch_rows)
            checked = check_frame(
                features.iloc[part], self.spec, file=str(self.path), lines=lines[part]
            )
            self.rows_read += len(features.iloc[part]) + len(rejected)
            if checked.problems:
                raise DataError(checked.problems[0].message())
            yield Batch(
                checked.frame,
                checked.lines,
                rejected,
                len(rejected),
                entities=entities.iloc[part].reset_index(drop=True),
            )
            rejected = ()  # reported with the first batch

    def _other_protocols(self, conns: pd.DataFrame) -> tuple[pd.DataFrame, tuple[RowProblem, ...]]:
        """``conns`` without the connections whose protocol is not TCP, UDP or ICMP (IP
        protocol 0, GRE, ...), which are counted in ``rejected_rows``, and one problem per
        skipped connection naming its line (the file line when the reader knows it, else
        its record number) and protocol. DataError when nothing is left."""
        proto = conns["proto"].astype(str).str.lower()
        other = ~proto.isin(KDD_PROTOCOLS).to_numpy()
        if not other.any():
            return conns, ()
        lines = np.asarray(conns.attrs.get("lines") or np.arange(1, len(conns) + 1))
        shown = (
            conns["ip_proto"].astype(str) if "ip_proto" in conns.columns else conns["proto"]
        ).astype(str)
        rejected = tuple(
            RowProblem(str(self.path), int(lines[i]), "proto", shown.iloc[i], OTHER_PROTOCOL)
            for i in np.flatnonzero(other)
        )
        if other.all():
            raise DataError(
                ONLY_OTHER_PROTOCOLS.format(
                    path=self.path, n=len(conns), first=rejected[0].message()
                )
            )
        self.rejected_rows += len(rejected)
        return conns[~other], rejected
