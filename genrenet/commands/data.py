"""``genrenet data``: get, inspect and split data sets.

Subcommands: ``download gtzan`` / ``download splits`` (checksummed, resumable
downloads), ``collect soundcloud`` (the collector), ``info`` (class balance
and durations), ``manifest`` (write a data set's TSV manifest) and ``split``
(write a protocol's train/val/test indices as JSON). Book chapter ``book/dev_data.md``
and ``data/README.md`` document them; ``notebooks/data_exploration.ipynb``
calls the same library functions.
"""

from __future__ import annotations

import argparse
import json

from genrenet.commands import dataset_help, split_choices, split_name
from genrenet.repro import DEFAULT_SEED
from genrenet.splits import GROUPINGS


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="demo", metavar="NAME",
                   help=dataset_help())
    p.add_argument("--data-dir", default=None, metavar="DIR", help="where the data set lives")
    p.add_argument("--genres", default=None, metavar="G1,G2", help="keep only these genres")


_SOUNDCLOUD_ENV = """\
environment:
  SOUNDCLOUD_CLIENT_ID, SOUNDCLOUD_CLIENT_SECRET
        credentials of your SoundCloud app (https://soundcloud.com/you/apps); required
  SOUNDCLOUD_API_BASE
        API root (default https://api.soundcloud.com); the OAuth token is sent to
        this host only, never to the CDN hosts that serve the audio
  SOUNDCLOUD_TOKEN_URL
        OAuth token endpoint (default https://secure.soundcloud.com/oauth/token)
  GENRENET_HOME
        where the token is cached (soundcloud-token.json, mode 0600)
"""


