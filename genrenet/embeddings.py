"""Pretrained music embeddings: the musicnn networks (Pons & Serra 2019) in TensorFlow 2.

Transfer learning starts from a network that has already heard a lot of music. musicnn
was trained to tag songs: ``MSD_musicnn`` on the Million Song Dataset (50 Last.fm tags such
as *rock*, *jazz*, *Hip-Hop*, *80s*) and ``MTT_musicnn`` on MagnaTagATune (50 tags such as
*guitar*, *classical*, *techno*). Its inner representations are good, general descriptions
of a piece of music, and a small classifier on top of them (a "head") learns genres from a
few hundred clips far better than a network trained from scratch on those clips.

The weights ship inside the PyPI wheel ``musicnn==0.1.0`` (ISC licence) as TensorFlow 1
checkpoints. The package's own code needs TensorFlow 1 and Keras 2, and importing its
``musicnn.extractor`` or ``musicnn.tagger`` turns off eager execution for the whole process,
so genrenet never imports them: this module reads the checkpoints with
``tf.compat.v1.train.NewCheckpointReader`` and runs the same network as one
``tf.function`` (traced once, fixed input signature, windows in batches). The outputs equal
the original TensorFlow 1 graph's to 1e-4 (``tests/test_embeddings.py`` checks against
reference arrays made once with the original code under ``tf-keras``).

Front end (musicnn's own definition)
    16 kHz mono; STFT with n_fft 512, hop 256, Hann window; 96 Slaney mel bands; the
    compressed magnitude ``log10(1 + 10000 * mel_power)``, computed in float32 (the
    package computes it in float16, which overflows to infinity on loud audio). The whole
    track is transformed once and cut into patches of 187 frames (3 s), every 187 frames by
    default: musicnn's non-overlapping grid.
Outputs per patch (:data:`LAYERS`)
    ``taggram`` (50 tag probabilities, names from :func:`tag_names`), ``penultimate`` (200,
    the last hidden layer), ``mean_pool`` and ``max_pool`` (753 each: the mid-end features,
    averaged or maximised over the patch's frames).

Used in book chapter "The models" (``book/dev_models.md``, transfer learning) by the
``embedding`` feature kind of :mod:`genrenet.features`, and so by the transfer models of
``notebooks/train_model.ipynb`` and the shipped default model.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np

from genrenet.errors import ModelError, ParameterError

__all__ = [
    "MUSICNN_MODELS",
    "LAYERS",
    "SR",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "PATCH_FRAMES",
    "INSTALL_COMMAND",
    "MissingWeightsError",
    "checkpoint_dir",
    "tag_names",
    "log_mel",
    "patch_frames",
    "patch_starts",
    "cut_patches",
    "Musicnn",
    "load_musicnn",
    "embed",
]

#: The pretrained musicnn models the wheel carries.
MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")
#: Output name -> size per patch.
LAYERS = {"taggram": 50, "penultimate": 200, "mean_pool": 753, "max_pool": 753}
#: musicnn's input: sample rate, STFT size and hop, mel bands, frames per 3 s patch.
SR, N_FFT, HOP_LENGTH, N_MELS, PATCH_FRAMES = 16000, 512, 256, 96, 187
#: How to install the weights (the wheel pins numpy<1.17, which genrenet does not honour).
INSTALL_COMMAND = "pip install --no-deps musicnn==0.1.0"

_BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
_BATCH = 4  # patches per graph call: the front end's activations stay ~40 MB (16 kept ~150 MB more per process, no faster)


class MissingWeightsError(ModelError):
    """The ``musicnn`` wheel (which carries the pretrained weights) is not installed."""

    def __init__(self, detail: str = ""):
        super().__init__(
            "the pretrained musicnn weights are not installed: genrenet's transfer models need the "
            f"wheel musicnn==0.1.0; install it with `{INSTALL_COMMAND}` (--no-deps because the wheel "
            "declares numpy<1.17, which genrenet does not need)" + (f" [{detail}]" if detail else "")
        )


def _check_model(model: str) -> str:
    if model not in MUSICNN_MODELS:
        raise ParameterError(f"model must be one of {MUSICNN_MODELS}, got {model!r}")
    return model


def checkpoint_dir(model: str = "MSD_musicnn") -> Path:
    """Directory of ``model``'s checkpoint inside the installed ``musicnn`` wheel.

    The package is located without being imported.

    Raises
    ------
    MissingWeightsError
        The wheel is not installed, or the checkpoint files are missing from it.
    """
    _check_model(model)
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError("no module named 'musicnn'")
    path = Path(list(spec.submodule_search_locations)[0]) / model
    if not (path / ".index").is_file():
        raise MissingWeightsError(f"{path / '.index'} is missing")
    return path


def tag_names(model: str = "MSD_musicnn") -> list[str]:
    """The 50 tag names of ``model``'s taggram, in output order.

    Read from the wheel's ``musicnn/configuration.py`` (plain constants; importing it loads
    nothing else).
    """
    checkpoint_dir(model)  # clear error when the wheel is missing
    config = importlib.import_module("musicnn.configuration")
    return list(config.MSD_LABELS if model.startswith("MSD") else config.MTT_LABELS)


# --------------------------------------------------------------------------- front end


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's input representation of a 16 kHz mono signal.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono signal at :data:`SR` Hz.

    Returns
    -------
    ndarray of float32, shape (1 + n // 256, 96)
        ``log10(1 + 10000 * mel_power)`` per STFT frame (time first, as the network reads it).

    Examples
    --------
    >>> import numpy as np
    >>> log_mel(np.zeros(16000, dtype=np.float32)).shape
    (63, 96)
    """
    from genrenet.spectrogram import melspectrogram

    mel = melspectrogram(np.asarray(y, dtype=np.float32), SR, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
    return np.log10(np.float32(1.0) + np.float32(10000.0) * mel.T).astype(np.float32, copy=False)


def patch_frames(window: float, hop: float) -> tuple[int, int]:
    """Patch length and hop in frames for ``window`` and ``hop`` seconds.

    The length follows musicnn (``librosa.time_to_frames(window) + 1``: 187 frames for
    3 s); the hop is the nearest whole number of frames (187 for 2.992 s).
    """
    length = int((window * SR - N_FFT // 2) // HOP_LENGTH) + 1
    step = int(round(hop * SR / HOP_LENGTH))
    if length != PATCH_FRAMES:
        raise ParameterError(f"window must give musicnn's {PATCH_FRAMES}-frame patches (3 s), got {window} s "
                             f"= {length} frames")
    if step < 1:
        raise ParameterError(f"hop ({hop} s) must be at least one frame ({HOP_LENGTH / SR} s)")
    return length, step


def patch_starts(n_frames: int, *, hop_frames: int = PATCH_FRAMES, min_fill: float = 0.5) -> np.ndarray:
    """First frame of every patch of a track with ``n_frames`` frames.

    The policy of :func:`genrenet.audio.window_starts`, counted in frames: full patches
    every ``hop_frames``; a partial tail patch only when at least ``min_fill`` of it is
    new audio; a track shorter than one patch gives one (padded) patch.
    """
    from genrenet.audio import window_starts

    # window_starts works in any unit: with "1 Hz" its seconds are frames
    starts, _ = window_starts(int(n_frames), 1, window=PATCH_FRAMES, hop=int(hop_frames), min_fill=min_fill)
    return starts


def cut_patches(frames: np.ndarray, starts: np.ndarray, *, pad: str = "zero") -> np.ndarray:
    """Patches ``frames[s : s + 187]`` for every start ``s``; short ones padded.

    ``pad="zero"`` fills with ``0`` (the value of silence after ``log10(1 + x)``);
    ``"repeat"`` tiles the patch's own frames.

    Returns
    -------
    ndarray of float32, shape (len(starts), 187, 96)
    """
    if pad not in ("zero", "repeat"):
        raise ParameterError(f"pad must be 'zero' or 'repeat', got {pad!r}")
    out = np.zeros((len(starts), PATCH_FRAMES, frames.shape[1]), dtype=np.float32)
    for k, s in enumerate(np.asarray(starts, dtype=np.int64)):
        part = frames[s: s + PATCH_FRAMES]
        if len(part) == PATCH_FRAMES or pad == "zero":
            out[k, : len(part)] = part
        else:
            out[k] = np.resize(part, (PATCH_FRAMES, frames.shape[1]))
    return out


# --------------------------------------------------------------------------- network


def _read_weights(model: str) -> dict[str, np.ndarray]:
    from genrenet._tf import tf

    where = checkpoint_dir(model)
    try:
        # The files are named ".index"/".data-*" (empty prefix) and the `checkpoint` file
        # names a path from the authors' machine, so the directory itself is the prefix.
        reader = tf.compat.v1.train.NewCheckpointReader(str(where) + "/")
        names = reader.get_variable_to_shape_map()
        return {n: reader.get_tensor(n) for n in names if "Adam" not in n and not n.endswith("_power")}
    except Exception as exc:  # the reader raises several TensorFlow error types
        raise ModelError(f"cannot read the musicnn checkpoint in {where}: {exc}") from exc


def _batch_norm(w: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch normalisation number ``index`` as ``x * scale + shift``."""
    name = "batch_normalization" + (f"_{index}" if index else "")
    gamma, beta, mean, var = (w[f"{name}/{p}"].astype(np.float64)
                              for p in ("gamma", "beta", "moving_mean", "moving_variance"))
    scale = gamma / np.sqrt(var + _BN_EPSILON)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _conv(w: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    name = "conv2d" + (f"_{index}" if index else "")
    return w[f"{name}/kernel"], w[f"{name}/bias"]


class Musicnn:
    """One pretrained musicnn network, ready for inference on log-mel patches.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}
        Which checkpoint of the wheel to load.

    Notes
    -----
    The front end's convolutions are followed by ReLU, batch normalisation and a maximum
    over frequency. Batch normalisation at inference is ``a * x + c`` per channel, so the
    maximum is taken first (of the raw convolution, or its minimum where ``a < 0``) and the
    bias, ReLU and normalisation are applied to the pooled values: the same numbers with
    far less memory traffic. Everything else follows the original graph operation by
    operation.

    Examples
    --------
    >>> net = Musicnn("MSD_musicnn")                        # doctest: +SKIP
    >>> out = net(np.zeros((2, 187, 96), np.float32))       # doctest: +SKIP
    >>> out["taggram"].shape, out["max_pool"].shape         # doctest: +SKIP
    ((2, 50), (2, 753))
    """

    def __init__(self, model: str = "MSD_musicnn"):
        from genrenet._tf import tf

        self.model = _check_model(model)
        w = _read_weights(model)
        self._tf = tf
        self._consts = {k: tf.constant(v) for k, v in self._prepare(w).items()}
        spec = tf.TensorSpec(shape=(None, PATCH_FRAMES, N_MELS), dtype=tf.float32)
        self._fn = tf.function(self._forward, input_signature=[spec])
        self._fn(tf.zeros((1, PATCH_FRAMES, N_MELS)))  # trace now, once

    @staticmethod
    def _prepare(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p: dict[str, np.ndarray] = {}
        p["in_scale"], p["in_shift"] = _batch_norm(w, 0)
        for i in range(5):  # front end: two timbral, three temporal convolutions
            p[f"fk{i}"], p[f"fb{i}"] = _conv(w, i)
            p[f"fs{i}"], p[f"fc{i}"] = _batch_norm(w, i + 1)
        for i in range(3):  # mid end: convolutions over time with all channels
            kernel, p[f"mb{i}"] = _conv(w, 5 + i)
            p[f"mk{i}"] = kernel[:, :, 0, :]  # (7, channels, 64): a 1-D convolution
            p[f"ms{i}"], p[f"mc{i}"] = _batch_norm(w, 6 + i)
        p["pool_scale"], p["pool_shift"] = _batch_norm(w, 9)
        p["dense_k"], p["dense_b"] = w["dense/kernel"], w["dense/bias"]
        p["pen_scale"], p["pen_shift"] = _batch_norm(w, 10)
        p["out_k"], p["out_b"] = w["dense_1/kernel"], w["dense_1/bias"]
        return p

    def _front(self, x, i: int, padding: str):
        """Convolution ``i`` of the front end, pooled over frequency -> (batch, time, filters)."""
        tf, c = self._tf, self._consts
        z = tf.nn.conv2d(x, c[f"fk{i}"], strides=1, padding=padding)
        pooled = tf.where(c[f"fs{i}"] >= 0, tf.reduce_max(z, axis=2), tf.reduce_min(z, axis=2))
        return tf.nn.relu(pooled + c[f"fb{i}"]) * c[f"fs{i}"] + c[f"fc{i}"]

    def _mid(self, h, i: int):
        tf, c = self._tf, self._consts
        z = tf.nn.conv1d(tf.pad(h, [[0, 0], [3, 3], [0, 0]]), c[f"mk{i}"], stride=1, padding="VALID")
        return tf.nn.relu(z + c[f"mb{i}"]) * c[f"ms{i}"] + c[f"mc{i}"]

    def _forward(self, x):
        tf, c = self._tf, self._consts
        x = x[..., None] * c["in_scale"] + c["in_shift"]
        padded = tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])
        front = tf.concat([self._front(padded, 0, "VALID"), self._front(padded, 1, "VALID"),
                           *(self._front(x, i, "SAME") for i in (2, 3, 4))], axis=2)
        mid1 = self._mid(front, 0)
        mid2 = self._mid(mid1, 1) + mid1
        mid3 = self._mid(mid2, 2) + mid2
        mid = tf.concat([front, mid1, mid2, mid3], axis=2)  # (batch, time, 753)
        max_pool, mean_pool = tf.reduce_max(mid, axis=1), tf.reduce_mean(mid, axis=1)
        # the original flattens [max, mean] stacked on a last axis: values interleave
        pooled = tf.reshape(tf.stack([max_pool, mean_pool], axis=2), [-1, 2 * mid.shape[-1]])
        pooled = pooled * c["pool_scale"] + c["pool_shift"]
        hidden = tf.nn.relu(tf.matmul(pooled, c["dense_k"]) + c["dense_b"])
        penultimate = hidden * c["pen_scale"] + c["pen_shift"]
        taggram = tf.sigmoid(tf.matmul(penultimate, c["out_k"]) + c["out_b"])
        return {"taggram": taggram, "penultimate": penultimate, "mean_pool": mean_pool, "max_pool": max_pool}

    def __call__(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs of every patch.

        Parameters
        ----------
        patches : ndarray, shape (n, 187, 96)
            Log-mel patches (:func:`log_mel`, :func:`cut_patches`).

        Returns
        -------
        dict of str -> ndarray of float32
            ``taggram`` (n, 50), ``penultimate`` (n, 200), ``mean_pool`` and ``max_pool`` (n, 753).
        """
        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise ParameterError(f"patches must have shape (n, {PATCH_FRAMES}, {N_MELS}), got {patches.shape}")
        if not np.isfinite(patches).all():
            raise ParameterError("patches contain NaN or infinite values")
        if len(patches) == 0:
            return {k: np.zeros((0, d), np.float32) for k, d in LAYERS.items()}
        parts = [self._fn(self._tf.constant(patches[i: i + _BATCH])) for i in range(0, len(patches), _BATCH)]
        return {k: np.concatenate([p[k].numpy() for p in parts], axis=0) for k in LAYERS}


_LOCK = threading.Lock()


@functools.cache
def _cached(model: str) -> Musicnn:
    return Musicnn(model)


def load_musicnn(model: str = "MSD_musicnn") -> Musicnn:
    """The process-wide :class:`Musicnn` for ``model`` (loaded and traced on first use)."""
    _check_model(model)
    with _LOCK:  # one load even when several threads ask at once
        return _cached(model)


def embed(y: np.ndarray, *, models=("MSD_musicnn",), layers=("max_pool",), hop_frames: int = PATCH_FRAMES,
          pad: str = "zero", min_fill: float = 0.5, select=None) -> np.ndarray:
    """Embeddings of every 3 s patch of a 16 kHz mono signal.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono signal at :data:`SR` Hz (finite, non-empty).
    models : sequence of str, keyword-only
        Networks whose outputs are concatenated, in this order.
    layers : sequence of str, keyword-only
        Outputs (:data:`LAYERS`) concatenated for each network, in this order.
    hop_frames : int, keyword-only
        Frames between patch starts (default 187: musicnn's non-overlapping grid).
    pad, min_fill : keyword-only
        Padding and tail policy of partial patches (:func:`patch_starts`, :func:`cut_patches`).
    select : sequence of int, keyword-only, optional
        Embed only these patch numbers (increasing), e.g. evenly spaced ones of a long track.

    Returns
    -------
    ndarray of float32, shape (n_patches, sum of the layer sizes x len(models))
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0 or not np.isfinite(y).all():
        raise ParameterError("y must be a non-empty, finite mono signal")
    unknown = [name for name in layers if name not in LAYERS]
    if unknown or not layers:
        raise ParameterError(f"layers must be names among {sorted(LAYERS)}, got {list(layers)}")
    frames = log_mel(y)
    starts = patch_starts(len(frames), hop_frames=hop_frames, min_fill=min_fill)
    if select is not None:
        starts = starts[np.asarray(select, dtype=np.int64)]
    patches = cut_patches(frames, starts, pad=pad)
    parts = []
    for model in models:
        out = load_musicnn(model)(patches)
        parts.extend(out[name] for name in layers)
    return np.concatenate(parts, axis=1)
