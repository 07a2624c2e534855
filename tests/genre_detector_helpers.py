"""Helpers shared by the prediction and web-service tests (test_predict, test_web*).

They build small but real model bundles whose answers are known in advance, so
the tests can check that the whole path (decoding, windowing, features, graph
inference, averaging, JSON) gives the right genre:

* :func:`make_band_bundle`: a Keras model with hand-set weights that compares the
  log-mel energy in the mel bands around ``LOW_HZ`` and around ``HIGH_HZ``, with
  the genres ``("low", "high")``; a low tone is "low", a high tone is "high".
* :func:`make_sklearn_bundle`: logistic regression on "mfcc_stats" features,
  fitted on synthesised low and high tones.
"""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import numpy as np

SR = 22050
LOW_HZ = 220.0
HIGH_HZ = 5000.0


def tone(freq: float, seconds: float, *, sr: int = SR, amp: float = 0.4, seed: int = 0) -> np.ndarray:
    """A sine tone with a little noise (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    y = amp * np.sin(2 * np.pi * freq * t) + 0.003 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def write_audio(path: Path, y: np.ndarray, *, sr: int = SR, subtype: str | None = None) -> Path:
    import soundfile as sf

    path = Path(path)
    fmt = {".mp3": "MP3", ".ogg": "OGG", ".flac": "FLAC", ".wav": "WAV"}[path.suffix.lower()]
    if subtype is None:
        subtype = {"MP3": "MPEG_LAYER_III", "OGG": "VORBIS", "FLAC": "PCM_16", "WAV": "PCM_16"}[fmt]
    sf.write(path, y, sr, format=fmt, subtype=subtype)
    return path


def tiny_logmel_spec():
    """A small log-mel feature spec (1 s windows, 0.5 s hop, 32 mel bands)."""
    from genrenet.features import FeatureSpec

    return FeatureSpec(kind="logmel", sr=SR, window=1.0, hop=0.5, n_fft=1024, hop_length=512, n_mels=32)


def make_band_bundle(path: Path, *, name: str = "Band Model", spec=None, metrics=None, extra_meta=None) -> Path:
    """Save a Keras bundle that says "low" for low-pitched and "high" for high-pitched audio."""
    from genrenet._tf import keras
    from genrenet.bundle import save_bundle

    spec = spec or tiny_logmel_spec()
    n_mels = spec.shape[0]
    inputs = keras.Input(shape=spec.shape)
    x = keras.layers.Conv2D(2, (n_mels, 1), use_bias=False, name="bands")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="decide")(x)
    model = keras.Model(inputs, outputs)
    import librosa

    centres = librosa.mel_frequencies(n_mels + 2, fmin=spec.fmin, fmax=spec.fmax or spec.sr / 2)[1:-1]
    kernel = np.zeros((n_mels, 1, 1, 2), dtype=np.float32)
    for k, freq in enumerate((LOW_HZ, HIGH_HZ)):
        band = int(np.argmin(np.abs(centres - freq)))
        lo, hi = max(0, band - 1), min(n_mels, band + 2)
        kernel[lo:hi, 0, 0, k] = 1.0 / (hi - lo)  # mean dB of the bands around the tone
    model.get_layer("bands").set_weights([kernel])
    model.get_layer("decide").set_weights([np.eye(2, dtype=np.float32) * 0.5, np.zeros(2, dtype=np.float32)])
    meta = {
        "name": name,
        "model": "band_test",
        "genres": ["low", "high"],
        "feature": spec.to_dict(),
        "metrics": metrics if metrics is not None else {"accuracy": 0.9, "loss": 0.25},
        "dataset": "synthetic tones",
        "split": "none",
        "protocol": "hand-set weights (test)",
        **(extra_meta or {}),
    }
    return save_bundle(path, model, meta)


def make_sklearn_bundle(path: Path, *, name: str = "Tone Baseline", extra_meta=None) -> Path:
    """Save a scikit-learn bundle (logistic regression on mfcc_stats) fitted on tones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genrenet.bundle import save_bundle
    from genrenet.features import PRESETS, FeatureSpec, extract

    base = PRESETS["mfcc_stats"].to_dict()
    base.update(window=1.0, hop=0.5)
    spec = FeatureSpec.from_dict(base)
    X, y = [], []
    for i, (label, freq) in enumerate([("low", LOW_HZ), ("high", HIGH_HZ)] * 3):
        f = extract(spec, tone(freq * (1 + 0.05 * i), 3.0, seed=i), SR)
        X.append(f)
        y += [label] * len(f)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    clf.fit(np.concatenate(X).reshape(len(y), -1), np.array(y))
    meta = {
        "name": name,
        "model": "baseline",
        "genres": ["low", "high"],
        "feature": spec.to_dict(),
        "metrics": {"accuracy": 1.0},
        **(extra_meta or {}),
    }
    return save_bundle(path, clf, meta)


