"""The attribution page end to end: `starforge attribution serve` in a subprocess, driven in
headless Chromium (Debian's `chromium`) through Playwright's driver with `executable_path`.

Skipped with the reason when chromium or the playwright package is missing (`apt-get install
chromium`, `pip install playwright`; never `playwright install`, which downloads browsers).
Each test saves a screenshot under its pytest tmp dir and prints the path; with
ATTRIBUTION_SCREENSHOT set, the verbatim-function screenshot is also copied there (how
docs/img/attribution-page.png was made).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from attribution_corpus import STDLIB, UNSEEN, function_lines, lines_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install playwright; its driver only, with Debian's chromium)")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (apt-get install chromium); the page test needs a real browser",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(index_dir, tmp_path_factory):
    """`starforge attribution serve` as a user starts it, on a free localhost port."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "starforge", "attribution", "serve", str(index_dir),
                                 "--port", str(port)], stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/api/index", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"serve did not start: {log_path.read_text()}")
            time.sleep(0.1)
    yield url
    assert proc.poll() is None, f"the server died: {log_path.read_text()}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
            viewport={"width": 1200, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser, base_url):
    """One page for the module, as a user keeps it open: each check replaces the last one's results."""
    page = browser.new_page()
    page.goto(base_url + "/")
    sync_api.expect(page.locator("#meta")).to_contain_text("training files")
    yield page
    page.close()


def _check(page, snippet: str, paste: bool = False) -> None:
    if paste:  # as a clipboard paste lands: one value change and an input event (fill types 1 MB slowly)
        page.locator("#snippet").evaluate(
            "(e, text) => { e.value = text; e.dispatchEvent(new Event('input', {bubbles: true})); }", snippet)
    else:
        page.locator("#snippet").fill(snippet)
    page.locator("#snippet").press("Control+Enter")
    sync_api.expect(page.locator("#check")).to_be_enabled()
    page.wait_for_function("document.getElementById('status').textContent === ''")


def _screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_verbatim_function_shows_membership_match_lines_results_and_badges(page, tmp_path):
    path = STDLIB / "textwrap.py"
    start, end = function_lines(path, "dedent")
    _check(page, lines_of(path, start, end))
    sync_api.expect(page.locator("#results")).to_be_visible()
    assert page.locator("#error").text_content() == ""
    assert page.locator("#memval").text_content() == "1.00"
    assert page.locator("#membar").evaluate("e => e.style.width") == "100%"
    # The exact match: the right repository, file and lines, every line highlighted and numbered.
    first = page.locator("#exact .card").first
    assert first.locator(".path").text_content() == "textkit / textwrap.py"
    assert first.locator("header").text_content().count(f"lines {start}–{end}") == 1
    badge = first.locator(".badge")
    assert badge.text_content() == "MIT" and "lic-ok" in badge.get_attribute("class")
    numbers = [int(n) for n in first.locator(".hl .ln").all_text_contents()]
    assert numbers == list(range(start, end + 1))
    assert first.locator(".hl").nth(1).text_content().endswith(lines_of(path, start + 1, start + 1).rstrip("\n"))
    # The whole snippet is marked as covered by the match.
    assert page.locator("#coverage mark").all_text_contents() == [lines_of(path, start, end)]
    # Ranked results: the source file first, scores best first, each with a licence badge.
    cards = page.locator("#search .card")
    assert cards.count() >= 2
    assert cards.first.locator(".path").text_content() == "textkit / textwrap.py"
    scores = [float(t.removeprefix("score ")) for t in page.locator("#search .card header .muted").all_text_contents()
              if t.startswith("score ")]
    assert scores == sorted(scores, reverse=True) and len(scores) == cards.count()
    assert cards.locator(".badge").count() == cards.count()
    shot = _screenshot(page, tmp_path, "attribution-page")
    if os.environ.get("ATTRIBUTION_SCREENSHOT"):
        shutil.copy(shot, os.environ["ATTRIBUTION_SCREENSHOT"])


def test_partly_copied_unicode_snippet_marks_only_the_copied_part(page, tmp_path):
    path = STDLIB / "heapq.py"
    start, end = function_lines(path, "heappushpop")
    copied = lines_of(path, start, end)
    # Astral characters (two UTF-16 units each in JS) before the copy: offsets must still line up.
    _check(page, "# 生成されたコード 🚀🚀 — not from training\n" + UNSEEN + copied)
    marks = page.locator("#coverage mark").all_text_contents()
    assert len(marks) == 1 and marks[0].strip() == copied.strip()  # the maximal span may take the newline before
    first = page.locator("#exact .card").first
    assert first.locator(".path").text_content() == "textkit / heapq.py"
    assert 0.2 <= float(page.locator("#memval").text_content()) <= 0.8
    _screenshot(page, tmp_path, "partial")


def test_unseen_code_shows_no_match_but_ranked_files(page):
    _check(page, UNSEEN)
    assert page.locator("#exact").text_content() == "no verbatim span of the minimum length"
    assert float(page.locator("#memval").text_content()) < 0.1
    assert page.locator("#search .card").count() >= 1


def test_empty_snippet_gets_a_clear_message(page):
    _check(page, "   \n")
    assert "empty" in page.locator("#error").text_content()
    sync_api.expect(page.locator("#results")).to_be_hidden()


@pytest.mark.slow  # Chromium lays out 1 MB in the textarea for 8-20 s on a busy 2-core machine
def test_megabyte_snippet_is_refused_with_the_limit(page, tmp_path):
    _check(page, "x = 1\n" * (1_000_000 // 6), paste=True)
    error = page.locator("#error").text_content()
    assert "too large" in error and "limit" in error
    _screenshot(page, tmp_path, "too-large")


def test_server_answers_413_to_the_browser_above_the_limit(page):
    # The page refuses before sending; a client that sends anyway gets the server's 413 and message.
    status, body = page.evaluate("""async () => {
        const r = await fetch('/api/check', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                             body: JSON.stringify({snippet: 'y'.repeat(1 << 20)})});
        return [r.status, await r.json()];
    }""")
    assert status == 413 and "limit" in body["error"]


@pytest.mark.parametrize("snippet", [
    "foo AND bar", 'print("unterminated', "(((", "))", "*", "a* OR b*", "NOT", '"AND" (OR) *',
    "\x00\x01\x02 binary \x7f", "日本語のコード Ω ≠ ∑ 🚀", "<img src=x onerror=alert(1)>",
], ids=["and", "quote", "open_parens", "close_parens", "star", "wildcards", "not", "mixed", "binary",
        "unicode", "html"])
def test_hostile_snippets_are_answered_without_error(page, snippet):
    _check(page, snippet)
    assert page.locator("#error").text_content() == ""
    sync_api.expect(page.locator("#results")).to_be_visible()
    # Shown as text, never as markup.
    assert page.locator("#coverage").text_content() == snippet.replace("\r", "")
    assert page.locator("#coverage img").count() == 0


def test_server_still_serves_after_hostile_input(base_url):
    with urllib.request.urlopen(base_url + "/api/index", timeout=10) as resp:
        assert json.loads(resp.read())["docs"] == 12
