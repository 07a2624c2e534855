"""Tests for genrenet.datasets: Track/Dataset, manifests, the gtzan/folder/demo/soundcloud loaders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrenet.datasets import Dataset, Track, available_datasets, load_dataset, register_dataset
from genrenet.datasets.gtzan import clip_number, load_gtzan
from genrenet.errors import DataError, ParameterError


def _tone(path: Path, *, seconds: float = 0.5, freq: float = 440.0, sr: int = 22050) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def _gtzan_tree(root: Path, genres=("blues", "rock"), n=3, *, ext="wav", nested=False) -> Path:
    base = root / "genres" if nested else root
    for g in genres:
        for k in range(n):
            p = base / g / f"{g}.{k:05d}.{ext}"
            if ext == "au":
                p.parent.mkdir(parents=True, exist_ok=True)
                t = np.arange(11025) / 22050
                sf.write(p, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050, format="AU",
                         subtype="PCM_16")
            else:
                _tone(p, seconds=0.5 + 0.1 * k)
    return root


def _small_dataset(tmp_path) -> Dataset:
    tracks = [
        Track(path=_tone(tmp_path / g / f"{g}{k}.wav"), genre=g, id=f"{g}.{k:05d}", duration=0.5)
        for g in ("pop", "jazz") for k in range(2)
    ]
    return Dataset("small", tmp_path, tracks)


def test_dataset_basics(tmp_path):
    ds = _small_dataset(tmp_path)
    assert len(ds) == 4
    assert ds.genres == ["jazz", "pop"]
    assert list(ds.labels()) == [1, 1, 0, 0]
    assert list(ds.labels(["pop", "jazz"])) == [0, 0, 1, 1]
    assert ds[0].id == "pop.00000" and ds["jazz.00001"].genre == "jazz"
    assert [t.id for t in ds] == ds.ids
    sub = ds.subset(["jazz"])
    assert len(sub) == 2 and sub.genres == ["jazz"]
    with pytest.raises(ParameterError, match="blues"):
        ds.subset(["blues"])
    with pytest.raises(ParameterError, match="subset"):
        ds.labels(["pop"])
    with pytest.raises(DataError, match="no track"):
        ds["nope"]
    rows = ds.summary()
    assert [r["genre"] for r in rows] == ["jazz", "pop"]
    assert rows[0]["tracks"] == 2 and rows[0]["total_s"] == pytest.approx(1.0)


def test_track_is_frozen_and_ids_unique(tmp_path):
    t = Track(path=tmp_path / "a.wav", genre="pop", id="a")
    with pytest.raises(AttributeError):
        t.genre = "rock"  # type: ignore[misc]
    with pytest.raises(DataError, match="twice"):
        Dataset("dup", tmp_path, [t, t])


def test_manifest_roundtrip_and_hash(tmp_path):
    ds = _small_dataset(tmp_path)
    man = ds.write_manifest(tmp_path / "manifest.tsv")
    header = man.read_text().splitlines()[0].split("\t")
    assert header[:3] == ["id", "genre", "path"]
    back = Dataset.from_manifest(man, name="small")
    assert back.ids == ds.ids and back.genres == ds.genres
    assert [t.path for t in back] == [t.path.resolve() for t in ds]
    assert back.content_hash() == ds.content_hash()
    # the hash changes when a file changes or a label changes
    h = ds.content_hash()
    relabelled = ds.with_tracks([ds.replace_track(0, genre="jazz")] + ds.tracks[1:])
    assert relabelled.content_hash() != h
    p = ds[1].path
    os.utime(p, ns=(1, 1))
    assert ds.content_hash() != h


def test_manifest_errors(tmp_path):
    bad = tmp_path / "m.tsv"
    bad.write_text("id\tpath\nx\ta.wav\n")
    with pytest.raises(DataError, match="genre"):
        Dataset.from_manifest(bad)
    with pytest.raises(DataError, match="does not exist"):
        Dataset.from_manifest(tmp_path / "absent.tsv")
    ok = tmp_path / "n.tsv"
    ok.write_text("id\tgenre\tpath\nx\tpop\tmissing.wav\n")
    ds_err = pytest.raises(DataError, Dataset.from_manifest, ok, missing="raise")
    assert "missing.wav" in str(ds_err.value)


def test_gtzan_wav_layout(tmp_path):
    root = _gtzan_tree(tmp_path / "g", genres=("blues", "rock"), n=3)
    ds = load_dataset("gtzan", root)
    assert len(ds) == 6 and ds.genres == ["blues", "rock"]
    assert ds[0].id == "blues.00000" and ds[0].duration == pytest.approx(0.5, abs=1e-3)
    assert clip_number("rock.00042") == 42


def test_gtzan_original_au_layout_and_partial_copy(tmp_path):
    root = _gtzan_tree(tmp_path / "orig", genres=("jazz", "metal"), n=2, ext="au", nested=True)
    # a manifest listing a clip that is absent (partial copy) and a 15 s duration
    base = root / "genres"
    (base / "MANIFEST.tsv").write_text(
        "path\tgenre\tduration_s\tsha256\n"
        "jazz/jazz.00000.au\tjazz\t15.0\t\n"
        "jazz/jazz.00009.au\tjazz\t30.0\t\n"
    )
    ds = load_gtzan(root)
    assert ds.ids == ["jazz.00000", "jazz.00001", "metal.00000", "metal.00001"]
    assert ds["jazz.00000"].duration == 15.0  # from the manifest, not the header
    assert any("jazz.00009" in str(s.path) for s in ds.skipped)
    with pytest.raises(DataError, match="does not look like GTZAN"):
        load_gtzan(tmp_path / "orig" / "genres" / "jazz")


def test_gtzan_mini(gtzan_mini):
    ds = load_dataset("gtzan", gtzan_mini)
    assert len(ds) == 162
    assert len(ds.genres) == 10
    assert ds.skipped == []
    assert all(t.sha256 and t.duration for t in ds)
    short = [t for t in ds if t.duration < 20]
    assert len(short) == 81 and {t.genre for t in short} == {"classical"}


def test_folder_skips_corrupt_and_non_audio(tmp_path):
    root = tmp_path / "music"
    _tone(root / "rock" / "a.wav")
    _tone(root / "rock" / "live" / "b.wav")
    _tone(root / "jazz" / "c.wav")
    (root / "jazz" / "notes.txt").write_text("not audio")
    (root / "jazz" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "jazz" / "broken.wav").write_text("this is text, not a wave file")
    (root / "jazz" / ".hidden.wav").write_bytes(b"")
    with pytest.warns(UserWarning, match="1 unreadable"):
        ds = load_dataset("folder", root)
    assert ds.ids == ["jazz/c", "rock/a", "rock/live/b"]
    _tone(root / "rock" / "a.flac")  # same stem, other format: ids keep the extension
    ids = load_dataset("folder", root, check_audio=False).ids
    assert "rock/a.wav" in ids and "rock/a.flac" in ids and len(set(ids)) == len(ids)
    assert [s.path.name for s in ds.skipped] == ["broken.wav"]
    assert ds.skipped[0].cause
    with pytest.raises(DataError, match="no readable audio"):
        load_dataset("folder", tmp_path / "music" / "rock" / "live")
    with pytest.raises(ParameterError, match="data_dir"):
        load_dataset("folder")


def test_folder_follows_links_out_and_reports_bad_ones(tmp_path):
    root = tmp_path / "music"
    outside = tmp_path / "elsewhere"
    _tone(root / "rock" / "a.wav")
    _tone(root / "rock" / "a.flac")  # same stem: ids keep the extension (the case that used to crash)
    _tone(outside / "b.wav", freq=880.0)
    _tone(outside / "pop" / "p.wav", freq=660.0)
    (root / "rock" / "b.wav").symlink_to(outside / "b.wav")  # a file linked from outside the folder
    (root / "rock" / "b.flac").symlink_to(outside / "b.wav")
    (root / "pop").symlink_to(outside / "pop", target_is_directory=True)  # a genre folder on another disk
    (root / "rock" / "dead.wav").symlink_to(tmp_path / "nowhere.wav")
    (root / "rock" / "loop1.wav").symlink_to(root / "rock" / "loop2.wav")
    (root / "rock" / "loop2.wav").symlink_to(root / "rock" / "loop1.wav")
    (root / "rock" / "zero.wav").symlink_to("/dev/zero")
    os.mkfifo(root / "rock" / "pipe.wav")
    (root / "rock" / "folder.wav").mkdir()
    with pytest.warns(UserWarning, match="5 unreadable"):
        ds = load_dataset("folder", root)
    assert ds.ids == ["pop/p", "rock/a.flac", "rock/a.wav", "rock/b.flac", "rock/b.wav"]
    assert ds[ds.index_of("rock/b.wav")].path == (outside / "b.wav").resolve()
    causes = {s.path.name: s.cause for s in ds.skipped}
    assert causes["dead.wav"].startswith("broken symbolic link")
    assert causes["loop1.wav"] == causes["loop2.wav"] == "symbolic link loop"
    assert "not a regular file" in causes["zero.wav"] and "/dev/zero" in causes["zero.wav"]
    assert "not a regular file" in causes["pipe.wav"]
    # nothing hangs on /dev/zero or the FIFO without the header probe either
    assert load_dataset("folder", root, check_audio=False, warn=False).ids == ds.ids


def test_manifest_that_is_not_utf8_or_lists_special_files(tmp_path):
    audio = _tone(tmp_path / "a.wav")
    latin1 = tmp_path / "manifest.tsv"
    latin1.write_bytes("id\tgenre\tpath\nx\tchanson fran\xe7aise\ta.wav\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"manifest .*manifest.tsv is not UTF-8 text \(line 2, byte b.\\xe7. at offset 28\)"):
        Dataset.from_manifest(latin1)
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset("manifest", tmp_path)
    huge = tmp_path / "huge.tsv"
    huge.write_text("id\tgenre\tpath\nx\tpop\t" + "a" * 200_000 + "\n")
    with pytest.raises(DataError, match="huge.tsv is not a readable tab-separated file: field larger"):
        Dataset.from_manifest(huge)
    special = tmp_path / "special.tsv"
    special.write_text(f"id\tgenre\tpath\na\tpop\t{audio}\nz\tpop\t/dev/zero\nd\tpop\t{tmp_path}\n")
    ds = Dataset.from_manifest(special)
    assert ds.ids == ["a"] and {str(s.path) for s in ds.skipped} == {"/dev/zero", str(tmp_path)}
    with pytest.raises(DataError, match="line 3: /dev/zero is not a regular file"):
        Dataset.from_manifest(special, missing="raise")



@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test vanish after it, so other tests see the shipped choices only."""
    import genrenet.datasets as datasets

    monkeypatch.setattr(datasets, "_REGISTRY", dict(datasets._REGISTRY))
    monkeypatch.setattr(datasets, "_SYNTHETIC", set(datasets._SYNTHETIC))


