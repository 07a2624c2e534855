"""How long the synthetic demo corpus takes to generate (the book's default data).

Book chapter ``book/dev_data.md`` promises that the corpus generates in well under a
minute; this script measures it. It writes the default corpus (12 clips of 10 s per
style, seed 42) into a temporary directory, times it (wall and CPU), and prints the
time per style so a slow recipe stands out.

Usage::

    python benchmarks/bench_demo.py [--per-genre 12] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    from genrenet.datasets import demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-genre", type=int, default=12)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args()
    per_style = {}
    for genre in demo.DEMO_GENRES:
        start = time.perf_counter()
        for i in range(3):
            demo.render_clip(genre, i)
        per_style[genre] = (time.perf_counter() - start) / 3
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        demo.generate_demo(Path(tmp) / "demo", per_genre=args.per_genre, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = args.per_genre * len(demo.DEMO_GENRES)
    print(f"demo corpus: {n} clips of 10 s in {wall:.1f} s wall, {cpu:.1f} s CPU ({wall / n * 1000:.0f} ms per clip)")
    for genre, seconds in per_style.items():
        print(f"  {genre:10s} {seconds * 1000:6.0f} ms per clip")
    if args.json:
        Path(args.json).write_text(json.dumps({"clips": n, "wall_s": wall, "cpu_s": cpu, "per_style_s": per_style},
                                              indent=2))


if __name__ == "__main__":
    main()
