"""``genrenet select``: the genre-selection experiment (every k-genre subset, shared grouped folds).

Used in the book chapter ``book/dev_data.md`` (section "Choosing four genres") and by the
notebook ``notebooks/genre_selection.ipynb`` through :mod:`genrenet.selection`.
"""

from __future__ import annotations

import argparse

from genrenet.repro import DEFAULT_SEED


def register(subparsers) -> None:
    """Add the ``select`` subcommand."""
    from genrenet.baseline import KINDS
    from genrenet.commands import dataset_help
    from genrenet.selection import LEVELS, METRICS
    from genrenet.splits import GROUPINGS

    p = subparsers.add_parser(
        "select",
        help="score every k-genre subset and count the genres of the best subsets (thesis figures 27-29)",
        description="Train the classical baseline on every k-genre subset under one set of grouped folds, "
        "record each subset's cross-validated score in OUT/selection.json (resumable), and count how often "
        "each genre appears among the subsets above each threshold (OUT/counts.json, OUT/selection.png).",
    )
    p.add_argument("--dataset", default="demo", help=dataset_help())
    p.add_argument("--data-dir", default=None, help="where the data set lives (not needed for demo)")
    p.add_argument("--genres", default=None, help="comma-separated genres to choose from (default all)")
    p.add_argument("--k", type=int, default=4, help="genres per subset (default 4)")
    p.add_argument("--folds", type=int, default=4, help="grouped folds (default 4)")
    p.add_argument("--by", default="block", choices=GROUPINGS, help="fold grouping")
    p.add_argument("--model", default="svm", choices=KINDS, help="baseline classifier")
    p.add_argument("--metric", default="balanced_accuracy", choices=METRICS)
    p.add_argument("--level", default="track", choices=LEVELS)
    p.add_argument("--thresholds", default="0.65,0.70,0.75", help="comma-separated score thresholds")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--max-subsets", type=int, default=None, help="stop after this many subsets (resume later)")
    p.add_argument("--out", required=True, help="output directory (reruns resume from it)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run or resume the experiment and print the genre counts."""
    from pathlib import Path

    from genrenet.datasets import data_label
    from genrenet.errors import ParameterError
    from genrenet.inputs import resolve_dataset
    from genrenet.io import atomic_write_json
    from genrenet.selection import describe, genre_counts, plot_selection, run_selection

    try:
        thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(f"--thresholds must be comma-separated numbers, got {args.thresholds!r}") from None
    dataset = resolve_dataset(args.dataset, data_dir=args.data_dir, genres=args.genres)
    result = run_selection(dataset, out_dir=args.out, k=args.k, folds=args.folds, by=args.by, model=args.model,
                           metric=args.metric, level=args.level, seed=args.seed, max_subsets=args.max_subsets,
                           progress=not args.quiet)
    out = Path(args.out)
    summary = describe(result, thresholds=thresholds)
    atomic_write_json(out / "counts.json", summary)
    label = data_label(result.config["dataset"], synthetic=bool(result.config.get("synthetic")))
    title = f"{label}: {result.config['protocol']}"
    plot_selection(genre_counts(result, thresholds=thresholds, genres=result.config["genres"]),
                   path=out / "selection.png", title=title)
    done = len(result.results)
    print(f"{done} subsets scored ({result.computed} now){'' if result.complete else ' - incomplete, rerun to resume'}")
    print(f"protocol: {result.config['protocol']}")
    for t, counts in summary["counts"].items():
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        print(f"score > {t}: {summary['subsets_above'][t]} subsets; " + ", ".join(f"{g} {n}" for g, n in ranked))
    print("pick: " + ", ".join(summary["pick"]))
    if summary["thesis_pick_rank"] is not None:
        print(f"thesis pick {'+'.join(summary['thesis_pick'])}: score {summary['thesis_pick_score']:.3f}, "
              f"{summary['thesis_pick_rank_text']}")
    print(f"saved {out / 'selection.json'}, {out / 'counts.json'}, {out / 'selection.png'}")
    return 0
