"""Tests for trustshield.ingest.datasets: locate, fetch over loopback HTTP, inventory."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from trustshield.errors import DataError, DatasetMissing
from trustshield.ingest import datasets as ds
from trustshield.ingest.datasets import (
    KnownFile,
    cache_dir,
    data_dirs,
    fetch,
    inventory,
    locate,
    parse_source_sha256,
    sha256_of,
)

KDD_TEST_21 = "746993ac9e25868827cacf09eab450050a2a1056e1ce48a1ad39f5dc801d531d"
NSL_KDD_SHAS = {
    "KDDTest+.txt": "6ff4e09deee2c50c4877bbfe84f926dffafe3ef33d24f9dcfe0e425f4a8df5a2",
    "KDDTest-21.txt": KDD_TEST_21,
    "KDDTrain+_20Percent.txt": "5bf25df3ec1544eb3297b9a90b56736ba11e31f429df20e5aa0cfd49ca0fc896",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def files_under(folder: Path) -> list[str]:
    """Every file (hidden ones too) below folder, as relative posix paths."""
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def real_nsl_kdd() -> Path | None:
    """The shared nsl-kdd folder as found through data_dirs(), or None."""
    for root in data_dirs():
        if (root / "nsl-kdd" / "SOURCE.md").is_file():
            return root / "nsl-kdd"
    return None


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated data dir and cache dir; empty in-process sha cache."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("TRUSTSHIELD_DATA_DIR", str(data))
    monkeypatch.setenv("TRUSTSHIELD_CACHE_DIR", str(cache))
    monkeypatch.delenv("TRUSTSHIELD_FETCH_BASE_URL", raising=False)
    monkeypatch.setattr(ds, "_sha_cache", {})
    return data.resolve(), cache.resolve()


class Served:
    """A ThreadingHTTPServer on 127.0.0.1 serving one folder; records request paths."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                log.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve(request):
    """Factory: serve(folder) -> Served, shut down when the test ends."""

    def start(folder: Path) -> Served:
        served = Served(folder)
        request.addfinalizer(served.close)
        return served

    return start


# ---------------------------------------------------------------- roots and hashing


def test_data_dirs_env_is_the_only_data_root_then_cache(env):
    data, cache = env
    assert data_dirs() == [data, cache]


