"""``genrenet train``: train a model (or the baseline) and write its bundle.

Examples::

    genrenet train --model compact_cnn --dataset demo --epochs 5 --out runs/compact
    genrenet train --model cnn --dataset gtzan --data-dir ~/gtzan-mini \\
        --genres classical,country,metal,pop --folds 5 --out runs/cnn4

With ``--folds K`` (or ``--split kfold``) the command cross-validates, prints the
pooled metrics, then trains the bundle it leaves on every track for the epoch count
the folds chose (:func:`genrenet.train.train_after_cv`): folds and pooled metrics in
``OUT``, the bundle in ``OUT/final``. The notebook ``notebooks/train_model.ipynb``
does the same with ``folds > 0``.

Used in the book chapter "The models" (``book/dev_models.md``); the notebook ``notebooks/train_model.ipynb``
calls the same :mod:`genrenet.train` functions.
"""

from __future__ import annotations

import argparse

from genrenet.commands import dataset_help, feature_help, model_choices, split_choices
from genrenet.repro import DEFAULT_SEED

__all__ = ["register", "run", "model_choices", "split_choices"]


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    from genrenet.splits import GROUPINGS

    p = subparsers.add_parser(
        "train",
        help="train a model on a data set and save a bundle",
        description="Train one of the thesis models, the compact CNN or the classical baseline. "
        "A finished run directory with the same configuration is skipped; --folds K (or --split kfold) runs "
        "grouped cross-validation (contiguous id blocks, no track in two folds), then trains the bundle on every "
        "track for the median best epoch of the folds (written to OUT/final).",
    )
    p.add_argument("--model", required=True, choices=model_choices())
    p.add_argument("--dataset", default="demo", help=dataset_help())
    p.add_argument("--data-dir", default=None, help="directory of the data set (demo may omit it)")
    p.add_argument("--split", default="stratified", choices=split_choices())
    p.add_argument("--splits-dir", default=None,
                   help="for --split fault-filtered and fault-filtered-final: directory holding train_filtered.txt, valid_filtered.txt "
                   "and test_filtered.txt (default: download them, checksummed)")
    p.add_argument("--folds", type=int, default=None,
                   help="cross-validate with this many folds (at least 2; implies --split kfold, whose default is 5)")
    p.add_argument("--by", default="block", choices=GROUPINGS, help="grouping for kfold (default block)")
    p.add_argument("--feature", default=None, help=feature_help())
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=8, help="early-stopping patience (0 disables it)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--genres", default=None, help="comma-separated genres to keep, e.g. classical,country,metal,pop")
    p.add_argument("--augment", nargs="?", const=True, default=None, metavar="NAMES",
                   help="also train on degraded copies of the training clips (never of validation or test clips): "
                   "comma-separated names such as mp3_64,sr_16k,gain_-20db (mp3_<kbps>, sr_<kHz>k, gain_<dB>db, "
                   "stereo_mono); without NAMES: mp3_32,mp3_64,sr_8k,sr_16k,gain_-20db")
    p.add_argument("--name", default=None, help="display name stored in the bundle")
    p.add_argument("--out", required=True,
                   help="run directory (bundle) to write; with --folds: the folds and pooled metrics, "
                   "and the bundle in OUT/final")
    p.add_argument("--force", action="store_true", help="retrain even if --out holds a finished run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``genrenet train``."""
    import json

    from genrenet.notebook import check_feature
    from genrenet.train import train, train_after_cv

    split, folds = _split_and_folds(args)
    check_feature(args.feature, model=args.model)  # before any data is read
    common = dict(
        feature=args.feature,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        patience=args.patience or None,
        genres=args.genres,
        data_dir=args.data_dir,
        progress=not args.quiet,
        force=args.force,
    )
    if args.augment:
        from genrenet.augment import resolve_degradations

        resolve_degradations(args.augment)  # a bad name fails before any data is read
        common["augment"] = args.augment
    if args.name:
        common["name"] = args.name
    if split == "kfold":
        result = train_after_cv(args.model, args.dataset, folds=folds, by=args.by, out_dir=args.out, **common)
    else:
        result = train(args.model, args.dataset, split=split, out_dir=args.out, splits_dir=args.splits_dir,
                       **common)
    if args.json:
        print(json.dumps(result.record.to_dict(), indent=2, sort_keys=True, default=str))
        return 0
    _report(result, model=args.model)
    return 0


def _report(result, *, model: str) -> None:
    """Print what was trained on what, its scores, and where it was written."""
    from genrenet.evaluate import format_metrics
    from genrenet.results import CVResult

    record = result.record
    print(f"{record.name} on {record.data_label}, genres: {', '.join(record.genres)}")
    print(f"protocol: {record.protocol}; seed {record.seed}")
    if record.metrics is not None:
        print(format_metrics(record.metrics))
    else:
        print("no held-out tracks (split 'all'): no test metrics")
    if isinstance(result, CVResult) and result.final is not None:
        print(f"cross-validation written to {result.out_dir}")
        info = record.final
        how = (f"for {info.epochs} epochs ({info.epochs_rule})" if model != "baseline"
               else "(the baseline is fitted in one step)")
        print(f"bundle trained on all {info.train_tracks} tracks {how}: {result.final.out_dir}")
    else:
        print(f"written to {result.out_dir}")


def _split_and_folds(args: argparse.Namespace) -> tuple[str, int | None]:
    """``--split`` and ``--folds`` together: ``--folds K`` means k-fold; k-fold defaults to 5 folds."""
    from genrenet.errors import ParameterError

    if args.epochs < 1:
        raise ParameterError(f"--epochs must be at least 1, got {args.epochs}")
    if args.folds is None:
        return args.split, (5 if args.split == "kfold" else None)
    if args.split not in ("stratified", "kfold"):
        raise ParameterError(f"--folds {args.folds} is cross-validation: it cannot be combined with --split {args.split}")
    if args.folds < 2:
        raise ParameterError(f"--folds must be at least 2, got {args.folds}")
    return "kfold", args.folds
