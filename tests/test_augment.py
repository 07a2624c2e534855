"""Tests of genrenet.augment and of training with degraded copies (train(augment=...), genrenet train --augment)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from genrenet.datasets import Dataset, Track
from genrenet.errors import DataError, ParameterError

SR = 22050
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three genres of four 2-second clips (tones), with artists, as a data set."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    tracks = []
    for g, (genre, base) in enumerate((("low", 110.0), ("mid", 440.0), ("high", 1760.0))):
        (root / genre).mkdir()
        for k in range(4):
            t = np.arange(2 * SR) / SR
            y = 0.3 * np.sin(2 * np.pi * base * (1 + 0.05 * k) * t) + 0.02 * rng.standard_normal(t.size)
            path = root / genre / f"{genre}.{k:05d}.wav"
            sf.write(path, y.astype(np.float32), SR)
            tracks.append(Track(path=path, genre=genre, id=f"{genre}.{k:05d}", duration=2.0, artist=f"a{g}{k // 2}"))
    return Dataset("clips", root, tracks)


def test_names_and_ids():
    from genrenet import augment as A

    assert A.copy_id("blues.00012", "mp3_64") == "blues.00012~mp3_64"
    assert A.original_id("blues.00012~mp3_64") == "blues.00012" == A.original_id("blues.00012")
    assert [d.name for d in A.resolve_degradations(True)] == list(A.DEFAULT_AUGMENTATIONS)
    assert [d.name for d in A.resolve_degradations("sr_16k, gain_-20db,sr_16k")] == ["sr_16k", "gain_-20db"]
    assert A.resolve_degradations(None) == () == A.resolve_degradations(False)
    with pytest.raises(ParameterError, match="unknown degradation"):
        A.resolve_degradations(["mp3_64", "echo"])


def test_copies_are_written_once_and_keep_label_and_group(clips, tmp_path):
    from genrenet.augment import degraded_copies

    copies = degraded_copies(clips, ["sr_8k", "gain_-20db"], ids=["low.00000", "mid.00003"], cache_dir=tmp_path,
                             progress=False)
    assert copies.ids == ["low.00000~sr_8k", "low.00000~gain_-20db", "mid.00003~sr_8k", "mid.00003~gain_-20db"]
    for t in copies:
        original = clips[t.id.split("~")[0]]
        assert t.genre == original.genre and t.artist == original.artist and t.group == original.id
        assert t.path.is_file() and t.path.suffix == ".flac" and t.path.is_relative_to(tmp_path / "degraded")
    assert sf.info(copies["low.00000~sr_8k"].path).samplerate == 8000
    stamps = {t.id: t.path.stat().st_mtime_ns for t in copies}
    again = degraded_copies(clips, ["sr_8k", "gain_-20db"], ids=["low.00000", "mid.00003"], cache_dir=tmp_path,
                            progress=False)
    assert {t.id: t.path.stat().st_mtime_ns for t in again} == stamps  # nothing written twice
    assert again.content_hash() == copies.content_hash()
    assert not list((tmp_path / "degraded").rglob("*.tmp"))


def test_unreadable_clips_are_skipped_and_copies_of_copies_refused(clips, tmp_path):
    from genrenet.augment import degraded_copies

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    ds = Dataset("mixed", tmp_path, [clips[0], Track(path=bad, genre="low", id="low.00099")])
    copies = degraded_copies(ds, "gain_-20db", cache_dir=tmp_path, progress=False)
    assert copies.ids == ["low.00000~gain_-20db"]
    assert len(copies.skipped) == 1 and copies.skipped[0].path == bad and "no degraded copies" in copies.skipped[0].cause
    with pytest.raises(DataError, match="already holds degraded copies"):
        degraded_copies(copies, "sr_8k", cache_dir=tmp_path, progress=False)
    with pytest.raises(ParameterError, match="ids"):
        degraded_copies(clips, "sr_8k", ids=["nope"], cache_dir=tmp_path, progress=False)


def test_missing_encoder_fails_before_any_copy(clips, tmp_path, monkeypatch):
    from genrenet import degrade
    from genrenet.augment import degraded_copies

    monkeypatch.setattr(degrade.shutil, "which", lambda name: None)
    with pytest.raises(degrade.EncoderError, match="ffmpeg"):
        degraded_copies(clips, ["sr_8k", "mp3_64"], cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "degraded").exists()


def test_augment_split_copies_training_clips_only(clips, tmp_path):
    from genrenet.augment import augment_split
    from genrenet.splits import stratified_split

    split = stratified_split(clips, test_size=0.25, val_size=0.25, seed=1)
    ds, aug = augment_split(clips, split, ["sr_8k", "gain_-20db"], cache_dir=tmp_path, progress=False)
    assert ds.tracks[: len(clips)] == clips.tracks  # every old index names the same clip
    assert aug.val == split.val and aug.test == split.test
    train_ids = set(split.ids(clips, "train"))
    copies = [ds[i].id for i in aug.train if "~" in ds[i].id]
    assert len(copies) == 2 * len(train_ids) and {c.split("~")[0] for c in copies} == train_ids
    held_out = set(split.ids(clips, "val")) | set(split.ids(clips, "test"))
    assert not [t.id for t in ds if t.id.split("~")[0] in held_out and "~" in t.id]  # no copy of a held-out clip
    aug.check(ds)
    assert aug.info["augment"]["degradations"] == ["sr_8k", "gain_-20db"]
    assert "degraded copies (sr_8k, gain_-20db)" in aug.protocol
    same_ds, same = augment_split(clips, split, None, cache_dir=tmp_path, progress=False)
    assert same is split and same_ds is clips


def test_train_with_augmentation_fits_on_copies_and_scores_originals(clips, tmp_path):
    from genrenet.splits import stratified_split
    from genrenet.train import train

    split = stratified_split(clips, test_size=0.25, val_size=0.25, seed=1)
    common = dict(split=split, out_dir=None, cache_dir=tmp_path / "cache", progress=False)
    plain = train("baseline", clips, **{**common, "out_dir": tmp_path / "plain"})
    aug = train("baseline", clips, **{**common, "out_dir": tmp_path / "aug"}, augment="sr_8k,gain_-20db")
    assert aug.record.augment == ("sr_8k", "gain_-20db") and plain.record.augment == ()
    # the baseline fits on train + val; only the training clips gain two copies each
    assert aug.record.train_windows > plain.record.train_windows
    assert aug.record.test_tracks == plain.record.test_tracks
    assert not any("~" in t for t in aug.record.test_tracks)
    assert json.loads((tmp_path / "aug" / "metrics.json").read_text())["augment"] == ["sr_8k", "gain_-20db"]
    meta = json.loads((tmp_path / "aug" / "meta.json").read_text())
    assert meta["augment"] == ["sr_8k", "gain_-20db"] and "degraded copies" in meta["protocol"]
    again = train("baseline", clips, **{**common, "out_dir": tmp_path / "aug"}, augment="sr_8k,gain_-20db")
    assert again.skipped


@needs_ffmpeg
def test_cli_train_augment(clips, tmp_path, capsys, monkeypatch):
    from genrenet.cli import main

    monkeypatch.setenv("GENRENET_CACHE", str(tmp_path / "cache"))
    clips.write_manifest(tmp_path / "manifest.tsv")
    rc = main(["train", "--model", "baseline", "--dataset", "manifest", "--data-dir", str(tmp_path / "manifest.tsv"),
               "--augment", "mp3_32", "--out", str(tmp_path / "run"), "--quiet", "--json"])
    assert rc == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["augment"] == ["mp3_32"]
    assert list((tmp_path / "cache" / "degraded").rglob("*.mp3"))
    rc = main(["train", "--model", "baseline", "--dataset", "manifest", "--data-dir", str(tmp_path / "manifest.tsv"),
               "--augment", "wobble", "--out", str(tmp_path / "bad"), "--quiet"])
    assert rc != 0 and "unknown degradation 'wobble'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_help_names_the_default_augmentations(capsys):
    from genrenet.augment import DEFAULT_AUGMENTATIONS
    from genrenet.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert ",".join(DEFAULT_AUGMENTATIONS) in " ".join(capsys.readouterr().out.split())
