"""Tests of the synthetic demo corpus (genrenet.datasets.demo) and ``genrenet demo``."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from genrenet.cli import main
from genrenet.datasets import demo
from genrenet.errors import DataError, ParameterError
from genrenet.io import sha256_file


def test_render_clip_is_deterministic_and_varied():
    a = demo.render_clip("techno", 0, seed=1, duration=2.0)
    assert a.dtype == np.float32 and a.shape == (44100,) and 0.4 < np.abs(a).max() < 1.0
    np.testing.assert_array_equal(a, demo.render_clip("techno", 0, seed=1, duration=2.0))
    assert not np.array_equal(a, demo.render_clip("techno", 1, seed=1, duration=2.0))
    assert not np.array_equal(a, demo.render_clip("techno", 0, seed=2, duration=2.0))
    with pytest.raises(ParameterError, match="genre"):
        demo.render_clip("polka", 0)
    with pytest.raises(ParameterError, match="duration"):
        demo.render_clip("rock", 0, duration=0.0)


def test_generate_layout_readme_and_byte_identity(tmp_path):
    root = demo.generate_demo(tmp_path / "a", per_genre=2, duration=1.0, seed=5, progress=False)
    files = demo.demo_files(root, per_genre=2)
    assert len(files) == 2 * len(demo.DEMO_GENRES) and all(p.is_file() for p in files)
    assert files[0].relative_to(root).as_posix() == "ambient/ambient.00000.wav"
    meta = sf.info(str(files[0]))
    assert (meta.samplerate, meta.channels, meta.frames, meta.subtype) == (22050, 1, 22050, "PCM_16")
    readme = (root / "README.txt").read_text()
    assert "SYNTHETIC" in readme and "seed 5" in readme
    other = demo.generate_demo(tmp_path / "b", per_genre=2, duration=1.0, seed=5, progress=False)
    for p in files:
        assert sha256_file(p) == sha256_file(other / p.relative_to(root))


def test_resume_skips_finished_files(tmp_path, monkeypatch):
    root = demo.generate_demo(tmp_path, per_genre=1, duration=1.0, progress=False)
    victim = root / "rock" / "rock.00000.wav"
    digest = sha256_file(victim)
    victim.unlink()
    calls = []
    real = demo.render_clip
    monkeypatch.setattr(demo, "render_clip", lambda g, i, **kw: calls.append((g, i)) or real(g, i, **kw))
    demo.generate_demo(tmp_path, per_genre=1, duration=1.0, progress=False)
    assert calls == [("rock", 0)] and sha256_file(victim) == digest
    calls.clear()
    demo.generate_demo(tmp_path, per_genre=2, duration=1.0, progress=False)  # grows: only new clips
    assert sorted(calls) == sorted((g, 1) for g in demo.DEMO_GENRES)
    calls.clear()
    demo.generate_demo(tmp_path, per_genre=1, duration=1.0, progress=False)  # smaller request: extras kept
    assert calls == [] and (root / "rock" / "rock.00001.wav").exists()
    assert '"n_per_genre": 2' in (root / ".demo.json").read_text()
    demo.generate_demo(tmp_path, per_genre=1, duration=1.0, seed=7, progress=False)  # new seed: all rewritten
    assert len(calls) == len(demo.DEMO_GENRES) and sha256_file(victim) != digest


def test_refuses_foreign_directory_and_bad_parameters(tmp_path):
    (tmp_path / "rock").mkdir()
    (tmp_path / "rock" / "rock.00000.wav").write_bytes(b"my own recording")
    with pytest.raises(DataError, match="not a genrenet demo corpus"):
        demo.generate_demo(tmp_path, per_genre=1, duration=1.0, progress=False)
    assert (tmp_path / "rock" / "rock.00000.wav").read_bytes() == b"my own recording"
    with pytest.raises(ParameterError, match="per_genre"):
        demo.generate_demo(tmp_path / "x", per_genre=0)
    with pytest.raises(ParameterError, match="seed"):
        demo.generate_demo(tmp_path / "x", seed=-3)


def test_default_root_and_cli(tmp_path, capsys):
    from genrenet.paths import demo_dir

    root = demo.generate_demo(per_genre=1, duration=0.5, progress=False)
    assert root == demo_dir() and (root / "README.txt").exists()
    assert main(["demo", "--to", str(tmp_path / "cli"), "--per-genre", "1", "--duration", "0.5",
                 "--seed", "3", "--no-progress"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert len(list((tmp_path / "cli").glob("*/*.wav"))) == len(demo.DEMO_GENRES)
    assert main(["demo", "--to", str(tmp_path / "bad"), "--per-genre", "0"]) == 1


def test_styles_overlap_but_remain_distinguishable():
    """A linear classifier on MFCC statistics, cross-validated over whole clips, tells the styles
    apart far better than chance (1/6) but not perfectly: the styles share instruments, tempi and keys."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genrenet.features import extract

    X, y, groups = [], [], []
    for gi, genre in enumerate(demo.DEMO_GENRES):
        for i in range(4):
            feats = extract("mfcc_stats", demo.render_clip(genre, i, seed=11, duration=4.5), 22050)
            X.append(feats)
            y += [gi] * len(feats)
            groups += [gi * 10 + i] * len(feats)
    X, y, groups = np.concatenate(X), np.array(y), np.array(groups)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    accuracy = cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(4)).mean()
    assert 0.45 <= accuracy <= 0.95, accuracy
    # clips of one style are not copies of each other
    per_clip = X.reshape(len(demo.DEMO_GENRES), 4, -1, X.shape[1]).mean(axis=2)
    assert np.min(np.abs(per_clip[:, 0] - per_clip[:, 1]).sum(axis=1)) > 1.0


def test_recipes_share_instruments_tempi_and_drums():
    recipes = {g: demo.style_recipe(g) for g in demo.DEMO_GENRES}
    # every part of the pool is played by at least two styles
    parts = {p for r in recipes.values() for p in r["parts"]}
    for part in parts:
        assert sum(part in r["parts"] for r in recipes.values()) >= 2, part
    # every style's tempo range overlaps another style's, and drum patterns are shared
    for g, r in recipes.items():
        lo, hi = r["tempo"]
        assert any(o["tempo"][0] < hi and lo < o["tempo"][1] for h, o in recipes.items() if h != g), g
        assert any(set(r["drums"]) - {"none"} & set(o["drums"]) for h, o in recipes.items() if h != g), g
    recipes["rock"]["parts"]["guitar"] = 0.0  # a copy: the corpus is unchanged
    assert demo.style_recipe("rock")["parts"]["guitar"] > 0.5
    with pytest.raises(ParameterError, match="genre"):
        demo.style_recipe("polka")


def test_an_old_corpus_is_regenerated_when_the_demo_version_changes(tmp_path, monkeypatch):
    from genrenet.datasets import load_dataset

    root = demo.generate_demo(tmp_path, per_genre=1, duration=0.5, progress=False)
    assert demo.recorded_version(root) == demo.DEMO_VERSION
    calls = []
    monkeypatch.setattr(demo, "generate_demo", lambda r, **kw: calls.append(r) or r)
    assert load_dataset("demo", root).synthetic and calls == []  # current corpus: used as it is
    marker = root / ".demo.json"
    marker.write_text(marker.read_text().replace(f'"demo_version": {demo.DEMO_VERSION}', '"demo_version": 1'))
    assert demo.recorded_version(root) == 1
    load_dataset("demo", root)  # a corpus of an older demo version is regenerated, not reused
    assert calls == [root]
    marker.unlink()
    assert demo.recorded_version(root) is None