def test_data_dirs_default_finds_shared_data_next_to_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("TRUSTSHIELD_DATA_DIR", raising=False)
    monkeypatch.setenv("TRUSTSHIELD_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    roots = data_dirs()
    assert roots[0] == (tmp_path / "shared" / "data").resolve()
    assert roots[-1] == (tmp_path / "cache").resolve()
    assert len(roots) == len(set(roots))


def test_cache_dir_default_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TRUSTSHIELD_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "trustshield" / "data"


def test_sha256_of_streams_multi_chunk_files(tmp_path):
    data = bytes(range(256)) * 9000  # > 2 MiB: several 1 MiB chunks
    assert sha256_of(write(tmp_path / "big.bin", data)) == sha(data)


# ---------------------------------------------------------------- locate


def test_locate_returns_file_with_matching_sha(env):
    data, _ = env
    path = write(data / "toy" / "a.txt", b"hello\n")
    assert locate("toy", KnownFile("a.txt", sha(b"hello\n"), None)) == path


def test_locate_missing_names_file_every_path_and_remedy(env):
    data, cache = env
    with pytest.raises(DatasetMissing) as exc:
        locate("toy", KnownFile("a.txt", sha(b"x"), None))
    msg = str(exc.value)
    assert isinstance(exc.value, DataError)
    assert "toy/a.txt" in msg and "not found" in msg
    assert str(data / "toy" / "a.txt") in msg and str(cache / "toy" / "a.txt") in msg
    assert "trustshield datasets fetch toy" in msg and "TRUSTSHIELD_DATA_DIR" in msg


def test_locate_altered_reports_both_hashes_and_path(env):
    data, _ = env
    path = write(data / "toy" / "a.txt", b"tampered\n")
    expected, found = sha(b"hello\n"), sha(b"tampered\n")
    with pytest.raises(DatasetMissing) as exc:
        locate("toy", KnownFile("a.txt", expected, None))
    msg = str(exc.value)
    assert f"altered: expected sha256 {expected}, found {found} at {path}" in msg


def test_locate_skips_altered_copy_for_good_copy_in_cache(env):
    data, cache = env
    write(data / "toy" / "a.txt", b"tampered\n")
    good = write(cache / "toy" / "a.txt", b"hello\n")
    assert locate("toy", KnownFile("a.txt", sha(b"hello\n"), None)) == good


def test_locate_caches_sha_until_file_changes(env, monkeypatch):
    data, _ = env
    path = write(data / "toy" / "a.txt", b"hello\n")
    calls = []
    real = ds.sha256_of
    monkeypatch.setattr(ds, "sha256_of", lambda p: calls.append(p) or real(p))
    known = KnownFile("a.txt", sha(b"hello\n"), None)
    assert locate("toy", known) == locate("toy", known) == path
    assert len(calls) == 1
    path.write_bytes(b"hello, changed\n")  # new size -> new cache key
    with pytest.raises(DatasetMissing, match="altered"):
        locate("toy", known)
    assert len(calls) == 2


# ---------------------------------------------------------------- fetch


@pytest.fixture
def mirror(tmp_path, serve):
    """A served folder with two synthetic files; returns (Served, {name: bytes})."""
    content = {"one.txt": b"1,2,3\n" * 1000, "two+x y.txt": b"a,b\n" * 10}
    for name, data in content.items():
        write(tmp_path / "mirror" / name, data)
    return serve(tmp_path / "mirror"), content


def test_fetch_downloads_and_verifies_over_http(env, tmp_path, mirror, capsys):
    served, content = mirror
    known = [KnownFile(n, sha(d), None) for n, d in content.items()]
    paths = fetch("toy", known, dest=tmp_path / "dest", base_url=served.url + "/")
    assert paths == [tmp_path / "dest" / "toy" / n for n in content]
    assert [p.read_bytes() for p in paths] == list(content.values())
    assert sorted(served.requests) == ["/one.txt", "/two%2Bx%20y.txt"]
    assert files_under(tmp_path / "dest") == sorted(f"toy/{n}" for n in content)


def test_fetch_wrong_content_raises_and_leaves_nothing(env, tmp_path, mirror):
    served, content = mirror
    expected = sha(b"what the publisher released\n")
    with pytest.raises(DatasetMissing) as exc:
        fetch(
            "toy",
            [KnownFile("one.txt", expected, None)],
            dest=tmp_path / "dest",
            base_url=served.url,
            progress=False,
        )
    msg = str(exc.value)
    assert f"{served.url}/one.txt" in msg
    assert expected in msg and sha(content["one.txt"]) in msg
    assert files_under(tmp_path / "dest") == []  # no file, no temp file


def test_fetch_skips_present_file_and_replaces_altered_one(env, tmp_path, mirror):
    served, content = mirror
    dest = tmp_path / "dest"
    write(dest / "toy" / "one.txt", content["one.txt"])
    write(dest / "toy" / "two+x y.txt", b"stale\n")
    known = [KnownFile(n, sha(d), None) for n, d in content.items()]
    fetch("toy", known, dest=dest, base_url=served.url, progress=False)
    assert served.requests == ["/two%2Bx%20y.txt"]
    assert (dest / "toy" / "two+x y.txt").read_bytes() == content["two+x y.txt"]
    fetch("toy", known, dest=dest, base_url=served.url, progress=False)
    assert len(served.requests) == 1  # second run downloads nothing


def test_fetch_url_precedence_env_then_known_url(env, tmp_path, mirror, monkeypatch):
    served, content = mirror
    ok = KnownFile("one.txt", sha(content["one.txt"]), f"{served.url}/one.txt")
    fetch("toy", [ok], dest=tmp_path / "a", progress=False)  # uses KnownFile.url
    assert served.requests == ["/one.txt"]
    bad_url = KnownFile("one.txt", ok.sha256, "http://127.0.0.1:9/nowhere")
    monkeypatch.setenv("TRUSTSHIELD_FETCH_BASE_URL", served.url)
    fetch("toy", [bad_url], dest=tmp_path / "b", progress=False)
    assert served.requests == ["/one.txt", "/one.txt"]


def test_fetch_defaults_to_cache_dir(env, mirror):
    _, cache = env
    served, content = mirror
    [path] = fetch(
        "toy",
        [KnownFile("one.txt", sha(content["one.txt"]), None)],
        base_url=served.url,
        progress=False,
    )
    assert path == cache / "toy" / "one.txt" and path.read_bytes() == content["one.txt"]


def test_fetch_http_error_and_bad_scheme_and_no_url(env, tmp_path, mirror):
    served, _ = mirror
    gone = KnownFile("gone.txt", sha(b""), None)
    with pytest.raises(DatasetMissing, match="cannot download .*gone.txt"):
        fetch("toy", [gone], dest=tmp_path / "d", base_url=served.url, progress=False)
    assert files_under(tmp_path / "d") == []
    with pytest.raises(DatasetMissing, match="only http, https, file"):
        fetch("toy", [gone], dest=tmp_path / "d", base_url="ftp://example.org", progress=False)
    with pytest.raises(DatasetMissing, match="no download URL"):
        fetch("toy", [gone], dest=tmp_path / "d", progress=False)


def test_fetch_real_nsl_kdd_file_over_loopback(tmp_path, serve, monkeypatch):
    folder = real_nsl_kdd()
    if folder is None:
        pytest.skip("shared nsl-kdd data not found via data_dirs(); set TRUSTSHIELD_DATA_DIR")
    sums = parse_source_sha256((folder / "SOURCE.md").read_text())
    assert sums["KDDTest-21.txt"] == KDD_TEST_21
    monkeypatch.delenv("TRUSTSHIELD_FETCH_BASE_URL", raising=False)
    served = serve(folder)
    known = KnownFile("KDDTest-21.txt", sums["KDDTest-21.txt"], None, rows=11_850)
    [path] = fetch("nsl-kdd", [known], dest=tmp_path, base_url=served.url, progress=False)
    assert path == tmp_path / "nsl-kdd" / "KDDTest-21.txt"
    assert sha256_of(path) == KDD_TEST_21
    with path.open("rb") as fh:
        assert sum(1 for _ in fh) == known.rows
    assert served.requests == ["/KDDTest-21.txt"]
    assert (
        ds.known_files()["nsl-kdd"][2].name == known.name
        and ds.known_files()["nsl-kdd"][2].sha256 == KDD_TEST_21
    )


# ---------------------------------------------------------------- SOURCE.md parsing


def test_parse_source_sha256_real_nsl_kdd():
    folder = real_nsl_kdd()
    if folder is None:
        pytest.skip("shared nsl-kdd data not found via data_dirs(); set TRUSTSHIELD_DATA_DIR")
    assert parse_source_sha256((folder / "SOURCE.md").read_text()) == NSL_KDD_SHAS
    assert {k.name: k.sha256 for k in ds.known_files()["nsl-kdd"]} == NSL_KDD_SHAS


def test_parse_source_sha256_synthetic_formats():
    a, b, c, d = (sha(x) for x in (b"a", b"b", b"c", b"d"))
    text = "\n".join(
        [
            "# Title",
            "Some prose with a hash " + a + " in the middle.",
            f"    {a}  plain.csv",
            f"{b.upper()} *./sub/star.txt",
            "| file | bytes | sha256 |",
            "|---|---:|---|",
            f"| `table.csv` | 1234 | `{c}` |",
            f"| `x.zip` → `inner.xlsx` | 2 rows | inner sha256 `{d}`; more |",
        ]
    )
    assert parse_source_sha256(text) == {"plain.csv": a, "sub/star.txt": b, "table.csv": c}
    assert parse_source_sha256("no hashes here\n") == {}


# ---------------------------------------------------------------- inventory


def test_inventory_marks_ok_altered_missing_unverified(env):
    data, cache = env
    ok, alt, sub = b"ok\n", b"original\n", b"nested\n"
    folder = data / "alpha"
    write(folder / "a.csv", ok)
    write(folder / "b.csv", b"changed!\n")
    write(folder / "sub" / "e.txt", sub)
    write(folder / "d.log", b"no recorded sha\n")
    write(folder / "notes.md", b"not data-like, not recorded\n")
    write(folder / ".b.csv.part", b"temp\n")
    write(folder / ".hidden.csv", b"hidden\n")
    write(
        folder / "SOURCE.md",
        "\n".join(
            [
                f"    {sha(ok)}  a.csv",
                f"| `b.csv` | 9 | `{sha(alt)}` |",
                f"    {sha(b'c')}  c.csv",
                f"    {sha(sub)}  sub/e.txt",
                f"    {sha(b'x')}  ../outside.csv",
            ]
        ).encode(),
    )
    write(cache / "kn" / "k1.txt", b"k1\n")
    known = {
        "kn": [KnownFile("k1.txt", sha(b"k1\n"), None), KnownFile("k2.txt", "0" * 64, None)],
        "absent": [KnownFile("z.txt", "1" * 64, None)],
    }
    rows = inventory(known)
    by = {(r["dataset"], r["file"]): r for r in rows}
    assert list(by) == [
        ("absent", "z.txt"),
        ("alpha", "a.csv"),
        ("alpha", "b.csv"),
        ("alpha", "c.csv"),
        ("alpha", "d.log"),
        ("alpha", "sub/e.txt"),
        ("kn", "k1.txt"),
        ("kn", "k2.txt"),
    ]
    status = {k: r["status"] for k, r in by.items()}
    assert status == {
        ("absent", "z.txt"): "missing",
        ("alpha", "a.csv"): "ok",
        ("alpha", "b.csv"): "altered",
        ("alpha", "c.csv"): "missing",
        ("alpha", "d.log"): "unverified",
        ("alpha", "sub/e.txt"): "ok",
        ("kn", "k1.txt"): "ok",
        ("kn", "k2.txt"): "missing",
    }
    assert by[("alpha", "b.csv")]["sha256"] == sha(b"changed!\n")
    assert by[("alpha", "b.csv")]["size_bytes"] == len(b"changed!\n")
    assert by[("alpha", "a.csv")]["path"] == str(folder / "a.csv")
    assert by[("kn", "k1.txt")]["path"] == str(cache / "kn" / "k1.txt")
    missing = by[("alpha", "c.csv")]
    assert missing["path"] is None and missing["sha256"] is None and missing["size_bytes"] is None


def test_a_source_md_about_one_file_maps_its_heading_path():
    from trustshield.ingest import parse_source_sha256

    text = "# set/part-1/conn.log\n\n**What:** one file\n\n- sha256: `" + "ab" * 32 + "`\n"
    assert parse_source_sha256(text) == {"set/part-1/conn.log": "ab" * 32}