def test_registry(tmp_path, scratch_registry):
    assert {"demo", "gtzan", "folder", "soundcloud"} <= set(available_datasets())
    with pytest.raises(ParameterError, match="unknown data set"):
        load_dataset("nope")
    calls = []

    def loader(root, **kw):
        calls.append((root, kw))
        return _small_dataset(tmp_path)

    register_dataset("mine_test", loader, overwrite=True)
    ds = load_dataset("mine_test", tmp_path, x=1)
    assert len(ds) == 4 and calls == [(tmp_path, {"x": 1})]
    with pytest.raises(ParameterError, match="already registered"):
        register_dataset("mine_test", loader)


def test_one_label_marks_synthetic_data_everywhere(tmp_path, scratch_registry):
    from genrenet.datasets import SYNTHETIC_LABEL, data_label, is_synthetic_dataset, synthetic_notice

    assert data_label("demo", synthetic=True) == f"demo ({SYNTHETIC_LABEL})"
    assert data_label("gtzan", synthetic=False) == "gtzan"
    assert SYNTHETIC_LABEL in synthetic_notice() and "not real music" in synthetic_notice()
    real = Dataset("folder", tmp_path, [Track(tmp_path / "a.wav", "rock", "a")])
    assert real.label == "folder"
    fake = Dataset("demo", tmp_path, [Track(tmp_path / "a.wav", "rock", "a")], synthetic=True)
    assert fake.label == data_label("demo", synthetic=True) and SYNTHETIC_LABEL in fake.describe()
    # the registry knows which data sets are generated, without loading them
    assert is_synthetic_dataset("demo") and not is_synthetic_dataset("gtzan")
    assert not is_synthetic_dataset("no such data set")
    register_dataset("fake_test", lambda root, **kw: fake, synthetic=True, overwrite=True)
    assert is_synthetic_dataset("fake_test")
    register_dataset("fake_test", lambda root, **kw: fake, overwrite=True)
    assert not is_synthetic_dataset("fake_test")
    # results tables name the data with the same label
    from genrenet.evaluate import results_table
    from genrenet.results import RunRecord

    rec = RunRecord.from_dict({
        "model": "baseline", "name": "m", "dataset": "demo", "synthetic": True, "genres": ["a", "b"],
        "feature": {"kind": "mfcc_stats"}, "split": {"name": "s"}, "protocol": "p", "window": {"accuracy": 0.5},
        "track": {"accuracy": 0.5, "macro_f1": 0.5}})
    assert results_table([rec], include_thesis=False)["dataset"].tolist() == [data_label("demo", synthetic=True)]


