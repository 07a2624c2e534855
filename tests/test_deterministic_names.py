"""Artefacts get deterministic names: no timestamp or random token in a file name (fast, static).

The same run of a notebook or a library function writes the same files, so results can be compared,
resumed and cached by name. A clock reading or a random id may appear in a file's *content* (a
``created`` field) but never in a name: this test rejects f-strings built from ``time.time()``,
``datetime.now()``, ``uuid``, ``secrets`` or ``random`` in ``genrenet/``, and any use of those (or of
``tempfile`` names) in the notebooks, which write only to ``output_dir`` under fixed names.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLOCK_OR_RANDOM = {"time", "time_ns", "now", "utcnow", "today", "uuid1", "uuid4", "token_hex", "token_urlsafe",
                   "randint", "random", "choice", "mkstemp", "mkdtemp", "NamedTemporaryFile", "strftime"}


def _called(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            names.add(getattr(func, "attr", getattr(func, "id", "")))
    return names


def _fstring_problems(tree: ast.AST) -> list[tuple[int, str]]:
    return [(node.lineno, ", ".join(sorted(bad))) for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr) and (bad := _called(node) & CLOCK_OR_RANDOM)]


def test_library_builds_no_name_from_the_clock_or_a_random_token():
    problems = []
    for path in sorted((ROOT / "genrenet").rglob("*.py")):
        for line, what in _fstring_problems(ast.parse(path.read_text(encoding="utf-8"))):
            problems.append(f"{path.relative_to(ROOT)}:{line}: a string built from {what}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_write_under_fixed_names(notebook):
    problems = []
    for k, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                bad = {m for m in mods if m and m.split(".")[0] in {"uuid", "tempfile", "secrets", "datetime"}}
                if bad:
                    problems.append(f"cell {k}: imports {sorted(bad)}")
        problems += [f"cell {k}: line {line}: a string built from {what}" for line, what in _fstring_problems(tree)]
    assert not problems, f"{notebook.name}: " + "; ".join(problems)


def test_the_check_catches_a_timestamped_name():
    tree = ast.parse('import time, uuid\npath = out / f"run-{time.time():.0f}-{uuid.uuid4().hex}.json"\n'
                     'ok = out / f"history{k}.png"\n')
    assert _fstring_problems(tree) == [(2, "time, uuid4")]
