"""The shape of the code: no function in genrenet/ is longer than 80 code lines, at most three exceed 50.

A code line is a line of a function's source that holds code: blank lines, comment lines and
the lines of docstrings (the function's own and those of functions and classes nested in it)
are not counted. A nested function counts towards its own length and its parent's.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "genrenet"

MAX_LINES = 80
LONG_LINES = 50
MAX_LONG = 3


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def _code_lines(source: str) -> set[int]:
    """Line numbers that hold a token other than a comment or a line break."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def function_lengths(source: str, name: str = "<source>") -> dict[str, int]:
    """Code lines of every function and method in ``source``, keyed ``name:qualified.name``."""
    tree = ast.parse(source)
    code = _code_lines(source) - _docstring_lines(tree)
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                span = range(start, child.end_lineno + 1)
                lengths[f"{name}:{prefix}{child.name}"] = sum(1 for i in span if i in code)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return lengths


def _package_lengths() -> dict[str, int]:
    lengths: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        lengths.update(function_lengths(path.read_text(), path.relative_to(ROOT).as_posix()))
    return lengths


def test_no_function_is_longer_than_80_code_lines():
    long = {k: n for k, n in _package_lengths().items() if n > MAX_LINES}
    assert not long, f"functions over {MAX_LINES} code lines (cut them into named steps): {long}"


def test_at_most_three_functions_are_longer_than_50_code_lines():
    long = {k: n for k, n in _package_lengths().items() if n > LONG_LINES}
    assert len(long) <= MAX_LONG, f"more than {MAX_LONG} functions over {LONG_LINES} code lines: {long}"


def test_counting_skips_docstrings_comments_and_blank_lines():
    source = '''
def f(x):
    """Doc.

    More doc.
    """
    # a comment

    y = (x +
         1)
    def g():
        """Nested doc."""
        return y
    return g


class C:
    @property
    def p(self):
        return 1
'''
    assert function_lengths(source) == {"<source>:f": 6, "<source>:f.g": 2, "<source>:C.p": 3}
