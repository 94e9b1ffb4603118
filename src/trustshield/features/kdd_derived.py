"""KDD'99-style features derived from connection records, so NSL-KDD models can score Zeek data.

Input: Zeek conn.log columns (``read_conn_log`` or ``ingest.pcap.connections``); required
:data:`REQUIRED`, optional ``service``, ``duration``, ``orig_bytes``, ``resp_bytes``,
``conn_state``. Output: the 41 feature columns of the ``nsl-kdd`` spec in spec order, one row
per connection in ``ts`` order (stable; the input's index labels kept), valid under the spec.

Definitions follow the KDD Cup 1999 task description (Stolfo, Fan, Lee et al.):

- basic: ``duration`` whole seconds (truncated; unset → 0); ``flag`` from ``conn_state``
  (:data:`FLAGS`; Zeek's RSTRH → RSTR, SHR → OTH, as KDD has no such flags; UDP and ICMP →
  SF, as in every NSL-KDD record); ``service`` from Zeek's ``service`` when it names a KDD
  service, else from the responder port (:data:`TCP_PORTS`, :data:`UDP_PORTS`; an unlisted
  port below 1024 → ``private``, otherwise ``other``); ICMP by type (:func:`icmp_service`);
  ``src_bytes``/``dst_bytes`` = ``orig_bytes``/``resp_bytes`` (unset → 0; 0 for S0 and REJ
  and for ICMP replies, as the spec's relations hold); ``land`` = same host and port at both
  ends; ``wrong_fragment`` and ``urgent`` 0 (not in conn.log).
- content features: not observable in flow records, all 0 (``logged_in`` included: no
  proxy is safe enough, so a model leaning on it will see every connection as not logged in).
- time-based: over connections whose ``ts`` lies in [ts - 2 s, ts] and that come no later
  than the current one in ``ts`` order, the current one included (so ``count`` >= 1).
  ``count``: same destination host; ``srv_count``: same service; ``serror_rate``/
  ``rerror_rate``: share of the ``count`` connections with a SYN error (S0, S1, S2, S3) /
  REJ; ``srv_*`` the same over ``srv_count``; ``same_srv_rate``/``diff_srv_rate``: share of
  ``count`` to the same / another service; ``srv_diff_host_rate``: share of ``srv_count`` to
  another host.
- host-based: the same statistics over the last 100 connections (current one included),
  whatever their host; ``dst_host_count`` counts those to the same host, ``dst_host_srv_count``
  those to the same service (the task description's window; the spec's max of 255 is never
  reached). ``dst_host_same_src_port_rate``: share of ``dst_host_count`` from the same source port.

Rates are rounded to 2 decimals. Windows are counted with one sort and ``searchsorted`` per
key, with no Python loop over rows.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from trustshield.errors import DataError

REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
MISSING_COLUMNS = "expected connection records with columns {expected}; missing {missing}"
MISSING_TS = (
    "expected a time stamp on every connection; {n} have none (masked btest logs: "
    "take the records from the capture with ingest.pcap.connections)"
)
BAD_PROTO = "expected proto tcp, udp or icmp; got {values}"
WINDOW_S = 2.0
HOST_WINDOW = 100
FLAGS = {
    "SF": "SF",
    "S0": "S0",
    "REJ": "REJ",
    "RSTO": "RSTO",
    "RSTR": "RSTR",
    "RSTOS0": "RSTOS0",
    "S1": "S1",
    "S2": "S2",
    "S3": "S3",
    "SH": "SH",
    "OTH": "OTH",
    "RSTRH": "RSTR",
    "SHR": "OTH",
}
SYN_ERRORS = ("S0", "S1", "S2", "S3")
#: KDD service names by TCP responder port (IANA assignments of the spec's service names)
TCP_PORTS = {
    7: "echo",
    9: "discard",
    11: "systat",
    13: "daytime",
    15: "netstat",
    20: "ftp_data",
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    37: "time",
    42: "name",
    43: "whois",
    53: "domain",
    57: "mtp",
    70: "gopher",
    71: "remote_job",
    77: "rje",
    79: "finger",
    80: "http",
    84: "ctf",
    95: "supdup",
    101: "hostnames",
    102: "iso_tsap",
    105: "csnet_ns",
    109: "pop_2",
    110: "pop_3",
    111: "sunrpc",
    113: "auth",
    117: "uucp_path",
    119: "nntp",
    137: "netbios_ns",
    138: "netbios_dgm",
    139: "netbios_ssn",
    143: "imap4",
    150: "sql_net",
    175: "vmnet",
    179: "bgp",
    210: "Z39_50",
    245: "link",
    389: "ldap",
    433: "nnsp",
    443: "http_443",
    512: "exec",
    513: "login",
    514: "shell",
    515: "printer",
    520: "efs",
    530: "courier",
    540: "uucp",
    543: "klogin",
    544: "kshell",
    2784: "http_2784",
    5190: "aol",
    6667: "IRC",
    8001: "http_8001",
    **{p: "X11" for p in range(6000, 6064)},
}
UDP_PORTS = {53: "domain_u", 69: "tftp_u", 123: "ntp_u"}
#: Zeek service names (first of a comma list that maps) → KDD names, per protocol
ZEEK_SERVICES = {
    "tcp": {
        "http": "http",
        "ftp": "ftp",
        "ftp-data": "ftp_data",
        "ssh": "ssh",
        "smtp": "smtp",
        "dns": "domain",
        "irc": "IRC",
        "pop3": "pop_3",
        "imap": "imap4",
        "ldap": "ldap",
        "finger": "finger",
        "telnet": "telnet",
    },
    "udp": {"dns": "domain_u", "ntp": "ntp_u", "tftp": "tftp_u"},
}
#: ICMP (v4, v6) type → service; type 3 / v6 type 1 split by code into port/host unreachable
ICMP_TYPES = {8: "eco_i", 0: "ecr_i", 5: "red_i", 13: "tim_i", 14: "tim_i"}
ICMP6_TYPES = {128: "eco_i", 129: "ecr_i", 137: "red_i"}
#: window features in the order traffic_features computes them (host window: dst_host_ prefix)
WINDOW_NAMES = (
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
)
CONTENT = (
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
)
COLUMNS = (
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    *CONTENT,
    *WINDOW_NAMES,
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
)


def kdd_features(conns: pd.DataFrame) -> pd.DataFrame:
    """The NSL-KDD feature columns (:data:`COLUMNS`, spec order) of ``conns``, shape (n, 41),
    rows in ``ts`` order. DataError when a required column, a time stamp or a protocol is bad."""
    missing = [c for c in REQUIRED if c not in conns.columns]
    if missing:
        raise DataError(MISSING_COLUMNS.format(expected=list(REQUIRED), missing=missing))
    if unset := int(conns["ts"].isna().sum()):
        raise DataError(MISSING_TS.format(n=unset))
    proto = conns["proto"].astype(str).str.lower()
    if bad := set(proto.unique()) - {"tcp", "udp", "icmp"}:
        raise DataError(BAD_PROTO.format(values=sorted(bad)))
    order = np.argsort(conns["ts"].to_numpy(np.float64), kind="stable")
    rows = conns.iloc[order].assign(proto=proto.to_numpy()[order])
    out = basic_features(rows)
    for name in CONTENT:
        out[name] = np.zeros(len(rows), np.int64)
    out.update(traffic_features(rows, out["service"], out["flag"]))
    return pd.DataFrame({c: out[c] for c in COLUMNS}, index=rows.index)


def basic_features(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Duration (s), protocol, service, flag, bytes, land, wrong_fragment, urgent; shape (n,) each."""
    n, proto = len(rows), rows["proto"].to_numpy(object)
    state = _column(rows, "conn_state", "OTH").astype(str)
    flag = np.where(
        proto == "tcp", pd.Series(state).map(FLAGS).fillna("OTH").to_numpy(object), "SF"
    )
    no_data = np.isin(flag, ["S0", "REJ"])
    src = np.where(no_data, 0, _column(rows, "orig_bytes", 0).astype(np.int64))
    dst = np.where(no_data | (proto == "icmp"), 0, _column(rows, "resp_bytes", 0).astype(np.int64))
    orig_p, resp_p = rows["id.orig_p"].to_numpy(np.int64), rows["id.resp_p"].to_numpy(np.int64)
    land = (rows["id.orig_h"].to_numpy(object) == rows["id.resp_h"].to_numpy(object)) & (
        orig_p == resp_p
    )
    duration = np.floor(np.nan_to_num(_column(rows, "duration", 0.0).astype(np.float64)))
    return {
        "duration": duration.clip(0).astype(np.int64),
        "protocol_type": proto,
        "service": services(rows),
        "flag": flag.astype(object),
        "src_bytes": src.clip(0),
        "dst_bytes": dst.clip(0),
        "land": land.astype(np.int64),
        "wrong_fragment": np.zeros(n, np.int64),
        "urgent": np.zeros(n, np.int64),
    }


