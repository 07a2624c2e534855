"""Tests for genrenet.io: atomic writes leave complete files with the permissions the umask gives."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from genrenet.io import (
    atomic_dir,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    current_umask,
)


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_writes_respect_the_umask(tmp_path, umask):
    files = [
        atomic_write_bytes(tmp_path / "a.bin", b"abc"),
        atomic_write_text(tmp_path / "b.txt", "text"),
        atomic_write_json(tmp_path / "selection.json", {"genres": ["jazz"]}),
    ]
    with atomic_path(tmp_path / "c.npy") as tmp:
        np.save(open(tmp, "wb"), np.zeros(3))
    files.append(tmp_path / "c.npy")
    for f in files:
        assert _mode(f) == 0o666 & ~umask, f
    with atomic_dir(tmp_path / "bundle") as tmp:
        (tmp / "meta.json").write_text("{}")
        atomic_write_json(tmp / "metrics.json", {"accuracy": 1.0})
    assert _mode(tmp_path / "bundle") == 0o777 & ~umask
    assert _mode(tmp_path / "bundle" / "metrics.json") == 0o666 & ~umask
    assert json.loads((tmp_path / "bundle" / "metrics.json").read_text()) == {"accuracy": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "bundle", "c.npy", "selection.json"]


def test_a_writer_can_still_make_a_private_file(tmp_path, umask):
    with atomic_path(tmp_path / "token.json") as tmp:
        tmp.write_text("secret")
        os.chmod(tmp, 0o600)
    assert _mode(tmp_path / "token.json") == 0o600


def test_replacing_keeps_no_temporary_and_fails_cleanly(tmp_path):
    atomic_write_text(tmp_path / "x.txt", "one")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert (tmp_path / "x.txt").read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_umask_is_read_safely_from_threads(tmp_path):
    old = os.umask(0o027)
    try:
        seen: list[int] = []
        threads = [threading.Thread(target=lambda: seen.append(current_umask())) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [0o027] * 8 and current_umask() == 0o027
    finally:
        os.umask(old)


def test_generated_audio_and_cache_entries_are_readable_by_others(tmp_path):
    from genrenet.cache import featurize
    from genrenet.datasets import load_dataset
    from genrenet.datasets.demo import generate_demo
    from genrenet.features import get_spec

    old = os.umask(0o022)
    try:
        root = generate_demo(tmp_path / "demo", per_genre=1, duration=2.0, progress=False)
        audio = sorted(root.rglob("*.wav"))
        assert audio and all(_mode(p) == 0o644 for p in audio)  # generated (collected) audio
        fs = featurize(load_dataset("folder", root), get_spec("mfcc_stats"), cache_dir=tmp_path / "cache",
                       n_jobs=1, progress=False)
        assert all(_mode(f) == 0o644 for f in fs.files)
        assert _mode(tmp_path / "cache" / "hashes.json") == 0o644
    finally:
        os.umask(old)
