"""``genrenet tune``: a Keras Tuner search (local or distributed) for one architecture.

Used in the book chapter "Tuning the models" (``book/dev_tuning.md``; the page
``book/tuning_distributed.md`` gives the distributed commands) and by the
notebook ``notebooks/tuning.ipynb`` through :func:`genrenet.tuning.run_search`.
"""

from __future__ import annotations

import argparse
import json

from genrenet.commands import dataset_help, feature_help, split_choices, split_name
from genrenet.errors import DataError, ParameterError
from genrenet.repro import DEFAULT_SEED


def register(subparsers) -> None:
    """Add the ``tune`` subcommand."""
    from genrenet.splits import GROUPINGS
    from genrenet.tuning import SEARCH_SPACES, TUNERS

    p = subparsers.add_parser(
        "tune",
        help="hyperparameter search with Keras Tuner (random, Hyperband, Bayesian; local or distributed)",
        description="Search the hyperparameters of one architecture and save the best ones (best.json) and "
        "a trial table (trials.csv) in a fresh project directory under --out. For distributed tuning run "
        "the same command with KERASTUNER_TUNER_ID=chief and with KERASTUNER_TUNER_ID=tuner0, tuner1, ... "
        "(plus KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT) and a shared --project.",
    )
    p.add_argument("--model", required=True, choices=list(SEARCH_SPACES), help="architecture to tune")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", default="demo", help=dataset_help())
    src.add_argument("--data", metavar="NPZ", help="tune on arrays from an .npz with X, y (and optional groups)")
    p.add_argument("--data-dir", default=None, help="where the data set lives (not needed for demo)")
    p.add_argument("--genres", default=None, help="comma-separated genres to keep")
    p.add_argument("--feature", default=None, help=feature_help())
    p.add_argument("--split", default="stratified", type=split_name, choices=split_choices(),
                   help="split whose validation tracks score the trials, named as in genrenet train; kfold: "
                   "the first of --folds grouped folds (default stratified; 'block' is the old name of kfold)")
    p.add_argument("--folds", type=int, default=5, help="folds of --split kfold (default 5)")
    p.add_argument("--by", default="block", choices=GROUPINGS, help="grouping of --split kfold (default block)")
    p.add_argument("--tuner", default="random", choices=TUNERS, help="search algorithm")
    p.add_argument("--trials", type=int, default=10, help="number of trials (Hyperband: a cap)")
    p.add_argument("--epochs", type=int, default=5, help="epochs per trial (Hyperband: the maximum)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--space", default=None, metavar="JSON",
                   help='search-space overrides, e.g. \'{"units": [16, 32], "optimizer": "adam"}\'')
    p.add_argument("--out", required=True, help="directory holding the project directories")
    p.add_argument("--project", default=None,
                   help="project name: resume it (same data and settings only) or create it; required "
                   "for distributed tuning; default a fresh unique name")
    p.add_argument("--workers", type=int, default=1, help="distributed chief: number of workers to wait for")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="distributed: seconds before the chief (or a worker waiting for it) gives up")
    p.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs under the project")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _load_npz(path: str):
    import numpy as np

    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"--data {path}: cannot read the .npz file: {exc}") from exc
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(f"--data {path}: the .npz file has no array {key!r} (found {sorted(arrays)})")
    return arrays


def _featureset(args):
    """Data set, feature and split of ``--dataset`` through :mod:`genrenet.inputs`; ``kfold`` is the first grouped fold."""
    from genrenet.cache import featurize
    from genrenet.inputs import resolve_inputs
    from genrenet.splits import grouped_kfold

    split = None if args.split == "kfold" else args.split
    inputs = resolve_inputs(args.model, args.dataset, data_dir=args.data_dir, genres=args.genres,
                            feature=args.feature, split=split, seed=args.seed)
    fs = featurize(inputs.dataset, inputs.feature, progress=not args.quiet)
    if args.split == "kfold":
        return fs, grouped_kfold(inputs.dataset, folds=args.folds, by=args.by, seed=args.seed)[0]
    return fs, inputs.split


def run(args: argparse.Namespace) -> int:
    """Run the search and print where the best hyperparameters were saved."""
    from genrenet.tuning import run_search

    space = None
    if args.space:
        try:
            space = json.loads(args.space)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"--space is not valid JSON: {exc}") from exc
        if not isinstance(space, dict):
            raise ParameterError("--space must be a JSON object mapping option names to values or lists")
    common = dict(
        tuner=args.tuner, max_trials=args.trials, epochs=args.epochs, batch_size=args.batch_size,
        seed=args.seed, out_dir=args.out, project_name=args.project, space=space, workers=args.workers,
        timeout=args.timeout, tensorboard=args.tensorboard, progress=not args.quiet,
    )
    if args.data:
        arrays = _load_npz(args.data)
        validation = (arrays["X_val"], arrays["y_val"]) if "X_val" in arrays and "y_val" in arrays else None
        result = run_search(args.model, (arrays["X"], arrays["y"]), groups=arrays.get("groups"),
                            validation_data=validation, **common)
    else:
        fs, split = _featureset(args)
        result = run_search(args.model, fs, split=split, **common)
    if result.role == "worker":
        ids = ", ".join(t["trial_id"] for t in result.trials) or "none"
        print(f"worker finished; trials run here: {ids}")
        return 0
    print(f"project: {result.project_dir}")
    print(f"best {result.objective}: {result.best_score}")
    print("best hyperparameters: " + json.dumps(result.best_hyperparameters, sort_keys=True, default=str))
    print(f"saved {result.project_dir / 'best.json'} and {result.project_dir / 'trials.csv'}")
    return 0
