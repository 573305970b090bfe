"""The web page in headless Chromium (Debian's, driven by Playwright): ask, read, click a citation,
ask in English, upload and index a new article, and see hostile titles shown as text.

Screenshots of every step go to test-output/ui/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server import PROJECT, AppServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = PROJECT / "test-output" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = ("---\ntitle: \"<script>window.hacked = 1</script><img src=x onerror='window.hacked=2'> Judul Berbahaya\"\n"
           "url: \"javascript:window.hacked=3\"\n---\nBerita tentang kenaikan harga cabai di Bandung. "
           "Harga cabai rawit naik menjadi Rp 80.000 per kilogram <b>minggu ini</b>.\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    (root / "corpus").mkdir()
    (root / "corpus" / "cabai.md").write_text(HOSTILE)
    with AppServer(root) as running:
        yield running


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: apt-get install chromium (make test does it)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        page.wait_for_selector("#question textarea")
        yield page
        browser.close()


def ask(page, question: str, new_conversation: bool = False) -> str:
    """Ask and wait until the answer is complete: the sources panel is rendered for this turn
    only when the final, checked answer has arrived (streamed pieces come before it).
    `new_conversation` clears the chat first, so the question is not read as a follow-up."""
    if new_conversation:
        page.click("#clear")
        page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"user\"]')", timeout=30_000)
    turn = page.locator("#chat [data-testid='user']").count() + 1
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_selector(f"#sources [data-turn='{turn}']", timeout=60_000)
    bots = page.locator("#chat [data-testid='bot']")
    return bots.nth(bots.count() - 1).inner_text()


def test_ask_in_indonesian_and_follow_the_citation(page):
    reply = ask(page, "Apa yang dikatakan Lavrov tentang perluasan NATO?")
    assert "[1]" in reply and "Lavrov" in reply
    page.wait_for_selector("#sources .source-card mark")
    assert "Lavrov" in page.locator("#sources .source-card mark").first.inner_text()
    page.screenshot(path=str(SHOTS / "1-answer-with-sources.png"), full_page=True)
    page.locator("#chat a[href='#cite-1']").first.click()
    mark = page.locator("#article-1 mark#cite-1")
    mark.wait_for(state="visible")
    assert "Lavrov" in mark.inner_text() and "focused" in mark.get_attribute("class")
    page.screenshot(path=str(SHOTS / "2-citation-opens-article.png"), full_page=True)


def test_ask_in_english(page):
    reply = ask(page, "Who is the spokesman of the Kremlin?", new_conversation=True)
    assert reply.startswith("According to the archive") and "Peskov" in reply
    # the reader's short answer comes first, in bold, with a plain confidence label
    assert page.locator("#chat [data-testid='bot'] strong").last.inner_text() == "Dmitry Peskov"
    assert "confident)" in reply or "less sure)" in reply
    page.screenshot(path=str(SHOTS / "3-english-question.png"), full_page=True)


def test_question_box_stops_at_the_api_limit(page):
    page.fill("#question textarea", "x" * 5000)
    assert len(page.input_value("#question textarea")) == 1000  # as the API: 1,000 characters
    page.fill("#question textarea", "")


def test_hostile_title_is_shown_as_text(page):
    reply = ask(page, "Berapa harga cabai rawit di Bandung?", new_conversation=True)
    assert "80.000" in reply
    page.wait_for_selector("#sources .source-card h4")
    title = page.locator("#sources .source-card h4").first.inner_text()
    assert "<script>" in title and "Judul Berbahaya" in title
    assert page.evaluate("() => window.hacked") is None
    assert page.locator("#sources a[href^='javascript:']").count() == 0
    page.screenshot(path=str(SHOTS / "4-hostile-title-as-text.png"), full_page=True)


def test_upload_update_and_ask_about_the_new_article(page, server, tmp_path):
    article = tmp_path / "gempa_garut.md"
    article.write_text("---\ntitle: Gempa Guncang Garut\nsource: Warta Jabar\npublished: 2024-05-01\n---\n"
                       "Gempa bermagnitudo 5,2 mengguncang Garut pada Rabu pagi. Sebanyak 37 rumah rusak ringan.\n")
    page.get_by_role("tab", name="Indeks").click()
    page.set_input_files("#upload input[type=file]", str(article))  # locked: refused without the token
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('token')", timeout=30_000)
    assert not (server.corpus / "gempa_garut.md").exists()
    page.fill("#token input", "test-token")  # unlock the writes
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('✅ gempa_garut.md')", timeout=30_000)
    assert (server.corpus / "gempa_garut.md").exists()
    page.click("#update")
    page.wait_for_function("() => /1 added/.test(document.querySelector('#update-report').innerText)", timeout=120_000)
    page.screenshot(path=str(SHOTS / "5-index-updated.png"), full_page=True)
    page.get_by_role("tab", name="Tanya").click()
    reply = ask(page, "Berapa rumah yang rusak akibat gempa di Garut?", new_conversation=True)
    assert "37 rumah" in reply
    assert "Gempa Guncang Garut" in page.locator("#sources").inner_text()
    page.screenshot(path=str(SHOTS / "6-new-article-cited.png"), full_page=True)


def test_api_docs_render_with_the_network_blocked(page, server):
    """/docs loads Swagger UI from the app itself (no CDN): every request off this server is blocked."""
    docs = page.context.browser.new_page()
    blocked: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    docs.route("**/*", only_this_server)
    docs.goto(server.url + "/docs")
    docs.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=30_000)
    paths = docs.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert "/api/search" in paths and "/api/ask" in paths and not blocked
    docs.screenshot(path=str(SHOTS / "7-api-docs-offline.png"), full_page=False)
    docs.close()


def test_follow_up_retry_and_undo(page):
    """Gradio hands the history back as lists of parts: the follow-up keeps its context, Retry
    answers again without an error, Undo puts back the question's plain text."""
    page.get_by_role("tab", name="Tanya").click()
    ask(page, "Mengapa Finlandia bergabung dengan NATO?", new_conversation=True)
    follow_up = ask(page, "Bagaimana tanggapan Swedia?")
    assert "[1]" in follow_up and not follow_up.startswith("Tidak ada jawaban")  # read with the first question
    answer_id = page.locator("#sources [data-turn='2']").get_attribute("data-answer")
    page.click("#retry")
    page.wait_for_selector(f"#sources [data-turn='2']:not([data-answer='{answer_id}'])", timeout=60_000)
    assert page.locator("#chat [data-testid='user']").count() == 2 and page.locator("#chat [data-testid='bot']").count() == 2
    assert "[1]" in page.locator("#chat [data-testid='bot']").nth(1).inner_text()
    page.screenshot(path=str(SHOTS / "8-follow-up-retried.png"), full_page=True)
    page.click("#undo")
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"user\"]').length === 1", timeout=30_000)
    assert page.input_value("#question textarea") == "Bagaimana tanggapan Swedia?"
