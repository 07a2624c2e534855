"""The book: experiment runner (fast, tiny notebooks) and the full build + browser check (slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import soundfile as sf
import yaml

from genrenet import book
from genrenet.errors import DataError, ParameterError

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


def _notebook(path: Path, params: str, body: list[str], *, title: str = "# Tiny") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_markdown_cell(title), nbformat.v4.new_code_cell(params)]
    cells[1].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(src) for src in body]
    nb.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _write_config(root: Path, cfg: dict) -> Path:
    path = root / "experiments.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def project(tmp_path):
    """A tiny project: a folder data set, two notebooks, a run depending on another."""
    data = tmp_path / "music"
    for genre in ("low", "high"):
        (data / genre).mkdir(parents=True)
        t = np.arange(2205) / 22050
        sf.write(data / genre / f"{genre}.00000.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
                 22050)
    _notebook(tmp_path / "notebooks" / "count.ipynb",
              'dataset = "folder"\ndata_dir = None\nscale = 1\nseed = 0\noutput_dir = "outputs/count"',
              ["import json, os, pathlib\n"
               "files = sorted(pathlib.Path(data_dir).rglob('*.wav'))\n"
               "os.makedirs(output_dir, exist_ok=True)\n"
               "json.dump({'n': len(files) * scale, 'seed': seed, 'cwd': os.getcwd()},"
               " open(os.path.join(output_dir, 'count.json'), 'w'))\n"
               "print('tracks', len(files) * scale)"])
    _notebook(tmp_path / "notebooks" / "report.ipynb",
              'output_dir = "outputs/report"',
              ["import json\nprint(json.load(open('outputs/count/count.json')))"])
    cfg = {
        "executed_dir": "book/_executed",
        "results_dir": "results",
        "cell_timeout": 60,
        "defaults": {"seed": 7, "dataset": "folder"},
        "runs": [
            {"id": "count", "notebook": "notebooks/count.ipynb", "title": "Count"},
            {"id": "report", "notebook": "notebooks/report.ipynb", "depends_on": ["count"]},
        ],
        "profiles": {
            "local": {"requires_data_dir": True, "parameters": {}},
            "double": {"requires_data_dir": True, "runs": {"count": {"scale": 2}}},
            "nodata": {"parameters": {"dataset": "demo"}},
        },
    }
    _write_config(tmp_path, cfg)
    return tmp_path, data


def _run(root: Path, **kw):
    return {o.run.id: o.status for o in book.run_experiments(root, progress=False, log=lambda s: None, **kw)}


# --------------------------------------------------------------------------- runner


def test_runner_skips_unchanged_and_reruns_on_any_change(project):
    root, data = project
    assert _run(root, profile="local", data_dir=data) == {"count": "executed", "report": "executed"}
    out = root / "book" / "_executed" / "count.ipynb"
    stamp = book.read_stamp(out)
    assert stamp["parameters"] == {"data_dir": str(data.resolve()), "dataset": "folder", "output_dir":
                                   "outputs/count", "seed": 7}
    assert stamp["data_hash"].startswith("folder:")
    # kernels ran in results/<profile>/, so relative output dirs land outside notebooks/
    result = json.loads((root / "results" / "local" / "outputs" / "count" / "count.json").read_text())
    assert result == {"n": 2, "seed": 7, "cwd": str((root / "results" / "local").resolve())}
    executed = nbformat.read(out, as_version=4)
    assert "tracks 2" in "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                                 for o in c.outputs)
    assert "genrenet-provenance" in executed.cells[1].metadata["tags"]

    # unchanged -> nothing executes, the output file is untouched
    mtime = out.stat().st_mtime_ns
    assert _run(root, profile="local", data_dir=data) == {"count": "skipped", "report": "skipped"}
    assert out.stat().st_mtime_ns == mtime

    # the same parameters under another profile still execute: outputs live in results/<profile>/
    cfg_raw = yaml.safe_load((root / "experiments.yml").read_text())
    cfg_raw["profiles"]["again"] = {"requires_data_dir": True}
    _write_config(root, cfg_raw)
    assert _run(root, profile="again", data_dir=data, only=["count"]) == {"count": "executed"}
    assert (root / "results" / "again" / "outputs" / "count" / "count.json").is_file()

    # a parameter change (profile override) re-executes the run and the run depending on it
    assert _run(root, profile="double", data_dir=data) == {"count": "executed", "report": "executed"}
    assert json.loads((root / "results" / "double" / "outputs" / "count" / "count.json").read_text())["n"] == 4

    # data change: a new file in the data set changes its content hash; results the notebook
    # left in its output_dir for other inputs are cleared first, so nothing stale is resumed
    stale = root / "results" / "double" / "outputs" / "count" / "stale.json"
    stale.write_text("{}")
    shutil.copy(data / "low" / "low.00000.wav", data / "low" / "low.00001.wav")
    assert _run(root, profile="double", data_dir=data, only=["count"]) == {"count": "executed"}
    assert not stale.exists()
    assert json.loads((root / "results" / "double" / "outputs" / "count" / "count.json").read_text())["n"] == 6

    # notebook change
    nb_path = root / "notebooks" / "report.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('more')"))
    nbformat.write(nb, nb_path)
    assert _run(root, profile="double", data_dir=data) == {"count": "skipped", "report": "executed"}

    # --force re-executes even when nothing changed
    assert _run(root, profile="double", data_dir=data, only=["count"], force=True) == {"count": "executed"}


def test_runner_failure_names_notebook_and_cell_and_keeps_old_output(project):
    root, data = project
    assert _run(root, profile="local", data_dir=data, only=["count"]) == {"count": "executed"}
    out = root / "book" / "_executed" / "count.ipynb"
    before = out.read_bytes()
    nb_path = root / "notebooks" / "count.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("x = 1"))
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('the tiny notebook broke')"))
    nbformat.write(nb, nb_path)
    with pytest.raises(book.NotebookError) as info:
        _run(root, profile="local", data_dir=data)
    err = info.value
    msg = str(err)
    assert "count.ipynb" in msg and "cell 4" in msg and "RuntimeError" in msg and "tiny notebook broke" in msg
    assert err.cell_index == 4 and err.run_id == "count"
    assert "raise RuntimeError" in msg  # the failing cell's first line
    # the executed notebook the book renders is the previous, complete one; no temp files linger
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["count.ipynb"]
    assert not list((root / "results" / "local" / ".running").iterdir())
    # the failed copy is kept for inspection, outside the book
    assert err.failed_copy == root / "results" / "local" / "failed" / "count.ipynb"
    assert err.failed_copy.is_file()
    # the run after the failing one did not start
    assert not (root / "book" / "_executed" / "report.ipynb").exists()


def test_runner_never_writes_a_partial_output(project):
    root, data = project
    nb_path = root / "notebooks" / "count.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(3)  # the kernel dies mid-run"))
    nbformat.write(nb, nb_path)
    with pytest.raises(book.NotebookError) as info:
        _run(root, profile="local", data_dir=data, only=["count"])
    assert "count.ipynb" in str(info.value)
    assert not (root / "book" / "_executed" / "count.ipynb").exists()
    assert not (root / "book" / "_executed").exists() or not list((root / "book" / "_executed").iterdir())


def test_interrupted_forced_run_is_not_up_to_date(project, monkeypatch, capsys):
    import papermill

    from genrenet.cli import main

    root, data = project
    assert _run(root, profile="local", data_dir=data) == {"count": "executed", "report": "executed"}
    out = root / "book" / "_executed" / "count.ipynb"
    outputs = root / "results" / "local" / "outputs" / "count"
    assert (outputs / "count.json").is_file()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("Ctrl-C during the forced run")

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(root, profile="local", data_dir=data, only=["count"], force=True)
    monkeypatch.undo()
    assert not outputs.exists()  # --force cleared them before executing
    # the old page is still there (the book still builds) but no longer claims to match the outputs
    assert book.read_stamp(out)["invalidated"]
    assert main(["book", "--root", str(root), "list", "--profile", "local", "--data-dir", str(data)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "interrupted (will re-execute)" in lines["count"]
    # a run reading its outputs cannot run alone until it has been executed again
    with pytest.raises(ParameterError, match="'count', which was interrupted"):
        _run(root, profile="local", data_dir=data, only=["report"])
    # the next plain run executes it again (same inputs: the report's stamp still holds)
    assert _run(root, profile="local", data_dir=data) == {"count": "executed", "report": "skipped"}
    assert (outputs / "count.json").is_file() and "invalidated" not in book.read_stamp(out)
    assert _run(root, profile="local", data_dir=data) == {"count": "skipped", "report": "skipped"}


def test_clean_running_removes_only_files_of_dead_runners(tmp_path):
    running = tmp_path / ".running"
    running.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = [running / f"count.{os.getpid()}.abc123_x.ipynb", running / f"kernel-{os.getpid()}-abc123_x.json"]
    gone = [running / f"count.{dead.pid}.zz9.ipynb", running / f"kernel-{dead.pid}-zz9.json",
            running / "count.oldstyle.ipynb"]
    for p in mine + gone:
        p.write_text("{}")
    assert sorted(book.clean_running(running)) == sorted(gone)
    assert sorted(running.iterdir()) == sorted(mine)
    assert book.clean_running(tmp_path / "absent") == []


def test_killed_run_leaves_nothing_behind_for_long(project):
    import signal

    root, data = project
    _notebook(root / "notebooks" / "count.ipynb", 'dataset = "folder"\ndata_dir = None\nseed = 0',
              ["import time\ntime.sleep(120)"])
    running = root / "results" / "local" / ".running"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runner = subprocess.Popen([sys.executable, "-m", "genrenet", "book", "--root", str(root), "run", "--profile",
                               "local", "--data-dir", str(data), "--only", "count", "--no-progress"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and runner.poll() is None:
            names = [p.name for p in running.iterdir()] if running.is_dir() else []
            if any(n.startswith("kernel-") for n in names) and any(n.endswith(".ipynb") for n in names):
                break
            time.sleep(0.2)
        time.sleep(2)  # the kernel is executing the sleeping cell
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    left = sorted(p.name for p in running.iterdir())
    connection = next(n for n in left if n.startswith("kernel-"))
    assert str(runner.pid) in connection and any(n.startswith(f"count.{runner.pid}.") for n in left)

    def kernels() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if connection in (proc / "cmdline").read_text():
                    found.append(proc.name)
            except OSError:
                continue
        return found

    deadline = time.monotonic() + 15
    while kernels() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kernels(), "the kernel outlived its killed runner"
    # the next run removes the leftovers before it starts
    logged: list[str] = []
    with pytest.raises(book.NotebookError):  # cell_timeout 60 s would be too slow: make the cell fail fast
        _notebook(root / "notebooks" / "count.ipynb", 'dataset = "folder"\ndata_dir = None\nseed = 0',
                  ["raise RuntimeError('quick')"])
        book.run_experiments(root, profile="local", data_dir=data, only=["count"], progress=False,
                             log=logged.append)
    assert any(connection in line for line in logged)
    assert not list(running.iterdir())


# --------------------------------------------------------------------------- configuration


def test_plan_merges_defaults_profile_and_run_overrides(project):
    root, data = project
    cfg_raw = yaml.safe_load((root / "experiments.yml").read_text())
    cfg_raw["runs"][0]["parameters"] = {"scale": 3, "seed": 1}
    cfg_raw["profiles"]["local"]["parameters"] = {"seed": 5}
    _write_config(root, cfg_raw)
    cfg = book.load_config(root)
    (count, _) = book.plan_runs(cfg, profile="local", data_dir=data)
    assert (count.parameters["scale"], count.parameters["seed"]) == (3, 5)  # run's own, then profile-wide
    (count, report) = book.plan_runs(cfg, profile="double", data_dir=data)  # then the profile's run override
    assert count.parameters == {"data_dir": str(data.resolve()), "dataset": "folder",
                                "output_dir": "outputs/count", "scale": 2, "seed": 1}
    # shared parameters reach only notebooks that declare them
    assert report.parameters == {"output_dir": "outputs/report"}
    assert report.depends_on == ("count",)
    assert count.output == root / "book" / "_executed" / "count.ipynb"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["runs"].append(dict(c["runs"][0])), "defined twice"),
        (lambda c: c["runs"][0].update(parameters={"nope": 1}), "does not declare parameter"),
        (lambda c: c["runs"][0].update(depends_on=["report"]), "not an earlier run"),
        (lambda c: c["profiles"]["local"].update(runs={"ghost": {}}), "unknown run 'ghost'"),
        (lambda c: c.update(colour="blue"), "unknown top-level keys"),
        (lambda c: c.update(cell_timeout=-1), "cell_timeout"),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(project, mutate, message):
    root, data = project
    cfg = yaml.safe_load((root / "experiments.yml").read_text())
    mutate(cfg)
    _write_config(root, cfg)
    with pytest.raises(ParameterError, match=message):
        book.plan_runs(book.load_config(root), profile="local", data_dir=data)


def test_profile_and_data_dir_errors(project, monkeypatch):
    root, data = project
    cfg = book.load_config(root)
    monkeypatch.delenv("DATA_DIR", raising=False)
    with pytest.raises(ParameterError, match="unknown profile 'gpu'"):
        book.plan_runs(cfg, profile="gpu")
    with pytest.raises(ParameterError, match="needs a data directory"):
        book.plan_runs(cfg, profile="local")
    with pytest.raises(ParameterError, match="not a directory"):
        book.plan_runs(cfg, profile="local", data_dir=root / "nowhere")
    with pytest.raises(ParameterError, match="profile 'nodata' takes no data directory.*double, local"):
        book.plan_runs(cfg, profile="nodata", data_dir=data)
    with pytest.raises(ParameterError, match="unknown run id"):
        book.plan_runs(cfg, profile="local", data_dir=data, only=["nope"])
    monkeypatch.setenv("DATA_DIR", str(data))
    assert book.plan_runs(cfg, profile="local")[0].parameters["data_dir"] == str(data.resolve())
    (root / "notebooks" / "count.ipynb").unlink()
    with pytest.raises(DataError, match="count.ipynb does not exist"):
        book.plan_runs(cfg, profile="local")
    with pytest.raises(ParameterError, match="depends on 'count', which has not been executed"):
        book.run_experiments(cfg, profile="local", only=["report"], progress=False)


def test_cli_book_list_and_run(project):
    root, data = project
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "genrenet", "book", "--root", str(root)]
    listed = subprocess.run(cmd + ["list", "--profile", "local", "--data-dir", str(data)],
                            capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "count" in listed.stdout and "not executed" in listed.stdout
    _run(root, profile="local", data_dir=data, only=["count"])
    listed = subprocess.run(cmd + ["list", "--profile", "local", "--data-dir", str(data)],
                            capture_output=True, text=True, env=env)
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line.strip()}
    assert "up to date" in lines["count"] and "not executed" in lines["report"]
    listed = subprocess.run(cmd + ["list", "--profile", "double", "--data-dir", str(data)],
                            capture_output=True, text=True, env=env)
    assert "stale" in listed.stdout.splitlines()[0]
    bad = subprocess.run(cmd + ["run", "--profile", "nope"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "unknown profile 'nope'" in bad.stderr


# --------------------------------------------------------------------------- the real book sources


def test_experiments_yml_plans_every_profile_against_the_real_notebooks(tmp_path):
    cfg = book.load_config(ROOT)
    assert {"demo", "gtzan", "smoke"} <= set(cfg.profiles)
    for profile in cfg.profiles:
        needs = cfg.profiles[profile].get("requires_data_dir")
        runs = book.plan_runs(cfg, profile=profile, data_dir=tmp_path if needs else None)
        assert [r.id for r in runs] == cfg.profile_run_ids(profile)
        for run in runs:
            assert run.parameters.get("seed", 42) == 42
            assert run.parameters.get("output_dir", f"outputs/{run.id}") == f"outputs/{run.id}"
    demo = {r.id: r for r in book.plan_runs(cfg, profile="demo")}
    assert demo["train_cnn"].parameters["model"] == "cnn"
    assert demo["train_compact_cnn"].parameters["feature"] == "logmel"


def test_toc_lists_every_run_and_every_chapter_exists():
    cfg = book.load_config(ROOT)
    files = book.toc_files(ROOT)
    executed = [f.rsplit("/", 1)[-1] for f in files if f.startswith("book/_executed/")]
    assert sorted(executed) == sorted(cfg.run_ids)
    real = [f.rsplit("/", 1)[-1] for f in files if f.startswith("book/_real/")]
    assert sorted(real) == sorted(cfg.profile_run_ids("gtzan"))  # the part "Results on real audio"
    for f in files:
        if not f.startswith(("book/_executed/", "book/_real/")):
            assert (ROOT / f"{f}.md").is_file() or (ROOT / f"{f}.ipynb").is_file(), f


def test_check_executed_reports_missing_runs(project):
    root, data = project
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: book/_executed/count\n")
    cfg = book.load_config(root)
    with pytest.raises(DataError, match="TOC pages without a run"):
        book.check_executed(cfg)
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: book/_executed/count\n"
                                   "- file: book/_executed/report\n")
    with pytest.raises(DataError, match="not executed yet: count, report"):
        book.check_executed(cfg)


# --------------------------------------------------------------------------- slow: build + browser


def _serve(directory: Path):
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args, **kwargs):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


#: Run in the browser on every page: what a reader would see as broken.
_PAGE_PROBE = """() => {
  const article = document.querySelector('article') || document.body;
  const out = {};
  const banner = document.querySelector('.bd-header-announcement');
  out.banner = banner ? banner.innerText : '';
  // markdown tables that were not rendered: lines of text outside code that look like '| a | b |'
  const raw = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, .highlight, script, style, mjx-container, .MathJax')) continue;
    for (const line of node.textContent.split('\\n')) {
      const s = line.trim();
      if (/^\\|.*\\|.*\\|$/.test(s) || /^\\|?\\s*:?-{3,}:?\\s*\\|/.test(s)) raw.push(s.slice(0, 80));
    }
  }
  out.raw = raw;
  // images must say what they show: no empty alt, no file name as alt
  out.noalt = [...article.querySelectorAll('img')].filter(
    i => !i.alt.trim() || /^[\\w./-]+\\.(png|jpe?g|gif|svg|webp)$/i.test(i.alt.trim())).map(i => i.getAttribute('src'));
  // no table cut off: a table fits the text column, or sits in a box that scrolls sideways and fits
  // it; no box on the way hides part of it (overflow hidden or clip)
  const right = article.getBoundingClientRect().right + 1;
  out.clipped = [...article.querySelectorAll('table')].filter(t => {
    const width = t.getBoundingClientRect().width;
    for (let box = t.parentElement; box && box !== article.parentElement; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (['auto', 'scroll'].includes(style.overflowX)) return box.getBoundingClientRect().right > right;
      if (['hidden', 'clip'].includes(style.overflowX) && width > box.clientWidth + 1) return true;
    }
    return t.getBoundingClientRect().right > right;
  }).map(t => (t.innerText || '').slice(0, 60));
  out.figures = article.querySelectorAll('figure img').length;
  out.audio = article.querySelectorAll('audio').length;
  const header = document.querySelector('.article-header-buttons') || document;
  out.launch = [...header.querySelectorAll('a[href*="urlpath="]')].map(a => a.href);
  out.downloads = [...header.querySelectorAll('a.btn-download-source-button')].map(a => a.href);
  return out;
}"""


def _page_problems(url: str, rel: str, found: dict, *, launch_dir: Path, profile: str) -> list[str]:
    """What a page of the smoke book got wrong, from the probe's findings."""
    from genrenet.datasets import SYNTHETIC_LABEL

    problems = []
    real = rel.startswith("book/_real/") or rel == "book/real_audio.html"
    if real and ("REAL AUDIO" not in found["banner"] or SYNTHETIC_LABEL in found["banner"]):
        problems.append(f"{url}: a page of the real-data edition without its banner (got {found['banner'][:80]!r})")
    if not real and SYNTHETIC_LABEL not in found["banner"]:
        problems.append(f"{url}: no synthetic-data banner (got {found['banner'][:80]!r})")
    for key, what in (("raw", "raw markdown table text"), ("noalt", "images without alt text"),
                      ("clipped", "tables cut off (wider than the column, not in a scrolling box)")):
        if found[key]:
            problems.append(f"{url}: {what}: {found[key][:3]}")
    for link in found["launch"]:
        target = link.split("urlpath=tree/", 1)[-1].split("&", 1)[0]
        expected = f"book/_launch/{'gtzan' if real else profile}/{Path(rel).stem}.ipynb"
        if not rel.startswith(("book/_executed/", "book/_real/")) or target != expected:
            problems.append(f"{url}: launch button opens {target}, expected {expected}")
        elif not (launch_dir.parent.parent / target).is_file():
            problems.append(f"{url}: launch button opens {target}, which postBuild does not write")
    if rel.startswith(("book/_executed/", "book/_real/")) and not found["launch"]:
        problems.append(f"{url}: no launch button")
    return problems


