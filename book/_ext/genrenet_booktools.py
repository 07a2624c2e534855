"""Sphinx helpers of the genrenet book (loaded through ``_config.yml`` ``local_extensions``).

What this extension adds to Jupyter Book, and why:

* **The data banner.** Every page of a book built from runs on the synthetic demo corpus
  carries a banner saying so (the text comes from :func:`genrenet.datasets.synthetic_notice`);
  each executed notebook's stamp records its data set, so the banner follows the runs.
* **Launch buttons that open the run a page shows.** The result pages are notebooks
  executed by ``genrenet book run`` into ``book/_executed/``, which is not part of the
  repository. The launch button opens ``book/_launch/<profile>/<run id>.ipynb`` instead:
  the source notebook with that run's parameters injected, which Binder's ``postBuild``
  writes with ``genrenet book launchers`` (see :func:`genrenet.book.write_launchers`).
* **Figures and sound from executed notebooks in prose pages.** ``{glued-figure}`` and
  ``{glued-audio}`` place an output that a notebook stored with
  :func:`genrenet.book.glue_figure` / :func:`genrenet.book.glue_audio` in a markdown page
  (the theory chapters use the run ``theory_figures``), with its alt text.
* **Numbers from executed notebooks in prose pages.** ``{glued-text}`RUN:KEY``` pastes the
  text a notebook glued (``myst_nb.glue(key, value, display=False)``), so no result in
  the prose is typed by hand; ``real/RUN:KEY`` reads the real-data run in ``book/_real/``
  instead of ``book/_executed/`` (``{glued-figure}`` and ``{glued-audio}`` accept it too). A
  missing notebook or key is a warning naming both (an error in the book build). Figures of
  the shipped models (their ``meta.json`` and the benchmark results) reach the prose as
  MyST substitutions (``{{ shipped_... }}``) set at configuration time.
* **Alt text on notebook figures.** Figures shown with :func:`genrenet.notebook.show_figure`
  carry their alt text in the output metadata; this extension puts it on the image.
* **One citation style.** The bibliography labels each work "Tzanetakis and Cook, 2002" (sorted by
  author and year; "2022a", "2022b" for two works of one author and year), and every citation uses
  that label: "(Tzanetakis and Cook, 2002)" or "Tzanetakis and Cook (2002)".

Used by every page of the book (``_config.yml``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

EXECUTED_PREFIX = "book/_executed/"
#: Pages of the real-data edition (``genrenet.book.edition``): the part "Results on real audio".
REAL_PAGE_PREFIX = "book/_real/"
REAL_PAGES = ("book/real_audio",)
#: Where the launch notebooks live (relative to the repository root); written on Binder by postBuild.
LAUNCH_DIR = "book/_launch"
#: Where extracted glued figures are written inside the source tree (ignored by git).
GLUED_DIR = "book/_executed/_glued"
#: Directory of the built site holding the sound files of ``{glued-audio}``.
AUDIO_DIR = "_audio"
_GLUE_PREFIX = "application/papermill.record/"
#: Where the real-data run's executed notebooks are (relative to the repository root).
REAL_DIR = "book/_real"
#: Prefix of a glued target that reads the real-data run (``real/RUN:KEY``).
REAL_TARGET_PREFIX = "real/"


# --------------------------------------------------------------------------- runs and their stamps


def _load_runs(app: Any) -> None:
    """Read every run's source notebook and stamp once per build."""
    from genrenet.book import load_config, read_stamp
    from genrenet.datasets import is_synthetic_dataset

    config = load_config(app.confdir)
    runs = {}
    for run in config.runs:
        stamp = read_stamp(config.executed_dir / f"{run['id']}.ipynb") or {}
        params = stamp.get("parameters") or {}
        dataset = params.get("dataset")
        runs[run["id"]] = {
            "notebook": run["notebook"],
            "profile": stamp.get("profile"),
            "dataset": dataset,
            "synthetic": bool(dataset) and is_synthetic_dataset(str(dataset)),
        }
    app.env.genrenet_runs = runs
    app.env.genrenet_executed_dir = config.executed_dir
    app.env.genrenet_edition = _edition(Path(app.confdir))


def _edition(root: Path) -> dict[str, Any] | None:
    """The stamp of the real-data edition the book renders (``book/_real/recording.json``)."""
    from genrenet.book.edition import REAL_DIR, read_recording

    recording = read_recording(root / REAL_DIR)
    return None if recording is None else recording.to_dict()


