"""``genrenet train``: train a model (or the baseline) and write its bundle.

Examples::

    genrenet train --model compact_cnn --dataset demo --epochs 5 --out runs/compact
    genrenet train --model cnn --dataset gtzan --data-dir ~/gtzan-mini \\
        --genres classical,country,metal,pop --split kfold --folds 5 --out runs/cnn4

Used in the book chapter "The models" (06); the notebook ``notebooks/train_model.ipynb``
calls the same :mod:`genrenet.train` functions.
"""

from __future__ import annotations

import argparse

MODEL_CHOICES = ("feed_forward", "lenet", "cnn", "lstm", "compact_cnn", "baseline")
SPLIT_CHOICES = ("stratified", "kfold", "fault-filtered", "all")


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help="train a model on a data set and save a bundle",
        description="Train one of the thesis models, the compact CNN or the classical baseline. "
        "A finished run directory with the same configuration is skipped; --split kfold runs "
        "grouped cross-validation (contiguous id blocks, no track in two folds).",
    )
    p.add_argument("--model", required=True, choices=MODEL_CHOICES)
    p.add_argument("--dataset", default="demo", help="registered data set name (demo, gtzan, folder, ...)")
    p.add_argument("--data-dir", default=None, help="directory of the data set (demo may omit it)")
    p.add_argument("--split", default="stratified", choices=SPLIT_CHOICES)
    p.add_argument("--splits-dir", default=None,
                   help="for --split fault-filtered: directory holding train_filtered.txt, valid_filtered.txt "
                   "and test_filtered.txt (default: download them, checksummed)")
    p.add_argument("--folds", type=int, default=5, help="folds for --split kfold (default 5)")
    p.add_argument("--by", default="block", choices=("block", "track", "artist"), help="grouping for kfold")
    p.add_argument("--feature", default=None, help="feature preset (default: the model's own)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=8, help="early-stopping patience (0 disables it)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--genres", default=None, help="comma-separated genres to keep, e.g. classical,country,metal,pop")
    p.add_argument("--name", default=None, help="display name stored in the bundle")
    p.add_argument("--out", required=True, help="run directory (bundle) to write")
    p.add_argument("--force", action="store_true", help="retrain even if --out holds a finished run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``genrenet train``."""
    import json

    from genrenet.errors import ParameterError
    from genrenet.evaluate import format_metrics
    from genrenet.train import cross_validate, train

    if args.epochs < 1:
        raise ParameterError(f"--epochs must be at least 1, got {args.epochs}")
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
    if args.name:
        common["name"] = args.name
    if args.split == "kfold":
        result = cross_validate(args.model, args.dataset, folds=args.folds, by=args.by, out_dir=args.out, **common)
        metrics = result.metrics
    else:
        dataset, split = args.dataset, args.split
        if args.split == "fault-filtered" and args.splits_dir:
            from genrenet.splits import fault_filtered_split
            from genrenet.train import resolve_dataset

            dataset = resolve_dataset(args.dataset, data_dir=args.data_dir, genres=args.genres)
            split = fault_filtered_split(dataset, lists_dir=args.splits_dir)
            common["genres"] = None
        result = train(args.model, dataset, split=split, out_dir=args.out, **common)
        metrics = result.metrics
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True, default=str))
        return 0
    data = metrics["dataset"] + (" (SYNTHETIC demo corpus)" if metrics.get("synthetic") else "")
    print(f"{metrics['name']} on {data}, genres: {', '.join(metrics['genres'])}")
    print(f"protocol: {metrics['protocol']}; seed {metrics['seed']}")
    if "track" in metrics:
        print(format_metrics(metrics))
    else:
        print("no held-out tracks (split 'all'): no test metrics")
    print(f"written to {result.out_dir}")
    return 0
