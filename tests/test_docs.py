"""The documentation site builds with ``mkdocs build --strict``.

Strict mode turns every warning into an error: a nav entry or link to a missing
page, a docstring mkdocstrings cannot parse, a tutorial notebook that is not
found. The site is written to a temporary folder.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip(f"mkdocs is not installed for {sys.executable}: pip install -e '.[docs]'")
    site = tmp_path / "site"
    # `python -m mkdocs` runs the mkdocs of this very environment (.venv/bin/mkdocs).
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    command += ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)]
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    exit_code, log = result.returncode, result.stderr[-4000:]
    assert exit_code == 0, f"mkdocs build --strict failed (exit {exit_code}):\n{log}"

    for notebook in NOTEBOOKS:
        page = site / "tutorials" / notebook.stem / "index.html"
        assert page.is_file(), f"tutorial {notebook.name} has no page in the site"
        assert (page.parent / notebook.name).is_file(), f"{notebook.name} is not downloadable"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for documented in ("tfae.Autoencoder", "tfae.VAE", "tfae.likelihoods", "tfae.datasets",
                       "tfae.metrics"):
        assert f'id="{documented}"' in api, f"{documented} is missing from the API reference"
