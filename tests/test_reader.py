"""A reader's test: the quick build (the session fixture ``quick_book``) opened in headless Chromium, as a
reader with no kernel sees it.

Every page: no error in the browser console (JavaScript errors and failed resources alike), every image loaded,
no table wider than its column at a 1280-pixel window (``scrollWidth <= clientWidth`` for every table's
container, and for the page), a notebook page's download menu offering its executed ``.ipynb``, and every table's
CSV link holding that table. Every explorer (hcvae.book.widgets: controls jslinked to nested Stacks of precomputed frames): each control
is moved through its options, and after every move the frame on screen must be the frame that the page's
embedded widget state holds for the controls' new values -- the image's bytes as the browser shows them
against the base64 PNG of that frame in the state (or a message frame's text), not merely "something changed".

Needs Debian's chromium and chromium-driver (`make` installs them) and selenium (pinned); the site is served
from a local http.server, nothing else is fetched.
"""

from __future__ import annotations

import base64
import functools
import html as html_lib
import http.server
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from hcvae.book.widgets import frame_class

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000"]
ACCEPTED_CONSOLE_ERRORS: list[str] = []  # regular expressions of console errors accepted on purpose: none
WAIT_S = 20


# ---- the site and the browser --------------------------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".mjs": "text/javascript", ".svg": "image/svg+xml", ".woff2": "font/woff2", ".json": "application/json"}

    def log_message(self, *args):  # quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # the browser dropping a connection is not an error here
        pass


@pytest.fixture(scope="module")
def site(quick_book):
    if quick_book.returncode != 0 or not (quick_book.html / "index.html").exists():
        pytest.fail("the quick book did not build (see tests/test_book.py)")
    server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(quick_book.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", quick_book.html
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{missing} missing: `make` installs Debian's chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hcvae-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _pages(html_dir: Path) -> list[str]:
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(html_dir).parts))


def _wait(predicate, what: str, timeout: float = WAIT_S):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and not any(re.search(rx, e["message"]) for rx in ACCEPTED_CONSOLE_ERRORS)]


_IMAGES_JS = """
return Array.from(document.images).map(img => ({src: img.currentSrc || img.src, complete: img.complete,
                                                 width: img.naturalWidth}));
"""


def _loaded_images(driver):
    images = driver.execute_script(_IMAGES_JS)
    return ("all complete", images) if all(i["complete"] for i in images) else None


# ---- the widget state embedded in a page ---------------------------------------------------------------------
def _ref(value: str) -> str:
    assert value.startswith("IPY_MODEL_"), value
    return value[len("IPY_MODEL_"):]


class Explorer:
    """One static explorer, read from the embedded widget state: its controls (with their links to Stacks) and
    the frame each combination of control indices selects."""

    def __init__(self, state: dict, root: str):
        self.models = state
        box = state[root]["state"]
        controls_box, self.top = _ref(box["children"][0]), _ref(box["children"][-1])
        self.controls = [_ref(c) for c in state[controls_box]["state"]["children"]]
        self.stack_control = {}
        for m in state.values():
            if m["model_name"] == "LinkModel":
                (src, src_attr), (dst, dst_attr) = m["state"]["source"], m["state"]["target"]
                if (src_attr, dst_attr) == ("index", "selected_index") and _ref(src) in self.controls:
                    self.stack_control[_ref(dst)] = _ref(src)
        unlinked, todo = [], [self.top]
        while todo:  # every Stack under the explorer must follow a control
            node = todo.pop()
            if state[node]["model_name"] == "StackModel":
                if node not in self.stack_control:
                    unlinked.append(node)
                todo += [_ref(c) for c in state[node]["state"]["children"]]
        assert not unlinked, f"{len(unlinked)} Stack(s) of explorer {root} are not jslinked to a control"

    def kind(self, control: str) -> str:
        return self.models[control]["model_name"]

    def labels(self, control: str) -> list[str]:
        return list(self.models[control]["state"]["_options_labels"])

    def key(self, indices: dict) -> str:
        """The CSS class of the frame drawn for the labels the controls show at ``indices``."""
        return frame_class([self.labels(c)[indices[c]] for c in self.controls])

    def initial(self) -> dict:
        return {c: self.models[c]["state"]["index"] for c in self.controls}

    def expected(self, indices: dict) -> tuple[str, object]:
        """("image", PNG bytes) or ("html", text) of the frame selected by the controls at ``indices``."""
        node = self.top
        while self.models[node]["model_name"] == "StackModel":
            node = _ref(self.models[node]["state"]["children"][indices[self.stack_control[node]]])
        model = self.models[node]
        if model["model_name"] == "ImageModel":
            buffers = {tuple(b["path"]): b for b in model.get("buffers", [])}
            assert ("value",) in buffers, "an Image frame without its PNG in the state"
            b = buffers[("value",)]
            assert b.get("encoding", "base64") == "base64", b.get("encoding")
            return "image", base64.b64decode(b["data"])
        assert model["model_name"] == "HTMLModel", model["model_name"]
        return "html", re.sub(r"<[^>]+>", "", html_lib.unescape(model["state"]["value"])).strip()


