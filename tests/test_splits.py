"""Tests for genrenet.splits: stratified, grouped k-fold (track/artist/block), fault-filtered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genrenet.datasets import Dataset, Track
from genrenet.errors import ChecksumError, DataError, ParameterError
from genrenet.splits import Split, fault_filtered_split, grouped_kfold, stratified_split


def _ds(n_per_genre=10, genres=("blues", "jazz", "rock"), artists_per_genre=None) -> Dataset:
    tracks = []
    for g in genres:
        for k in range(n_per_genre):
            artist = f"{g}-artist{k // 2}" if artists_per_genre else None
            tracks.append(Track(path=Path(f"/nonexistent/{g}.{k:05d}.wav"), genre=g, id=f"{g}.{k:05d}",
                                artist=artist))
    return Dataset("synthetic-list", None, tracks)


def _assert_partition(split: Split, n: int):
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(range(n))


def test_stratified_split_is_stratified_and_seeded():
    ds = _ds()
    s = stratified_split(ds, test_size=0.2, val_size=0.1, seed=3)
    _assert_partition(s, len(ds))
    labels = ds.labels()
    assert np.bincount(labels[list(s.test)]).tolist() == [2, 2, 2]
    assert np.bincount(labels[list(s.val)]).tolist() == [1, 1, 1]
    assert s == stratified_split(ds, test_size=0.2, val_size=0.1, seed=3)
    assert s.test != stratified_split(ds, seed=4).test
    d = json.loads(json.dumps(s.to_dict()))
    assert Split.from_dict(d) == s and d["protocol"] and d["sizes"]["test"] == 6
    with pytest.raises(ParameterError, match="test_size"):
        stratified_split(ds, test_size=1.5)
    with pytest.raises(ParameterError, match="val_size"):
        stratified_split(ds, test_size=0.6, val_size=0.5)


@pytest.mark.parametrize("by", ["track", "block"])
def test_grouped_kfold_each_track_tested_once(by):
    ds = _ds(n_per_genre=10)
    folds = grouped_kfold(ds, folds=5, by=by, seed=0, val_size=0.2)
    assert len(folds) == 5
    tested = [i for f in folds for i in f.test]
    assert sorted(tested) == list(range(len(ds)))  # every track in exactly one test fold
    for f in folds:
        _assert_partition(f, len(ds))
        assert len(f.val) > 0
        labels = ds.labels()[list(f.test)]
        assert np.bincount(labels, minlength=3).tolist() == [2, 2, 2]  # stratified per genre
        assert f.dataset_hash == ds.content_hash()


def test_block_folds_hold_out_contiguous_ids():
    ds = _ds(n_per_genre=10)
    folds = grouped_kfold(ds, folds=5, by="block", seed=0)
    for f in folds:
        for g in ds.genres:
            nums = sorted(int(ds[i].id.split(".")[1]) for i in f.test if ds[i].genre == g)
            assert nums == list(range(nums[0], nums[0] + len(nums)))
    assert "contiguous id blocks" in folds[0].protocol
    # block folds do not depend on the seed
    assert [f.test for f in folds] == [f.test for f in grouped_kfold(ds, folds=5, by="block", seed=9)]


def test_artist_folds_keep_artists_together():
    ds = _ds(n_per_genre=10, artists_per_genre=True)
    folds = grouped_kfold(ds, folds=3, by="artist", seed=1)
    for f in folds:
        art = lambda idx: {ds[i].artist for i in idx}  # noqa: E731
        assert not (art(f.train) & art(f.test))
        assert not (art(f.val) & art(f.test))
    with pytest.raises(DataError, match="artist"):
        grouped_kfold(_ds(), by="artist")


def test_grouped_kfold_bad_parameters():
    ds = _ds(n_per_genre=3)
    with pytest.raises(ParameterError, match="by"):
        grouped_kfold(ds, by="segment")
    with pytest.raises(ParameterError, match="folds"):
        grouped_kfold(ds, folds=1)
    with pytest.raises(ParameterError, match="folds"):
        grouped_kfold(ds, folds=4)


def test_gtzan_mini_grouped_folds(gtzan_mini):
    from genrenet.datasets import load_dataset

    ds = load_dataset("gtzan", gtzan_mini)
    assert len(ds) == 162 and len(ds.genres) == 10
    folds = grouped_kfold(ds, folds=5, by="block", seed=42)
    seen: dict[str, int] = {}
    for k, f in enumerate(folds):
        for tid in f.ids(ds, "test"):
            assert tid not in seen, f"{tid} in test folds {seen[tid]} and {k}"
            seen[tid] = k
        assert not set(f.ids(ds, "val")) & set(f.ids(ds, "test"))
    assert len(seen) == 162


def test_fault_filtered_split(gtzan_mini, gtzan_splits):
    from genrenet.datasets import load_dataset

    ds = load_dataset("gtzan", gtzan_mini)
    s = fault_filtered_split(ds, lists_dir=gtzan_splits)
    assert s.info["listed"] == {"train": 443, "val": 197, "test": 290}
    assert len(s.train) + len(s.val) + len(s.test) + len(s.missing) == 443 + 197 + 290
    assert "blues.00000" in s.ids(ds, "val") and "blues.00012" in s.missing
    assert s.missing and all("." in m for m in s.missing)


def test_fault_filtered_checksum_and_absent(tmp_path):
    ds = _ds()
    d = tmp_path / "lists"
    d.mkdir()
    for name in ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"):
        (d / name).write_text("blues/blues.00001.wav\n")
    with pytest.raises(ChecksumError, match="train_filtered"):
        fault_filtered_split(ds, lists_dir=d)
    (d / "train_filtered.txt").write_text("blues/blues.00001.wav\nblues/blues.00099.wav\n")
    (d / "valid_filtered.txt").write_text("jazz/jazz.00002.wav\n")
    (d / "test_filtered.txt").write_text("rock/rock.00003.wav\n")
    s = fault_filtered_split(ds, lists_dir=d, verify=False)
    assert s.ids(ds, "train") == ["blues.00001"] and s.missing == ("blues.00099",)
    with pytest.raises(DataError, match="missing"):
        fault_filtered_split(ds, lists_dir=tmp_path / "none", verify=False)


def test_fault_filtered_lists_downloaded_and_verified(gtzan_splits, tmp_path):
    """The lists are fetched from a configurable base URL (here a server on 127.0.0.1)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from genrenet.splits import fetch_fault_filtered_lists

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(gtzan_splits)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        dest = fetch_fault_filtered_lists(tmp_path / "lists", base_url=base)
        assert sorted(p.name for p in dest.iterdir()) == ["test_filtered.txt", "train_filtered.txt",
                                                          "valid_filtered.txt"]
        ds = _ds(n_per_genre=20)
        s = fault_filtered_split(ds, lists_dir=dest)
        assert "blues.00012" in s.ids(ds, "test") and s.info["listed"]["test"] == 290
        with pytest.raises(DataError):
            fetch_fault_filtered_lists(tmp_path / "x", base_url=base + "nowhere/")
    finally:
        httpd.shutdown()
        httpd.server_close()
