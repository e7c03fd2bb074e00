"""MkDocs hook: the site serves its own MathJax, so that its equations render offline.

MathJax 3 comes from PyPI, in the ``django-static-mathjax`` package (a plain copy of
MathJax's ``es5`` folder; Django itself is not needed). This hook adds the part of it
that the pages load to the site's files under ``assets/mathjax/``: the combined
component ``tex-chtml.js`` (TeX in, HTML out), what it loads on demand (the TeX
extensions that ``autoload`` fetches, the HTML output's fonts, the menu's accessibility
tools) and MathJax's licence. ``mkdocs.yml`` loads ``assets/mathjax/tex-chtml.js``
after ``javascripts/mathjax-config.js``, by relative URLs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

SITE_FOLDER = "assets/mathjax"

#: What the site copies from MathJax's es5 folder: files, and folders copied whole.
COPIED = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y", "sre")


def mathjax_folder() -> Path:
    """MathJax's ``es5`` folder in the installed ``django-static-mathjax`` package."""
    try:
        folder = Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError as error:
        raise PluginError("MathJax is missing: pip install -e '.[docs]' installs it "
                          "(the django-static-mathjax package)") from error
    if not (folder / "tex-chtml.js").is_file():
        raise PluginError(f"{folder} holds no tex-chtml.js: reinstall django-static-mathjax")
    return folder


def on_files(files, config):
    es5 = mathjax_folder()
    licence = es5.parent / "LICENSE"
    sources = [licence] if licence.is_file() else []
    for name in COPIED:
        path = es5 / name
        sources += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for source in sources:
        relative = source.relative_to(es5 if source != licence else licence.parent)
        files.append(File.generated(config, f"{SITE_FOLDER}/{relative.as_posix()}",
                                    abs_src_path=str(source)))
    return files