def _explorers(page_html: str) -> dict[str, Explorer]:
    """{root model id: Explorer} of the explorers a page displays."""
    found = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page_html, re.S)
    if not found:
        return {}
    state = json.loads(found.group(1))["state"]
    views = [json.loads(v)["model_id"] for v in
             re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', page_html, re.S)]
    return {m: Explorer(state, m) for m in views
            if m in state and "hcvae-explorer" in state[m]["state"].get("_dom_classes", [])}


_ROOT_JS = """
const id = arguments[0];
for (const tag of document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
  if (JSON.parse(tag.textContent).model_id === id) {
    const area = tag.previousElementSibling;
    return area ? area.querySelector('.hcvae-explorer') : null;
  }
}
return null;
"""

_SHOWN_JS = """
const root = arguments[0], done = arguments[arguments.length - 1];
const frames = root.querySelectorAll('.hcvae-frame');
if (frames.length !== 1) { done({n: frames.length}); return; }
const f = frames[0];
const classes = Array.from(f.classList);
if (f.tagName !== 'IMG') { done({n: 1, kind: 'html', text: f.textContent.trim(), classes}); return; }
if (!f.src || !f.complete || f.naturalWidth === 0) { done({n: 1, kind: 'pending'}); return; }
fetch(f.src).then(r => r.arrayBuffer()).then(buf => {
  const bytes = new Uint8Array(buf); let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  done({n: 1, kind: 'image', b64: btoa(s), width: f.naturalWidth, classes});
}).catch(e => done({n: 1, kind: 'error', error: String(e)}));
"""


def _shown(driver, root, key: str | None = None):
    """("image", bytes) or ("html", text) of the one frame on screen; None while it is not (yet) the only one
    or, given ``key``, while it lacks the CSS class naming the frame of those control labels."""
    out = driver.execute_async_script(_SHOWN_JS, root)
    if out.get("n") != 1 or out["kind"] in ("pending", "error"):
        return None
    if key is not None and key not in out["classes"]:
        return ("frame of other values", out["classes"])
    return ("image", base64.b64decode(out["b64"])) if out["kind"] == "image" else ("html", out["text"])


def _await_frame(driver, root, want, key, what):
    """Wait until the frame on screen is ``want`` (its bytes or text as the embedded state holds them) and is
    named (:func:`hcvae.book.widgets.frame_class`) by the labels ``key`` the controls show."""
    last = []

    def matches():
        last[:] = [_shown(driver, root, key)]
        return last[0] == want

    try:
        _wait(matches, what)
    except AssertionError:
        got = last[0] if last else None
        desc = None if got is None else (got[0], got[1][:80] if got[0] != "image" else f"{len(got[1])} bytes")
        raise AssertionError(f"{what}: the page shows {desc}, not the frame of the new value "
                             f"({want[0]}, {want[1][:80] if want[0] == 'html' else f'{len(want[1])} bytes'})") from None


def _move(driver, control_el, kind: str, target: int, current: int):
    """Move a control to option ``target`` the way a reader does: pick it in the <select>, or press keys on the
    slider's handle."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    if kind == "DropdownModel":
        Select(control_el.find_element("css selector", "select")).select_by_index(target)
        return
    assert kind == "SelectionSliderModel", kind
    handle = control_el.find_element("css selector", ".noUi-handle")
    if target == 0:
        handle.send_keys(Keys.HOME)
    else:
        step = Keys.ARROW_RIGHT if target > current else Keys.ARROW_LEFT
        handle.send_keys(*([step] * abs(target - current)))


def _readout(driver, control_el, kind: str) -> str:
    """The label a control shows (ipywidgets writes a Dropdown's spaces as no-break spaces)."""
    if kind == "DropdownModel":
        text = driver.execute_script("const s = arguments[0].querySelector('select');"
                                     "return s.options[s.selectedIndex].textContent;", control_el)
    else:
        text = control_el.find_element("css selector", ".widget-readout").text
    return text.replace("\xa0", " ")


def _exercise(driver, explorer: Explorer, root_id: str, page: str) -> int:
    """Move every control of one explorer through all its options; returns the number of moves checked."""
    root = _wait(lambda: driver.execute_script(_ROOT_JS, root_id), f"{page}: explorer {root_id} to render")
    control_els = root.find_elements("css selector", ".hcvae-control")
    assert len(control_els) == len(explorer.controls), page
    indices = explorer.initial()
    _await_frame(driver, root, explorer.expected(indices), explorer.key(indices), f"{page}: the explorer's first frame")
    moves = 0
    for control, el in zip(explorer.controls, control_els):
        kind, labels = explorer.kind(control), explorer.labels(control)
        if len(labels) < 2:
            continue
        order = [0] + list(range(1, len(labels))) if indices[control] != 0 else list(range(1, len(labels))) + [0]
        for target in order:
            before = explorer.expected(indices)
            _move(driver, el, kind, target, indices[control])
            indices[control] = target
            want = explorer.expected(indices)
            what = f"{page}: {labels[target]!r} chosen in control {control_els.index(el) + 1}"
            _wait(lambda: _readout(driver, el, kind) == labels[target], f"{what} (the control's readout)")
            _await_frame(driver, root, want, explorer.key(indices), what)
            if want != before:
                assert _shown(driver, root) != before, what
            moves += 1
    return moves


# ---- tables that fit, and what a page offers to take away ------------------------------------------------------
_WIDE_TABLES_JS = """
const out = [];
for (const table of document.querySelectorAll('.bd-article table')) {
  const box = table.closest('.pst-scrollable-table-container') || table.parentElement;
  if (box.scrollWidth > box.clientWidth + 1 || table.getBoundingClientRect().width > box.clientWidth + 1) {
    const head = table.querySelector('th, td');
    out.push({head: head ? head.textContent.trim().slice(0, 60) : '', scroll: box.scrollWidth, client: box.clientWidth});
  }
}
// a wide table may take the theme's wide-content width over the margin, but the page must not scroll sideways
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1)
  out.push({head: '(the page itself)', scroll: page.scrollWidth, client: page.clientWidth});
const article = document.querySelector('.bd-article-container');
if (article && ['auto', 'scroll'].includes(getComputedStyle(article).overflowX) && article.scrollWidth > article.clientWidth + 1)
  out.push({head: '(the article)', scroll: article.scrollWidth, client: article.clientWidth});
return out;
"""


def _takeaways(page: str, page_html: str, html_dir: Path) -> list[str]:
    """A notebook page's download menu offers its executed .ipynb, and the file is there; every CSV link holds a
    table whose header is one of the page's table headers."""
    problems = []
    if 'download-notebook-button' in page_html or page.startswith("notebooks/"):
        m = re.search(r'href="([^"]*_sources/[^"]+\.ipynb)"', page_html)
        if not m:
            problems.append(f"{page}: the download menu offers no .ipynb")
        else:
            target = (html_dir / page).parent / m.group(1)
            if not target.resolve().exists():
                problems.append(f"{page}: the .ipynb download {m.group(1)} is missing")
            else:
                nb = json.loads(target.read_text())
                code = [c for c in nb["cells"] if c["cell_type"] == "code"]
                # executed: every code cell ran (a page whose cells only glue, like computed.md, shows no output)
                if not code or any(c.get("execution_count") is None for c in code):
                    problems.append(f"{page}: the .ipynb download is not the executed notebook")
    import csv
    import io

    for name, data in re.findall(r'download="([^"]+\.csv)" href="data:text/csv;charset=utf-8;base64,([^"]+)"', page_html):
        rows = list(csv.reader(io.StringIO(base64.b64decode(data).decode())))
        if len(rows) < 1 or not rows[0]:
            problems.append(f"{page}: {name} is empty")
        elif html_lib.escape(rows[0][0]) not in page_html:
            problems.append(f"{page}: {name}'s header {rows[0][:3]} is not a table's on the page")
    return problems


# ---- the test --------------------------------------------------------------------------------------------------
def test_every_page_reads_cleanly_and_every_explorer_follows_its_controls(site, browser):
    base, html_dir = site
    pages = _pages(html_dir)
    assert "notebooks/01-phase-transition.html" in pages and "book/intro.html" in pages
    problems, explored, csv_pages = [], {}, 0
    browser.get(base + "/book/intro.html")  # a first load, so the log starts clean
    browser.get_log("browser")
    for page in pages:
        browser.get(f"{base}/{page}")
        _wait(lambda: browser.execute_script("return document.readyState") == "complete", f"{page} to load")
        explorers = _explorers((html_dir / page).read_text())
        if explorers or "application/vnd.jupyter.widget-state+json" in (html_dir / page).read_text():
            _wait(lambda: browser.execute_script("return document.querySelectorAll('.widget-subarea').length"),
                  f"{page}: widgets to render")
        _, images = _wait(lambda: _loaded_images(browser), f"{page}: images to load")
        problems += [f"{page}: image did not load: {i['src'][:100]}" for i in images if not i["width"]]
        problems += [f"{page}: a table is wider than its column ({w['scroll']} > {w['client']} px): {w['head']!r}"
                     for w in browser.execute_script(_WIDE_TABLES_JS)]
        problems += _takeaways(page, (html_dir / page).read_text(), html_dir)
        csv_pages += page.startswith("notebooks/") and 'class="hcvae-csv"' in (html_dir / page).read_text()
        for root_id, explorer in explorers.items():
            explored[f"{page}#{root_id}"] = _exercise(browser, explorer, root_id, page)
        problems += [f"{page}: console: {m}" for m in _console_errors(browser)]
    print(f"{len(pages)} pages; control moves checked per explorer: {explored}")
    assert not problems, "\n".join(problems)
    chapters = {key.split("#")[0] for key in explored}
    assert {"notebooks/01-phase-transition.html", "notebooks/03-feasible-region.html"} <= chapters, explored
    assert all(n > 0 for n in explored.values()), explored
    assert csv_pages == sum(p.startswith("notebooks/") for p in pages), "a chapter offers no table as CSV"