@pytest.mark.slow
@pytest.mark.browser
def test_book_builds_offline_and_every_page_renders_in_chromium(tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    src = book.copy_sources(ROOT, tmp_path / "src")
    started = time.perf_counter()
    outcomes = book.run_experiments(src, profile="smoke", progress=False, log=lambda s: None)
    assert all(o.status == "executed" for o in outcomes)
    html = book.build_book(src, quiet=True)
    build_seconds = time.perf_counter() - started
    # what Binder's postBuild writes: the notebooks the launch buttons open
    launch_dir = src / book.LAUNCH_DIR
    book.write_launchers(src, out_dir=launch_dir)
    pages = sorted(p for p in html.rglob("*.html") if "_mathjax" not in p.parts and "_static" not in p.parts)
    assert len(pages) >= 20
    # the recorded real-data edition is part of every build
    assert (html / "book" / "_real" / "results.html").is_file() and (html / "book" / "real_audio.html").is_file()
    # nothing in the HTML points at a CDN for scripts or styles
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "cdn.jsdelivr" not in text and "cdnjs" not in text and "unpkg.com" not in text, page

    theory = {"theory_ml.html", "theory_neural_networks.html", "theory_sound.html", "theory_fourier.html"}
    server = _serve(html)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems: list[str] = []
    foreign: list[str] = []
    downloads: set[str] = set()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.on("request", lambda r: foreign.append(r.url)
                       if not r.url.startswith((base, "data:", "blob:", "about:")) else None)
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(f"{page.url}: page error {e}"))
            page.on("console", lambda m: problems.append(f"{page.url}: console {m.text}")
                    if m.type == "error" else None)
            for path in pages:
                rel = path.relative_to(html).as_posix()
                url = base + rel
                response = page.goto(url, wait_until="networkidle")
                assert response is not None and response.ok, url
                broken = page.evaluate(
                    "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                    ".map(i => i.src)")
                if broken:
                    problems.append(f"{url}: broken images {broken}")
                rel = page.url[len(base):].split("#", 1)[0]  # index.html redirects to the first page
                found = page.evaluate(_PAGE_PROBE)
                problems += _page_problems(url, rel, found, launch_dir=launch_dir, profile="smoke")
                downloads.update(found["downloads"])
                if rel.startswith("book/theory_") and found["figures"] < 1:
                    problems.append(f"{url}: a theory chapter without an executed figure")
                if rel in ("book/theory_sound.html", "book/theory_fourier.html") and found["audio"] < 1:
                    problems.append(f"{url}: no sound beside the concepts")
                if path.name in theory:
                    page.wait_for_selector("mjx-container", timeout=20000)
                    n_math = page.evaluate("() => document.querySelectorAll('mjx-container').length")
                    if n_math < 3:
                        problems.append(f"{url}: only {n_math} MathJax elements")
                    raw = page.evaluate("() => document.body.innerText.includes('$$')")
                    if raw:
                        problems.append(f"{url}: unrendered $$ math")
            # every download button serves its file; every sound of a page is served
            for link in sorted(downloads):
                if not context.request.get(link).ok:
                    problems.append(f"download link {link} is broken")
            for wav in sorted((html / "_audio").glob("*.wav")):
                if not context.request.get(base + f"_audio/{wav.name}").ok:
                    problems.append(f"sound {wav.name} is not served")
            browser.close()
    finally:
        server.shutdown()
    assert downloads, "no page has a download button"
    assert not problems, "\n".join(problems)
    assert not foreign, f"requests left localhost: {sorted(set(foreign))[:10]}"
    timings = ", ".join(f"{o.run.id} {o.seconds:.0f} s" for o in outcomes)
    print(f"smoke book: {len(outcomes)} runs + build in {build_seconds:.0f} s ({timings}); "
          f"{len(pages)} pages checked")


def test_cli_help_is_fast_and_lists_book():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "genrenet", "book", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "build" in out.stdout
    assert time.perf_counter() - start < 10
    assert "tensorflow" not in textwrap.dedent(out.stderr).lower()


def test_ensure_mathjax_explains_missing_or_failing_npm(tmp_path, monkeypatch):
    from genrenet.errors import GenrenetError

    (tmp_path / "package.json").write_text('{"dependencies": {"mathjax": "3.2.2"}}')
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GenrenetError, match="npm is not on PATH"):
        book.ensure_mathjax(tmp_path)
    fake = tmp_path / "npm"
    fake.write_text("#!/bin/sh\necho 'registry unreachable' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(GenrenetError, match=r"(?s)npm install.*exit 3.*registry unreachable"):
        book.ensure_mathjax(tmp_path, npm=str(fake))
    es5 = tmp_path / "node_modules" / "mathjax" / "es5"
    es5.mkdir(parents=True)
    (es5 / "tex-chtml.js").write_text("// MathJax")
    assert book.ensure_mathjax(tmp_path, npm=str(fake)) == es5  # installed: npm is not called


def test_root_redirect_page_gets_title_and_icon(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "favicon.svg").write_text("<svg/>")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />\n')
    book.site._complete_redirect(tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert '<link rel="icon" href="_static/favicon.svg">' in page
    assert 'url=book/intro.html' in page and "<title>" in page
    before = page
    book.site._complete_redirect(tmp_path)  # a real page is left alone
    assert (tmp_path / "index.html").read_text() == before
