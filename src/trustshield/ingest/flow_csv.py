"""EDGE: flow CSVs from nfdump (``nfdump -o csv``) and CICFlowMeter, read onto conn.log's
vocabulary (the columns of :func:`trustshield.ingest.zeek.read_conn_log`).

orig is the source / forward side of a flow, resp the destination / backward side. Zeek
fields a format does not carry (uid, service, conn_state, history, ...) are missing; every
other column is kept under its own header name, as numbers when all its values are numbers
(``Infinity``/``NaN`` included, as float64), else as text. Naive times are taken as UTC.

nfdump (header ``ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...``; the
trailing ``Summary`` block is ignored):

    ts (``YYYY-MM-DD HH:MM:SS[.fff]``)  -> ts, float s since the epoch
    td (s)                              -> duration (s)
    sa, da                              -> id.orig_h, id.resp_h
    sp, dp                              -> id.orig_p, id.resp_p; for ICMP nfdump puts
                                           type*256+code (or ``type.code``) in dp: split
                                           into id.orig_p = type, id.resp_p = code (Zeek
                                           writes the counterpart type for echo-like pairs)
    pr (``TCP``, ``UDP``, ``ICMP``, ... or a number) -> proto and ip_proto (IANA number)
    ipkt, ibyt                          -> orig_pkts, orig_ip_bytes (NetFlow counts IP bytes)
    opkt, obyt                          -> resp_pkts, resp_ip_bytes (0 from unidirectional
                                           exporters; filled by bidirectional ones)

A byte order mark before the header is dropped; a file with a header and no flows is
refused. Each frame keeps the file line of every row in ``frame.attrs["lines"]``.

CICFlowMeter (header names compared lowercased with runs of spaces/punctuation as ``_``,
so ``Tot Fwd Pkts`` and ``tot_fwd_pkts`` match; CIC-IDS2017's long names too):

    Src IP, Dst IP                      -> id.orig_h, id.resp_h
    Src Port, Dst Port                  -> id.orig_p, id.resp_p
    Protocol (IANA number, ``6`` or ``6.0``) -> ip_proto, proto
    Timestamp (``dd/MM/yyyy hh:mm:ss AM``, ``dd/MM/yyyy HH:mm[:ss]`` or ISO) -> ts (s)
    Flow Duration (microseconds)        -> duration (s) = value / 1e6
    Tot Fwd Pkts, Tot Bwd Pkts          -> orig_pkts, resp_pkts
    TotLen Fwd Pkts, TotLen Bwd Pkts    -> orig_bytes, resp_bytes (payload bytes)
"""

from __future__ import annotations

import csv
import ipaddress
import math
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import MISSING_VALUE, NO_ROWS, RowProblem
from trustshield.ingest.zeek import EXPECTED, conn_frame

NO_HEADER = "{file}: line 1: expected a {kind} header line, found an empty file"
FIELD_COUNT = "{file}: line {line}: expected {expected} comma-separated fields (as in the header), found {found}"
MISSING_COLUMNS = "{file}: line {line}: expected the {kind} columns {expected}, missing {missing}"
NFDUMP_COLUMNS = ("ts", "td", "sa", "da", "sp", "dp", "pr", "ipkt", "ibyt")
CIC_COLUMNS = (
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "protocol",
    "flow_duration",
    "tot_fwd_pkts",
    "tot_bwd_pkts",
    "totlen_fwd_pkts",
    "totlen_bwd_pkts",
)
CIC_ALIASES = {
    "source_ip": "src_ip",
    "destination_ip": "dst_ip",
    "source_port": "src_port",
    "destination_port": "dst_port",
    "total_fwd_packets": "tot_fwd_pkts",
    "total_backward_packets": "tot_bwd_pkts",
    "total_bwd_packets": "tot_bwd_pkts",
    "total_length_of_fwd_packets": "totlen_fwd_pkts",
    "total_length_of_bwd_packets": "totlen_bwd_pkts",
}
IP_PROTOCOLS = {
    "icmp": 1,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmp6": 58,
    "ipv6-icmp": 58,
    "sctp": 132,
}
ZEEK_PROTO = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp"}
PROTOCOL = "an IP protocol (a whole number 0-255 or a name such as TCP, UDP, ICMP)"
NON_NEGATIVE = "a number of seconds >= 0"
MICROSECONDS = "a number of microseconds >= 0"
NFDUMP_TIMES = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")
CIC_TIMES = (
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
)
NFDUMP_TIME, CIC_TIME = (f"a date and time as {' or '.join(f)}" for f in (NFDUMP_TIMES, CIC_TIMES))


