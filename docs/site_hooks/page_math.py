"""MkDocs hook: equations in the tutorial pages and in every page's table of contents.

mkdocs-jupyter renders a notebook with nbconvert's template, which loads MathJax 2 from
the plugin's ``custom_mathjax_url``: empty by default (``<script src="">``, so no
equation was typeset), a CDN address otherwise, which an offline reader cannot reach.
The site typesets every page with its own MathJax 3 (``mathjax_assets.py``,
``javascripts/mathjax-config.js``), so this hook removes nbconvert's MathJax block
from the notebook pages.

The table of contents of a page is built from its headings' text only: mkdocs-jupyter
drops a heading's inline code ("3. : a dense layer with a mask", linked to an id that
the heading does not have) and keeps its ``$...$`` as raw TeX, and on Markdown pages a
heading's math would show as raw ``\\(...\\)``. This hook sets the entry of each such
heading to the heading's own HTML and id, its math in ``arithmatex`` spans that MathJax
typesets wherever they are. A notebook's entries are matched to its headings in order
(the ids of both come from different converters); a Markdown page's by id.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError

_NBCONVERT_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->",
                                re.DOTALL)
_HEADING = re.compile(r'<h([1-6]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)
_PERMALINK = re.compile(r'<a class="(?:anchor-link|headerlink)"[^>]*>.*?</a>', re.DOTALL)
_CODE = re.compile(r"(<code>.*?</code>)", re.DOTALL)
_DOLLARS = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$")


def is_notebook(page) -> bool:
    return page.file.src_uri.endswith(".ipynb")


def _math_spans(text: str) -> str:
    """``$...$`` and ``$$...$$`` outside code as arithmatex spans."""
    def span(match):
        return f'<span class="arithmatex">\\({match.group(1) or match.group(2)}\\)</span>'

    parts = _CODE.split(text)
    return "".join(part if index % 2 else _DOLLARS.sub(span, part)
                   for index, part in enumerate(parts))


def _headings(html: str, notebook: bool) -> list:
    """(level, id, the HTML of its table-of-contents entry) of each heading of ``html``,
    in order; the HTML is None where the plain text loses nothing."""
    headings = []
    for level, anchor, inner in _HEADING.findall(html):
        inner = _PERMALINK.sub("", inner).strip()
        if notebook:
            title = _math_spans(inner)
        else:
            title = inner if 'class="arithmatex"' in inner else None
        headings.append((int(level), anchor, title))
    return headings


def _flat(items) -> list:
    return [entry for item in items for entry in (item, *_flat(item.children))]


def _retitle(toc, headings: list, notebook: bool) -> None:
    entries = _flat(toc)
    if notebook and [item.level for item in entries] == [level for level, _, _ in headings]:
        pairs = zip(entries, headings, strict=True)
    else:
        by_id = {anchor: (level, anchor, title) for level, anchor, title in headings}
        pairs = [(item, by_id[item.id]) for item in entries if item.id in by_id]
    for item, (_, anchor, title) in pairs:
        item.id = anchor
        if title is not None:
            item.title = title


def on_page_content(html, page, config, files):
    notebook = is_notebook(page)
    if notebook:
        html = _NBCONVERT_MATHJAX.sub("", html)
        if '<script src="">' in html:
            raise PluginError(f"{page.file.src_uri}: nbconvert's MathJax block changed; "
                              "update docs/site_hooks/page_math.py")
    _retitle(page.toc, _headings(html, notebook), notebook)
    return html
