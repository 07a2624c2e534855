"""``genrenet book``: run the experiment notebooks and build the thesis book.

``genrenet book run --profile demo`` executes every run of ``experiments.yml``
with papermill (skipping runs whose notebook, parameters, data and library
version are unchanged); ``genrenet book build`` renders the executed notebooks
and the chapters into ``_build/html`` offline. ``make book`` calls both.
Implementation: :mod:`genrenet.book` (used by every chapter of the book).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``book`` command and its ``run`` / ``build`` / ``list`` subcommands."""
    parser = subparsers.add_parser(
        "book", help="run the experiment notebooks and build the thesis book",
        description="Run the papermill experiments of experiments.yml and build the Jupyter Book.")
    parser.add_argument("--root", default=None,
                        help="project root holding experiments.yml (default: found from the current directory)")
    sub = parser.add_subparsers(dest="book_command", metavar="ACTION")

    run = sub.add_parser("run", help="execute the experiment notebooks of a profile",
                         description="Execute every run of a profile with papermill. Runs whose notebook, "
                         "parameters, data set hash and genrenet version are unchanged are skipped.")
    run.add_argument("--profile", default="demo", help="profile of experiments.yml (default: demo)")
    run.add_argument("--data-dir", default=None,
                     help="data directory for profiles reading real data (gtzan); several joined by ':', e.g. "
                     "gtzan-mini:gtzan-extra")
    run.add_argument("--splits-dir", default=None,
                     help="directory of the fault-filtered split lists (train_filtered.txt, valid_filtered.txt, "
                     "test_filtered.txt) for notebooks that take splits_dir (default: $SPLITS_DIR)")
    run.add_argument("--only", action="append", default=None, metavar="ID",
                     help="execute only this run id (repeatable)")
    run.add_argument("--force", action="store_true", help="execute even runs whose stamp is unchanged")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.set_defaults(func=_run)

    build = sub.add_parser("build", help="render the book into _build/html (no notebook execution)",
                           description="Build the book with Jupyter Book from the executed notebooks; "
                           "MathJax is served from a local copy (npm ci installs it when missing).")
    build.add_argument("--output", default=None, help="parent directory of _build (default: the root)")
    build.add_argument("--allow-warnings", action="store_true", help="do not turn Sphinx warnings into errors")
    build.set_defaults(func=_build)

    lst = sub.add_parser("list", help="show the planned runs of a profile and whether each is up to date")
    lst.add_argument("--profile", default="demo")
    lst.add_argument("--data-dir", default=None)
    lst.add_argument("--splits-dir", default=None)
    lst.set_defaults(func=_list)

    record = sub.add_parser("record", help="run the real-data profile and store it as the book's recorded edition",
                            description="Execute the runs of the gtzan profile (skipping finished ones) and store "
                            "the executed notebooks, without audio, in book/recorded/ with a recording.json stamp "
                            "(notebook hashes, parameters, data hash, genrenet version, date, run time). Every "
                            "build of the book renders it in the part 'Results on real audio'.")
    record.add_argument("--data-dir", default=None,
                        help="GTZAN directory (several joined by ':', e.g. gtzan-mini:gtzan-extra; default: $DATA_DIR)")
    record.add_argument("--splits-dir", default=None, help="the fault-filtered split lists (default: $SPLITS_DIR)")
    record.add_argument("--profile", default=None, help="profile to record (default: gtzan)")
    record.add_argument("--force", action="store_true", help="execute every run again")
    record.add_argument("--no-progress", action="store_true", help="hide progress bars")
    record.set_defaults(func=_record)

    launch = sub.add_parser("launchers", help="write the launch notebooks (each run's notebook with its parameters)",
                            description="Write book/_launch/<profile>/<run id>.ipynb for every run: the source "
                            "notebook with the run's parameters injected, not executed. Binder's postBuild runs "
                            "this so a page's launch button opens the run the page shows.")
    launch.add_argument("--profile", action="append", default=None, help="only this profile (repeatable)")
    launch.add_argument("--to", default=None, help="target directory (default: book/_launch under the root)")
    launch.set_defaults(func=_launchers)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _run(args: argparse.Namespace) -> int:
    from genrenet.book import load_config, run_experiments

    config = load_config(args.root)
    outcomes = run_experiments(config, profile=args.profile, data_dir=args.data_dir, only=args.only,
                               force=args.force, progress=not args.no_progress, splits_dir=args.splits_dir)
    executed = sum(o.status == "executed" for o in outcomes)
    print(f"{executed} run(s) executed, {len(outcomes) - executed} up to date; "
          f"notebooks in {config.profile_executed_dir(args.profile)}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from genrenet.book import build_book

    html = build_book(args.root, out_dir=args.output, warningiserror=not args.allow_warnings)
    print(f"book written to {html / 'index.html'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from genrenet.book import compute_stamps, load_config, plan_runs, read_stamp

    config = load_config(args.root)
    runs = plan_runs(config, profile=args.profile, data_dir=args.data_dir, splits_dir=args.splits_dir)
    stamps = compute_stamps(config, runs)
    for run in runs:
        stamp = read_stamp(run.output)
        if stamp is None:
            state = "not executed"
        elif stamp.get("invalidated"):
            state = "interrupted (will re-execute)"
        elif stamp["digest"] == stamps[run.id]["digest"]:
            state = "up to date"
        else:
            state = "stale (will re-execute)"
        params = ", ".join(f"{k}={v!r}" for k, v in run.parameters.items())
        print(f"{run.id:22s} {state:26s} {run.notebook.name}: {params}")
    _list_recording(config)
    return 0


def _list_recording(config) -> None:
    """Print the recorded real-data edition and flag its stale runs."""
    from genrenet.book.edition import RECORDED_DIR, read_recording, recording_status

    recording = read_recording(config.root / RECORDED_DIR)
    if recording is None:
        print(f"\nrecorded real-data edition: none in {RECORDED_DIR} (make one with `genrenet book record`)")
        return
    print(f"\nrecorded real-data edition ({RECORDED_DIR}): profile {recording.profile}, recorded "
          f"{recording.recorded} with genrenet {recording.genrenet_version} on {recording.data}; "
          f"{recording.seconds / 60:.1f} min of runs, {recording.bytes / 2**20:.2f} MB")
    statuses = recording_status(config)
    for status in statuses:
        flag = "STALE" if status.state == "stale" else status.state
        print(f"{status.id:22s} {flag:26s} {status.why}")
    stale = [s.id for s in statuses if s.state != "up to date"]
    if stale:
        print(f"{len(stale)} recorded run(s) no longer match experiments.yml or their notebook: "
              "record again with `genrenet book record`")


def _record(args: argparse.Namespace) -> int:
    from genrenet.book import load_config
    from genrenet.book.edition import RECORDED_DIR, RECORDING_PROFILE, record_edition

    config = load_config(args.root)
    recording = record_edition(config, data_dir=args.data_dir, splits_dir=args.splits_dir,
                               profile=args.profile or RECORDING_PROFILE, force=args.force,
                               progress=not args.no_progress)
    print(f"recorded {len(recording.runs)} run(s) of profile {recording.profile} in {RECORDED_DIR}: "
          f"{recording.seconds / 60:.1f} min of runs, {recording.bytes / 2**20:.2f} MB")
    return 0


def _launchers(args: argparse.Namespace) -> int:
    from genrenet.book import load_config, write_launchers

    written = write_launchers(load_config(args.root), out_dir=args.to, profiles=args.profile)
    notebooks = [p for p in written if p.suffix == ".ipynb"]
    print(f"{len(notebooks)} launch notebook(s) written under {written[-1].parent}")
    return 0
