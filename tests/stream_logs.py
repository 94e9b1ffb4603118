"""Synthetic multi-day conn logs for the streaming behaviour tests (stream, watch)."""

import pandas as pd

from conn_flows import T0, beacon, chatter, flows, scan
from trustshield.incidents.model import fit_behaviour, scenario

DAY = 86400.0


def site(seed: int, infected: bool):
    records = chatter("10.0.0.5", 120, seed=seed) + chatter("10.0.0.6", 120, seed=seed + 50)
    if infected:
        records += beacon("10.0.0.5", f"203.0.113.{seed}", 7000 + seed, 3.0 + seed % 3, 2000)
        records += scan("10.0.0.5", 23, 300, start=T0 + 3600)
    return scenario(f"s{seed}", flows(records))


def days(n_days: int = 4) -> pd.DataFrame:
    """``n_days`` (at least four) days of a small site: hosts joining late, a beacon that stops and comes back
    after more than a day (two incidents), a scan by another host, records in time order."""
    records = []
    for day in range(n_days):
        start = T0 + day * DAY
        records += chatter("10.0.0.5", 150, start=start, seed=day)
        if day >= 1:
            records += chatter("10.0.0.6", 150, start=start + 1800, seed=day + 10)
        if day == 2:
            records += scan("10.0.0.7", 23, 300, start=start + 7200)
            records += chatter("10.0.0.7", 50, start=start, seed=day + 20)
    records += beacon("10.0.0.5", "203.0.113.9", 7009, 4.0, 1500, start=T0 + 600)
    records += beacon("10.0.0.5", "203.0.113.9", 7009, 4.0, 1500, start=T0 + 3 * DAY)
    records += beacon("10.0.0.6", "203.0.113.77", 7777, 5.0, 2000, start=T0 + DAY + 9000)
    frame = flows(records).drop(columns="label")
    frame["uid"] = [f"D{i}" for i in range(len(frame))]
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def chunks(frame: pd.DataFrame, size: int):
    return [frame.iloc[i : i + size].reset_index(drop=True) for i in range(0, len(frame), size)]


def model():
    """A behaviour model fitted on four small sites (two infected)."""
    return fit_behaviour([site(1, True), site(2, False), site(3, True), site(4, False)])


def zeek_tsv(frame: pd.DataFrame, path):
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]
    fields += ["duration", "orig_bytes", "resp_bytes", "conn_state", "orig_pkts", "resp_pkts"]
    types = "time string addr port addr port enum interval count count string count count"
    body = frame[fields].astype(str).replace({"<NA>": "-", "nan": "-"})
    with open(path, "w", encoding="utf-8") as out:
        out.write("#separator \\x09\n#unset_field\t-\n#path\tconn\n")
        out.write("#fields\t" + "\t".join(fields) + "\n#types\t" + types.replace(" ", "\t") + "\n")
        body.to_csv(out, sep="\t", header=False, index=False)
        out.write("#close\t2024-01-01-00-00-00\n")
    return path
