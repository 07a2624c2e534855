"""Sphinx directive ``notebook-parameters``: a notebook's parameters as a table, read at build time.

In a MyST page::

    ```{notebook-parameters} notebooks/train_model.ipynb
    ```

renders the parameter name, type, default and description of every line of the
notebook's ``parameters`` cell (papermill's own reading of it, through
:func:`genrenet.notebook.notebook_parameters`), so the tables of the page "Run it
on your own music" (``book/own_music.md``) can never disagree with the notebooks.
The page is rebuilt when a listed notebook changes. Loaded through ``_config.yml``
``local_extensions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

HEADER = ["parameter", "type", "default", "meaning and allowed values"]


def table_rows(notebook: str | Path) -> list[list[str]]:
    """The header and one row per parameter: name, type, default (source text), description."""
    from genrenet.notebook import notebook_parameters

    return [HEADER] + [[p["name"], p["type"], p["default"], p["help"]] for p in notebook_parameters(notebook)]


def _row(cells: list[str], *, literal: int) -> nodes.row:
    row = nodes.row()
    for i, text in enumerate(cells):
        para = nodes.paragraph()
        para += nodes.literal(text=text) if i < literal else nodes.Text(text)
        entry = nodes.entry()
        entry += para
        row += entry
    return row


class NotebookParameters(Directive):
    """``notebook-parameters PATH``: the parameter table of the notebook at PATH (relative to the book root)."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        path = Path(env.srcdir) / self.arguments[0]
        if not path.is_file():
            raise self.error(f"notebook-parameters: {path} does not exist")
        env.note_dependency(str(path))
        rows = table_rows(path)
        table = nodes.table(classes=["genrenet-parameters"])
        group = nodes.tgroup(cols=len(HEADER))
        table += group
        for width in (16, 16, 18, 50):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(rows[0], literal=0)
        body = nodes.tbody()
        for cells in rows[1:]:
            body += _row(cells, literal=3)
        group += head
        group += body
        return [table]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("notebook-parameters", NotebookParameters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
