"""The documentation site, read in a real browser: headless Chromium.

The site is built once (``mkdocs build --strict``) into a temporary folder, served on
127.0.0.1 and opened in Debian's ``chromium``, driven over the Chrome DevTools Protocol
(``websocket-client``). On every page: no JavaScript error or failed load is logged and
nothing is requested from outside the site (it works offline). Tutorial and model
pages: MathJax typeset their equations (no raw ``$...$``, ``\\(``, ``\\[`` is left in
their text, no TeX error), and each table-of-contents entry reads as its heading, math
and code included. The API reference: every ``Examples:`` section is a highlighted code
block. The command-line page and the home page name every command and option of the
parser that ``tfae`` builds.

Screenshots of three pages are written to a folder for a person to look at: its path
is printed (``pytest -s``), and they are also copied to ``$TFAE_SITE_SCREENSHOTS`` when
that variable names a folder. The test installs nothing: without ``chromium`` it is
skipped (``.ci/run`` installs it).
"""

import base64
import contextlib
import fcntl
import functools
import http.server
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.stem for p in (ROOT / "tutorials").glob("*.ipynb"))
MODEL_PAGES = ["models/", "models/autoencoder/", "models/denoising-autoencoder/", "models/made/",
               "models/gaussian-mixture/", "models/vae/"]
#: Pages checked for errors and outside requests only (the others have tests of their own).
OTHER_PAGES = ["tutorials/", "input-checks/", "scaling/", "benchmarks/"]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS_VARIABLE = "TFAE_SITE_SCREENSHOTS"

pytestmark = [
    pytest.mark.skipif(BROWSER is None, reason="no `chromium` on PATH: the browser checks of "
                       "the site need Debian's chromium package (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                       reason=f"mkdocs is not installed for {sys.executable}: "
                              "pip install -e '.[docs]'"),
    pytest.mark.skipif(importlib.util.find_spec("websocket") is None,
                       reason="websocket-client is not installed: pip install -e '.[dev]'"),
]


# ---------------------------------------------------------------- the site, served


def build_site(folder: Path) -> None:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
               str(ROOT / "mkdocs.yml"), "--site-dir", str(folder)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if result.returncode != 0:
        (folder.parent / "docs-site-failed.txt").write_text(result.stderr[-4000:])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once per test session: the pytest-xdist workers of a session share
    one build (the first to take the lock builds, the others wait for it)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # pytest-N/, the folder of the session's workers
    folder, failed = shared / "docs-site", shared / "docs-site-failed.txt"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.is_dir() and not failed.is_file():
            build_site(folder)
    assert not failed.is_file(), f"mkdocs build --strict failed:\n{failed.read_text()}"
    return folder


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------- the browser


