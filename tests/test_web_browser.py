"""The upload page in headless Chromium (Python playwright, Debian's /usr/bin/chromium).

Drops a file on the drop zone (a DataTransfer ``drop`` event), uses the file
picker (also from the keyboard), checks the bar charts and an error message, and
saves screenshots (desktop and a 390x844 phone) to ``tests/artifacts/``. With
``GENRENET_UPDATE_DOCS=1`` the real-clip test also rewrites ``docs/upload-page.png``, the
picture of the page that the README and the book chapter ``book/dev_website.md`` show.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from genre_detector_helpers import (
    HIGH_HZ,
    LOW_HZ,
    make_band_bundle,
    make_sklearn_bundle,
    save_docs_screenshot,
    serve_app,
    tone,
    wav_bytes,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: The upload page after a prediction, shown by the README and the book's website chapter; written by
#: test_real_clip_with_the_default_model when GENRENET_UPDATE_DOCS=1 (tests/test_book_sources.py checks it).
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "upload-page.png"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser not available: {CHROMIUM} is missing")
    pytest.importorskip("playwright.sync_api")
    from genrenet.predict import Predictor
    from genrenet.web import create_app

    root = tmp_path_factory.mktemp("browser-models")
    make_band_bundle(root / "band", name="Band Model")
    make_sklearn_bundle(root / "baseline", name="Tone Baseline", extra_meta={"dataset": "demo", "synthetic": True})
    predictor = Predictor(models_dir=root, include_default=False, max_duration=60.0)
    app = create_app(predictor, book_dir=root / "no-book")
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


def drop_file(page, data: bytes, name: str, mime: str) -> None:
    """Dispatch dragenter/dragover/drop with a DataTransfer holding the file."""
    page.evaluate(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, {type: mime}));
            const zone = document.getElementById('drop-zone');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
            }
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


def winners(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart')].map(
            c => [c.dataset.model, c.querySelector('.winner-genre').textContent]))"""
    )


def test_drop_pick_and_error_on_desktop(site, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site) else external.append(r.url))
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(site + "/")
    header = page.locator("header").inner_text()
    assert "MUSIC GENRE DETECTOR" in header and "How does it work?" in header and "Documentation" in header
    assert page.locator("h1").inner_text() == "Find the genre of your track"
    assert page.locator("#drop-zone").is_visible()
    page.screenshot(path=str(ARTIFACTS / "upload_page_desktop.png"), full_page=True)

    # 1. drag and drop
    drop_file(page, wav_bytes(tone(HIGH_HZ, 3.0)), "high tone.wav", "audio/wav")
    page.wait_for_selector("#results:not([hidden]) .chart", timeout=30_000)
    assert winners(page) == {"Band Model": "high", "Tone Baseline": "high"}
    assert page.locator(".chart").count() == 2
    assert page.locator(".chart[data-model='Band Model'] .bar").count() == 2
    width = page.locator(".chart[data-model='Band Model'] .bar.top .bar-fill").evaluate("e => e.style.width")
    assert float(width.rstrip("%")) > 90
    assert "for high tone.wav" in page.locator("#results-file").inner_text()
    assert "accuracy 90.0%" in page.locator(".chart[data-model='Band Model'] .metric").inner_text()
    assert "trained on synthetic tones" in page.locator(".chart[data-model='Band Model'] .metric").inner_text()
    # only the model trained on the synthetic demo corpus carries the caveat
    assert page.locator(".chart[data-model='Band Model'] .caveat").count() == 0
    assert "synthetic demo corpus" in page.locator(".chart[data-model='Tone Baseline'] .caveat").inner_text()
    page.screenshot(path=str(ARTIFACTS / "results_desktop.png"), full_page=True)

    # 2. the file picker
    low = tmp_path / "low tone.wav"
    low.write_bytes(wav_bytes(tone(LOW_HZ, 2.0)))
    page.set_input_files("#file-input", str(low))
    page.wait_for_function("() => document.querySelector('#results-file').textContent.includes('low tone.wav')")
    assert winners(page) == {"Band Model": "low", "Tone Baseline": "low"}

    # 3. keyboard: Tab reaches the "Choose a file" button and Enter activates it. (Headless
    # Chromium does not reliably grant user activation to synthetic key presses, so the picker
    # itself is opened with a mouse click on the same button.)
    page.evaluate("document.getElementById('pick-button').addEventListener('click', () => { window.__picked = true; })")
    page.focus("h1")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "pick-button":
            break
    assert page.evaluate("document.activeElement.id") == "pick-button"
    page.keyboard.press("Enter")
    assert page.evaluate("window.__picked === true")
    high = tmp_path / "high again.wav"
    high.write_bytes(wav_bytes(tone(HIGH_HZ, 2.0)))
    with page.expect_file_chooser(timeout=10_000) as chooser:
        page.click("#pick-button")
    chooser.value.set_files(str(high))
    page.wait_for_function("() => document.querySelector('#results-file').textContent.includes('high again.wav')")
    assert winners(page) == {"Band Model": "high", "Tone Baseline": "high"}

    # 4. an error from the API is shown in words
    bad = tmp_path / "notes.txt"
    bad.write_text("just text")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "unsupported file type '.txt'" in page.locator("#error").inner_text()
    drop_file(page, b"definitely not audio" * 50, "broken.wav", "audio/wav")
    page.wait_for_function("() => document.querySelector('#error').textContent.includes('cannot decode')")
    assert page.locator("#results").is_hidden()  # stale results are not shown beside an error
    page.screenshot(path=str(ARTIFACTS / "error_desktop.png"))

    assert external == [], f"the page fetched other hosts: {external}"
    assert console_errors == [] or all("400" in e or "415" in e or "422" in e for e in console_errors)
    page.close()


