"""KDD'99-style features from connection records: window counts and rates on hand-built
connections with known answers, a row-by-row reference on random traffic, flag and service
mapping, spec validity, and Zeek's own traces (with a small NSL-KDD model scoring them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustshield.errors import DataError
from trustshield.features.kdd_derived import (
    BAD_PROTO,
    COLUMNS,
    MISSING_COLUMNS,
    MISSING_TS,
    SYN_ERRORS,
    kdd_features,
)
from trustshield.ingest.datasets import data_dirs, parse_source_sha256, sha256_of
from trustshield.ingest.pcap import connections
from trustshield.ingest.validate import check_frame
from trustshield.ingest.zeek import read_conn_log
from trustshield.specs import load_spec

SPEC = load_spec("nsl-kdd")
CASES = (
    "ftp-ipv4",
    "gridftp",
    "mpls-in-vlan",
    "pppoe",
    "q-in-q",
    "ssh-basic",
    "ssh-half-duplex-client",
    "tcp-missing-syn",
)


def conns(*rows, **extra):
    """Conn frame from (ts, resp_h, resp_p, conn_state) rows: tcp from 10.0.0.1:40000+i."""
    n = len(rows)
    frame = pd.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "id.orig_h": ["10.0.0.1"] * n,
            "id.orig_p": [40000 + i for i in range(n)],
            "id.resp_h": [r[1] for r in rows],
            "id.resp_p": [r[2] for r in rows],
            "proto": ["tcp"] * n,
            "conn_state": [r[3] if len(r) > 3 else "SF" for r in rows],
        }
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


def valid(features: pd.DataFrame):
    checked = check_frame(features, SPEC, file="derived", lines=np.arange(1, len(features) + 1))
    assert checked.problems == (), checked.problems[:3]
    assert checked.rejected_rows == 0


def test_columns_are_the_spec_features_in_spec_order():
    out = kdd_features(conns((0.0, "10.1.0.1", 80)))
    features = [c.name for c in SPEC.columns if c.name not in ("label", "difficulty")]
    assert list(out.columns) == features == list(COLUMNS)
    valid(out)


def test_two_second_window_includes_its_boundary_and_only_the_same_host():
    out = kdd_features(
        conns((0.0, "A", 80), (1.0, "B", 80), (2.0, "A", 80), (2.5, "A", 80), (4.6, "A", 80))
    )
    assert out["count"].tolist() == [1, 1, 2, 2, 1]  # 2.0 - 2 s reaches 0.0; 2.5 - 2 s does not
    assert out["srv_count"].tolist() == [1, 2, 3, 3, 1]  # every row is http


def test_equal_time_stamps_count_only_the_rows_before():
    out = kdd_features(conns((5.0, "A", 80), (5.0, "A", 80), (5.0, "A", 80)))
    assert out["count"].tolist() == [1, 2, 3]


def test_error_and_service_rates_over_the_time_window():
    out = kdd_features(
        conns(
            (0.0, "A", 80, "S0"),
            (0.1, "A", 22, "REJ"),
            (0.2, "A", 80, "SF"),
            (0.3, "B", 80, "S1"),
            (0.4, "A", 80, "SF"),
        )
    )
    last, b = out.iloc[4], out.iloc[3]
    assert (last["count"], last["srv_count"]) == (4, 4)  # A: rows 0,1,2,4; http: rows 0,2,3,4
    assert last["serror_rate"] == 0.25 and last["rerror_rate"] == 0.25
    assert last["srv_serror_rate"] == 0.5 and last["srv_rerror_rate"] == 0.0
    assert last["same_srv_rate"] == 0.75 and last["diff_srv_rate"] == 0.25
    assert last["srv_diff_host_rate"] == 0.25  # row 3 went to B
    assert (b["count"], b["serror_rate"], b["srv_diff_host_rate"]) == (1, 1.0, round(2 / 3, 2))


def test_host_window_is_the_last_100_connections_whatever_their_host():
    # 150 connections 10 s apart (no 2-s overlap): even rows to A:80, odd rows to B:22
    rows = [
        (
            10.0 * i,
            "A" if i % 2 == 0 else "B",
            80 if i % 2 == 0 else 22,
            "REJ" if i % 4 == 0 else "SF",
        )
        for i in range(150)
    ]
    out = kdd_features(conns(*rows))
    assert out["count"].max() == 1
    assert out["dst_host_count"].tolist()[:4] == [1, 1, 2, 2]
    last = out.iloc[148]  # window rows 49..148: 50 to A, of which rows divisible by 4 REJ
    assert (last["dst_host_count"], last["dst_host_srv_count"]) == (50, 50)
    assert last["dst_host_rerror_rate"] == 0.5 and last["dst_host_same_srv_rate"] == 1.0
    assert last["dst_host_same_src_port_rate"] == 0.02  # every source port differs
    assert last["dst_host_srv_diff_host_rate"] == 0.0


def reference(frame: pd.DataFrame) -> pd.DataFrame:
    """Row-by-row KDD windows (the definitions of the module docstring), for comparison."""
    ts, host = frame["ts"].to_numpy(), frame["id.resp_h"].to_numpy()
    srv, sport = frame["id.resp_p"].to_numpy(), frame["id.orig_p"].to_numpy()
    syn, rej = (
        frame["conn_state"].isin(SYN_ERRORS).to_numpy(),
        (frame["conn_state"] == "REJ").to_numpy(),
    )
    out = []
    for i in range(len(frame)):
        t = np.flatnonzero((ts[: i + 1] >= ts[i] - 2.0))
        h = np.arange(max(0, i - 99), i + 1)
        same_h, same_s = t[host[t] == host[i]], t[srv[t] == srv[i]]
        dh, ds = h[host[h] == host[i]], h[srv[h] == srv[i]]
        out.append(
            {
                "count": len(same_h),
                "srv_count": len(same_s),
                "serror_rate": syn[same_h].mean(),
                "srv_rerror_rate": rej[same_s].mean(),
                "same_srv_rate": (srv[same_h] == srv[i]).mean(),
                "srv_diff_host_rate": (host[same_s] != host[i]).mean(),
                "dst_host_count": len(dh),
                "dst_host_srv_count": len(ds),
                "dst_host_same_src_port_rate": (sport[dh] == sport[i]).mean(),
                "dst_host_srv_diff_host_rate": (host[ds] != host[i]).mean(),
                "dst_host_serror_rate": syn[dh].mean(),
                "dst_host_srv_rerror_rate": rej[ds].mean(),
            }
        )
    return pd.DataFrame(out).round(2)


def test_windows_match_a_row_by_row_reference_on_random_traffic():
    rng = np.random.default_rng(7)
    n = 600
    frame = conns(
        *zip(
            np.sort(rng.uniform(0, 60, n)).round(1),
            rng.choice(list("ABCD"), n),
            rng.choice([80, 22, 25], n),
            rng.choice(["SF", "S0", "REJ", "S2"], n),
        )
    )
    frame["id.orig_p"] = rng.choice([1111, 2222, 3333], n)
    out = kdd_features(frame).reset_index(drop=True)
    expected = reference(frame)
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)
    valid(out)


def test_rows_come_back_in_ts_order_with_their_index():
    out = kdd_features(conns((3.0, "A", 80), (1.0, "A", 80), (2.0, "A", 80)))
    assert out.index.tolist() == [1, 2, 0] and out["count"].tolist() == [1, 2, 3]


def test_flag_mapping_and_connectionless_protocols():
    frame = conns(
        *[
            (float(i), "A", 80, s)
            for i, s in enumerate(["SF", "S0", "RSTRH", "SHR", "RSTOS0", "weird", "S0"])
        ],
        orig_bytes=pd.array([10, 5, 1, 1, 1, 1, None], dtype="Int64"),
    )
    frame.loc[6, "proto"] = "udp"
    out = kdd_features(frame)
    assert out["flag"].tolist() == ["SF", "S0", "RSTR", "OTH", "RSTOS0", "OTH", "SF"]
    assert out["src_bytes"].tolist() == [10, 0, 1, 1, 1, 1, 0]  # S0 sends nothing; unset -> 0
    assert out["serror_rate"].iloc[1] == 0.5  # window: SF, S0
    assert out["serror_rate"].iloc[3] == 0.33  # window: S0, RSTRH, SHR (the last two no SYN error)
    valid(out)


def test_service_mapping_by_zeek_name_port_and_icmp_type():
    rows = [
        (0, "tcp", 2121, "ftp,ssl", "1.1.1.1"),
        (1, "tcp", 443, "ssl", "1.1.1.1"),
        (2, "udp", 5353, "dns", "1.1.1.1"),
        (3, "udp", 53, None, "1.1.1.1"),
        (4, "tcp", 999, None, "1.1.1.1"),
        (5, "tcp", 12345, None, "1.1.1.1"),
        (6, "tcp", 6001, None, "1.1.1.1"),
        (7, "udp", 40000, "ssh", "1.1.1.1"),
        (8, "icmp", 3, None, "1.1.1.1"),
        (9, "icmp", 1, None, "1.1.1.1"),
        (10, "icmp", 0, None, "fe80::1"),
        (11, "icmp", 135, None, "fe80::1"),
    ]
    frame = pd.DataFrame(
        {
            "ts": [float(r[0]) for r in rows],
            "id.orig_h": [r[4] for r in rows],
            "id.orig_p": [3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 128, 135],
            "id.resp_h": ["2.2.2.2"] * 12,
            "id.resp_p": [r[2] for r in rows],
            "proto": [r[1] for r in rows],
            "service": [r[3] for r in rows],
            "resp_bytes": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0],
        }
    )
    out = kdd_features(frame)
    assert out["service"].tolist() == [
        "ftp",
        "http_443",
        "domain_u",
        "domain_u",
        "private",
        "other",
        "X11",
        "other",
        "urp_i",
        "urh_i",
        "eco_i",
        "urh_i",
    ]
    assert out["dst_bytes"].iloc[10] == 0  # icmp replies carry no counted payload
    valid(out)


def test_land_duration_and_content_features():
    frame = conns((0.0, "10.0.0.1", 40000), (1.0, "10.0.0.1", 80), duration=[2.9, np.nan])
    out = kdd_features(frame)
    assert out["land"].tolist() == [1, 0] and out["duration"].tolist() == [2, 0]
    assert (out[["hot", "logged_in", "num_failed_logins", "is_guest_login"]] == 0).all().all()


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(DataError) as error:
        kdd_features(conns((0.0, "A", 80)).drop(columns=["id.resp_p"]))
    assert str(error.value) == MISSING_COLUMNS.format(
        expected=["ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"],
        missing=["id.resp_p"],
    )
    with pytest.raises(DataError) as error:
        kdd_features(conns((np.nan, "A", 80), (1.0, "A", 80)))
    assert str(error.value) == MISSING_TS.format(n=1)
    with pytest.raises(DataError) as error:
        kdd_features(conns((0.0, "A", 80)).assign(proto="sctp"))
    assert str(error.value) == BAD_PROTO.format(values=["sctp"])


def test_no_connections_give_no_rows():
    out = kdd_features(conns((0.0, "A", 80)).iloc[:0])
    assert out.shape == (0, len(COLUMNS))


def baseline_pcap(case: str):
    for root in data_dirs():
        folder = root / "zeek-pcap-baselines"
        if (folder / "SOURCE.md").is_file():
            shas = parse_source_sha256((folder / "SOURCE.md").read_text())
            name = next(k for k in shas if k.startswith(f"{case}/") and k.endswith(".pcap"))
            assert sha256_of(folder / name) == shas[name]
            return folder / name, folder / case / "conn.log"
    pytest.skip("zeek-pcap-baselines not in the data roots")


@pytest.mark.parametrize("case", CASES)
def test_zeek_traces_give_spec_valid_rows(case):
    pcap, log = baseline_pcap(case)
    with pytest.raises(DataError):
        kdd_features(read_conn_log(log, masked_timestamps=True))  # btest masks every time
    records = connections(pcap)
    out = kdd_features(records)
    assert len(out) == len(records)
    valid(out)


def test_zeek_service_names_with_capture_times():
    pcap, log = baseline_pcap("ssh-basic")
    zeek = read_conn_log(log, masked_timestamps=True)
    key = ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]
    times = connections(pcap).drop_duplicates(key, keep=False)[key + ["ts"]]
    joined = zeek.drop(columns=["ts"]).merge(times, on=key, how="inner")
    assert len(joined) >= 20
    out = kdd_features(joined)
    ssh = (joined["service"] == "ssh").to_numpy()[out.index]
    assert ssh.any() and (out["service"][ssh] == "ssh").all()
    valid(out)


def test_a_small_nsl_kdd_model_scores_derived_rows():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from synthetic import train_small
    from trustshield.ingest.tabular import TableSource
    from trustshield.pipeline.scoring import score_batch
    from trustshield.specs.loading import read_spec_text

    path = next(
        (
            r / "nsl-kdd" / "KDDTrain+_20Percent.txt"
            for r in data_dirs()
            if (r / "nsl-kdd" / "KDDTrain+_20Percent.txt").is_file()
        ),
        None,
    )
    if path is None:
        pytest.skip("NSL-KDD training file not in the data roots")
    frame = TableSource(path, SPEC).read_all()
    model = train_small(
        frame[frame.groupby("label").cumcount() < 100].reset_index(drop=True),
        SPEC,
        read_spec_text("nsl-kdd")[0],
    )
    out = kdd_features(connections(baseline_pcap("ssh-basic")[0])).reset_index(drop=True)
    scored = score_batch(model, out)
    assert scored.decision.suspicion.shape == (len(out),)
    assert np.isfinite(scored.decision.suspicion).all()
