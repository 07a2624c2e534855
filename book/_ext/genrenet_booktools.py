"""Sphinx helpers of the genrenet book (loaded through ``_config.yml`` ``local_extensions``).

The result pages are notebooks executed by ``genrenet book run`` into
``book/_executed/``, a directory that is not part of the repository. The
theme's Binder button would point at that path; this extension points it at
the source notebook in ``notebooks/`` instead (on Binder it runs on the demo
corpus unless given data). Used by every executed page of the book.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXECUTED_PREFIX = "book/_executed/"


def _source_notebooks(confdir: Path) -> dict[str, str]:
    from genrenet.book import load_config

    config = load_config(confdir)
    return {run["id"]: run["notebook"] for run in config.runs}


def _rewrite(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        url = node.get("url")
        if isinstance(url, str) and f"urlpath=tree/{old}" in url:  # launch links, not downloads
            node["url"] = url.replace(f"urlpath=tree/{old}", f"urlpath=tree/{new}")
        for value in node.values():
            _rewrite(value, old, new)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, old, new)


def _fix_launch_links(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if not pagename.startswith(EXECUTED_PREFIX):
        return
    run_id = pagename[len(EXECUTED_PREFIX):]
    source = app.env.genrenet_sources.get(run_id)
    if source:
        _rewrite(context.get("header_buttons", []), f"{pagename}.ipynb", source)


def _drop_thebe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Remove sphinx-thebe's scripts: the book has no live-code button, and the extension
    (always loaded by Jupyter Book) registers its inline configuration twice, which makes
    browsers report "Identifier 'THEBE_JS_URL' has already been declared" on every page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    kept = []
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body", "") or ""
        name = getattr(script, "filename", None) or str(script)
        if "THEBE_JS_URL" in body or str(name).endswith("sphinx-thebe.js"):
            continue
        kept.append(script)
    context["script_files"] = kept


def _load_sources(app: Any) -> None:
    app.env.genrenet_sources = _source_notebooks(Path(app.confdir))


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _load_sources)
    # after sphinx-book-theme has built its launch buttons (priority 500)
    app.connect("html-page-context", _fix_launch_links, priority=900)
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
