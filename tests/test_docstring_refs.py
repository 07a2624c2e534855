"""Docstrings of ``genrenet/`` cite only chapters, notebooks and files that exist, by path.

A reader (or Sphinx autodoc) following a docstring's "used in the book chapter ..." must land on
a real page, so every reference is checked against the repository (fast: nothing is imported):

* ``book/<page>.md`` and ``notebooks/<name>.ipynb`` name files that exist;
* other repository paths (``benchmarks/...``, ``docs/...``, ``deploy/...``, ``tests/...``,
  ``genrenet/...``) exist;
* a chapter named by its title (``chapter "The models"``) is a page's real title and the docstring
  gives that page's path too, since the book has no chapter numbers: ``chapter 6`` or
  ``"Results" (07)`` is an error;
* ``:mod:`genrenet.x``` names a module of the package.

Each failure names the module, the line of its docstring and the missing target.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "genrenet"

NOTEBOOK = re.compile(r"(?<![\w/.])((?:[\w.-]+/)*[\w.-]*\w\.ipynb)\b")
PAGE = re.compile(r"(?<![\w/.])book/([\w/]+)\.md\b")
REPO_PATH = re.compile(r"(?<![\w/.])((?:benchmarks|docs|deploy|tests|genrenet)/[\w./-]*\w\.(?:py|md|yml|yaml|conf|png|svg|txt|json|toml|sh))\b")
TITLE = re.compile(r"\bchapters? \"([^\"]+)\"", flags=re.I)
NUMBERED_TITLE = re.compile(r"\bchapters? \"[^\"]+\" \((\d+)")
NUMBER = re.compile(r"\bchapters? (\d[\d, -]*)", flags=re.I)
MODULE = re.compile(r":mod:`~?(genrenet(?:\.\w+)*)`")
DOC = re.compile(r":doc:`(?:[^`<]*<)?/?([\w/]+)>?`")
# paths written by the runner or the user, not files of the repository
GENERATED = ("_executed", "_launch", "/failed/", "outputs/", "results/", "<", "*")


def _docstrings() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    found.append((str(path.relative_to(ROOT)), getattr(node, "lineno", 1), doc))
    return found


def _page_titles() -> dict[str, str]:
    titles = {}
    for path in (ROOT / "book").rglob("*.md"):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = next((line for line in lines if line.startswith("# ")), "")
        titles[first[2:].strip()] = path.relative_to(ROOT).as_posix()
    return titles


def _module_exists(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel.with_suffix(".py")).is_file() or (ROOT / rel / "__init__.py").is_file()


def _problems(where: str, line: int, doc: str, titles: dict[str, str]) -> list[str]:
    text = " ".join(doc.split())
    problems = []
    for nb in NOTEBOOK.findall(text):
        if any(g in nb for g in GENERATED):
            continue
        if not (ROOT / "notebooks" / Path(nb).name).is_file() or ("/" in nb and not (ROOT / nb).is_file()):
            problems.append(f"{where}:{line}: notebook {nb} does not exist")
    for page in PAGE.findall(text):
        if not (ROOT / "book" / f"{page}.md").is_file():
            problems.append(f"{where}:{line}: chapter book/{page}.md does not exist")
    for rel in REPO_PATH.findall(text):
        if not any(g in rel for g in GENERATED) and not (ROOT / rel).exists():
            problems.append(f"{where}:{line}: file {rel} does not exist")
    for number in NUMBER.findall(text) + NUMBERED_TITLE.findall(text):
        problems.append(f"{where}:{line}: the book's chapters have no numbers (found {number.strip()}); "
                        "name the page by its path, e.g. book/results.md")
    for title in TITLE.findall(text):
        if title not in titles:
            problems.append(f"{where}:{line}: no chapter is titled {title!r}")
        elif titles[title] not in text:
            problems.append(f"{where}:{line}: chapter {title!r} is cited without its path {titles[title]}")
    for module in MODULE.findall(text):
        if not _module_exists(module):
            problems.append(f"{where}:{line}: module {module} does not exist")
    for target in DOC.findall(text):
        if not (ROOT / f"{target}.md").is_file() and not (ROOT / "book" / f"{target}.md").is_file():
            problems.append(f"{where}:{line}: :doc: target {target} does not exist")
    return problems


def test_docstrings_cite_only_pages_notebooks_and_files_that_exist():
    titles = _page_titles()
    problems = [p for where, line, doc in _docstrings() for p in _problems(where, line, doc, titles)]
    assert not problems, "\n".join(problems)


def test_the_check_finds_each_kind_of_wrong_reference():
    titles = {"Results": "book/results.md", "The models": "book/dev_models.md"}
    found = _problems("genrenet/x.py", 1, """Used in the book chapter "Results" (07), in
        ``book/no_such_page.md``, ``notebooks/no_such.ipynb``, ``benchmarks/no_such.py``,
        chapter 6, the chapter "No such title", :doc:`book/no_such_doc` and :mod:`genrenet.no_such_module`.""",
        titles)
    assert any("chapters have no numbers (found 07)" in p for p in found)
    assert any("chapters have no numbers (found 6" in p for p in found)
    assert any("book/no_such_page.md does not exist" in p for p in found)
    assert any("notebook notebooks/no_such.ipynb does not exist" in p for p in found)
    assert any("file benchmarks/no_such.py does not exist" in p for p in found)
    assert any("no chapter is titled 'No such title'" in p for p in found)
    assert any("'Results' is cited without its path book/results.md" in p for p in found)
    assert any("module genrenet.no_such_module does not exist" in p for p in found)
    assert any(":doc: target book/no_such_doc does not exist" in p for p in found)
    assert all(p.startswith("genrenet/x.py:1: ") for p in found)
    assert not _problems("genrenet/y.py", 1, 'Book chapter "The models" (``book/dev_models.md``), notebook '
                         "``notebooks/prediction.ipynb``, :mod:`genrenet.evaluate`.", titles)
