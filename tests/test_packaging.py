"""Packaging: pyproject.toml, Binder's environment.yml, installed metadata, README commands, npm pins."""

from __future__ import annotations

import json
import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[=<>!~;\[ ]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def env_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return [str(x) for x in pip[0]["pip"]]


def test_every_dependency_is_pinned_exactly(pyproject):
    deps = pyproject["project"]["dependencies"]
    assert deps, "pyproject.toml lists no dependencies"
    loose = [d for d in deps if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", d.strip())]
    assert not loose, f"dependencies not pinned with ==: {loose}"
    names = [_name(d) for d in deps]
    assert len(names) == len(set(names)), "a dependency is listed twice"


def test_librosa_is_a_test_reference_only(pyproject):
    """librosa is in the test extra, never a runtime dependency nor imported by genrenet; soxr is declared."""
    import ast

    runtime = {_name(d) for d in pyproject["project"]["dependencies"]}
    assert "librosa" not in runtime and "soxr" in runtime
    assert "librosa" in {_name(d) for d in pyproject["project"]["optional-dependencies"]["test"]}
    importers = []
    for path in sorted((ROOT / "genrenet").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "librosa" for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert not importers, f"genrenet modules import librosa (a test-only dependency): {importers}"


def test_binder_environment_installs_exactly_the_pinned_set(pyproject, env_pip):
    deps = {d.replace(" ", "") for d in pyproject["project"]["dependencies"]}
    env = {d.replace(" ", "") for d in env_pip}
    assert env == deps, (f"environment.yml and pyproject.toml disagree: only in environment.yml {sorted(env - deps)}, "
                         f"only in pyproject.toml {sorted(deps - env)}")
    conda = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"] if isinstance(d, str)]
    python = [d for d in conda if d.startswith("python")]
    assert python == ["python=3.11"], "Binder must use the Python pyproject.toml requires (3.11)"
    assert pyproject["project"]["requires-python"].startswith(">=3.11")


def test_binder_post_build_installs_genrenet():
    post = ROOT / "postBuild"
    assert post.is_file() and os.access(post, os.X_OK), "postBuild must exist and be executable"
    text = post.read_text()
    assert "pip install --no-deps -e ." in text
    assert "ipykernel install" in text


def test_installed_metadata_matches_pyproject(pyproject):
    """`pip install -e .` was run with the current pyproject.toml, and the pins are what is installed."""
    requires = metadata.requires("genrenet") or []
    runtime = {r.replace(" ", "") for r in requires if "extra ==" not in r}
    assert runtime == {d.replace(" ", "") for d in pyproject["project"]["dependencies"]}, \
        "installed genrenet metadata is stale: run `pip install -e .`"
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("genrenet") == "genrenet.cli:main"
    wrong = {}
    for dep in pyproject["project"]["dependencies"]:
        name, _, version = dep.partition("==")
        installed = metadata.version(name)
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from the pins (pinned, installed): {wrong}"


def test_readme_two_commands_exist_in_the_makefile():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("book", "test"):
        assert f"make {target}" in readme, f"README does not show `make {target}`"
        assert re.search(rf"^{target}\s*:", makefile, re.M), f"Makefile has no `{target}` target"
    assert "genrenet book run" in makefile and "genrenet book build" in makefile


def test_mathjax_is_pinned_for_the_offline_book():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = package["dependencies"]["mathjax"]
    assert re.fullmatch(r"3\.\d+\.\d+", pinned), "mathjax must be pinned to an exact 3.x version"
    assert lock["packages"]["node_modules/mathjax"]["version"] == pinned
    assert lock["packages"]["node_modules/mathjax"]["integrity"].startswith("sha512-")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    path = config["sphinx"]["config"]["mathjax_path"]
    assert "://" not in path and "_static" not in path, "MathJax must be served locally, outside _static"