def test_phone_layout(site, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    page.goto(site + "/")
    drop_file(page, wav_bytes(tone(LOW_HZ, 2.0)), "phone.wav", "audio/wav")
    page.wait_for_selector("#results:not([hidden]) .chart", timeout=30_000)
    # nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#drop-zone").bounding_box()
    assert box["width"] <= 390 and box["x"] >= 0
    charts = page.locator(".chart")
    assert charts.count() == 2
    # stacked in one column; measured in page coordinates in one go, since the page may be
    # scrolling to the results while it is measured
    tops = page.evaluate(
        "[...document.querySelectorAll('.chart')].map(e => e.getBoundingClientRect().top + window.scrollY)")
    lefts = page.evaluate("[...document.querySelectorAll('.chart')].map(e => e.getBoundingClientRect().left)")
    assert tops[1] > tops[0] and abs(lefts[1] - lefts[0]) < 1
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "results_phone.png"), full_page=True)
    ctx.close()


def test_real_clip_with_the_default_model(browser, gtzan_mini, tmp_path):
    """A real GTZAN clip through the shipped models: a chart of ten bars each, the default model right."""
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser not available: {CHROMIUM} is missing")
    from genrenet.predict import Predictor, default_bundle_path
    from genrenet.web import create_app

    if default_bundle_path() is None:
        pytest.skip("the default model bundle genrenet/pretrained/musicnn_gtzan10 is not installed")
    predictor = Predictor(bundles=[], include_default=True)
    name = predictor.model_names[0]
    clip = sorted((gtzan_mini / "metal").glob("*.wav"))[0]
    with serve_app(create_app(predictor, book_dir=tmp_path)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.set_input_files("#file-input", str(clip))
        page.wait_for_selector("#results:not([hidden]) .chart", timeout=60_000)
        # one chart per shipped model (the default first), ten bars each, each naming how it was measured
        assert page.locator(".chart").count() == len(predictor.models) >= 2
        assert page.locator(".chart .bar").count() == 10 * len(predictor.models)
        assert page.locator(".chart .protocol").count() == len(predictor.models)
        assert "fault-filtered" in page.locator(".chart .protocol").first.inner_text()
        assert winners(page)[name] == "metal"
        assert "30.0 s" in page.locator("#track-info").inner_text()
        page.screenshot(path=str(ARTIFACTS / "results_gtzan_default_model.png"), full_page=True)
        if os.environ.get("GENRENET_UPDATE_DOCS") == "1":  # refresh the picture the README and the book show
            page.set_viewport_size({"width": 900, "height": 900})
            save_docs_screenshot(page.screenshot(full_page=True), DOCS_SCREENSHOT,
                                 source="tests/test_web_browser.py::test_real_clip_with_the_default_model")
        page.close()