def services(rows: pd.DataFrame) -> np.ndarray:
    """KDD service name per row (object, shape (n,)): Zeek's service, else port, else ICMP type."""
    proto = rows["proto"].to_numpy(object)
    port = rows["id.resp_p"].to_numpy(np.int64)
    by_port = _PORT_SERVICES[(proto == "udp").astype(np.int64), np.clip(port, 0, 65535)]
    codes, names = pd.factorize(_column(rows, "service", None))  # unset -> code -1
    for p, table in ZEEK_SERVICES.items():
        known = np.array([_first_known(s, table) for s in names] + [None], dtype=object)
        named = known[codes]
        by_port = np.where((proto == p) & pd.notna(named), named, by_port)
    icmp = np.flatnonzero(proto == "icmp")
    if len(icmp):
        six = (
            pd.Series(rows["id.orig_h"].to_numpy(object)[icmp]).str.contains(":").to_numpy(np.int64)
        )
        triple = np.stack([rows["id.orig_p"].to_numpy(np.int64)[icmp], port[icmp], six], axis=1)
        kinds, which = np.unique(triple, axis=0, return_inverse=True)
        by_port[icmp] = np.array(
            [icmp_service(t, c, bool(v6)) for t, c, v6 in kinds], dtype=object
        )[which.ravel()]
    return by_port