def test_demo_dataset_is_synthetic(tmp_path):
    pytest.importorskip("genrenet.datasets.demo")
    ds = load_dataset("demo", tmp_path / "demo", per_genre=2, duration=3.0)
    assert ds.synthetic and "SYNTHETIC" in ds.describe()
    assert len(ds) == 2 * len(ds.genres)
    assert all("." in t.id and "/" not in t.id for t in ds)
    again = load_dataset("demo", tmp_path / "demo")
    assert again.content_hash() == ds.content_hash()
    # without a root it is generated under genrenet's home, in a folder of its own for these options
    from genrenet.paths import demo_dir

    small = load_dataset("demo", per_genre=1, duration=2.0)
    assert small.root.parent == demo_dir().parent.resolve() and small.root != demo_dir().resolve()
    assert len(small) == len(small.genres) and small.synthetic


def test_soundcloud_manifest_dataset(tmp_path):
    root = tmp_path / "sc"
    _tone(root / "jazz" / "sc-1.wav")
    _tone(root / "rock" / "sc-2.wav")
    (root / "manifest.tsv").write_text(
        "id\tgenre\tpath\tduration\tartist\tgroup\tsha256\traw_genre\tlicense\n"
        "sc-1\tjazz\tjazz/sc-1.wav\t0.5\tann\t\t\tJazz & Blues\tcc-by\n"
        "sc-2\trock\trock/sc-2.wav\t0.5\tbob\t\t\tIndie Rock\tall-rights-reserved\n"
    )
    ds = load_dataset("soundcloud", root)
    assert ds.ids == ["sc-1", "sc-2"] and ds[0].group == "ann"
    with pytest.raises(DataError, match="collect"):
        load_dataset("soundcloud", tmp_path / "empty")


