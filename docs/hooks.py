"""MkDocs hook: publishes the notebooks of ``tutorials/`` as pages of the site.

The notebooks live in ``tutorials/`` at the repository root, outside ``docs_dir``,
so that they can be opened and run in Jupyter as they are. MkDocs only sees files
inside ``docs_dir``; this hook adds every ``tutorials/*.ipynb`` to the site's
files as ``tutorials/<name>.ipynb`` (read from its real place, nothing is
copied), before mkdocs-jupyter turns ``.ipynb`` files into pages. The nav can
then name them as ``tutorials/<name>.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


@event_priority(50)  # run before mkdocs-jupyter's on_files (default priority 0)
def on_files(files, config):
    # A File whose src_dir is the repository root, rather than File.generated:
    # mkdocs-jupyter's wrapper recomputes abs_src_path from src_dir, which
    # File.generated leaves unset.
    for notebook in sorted(TUTORIALS.glob("*.ipynb")):
        files.append(
            File(
                f"{TUTORIALS.name}/{notebook.name}",
                src_dir=str(TUTORIALS.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


def on_serve(server, config, builder):
    # `mkdocs serve` rebuilds when a notebook changes, as it does for docs/.
    server.watch(str(TUTORIALS))
    return server
