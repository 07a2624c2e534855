"""Shared test fixtures.

Tests never need the internet. Audio is synthesised by the tests; tests that
need real recordings read ``../shared/data`` and skip with a reason when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENRENET_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's caches and generated data out of the user's home."""
    home = tmp_path_factory.getbasetemp() / "genrenet-home"
    monkeypatch.setenv("GENRENET_HOME", str(home))
    monkeypatch.delenv("GENRENET_CACHE", raising=False)
    monkeypatch.delenv("GENRENET_MODELS", raising=False)


@pytest.fixture(scope="session")
def gtzan_mini() -> Path:
    """Path of the real GTZAN subset, or skip when ``../shared/data`` is absent."""
    path = SHARED_DATA / "gtzan-mini"
    if not (path / "MANIFEST.tsv").exists():
        pytest.skip(f"real audio not available: {path} is missing")
    return path


@pytest.fixture(scope="session")
def gtzan_splits() -> Path:
    """Path of the fault-filtered split lists, or skip when absent."""
    path = SHARED_DATA / "gtzan-splits"
    if not (path / "train_filtered.txt").exists():
        pytest.skip(f"split lists not available: {path} is missing")
    return path


def sine(freq: float = 440.0, *, sr: int = 22050, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    """A float32 sine wave (helper for tests)."""
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def wav_file(tmp_path) -> Path:
    """A 2-second 440 Hz mono WAV at 22050 Hz written with soundfile."""
    import soundfile as sf

    path = tmp_path / "tone.wav"
    sf.write(path, sine(seconds=2.0), 22050, subtype="PCM_16")
    return path
