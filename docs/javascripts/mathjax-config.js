// MathJax 3's configuration, read when assets/mathjax/tex-chtml.js loads after it.
//
// Markdown pages: pymdownx.arithmatex (generic mode) wraps every equation in an element
// of class "arithmatex" with \( \) or \[ \] delimiters, and only those elements are
// typeset (they also stand in the tables of contents: docs/site_hooks/page_math.py).
// Tutorial pages (notebooks, in a .jupyter-wrapper): their Markdown cells keep
// Jupyter's $ and $$ delimiters, so those pages also read $ and $$, in the Markdown
// cells only: code (in pre), outputs, the header, navigation and search are skipped.
(function () {
  var notebook = document.querySelector(".jupyter-wrapper") !== null;
  var inline = [["\\(", "\\)"]];
  var display = [["\\[", "\\]"]];
  if (notebook) {
    inline.push(["$", "$"]);
    display.push(["$$", "$$"]);
  }
  window.MathJax = {
    tex: {
      inlineMath: inline,
      displayMath: display,
      processEscapes: true,
      processEnvironments: notebook
    },
    options: {
      ignoreHtmlClass: notebook
        ? "tex2jax_ignore|md-header|md-footer|md-nav|md-search|md-sidebar|jp-OutputArea"
        : ".*|",
      processHtmlClass: "arithmatex"
    }
  };
})();
