"""The recorded real-data edition of the book (genrenet.book.edition, ``genrenet book record``)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
import soundfile as sf
import yaml

from genrenet import book
from genrenet.book import edition
from genrenet.cli import main
from genrenet.errors import DataError, ParameterError

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, params: str, body: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Generic title\n\nWhat it does."), nbformat.v4.new_code_cell(params)]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in body]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path):
    """A project whose `real` profile reads a data directory and plays one of its clips."""
    data = tmp_path / "store" / "clips"
    (data / "low").mkdir(parents=True)
    t = np.arange(2205) / 22050
    sf.write(data / "low" / "low.00000.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    _notebook(tmp_path / "notebooks" / "listen.ipynb",
              'data_dir = None\nepochs: int = 3  # most epochs\noutput_dir = "outputs/listen"',
              ["import pathlib\nfrom IPython.display import Audio, display\n"
               "if data_dir:  # the demo profile runs it without data\n"
               "    clip = sorted(pathlib.Path(data_dir).rglob('*.wav'))[0]\n"
               "    print('read', clip, 'from', pathlib.Path(data_dir).parent)\n"
               "    display(Audio(filename=str(clip)))\n"
               "print('epochs', epochs)\n"
               "import sys\nsys.stderr.write('progress' + ' bar 50%')"])
    _notebook(tmp_path / "notebooks" / "other.ipynb", 'output_dir = "outputs/other"', ["print('other')"])
    cfg = {
        "executed_dir": "book/_executed",
        "results_dir": "results",
        "cell_timeout": 60,
        "defaults": {"epochs": 3},
        "runs": [
            {"id": "listen", "notebook": "notebooks/listen.ipynb", "title": "Listening to real clips"},
            {"id": "other", "notebook": "notebooks/other.ipynb"},
        ],
        "profiles": {
            "demo": {},
            "gtzan": {"requires_data_dir": True, "executed_dir": "book/_executed/real", "include": ["listen"],
                      "parameters": {"epochs": 5}},
        },
    }
    (tmp_path / "experiments.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp_path, data


def _record(root: Path, data: Path, **kw) -> edition.Recording:
    return edition.record_edition(root, data_dir=data, progress=False, log=lambda s: None, **kw)


def test_record_stores_stamped_notebooks_without_audio_or_machine_paths(project):
    root, data = project
    recording = _record(root, data)
    recorded = root / edition.RECORDED_DIR
    assert sorted(p.name for p in recorded.iterdir()) == ["listen.ipynb", "recording.json"]
    assert edition.read_recording(recorded) == recording
    (run,) = recording.runs
    assert (run.id, run.title, run.notebook) == ("listen", "Listening to real clips", "notebooks/listen.ipynb")
    assert run.parameters["data_dir"] == "clips" and run.parameters["epochs"] == 5
    assert run.seconds is not None and run.seconds > 0 and run.executed
    assert recording.profile == "gtzan" and recording.source == "recording" and recording.data == "clips"
    assert recording.bytes == (recorded / "listen.ipynb").stat().st_size
    text = (recorded / "listen.ipynb").read_text()
    assert "audio/wav" not in text and "<audio" not in text.lower() and "An audio player was here" in text
    assert str(root) not in text and str(data.parent) not in text
    assert "read clips/low/low.00000.wav from store" in text
    assert "progress bar" not in text  # stderr is never rendered, and not recorded
    nb = nbformat.read(recorded / "listen.ipynb", as_version=4)
    assert nb.cells[0].source.startswith("# Listening to real clips")  # the run's title, not the notebook's
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "epochs: int = 5  # most epochs" in params.source  # the value the run used
    # recording again reuses the finished run and gives the same notebooks
    before = (recorded / "listen.ipynb").read_bytes()
    again = _record(root, data)
    assert (recorded / "listen.ipynb").read_bytes() == before and again.runs[0].digest == run.digest


def test_recording_over_the_size_limit_is_refused_and_the_old_one_kept(project, monkeypatch):
    root, data = project
    _record(root, data)
    kept = (root / edition.RECORDED_DIR / edition.RECORDING_NAME).read_text()
    monkeypatch.setattr(edition, "MAX_RECORDING_BYTES", 100)
    with pytest.raises(DataError, match=r"over the 0 MB allowed; largest: listen.ipynb"):
        edition.record_edition(root, data_dir=data, progress=False, log=lambda s: None)
    assert (root / edition.RECORDED_DIR / edition.RECORDING_NAME).read_text() == kept
    assert not list((root / "book").glob(".recorded.*"))


def test_list_flags_a_recording_whose_notebook_or_parameters_changed(project, capsys):
    root, data = project
    with pytest.raises(DataError, match="no recording"):
        edition.recording_status(root)
    _record(root, data)
    assert [(s.id, s.state) for s in edition.recording_status(root)] == [("listen", "up to date")]
    cfg = yaml.safe_load((root / "experiments.yml").read_text())
    cfg["profiles"]["gtzan"]["parameters"]["epochs"] = 9
    (root / "experiments.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (status,) = edition.recording_status(root)
    assert status.state == "stale" and "epochs 5 -> 9" in status.why
    nb = nbformat.read(root / "notebooks" / "listen.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('more')"))
    nbformat.write(nb, root / "notebooks" / "listen.ipynb")
    (status,) = edition.recording_status(root)
    assert "notebooks/listen.ipynb changed" in status.why
    assert main(["book", "--root", str(root), "list", "--profile", "demo"]) == 0
    out = capsys.readouterr().out
    assert "recorded real-data edition" in out and "STALE" in out and "record again" in out


def test_materialize_prefers_a_complete_fresh_run_over_the_recording(project):
    root, data = project
    with pytest.raises(DataError, match="no real-data edition to render"):
        edition.materialize_edition(root)
    _record(root, data)
    target = root / edition.REAL_DIR
    # recording executed the runs here: that complete fresh run is what the build renders
    assert edition.materialize_edition(root).source == "fresh run"
    assert json.loads((target / edition.RECORDING_NAME).read_text())["source"] == "fresh run"
    # a clone has only the recording
    (root / "book/_executed/real/listen.ipynb").unlink()
    assert edition.materialize_edition(root).source == "recording"
    assert (target / "listen.ipynb").read_bytes() == (root / edition.RECORDED_DIR / "listen.ipynb").read_bytes()
    assert not list((root / "book").glob("._real.*"))


def test_profile_include_and_executed_dir(project):
    root, data = project
    cfg = book.load_config(root)
    assert cfg.profile_run_ids("gtzan") == ["listen"] and cfg.profile_run_ids("demo") == ["listen", "other"]
    (run,) = book.plan_runs(cfg, profile="gtzan", data_dir=data)
    assert run.output == root / "book/_executed/real/listen.ipynb"
    with pytest.raises(ParameterError, match=r"not part of profile 'gtzan'"):
        book.plan_runs(cfg, profile="gtzan", data_dir=data, only=["other"])
    raw = yaml.safe_load((root / "experiments.yml").read_text())
    raw["runs"][1]["depends_on"] = ["listen"]
    raw["profiles"]["gtzan"]["include"] = ["other"]
    (root / "experiments.yml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParameterError, match=r"includes 'other' but not the run\(s\) it depends on"):
        book.load_config(root)


def test_check_executed_requires_the_toc_part_to_match_the_profile(project):
    root, data = project
    _record(root, data)
    book.run_experiments(root, profile="demo", progress=False, log=lambda s: None)
    toc = "format: jb-book\nroot: intro\nchapters:\n- file: book/_executed/listen\n- file: book/_executed/other\n"
    (root / "_toc.yml").write_text(toc + "- file: book/_real/other\n")
    cfg = book.load_config(root)
    with pytest.raises(DataError, match=r"runs not in the TOC \['listen'\], TOC pages without a run \['other'\]"):
        book.check_executed(cfg)
    (root / "_toc.yml").write_text(toc + "- file: book/_real/listen\n")
    paths = book.check_executed(cfg)
    assert paths[-1] == root / "book/_real/listen.ipynb" and paths[-1].is_file()


def test_show_parameters_and_retitle():
    source = 'model: str = "cnn"  # which model\nepochs: int = 3\n# a comment = not a parameter\nseed = 42'
    shown = book.show_parameters(source, {"epochs": 30, "model": "lstm"})
    assert shown.splitlines() == ["model: str = 'lstm'  # which model", "epochs: int = 30",
                                  "# a comment = not a parameter", "seed = 42"]
    assert book.retitle("Some text", "Run title") == "# Run title\n\nSome text"


def test_the_repository_recording_matches_the_toc_and_is_small():
    cfg = book.load_config(ROOT)
    recorded = ROOT / edition.RECORDED_DIR
    recording = edition.read_recording(recorded)
    if recording is None:
        pytest.fail(f"{recorded} holds no recording: run `genrenet book record` (see book/reproducing.md)")
    assert [r.id for r in recording.runs] == cfg.profile_run_ids(edition.RECORDING_PROFILE)
    size = sum(p.stat().st_size for p in recorded.iterdir())
    assert size <= edition.MAX_RECORDING_BYTES
    for run in recording.runs:
        text = (recorded / f"{run.id}.ipynb").read_text()
        assert "audio/wav" not in text and "<audio" not in text.lower(), run.id
        assert run.parameters.get("dataset") == "gtzan" and run.parameters.get("split", "fault-filtered") == \
            "fault-filtered", run.id
