"""Resumable, checksummed downloads and the GTZAN archive.

:func:`download` fetches a URL into a ``.part`` file, resuming an interrupted
transfer with an HTTP ``Range`` request (and starting over when the server
ignores it), shows a tqdm bar, verifies the sha256 *before* the file is moved
into place, and refuses a mismatch with :class:`~genrenet.errors.ChecksumError`
(the bad file is deleted, never used). :func:`safe_extract` unpacks a tar
archive refusing absolute paths, ``..`` components, links and device files.
:func:`download_gtzan` combines both for GTZAN's ``genres.tar.gz``.

Used by book chapter ``book/dev_data.md`` (``notebooks/data_exploration.ipynb``) and by
``genrenet data download gtzan``.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from genrenet._compat import renamed_kwargs
from genrenet.errors import ChecksumError, DataError, ParameterError
from genrenet.io import atomic_write_text, sha256_file

__all__ = [
    "GTZAN_SHA256",
    "DEFAULT_GTZAN_URL",
    "gtzan_url",
    "download",
    "safe_extract",
    "download_gtzan",
]

#: sha256 of GTZAN's ``genres.tar.gz`` as published with other reproducibility projects.
GTZAN_SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"

#: Default mirror of ``genres.tar.gz`` (the original host at opihi.cs.uvic.ca is gone).
#: Override with ``$GENRENET_GTZAN_URL`` or ``--url``; the sha256 is checked either way.
DEFAULT_GTZAN_URL = "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"

_CHUNK = 1 << 15
#: What reading a truncated or corrupt (compressed) tar raises besides tarfile.TarError.
_DAMAGED = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


def gtzan_url() -> str:
    """The GTZAN archive URL in effect: ``$GENRENET_GTZAN_URL`` or :data:`DEFAULT_GTZAN_URL`."""
    return os.environ.get("GENRENET_GTZAN_URL") or DEFAULT_GTZAN_URL


def _check_sha(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ParameterError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return sha256.lower()


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    session=None,
    max_restarts: int = 3,
) -> Path:
    """Download ``url`` to ``dest``, resuming and verifying.

    Parameters
    ----------
    url : str
        HTTP(S) URL.
    dest : str or Path
        Final file path. While downloading, bytes go to ``dest + ".part"``; an
        existing ``.part`` is resumed with ``Range: bytes=N-``.
    sha256 : str, keyword-only, optional
        Expected hex digest, checked before ``dest`` is created. When ``dest``
        already exists with this digest nothing is downloaded.
    progress : bool, keyword-only
        Show a tqdm progress bar.
    timeout : float, keyword-only
        Socket timeout in seconds.
    session : requests.Session, keyword-only, optional
        Session to use (tests, proxies).
    max_restarts : int, keyword-only
        How many times a connection dropped mid-transfer is resumed.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The downloaded bytes do not match ``sha256`` (the partial file is deleted).
    DataError
        HTTP error or network failure.
    """
    import requests

    sha256 = _check_sha(sha256)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ParameterError(f"url must be an http(s) URL, got {url!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if sha256 is None or sha256_file(dest) == sha256:
            return dest
        raise ChecksumError(dest, sha256, sha256_file(dest))
    part = dest.with_name(dest.name + ".part")
    sess = session or requests.Session()
    restarts = 0
    while True:
        outcome = _attempt(sess, url, part, timeout=timeout, progress=progress, desc=dest.name,
                           last_try=restarts >= max_restarts)
        if outcome == "complete":
            break
        restarts += 1
        if restarts > max_restarts and outcome == "changed":
            raise DataError(f"download of {url} keeps failing: the server's file size changes")
        if restarts > max_restarts:
            raise DataError(f"download of {url} ended early {max_restarts} times; run again to resume")
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, sha256, actual)
    os.replace(part, dest)
    return dest


def _attempt(sess, url: str, part: Path, *, timeout: float, progress: bool, desc: str, last_try: bool) -> str:
    """One request for the rest of ``part``: ``"complete"``, ``"partial"`` (the connection dropped)
    or ``"changed"`` (the server's file size changed; ``part`` is deleted to start over)."""
    import requests

    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = sess.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        raise DataError(f"cannot download {url}: {exc}") from exc
    with resp:
        if resp.status_code == 416 and have:
            # requested range starts at or past the end: the .part file is complete,
            # unless the server reports another size (the remote file changed): start over
            m = re.match(r"bytes \*/(\d+)", resp.headers.get("Content-Range", ""))
            if m is None or int(m.group(1)) == have:
                return "complete"
            part.unlink()
            return "changed"
        if resp.status_code >= 400:
            raise DataError(f"cannot download {url}: HTTP {resp.status_code} {resp.reason}")
        if have and resp.status_code == 206:
            start = _range_start(resp.headers.get("Content-Range"))
            if start != have:
                raise DataError(f"server sent bytes from {start} for a resume at {have} ({url})")
            mode = "ab"
        else:
            have, mode = 0, "wb"  # server ignored Range (200): start over
        return "complete" if _receive(resp, part, mode, have, url=url, progress=progress, desc=desc,
                                      last_try=last_try) else "partial"


def _receive(resp, part: Path, mode: str, have: int, *, url: str, progress: bool, desc: str, last_try: bool) -> bool:
    """Write the response body to ``part`` (appending after ``have`` bytes for ``mode="ab"``); True when complete.

    A dropped connection returns False, or raises DataError on the ``last_try``.
    """
    import requests
    from tqdm import tqdm

    length = resp.headers.get("Content-Length")
    total = have + int(length) if length and length.isdigit() else None
    bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
               desc=desc, disable=not progress, leave=False)
    try:
        with open(part, mode) as fh:
            for block in resp.iter_content(_CHUNK):
                fh.write(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
        return total is None or part.stat().st_size >= total
    except (requests.RequestException, OSError) as exc:
        if last_try:
            raise DataError(f"download of {url} interrupted ({exc}); run again to resume") from exc
        return False
    finally:
        bar.close()


def _range_start(header: str | None) -> int:
    m = re.match(r"bytes\s+(\d+)-", header or "")
    if not m:
        raise DataError(f"resume failed: unusable Content-Range header {header!r}")
    return int(m.group(1))


def _safe_members(tar: tarfile.TarFile, archive: Path):
    for m in tar.getmembers():
        name = PurePosixPath(m.name)
        if not m.name.strip():
            raise DataError(f"refusing to extract {archive}: it has a member with an empty name")
        if not name.parts or name.parts == (".",):
            if m.isdir():
                continue  # "./": the target directory itself (what `tar -C dir -czf x.tgz .` writes)
            raise DataError(f"refusing to extract {archive}: member {m.name!r} is not a file name")
        if name.is_absolute() or ".." in name.parts or m.name.startswith(("/", "\\")) or ":" in name.parts[0]:
            raise DataError(f"refusing to extract {archive}: member {m.name!r} escapes the target directory")
        if m.issym() or m.islnk():
            raise DataError(f"refusing to extract {archive}: member {m.name!r} is a link")
        if not (m.isfile() or m.isdir()):
            raise DataError(f"refusing to extract {archive}: member {m.name!r} is not a regular file")
        yield m


@renamed_kwargs(dest="out_dir")
def safe_extract(archive: str | Path, out_dir: str | Path) -> Path:
    """Extract a (compressed) tar archive into ``out_dir`` without path traversal.

    (``out_dir`` was formerly ``dest=``, still accepted with a :class:`FutureWarning`.)

    Every member is checked first; absolute paths, ``..``, symbolic/hard links
    and special files make the whole extraction fail with DataError before any
    file is written. Extraction goes to a temporary sibling directory that is
    moved into place at the end, so an interrupted run leaves no partial tree.
    """
    archive, dest = Path(archive), Path(out_dir)
    if not archive.is_file():
        raise DataError(f"archive {archive} does not exist")
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, *_DAMAGED) as exc:
        raise DataError(f"{archive} is not a readable tar archive: {exc}") from exc
    with tar:
        try:
            members = list(_safe_members(tar, archive))
        except _DAMAGED as exc:
            raise DataError(f"{archive} is truncated or damaged ({type(exc).__name__}: {exc}); "
                            "download it again") from exc
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".extract-{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            try:
                tar.extractall(tmp, members=members, filter="data")
            except _DAMAGED as exc:
                if isinstance(exc, OSError) and exc.errno is not None:  # disk full, permissions...
                    raise DataError(f"cannot extract {archive} into {dest}: {exc.strerror or exc}") from exc
                raise DataError(f"{archive} is truncated or damaged ({type(exc).__name__}: {exc}); "
                                "download it again; nothing was extracted") from exc
            for child in tmp.iterdir():
                target = dest / child.name
                if target.exists():
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
                os.replace(child, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


@renamed_kwargs(to="out_dir")
def download_gtzan(
    out_dir: str | Path,
    *,
    url: str | None = None,
    sha256: str | None = GTZAN_SHA256,
    progress: bool = True,
    keep_archive: bool = True,
    session=None,
) -> Path:
    """Download GTZAN's ``genres.tar.gz`` into ``out_dir`` and extract it there.

    Parameters
    ----------
    out_dir : str or Path
        Target directory; the clips end up in ``<out_dir>/genres/<genre>/``. (Formerly
        ``to=``, still accepted with a :class:`FutureWarning`.)
    url : str, keyword-only, optional
        Mirror URL (default :func:`gtzan_url`).
    sha256 : str, keyword-only, optional
        Expected digest of the archive (default :data:`GTZAN_SHA256`); pass None
        only for a deliberately different archive.
    progress : bool, keyword-only
        Show tqdm bars.
    keep_archive : bool, keyword-only
        Keep ``genres.tar.gz`` after extraction.

    Returns
    -------
    Path
        ``out_dir``, ready for ``load_dataset("gtzan", out_dir)``.
    """
    to = Path(out_dir).expanduser()
    url = url or gtzan_url()
    sha256 = _check_sha(sha256)
    marker = to / ".genrenet-extracted"
    if marker.is_file() and marker.read_text().strip() == (sha256 or url):
        return to
    archive = to / Path(url.split("?")[0]).name
    if not archive.name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        archive = to / "genres.tar.gz"
    download(url, archive, sha256=sha256, progress=progress, session=session)
    safe_extract(archive, to)
    atomic_write_text(marker, (sha256 or url) + "\n")
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return to
