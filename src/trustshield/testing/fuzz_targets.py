"""The readers :mod:`trustshield.testing.fuzz` damages, each with seeds cut from the real
files under the data roots (``$TRUSTSHIELD_DATA_DIR``, else ``../shared/data``).

Seeds are made when a run starts and kept in memory, never written into the checkout. A
seed is the head of a real file (a few hundred lines, or the first 32 KiB of a capture), so
a case takes milliseconds. Formats the data roots hold no file of (Zeek JSON, nfdump and
CICFlowMeter CSVs, per-key series, a small mouse archive) are written from real Zeek
conn.log records and real keystroke and mouse rows. Built-in specs seed the spec loader; a
freshly generated keyring seeds the keyring loader.

:func:`targets` lists them all; :data:`ALLOWED_DATA` are the errors a reader may raise.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path

from trustshield.errors import ConfigError, DataError, SpecError
from trustshield.ingest.datasets import data_dirs
from trustshield.testing.fuzz import FuzzTarget

ALLOWED_DATA = (DataError, SpecError)
HEAD_LINES = 200
HEAD_BYTES = 32_768
MASKED_TIME = re.compile(rb"X{10}\.X{6}")


class NoSeeds(DataError):
    """No real file to cut seeds from was found under the data roots."""


def _files(pattern: str) -> list[Path]:
    for root in data_dirs():
        found = sorted(p for p in root.glob(pattern) if p.is_file())
        if found:
            return found
    raise NoSeeds(
        f"no file matching {pattern} under {[str(r) for r in data_dirs()]}: set "
        "TRUSTSHIELD_DATA_DIR to the shared data folder"
    )


def _head(path: Path, lines: int = HEAD_LINES) -> bytes:
    with path.open("rb") as handle:
        return b"".join(line for _, line in zip(range(lines), handle))


# --- seeds ----------------------------------------------------------------------------------


@cache
def conn_logs() -> tuple[bytes, ...]:
    """Heads of the Zeek TSV conn.logs, masked btest times replaced by increasing times."""
    out = []
    for path in _files("zeek-pcap-baselines/*/conn.log"):
        head, count = _head(path), iter(range(10**6))
        out.append(
            MASKED_TIME.sub(lambda _, count=count: b"1300000000.%06d" % next(count), head).replace(
                b"#open XXXX-XX-XX-XX-XX-XX", b"#open 2011-03-13-06-46-40"
            )
        )
    return tuple(out)


@cache
def labelled_conn_logs() -> tuple[bytes, ...]:
    """Heads of the labelled IoT-23 conn logs: Zeek TSV with space-separated last columns
    and CSV conversions."""
    return tuple(_head(p) for p in _files("iot-23/*/*.csv") + _files("iot-23/*/conn.log.labeled"))


def _conn_records() -> list[dict]:
    """Records of the seed conn.logs as {field: text or None}, with their #types."""
    records = []
    for data in conn_logs():
        fields = types = None
        for line in data.decode("utf-8").splitlines():
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line.startswith("#types"):
                types = line.split("\t")[1:]
            elif not line.startswith("#") and fields and types:
                values = line.split("\t")
                records.append(
                    {f: (None if v == "-" else v, t) for f, v, t in zip(fields, values, types)}
                )
    return records


def _json_value(text: str | None, ztype: str):
    if ztype.startswith(("set", "vector")):
        return [] if text in (None, "(empty)") else text.split(",")
    if ztype in ("count", "port", "int"):
        return int(text)
    if ztype in ("time", "interval", "double"):
        return float(text)
    if ztype == "bool":
        return text == "T"
    return text


@cache
def zeek_json() -> tuple[bytes, ...]:
    lines = [
        json.dumps({f: _json_value(v, t) for f, (v, t) in r.items() if v is not None})
        for r in _conn_records()
    ]
    return tuple("\n".join(lines[i : i + 60]).encode() + b"\n" for i in range(0, len(lines), 60))


def _utc(text: str, pattern: str) -> str:
    return datetime.fromtimestamp(float(text), timezone.utc).strftime(pattern)


def _number(record: dict, name: str, default: str = "0") -> str:
    return record.get(name, (None, ""))[0] or default


@cache
def nfdump_csv() -> tuple[bytes, ...]:
    header = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out"
    rows = []
    for r in _conn_records():
        ts, td = float(_number(r, "ts")), float(_number(r, "duration"))
        rows.append(
            ",".join(
                [
                    _utc(str(ts), "%Y-%m-%d %H:%M:%S.%f")[:-3],
                    _utc(str(ts + td), "%Y-%m-%d %H:%M:%S.%f")[:-3],
                    f"{td:.3f}",
                    r["id.orig_h"][0],
                    r["id.resp_h"][0],
                    r["id.orig_p"][0],
                    r["id.resp_p"][0],
                    r["proto"][0].upper(),
                    "........",
                    "0",
                    "0",
                    _number(r, "orig_pkts"),
                    _number(r, "orig_ip_bytes"),
                    _number(r, "resp_pkts"),
                    _number(r, "resp_ip_bytes"),
                    "1",
                    "2",
                ]
            )
        )
    summary = "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n0,0,0,0,0,0\n"
    return tuple(
        ("\n".join([header, *rows[i : i + 60]]) + "\n" + summary).encode()
        for i in range(0, len(rows), 60)
    )


