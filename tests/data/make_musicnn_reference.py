"""Make ``musicnn_reference.npz``: outputs of the ORIGINAL musicnn TensorFlow 1 graph.

Run once, in an environment of its own (never genrenet's), because the original code builds
a TensorFlow 1 graph with ``tf.compat.v1.layers`` (Keras 2) and turns off eager execution::

    python3.11 -m venv /tmp/musicnn-ref
    /tmp/musicnn-ref/bin/pip install tensorflow-cpu==2.21.0 'tf-keras==2.21.*' numpy
    /tmp/musicnn-ref/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/musicnn-ref/bin/python tests/data/make_musicnn_reference.py

The inputs are not stored: :func:`reference_patches` rebuilds them exactly from integer
arithmetic (``tests/test_embeddings.py`` has the same function and checks it against the
checksum saved here).
"""

import hashlib
import os
import sys

import numpy as np


def reference_patches() -> np.ndarray:
    """Four (187, 96) log-mel-like patches: textured, smooth, loud and silent."""
    t = np.arange(187, dtype=np.int64)[:, None]
    f = np.arange(96, dtype=np.int64)[None, :]
    out = np.zeros((4, 187, 96), dtype=np.float32)
    for k in range(3):
        h = ((t * 73856093 + f * 19349663 + (k + 1) * 83492791) % 1000003).astype(np.float64) / 1000003.0
        ridge = np.exp(-((f - 10 - 20 * k - (t % 31)) ** 2) / 50.0)  # a moving spectral peak
        beat = (t % (12 + 4 * k) < 2).astype(np.float64)  # onsets on a grid
        x = 1.0 + 0.9 * h + 2.5 * ridge + 1.5 * beat * np.exp(-f / 40.0)
        out[k] = (x * (2.2 if k == 2 else 1.0)).astype(np.float32)  # patch 2: very loud audio
    return out  # patch 3 stays zero: digital silence


def main() -> None:
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("set TF_USE_LEGACY_KERAS=1 (the original graph needs tf-keras)")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import musicnn
    from musicnn import models

    x_in = reference_patches()
    result = {"input_sha256": np.frombuffer(hashlib.sha256(x_in.tobytes()).digest(), dtype=np.uint8)}
    for name in ("MSD_musicnn", "MTT_musicnn"):
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(x, is_training, name, 50)
            taggram = tf.nn.sigmoid(y)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + "/" + name + "/")
            outs = sess.run([taggram, penultimate, mean_pool, max_pool], feed_dict={x: x_in, is_training: False})
        for key, value in zip(("taggram", "penultimate", "mean_pool", "max_pool"), outs, strict=True):
            result[f"{name}/{key}"] = value.astype(np.float32)
            print(name, key, value.shape, float(np.abs(value).max()))
    here = os.path.dirname(os.path.abspath(__file__))
    np.savez_compressed(os.path.join(here, "musicnn_reference.npz"), **result)


if __name__ == "__main__":
    main()
