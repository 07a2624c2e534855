"""The book's sources agree with each other (fast: nothing is executed or built).

* every bibliography entry is cited, and every citation has an entry;
* docstrings name only chapters and notebooks that exist;
* the repository URL is configured in one place;
* the launch notebooks Binder writes carry each run's parameters.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from genrenet import book

ROOT = Path(__file__).resolve().parents[1]
CITE = re.compile(r"\{(?:cite|footcite)(?::[a-z]+)*\}`([^`]+)`")


def _bib_keys() -> list[str]:
    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    return re.findall(r"^@\w+\{([^,\s]+),", text, flags=re.M)


def _markdown_sources() -> dict[str, str]:
    """Every text the book renders as markdown: the chapters and the notebooks' markdown cells."""
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in (ROOT / "book").rglob("*.md")
             if "_executed" not in p.parts and "_launch" not in p.parts}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts[str(path.relative_to(ROOT))] = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return texts


def _cited() -> dict[str, list[str]]:
    cited: dict[str, list[str]] = {}
    for name, text in _markdown_sources().items():
        for match in CITE.finditer(text):
            for key in match.group(1).split(","):
                cited.setdefault(key.strip(), []).append(name)
    return cited


def test_every_bibliography_entry_is_cited_and_every_citation_has_an_entry():
    keys = _bib_keys()
    assert len(keys) == len(set(keys)), "duplicate keys in references.bib"
    cited = _cited()
    uncited = sorted(set(keys) - set(cited))
    missing = {k: v for k, v in cited.items() if k not in keys}
    assert not uncited, f"references.bib entries cited nowhere (cite them or remove them): {uncited}"
    assert not missing, f"citations without an entry in references.bib: {missing}"
    # the bibliography lists the cited works only, so an uncited entry would be invisible
    assert ":all:" not in (ROOT / "book" / "bibliography.md").read_text()


def test_the_bibliography_has_what_the_thesis_cites_and_the_modern_work_the_text_leans_on():
    keys = set(_bib_keys())
    wanted = {"react2022", "bachuk2016", "contreras2022thesis",  # React, Redux, the thesis itself
              "kereliuk2015", "sturm2013", "choi2017", "pons2019", "won2020"}
    assert wanted <= keys, sorted(wanted - keys)


def _docstrings() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / "genrenet").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    line = getattr(node, "lineno", 1)
                    found.append((str(path.relative_to(ROOT)), line, doc))
    return found


def test_every_module_docstring_names_a_chapter_or_notebook():
    missing = []
    for where, line, doc in _docstrings():
        if line == 1 and where.endswith(".py") and not where.endswith("__main__.py"):
            if not re.search(r"book/[\w/]+\.md|notebooks/\w+\.ipynb|\bbook\b", doc):
                missing.append(where)
    assert not missing, f"module docstrings that name no chapter or notebook: {missing}"


# --------------------------------------------------------------------------- repository URL and launchers


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in out.splitlines():
        path = ROOT / name
        if path.suffix.lower() in {".png", ".jpg", ".keras", ".joblib", ".npz", ".ico"} or not path.is_file():
            continue
        files.append(path)
    return files


def test_the_repository_url_is_configured_in_one_place():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    assert url.startswith("https://")
    owner_repo = "/".join(url.split("/")[-2:])
    holders = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if owner_repo in text:
            holders.append(str(path.relative_to(ROOT)))
    assert holders == ["_config.yml"], f"{owner_repo} appears in {holders}; only _config.yml may name it"


def test_binder_post_build_writes_the_launch_notebooks():
    text = (ROOT / "postBuild").read_text()
    assert "genrenet book launchers" in text


def test_launch_notebooks_carry_each_runs_parameters(tmp_path):
    cfg = book.load_config(ROOT)
    written = book.write_launchers(cfg, out_dir=tmp_path)
    for profile, prof in cfg.profiles.items():
        needs_data = prof.get("requires_data_dir")
        planned = book.plan_runs(cfg, profile=profile, data_dir=tmp_path if needs_data else None)
        for run in planned:
            path = tmp_path / profile / f"{run.id}.ipynb"
            assert path in written and path.is_file()
            nb = nbformat.read(path, as_version=4)
            injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
            assert len(injected) == 1, path
            namespace: dict = {}
            exec(injected[0].source, namespace)  # noqa: S102 - papermill writes plain assignments
            expected = dict(run.parameters)
            if needs_data and "data_dir" in expected:
                expected["data_dir"] = None  # no data on Binder: the first cell asks the reader to set it
            assert {k: namespace[k] for k in expected} == expected, path
            # the rest of the notebook is the source notebook, unexecuted
            source = nbformat.read(run.notebook, as_version=4)
            assert [c.source for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])
                    and "genrenet-launch" not in c.metadata.get("tags", [])] == [c.source for c in source.cells]
            assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert json.loads((tmp_path / "index.json").read_text())["profiles"] == sorted(cfg.profiles)


def test_the_upload_page_picture_is_the_browser_tests_small_capture():
    """docs/upload-page.png (README and book/dev_website.md) is written by the browser test, and small."""
    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests"))
    from genre_detector_helpers import DOCS_SCREENSHOT_MAX_BYTES

    path = ROOT / "docs" / "upload-page.png"
    assert path.stat().st_size <= DOCS_SCREENSHOT_MAX_BYTES
    with Image.open(path) as image:
        assert image.info.get("Source") == "tests/test_web_browser.py::test_real_clip_with_the_default_model"
        assert image.width >= 800
    assert "../docs/upload-page.png" in (ROOT / "book" / "dev_website.md").read_text()
    assert "docs/upload-page.png" in (ROOT / "README.md").read_text()


def _library_modules() -> list[str]:
    """Dotted names of every module and package under genrenet/ (the package itself and __main__ left out)."""
    names = []
    for path in sorted((ROOT / "genrenet").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__" and parts != ["genrenet"]:
            names.append(".".join(parts))
    return names


def test_module_map_names_every_module_exactly_once():
    """CONTRIBUTING.md's module map is the one map: every module is in it once, itself or through its package."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    named: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        for entry in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if entry.endswith(".py"):
                assert (ROOT / entry).is_file(), f"module map: {entry} does not exist"
            else:
                named.append(entry.removesuffix(".<name>"))  # genrenet.commands.<name>: every command
    modules = _library_modules()
    assert not sorted({n for n in named if named.count(n) > 1}), "module map: rows named twice"
    assert not [n for n in named if n not in modules], "module map: rows naming no module"
    uncovered = [m for m in modules if not any(m == n or m.startswith(n + ".") for n in named)]
    assert not uncovered, f"module map in CONTRIBUTING.md: add a row for {uncovered}"
    # the package docstring and the README point to the map instead of copying it
    import genrenet

    assert "CONTRIBUTING.md" in genrenet.__doc__ and "genrenet.train``" not in genrenet.__doc__
    assert "see `CONTRIBUTING.md` for the map" in (ROOT / "README.md").read_text(encoding="utf-8")