def _run_of(pagename: str) -> str | None:
    return pagename[len(EXECUTED_PREFIX):] if pagename.startswith(EXECUTED_PREFIX) else None


def _real_run_of(pagename: str) -> str | None:
    return pagename[len(REAL_PAGE_PREFIX):] if pagename.startswith(REAL_PAGE_PREFIX) else None


def _real_banner(edition: dict[str, Any] | None, link: str) -> str:
    """The banner of the pages of the real-data edition: what was run, on what, when."""
    if not edition:
        return ('<span class="genrenet-data-banner genrenet-real-banner"><strong>REAL AUDIO.</strong> '
                "No real-data edition was found for this build.</span>")
    made = "Recorded" if edition["source"] == "recording" else "Run for this build"
    minutes = edition["seconds"] / 60
    return ('<span class="genrenet-data-banner genrenet-real-banner"><strong>REAL AUDIO.</strong> '
            f"{made} on {html.escape(edition['recorded'][:10])} with genrenet "
            f"{html.escape(edition['genrenet_version'])} on {html.escape(edition['data'] or 'GTZAN')} "
            f"(profile <code>{html.escape(edition['profile'])}</code>, {len(edition['runs'])} runs, "
            f"{minutes:.0f} min of computing). These pages are not the synthetic demo. "
            f'<a href="{link}">How to record it again</a>.</span>')


# --------------------------------------------------------------------------- the data banner


