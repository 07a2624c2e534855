"""Tests of the book's Sphinx helpers (book/_ext/genrenet_booktools.py): the ``{glued-text}`` role,
``{glued-figure}`` on the real-data run (``real/RUN:KEY``) and the substitutions from code and data."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import genrenet_booktools as booktools  # noqa: E402

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def _glue_output(key: str, data: dict, alt: str | None = None) -> dict:
    """An output as myst_nb.glue(key, value, display=False) writes it."""
    prefix = "application/papermill.record/"
    meta = {"scrapbook": {"name": key, "mime_prefix": prefix}}
    if alt:
        meta["genrenet"] = {"alt": alt}
    return {"output_type": "display_data", "metadata": meta, "data": {prefix + k: v for k, v in data.items()}}


def write_notebook(path: Path, outputs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a1", "metadata": {}, "execution_count": 1, "source": "", "outputs": outputs}]}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def build(tmp_path: Path, page: str) -> tuple[str, str]:
    """Build one MyST page with the glued role and directives; return (HTML body, warnings)."""
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor

    nocolor()

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "import genrenet_booktools as b\n"
        "extensions = ['myst_parser']\n"
        "myst_enable_extensions = ['substitution']\n"
        "def setup(app):\n"
        "    app.add_role('glued-text', b.glued_text_role)\n"
        "    app.add_directive('glued-figure', b.GluedFigure)\n"
        "    app.connect('config-inited', b._shipped_substitutions)\n", encoding="utf-8")
    (src / "index.md").write_text(page, encoding="utf-8")
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=True)
    app.build()
    # Sphinx warns that its own node classes are registered again when a process builds twice
    kept = [line for line in warnings.getvalue().splitlines() if "is already registered" not in line]
    return (tmp_path / "out" / "index.html").read_text(encoding="utf-8"), "\n".join(kept)


@pytest.fixture
def glued(tmp_path):
    src = tmp_path / "src"
    write_notebook(src / "book" / "_executed" / "results.ipynb", [
        _glue_output("best", {"text/plain": "'the demo model with 50.0 %'"}),
        _glue_output("count", {"text/plain": "113"}),
    ])
    write_notebook(src / "book" / "_real" / "results.ipynb", [
        _glue_output("objective_sentence", {"text/plain": "'is met by compact CNN with 80.0 %'"}),
        _glue_output("chart", {"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"},
                     alt="bars of accuracy per model"),
    ])
    return tmp_path


def test_glued_text_pastes_demo_and_real_values_without_quotes(glued):
    html, warnings = build(glued, "# Page\n\nDemo: {glued-text}`results:best`; clips {glued-text}`results:count`.\n"
                                  "The objective {glued-text}`real/results:objective_sentence`.\n")
    assert warnings == ""
    assert "Demo: <span class=\"genrenet-glued-text\">the demo model with 50.0 %</span>" in html
    assert "clips <span class=\"genrenet-glued-text\">113</span>" in html
    assert "The objective <span class=\"genrenet-glued-text\">is met by compact CNN with 80.0 %</span>" in html


def test_a_missing_key_or_notebook_is_a_warning_naming_both(glued):
    html, warnings = build(glued, "# Page\n\n{glued-text}`real/results:nope` {glued-text}`real/absent:key`"
                                  " {glued-text}`no-colon`\n")
    real = glued / "src" / "book" / "_real"
    assert f"no output glued as 'nope' in {real / 'results.ipynb'}" in warnings
    assert f"notebook {real / 'absent.ipynb'} not found (no key 'key'" in warnings
    assert "expected RUN:KEY or real/RUN:KEY, got 'no-colon'" in warnings
    assert warnings.count("WARNING") == 3


def test_glued_figure_reads_the_real_run(glued):
    html, warnings = build(glued, "# Page\n\n```{glued-figure} real/results:chart\nThe chart.\n```\n")
    assert warnings == ""
    assert 'alt="bars of accuracy per model"' in html and "The chart." in html
    assert list((glued / "src" / "book" / "_executed" / "_glued" / "real" / "results").glob("chart-*.png"))


def test_parse_target_and_plain_text():
    assert booktools.parse_target("results:key") == (False, "results", "key")
    assert booktools.parse_target("real/results:key") == (True, "results", "key")
    assert booktools.parse_target("real/results") is None and booktools.parse_target("a/b:key") is None
    text = booktools.glued_plain_text
    assert text({"data": {"text/plain": "'a', 'b'"}}) == "'a', 'b'"  # not one Python string: left as is
    assert text({"data": {"text/plain": '"it\'s 5 %"'}}) == "it's 5 %"
    assert text({"data": {"text/plain": ["0.5"]}}) == "0.5"


def test_substitutions_come_from_code_and_the_shipped_models(tmp_path):
    from genrenet.evaluate import THESIS_OBJECTIVE, THESIS_RESULT

    subs = booktools.book_substitutions(ROOT)
    assert subs["thesis_accuracy"] == f"{100 * THESIS_RESULT['accuracy']:.2f} %"
    assert subs["thesis_objective"] == f"{100 * THESIS_OBJECTIVE:.0f} %"
    assert subs["thesis_metric"] == "window accuracy"
    for model in ("musicnn_gtzan10", "compact_gtzan10"):
        meta = json.loads((ROOT / "genrenet" / "pretrained" / model / "meta.json").read_text())
        assert subs[f"shipped_{model}_track_accuracy"] == f"{100 * meta['metrics']['track_accuracy']:.1f} %"
        assert subs[f"shipped_{model}_tracks"] == str(meta["metrics"]["n_tracks"])
    assert subs["shipped_compact_ms"].endswith(" ms") and subs["shipped_default_request_ms"].endswith(" ms")
    bare = booktools.book_substitutions(tmp_path)  # no shipped models, no benchmarks: only code's figures
    assert "shipped_compact_ms" not in bare and "thesis_accuracy" in bare


def test_substitutions_reach_a_page(glued):
    html, warnings = build(glued, "# Page\n\nThe thesis reached {{ thesis_accuracy }}.\n")
    assert warnings == "" and "The thesis reached 77.04 %." in html


def test_pages_of_the_real_data_edition_carry_its_banner_and_demo_pages_the_synthetic_one():
    class Env:
        genrenet_edition = {"source": "recording", "recorded": "2026-12-08T00:54:46+00:00",
                            "genrenet_version": "0.1.0", "data": "gtzan-mini:gtzan-extra", "profile": "gtzan",
                            "seconds": 822.0, "runs": [{}] * 13}
        genrenet_runs = {"train_cnn": {"notebook": "notebooks/train_model.ipynb", "profile": "demo",
                                       "dataset": "demo", "synthetic": True}}

    class App:
        env = Env()

    def banner(pagename):
        context = {"pathto": lambda name: name + ".html"}
        booktools._banner(App, pagename, "page.html", context, None)
        return context.get("theme_announcement", "")

    for page in ("book/_real/results", "book/_real/train_cnn", "book/real_audio"):
        text = banner(page)
        assert "REAL AUDIO" in text and "SYNTHETIC" not in text, page
        assert "Recorded on 2026-12-08 with genrenet 0.1.0 on gtzan-mini:gtzan-extra" in text
        assert "13 runs, 14 min of computing" in text
    for page in ("book/_executed/train_cnn", "book/intro", "book/results"):
        text = banner(page)
        assert "SYNTHETIC DATA" in text and 'Not so the part <a href="book/real_audio.html">' in text, page
    Env.genrenet_edition = None
    assert "No real-data edition was found" in banner("book/_real/results")