def register(subparsers) -> None:
    """Add the ``data`` subcommand and its sub-subcommands to ``subparsers``."""
    parser = subparsers.add_parser("data", help="download, collect, inspect and split data sets",
                                   description="Download GTZAN or the fault-filtered split lists, collect "
                                   "tracks from SoundCloud, summarise a data set, write manifests and splits.")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    _add_download(sub)
    _add_collect(sub)

    info = sub.add_parser("info", help="summarise a data set (class balance, durations, hash)")
    _add_dataset_args(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_info)

    man = sub.add_parser("manifest", help="write a data set's TSV manifest")
    _add_dataset_args(man)
    man.add_argument("--out", required=True, metavar="FILE", help="manifest path (.tsv)")
    man.set_defaults(func=_manifest)

    _add_split(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _add_download(sub) -> None:
    dl = sub.add_parser("download", help="download GTZAN or the fault-filtered split lists")
    dl.add_argument("what", choices=["gtzan", "splits"], help="what to download")
    dl.add_argument("--to", required=False, default=None, metavar="DIR", help="target directory")
    dl.add_argument("--url", default=None, metavar="URL",
                    help="GTZAN mirror URL (default $GENRENET_GTZAN_URL or the built-in mirror) or, for "
                         "splits, the base URL of the lists (default $GENRENET_SPLITS_URL)")
    dl.add_argument("--sha256", default=None, metavar="HEX",
                    help="expected sha256 of the GTZAN archive (default: the published one)")
    dl.add_argument("--no-progress", action="store_true", help="hide progress bars")
    dl.set_defaults(func=_download)


def _add_collect(sub) -> None:
    col = sub.add_parser(
        "collect", help="collect tracks from an online source",
        description="Search SoundCloud by genre and fetch the tracks the API lets us fetch: downloadable ones,\n"
        "or full streams (HLS AAC through ffmpeg, or progressive MP3). Audio goes to DIR/<genre>/,\n"
        "every kept and every skipped track (with its reason) to DIR/manifest.tsv; a rerun resumes.",
        epilog=_SOUNDCLOUD_ENV, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    col.add_argument("source", choices=["soundcloud"], help="the source")
    col.add_argument("--genres", required=True, metavar="G1,G2", help="comma-separated genres to search")
    col.add_argument("--per-genre", type=int, required=True, metavar="N", help="tracks wanted per genre")
    col.add_argument("--to", required=True, metavar="DIR", help="output directory (audio + manifest.tsv)")
    col.add_argument("--license", action="append", default=None, metavar="PATTERN",
                     help="accept only these licences (fnmatch pattern, repeatable, e.g. 'cc-by*')")
    col.add_argument("--no-stream", action="store_true", help="only tracks the artist made downloadable")
    col.add_argument("--q", default=None, metavar="TEXT", help="extra search text")
    col.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    col.set_defaults(func=_collect)


def _add_split(sub) -> None:
    sp = sub.add_parser("split", help="write a train/val/test split (indices + protocol) as JSON")
    _add_dataset_args(sp)
    sp.add_argument("--protocol", type=split_name, choices=split_choices(), default="kfold",
                    help="split name, as in genrenet train (default kfold; 'fault_filtered' is the old name of "
                    "fault-filtered)")
    sp.add_argument("--by", choices=GROUPINGS, default="block",
                    help="grouping for kfold (default block)")
    sp.add_argument("--folds", type=int, default=5, metavar="K", help="folds for kfold (default 5)")
    sp.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S", help=f"seed (default {DEFAULT_SEED})")
    sp.add_argument("--lists-dir", default=None, metavar="DIR",
                    help="fault-filtered split lists (default: download them)")
    sp.add_argument("--out", required=True, metavar="FILE", help="output JSON")
    sp.set_defaults(func=_split)


def _load(args):
    from genrenet.inputs import resolve_dataset

    return resolve_dataset(args.dataset, data_dir=args.data_dir, genres=args.genres)


def _download(args) -> int:
    from genrenet.errors import ParameterError

    if args.what == "gtzan":
        from genrenet.download import GTZAN_SHA256, download_gtzan

        if not args.to:
            raise ParameterError("--to DIR is required for `genrenet data download gtzan`")
        root = download_gtzan(args.to, url=args.url, sha256=args.sha256 or GTZAN_SHA256,
                              progress=not args.no_progress)
        print(f"GTZAN ready in {root} (load it with --dataset gtzan --data-dir {root})")
        return 0
    from genrenet.splits import fetch_fault_filtered_lists

    dest = fetch_fault_filtered_lists(args.to, base_url=args.url, progress=not args.no_progress)
    print(f"fault-filtered split lists (sha256 verified) in {dest}")
    return 0


def _collect(args) -> int:
    from genrenet.sources.soundcloud import collect

    res = collect([g.strip() for g in args.genres.split(",") if g.strip()], per_genre=args.per_genre,
                  out_dir=args.to, allow_stream=not args.no_stream, licenses=args.license, q=args.q,
                  progress=not args.no_progress)
    print(json.dumps(res.to_dict(), indent=2, sort_keys=True))
    return 0


def _info(args) -> int:
    ds = _load(args)
    rows = ds.summary()
    if args.json:
        print(json.dumps({"dataset": ds.name, "synthetic": ds.synthetic, "root": str(ds.root),
                          "tracks": len(ds), "content_hash": ds.content_hash(), "genres": rows,
                          "skipped": [str(s) for s in ds.skipped]}, indent=2))
        return 0
    print(ds.describe())
    print(f"content hash {ds.content_hash()}")
    print(f"{'genre':<16}{'tracks':>7}{'total s':>10}{'mean s':>9}{'min s':>8}{'max s':>8}")
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        print(f"{r['genre']:<16}{r['tracks']:>7}{r['total_s']:>10.1f}{fmt(r['mean_s']):>9}"
              f"{fmt(r['min_s']):>8}{fmt(r['max_s']):>8}")
    for s in ds.skipped[:10]:
        print(f"skipped: {s}")
    return 0


def _manifest(args) -> int:
    ds = _load(args)
    path = ds.write_manifest(args.out)
    print(f"wrote {len(ds)} tracks to {path}")
    return 0


def _split(args) -> int:
    from genrenet.inputs import resolve_split
    from genrenet.io import atomic_write_json
    from genrenet.splits import grouped_kfold

    ds = _load(args)
    if args.protocol == "kfold":
        splits = grouped_kfold(ds, folds=args.folds, by=args.by, seed=args.seed)
    else:
        splits = [resolve_split(args.protocol, ds, seed=args.seed, splits_dir=args.lists_dir)]
    atomic_write_json(args.out, {"dataset": ds.name, "content_hash": ds.content_hash(),
                                 "splits": [s.to_dict() for s in splits]})
    for s in splits:
        print(s)
    print(f"wrote {len(splits)} split(s) to {args.out}")
    return 0