@contextlib.contextmanager
def serve_app(app):
    """Run ``app`` on a threaded werkzeug server on 127.0.0.1 (free port); yield its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wav_bytes(y: np.ndarray, *, sr: int = SR) -> bytes:
    """``y`` encoded as a 16-bit WAV file in memory."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def post_chunked(url: str, n_bytes: int, *, timeout: float = 30.0) -> tuple[int, bytes]:
    """POST a multipart upload of ``n_bytes`` zeros with chunked encoding (no Content-Length).

    Returns the status and body of the answer. The server may stop reading once its
    limit is hit, so a broken pipe while sending is expected and ignored.
    """
    import http.client
    from urllib.parse import urlparse

    where = urlparse(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout)
    boundary = "xyzBOUNDARY"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    chunks = [head] + [b"\0" * 16384] * (n_bytes // 16384) + [f"\r\n--{boundary}--\r\n".encode()]
    try:
        conn.putrequest("POST", "/api/predict")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def bombs() -> dict[str, bytes]:
    """Decode bombs: a WAV whose header says 1 Hz, a silent 10-minute FLAC, a FLAC claiming 2**36 samples."""
    import struct

    import soundfile as sf

    wav = bytearray(wav_bytes(np.zeros(20000, np.float32)))
    wav[24:28], wav[28:32] = struct.pack("<I", 1), struct.pack("<I", 2)
    silent = io.BytesIO()
    with sf.SoundFile(silent, "w", samplerate=8000, channels=1, format="FLAC", subtype="PCM_16") as fh:
        for _ in range(10):
            fh.write(np.zeros(8000 * 60, np.int16))
    lie = io.BytesIO()
    sf.write(lie, tone(LOW_HZ, 1.0), SR, format="FLAC", subtype="PCM_16")
    lied = bytearray(lie.getvalue())
    lied[18:26] = (int.from_bytes(lied[18:26], "big") | ((1 << 36) - 1)).to_bytes(8, "big")
    return {"bomb.wav": bytes(wav), "silent.flac": silent.getvalue(), "lie.flac": bytes(lied)}


#: Largest size of the committed page screenshot (docs/upload-page.png): no large binaries in the repo.
DOCS_SCREENSHOT_MAX_BYTES = 150_000


def save_docs_screenshot(png: bytes, path: Path, *, source: str) -> Path:
    """Write a browser screenshot as a small palette PNG that names the test that took it.

    The ``Source`` text chunk records ``source``; tests/test_book_sources.py checks that the
    committed picture carries it and stays under :data:`DOCS_SCREENSHOT_MAX_BYTES`.
    """
    from PIL import Image, PngImagePlugin

    from genrenet.io import atomic_path

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
    info = PngImagePlugin.PngInfo()
    info.add_text("Source", source)
    info.add_text("Description", "The genrenet upload page after a prediction, captured in headless Chromium.")
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG", optimize=True, pnginfo=info)
    return path
