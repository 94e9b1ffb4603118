"""Reading payload CSVs: text kept as written, bad files refused by name, row and column."""

import pytest

from trustshield.errors import DataError
from trustshield.ingest.payloads import read_payloads


def test_reads_payloads_and_maps_the_normal_label(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('"payload","attack_type"\r\n"NA",norm\r\n"",norm\r\n"1\' or 1=1",sqli\r\n')
    table = read_payloads(path)
    assert table.payloads == ("NA", "", "1' or 1=1")
    assert table.attack_types == ("normal", "normal", "sqli")


@pytest.mark.parametrize(
    "text, says",
    [
        ('"value","attack_type"\n"x",norm\n', "no 'payload' column"),
        ('"payload"\n"x"\n', "no 'attack_type' column"),
        ('"payload","attack_type"\n"x",norm\n"y",\n', "row 3, column 'attack_type': empty"),
        ('"payload","attack_type"\n"x",norm,extra\n', "row 2 has 3 fields"),
    ],
)
def test_refuses_a_bad_file_naming_what_is_wrong(tmp_path, text, says):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=says):
        read_payloads(path)


def test_refuses_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b'"payload","attack_type"\n"\xff",norm\n')
    with pytest.raises(DataError, match="not UTF-8"):
        read_payloads(path)


def test_unlabelled_files_are_read_when_labels_are_not_needed(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text('"payload"\n"x"\n')
    assert read_payloads(path, labelled=False).attack_types is None


def test_the_published_files_are_registered_and_read_with_their_row_counts():
    from trustshield.errors import DatasetMissing
    from trustshield.ingest import known_files, locate

    files = {f.name: f for f in known_files()["http-params-dataset"]}
    assert {"payload_train.csv", "payload_test.csv"} <= set(files)
    try:
        path = locate("http-params-dataset", files["payload_test.csv"])
    except DatasetMissing as missing:
        pytest.skip(f"data not present: {missing}")
    table = read_payloads(path)
    assert len(table) == files["payload_test.csv"].rows
    assert {"normal", "sqli", "xss", "cmdi", "path-traversal"} == set(table.attack_types)