def test_cli_data_info_manifest_split(tmp_path, capsys):
    from genrenet.cli import main

    root = _gtzan_tree(tmp_path / "g", genres=("blues", "rock"), n=4)
    assert main(["data", "info", "--dataset", "gtzan", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "8 tracks in 2 genres" in out and "content hash" in out
    assert main(["data", "info", "--dataset", "gtzan", "--data-dir", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 8 and info["synthetic"] is False
    man = tmp_path / "m.tsv"
    assert main(["data", "manifest", "--dataset", "gtzan", "--data-dir", str(root), "--genres", "rock",
                 "--out", str(man)]) == 0
    assert len(Dataset.from_manifest(man)) == 4
    out_json = tmp_path / "split.json"
    assert main(["data", "split", "--dataset", "manifest", "--data-dir", str(man), "--protocol", "kfold",
                 "--folds", "2", "--out", str(out_json)]) == 0
    splits = json.loads(out_json.read_text())["splits"]
    assert len(splits) == 2 and sorted(splits[0]["test"] + splits[1]["test"]) == [0, 1, 2, 3]
    # errors are reported by the CLI as messages, not tracebacks
    assert main(["data", "info", "--dataset", "gtzan", "--data-dir", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err


def _ogg(path: Path, *, sr: int, seconds: float = 1.0, freq: float = 330.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format="OGG", subtype="VORBIS")
    return path


def test_gtzan_from_several_roots_in_any_format(tmp_path):
    """A WAV tree and an Ogg tree (one clip at 16 kHz) load as one data set, by os.pathsep or a list."""
    from genrenet.audio import load

    wav = _gtzan_tree(tmp_path / "mini", genres=("blues", "rock"), n=2)
    _ogg(tmp_path / "extra" / "blues" / "blues.00010.ogg", sr=22050)
    low = _ogg(tmp_path / "extra" / "jazz" / "jazz.00003.ogg", sr=16000)
    joined = load_gtzan(f"{wav}{os.pathsep}{tmp_path / 'extra'}")
    assert joined.ids == ["blues.00000", "blues.00001", "blues.00010", "jazz.00003", "rock.00000", "rock.00001"]
    assert joined.genres == ["blues", "jazz", "rock"]
    assert load_gtzan([wav, tmp_path / "extra"]).ids == joined.ids
    assert joined["jazz.00003"].duration == pytest.approx(1.0, abs=0.05)
    y, sr = load(joined["jazz.00003"].path, sr=22050)  # a 16 kHz Ogg clip comes back at the rate asked for
    assert sr == 22050 and abs(y.size - 22050) < 300 and np.isfinite(y).all()
    assert sf.info(low).samplerate == 16000


def test_gtzan_clip_present_twice_is_an_error(tmp_path):
    a = _gtzan_tree(tmp_path / "a", genres=("blues",), n=2)
    _ogg(tmp_path / "b" / "blues" / "blues.00001.ogg", sr=22050)  # the same clip id, another copy
    with pytest.raises(DataError, match="blues.00001") as err:
        load_gtzan(f"{a}{os.pathsep}{tmp_path / 'b'}")
    assert "blues.00001.wav" in str(err.value) and "blues.00001.ogg" in str(err.value)


def test_gtzan_mini_and_extra_together(gtzan_mini):
    """The shared real audio: 162 WAV clips and 148 Ogg clips (some from 16 kHz sources), 310 distinct ids."""
    from genrenet.audio import load

    extra = gtzan_mini.parent / "gtzan-extra"
    if not extra.is_dir():
        pytest.skip(f"real audio not available: {extra} is missing")
    ds = load_dataset("gtzan", f"{gtzan_mini}{os.pathsep}{extra}")
    assert len(ds) == 310 and len(set(ds.ids)) == 310 and len(ds.genres) == 10
    oggs = [t for t in ds if t.path.suffix == ".ogg"]
    assert len(oggs) == 148
    rows = [line.split("\t") for line in (extra / "MANIFEST.tsv").read_text().splitlines()[1:]]
    band_limited = [extra / r[0] for r in rows if r[1] == "16000"]
    assert band_limited
    y, sr = load(band_limited[0], sr=22050)
    assert sr == 22050 and y.size > 20 * sr and np.isfinite(y).all()
