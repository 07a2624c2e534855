"""The classical baseline: MFCC and spectral statistics + a scikit-learn classifier.

Before convolutional networks, genre classifiers summarised each stretch of
audio by statistics of its MFCCs and a few spectral descriptors and fed them to
an SVM (Tzanetakis & Cook 2002; Xu et al. 2003, which the thesis cites). This
module is that baseline on the ``"mfcc_stats"`` feature (one vector per 3 s
window): standardisation followed by an RBF-kernel SVM with Platt-scaled
probabilities, or a multinomial logistic regression. Track predictions average
the window probabilities, exactly like the neural models, so both are compared
under the same folds and the same track-level rule.

The estimator is a plain scikit-learn ``Pipeline`` (``fit``, ``predict``,
``predict_proba``, ``score``); bundles store it as ``model.joblib``, so loading
one needs nothing from genrenet.

Used in the book chapter ``book/dev_models.md`` and the notebooks
``notebooks/train_model.ipynb`` (``model = "baseline"``) and ``notebooks/results.ipynb``.
"""

from __future__ import annotations

import numpy as np

from genrenet._validate import int_at_least, positive_float
from genrenet.errors import ParameterError
from genrenet.evaluate import track_probabilities
from genrenet.repro import DEFAULT_SEED

__all__ = ["KINDS", "build_baseline", "fit_baseline", "predict_tracks", "score_tracks"]

KINDS = ("svm", "logreg")


def build_baseline(
    *,
    kind: str = "svm",
    C: float = 10.0,
    class_weight: str | None = "balanced",
    seed: int = DEFAULT_SEED,
    calibration_folds: int = 3,
):
    """Return an unfitted baseline pipeline (StandardScaler → classifier).

    Parameters
    ----------
    kind : {"svm", "logreg"}, keyword-only
        RBF-kernel SVM with probability estimates, or logistic regression.
    C : float, keyword-only
        Inverse regularisation strength (> 0).
    class_weight : "balanced" or None, keyword-only
        Weight classes inversely to their frequency (GTZAN-mini's classical is ten
        times larger than the other genres).
    seed : int, keyword-only
        Seed of the classifier.
    calibration_folds : int, keyword-only
        Folds of the SVM's sigmoid (Platt) probability calibration (>= 2).

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {KINDS}, got {kind!r}")
    C = positive_float("C", C)
    calibration_folds = int_at_least("calibration_folds", calibration_folds, 2)
    if class_weight not in ("balanced", None):
        raise ParameterError(f"class_weight must be 'balanced' or None, got {class_weight!r}")
    if kind == "svm":
        # Platt scaling fitted by internal cross-validation, then one SVM on all the data
        # (what SVC(probability=True) did before scikit-learn 1.9 deprecated it)
        svc = SVC(C=C, kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed)
        clf = CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_folds, ensemble=False)
    else:
        clf = LogisticRegression(C=C, max_iter=2000, class_weight=class_weight, random_state=seed)
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def _check_xy(X, y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ParameterError(f"X must be a non-empty (n_windows, n_features) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ParameterError("X contains NaN or infinite values")
    if y is None:
        return X, None
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ParameterError(f"y must have one label per row of X ({len(X)}), got shape {y.shape}")
    return X, y


def fit_baseline(X, y, *, n_classes: int | None = None, **options):
    """Build and fit the baseline on window features.

    Parameters
    ----------
    X : array, shape (n_windows, n_features)
        ``"mfcc_stats"`` features.
    y : array of int, shape (n_windows,)
        Class index of each window.
    n_classes : int, keyword-only, optional
        Total number of classes; every one must occur in ``y`` (an SVM cannot
        give probabilities for a class it never saw).
    **options
        Passed to :func:`build_baseline` (``kind``, ``C``, ``class_weight``, ``seed``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted.
    """
    X, y = _check_xy(X, y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ParameterError("y must contain at least two classes to fit the baseline")
    if n_classes is not None and not np.array_equal(classes, np.arange(n_classes)):
        missing = sorted(set(range(n_classes)) - set(classes.tolist()))
        raise ParameterError(f"y lacks classes {missing}: every class needs training windows")
    smallest = int(np.bincount(np.searchsorted(classes, y)).min())
    if options.get("kind", "svm") == "svm":
        # stratified calibration folds need that many windows of every class
        options.setdefault("calibration_folds", max(2, min(3, smallest)))
        if smallest < 2:
            raise ParameterError("y: every class needs at least two windows to calibrate the SVM's probabilities")
    model = build_baseline(**options)
    model.fit(X, y)
    return model


def predict_tracks(model, X, track_of_window) -> tuple[np.ndarray, np.ndarray]:
    """Track-level probabilities: the mean of each track's window probabilities.

    Returns
    -------
    tracks : ndarray of int
        Sorted track indices.
    probs : ndarray, shape (len(tracks), n_classes)
    """
    X, _ = _check_xy(X)
    return track_probabilities(model.predict_proba(X), track_of_window)


def score_tracks(model, X, y, track_of_window) -> float:
    """Track-level accuracy of a fitted model (windows labelled ``y``)."""
    X, y = _check_xy(X, y)
    tracks, probs = predict_tracks(model, X, track_of_window)
    track_of_window = np.asarray(track_of_window)
    truth = np.array([y[np.flatnonzero(track_of_window == t)[0]] for t in tracks])
    return float(np.mean(probs.argmax(axis=1) == truth))
