"""The command line end to end on real NSL-KDD: train → detect → explain → evaluate → report."""

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from trustshield.cli import main
from trustshield.commands.common import resolve_data
from trustshield.errors import DatasetMissing, RenderError
from trustshield.report.pdf import find_chromium


def real_file(name):
    try:
        return resolve_data(f"nsl-kdd:{name}")
    except DatasetMissing as exc:
        pytest.skip(f"NSL-KDD not available: {exc}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def model(workdir):
    """Trained on the NSL-KDD training file (11 s measured): the tests using it are slow."""
    real_file("KDDTrain+_20Percent.txt")
    out = workdir / "model"
    assert (
        main(
            [
                "train",
                "--data",
                "nsl-kdd:KDDTrain+_20Percent.txt",
                "--spec",
                "nsl-kdd",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def store(model, workdir):
    path = workdir / "alerts.duckdb"
    assert (
        main(
            [
                "detect",
                "--model",
                str(model),
                "--data",
                "nsl-kdd:KDDTest-21.txt",
                "--store",
                str(path),
            ]
        )
        == 0
    )
    return path


def query(path, sql):
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql).fetchall()


@pytest.mark.slow
def test_training_records_a_protocol_that_never_used_test_data(model):
    state = json.loads((model / "model.json").read_text())
    selection = state["training"]["selection"]
    assert selection["normal_fpr"] <= state["training"]["config"]["max_normal_fpr"]
    assert "No test record was used" in selection["protocol"]
    assert state["training"]["data"]["name"] == "KDDTrain+_20Percent.txt"
    manifest = json.loads((model / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.json", "spec.yaml", "drift_reference.json"}


@pytest.mark.slow
def test_detect_stores_every_flagged_record_once(store, model):
    [(rows, added, status)] = query(store, "SELECT rows_read, alerts_added, status FROM runs")
    assert (rows, status) == (11850, "complete")
    assert query(store, "SELECT count(*) FROM alerts")[0][0] == added > 0
    actions = {a for (a,) in query(store, "SELECT DISTINCT action FROM alerts")}
    assert actions <= {"alert", "review"}


@pytest.mark.slow
def test_running_detect_twice_adds_no_duplicates(store, model):
    before = query(store, "SELECT count(*) FROM alerts")[0][0]
    assert (
        main(
            [
                "detect",
                "--model",
                str(model),
                "--data",
                "nsl-kdd:KDDTest-21.txt",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert query(store, "SELECT count(*) FROM alerts")[0][0] == before
    assert query(store, "SELECT alerts_added FROM runs ORDER BY started_at DESC LIMIT 1")[0][0] == 0


@pytest.mark.slow
def test_stored_explanations_are_exact_and_readable(store):
    rows = query(
        store,
        "SELECT suspicion, base, attributions, rationale, technique FROM alerts"
        " USING SAMPLE 500 ROWS",
    )
    errors = [abs(base + sum(attr) - s) for s, base, attr, _, _ in rows]
    assert max(errors) <= 1e-6
    assert all(len(attr) == 41 for _, _, attr, _, _ in rows)
    assert all(text.count(":") >= 1 and "normal" in text for *_, text, _ in rows)
    assert all(tech.startswith("T1") for *_, tech in rows if tech)
    named = query(store, "SELECT category, technique FROM alerts USING SAMPLE 2000 ROWS")
    # a record the supervised part calls normal is named no category and no technique
    assert all((tech == "") == (category == "unknown") for category, tech in named)
    assert any(tech for _, tech in named)


@pytest.mark.slow
def test_explain_prints_rationale_and_the_exact_sum(store, capsys):
    [(alert_id, rationale)] = query(store, "SELECT alert_id, rationale FROM alerts LIMIT 1")
    assert main(["explain", alert_id, "--store", str(store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["rationale"] == rationale
    total = shown["base"] + sum(c["contribution"] for c in shown["contributions"])
    assert total == pytest.approx(shown["suspicion"], abs=1e-6)


@pytest.mark.slow
def test_unknown_alert_is_one_line_and_non_zero(store, capsys):
    assert main(["explain", "no-such-alert", "--store", str(store)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-alert" in err


@pytest.mark.slow
def test_evaluate_figures_agree_with_their_confusion_matrix(model, workdir):
    out = workdir / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                "nsl-kdd:KDDTest+.txt",
                "--json-file",
                str(out),
            ]
        )
        == 0
    )
    figures = json.loads(out.read_text())
    (tn, fp), (fn, tp) = figures["confusion"]["matrix"]
    m = figures["metrics"]
    assert tn + fp + fn + tp == 22544
    assert m["accuracy"] == pytest.approx((tn + tp) / 22544)
    assert m["fpr"] == pytest.approx(fp / (tn + fp))
    assert m["detection_rate"] == pytest.approx(tp / (tp + fn))
    assert (
        figures["dataset"]["sha256"]
        == "6ff4e09deee2c50c4877bbfe84f926dffafe3ef33d24f9dcfe0e425f4a8df5a2"
    )
    unseen = [a for a in figures["per_attack"] if not a["seen_in_training"]]
    assert {"snmpguess", "mscan", "apache2"} <= {a["attack"] for a in unseen}


@pytest.mark.slow
@pytest.mark.browser  # prints report.pdf with Chromium when it is installed
def test_report_is_self_contained_with_a_json_twin(model, workdir):
    out = workdir / "report"
    assert (
        main(["report", "--model", str(model), "--data", "nsl-kdd:KDDTest+.txt", "--out", str(out)])
        == 0
    )
    try:
        find_chromium()
    except RenderError:
        assert not (out / "report.pdf").exists()  # warned, HTML and JSON still written
    else:
        assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")  # printed by default
    html = (out / "report.html").read_text()
    twin = json.loads((out / "report.json").read_text())
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert twin["model"]["model_id"] in html
    assert len(twin["example_alerts"]) == 3
    for example in twin["example_alerts"]:
        total = example["base"] + sum(c["contribution"] for c in example["contributions"])
        assert total == pytest.approx(example["suspicion"], abs=1e-6)
    assert {d["role"] for d in twin["datasets"]} == {"train", "test"}


@pytest.mark.slow
def test_bad_value_stops_with_file_line_column_and_expectation(model, tmp_path, capsys):
    good = (
        ["0", "tcp", "http", "SF", "200", "1000"]
        + ["0"] * 16
        + ["2", "2"]
        + ["0.00"] * 4
        + [
            "1.00",
            "0.00",
            "0.00",
            "10",
            "10",
            "1.00",
            "0.00",
            "0.10",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "normal",
            "21",
        ]
    )
    bad = list(good)
    bad[1] = "sctp"
    data = tmp_path / "flows.csv"
    data.write_text("\n".join(",".join(r) for r in (good, good, bad)) + "\n")
    assert (
        main(
            [
                "detect",
                "--model",
                str(model),
                "--data",
                str(data),
                "--store",
                str(tmp_path / "s.duckdb"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "line 3" in err and "protocol_type" in err and "sctp" in err and "icmp" in err
    assert (
        main(
            [
                "detect",
                "--model",
                str(model),
                "--data",
                str(data),
                "--on-error",
                "skip",
                "--store",
                str(tmp_path / "s.duckdb"),
            ]
        )
        == 0
    )
    [(rows, rejected)] = query(
        tmp_path / "s.duckdb", "SELECT rows_read, rejected_rows FROM runs WHERE status='complete'"
    )
    assert (rows, rejected) == (3, 1)
    assert query(tmp_path / "s.duckdb", 'SELECT line, "column", value FROM rejected_rows') == [
        (3, "protocol_type", "sctp")
    ]


@pytest.fixture
def serve_folder():
    servers = []

    def start(folder):
        handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a: None
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def test_datasets_fetch_downloads_and_verifies_over_loopback(serve_folder, tmp_path, capsys):
    folder = real_file("KDDTest-21.txt").parent
    url = serve_folder(folder)
    assert main(["datasets", "fetch", "nsl-kdd", "--base-url", url, "--dest", str(tmp_path)]) == 0
    fetched = sorted(p.name for p in (tmp_path / "nsl-kdd").iterdir())
    assert fetched == ["KDDTest+.txt", "KDDTest-21.txt", "KDDTrain+_20Percent.txt"]
    assert "verified" in capsys.readouterr().out


def test_fetch_refuses_altered_files_and_keeps_nothing(serve_folder, tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("KDDTest+.txt", "KDDTest-21.txt", "KDDTrain+_20Percent.txt"):
        (mirror / name).write_text("0,tcp,http,SF\n")
    url = serve_folder(mirror)
    dest = tmp_path / "dest"
    assert main(["datasets", "fetch", "nsl-kdd", "--base-url", url, "--dest", str(dest)]) == 1
    assert "sha256" in capsys.readouterr().err
    assert not any(p.is_file() for p in dest.rglob("*"))


@pytest.mark.slow
def test_explain_shows_values_as_the_record_held_them(store, capsys):
    [(alert_id,)] = query(
        store, "SELECT alert_id FROM alerts WHERE rationale LIKE '%service%' LIMIT 1"
    )
    assert main(["explain", alert_id, "--store", str(store), "--json"]) == 0
    shown = {c["feature"]: c["value"] for c in json.loads(capsys.readouterr().out)["contributions"]}
    assert shown["protocol_type"] in {"tcp", "udp", "icmp"}
    assert shown["count"].isdigit()
    assert (
        f"service {shown['service']},"
        in query(store, f"SELECT rationale FROM alerts WHERE alert_id = '{alert_id}'")[0][0]
    )


@pytest.mark.slow
def test_report_examples_can_be_explained_from_the_store(model, store, workdir, capsys):
    out = workdir / "report21"
    assert (
        main(
            [
                "report",
                "--model",
                str(model),
                "--data",
                "nsl-kdd:KDDTest-21.txt",
                "--out",
                str(out),
                "--no-pdf",
            ]
        )
        == 0
    )
    example = json.loads((out / "report.json").read_text())["example_alerts"][0]
    capsys.readouterr()
    assert main(["explain", example["alert_id"], "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rationale"] == example["rationale"]


@pytest.mark.slow
def test_report_compares_its_data_with_the_training_reference_and_lists_stored_drift(
    model, store, workdir
):
    out = workdir / "report_drift"
    assert (
        main(
            [
                "report",
                "--model",
                str(model),
                "--data",
                "nsl-kdd:KDDTest-21.txt",
                "--out",
                str(out),
                "--no-pdf",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    twin = json.loads((out / "report.json").read_text())
    stored = query(store, "SELECT count(*) FROM drift_events")[0][0]
    assert (
        twin["drift"]["available"] and twin["drift"]["events_total"] == stored >= 2
    )  # 11,850 rows
    checks = {e["check"] for e in twin["evidence"]}
    assert {"input drift", "output drift"} <= checks


@pytest.mark.slow
def test_detect_scores_a_capture_and_keeps_who_talked_to_whom(model, workdir):
    from trustshield.ingest import data_dirs
    from trustshield.ingest.pcap import connections

    pcap = next(
        (
            r / "nfstream-pcap-results/pcaps/1kxun.pcap"
            for r in data_dirs()
            if (r / "nfstream-pcap-results/pcaps/1kxun.pcap").is_file()
        ),
        None,
    )
    if pcap is None:
        pytest.skip("nfstream-pcap-results not available")
    path = workdir / "pcap.duckdb"
    assert main(["detect", "--model", str(model), "--input", str(pcap), "--store", str(path)]) == 0
    [(rows, added)] = query(path, "SELECT rows_read, alerts_added FROM runs")
    assert rows == len(connections(pcap)) and 0 < added <= rows
    for line, text in query(path, "SELECT line, entities FROM alerts"):
        entity = json.loads(text)
        assert 1 <= line <= rows and {"src_ip", "dst_ip", "src_port", "dst_port", "proto"} <= set(
            entity
        )
    assert (
        main(
            [
                "detect",
                "--model",
                str(model),
                "--input",
                str(pcap),
                "--format",
                "zeek",
                "--store",
                str(path),
            ]
        )
        == 1
    )  # a capture read as a conn.log is refused
