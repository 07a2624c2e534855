"""No result is typed by hand in the book's prose.

Every accuracy, F1, percentage of a result, latency or memory figure on a ``book/*.md`` page must
come from a run: ``{glued-text}`[real/]RUN:KEY``` (what a notebook glued) or a MyST substitution
``{{ name }}`` (set from code and the shipped models by book/_ext/genrenet_booktools.py). This test
finds hand-typed metrics and names the file, the line and the text. It skips fenced code blocks,
math, inline code, roles (glue, citations, cross-references), substitutions, URLs and HTML
comments, and the few constants of the theory chapters listed in ``ALLOWED``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"

#: Fenced blocks whose content is not prose (code, math, raw output); other directives are checked.
_NOT_PROSE_FENCES = re.compile(r"^(?:`{3,}|~{3,}|:{3,})\s*(?:\{(?:math|code|code-block|code-cell|literalinclude|raw|"
                               r"glue|glue:\w+|glued-figure|glued-audio|notebook-parameters)\}|(?!\{))")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})")

#: What is removed from a line before looking for numbers.
_SKIP = [
    re.compile(r"<!--.*?-->"),                        # HTML comments
    re.compile(r"\{\{[^}]*\}\}"),                      # substitutions {{ name }}
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),                # roles: {glued-text}`...`, {cite:p}`...`, {doc}`...`
    re.compile(r"`[^`]*`"),                            # inline code
    re.compile(r"\$\$.*?\$\$|\$[^$]+\$"),              # inline math
    re.compile(r"https?://\S+|\]\([^)]*\)"),           # URLs and link targets
]

#: Hand-typed metrics: a percentage; a decimal in [0, 1] with two or more digits; a decimal
#: number within three words after the name of a metric.
_METRICS = [
    re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?\s*(?:%|percent\b|per cent\b)"),
    re.compile(r"(?<![\w.])(?:0\.\d{2,}|1\.0{2,})(?![\d.])"),
    re.compile(r"\b(?:accurac(?:y|ies)|(?:macro-?)?F1(?:[- ]score)?|F-score|precision|recall|loss)\b"
               r"(?:[^\w\n]+(?!(?:section|chapter|figure|table|equation)\b)\w+){0,3}?[^\w\n]+(\d*\.\d+)",
               re.IGNORECASE),
]

#: (page, text) pairs that are constants of the theory, not results of ours.
ALLOWED = {
    ("theory_sound.md", "9 %"),  # the Gibbs overshoot of a Fourier partial sum, a property of the series
}


def hand_typed_metrics(text: str) -> list[tuple[int, str]]:
    """Every hand-typed metric of a MyST page, as ``(line number, offending text)``."""
    found = []
    fence: str | None = None
    skipping = False
    in_math = False
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is None and m:
            fence, skipping = m.group(1), bool(_NOT_PROSE_FENCES.match(line.strip()))
            continue
        if fence is not None:
            if line.strip() == fence or (m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
                                          and not line.strip()[len(m.group(1)):].strip()):
                fence = None
                continue
            if skipping or line.lstrip().startswith(":"):  # directive options (:alt:, :name:)
                continue
        if line.strip().startswith("$$"):
            if not (line.strip() != "$$" and line.strip().endswith("$$") and len(line.strip()) > 4):
                in_math = not in_math
            continue
        if in_math:
            continue
        clean = line
        for pattern in _SKIP:
            clean = pattern.sub(" ", clean)
        for pattern in _METRICS:
            for hit in pattern.finditer(clean):
                found.append((number, hit.group(0).strip()))
    return found


def _pages() -> list[Path]:
    return sorted(BOOK.glob("*.md"))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_prose_pages_carry_no_hand_typed_metric(page):
    problems = [f"{page.relative_to(BOOK.parent)}:{line}: {text!r}"
                for line, text in hand_typed_metrics(page.read_text(encoding="utf-8"))
                if (page.name, text) not in ALLOWED]
    assert not problems, ("hand-typed metrics in the prose; paste them with {glued-text}`real/results:KEY` "
                          "or a {{ substitution }} instead:\n" + "\n".join(problems))


@pytest.mark.parametrize("text, hits", [
    ("The thesis reached 0.7704 on its data.", ["0.7704"]),
    ("The thesis reached 77.04 % on its data.", ["77.04 %"]),
    ("Ours is 88.5 % on ten genres.", ["88.5 %"]),
    ("a model with accuracy 0.9 wins", ["accuracy 0.9"]),
    ("track accuracy of 0.885 here", ["0.885", "accuracy of 0.885"]),
    ("macro-F1 was 0.59", ["0.59", "macro-F1 was 0.59"]),
    ("it met 75%.", ["75%"]),
    ("ten percent better", []),
    ("sixty 60 percent", ["60 percent"]),
])
def test_the_detector_finds_metrics(text, hits):
    assert [t for _, t in hand_typed_metrics(text)] == hits


@pytest.mark.parametrize("text", [
    "CD audio has 44,100 Hz; we resample to 22,050 Hz.",
    "Windows of 3 s with a hop of 1.5 s; 128 mel bands; 2048-sample frames.",
    "The objective {glued-text}`real/results:objective_sentence` ({{ thesis_accuracy }}).",
    "GTZAN (Tzanetakis and Cook, 2002) and {cite:p}`kereliuk2015`; see section 3.2.",
    "`FeatureSpec(crop=(0.05, 0.9))` and $p = 0.25$ and <https://example.org/0.75%>.",
    "accuracy (every 3 s window on its own) and track-level accuracy",
    "```python\nacc = 0.885  # 88.5 %\n```",
    "$$\nx = 0.75\n$$",
    "```{math}\n0.75\n```",
    "<!-- 0.885 -->",
    "version 1.2.3, Python 3.11, figure 2.4",
])
def test_the_detector_leaves_other_numbers_alone(text):
    assert hand_typed_metrics(text) == []


def test_directive_bodies_are_prose_but_their_options_are_not():
    text = "```{note}\nIt reached 88.5 %.\n```\n```{glued-figure} real/results:chart\n:alt: 0.885\n```\n"
    assert hand_typed_metrics(text) == [(2, "88.5 %")]