@cache
def cicflowmeter_csv() -> tuple[bytes, ...]:
    header = (
        "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
        "Tot Fwd Pkts,Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,Flow Byts/s,Label"
    )
    numbers = {"tcp": "6", "udp": "17", "icmp": "1"}
    rows = []
    for r in _conn_records():
        src, dst, sp, dp = (r[k][0] for k in ("id.orig_h", "id.resp_h", "id.orig_p", "id.resp_p"))
        proto = numbers.get(r["proto"][0], "0")
        micros = int(float(_number(r, "duration")) * 1e6)
        rows.append(
            ",".join(
                [
                    f"{src}-{dst}-{sp}-{dp}-{proto}",
                    src,
                    sp,
                    dst,
                    dp,
                    proto,
                    _utc(_number(r, "ts"), "%d/%m/%Y %I:%M:%S %p"),
                    str(micros),
                    _number(r, "orig_pkts"),
                    _number(r, "resp_pkts"),
                    _number(r, "orig_bytes"),
                    _number(r, "resp_bytes"),
                    "Infinity" if micros == 0 else "1.5e3",
                    "Benign",
                ]
            )
        )
    return tuple(
        ("\n".join([header, *rows[i : i + 60]]) + "\n").encode() for i in range(0, len(rows), 60)
    )


def _whole_packets(data: bytes, limit: int = HEAD_BYTES) -> bytes:
    """The head of a capture up to ``limit`` bytes, cut after the last whole packet (pcap)
    or block (pcapng)."""
    pcap = {
        b"\xd4\xc3\xb2\xa1": "little",
        b"\x4d\x3c\xb2\xa1": "little",
        b"\xa1\xb2\xc3\xd4": "big",
        b"\xa1\xb2\x3c\x4d": "big",
    }.get(data[:4])
    if pcap is not None:  # 24-byte file header; records: 16-byte header, length at 8..12
        end, order, length_at, header = 24, pcap, 8, 16
    elif data[:4] == b"\x0a\x0d\x0d\x0a":  # blocks: total length at 4..8, header included
        end, order, length_at, header = (
            0,
            "little" if data[8:12] == b"\x4d\x3c\x2b\x1a" else "big",
            4,
            0,
        )
    else:
        return data[:limit]
    while end + 16 <= len(data):
        after = end + header + int.from_bytes(data[end + length_at : end + length_at + 4], order)
        if after > min(limit, len(data)) or after <= end:
            break
        end = after
    return data[:end]


@cache
def captures() -> tuple[bytes, ...]:
    return tuple(_whole_packets(p.read_bytes()[:HEAD_BYTES]) for p in _files("**/*.pcap"))


@cache
def nsl_kdd_rows() -> tuple[bytes, ...]:
    return tuple(_head(p) for p in _files("nsl-kdd/KDD*.txt"))


@cache
def keystroke_tables() -> tuple[bytes, ...]:
    path = _files("meu-mobile-ksd/*.csv")[0]
    lines = path.read_bytes().split(b"\n")
    return tuple(b"\n".join([lines[0], *lines[i : i + 80]]) + b"\n" for i in (1, 400, 1200))


@cache
def keystroke_series() -> tuple[bytes, ...]:
    """MEU rows as readings of series, numbered into typings of up to five readings of one
    subject each."""
    out = []
    for table in keystroke_tables():
        lines = table.decode("utf-8").splitlines()
        rows, typing, last = [], 0, None
        for i, line in enumerate(lines[1:31]):
            subject = line.split(",", 1)[0]
            typing += i % 5 == 0 or subject != last
            rows.append(f"{typing},{line}")
            last = subject
        out.append(("\n".join([f"typing,{lines[0]}", *rows]) + "\n").encode())
    return tuple(out)


@cache
def mouse_sessions() -> tuple[bytes, ...]:
    archive = _files("balabit-mouse-dynamics/*.tar.xz")[0]
    out = []
    with tarfile.open(archive, mode="r:xz") as tar:
        for member in tar:
            if member.isfile() and Path(member.name).name.startswith("session_"):
                out.append(b"".join(tar.extractfile(member).readlines()[:HEAD_LINES]))
                if len(out) == 6:
                    break
    return tuple(out)


@cache
def mouse_archives() -> tuple[bytes, ...]:
    """A small tar.xz in the archive's layout: two real session heads and their labels."""
    sessions = mouse_sessions()[:2]
    names = [
        f"balabit-mouse-subset/training_files/user{i}/session_{i:010d}"
        for i in range(len(sessions))
    ]
    labels = b"filename,is_illegal\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in [
            *zip(names, sessions),
            ("balabit-mouse-subset/public_labels.csv", labels),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return (buffer.getvalue(),)