def read_nfdump_csv(path: str | Path) -> pd.DataFrame:
    """Flows of an ``nfdump -o csv`` export as conn.log records (mapping in the module doc)."""
    file = str(path)
    header, rows, lines = _read_csv(path, file, "nfdump", stop="Summary")
    cols = _columns(header, rows, header, NFDUMP_COLUMNS, "nfdump", file)

    def each(name, parse, expected):
        return _each(cols[name], parse, name, expected, file, lines)

    ip_proto = each("pr", _protocol, PROTOCOL)
    orig_p, resp_p = (
        each("sp", _port, EXPECTED["port"]),
        each("dp", _port_or_icmp, EXPECTED["port"]),
    )
    for i, number in enumerate(ip_proto):  # ICMP: type and code travel in dp
        if ZEEK_PROTO.get(number) == "icmp":
            orig_p[i], resp_p[i] = divmod(resp_p[i], 256)
    out = {
        "ts": _floats(each("ts", lambda t: _moment(t, NFDUMP_TIMES), NFDUMP_TIME)),
        "id.orig_h": _objects(each("sa", _address, EXPECTED["addr"])),
        "id.orig_p": _ints(orig_p),
        "id.resp_p": _ints(resp_p),
        "id.resp_h": _objects(each("da", _address, EXPECTED["addr"])),
        "proto": _objects([ZEEK_PROTO.get(p, "unknown_transport") for p in ip_proto]),
        "duration": _floats(each("td", _seconds, NON_NEGATIVE)),
        "ip_proto": _ints(ip_proto),
    }
    for name, field in (
        ("ipkt", "orig_pkts"),
        ("ibyt", "orig_ip_bytes"),
        ("opkt", "resp_pkts"),
        ("obyt", "resp_ip_bytes"),
    ):
        if name in cols:
            out[field] = _ints(each(name, _whole, EXPECTED["count"]))
    return _lined(
        conn_frame(
            _with_extras(
                out,
                cols,
                {"ts", "td", "sa", "da", "sp", "dp", "pr", "ipkt", "ibyt", "opkt", "obyt"},
            ),
            len(rows),
            file,
        ),
        lines,
    )


def _lined(frame: pd.DataFrame, lines: list[int]) -> pd.DataFrame:
    """``frame`` with the file line of each of its rows in ``frame.attrs["lines"]``, for
    messages about a record."""
    frame.attrs["lines"] = list(lines)
    return frame


def read_cicflowmeter_csv(path: str | Path, *, timestamps: bool = False) -> pd.DataFrame:
    """Flows of a CICFlowMeter CSV as conn.log records (mapping in the module doc); without
    a Timestamp column ``ts`` is missing, unless ``timestamps`` (the time-window features
    need them): then the file is refused naming the column."""
    file = str(path)
    header, rows, lines = _read_csv(path, file, "CICFlowMeter")
    keys = [CIC_ALIASES.get(k, k) for k in (_key(name) for name in header)]
    required = (*CIC_COLUMNS, "timestamp") if timestamps else CIC_COLUMNS
    cols = _columns(header, rows, keys, required, "CICFlowMeter", file)

    def each(name, parse, expected):
        return _each(cols[name], parse, name, expected, file, lines)

    ip_proto = each("protocol", _protocol, PROTOCOL)
    out = {
        "id.orig_h": _objects(each("src_ip", _address, EXPECTED["addr"])),
        "id.orig_p": _ints(each("src_port", _port, EXPECTED["port"])),
        "id.resp_h": _objects(each("dst_ip", _address, EXPECTED["addr"])),
        "id.resp_p": _ints(each("dst_port", _port, EXPECTED["port"])),
        "proto": _objects([ZEEK_PROTO.get(p, "unknown_transport") for p in ip_proto]),
        "duration": _floats([us / 1e6 for us in each("flow_duration", _seconds, MICROSECONDS)]),
        "ip_proto": _ints(ip_proto),
    }
    out["ts"] = (
        _floats(each("timestamp", lambda t: _moment(t, CIC_TIMES), CIC_TIME))
        if "timestamp" in cols
        else np.full(len(rows), np.nan)
    )
    for name, field in (
        ("tot_fwd_pkts", "orig_pkts"),
        ("tot_bwd_pkts", "resp_pkts"),
        ("totlen_fwd_pkts", "orig_bytes"),
        ("totlen_bwd_pkts", "resp_bytes"),
    ):
        out[field] = _ints(each(name, _whole, EXPECTED["count"]))
    used = set(CIC_COLUMNS) | {"timestamp"}
    extras = {name: cols[key] for name, key in zip(header, keys) if key not in used}
    return _lined(conn_frame(_with_extras(out, extras, set()), len(rows), file), lines)