def icmp_service(kind: int, code: int, v6: bool) -> str:
    """KDD ICMP service of an ICMP type and code (Zeek's id.orig_p, id.resp_p); unreachable
    splits into urp_i (port unreachable) and urh_i (any other code); unknown types → urh_i."""
    if kind == (1 if v6 else 3):
        return "urp_i" if code == (4 if v6 else 3) else "urh_i"
    return (ICMP6_TYPES if v6 else ICMP_TYPES).get(kind, "urh_i")


def traffic_features(
    rows: pd.DataFrame, service: np.ndarray, flag: np.ndarray
) -> dict[str, np.ndarray]:
    """The 2-second and 100-connection window features (shape (n,) each) of rows in ts order."""
    ts = rows["ts"].to_numpy(np.float64)
    host = pd.factorize(rows["id.resp_h"].to_numpy(object))[0]
    srv = pd.factorize(service)[0]
    both = pd.factorize(host.astype(np.int64) * (srv.max(initial=0) + 1) + srv)[0]
    sport = pd.factorize(host.astype(np.int64) * 65536 + rows["id.orig_p"].to_numpy(np.int64))[0]
    errors = np.stack([np.isin(flag, SYN_ERRORS), flag == "REJ"], axis=1).astype(np.int64)
    times = np.unique(ts)
    rank, lower = np.searchsorted(times, ts), np.searchsorted(times, ts - WINDOW_S)
    position = np.arange(len(ts))
    out: dict[str, np.ndarray] = {}
    for prefix, (r, lo) in {
        "": (rank, lower),
        "dst_host_": (position, position - (HOST_WINDOW - 1)),
    }.items():
        n_host, e_host = windowed(host, r, lo, errors)
        n_srv, e_srv = windowed(srv, r, lo, errors)
        n_both = windowed(both, r, lo)[0]
        names = [prefix + n for n in WINDOW_NAMES]
        values = [
            n_host,
            n_srv,
            e_host[:, 0] / n_host,
            e_srv[:, 0] / n_srv,
            e_host[:, 1] / n_host,
            e_srv[:, 1] / n_srv,
            n_both / n_host,
            1 - n_both / n_host,
            1 - n_both / n_srv,
        ]
        out.update(zip(names, values))
        if prefix:
            out["dst_host_same_src_port_rate"] = windowed(sport, r, lo)[0] / n_host
    limit = {"count": 511, "srv_count": 511, "dst_host_count": 255, "dst_host_srv_count": 255}
    return {
        k: np.minimum(v, limit[k]).astype(np.int64) if k in limit else np.round(v, 2)
        for k, v in out.items()
    }


@overload
def windowed(
    codes: np.ndarray, rank: np.ndarray, lower: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def windowed(
    codes: np.ndarray, rank: np.ndarray, lower: np.ndarray, weights: None = None
) -> tuple[np.ndarray, None]: ...
def windowed(
    codes: np.ndarray, rank: np.ndarray, lower: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per row i: how many rows j <= i share ``codes[i]`` with ``rank[j] >= lower[i]``, and the
    sums of ``weights`` (shape (n, k)) over them. ``rank`` must be non-decreasing in row order."""
    n = len(codes)
    span = np.int64(max(int(rank.max(initial=0)), 0) + 2)
    key = codes.astype(np.int64) * span + rank.astype(np.int64) + 1
    order = np.argsort(codes, kind="stable")  # by code, then row (so by rank within a code)
    sorted_key = key[order]
    start = np.searchsorted(
        sorted_key,
        codes[order].astype(np.int64) * span + np.maximum(lower[order], -1).astype(np.int64) + 1,
        side="left",
    )
    at = np.arange(n)
    counts = np.empty(n, np.int64)
    counts[order] = at - start + 1
    if weights is None:
        return counts, None
    cum = np.vstack([np.zeros((1, weights.shape[1]), np.int64), np.cumsum(weights[order], axis=0)])
    sums = np.empty_like(weights)
    sums[order] = cum[at + 1] - cum[start]
    return counts, sums


def _port_services() -> np.ndarray:
    """Service name by (0 tcp / 1 udp, port): shape (2, 65536), object."""
    table = np.where(np.arange(65536) < 1024, "private", "other").astype(object)
    table = np.stack([table, table.copy()])
    for row, ports in enumerate((TCP_PORTS, UDP_PORTS)):
        table[row, list(ports)] = list(ports.values())
    return table


_PORT_SERVICES = _port_services()


def _first_known(value, table: dict[str, str]) -> str | None:
    """The KDD name of the first entry of a Zeek service list (``"ftp,ssl"``) found in ``table``."""
    if not isinstance(value, str):
        return None
    return next((table[s] for s in value.split(",") if s in table), None)


def _column(rows: pd.DataFrame, name: str, default) -> np.ndarray:
    """Column ``name`` as an object/number array with unset values replaced by ``default``."""
    if name not in rows.columns:
        return np.full(len(rows), default, dtype=object)
    column = rows[name]
    return column.astype(object).where(column.notna(), default).to_numpy(object)