def builtin_specs() -> tuple[bytes, ...]:
    folder = resources.files("trustshield.specs")
    return tuple(
        (folder / name).read_bytes()
        for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


def keyrings() -> tuple[bytes, ...]:
    from trustshield.store.signing import Keyring

    with tempfile.TemporaryDirectory() as folder:
        ring = Keyring(Path(folder) / "keys")
        ring.generate()
        ring.rotate()
        return ((Path(folder) / "keys" / "keyring.json").read_bytes(),)


# --- readers ----------------------------------------------------------------------------------


def _table(path: Path):
    from trustshield.ingest.tabular import TableSource
    from trustshield.specs import load_spec

    return TableSource(path, load_spec("nsl-kdd"), batch_rows=64).read_all()


def _conn_log(path: Path):
    from trustshield.ingest.zeek import read_conn_log

    return read_conn_log(path)


def _conn_table(path: Path):
    from trustshield.ingest.zeek_chunks import read_conn_table

    return read_conn_table(path)


def _conn_log_followed(path: Path):
    """The file as ``watch`` reads a growing log: complete lines, in chunks of 16 lines."""
    from trustshield.ingest.zeek_chunks import conn_chunk, json_chunk, new_header

    data = path.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
    header, as_json = new_header(), data.lstrip().startswith(b"{")
    for first in range(0, len(lines), 16):
        chunk = b"".join(line + b"\n" for line in lines[first : first + 16])
        if as_json:
            json_chunk(chunk, file=str(path), first_line=first + 1)
        else:
            conn_chunk(chunk, header, file=str(path), first_line=first + 1)


def _nfdump(path: Path):
    from trustshield.ingest.flow_csv import read_nfdump_csv

    return read_nfdump_csv(path)


def _cicflowmeter(path: Path):
    from trustshield.ingest.flow_csv import read_cicflowmeter_csv

    return read_cicflowmeter_csv(path)


def _pcap(path: Path):
    from trustshield.ingest.pcap import connections

    return connections(path)


def _keystroke_table(path: Path):
    from trustshield.ingest.keystroke_table import read_keystroke_table

    return read_keystroke_table(path, subject_column="Subject")


def _keystroke_series(path: Path):
    from trustshield.ingest.keystroke_series import read_series_table

    return read_series_table(path)


def _samples(path: Path):
    from trustshield.ingest.samples import malformed_rows, read_feature_table

    return malformed_rows(read_feature_table(path))


def _mouse_session(path: Path):
    from trustshield.ingest.mouse import parse_session

    return parse_session(path.read_bytes(), file=str(path))


def _mouse_archive(path: Path):
    from trustshield.ingest.mouse import read_balabit

    return read_balabit(path)


def _spec(path: Path):
    from trustshield.specs import load_spec

    return load_spec(path)


def _keyring(path: Path):
    from trustshield.store.signing import Keyring

    return Keyring(path.parent).entries()


def targets() -> list[FuzzTarget]:
    """Every reader with its seeds, in the order a run reports them."""
    return [
        FuzzTarget("table-csv", "flows.csv", nsl_kdd_rows, _table, ALLOWED_DATA),
        FuzzTarget("zeek-tsv", "conn.log", conn_logs, _conn_log, ALLOWED_DATA),
        FuzzTarget("zeek-json", "conn.json", zeek_json, _conn_log, ALLOWED_DATA),
        FuzzTarget("zeek-tsv-followed", "conn.log", conn_logs, _conn_log_followed, ALLOWED_DATA),
        FuzzTarget("zeek-tsv-bulk", "conn.log", conn_logs, _conn_table, ALLOWED_DATA),
        FuzzTarget("zeek-json-bulk", "conn.json", zeek_json, _conn_table, ALLOWED_DATA),
        FuzzTarget("zeek-labelled-bulk", "conn.log", labelled_conn_logs, _conn_table, ALLOWED_DATA),
        FuzzTarget("zeek-json-followed", "conn.json", zeek_json, _conn_log_followed, ALLOWED_DATA),
        FuzzTarget("nfdump-csv", "nfdump.csv", nfdump_csv, _nfdump, ALLOWED_DATA),
        FuzzTarget("cicflowmeter-csv", "flows.csv", cicflowmeter_csv, _cicflowmeter, ALLOWED_DATA),
        FuzzTarget("pcap", "capture.pcap", captures, _pcap, ALLOWED_DATA),
        FuzzTarget(
            "keystroke-table", "typings.csv", keystroke_tables, _keystroke_table, ALLOWED_DATA
        ),
        FuzzTarget(
            "keystroke-series", "series.csv", keystroke_series, _keystroke_series, ALLOWED_DATA
        ),
        FuzzTarget("biometric-samples", "samples.csv", keystroke_tables, _samples, ALLOWED_DATA),
        FuzzTarget(
            "mouse-session", "session_0000000001", mouse_sessions, _mouse_session, ALLOWED_DATA
        ),
        FuzzTarget(
            "mouse-archive", "sessions.tar.xz", mouse_archives, _mouse_archive, ALLOWED_DATA
        ),
        FuzzTarget("spec-yaml", "spec.yaml", builtin_specs, _spec, ALLOWED_DATA),
        FuzzTarget("keyring-json", "keyring.json", keyrings, _keyring, (ConfigError,)),
    ]
