"""MkDocs hook: the parts of pages that are read from the code at build time.

A page holds a marker, an HTML comment alone on its line (or in a table cell), and
the hook replaces it before the Markdown is converted:

- ``<!-- cli-reference: tfae -->``: every command and option of ``tfae``, from the
  parser that the command line itself builds (``tfae.cli.build_parser``);
- ``<!-- cli-reference: run_litert.py -->``: the options of ``export/run_litert.py``;
- ``<!-- cli-commands: tfae -->``: one line naming every ``tfae`` command (home page);
- ``<!-- include: PATH -->``: a Markdown file of the repository (``export/README.md``),
  its first heading dropped and the others one level down, so that it reads as a
  section of the page.

A marker that names nothing known fails the build.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import posixpath
import re
import warnings
from pathlib import Path

import cli_reference
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
CLI_PAGE = "cli.md"

_MARKER = re.compile(r"<!-- (cli-reference|cli-commands|include): (\S+) -->")
_FENCE = re.compile(r"^\s*(```|~~~)")


@functools.cache
def _tfae_parser():
    # tfae_launcher starts TensorFlow without its C++ start-up lines, as `tfae` does.
    import tfae_launcher

    with warnings.catch_warnings():  # TFP's distutils DeprecationWarning, not the site's
        warnings.simplefilter("ignore", DeprecationWarning)
        if tfae_launcher.LOG_LEVEL not in os.environ:
            os.environ[tfae_launcher.LOG_LEVEL] = "2"
            tfae_launcher.start_quietly()
        from tfae.cli import build_parser

    return build_parser()


@functools.cache
def _run_litert_parser():
    path = ROOT / "export" / "run_litert.py"
    spec = importlib.util.spec_from_file_location("run_litert", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._parser()


PARSERS = {"tfae": _tfae_parser, "run_litert.py": _run_litert_parser}


def _included(path: str) -> str:
    """The Markdown file ``path`` (relative to the repository) as a section: its first
    heading dropped, the other headings one level down (not inside code fences)."""
    lines, fenced, dropped = [], False, False
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            if not dropped:
                dropped = True
                continue
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def _replacement(kind: str, name: str, page) -> str:
    if kind == "include":
        if not (ROOT / name).is_file():
            raise PluginError(f"{page.file.src_uri}: <!-- include: {name} --> names no file")
        return _included(name)
    if name not in PARSERS:
        raise PluginError(f"{page.file.src_uri}: no parser {name!r}; known: {sorted(PARSERS)}")
    parser = PARSERS[name]()
    if kind == "cli-reference":
        return cli_reference.reference(parser)
    link = posixpath.relpath(CLI_PAGE, posixpath.dirname(page.file.src_uri) or ".")
    return cli_reference.commands(parser, link)


def on_page_markdown(markdown, page, config, files):
    return _MARKER.sub(lambda match: _replacement(*match.groups(), page), markdown)