class Browser:
    """Headless Chromium, driven over the DevTools Protocol with one websocket."""

    def __init__(self, folder: Path, timeout: float = 30.0):
        import websocket

        self.timeout = timeout
        self.log = open(folder / "chromium.log", "w")  # noqa: SIM115 (closed in close())
        profile = folder / "profile"
        self.process = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and len(port_file.read_text().split()) == 2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not start; see {folder / 'chromium.log'}")
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        self.socket = websocket.create_connection(f"ws://127.0.0.1:{port}{path}",
                                                  timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []

    def send(self, method: str, session: str | None = None, **params):
        """Sends a command and returns its result; events that arrive meanwhile are kept."""
        message = {"id": next(self.ids), "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, session: str):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(f"no {method} within {self.timeout} s")

    def close(self):
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Browser(tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.close()


#: What a loaded page reports (evaluated in the page once MathJax is done).
REPORT_JS = r"""(() => {
  const textOf = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll("code, pre, script, style, a.headerlink, a.anchor-link")
        .forEach((e) => e.remove());
    return copy.textContent;
  };
  const mathText = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll("a.headerlink, a.anchor-link").forEach((e) => e.remove());
    return copy.textContent.replace(/\s+/g, " ").trim();
  };
  const raw = /\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/;
  const tutorial = document.querySelector(".jupyter-wrapper") !== null;
  const prose = tutorial ? [...document.querySelectorAll(".jp-RenderedMarkdown")]
                         : [...document.querySelectorAll("article")];
  const rawMath = prose.map(textOf).flatMap((t) => t.split(/\n+/))
                       .filter((line) => raw.test(line)).map((line) => line.trim());
  const toc = [...document.querySelectorAll(".md-sidebar--secondary a.md-nav__link")]
    .map((link) => {
      const heading = document.getElementById(decodeURIComponent(link.hash.slice(1)));
      return [mathText(link), heading ? mathText(heading) : null];
    });
  const examples = [...document.querySelectorAll(".doc-section-title")]
    .filter((title) => /^Examples?:/.test(title.textContent))
    .map((title) => {
      const block = title.closest("p") && title.closest("p").nextElementSibling;
      return block ? block.querySelectorAll("pre code .gp").length : 0;
    });
  const article = document.querySelector("article");
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const promptsOutsideCode = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeValue.includes(">>>") && !node.parentElement.closest("code, pre")) {
      promptsOutsideCode.push(node.nodeValue.trim());
    }
  }
  return {
    title: document.title,
    typeset: document.querySelectorAll("mjx-container").length,
    texErrors: [...document.querySelectorAll("mjx-merror")].map((e) => e.textContent),
    rawMath, toc, examples, promptsOutsideCode,
    text: article ? article.textContent : "",
    links: article ? [...article.querySelectorAll("a[href]")].map((a) => a.getAttribute("href"))
                   : [],
  };
})()"""


class Page:
    """A page opened in its own tab: what it logged, requested and reports."""

    def __init__(self, browser: Browser, url: str):
        self.browser, self.url = browser, url
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.send("Target.attachToTarget", targetId=target,
                                    flatten=True)["sessionId"]
        self.target = target
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", self.session)
        browser.send("Emulation.setDeviceMetricsOverride", self.session, width=1280,
                     height=900, deviceScaleFactor=1, mobile=False)
        browser.send("Page.navigate", self.session, url=url)
        browser.wait_for("Page.loadEventFired", self.session)
        # MathJax typesets the page at start-up; its promise resolves when it is done.
        self.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        self.report = self.evaluate(REPORT_JS)

    def evaluate(self, expression: str):
        result = self.browser.send("Runtime.evaluate", self.session, expression=expression,
                                   awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{self.url}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _events(self, method: str):
        return [event["params"] for event in self.browser.events
                if event.get("method") == method and event.get("sessionId") == self.session]

    def errors(self) -> list:
        """JavaScript exceptions, console errors and failed loads the page logged."""
        found = [e["exceptionDetails"].get("exception", {}).get("description")
                 or e["exceptionDetails"]["text"] for e in self._events("Runtime.exceptionThrown")]
        found += [" ".join(str(arg.get("value", arg.get("description"))) for arg in e["args"])
                  for e in self._events("Runtime.consoleAPICalled")
                  if e["type"] in ("error", "assert")]
        found += [f"{e['entry']['text']} ({e['entry'].get('url')})"
                  for e in self._events("Log.entryAdded") if e["entry"]["level"] == "error"]
        found += [f"failed: {e.get('errorText')}" for e in self._events("Network.loadingFailed")]
        return found

    def requests(self) -> list:
        return [e["request"]["url"] for e in self._events("Network.requestWillBeSent")]

    def screenshot(self, path: Path, scroll_to: str | None = None) -> Path:
        """A PNG of the window, scrolled to the element that the JavaScript expression
        ``scroll_to`` returns (after the header's transition has ended)."""
        self.browser.send("Page.bringToFront", self.session)  # a hidden tab paints nothing
        if scroll_to:
            self.evaluate(f"({scroll_to}).scrollIntoView(), window.scrollBy(0, -60),"
                          " new Promise((done) => setTimeout(done, 500))")
        data = self.browser.send("Page.captureScreenshot", self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        self.browser.send("Target.closeTarget", targetId=self.target)


@pytest.fixture(scope="module")
def pages(browser, server):
    """Opens a page of the site (path relative to its root) once; closes them all."""
    opened = {}

    def open_page(path: str) -> Page:
        if path not in opened:
            opened[path] = Page(browser, server + path)
        return opened[path]

    yield open_page
    for page in opened.values():
        page.close()


def check_page(page: Page, server: str) -> dict:
    """Asserts what holds on every page; returns its report."""
    assert page.report["title"], f"{page.url} did not load"
    assert page.errors() == [], f"{page.url} logged errors: {page.errors()}"
    outside = [url for url in page.requests()
               if not url.startswith((server, "data:", "blob:", "about:"))]
    assert outside == [], f"{page.url} requested from outside the site: {outside}"
    return page.report


def check_math(page: Page, server: str) -> None:
    report = check_page(page, server)
    assert report["typeset"] > 0, f"{page.url}: MathJax typeset no equation"
    assert report["texErrors"] == [], f"{page.url}: TeX errors {report['texErrors']}"
    assert report["rawMath"] == [], f"{page.url}: raw TeX left in the text: {report['rawMath']}"
    differ = [(entry, heading) for entry, heading in report["toc"] if entry != heading]
    assert differ == [], f"{page.url}: table-of-contents entries differ from their headings: " \
                         f"{differ}"


# ---------------------------------------------------------------- the checks


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_equations_are_typeset(pages, server, name):
    page = pages(f"tutorials/{name}/")
    check_math(page, server)
    assert page.report["toc"], f"{page.url} has no table of contents"


@pytest.mark.parametrize("path", MODEL_PAGES)
def test_model_page_equations_are_typeset(pages, server, path):
    check_math(pages(path), server)
    links = pages(path).report["links"]
    for target in ("tutorials/0", "api/#tfae.", "cli/#tfae-train-"):
        assert any(target in link for link in links), f"{path} has no link to {target}..."


@pytest.mark.parametrize("path", OTHER_PAGES)
def test_page_loads_without_errors_from_the_site_alone(pages, server, path):
    check_page(pages(path), server)


def test_made_heading_keeps_its_code_in_the_table_of_contents(pages, server):
    # The heading "3. `MaskedDense`: a dense layer with a mask" once showed as "3. : a ...".
    toc = [entry for entry, _ in check_page(pages("tutorials/03_made/"), server)["toc"]]
    assert "3. MaskedDense: a dense layer with a mask" in toc, toc


def test_api_examples_are_highlighted_code(pages, server):
    report = check_page(pages("api/"), server)
    assert len(report["examples"]) >= 10, "the API reference shows too few Examples sections"
    assert all(prompts > 0 for prompts in report["examples"]), (
        f"an Examples section is not a highlighted code block: {report['examples']}")
    assert report["promptsOutsideCode"] == [], (
        f"docstring examples rendered as text: {report['promptsOutsideCode'][:3]}")


def test_deployment_page_has_the_device_side(pages, server):
    text = check_page(pages("deployment/"), server)["text"]
    for shown in ("tfae.export", "Noise convention", "runSignature", "signatureRunner",
                  "run_litert.py", "--samples", "--image-shape"):
        assert shown in text, f"the deployment page does not show {shown!r}"


def test_cli_reference_and_home_page_list_every_command_and_option(pages, server):
    import argparse

    from tfae.cli import build_parser

    reference = check_page(pages("cli/"), server)["text"]
    home = check_page(pages(""), server)["text"]

    def walk(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)

    missing = []
    for parser in walk(build_parser()):
        missing += [parser.prog] if parser.prog not in reference else []
        missing += [f"{parser.prog} {option}" for action in parser._actions
                    for option in action.option_strings
                    if option not in ("-h", "--help") and option not in reference]
    assert missing == [], f"the command-line reference misses {missing}"
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert [name for name in top.choices if f"tfae {name}" not in home] == []


#: The Examples section of ``tfae.VAE`` in the API reference.
API_VAE_EXAMPLES = """[...document.querySelectorAll('[id="tfae.VAE"] ~ div .doc-section-title')]
    .find((title) => title.textContent.startsWith("Examples"))"""


def test_screenshots_for_a_person(pages, server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("site-screenshots")
    shots = [
        pages("tutorials/05_variational_autoencoder/").screenshot(folder / "tutorial-5.png"),
        pages("models/vae/").screenshot(
            folder / "model-vae.png",
            scroll_to='document.getElementById("the-evidence-lower-bound")'),
        pages("api/").screenshot(folder / "api-vae-examples.png", scroll_to=API_VAE_EXAMPLES),
    ]
    print(f"\nscreenshots of the site: {folder}")
    if os.environ.get(SCREENSHOTS_VARIABLE):
        copy = Path(os.environ[SCREENSHOTS_VARIABLE])
        copy.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, copy / shot.name)
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
