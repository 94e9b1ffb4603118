"""Find, verify and fetch the public data sets TrustShield reads.

Data lives outside the repository. Search order (see :func:`data_dirs`):
``$TRUSTSHIELD_DATA_DIR`` when set, otherwise every existing ``../shared/data`` (next to
the working directory, then next to the checkout), and always last the download cache
``$TRUSTSHIELD_CACHE_DIR`` (default ``~/.cache/trustshield/data``), laid out as
``<root>/<dataset>/<filename>``. Every file is checked against its sha256 before use.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trustshield.atomic_files import temp_beside
from trustshield.errors import DatasetMissing

CHUNK = 1 << 20
TIMEOUT_S = 30
SCHEMES = ("http", "https", "file")
#: suffixes :func:`inventory` lists even when no sha256 is recorded for them
DATA_SUFFIXES = (
    ".csv",
    ".tsv",
    ".txt",
    ".parquet",
    ".zip",
    ".gz",
    ".xz",
    ".log",
    ".pcap",
    ".pcapng",
    ".json",
    ".jsonl",
)
_SUM_LINE = re.compile(r"^\s*([0-9a-fA-F]{64})\s+\*?(?:\./)?(\S.*?)\s*$")
_TABLE_ROW = re.compile(r"^\s*\|\s*`([^`|]+)`\s*\|.*\|\s*`([0-9a-fA-F]{64})`\s*\|\s*$")
_HEADING = re.compile(r"^#\s+`?([^`\s]+)`?\s*$")
_SHA_BULLET = re.compile(r"^\s*[-*]\s*sha256:\s*`?([0-9a-fA-F]{64})`?\s*$")
_sha_cache: dict[tuple[str, int, int], str] = {}
_HTTP_PARAMS_URL = (
    "https://raw.githubusercontent.com/Morzeux/HttpParamsDataset/"
    "926670a710283f87c05b554680facf3f9530548c/"
)


@dataclass(frozen=True)
class KnownFile:
    """One file of a data set: its name in the folder, sha256, default URL, row count."""

    name: str
    sha256: str
    url: str | None
    rows: int | None = None


#: files of data sets read as text, not through a DatasetSpec (sha256 from their SOURCE.md)
TEXT_DATASETS: dict[str, tuple[KnownFile, ...]] = {
    "http-params-dataset": tuple(
        KnownFile(name, sha, _HTTP_PARAMS_URL + name, rows)
        for name, sha, rows in (
            (
                "payload_train.csv",
                "dfa6e59c87b2bafc485c9cb14d37e3f86607d180e5a22e7c46dae6d3d1dd6a16",
                20712,
            ),
            (
                "payload_test.csv",
                "d8015e256ce4499c8ac7a8be8dd25de6487cf018601edf1a03a408a2c8f0e39d",
                10355,
            ),
            (
                "payload_full.csv",
                "a4e62ba13435ad3dd583c5790db2175629020fc41c56e1b26baa02a9ae45f03d",
                31067,
            ),
            (
                "payload_test_lexical.csv",
                "77b28531840028fd34bfb790640977767d98879e8abd0ee7497b1e8d6d91c56a",
                1106,
            ),
        )
    ),
}


def known_files() -> dict[str, tuple[KnownFile, ...]]:
    """Files recorded in the built-in specs (sha256 from each data set's SOURCE.md) and
    in :data:`TEXT_DATASETS`."""
    from trustshield.specs import builtin_spec_names, load_spec

    known: dict[str, tuple[KnownFile, ...]] = dict(TEXT_DATASETS)
    for name in builtin_spec_names():
        spec = load_spec(name)
        if spec.dataset and spec.files:
            known[spec.dataset] = tuple(
                KnownFile(f.name, f.sha256, f.url, f.rows) for f in spec.files
            )
    return known


def _hint(dataset: str) -> str:
    return f"run `trustshield datasets fetch {dataset}` or set TRUSTSHIELD_DATA_DIR"


def cache_dir() -> Path:
    """Download cache root: ``$TRUSTSHIELD_CACHE_DIR`` or ``~/.cache/trustshield/data``."""
    env = os.environ.get("TRUSTSHIELD_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "trustshield" / "data"


def data_dirs() -> list[Path]:
    """Candidate data roots in search order, without duplicates.

    ``$TRUSTSHIELD_DATA_DIR`` alone when set (even if absent, so errors show it), else each
    existing ``../shared/data`` relative to the working directory and to the checkout; the
    cache dir always comes last so files fetched by ``trustshield datasets fetch`` are found.
    """
    env = os.environ.get("TRUSTSHIELD_DATA_DIR")
    if env:
        roots = [Path(env).expanduser()]
    else:
        repo = Path(__file__).resolve().parents[3]
        shared = [Path.cwd() / ".." / "shared" / "data", repo / ".." / "shared" / "data"]
        roots = [p for p in shared if p.is_dir()]
    out: list[Path] = []
    for p in [*roots, cache_dir()]:
        p = p.resolve()
        if p not in out:
            out.append(p)
    return out


def sha256_of(path: str | os.PathLike) -> str:
    """Lowercase hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _cached_sha(path: Path) -> str:
    """sha256 of ``path``, memoised per (path, mtime, size) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _sha_cache:
        _sha_cache[key] = sha256_of(path)
    return _sha_cache[key]


def locate(dataset: str, known: KnownFile) -> Path:
    """First ``root/<dataset>/<name>`` (roots from :func:`data_dirs`) whose sha256 matches.

    Raises DatasetMissing naming the file, every path tried and, for files present with
    other content, "altered: expected sha256 X, found Y at PATH".
    """
    tried, altered = [], []
    for root in data_dirs():
        path = root / dataset / known.name
        tried.append(str(path))
        if path.is_file():
            found = _cached_sha(path)
            if found == known.sha256.lower():
                return path
            altered.append(f"altered: expected sha256 {known.sha256}, found {found} at {path}")
    head = "; ".join(altered) if altered else "not found"
    raise DatasetMissing(
        f"{dataset}/{known.name}: {head}; looked in: {', '.join(tried)}; {_hint(dataset)}"
    )


def _source_url(known: KnownFile, base_url: str | None) -> str:
    base = base_url or os.environ.get("TRUSTSHIELD_FETCH_BASE_URL")
    url = base.rstrip("/") + "/" + urllib.parse.quote(known.name) if base else known.url
    if not url:
        raise DatasetMissing(
            f"no download URL known for {known.name}: pass base_url or "
            "set TRUSTSHIELD_FETCH_BASE_URL, or set TRUSTSHIELD_DATA_DIR"
        )
    if urllib.parse.urlsplit(url).scheme not in SCHEMES:
        raise DatasetMissing(f"refusing to fetch {url}: only {', '.join(SCHEMES)} URLs")
    return url


def _download(
    url: str, target: Path, expected: str, on_chunk: Callable[[int, int | None], None]
) -> None:
    """Stream ``url`` to a temp file beside ``target``; move it in place only if sha matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with temp_beside(target, suffix=".part") as tmp:
        try:
            _fetch(url, tmp, h, on_chunk)
            if h.hexdigest() != expected.lower():
                raise DatasetMissing(
                    f"download of {url} is altered: expected sha256 {expected}, "
                    f"got {h.hexdigest()}; nothing was saved"
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:  # URLError, HTTPError, timeouts
            raise DatasetMissing(
                f"cannot download {url} ({exc}); check the URL or network, "
                "or set TRUSTSHIELD_DATA_DIR to a folder holding the files"
            ) from exc


def _fetch(url: str, tmp: Path, h, on_chunk: Callable[[int, int | None], None]) -> None:
    """Stream ``url`` into ``tmp``, feeding every chunk to the sha256 ``h``."""
    with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        total = resp.headers.get("Content-Length")
        while chunk := resp.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
            on_chunk(len(chunk), int(total) if total else None)


def fetch(
    dataset: str,
    files: Sequence[KnownFile],
    *,
    dest: Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download ``files`` to ``dest/<dataset>/<name>`` (dest: :func:`cache_dir`).

    URL: ``base_url`` (or ``$TRUSTSHIELD_FETCH_BASE_URL``) + "/" + quoted name, else
    ``KnownFile.url``. Files already there with the right sha256 are skipped. Returns the paths.
    """
    folder = Path(dest or cache_dir()) / dataset
    todo = [
        (k, folder / k.name)
        for k in files
        if not ((folder / k.name).is_file() and _cached_sha(folder / k.name) == k.sha256.lower())
    ]
    urls = {k.name: _source_url(k, base_url) for k, _ in todo}
    bar = _progress_bar() if progress and todo else None
    with bar or contextlib.nullcontext():
        for k, target in todo:
            step: Callable[[int, int | None], None] = lambda n, t: None  # noqa: E731
            if bar is not None:
                task = bar.add_task(f"{dataset}/{k.name}", total=None)
                step = functools.partial(_advance, bar, task)
            _download(urls[k.name], target, k.sha256, step)
    return [folder / k.name for k in files]


def _progress_bar():
    """A rich byte-progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
    )


def _advance(bar, task, n: int, total: int | None) -> None:
    bar.update(task, advance=n, total=total)


def parse_source_sha256(text: str) -> dict[str, str]:
    """Map file name -> lowercase sha256 from a SOURCE.md (or SHA256SUMS) text.

    Understands ``<64 hex>  <name>`` lines (sha256sum style, indented or not) and markdown
    table rows whose first cell is one backticked name and last cell a backticked sha256.
    Names may contain "/" (files in sub-folders). A SOURCE.md about one file, headed
    ``# DATASET/FOLDER/FILE`` with a ``- sha256: `HEX``` bullet, maps that heading's path.
    """
    out: dict[str, str] = {}
    heading = None
    for line in text.splitlines():
        m = _SUM_LINE.match(line)
        if m:
            out[m.group(2)] = m.group(1).lower()
        elif m := _TABLE_ROW.match(line):
            out[m.group(1).strip()] = m.group(2).lower()
        elif m := _HEADING.match(line):
            heading = m.group(1)
        elif (m := _SHA_BULLET.match(line)) and heading and heading not in out:
            out[heading] = m.group(1).lower()
    return out


def _row(dataset: str, name: str, path: Path | None, expected: str | None) -> dict:
    """Inventory row; status from presence and (if recorded) the expected sha256."""
    if path is None or not path.is_file():
        return {
            "dataset": dataset,
            "file": name,
            "path": None,
            "status": "missing",
            "sha256": None,
            "size_bytes": None,
        }
    found = _cached_sha(path)
    status = "unverified" if expected is None else "ok" if found == expected else "altered"
    return {
        "dataset": dataset,
        "file": name,
        "path": str(path),
        "status": status,
        "sha256": found,
        "size_bytes": path.stat().st_size,
    }


def _known_row(dataset: str, known: KnownFile, roots: list[Path]) -> dict:
    """Row for a KnownFile: first matching copy, else first present copy, else missing."""
    present = [p for p in (r / dataset / known.name for r in roots) if p.is_file()]
    good = [p for p in present if _cached_sha(p) == known.sha256.lower()]
    path = (good or present or [None])[0]
    return _row(dataset, known.name, path, known.sha256.lower())


def _folder_rows(dataset: str, folder: Path) -> list[dict]:
    """Rows for a folder without KnownFile entries, verified against its SOURCE.md."""
    source = folder / "SOURCE.md"
    recorded = parse_source_sha256(source.read_text(errors="replace")) if source.is_file() else {}
    recorded = {
        n: s
        for n, s in recorded.items()  # never look outside the folder
        if not Path(n).is_absolute() and ".." not in Path(n).parts
    }
    names = set(recorded)
    for p in folder.rglob("*"):
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(DATA_SUFFIXES):
            names.add(p.relative_to(folder).as_posix())
    return [_row(dataset, n, folder / n, recorded.get(n)) for n in sorted(names)]


def inventory(known_by_dataset: Mapping[str, Sequence[KnownFile]]) -> list[dict]:
    """Status of every known data set and every data set folder under :func:`data_dirs`.

    Rows: dataset, file, path (str or None), status, sha256 (actual), size_bytes. Known
    data sets list exactly their KnownFile entries (status ok/altered/missing, searched like
    :func:`locate`). Other folders (first root holding them) list files recorded in their
    SOURCE.md (ok/altered/missing) plus data-like files (:data:`DATA_SUFFIXES`, not hidden)
    that have no recorded sha256 ("unverified"). Sorted by data set, then file.
    """
    roots = data_dirs()
    folders: dict[str, Path] = {}
    for root in roots:
        if root.is_dir():
            for d in sorted(p for p in root.iterdir() if p.is_dir()):
                folders.setdefault(d.name, d)
    rows: list[dict] = []
    for dataset in sorted(set(folders) | set(known_by_dataset)):
        if dataset in known_by_dataset:
            files = sorted(known_by_dataset[dataset], key=lambda k: k.name)
            rows += [_known_row(dataset, k, roots) for k in files]
        else:
            rows += _folder_rows(dataset, folders[dataset])
    return rows