def _banner(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Put the synthetic-data banner on every page of a book built (partly) from the demo corpus."""
    from genrenet.datasets import synthetic_notice

    if _real_run_of(pagename) or pagename in REAL_PAGES:
        link = context["pathto"]("book/reproducing") if "pathto" in context else "#"
        context["theme_announcement"] = _real_banner(getattr(app.env, "genrenet_edition", None), link)
        return
    runs = getattr(app.env, "genrenet_runs", {})
    reading = {rid: r for rid, r in runs.items() if r["dataset"]}  # runs that read a data set
    synthetic = sorted(rid for rid, r in reading.items() if r["synthetic"])
    if not synthetic:
        return
    run_id = _run_of(pagename)
    if run_id in reading and not reading[run_id]["synthetic"]:
        return  # a page made from real data names its data set in its own provenance box
    profiles = sorted({runs[r]["profile"] for r in synthetic if runs[r]["profile"]})
    command = "genrenet book run" + (f" --profile {profiles[0]}" if len(profiles) == 1 else "")
    mixed = ""
    if len(synthetic) < len(reading):
        mixed = (f" {len(synthetic)} of the {len(reading)} runs that read data used it; the others name "
                 "their data set at the top of their page.")
    link = context["pathto"]("book/reproducing") if "pathto" in context else "#"
    real = ""
    if getattr(app.env, "genrenet_edition", None):
        real_link = context["pathto"]("book/real_audio") if "pathto" in context else "#"
        real = (f' Not so the part <a href="{real_link}">Results on real audio</a>, whose figures the Results '
                "and Conclusions chapters quote: a recorded run on real GTZAN audio.")
    context["theme_announcement"] = (
        f'<span class="genrenet-data-banner"><strong>SYNTHETIC DATA.</strong> '
        f"{html.escape(synthetic_notice())} Made by <code>{html.escape(command)}</code>.{html.escape(mixed)}"
        f'{real} <a href="{link}">How to build this book on real audio</a>.</span>')


def _add_static(app: Any, config: Any) -> None:
    config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))


# --------------------------------------------------------------------------- launch buttons


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


def launch_path(run_id: str, profile: str | None) -> str:
    """Repository path of the notebook the launch button of run ``run_id`` opens."""
    return f"{LAUNCH_DIR}/{profile or 'demo'}/{run_id}.ipynb"


def _fix_launch_links(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    real_id = _real_run_of(pagename)
    edition = getattr(app.env, "genrenet_edition", None)
    if real_id and edition:
        _rewrite(context.get("header_buttons", []), f"{pagename}.ipynb", launch_path(real_id, edition["profile"]))
        return
    run_id = _run_of(pagename)
    run = getattr(app.env, "genrenet_runs", {}).get(run_id or "")
    if run:
        _rewrite(context.get("header_buttons", []), f"{pagename}.ipynb", launch_path(run_id, run["profile"]))


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


# --------------------------------------------------------------------------- glued outputs


def glued_outputs(notebook: Path) -> dict[str, dict[str, Any]]:
    """Every output a notebook glued, by key: ``{"data": mime bundle, "metadata": ...}``."""
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            meta = out.get("metadata") or {}
            key = (meta.get("scrapbook") or {}).get("name")
            if not key:
                continue
            data = {k[len(_GLUE_PREFIX):] if k.startswith(_GLUE_PREFIX) else k: v
                    for k, v in (out.get("data") or {}).items()}
            found[key] = {"data": data, "metadata": meta}
    return found


def _b64(value: Any) -> bytes:
    return base64.b64decode("".join(value) if isinstance(value, list) else value)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def parse_target(target: str) -> tuple[bool, str, str] | None:
    """``"RUN:KEY"`` or ``"real/RUN:KEY"`` as ``(real, run id, key)``; None when malformed."""
    real = target.startswith(REAL_TARGET_PREFIX)
    run_id, sep, key = target[len(REAL_TARGET_PREFIX):].partition(":") if real else target.partition(":")
    if not sep or not run_id.strip() or not key.strip() or "/" in run_id:
        return None
    return real, run_id.strip(), key.strip()


def glued_notebook(env: Any, real: bool, run_id: str) -> Path:
    """The executed notebook of run ``run_id``: in ``book/_real/`` when ``real``, else ``book/_executed/``."""
    if real:
        return Path(env.app.confdir) / REAL_DIR / f"{run_id}.ipynb"
    executed = getattr(env, "genrenet_executed_dir", None) or Path(env.app.confdir) / EXECUTED_PREFIX
    return Path(executed) / f"{run_id}.ipynb"


def find_glued(env: Any, target: str) -> tuple[dict[str, Any] | None, str | None]:
    """The output glued as ``target`` (``[real/]RUN:KEY``), or ``(None, why not)``.

    Notes the notebook as a dependency of the current document, so a new run rebuilds the page.
    """
    parsed = parse_target(target)
    if parsed is None:
        return None, f"expected RUN:KEY or real/RUN:KEY, got {target!r}"
    real, run_id, key = parsed
    notebook = glued_notebook(env, real, run_id)
    env.note_dependency(str(notebook))
    if not notebook.is_file():
        how = ("record it with `genrenet book record`" if real
               else f"run `genrenet book run --only {run_id}`")
        return None, f"notebook {notebook} not found (no key {key!r}; {how})"
    output = glued_outputs(notebook).get(key)
    if output is None:
        return None, f"no output glued as {key!r} in {notebook}"
    return output, None


def glued_plain_text(output: dict[str, Any]) -> str:
    """The text/plain value of a glued output; a glued ``str`` loses the quotes of its repr."""
    import ast

    text = _text(output["data"].get("text/plain")).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, str):
            return value
    return text


def glued_text_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
                    options: dict | None = None, content: list | None = None):
    """``{glued-text}`[real/]RUN:KEY```: the text a notebook glued, inline."""
    env = inliner.document.settings.env
    output, why = find_glued(env, text)
    if output is None:
        msg = inliner.reporter.warning(f"glued-text: {why}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    if "text/plain" not in output["data"]:
        msg = inliner.reporter.warning(f"glued-text: {text} holds no text/plain value", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.inline(rawtext, glued_plain_text(output), classes=["genrenet-glued-text"])], []


class _GluedDirective(SphinxDirective):
    """Shared part of ``{glued-figure}`` and ``{glued-audio}``: find ``[real/]run:key``."""

    required_arguments = 1
    has_content = True

    def glued(self) -> tuple[dict[str, Any] | None, list[nodes.Node]]:
        output, why = find_glued(self.env, self.arguments[0])
        if output is None:
            return None, [self.state.document.reporter.warning(f"{self.name}: {why}", line=self.lineno)]
        return output, []

    def caption(self, node: nodes.Element) -> list[nodes.Node]:
        if not self.content:
            return []
        holder = nodes.Element()
        self.state.nested_parse(self.content, self.content_offset, holder)
        first = holder[0] if len(holder) else None
        if isinstance(first, nodes.paragraph):
            node += nodes.caption(first.rawsource, "", *first.children)
            if len(holder) > 1:
                node += nodes.legend("", *holder[1:])
        return []


class GluedFigure(_GluedDirective):
    """``{glued-figure} RUN:KEY``: a figure a notebook glued, with its alt text and a caption."""

    option_spec = {"alt": directives.unchanged, "name": directives.unchanged,
                   "width": directives.length_or_percentage_or_unitless}

    def run(self) -> list[nodes.Node]:
        output, problems = self.glued()
        if output is None:
            return problems
        data = output["data"]
        if "image/png" not in data:
            return [self.state.document.reporter.warning(
                f"glued-figure: {self.arguments[0]} holds no image/png", line=self.lineno)]
        alt = self.options.get("alt") or _alt_of(output)
        if not alt:
            return [self.state.document.reporter.warning(
                f"glued-figure: {self.arguments[0]} has no alt text (give :alt: or glue it with alt=)",
                line=self.lineno)]
        png = _b64(data["image/png"])
        real, run_id, key = parse_target(self.arguments[0])
        rel = f"{GLUED_DIR}/{'real/' if real else ''}{run_id}/{key}-{hashlib.sha256(png).hexdigest()[:12]}.png"
        path = Path(self.env.srcdir) / rel
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
        image = nodes.image(uri="/" + rel, alt=alt)
        if "width" in self.options:
            image["width"] = self.options["width"]
        figure = nodes.figure("", image)
        self.set_source_info(figure)
        if "name" in self.options:
            self.add_name(figure)
        self.caption(figure)
        return [figure]


class GluedAudio(_GluedDirective):
    """``{glued-audio} RUN:KEY``: a sound a notebook glued, as an audio player with a caption."""

    def run(self) -> list[nodes.Node]:
        output, problems = self.glued()
        if output is None:
            return problems
        data = output["data"]
        match = re.search(r'src="data:audio/(?:wav|x-wav);base64,([^"]+)"', _text(data.get("text/html")))
        if match is None:
            return [self.state.document.reporter.warning(
                f"glued-audio: {self.arguments[0]} holds no embedded WAV audio", line=self.lineno)]
        wav = base64.b64decode(match.group(1))
        name = f"{hashlib.sha256(wav).hexdigest()[:16]}.wav"
        pending = self.env.__dict__.setdefault("genrenet_audio", {})
        pending[name] = wav
        depth = self.env.docname.count("/")
        src = "../" * depth + f"{AUDIO_DIR}/{name}"
        label = html.escape(_alt_of(output) or "sound")
        player = nodes.raw("", f'<audio class="genrenet-audio" controls preload="none" src="{src}" '
                               f'aria-label="{label}"></audio>', format="html")
        box = nodes.container("", player, classes=["genrenet-glued-audio"])
        if self.content:
            holder = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, holder)
            box += holder.children
        self.set_source_info(box)
        return [box]


def _alt_of(output: dict[str, Any]) -> str:
    meta = output.get("metadata") or {}
    alt = (meta.get("genrenet") or {}).get("alt")
    if alt:
        return str(alt)
    plain = _text(output["data"].get("text/plain")).strip()
    return "" if plain.startswith("<") else plain  # "<Figure size ...>" describes nothing


def _write_audio(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    pending = getattr(app.env, "genrenet_audio", {})
    if not pending:
        return
    out = Path(app.outdir) / AUDIO_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, wav in pending.items():
        (out / name).write_bytes(wav)


def _merge_audio(app: Any, env: Any, docnames: Any, other: Any) -> None:
    env.__dict__.setdefault("genrenet_audio", {}).update(getattr(other, "genrenet_audio", {}))


# --------------------------------------------------------------------------- substitutions from code and data


def _percent(value: float, digits: int = 1) -> str:
    return f"{100 * float(value):.{digits}f} %"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def book_substitutions(root: Path) -> dict[str, str]:
    """MyST substitutions of figures that do not come from a notebook run, by name.

    * ``thesis_accuracy`` ("77.04 %"), ``thesis_loss``, ``thesis_metric`` and ``thesis_objective``
      ("75 %") from :data:`genrenet.evaluate.THESIS_RESULT` and :data:`genrenet.evaluate.THESIS_OBJECTIVE`;
    * ``selection_thresholds`` ("0.65, 0.70 and 0.75") from :data:`genrenet.selection.THRESHOLDS`;
    * for each shipped model ``genrenet/pretrained/<id>/meta.json``: ``shipped_<id>_track_accuracy``,
      ``_window_accuracy`` (as "88.5 %"), ``_macro_f1`` (as "0.704"), ``_tracks`` (clips scored) and ``_name``;
    * ``edition_date``, ``edition_version``, ``edition_data``, ``edition_minutes``, ``edition_megabytes``,
      ``edition_runs`` and ``edition_source`` from the real-data edition's ``book/_real/recording.json``;
    * from ``benchmarks/results/predict.json``: ``shipped_compact_ms`` (features and inference of one
      clip by the compact CNN, in process) and ``shipped_default_request_ms`` (median time of a
      request to the default model through the web service).

    A figure whose source file is missing is left out (a page using it then fails the build).
    """
    from genrenet.evaluate import THESIS_OBJECTIVE, THESIS_RESULT
    from genrenet.selection import THRESHOLDS

    subs = {
        "thesis_accuracy": _percent(THESIS_RESULT["accuracy"], 2),
        "thesis_loss": f"{THESIS_RESULT['loss']:.4f}",
        "thesis_metric": THESIS_RESULT["metric"],
        "thesis_objective": _percent(THESIS_OBJECTIVE, 0),
        "selection_thresholds": (", ".join(f"{t:.2f}" for t in THRESHOLDS[:-1])
                                 + f" and {THRESHOLDS[-1]:.2f}" if len(THRESHOLDS) > 1 else f"{THRESHOLDS[0]:.2f}"),
    }
    import genrenet

    # the shipped bundles of the genrenet that builds the book (a copy of the sources has no package)
    for meta_path in sorted((Path(genrenet.__file__).resolve().parent / "pretrained").glob("*/meta.json")):
        meta = _read_json(meta_path)
        metrics = meta.get("metrics") or {}
        key = f"shipped_{meta_path.parent.name}"
        if meta.get("name"):
            subs[f"{key}_name"] = str(meta["name"])
        for field in ("track_accuracy", "window_accuracy"):
            if isinstance(metrics.get(field), (int, float)):
                subs[f"{key}_{field}"] = _percent(metrics[field])
        if isinstance(metrics.get("macro_f1"), (int, float)):
            subs[f"{key}_macro_f1"] = f"{metrics['macro_f1']:.3f}"
        if isinstance(metrics.get("n_tracks"), int):
            subs[f"{key}_tracks"] = str(metrics["n_tracks"])
    predict = _read_json(root / "benchmarks" / "results" / "predict.json")
    compact = (predict.get("in_process") or {}).get("Compact CNN (GTZAN)") or {}
    if {"features_ms", "inference_ms"} <= set(compact):
        subs["shipped_compact_ms"] = f"{compact['features_ms'] + compact['inference_ms']:.0f} ms"
    default = predict.get("default_only") or {}
    if "median_ms" in default:
        subs["shipped_default_request_ms"] = f"{default['median_ms']:.0f} ms"
    return {**subs, **_edition_substitutions(root)}


def _edition_substitutions(root: Path) -> dict[str, str]:
    """``edition_*``: what the real-data edition the book renders cost and when it was made."""
    edition = _edition(root)
    if not edition:
        return {}
    return {
        "edition_date": edition["recorded"][:10],
        "edition_version": edition["genrenet_version"],
        "edition_data": edition["data"] or "GTZAN",
        "edition_minutes": f"{edition['seconds'] / 60:.0f} minutes",
        "edition_megabytes": f"{edition['bytes'] / 2**20:.1f} MB",
        "edition_runs": str(len(edition["runs"])),
        "edition_source": "a recording" if edition["source"] == "recording" else "a fresh run made for this build",
    }


def _shipped_substitutions(app: Any, config: Any) -> None:
    """Add :func:`book_substitutions` to ``myst_substitutions`` (values set in ``_config.yml`` win)."""
    found = book_substitutions(Path(app.confdir))
    config.myst_substitutions = {**found, **(getattr(config, "myst_substitutions", None) or {})}


# --------------------------------------------------------------------------- alt text of notebook figures


def _notebook_alts(notebook: Path) -> dict[str, str]:
    """Alt text by image file name (``<sha256 of the PNG>.png``, as myst-nb names them)."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    alts = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            alt = ((out.get("metadata") or {}).get("genrenet") or {}).get("alt")
            png = (out.get("data") or {}).get("image/png")
            if alt and png:
                alts[f"{hashlib.sha256(_b64(png)).hexdigest()}.png"] = str(alt)
    return alts


def _apply_alts(app: Any, doctree: Any) -> None:
    docname = app.env.docname
    if docname.startswith((EXECUTED_PREFIX, REAL_PAGE_PREFIX)):
        alts = _notebook_alts(Path(app.srcdir) / f"{docname}.ipynb")
    else:
        return
    for image in doctree.findall(nodes.image):
        name = Path(str(image.get("uri", ""))).name
        if name in alts:
            image["alt"] = alts[name]


# --------------------------------------------------------------------------- citation style


def _surnames(entry: Any) -> str:
    """"Tzanetakis and Cook", "LeCun et al." (authors, else editors, else the key)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [" ".join(part.render_as("text") for part in p.rich_prelast_names + p.rich_last_names)
            for p in people]
    if last and last[-1] == "others":  # BibTeX's "and others"
        return f"{last[0]} et al."
    if not last:
        return entry.key
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


def _register_citation_styles() -> None:
    """One author-year label per work, used by the bibliography and by every citation.

    The bibliography labels an entry "Tzanetakis and Cook, 2002" (two works of one author and
    year get "2022a", "2022b"); ``{cite:p}`` prints that label in round brackets and
    ``{cite:t}`` prints "Tzanetakis and Cook (2002)", the year part of the same label.
    """
    from pybtex.plugin import register_plugin
    from pybtex.richtext import Text
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting.author_year_title import SortingStyle
    from pybtex.style.template import join, node
    from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex_plugin
    from sphinxcontrib.bibtex.style.referencing import BaseReferenceStyle, BracketStyle, GroupReferenceStyle
    from sphinxcontrib.bibtex.style.referencing.extra_empty import ExtraEmptyReferenceStyle
    from sphinxcontrib.bibtex.style.template import entry_label, join2, post_text, pre_text, reference

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries: Any):
            labels = [f"{_surnames(e)}, {e.fields.get('year', 'n.d.')}" for e in sorted_entries]
            for i, label in enumerate(labels):
                twins = [j for j, other in enumerate(labels) if other == label]
                yield label + ("abcdefghij"[twins.index(i)] if len(twins) > 1 else "")

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = SortingStyle

    @node
    def label_authors(children, data):
        return Text(data["formatted_entry"].label.rsplit(", ", 1)[0])

    @node
    def label_year(children, data):
        return Text(data["formatted_entry"].label.rsplit(", ", 1)[-1])

    round_brackets = BracketStyle(left="(", right=")", sep="; ")

    @dataclasses.dataclass
    class Parenthetical(BaseReferenceStyle):
        def role_names(self):
            return ["p", "ps", "alp", "alps"]

        def outer(self, role_name, children):
            return round_brackets.outer(children, brackets="al" not in role_name, capfirst=False)

        def inner(self, role_name):
            return join2(sep1=" ", sep2=", ")[pre_text, reference[entry_label], post_text]

    @dataclasses.dataclass
    class Textual(BaseReferenceStyle):
        def role_names(self):
            return ["t", "ts", "ct", "cts"]

        def outer(self, role_name, children):
            return round_brackets.outer(children, brackets=False, capfirst="c" in role_name)

        def inner(self, role_name):
            return join(sep=" ")[label_authors, join["(", join2(sep1=" ", sep2=", ")[
                pre_text, reference[label_year], post_text], ")"]]

    @dataclasses.dataclass
    class LabelAuthorYear(GroupReferenceStyle):
        def __post_init__(self):
            self.styles.extend([Parenthetical(), Textual(), ExtraEmptyReferenceStyle()])
            super().__post_init__()

    register_plugin("pybtex.style.formatting", "genrenet_author_year", AuthorYearStyle, force=True)
    register_bibtex_plugin("sphinxcontrib.bibtex.style.referencing", "genrenet_author_year", LabelAuthorYear,
                           force=True)


def setup(app: Any) -> dict[str, Any]:
    _register_citation_styles()
    app.connect("config-inited", _add_static)
    app.add_css_file("genrenet.css")
    app.connect("builder-inited", _load_runs)
    app.connect("doctree-read", _apply_alts)
    app.connect("env-merge-info", _merge_audio)
    app.connect("build-finished", _write_audio)
    # after sphinx-book-theme has built its launch buttons (priority 500)
    app.connect("html-page-context", _fix_launch_links, priority=900)
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("html-page-context", _banner, priority=900)
    app.add_directive("glued-figure", GluedFigure)
    app.add_directive("glued-audio", GluedAudio)
    app.add_role("glued-text", glued_text_role)
    app.connect("config-inited", _shipped_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