def _read_csv(path, file: str, kind: str, *, stop: str | None = None):
    """(header, rows, line numbers) of a CSV; every row as wide as the header. Reading
    ends at a row whose first cell is ``stop``."""
    header, rows, lines = None, [], []
    with open(path, newline="", encoding="utf-8-sig", errors="backslashreplace") as fh:
        reader = csv.reader(fh)
        for row in _rows(reader, file):
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
            elif stop is not None and row[0].strip() == stop:
                break
            elif len(row) != len(header):
                raise DataError(
                    FIELD_COUNT.format(
                        file=file, line=reader.line_num, expected=len(header), found=len(row)
                    )
                )
            else:
                rows.append(row)
                lines.append(reader.line_num)
    if header is None:
        raise DataError(NO_HEADER.format(file=file, kind=kind))
    if not rows:
        raise DataError(NO_ROWS.format(file=file))
    return header, rows, lines


def _rows(reader, file: str):
    """The rows of a csv reader; a field past the csv module's size limit is refused by line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise DataError(f"{file}: line {reader.line_num}: not a CSV row ({exc})") from None


def _columns(header, rows, keys, required, kind: str, file: str) -> dict[str, tuple]:
    """Column texts keyed by ``keys`` (one per header name); DataError if any of
    ``required`` is absent."""
    missing = [k for k in required if k not in keys]
    if missing:
        raise DataError(
            MISSING_COLUMNS.format(
                file=file, line=1, kind=kind, expected=list(required), missing=missing
            )
        )
    texts = list(zip(*rows)) if rows else [()] * len(header)
    return dict(zip(keys, texts))


def _each(texts, parse, field: str, expected: str, file: str, lines: list[int]) -> list:
    """``parse`` applied to every text; DataError at the first empty or unparsable one."""
    out = []
    for text, line in zip(texts, lines):
        text = text.strip()
        try:
            if not text:
                raise DataError(RowProblem(file, line, field, "", MISSING_VALUE).message())
            out.append(parse(text))
        except (ValueError, OverflowError, KeyError):
            raise DataError(RowProblem(file, line, field, text, expected).message()) from None
    return out


def _with_extras(out: dict, cols: dict, used: set) -> dict:
    """``out`` plus every column of ``cols`` not in ``used`` or ``out``, numeric when it can be."""
    for name, texts in cols.items():
        if name not in used and name not in out:
            column = pd.Series(texts, dtype=object).str.strip()
            try:
                out[name] = pd.to_numeric(column).to_numpy()
            except (ValueError, TypeError):
                out[name] = column.to_numpy(dtype=object)
    return out


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _whole(text: str) -> int:
    value = float(text)
    if not (math.isfinite(value) and 0 <= value < 2**63 and value == int(value)):
        raise ValueError(text)  # counts are kept as int64
    return int(value)


def _port(text: str) -> int:
    if (value := _whole(text)) > 65535:
        raise ValueError(text)
    return value


def _port_or_icmp(text: str) -> int:
    """A port, or nfdump's ICMP ``type.code`` as type*256+code."""
    if re.fullmatch(r"\d{1,3}\.\d{1,3}", text):
        kind, code = map(int, text.split("."))
        return kind * 256 + code
    return _port(text)


def _seconds(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(text)
    return value


def _protocol(text: str) -> int:
    """An IANA protocol number: a whole number (``6``, or ``6.0`` as exports that write
    every column as a float have it) from 0 to 255, or a name of :data:`IP_PROTOCOLS`."""
    if text.lower() in IP_PROTOCOLS:
        return IP_PROTOCOLS[text.lower()]
    value = _whole(text)
    if value > 255:
        raise ValueError(text)
    return value


def _address(text: str) -> str:
    return str(ipaddress.ip_address(text))


def _moment(text: str, formats: tuple[str, ...]) -> float:
    """Seconds since the epoch of a date-time text in one of ``formats`` (naive = UTC)."""
    for form in formats:
        try:
            moment = datetime.strptime(text, form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        return moment.timestamp()
    raise ValueError(text)


def _floats(values: list) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _ints(values: list):
    return pd.array(values, dtype="Int64")


def _objects(values: list) -> np.ndarray:
    return np.asarray(values, dtype=object)
