"""One end-to-end test in a real browser: `streamlit run ui/app.py` on a free loopback port,
driven through Debian's Chromium by Playwright (no browser download)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HEADLINE, ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Refresh the README's picture (an absolute path: tests run in their own folder) with
# NEWS_RAG_SCREENSHOT=$PWD/docs/chat.png .venv/bin/pytest tests/test_browser.py
SCREENSHOT_COPY = os.environ.get("NEWS_RAG_SCREENSHOT")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not become healthy in {seconds:g} s:\n{log.read_text()}")


@pytest.fixture
def chat_url(seeded_copy: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_DATA_DIR=str(seeded_copy), RAG_LLM="extractive", HF_HUB_OFFLINE="1")
    log = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py")]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "viewer"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, log, seconds=60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_headline_question_in_a_real_browser(chat_url: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(chat_url)
            box = page.get_by_test_id("stChatInputTextArea")
            expect(box).to_be_visible(timeout=60_000)
            box.fill(HEADLINE)
            box.press("Enter")

            marker = page.locator(".nr-answer sup a").first
            expect(marker).to_be_visible(timeout=60_000)
            # the run is over when the example questions of the empty page are gone
            examples = page.get_by_role("button", name=HEADLINE)
            expect(examples).to_have_count(0, timeout=60_000)
            card = page.locator(".nr-card").filter(has_text="In London told the British version")
            expect(card.first).to_be_visible()
            expect(card.first.locator("mark").filter(has_text="remains real")).to_be_visible()
            expect(card.first).to_contain_text("5 September 2016")

            page.get_by_test_id("stChatMessage").first.evaluate("e => e.scrollIntoView()")
            shot = tmp_path / "cited-answer.png"  # the question and its answer
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            if SCREENSHOT_COPY:
                shutil.copyfile(shot, SCREENSHOT_COPY)

            # a citation marker leads to its highlighted quote
            target = marker.get_attribute("href") or ""
            assert target.startswith("#nr-")
            expect(page.locator(f"mark{target}")).to_have_count(1)
            marker.click()
            expect(page).to_have_url(re.compile(f"{target}$"))
            expect(page.locator(target)).to_be_in_viewport()
            # the clicked quote is marked apart from the other highlights
            clicked = page.locator(f"mark{target}")
            other = page.locator(f".nr-card mark:not({target})").first
            background = "e => getComputedStyle(e).backgroundColor"
            assert clicked.evaluate(background) != other.evaluate(background)

            # a new answer comes into view after a citation click, and the #fragment goes
            box.fill("Why did Pompeo travel to Sochi?")
            box.press("Enter")
            newest = page.locator(".nr-answer").nth(1)
            expect(newest).to_be_visible(timeout=60_000)
            expect(page).not_to_have_url(re.compile("#nr-"), timeout=30_000)
            expect(page.get_by_test_id("stChatMessage").nth(2)).to_be_in_viewport(timeout=15_000)
            expect(newest).to_be_in_viewport()

        finally:
            browser.close()
