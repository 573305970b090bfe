"""The web page in headless Chromium (Debian's, driven by Playwright), as a user goes through it:
ask, read, click a citation (also one of an earlier answer), ask in English, follow up, Retry,
Undo, edit a question, copy a quote, a wrong filter date, the page in each language, a phone, no internet, and
the Index tab's upload, update, delete and the article list's pages; hostile titles are shown as text.

Screenshots of every step go to test-output/ui/ (desktop 1400 px wide, phone 390×844).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import platform
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_stub import Stub
from playwright.sync_api import expect
from server import PROJECT, AppServer

from rag.replies import NO_MATCH
from rag.ui_text import GRADIO_TOOLTIPS, LABELS, NOUNS

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not

EDIT_BUTTON = "#chat button[aria-label='Sunting'], #chat button[aria-label='Edit']"  # Gradio's, in the page's language
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = PROJECT / "test-output" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = ("---\ntitle: \"<script>window.hacked = 1</script><img src=x onerror='window.hacked=2'> Judul Berbahaya\"\n"
           "url: \"javascript:window.hacked=3\"\n---\nBerita tentang kenaikan harga cabai di Bandung. "
           "Harga cabai rawit naik menjadi Rp 80.000 per kilogram <b>minggu ini</b>.\n")

# What a follow-up asked without its first question finds (the bug of issue 13: "Bagaimana
# tanggapan Swedia?" after a question about NATO answered with a football match against Sweden).
DECOY = ("---\ntitle: Prancis Tundukkan Swedia di Stockholm\nsource: Bola Kita\npublished: 2023-06-20\n---\n"
         "Tim nasional Prancis menang 2-1 atas Swedia dalam laga kualifikasi di Stockholm pada Selasa malam. "
         "Pelatih Swedia mengatakan timnya bermain baik tetapi kurang beruntung. "
         "Griezmann mencetak gol kemenangan pada menit ke-80 dan menanggapi kritik terhadap timnya.\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    (root / "corpus").mkdir()
    (root / "corpus" / "cabai.md").write_text(HOSTILE)
    (root / "corpus" / "bola.md").write_text(DECOY)
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


def upload(page, path: Path) -> None:
    """Choose a file with the Index tab's upload button, as a user does."""
    with page.expect_file_chooser() as chooser:
        page.click("#upload")
    chooser.value.set_files(str(path))


def clear_chat(page) -> None:
    """The chat's own trash button: the conversation and its sources go."""
    if page.locator("#chat [data-testid='user']").count():
        page.click("#chat button[aria-label='Bersihkan obrolan'], #chat button[aria-label='Clear']")  # Gradio's, in the page's language
        page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"user\"]')", timeout=30_000)
        page.wait_for_function("() => !document.querySelector('#sources [data-turn]')", timeout=30_000)


def ask(page, question: str, new_conversation: bool = False) -> str:
    """Ask and wait until the answer is complete: the sources panel is rendered for this turn
    only when the final, checked answer has arrived (streamed pieces come before it).
    `new_conversation` clears the chat first, so the question is not read as a follow-up."""
    if new_conversation:
        clear_chat(page)
    turn = page.locator("#chat [data-testid='user']").count() + 1
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_selector(f"#sources [data-turn='{turn}']", timeout=60_000)
    bots = page.locator("#chat [data-testid='bot']")
    return bots.nth(bots.count() - 1).inner_text()


def user_bubbles(page, count: int) -> None:
    """Wait until the chat shows `count` questions."""
    page.wait_for_function(f"() => document.querySelectorAll('#chat [data-testid=\"user\"]').length === {count}", timeout=30_000)


def questions_shown(page) -> list[str]:
    """The questions the chat shows, in order."""
    return [bubble.inner_text().strip() for bubble in page.locator("#chat [data-testid='user']").all()]


def test_answer_times_from_enter_to_the_first_and_the_last_piece(page):
    """What a person waits, measured in the browser: Enter -> the first words of the answer in the
    chat, and -> the complete answer with its sources. Medians of 5 questions (after one warm-up),
    written to test-output/ui/answer-times.json for the README and the issue notes."""
    questions = ["Siapa juru bicara Kremlin?", "Apa yang dikatakan Lavrov tentang perluasan NATO?",
                 "Who is the spokesman of the Kremlin?", "Berapa harga cabai rawit di Bandung?",
                 "Kapan para pemimpin NATO berkumpul di Vilnius?", "Siapa juru bicara Kremlin?"]
    first, last = [], []
    for question in questions:
        clear_chat(page)
        page.fill("#question textarea", question)
        started = time.perf_counter()
        page.press("#question textarea", "Enter")
        page.wait_for_function("() => document.querySelector('#chat [data-testid=\"bot\"]')?.innerText.trim().length > 0",
                               timeout=60_000, polling=10)
        first.append(time.perf_counter() - started)
        page.wait_for_selector("#sources [data-turn='1']", timeout=60_000)
        last.append(time.perf_counter() - started)
    times = {"first_piece_ms": round(1000 * statistics.median(first[1:])), "complete_ms": round(1000 * statistics.median(last[1:])),
             "questions": len(questions) - 1, "cpu": platform.processor() or platform.machine()}
    (SHOTS / "answer-times.json").write_text(json.dumps(times, indent=2) + "\n")
    print(times)
    clear_chat(page)  # the next tests start from an empty chat
    assert times["complete_ms"] < 5000  # (the first piece comes before it by construction)


def test_ask_in_indonesian_and_follow_the_citation(page):
    reply = ask(page, "Apa yang dikatakan Lavrov tentang perluasan NATO?")
    assert "[1]" in reply and "Lavrov" in reply and ("(yakin)" in reply or "(kurang yakin)" in reply)
    page.wait_for_selector("#sources .source-card mark")
    assert "Lavrov" in page.locator("#sources .source-card mark").first.inner_text()
    page.screenshot(path=str(SHOTS / "1-answer-with-sources.png"), full_page=True)
    page.locator("#chat a[href='#cite-1-1']").first.click()
    mark = page.locator("#article-1-1 mark#cite-1-1")
    mark.wait_for(state="visible")
    assert "Lavrov" in mark.inner_text() and "focused" in mark.get_attribute("class")
    page.screenshot(path=str(SHOTS / "2-citation-opens-article.png"), full_page=True)


def test_ask_in_english(page):
    reply = ask(page, "Who is the spokesman of the Kremlin?", new_conversation=True)
    assert reply.startswith("According to the archive") and "Peskov" in reply
    # the reader's short answer comes first, in bold, with a plain confidence label
    assert page.locator("#chat [data-testid='bot'] strong").last.inner_text() == "Dmitry Peskov"
    # with the ranking learned on English questions, and its label in English (answers across languages
    # are right less often: this one is "less sure", models/README.md)
    assert "Dmitry Peskov (confident)" in reply or "Dmitry Peskov (less sure)" in reply
    page.screenshot(path=str(SHOTS / "3-english-question.png"), full_page=True)


def test_question_box_stops_at_the_api_limit_with_a_counter(page):
    page.fill("#question textarea", "x" * 5000)
    assert len(page.input_value("#question textarea")) == 1000  # as the API: 1,000 characters
    page.wait_for_function("() => document.querySelector('#question-count').innerText === '1000 / 1000'", timeout=10_000)
    page.fill("#question textarea", "")
    page.wait_for_function("() => document.querySelector('#question-count').innerText === ''", timeout=10_000)


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
    """Upload (refused without the token), the box empties, a second file goes alone; the update
    reports in words, the new outlet appears in the filter; the new article is answered."""
    article = tmp_path / "gempa_garut.md"
    article.write_text("---\ntitle: Gempa Guncang Garut\nsource: Warta Jabar\npublished: 2024-05-01\n---\n"
                       "Gempa bermagnitudo 5,2 mengguncang Garut pada Rabu pagi. Sebanyak 37 rumah rusak ringan.\n")
    second = tmp_path / "banjir_bekasi.md"
    second.write_text("---\ntitle: Banjir Bekasi\n---\nBanjir setinggi 80 sentimeter merendam Bekasi Timur pada Senin.\n")
    page.get_by_role("tab", name="Indeks").click()
    upload(page, article)  # locked: refused without the token
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('token')", timeout=30_000)
    assert "Ditolak" in page.inner_text("#upload-report")
    assert not (server.corpus / "gempa_garut.md").exists()
    page.fill("#token input", "test-token")  # unlock the writes
    upload(page, article)
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('Tersimpan gempa_garut.md')", timeout=30_000)
    assert (server.corpus / "gempa_garut.md").exists()
    upload(page, second)  # only the new file goes, not the first again
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('banjir_bekasi.md')", timeout=30_000)
    assert "gempa_garut" not in page.inner_text("#upload-report")
    upload(page, article)  # again: refused, and said in the page's language, as every library error
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('gempa_garut.md sudah ada di korpus')",
                           timeout=30_000)
    article.write_text(article.read_text().replace("Garut", "Garut Selatan"))  # a corrected article, uploaded over the first
    page.check("#replace input")
    upload(page, article)
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('Tersimpan gempa_garut.md')", timeout=30_000)
    assert "Garut Selatan" in (server.corpus / "gempa_garut.md").read_text()
    page.uncheck("#replace input")
    broken = tmp_path / "rusak.jsonl"
    broken.write_text('{"title": "Satu", "text": "Isi pertama."}\n{"title": "Dua", "text": \n')
    upload(page, broken)  # the file, its line and what to do
    page.wait_for_function("() => document.querySelector('#upload-report').innerText.includes('rusak.jsonl:2: bukan JSON yang sah')",
                           timeout=30_000)
    page.click("#update")
    page.wait_for_function("() => /2 artikel baru/.test(document.querySelector('#update-report').innerText)", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#articles').innerText.includes('Warta Jabar')", timeout=30_000)
    page.screenshot(path=str(SHOTS / "5-index-updated.png"), full_page=True)
    page.get_by_role("tab", name="Tanya").click()
    page.click("#filters button")  # the outlet list now offers the new outlet
    page.click("#outlets input")
    assert page.get_by_role("option", name="Warta Jabar").count() == 1
    page.keyboard.press("Escape")
    page.click("#filters button")
    page.get_by_role("tab", name="Cari").click()  # the search tab's too
    page.click("#search-outlets input")
    assert page.get_by_role("option", name="Warta Jabar").count() == 1
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Tanya").click()
    reply = ask(page, "Berapa rumah yang rusak akibat gempa di Garut?", new_conversation=True)
    assert "37 rumah" in reply
    assert "Gempa Guncang Garut" in page.locator("#sources").inner_text()
    page.screenshot(path=str(SHOTS / "6-new-article-cited.png"), full_page=True)


def test_the_search_tab_lists_the_articles_best_first_and_narrows_them(page, server):
    """Search the archive as a researcher does: the articles for some words, best match first,
    each with its outlet, date and passage, the whole article folded below with that passage
    marked; an outlet narrows them; a wrong period is said; desktop and phone."""
    page.get_by_role("tab", name=LABELS["id"]["search_tab"]).click()
    page.fill("#search-query textarea", "harga cabai rawit")
    page.press("#search-query textarea", "Enter")
    results, summary = page.locator("#search-results"), page.locator("#search-summary")
    summary.get_by_text("untuk «harga cabai rawit»", exact=False).wait_for(timeout=30_000)
    cards = results.locator(".search-hit")
    titles = [cards.nth(n).locator("h4").inner_text() for n in range(cards.count())]
    assert cards.count() >= 3 and titles[0].startswith("1. <script>"), titles  # the hostile title, shown as text
    assert f"{cards.count()} artikel untuk" in summary.inner_text()
    first = cards.first
    assert "Rp 80.000" in first.locator("p").inner_text()
    first.locator("summary").click()  # the whole article, the passage that matched marked
    assert "80.000" in first.locator(".article-view mark").inner_text()
    assert page.evaluate("() => window.hacked") is None
    with page.expect_download() as download:  # the list, to keep or to count in a spreadsheet
        page.click("#search-download")
    assert download.value.suggested_filename == "cari-harga-cabai-rawit.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == cards.count() and rows[0]["title"] == titles[0].removeprefix("1. ") and "80.000" in rows[0]["matched_sentence"]
    page.screenshot(path=str(SHOTS / "31-search-tab.png"), full_page=True)
    page.click("#search-outlets input")  # one outlet: only its articles
    page.get_by_role("option", name="Bola Kita").click()
    page.keyboard.press("Escape")
    page.click("#search-go")
    page.wait_for_function("() => [...document.querySelectorAll('#search-results .search-hit .outlet')].every((o) => o.innerText === 'Bola Kita')",
                           timeout=30_000)
    assert results.locator(".search-hit").count() == 1 and "Swedia" in results.inner_text()
    page.fill("#search-since textarea", "2024-01-01")  # a period with no article of that outlet
    page.fill("#search-until textarea", "2023-01-01")  # ... written backwards first
    page.click("#search-go")
    summary.get_by_text(LABELS["id"]["reversed_dates"].split("(")[0], exact=False).wait_for(timeout=30_000)
    assert results.locator(".search-hit").count() == 0
    page.fill("#search-until textarea", "")
    page.click("#search-go")
    summary.get_by_text(NO_MATCH["id"]).wait_for(timeout=30_000)
    expect(page.locator("#search-download")).to_be_hidden()  # nothing to download
    page.fill("#search-since textarea", "")
    page.click("#search-go")
    summary.get_by_text("1 artikel untuk «harga cabai rawit»", exact=False).wait_for(timeout=30_000)
    page.fill("#search-query textarea", "gempa")  # typed, not searched for: the switch shows the last search
    page.get_by_role("radio", name="English").check()  # the results follow the page's language
    summary.get_by_text("1 article for «harga cabai rawit»", exact=False).wait_for(timeout=30_000)
    assert results.locator("summary").inner_text() == LABELS["en"]["open_article"]
    expect(page.locator("#search-download")).to_have_text(LABELS["en"]["search_download"])
    page.get_by_role("radio", name="Bahasa Indonesia").check()
    expect(page.locator("#search-go")).to_have_text(LABELS["id"]["search_go"])
    page.fill("#search-query textarea", '"tim nasional" Swedia')  # a phrase in quotes: only the articles holding it, counted
    page.click("#search-go")
    summary.get_by_text("Artikel yang memuat «tim nasional»: 1.", exact=False).wait_for(timeout=30_000)
    assert results.locator(".search-hit").count() == 1 and "Prancis" in results.locator("h4").inner_text()
    assert "tim nasional" in results.locator("p mark").inner_text().lower()
    page.click("#search-outlets input")  # every outlet again (Backspace takes the chosen one off)
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    page.fill("#search-query textarea", "Swedia")  # by date: a click on the order lists again
    page.get_by_role("radio", name=LABELS["id"]["search_order_newest"]).check()
    summary.get_by_text("yang terbaru lebih dulu", exact=False).wait_for(timeout=30_000)
    outlets = lambda: [o.inner_text() for o in results.locator(".search-hit .outlet").all()]  # noqa: E731
    newest = [o for o in outlets() if o in ("Al Jazeera", "Bola Kita")]  # other tests' uploads may list too
    assert newest == ["Al Jazeera", "Bola Kita"], outlets()  # 11 July 2023, then 20 June 2023
    page.screenshot(path=str(SHOTS / "36-search-phrase-newest.png"), full_page=True)
    page.get_by_role("radio", name=LABELS["id"]["search_order_oldest"]).check()
    summary.get_by_text("yang terlama lebih dulu", exact=False).wait_for(timeout=30_000)
    assert [o for o in outlets() if o in ("Al Jazeera", "Bola Kita")] == ["Bola Kita", "Al Jazeera"], outlets()
    page.get_by_role("radio", name=LABELS["id"]["search_order_relevance"]).check()
    page.get_by_role("tab", name=LABELS["id"]["chat_tab"]).click()
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(server.url + "/")
    phone.get_by_role("tab", name=LABELS["id"]["search_tab"]).click()
    phone.fill("#search-query textarea", "Peskov KTT")
    phone.click("#search-go")
    seed = phone.locator("#search-results .search-hit").first
    seed.wait_for(timeout=30_000)
    assert "Peskov" in seed.locator("p mark").inner_text()  # the passage around the sentence that matched, marked
    seed.locator("summary").click()  # the article opens at that sentence (far down a long article)
    phone.wait_for_function("""() => {
      const view = document.querySelector('#search-results .search-hit .article-view'), mark = view.querySelector('mark');
      const v = view.getBoundingClientRect(), m = mark.getBoundingClientRect();
      return view.scrollTop > 0 && m.top >= v.top && m.bottom <= v.bottom;
    }""", timeout=10_000)
    assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= 390  # no sideways scrolling
    phone.screenshot(path=str(SHOTS / "32-search-tab-phone.png"), full_page=True)
    phone.close()


def uploaded_and_picked(page, article: Path, title: str) -> None:
    """In the Index tab, with the token: upload `article`, update the index, list it by its
    `title` and pick its row, as a user does."""
    page.get_by_role("tab", name="Indeks").click()
    page.fill("#token input", "test-token")
    upload(page, article)
    page.wait_for_function(f"() => document.querySelector('#upload-report').innerText.includes({article.name!r})", timeout=30_000)
    page.click("#update")
    page.wait_for_function("() => /1 artikel baru/.test(document.querySelector('#update-report').innerText)", timeout=120_000)
    page.fill("#article-query textarea", title)
    page.wait_for_function("() => document.querySelectorAll('#articles tbody tr').length === 1", timeout=30_000)
    page.locator("#articles [data-testid='cell-0-0']").click()  # pick the row


def test_delete_from_a_row_asks_first(page, server, tmp_path):
    article = tmp_path / "hapus_saya.md"
    article.write_text("---\ntitle: Artikel Untuk Dihapus\n---\nLomba perahu naga digelar di Danau Toba pada Sabtu.\n")
    uploaded_and_picked(page, article, "Untuk Dihapus")
    page.wait_for_function("() => document.querySelector('#delete-id textarea').value === 'hapus_saya.md'", timeout=10_000)
    page.click("#delete")
    page.wait_for_selector("#confirm-delete", state="visible")
    assert "Artikel Untuk Dihapus" in page.inner_text("#confirm-delete")
    assert (server.corpus / "hapus_saya.md").exists()  # nothing gone before the confirmation
    page.screenshot(path=str(SHOTS / "9-delete-asks-first.png"), full_page=True)
    page.fill("#delete-id textarea", "000_b0a4adb478896665.md")  # another article picked: the question about the first goes
    page.wait_for_selector("#confirm-delete", state="hidden")  # (its Yes deleted the one picked since)
    page.fill("#delete-id textarea", "hapus_saya.md")
    page.click("#delete")
    page.wait_for_selector("#confirm-delete", state="visible")
    page.click("#confirm")
    page.wait_for_function("() => document.querySelector('#delete-report').innerText.includes('Dihapus hapus_saya.md')", timeout=30_000)
    assert not (server.corpus / "hapus_saya.md").exists() and (server.corpus / "000_b0a4adb478896665.md").exists()
    page.wait_for_selector("#confirm-delete", state="hidden")
    # the id and the edit box let go of it (they kept its fields, "Save changes" on, as if it had failed)
    page.wait_for_function("() => document.querySelector('#delete-id textarea').value === ''", timeout=10_000)
    page.get_by_text(LABELS["id"]["edit_fields"]).click()  # opened (a closed one holds no fields), then closed again
    for field in ("title", "source"):
        expect(page.locator(f"#edit-{field} textarea, #edit-{field} input").first).to_have_value("")
    page.get_by_text(LABELS["id"]["edit_fields"]).click()
    page.fill("#delete-id textarea", "hapus_saya.md")
    page.click("#delete")  # again, before an update: it asked to confirm, then said "not in the corpus"
    page.wait_for_function("() => document.querySelector('#delete-report').innerText.includes('sudah dihapus dari korpus')", timeout=30_000)
    assert not page.locator("#confirm-delete").is_visible()
    page.get_by_role("tab", name="Tanya").click()


def test_a_picked_articles_outlet_and_date_are_corrected_in_the_page(page, server, tmp_path):
    """An archivist fixes a wrong outlet and date: pick the row, the edit box shows its fields,
    save (the token first), update; the list shows the corrected ones and the file holds them."""
    article = tmp_path / "koreksi.md"
    article.write_text("---\ntitle: Artikel Koreksi\nsource: kompas\npublished: 2020-01-01\n---\nJembatan baru diresmikan di Kudus.\n")
    uploaded_and_picked(page, article, "Artikel Koreksi")  # its fields fill the edit box
    page.get_by_text(LABELS["id"]["edit_fields"]).click()
    expect(page.locator("#edit-source textarea, #edit-source input").first).to_have_value("kompas")
    expect(page.locator("#edit-title textarea, #edit-title input").first).to_have_value("Artikel Koreksi")
    page.locator("#edit-published textarea, #edit-published input").first.fill("3 Februari 2024")  # not a date: refused
    page.click("#edit-save")
    page.wait_for_function("() => document.querySelector('#edit-report').innerText.includes('Ditolak')", timeout=30_000)
    page.locator("#edit-published textarea, #edit-published input").first.fill("2024-02-03")
    page.locator("#edit-source textarea, #edit-source input").first.fill("Kompas")
    page.click("#edit-save")
    page.wait_for_function("() => document.querySelector('#edit-report').innerText.includes('Diubah koreksi.md')", timeout=30_000)
    assert "source: Kompas" in (server.corpus / "koreksi.md").read_text()
    assert (server.corpus / "koreksi.md").read_text().endswith("Jembatan baru diresmikan di Kudus.\n")
    page.click("#edit-save")  # nothing changed since
    page.wait_for_function("() => document.querySelector('#edit-report').innerText.includes('Belum ada yang diubah')", timeout=30_000)
    page.locator("#edit-url textarea, #edit-url input").first.fill("https://kabar.id/koreksi")  # only the URL goes
    page.click("#edit-save")
    page.wait_for_function("() => document.querySelector('#edit-report').innerText.includes('Diubah koreksi.md')", timeout=30_000)
    assert "source: Kompas" in (server.corpus / "koreksi.md").read_text() and "url: https://kabar.id/koreksi" in (
        server.corpus / "koreksi.md").read_text()
    page.fill("#delete-id textarea", "")  # picked again before an update: the box shows the file, not the index's "kompas"
    page.locator("#articles [data-testid='cell-0-0']").click()
    expect(page.locator("#edit-source textarea, #edit-source input").first).to_have_value("Kompas")
    page.screenshot(path=str(SHOTS / "35-article-fields-edited.png"), full_page=True)
    page.click("#update")
    page.wait_for_function("() => /1 diubah/.test(document.querySelector('#update-report').innerText)", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#articles').innerText.includes('3 Februari 2024')", timeout=30_000)
    assert "Kompas" in page.locator("#articles").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    page.locator("#edit-article").screenshot(path=str(SHOTS / "36-article-fields-phone.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_text(LABELS["id"]["edit_fields"]).click()  # folded again
    page.fill("#article-query textarea", "")
    page.get_by_role("tab", name="Tanya").click()


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


@pytest.mark.parametrize("language, first, follow_up", [
    # "Bagaimana tanggapan Swedia?" after the Finland question abstains, rightly: the article does not say
    ("Bahasa Indonesia", "Siapa Menteri Luar Negeri Rusia?", "Apa yang dia peringatkan?"),
    ("English", "Why did Finland join NATO?", "What about Sweden?"),
])
def test_follow_up_retry_and_undo(page, language, first, follow_up):
    """In either page language: the follow-up is read with the question before it, Retry
    answers it again, Undo puts its plain text back in the box and drops its sources."""
    code = "en" if language == "English" else "id"
    page.get_by_role("radio", name=language).check()
    page.get_by_role("tab", name=LABELS[code]["chat_tab"]).click()
    ask(page, first, new_conversation=True)
    reply = ask(page, follow_up)
    assert "[1]" in reply and not reply.startswith(("Tidak ada jawaban", "The archive has no answer"))
    assert "NATO" in page.inner_text("#sources [data-turn='2'] .source-card h4")  # read with the first (not the match against Sweden)
    answer_id = page.locator("#sources [data-turn='2']").get_attribute("data-answer")
    page.click("#retry")
    page.wait_for_selector(f"#sources [data-turn='2']:not([data-answer='{answer_id}'])", timeout=60_000)
    assert page.locator("#chat [data-testid='user']").count() == 2 and page.locator("#chat [data-testid='bot']").count() == 2
    assert "[1]" in page.locator("#chat [data-testid='bot']").nth(1).inner_text()
    page.screenshot(path=str(SHOTS / f"8-follow-up-retried-{code}.png"), full_page=True)
    page.click("#undo")
    user_bubbles(page, 1)
    assert page.input_value("#question textarea") == follow_up
    assert page.locator("#sources [data-turn='2']").count() == 0 and page.locator("#sources [data-turn='1']").count() == 1
    # the first answer's suggestions are back (they were hidden with the answer undone)
    page.locator("#follow-ups button").first.wait_for(state="visible", timeout=10_000)
    assert page.inner_text("#follow-ups-label").strip() == LABELS[code]["follow_ups"]
    page.get_by_role("radio", name="Bahasa Indonesia").check()
    # the switch redraws the sources of the conversation it was given: let it land before the next test clears the chat
    page.wait_for_function(f"() => document.querySelector('#send').innerText.includes({LABELS['id']['send']!r})", timeout=10_000)


def test_editing_a_question_asks_it_again_from_there(page):
    """Edit the first question in the chat: the conversation from it on is replaced by the
    edited question's answer, with its own sources."""
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    ask(page, "Berapa harga cabai rawit di Bandung?")
    first = page.locator("#chat [data-testid='user']").first
    first.hover()
    page.locator(EDIT_BUTTON).first.click()
    page.fill("#chat textarea.edit-textarea", "Siapa Menteri Luar Negeri Rusia?")
    page.locator("#chat button[aria-label='Kirim'], #chat button[aria-label='Submit']").first.click()
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"user\"]').length === 1"
                           " && document.querySelector('#sources [data-turn=\"1\"]')?.innerText.includes('Lavrov')", timeout=60_000)
    assert page.locator("#chat [data-testid='user']").inner_text().strip() == "Siapa Menteri Luar Negeri Rusia?"
    assert "Sergey Lavrov" in page.locator("#chat [data-testid='bot']").inner_text()
    assert page.locator("#sources [data-turn='2']").count() == 0
    page.screenshot(path=str(SHOTS / "18-question-edited.png"), full_page=True)


def test_undo_puts_the_question_back_but_never_over_a_draft(page):
    """Undo puts the undone question in the box; a second Undo the one before it (the first was
    ours, left as it was); but a question typed in the box meanwhile is kept, not overwritten."""
    questions = ["Siapa juru bicara Kremlin?", "Siapa Menteri Luar Negeri Rusia?"]
    ask(page, questions[0], new_conversation=True)
    ask(page, questions[1])
    for left, question in ((1, questions[1]), (0, questions[0])):
        page.click("#undo")
        user_bubbles(page, left)
        page.wait_for_function(f"() => document.querySelector('#question textarea').value === {question!r}", timeout=10_000)
    ask(page, questions[0])
    page.fill("#question textarea", "Kapan KTT NATO diadakan?")
    page.click("#undo")
    user_bubbles(page, 0)
    page.wait_for_timeout(500)  # the page's own step after the reply (UNSENT_JS) has run
    assert page.input_value("#question textarea") == "Kapan KTT NATO diadakan?"


def test_a_server_failure_is_said_in_the_chat_and_the_question_kept(page, server):
    """The index's database breaks under the server (a failure on our side, not the user's): the
    reply says so in the chat, no Error badge replaces it, the question is back in the box, and
    once the index is whole again the same question is answered."""
    clear_chat(page)
    fail(page, server.index, "Siapa juru bicara Kremlin?")
    assert page.locator(".toast-body, .error").count() == 0 and page.input_value("#question textarea") == "Siapa juru bicara Kremlin?"
    page.screenshot(path=str(SHOTS / "19-server-failure-in-the-chat.png"), full_page=True)
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#sources [data-turn='1']", timeout=60_000)
    assert "Peskov" in page.locator("#chat [data-testid='bot']").last.inner_text()
    # a failure while another question waits in the box (typed, not sent; here Retry fails): the box keeps it
    page.fill("#question textarea", "Kapan KTT NATO diadakan?")
    with broken_index(server.index):
        page.click("#retry")
        page.wait_for_function("() => document.querySelector('#chat [data-testid=\"bot\"]')?.innerText.includes('server gagal')",
                               timeout=60_000)
        page.wait_for_timeout(500)  # the page's own step after the reply (UNSENT_JS) has run
    assert page.input_value("#question textarea") == "Kapan KTT NATO diadakan?"
    assert page.locator("#sources [data-turn='1']").count() == 0  # the turn retried is gone, and its sources
    # the failed question, edited in the chat, is asked (it stands after the conversation's last turn)
    page.locator("#chat [data-testid='user']").last.hover()
    page.locator(EDIT_BUTTON).last.click()
    page.fill("#chat textarea.edit-textarea", "Siapa Menteri Luar Negeri Rusia?")
    page.locator("#chat button[aria-label='Kirim'], #chat button[aria-label='Submit']").first.click()
    page.wait_for_selector("#sources [data-turn='1']", timeout=60_000)
    assert "Sergey Lavrov" in page.locator("#chat [data-testid='bot']").last.inner_text()
    # after a failure, Retry asks the failed question (not the one before it; it leaves the box) ...
    fail(page, server.index, "Kapan KTT NATO diadakan?")
    page.click("#retry")
    page.wait_for_selector("#sources [data-turn='2']", timeout=60_000)
    asked = ["Siapa Menteri Luar Negeri Rusia?", "Kapan KTT NATO diadakan?"]
    assert questions_shown(page) == asked
    assert page.input_value("#question textarea") == ""
    # ... and Undo takes the failure back, not the turn before it
    fail(page, server.index, "Siapa juru bicara Kremlin?")
    page.click("#undo")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('server gagal')", timeout=30_000)
    assert questions_shown(page) == asked
    assert page.locator("#sources [data-turn='2']").count() == 1
    assert page.input_value("#question textarea") == "Siapa juru bicara Kremlin?"


@contextlib.contextmanager
def broken_index(index: Path) -> Iterator[None]:
    """The index's newest generation a copy of the live one whose database lost its passages: it
    opens, and every search in it fails (as a damaged disk would make it); the live one again after."""
    import sqlite3

    from rag.store import CURRENT

    pointer = index / CURRENT
    live = pointer.read_text()
    broken = index / "generations" / "gen-999999"
    shutil.copytree(index / "generations" / live.strip(), broken)
    with contextlib.closing(sqlite3.connect(broken / "index.sqlite")) as db:
        db.execute("DROP TABLE chunks")
        db.commit()
    pointer.write_text("gen-999999\n")
    try:
        yield
    finally:
        pointer.write_text(live)
        shutil.rmtree(broken)


def fail(page, index: Path, question: str) -> None:
    """Ask `question` while the index is broken (`broken_index`): the answer fails."""
    with broken_index(index):
        page.fill("#question textarea", question)
        page.press("#question textarea", "Enter")
        page.wait_for_function("() => [...document.querySelectorAll('#chat [data-testid=\"bot\"]')].pop()"
                               "?.innerText.includes('server gagal')", timeout=60_000)
        page.wait_for_timeout(500)  # the page's own step after the reply (UNSENT_JS) has run


def test_a_citation_of_an_earlier_answer_opens_its_own_article(page):
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    ask(page, "Berapa harga cabai rawit di Bandung?")
    ask(page, "Apa yang dikatakan Lavrov tentang perluasan NATO?")
    page.locator("#chat a[href='#cite-1-1']").first.click()  # [1] of the first answer
    mark = page.locator("#article-1-1 mark#cite-1-1")
    mark.wait_for(state="visible")
    assert "Peskov" in mark.inner_text() and "focused" in mark.get_attribute("class")
    page.screenshot(path=str(SHOTS / "10-first-answer-citation.png"), full_page=True)
    page.locator("#chat a[href='#cite-2-1']").first.click()  # [1] of the second answer: the chili article
    page.locator("#article-2-1 mark#cite-2-1").wait_for(state="visible")
    assert "cabai" in page.locator("#article-2-1 mark#cite-2-1").inner_text()
    assert "<b>minggu ini</b>" in page.locator("#article-2-1 mark#cite-2-1").inner_text()  # fetched, shown as text
    assert page.locator("#article-2-1 .article-view b").count() == 0 and page.evaluate("() => window.hacked") is None
    # the earlier answers' articles came from the server when opened, not with every answer
    assert page.locator("#article-3-1 .article-view[data-article]").count() == 0  # the latest answer's is in the page
    assert page.locator("#article-1-1 .article-view[data-article]").count() == 1


def test_an_earlier_answers_article_is_marked_where_the_server_counts_its_characters(page):
    """The page's script marks a fetched article at the server's offsets, which count characters
    as Python does (an emoji is one, two in JavaScript's strings); a failed fetch says so."""
    text = "😀 Harga <i>cabai</i> naik. Pasokan dari Garut berkurang."
    start = text.index("Pasokan")
    page.route("**/api/articles/emoji.md", lambda route: route.fulfill(json={"id": "emoji.md", "text": text}))
    page.route("**/api/articles/hilang.md", lambda route: route.fulfill(status=404, json={"detail": "no article"}))
    marked = page.evaluate("""async ([start, end]) => {
      const card = (id) => {
        const details = document.createElement("details");
        details.innerHTML = `<summary>x</summary><div class="article-view" data-article="${id}" data-failed="gagal"></div>`;
        details.querySelector(".article-view").dataset.marks = JSON.stringify([[start, end, "cite-9-1"]]);
        document.body.appendChild(details);
        return details;
      };
      const found = card("emoji.md"), gone = card("hilang.md");
      await window.ragLoadArticle(found);
      await window.ragLoadArticle(gone);
      const result = [found.querySelector("mark#cite-9-1").textContent, found.querySelectorAll("i").length,
                      gone.querySelector(".article-view").textContent];
      found.remove(); gone.remove();
      return result;
    }""", [start, start + len("Pasokan dari Garut berkurang.")])
    assert marked == ["Pasokan dari Garut berkurang.", 0, "gagal"]
    page.unroute("**/api/articles/emoji.md")
    page.unroute("**/api/articles/hilang.md")


def test_each_mark_of_one_source_opens_its_own_sentence(page):
    """An answer quoting two sentences of one article (quotes only, or an LLM's reply): its
    second [1] opened the first sentence. The page's script on the page's own HTML."""
    from markdown_it import MarkdownIt

    from rag.answer import Answer, Citation, Source
    from rag.corpus import Article
    from rag.ui import HEAD
    from rag.ui_render import Turn, render_reply, render_sources

    text = "Harga cabai naik. " + "Pedagang di pasar mengeluh. " * 40 + "Pasokan dari Garut berkurang."
    cited = [Citation(1, "a.md", "Cabai", None, None, None, s, text.index(s), text.index(s) + len(s), 1.0)
             for s in ("Pasokan dari Garut berkurang.", "Harga cabai naik.")]
    quoted = Answer(f"Menurut arsip:\n{cited[0].sentence} [1] {cited[1].sentence} [1]", cited,
                    [Source(1, "a.md", "Cabai", None, None, None, text, 0, len(text))], False, "id")
    reply = MarkdownIt("commonmark", {"html": True}).render(render_reply(quoted, 1))
    panel = render_sources([Turn("q", quoted, "x")], lambda _: Article("a.md", "Cabai", text), "id")
    static = page.context.browser.new_page(viewport={"width": 1400, "height": 600})
    static.set_content(f"<html><head>{HEAD}<style>.article-view {{max-height: 100px; overflow-y: auto}}</style></head>"
                       f"<body><div id='chat'>{reply}</div><div id='sources'>{panel}</div></body></html>")
    for n, sentence in ((1, "Pasokan"), (2, "Harga")):
        static.locator("#chat a").nth(n - 1).click()
        focused = static.locator("mark.focused")
        assert focused.count() == 1 and focused.inner_text().startswith(sentence)
        assert static.evaluate("""() => {  // scrolled into the article's box
          const mark = document.querySelector('mark.focused').getBoundingClientRect();
          const view = document.querySelector('#article-1-1 .article-view').getBoundingClientRect();
          return mark.top >= view.top && mark.bottom <= view.bottom; }""")
    static.close()


def test_what_is_typed_while_an_answer_comes_stays_in_the_box(page):
    """The box emptied when the first piece of the answer arrived, taking with it what had been
    typed since Enter: now it empties at Enter."""
    clear_chat(page)
    turn = page.locator("#chat [data-testid='user']").count() + 1
    page.fill("#question textarea", "Siapa juru bicara Kremlin?")
    page.press("#question textarea", "Enter")
    emptied = page.wait_for_function(  # what the answer's bubble says when the box empties: nothing yet
        """() => document.querySelector('#question textarea').value === ''
                 && [...document.querySelectorAll('#chat [data-testid="bot"]')].map(b => b.innerText.trim())""",
        timeout=30_000, polling=10).json_value()
    assert len(emptied) == turn and emptied[-1] == "", emptied
    page.type("#question textarea", "Kapan KTT NATO diadakan?")  # the next question, typed while the answer comes
    page.wait_for_selector(f"#sources [data-turn='{turn}']", timeout=60_000)
    assert page.input_value("#question textarea") == "Kapan KTT NATO diadakan?"


def test_a_question_sent_while_an_answer_comes_is_answered_after_it(page, tmp_path):
    """Enter while the first answer was coming did nothing: the second question stayed in the box.
    The first answer is made slow by an LLM that waits 3 s before it writes (a stub)."""
    questions = ["Siapa juru bicara Kremlin?", "Apa yang dikatakan Lavrov tentang perluasan NATO?"]
    llm = {"RAG_LLM": "stub-model", "RAG_LLM_TIMEOUT": "30"}
    with Stub("Juru bicara Kremlin adalah Dmitry Peskov [1].", pause=3) as stub, \
            AppServer(tmp_path, extra_env={**llm, "RAG_LLM_BASE_URL": stub.base_url}) as server, \
            contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as slow:
        slow.goto(server.url + "/")
        slow.click("#filters button")
        slow.get_by_role("radio", name="LLM: stub-model").check()
        slow.fill("#question textarea", questions[0])
        slow.press("#question textarea", "Enter")
        slow.wait_for_function("() => document.querySelector('#question textarea').value === ''", timeout=10_000)
        slow.fill("#question textarea", questions[1])
        slow.click("#send")  # Send, not Enter: one event with Enter, so it waits for the answer Enter started
        assert slow.locator("#sources [data-turn='1']").count() == 0  # sent while the first answer was coming
        assert slow.locator("#retry").is_disabled() and slow.locator("#undo").is_disabled()  # they would act on the turn before
        slow.locator("#chat [data-testid='user']").first.hover()  # nor can a question be edited (it was answered beside it)
        expect(slow.locator(EDIT_BUTTON)).to_have_count(0)
        user_bubbles(slow, 2)
        slow.locator("#chat [data-testid='user']").first.hover()  # the second answer is coming: still none
        expect(slow.locator(EDIT_BUTTON)).to_have_count(0)
        slow.wait_for_selector("#sources [data-turn='2']", timeout=60_000)
        assert questions_shown(slow) == questions
        assert len(stub.requests) == 2 and questions[1] in json.dumps(stub.requests[1], ensure_ascii=False)
        assert slow.locator("#retry").is_enabled() and slow.locator("#undo").is_enabled()
        slow.locator("#chat [data-testid='user']").first.hover()
        expect(slow.locator(EDIT_BUTTON)).to_have_count(2)


def test_a_question_waiting_for_other_users_answers_shuts_retry_undo_and_editing_at_once(page, tmp_path):
    """With more questions asked at once than the server answers (RAG_UI_CONCURRENCY, here 1), a
    question waits its turn; Retry, Undo and editing stayed open until its answer began, acting on
    the conversation before it (and the list of conversations and New are shut too). Another user's answer is made slow by an LLM that waits 3 s."""
    llm = {"RAG_LLM": "stub-model", "RAG_LLM_TIMEOUT": "30", "RAG_UI_CONCURRENCY": "1"}
    with Stub("KTT NATO diadakan di Vilnius [1].", pause=3) as stub, \
            AppServer(tmp_path, extra_env={**llm, "RAG_LLM_BASE_URL": stub.base_url}) as server, \
            contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as other, \
            contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as mine:
        for tab in (other, mine):
            tab.goto(server.url + "/")
            tab.wait_for_selector("#question textarea")
        ask(mine, "Siapa juru bicara Kremlin?")
        other.click("#filters button")
        other.get_by_role("radio", name="LLM: stub-model").check()
        other.fill("#question textarea", "Kapan KTT NATO diadakan?")
        other.press("#question textarea", "Enter")
        other.wait_for_function("() => document.querySelector('#question textarea').value === ''", timeout=10_000)  # it is answering
        mine.fill("#question textarea", "Apa yang dikatakan Lavrov tentang perluasan NATO?")
        mine.press("#question textarea", "Enter")
        expect(mine.locator("#retry")).to_be_disabled(timeout=1_000)
        expect(mine.locator("#undo")).to_be_disabled(timeout=1_000)
        mine.locator("#chat [data-testid='user']").first.hover()
        expect(mine.locator(EDIT_BUTTON)).to_have_count(0, timeout=1_000)
        expect(mine.locator("#conversations input")).to_be_disabled(timeout=1_000)  # no other conversation for the answer to land in
        expect(mine.locator("#new-conversation")).to_be_disabled(timeout=1_000)
        assert other.locator("#sources [data-turn='1']").count() == 0 and mine.locator("#sources [data-turn='2']").count() == 0
        mine.screenshot(path=SHOTS / "28-waiting-for-its-turn.png")
        mine.wait_for_selector("#sources [data-turn='2']", timeout=60_000)
        assert other.locator("#sources [data-turn='1']").count() == 1  # answered after the other user's
        expect(mine.locator("#retry")).to_be_enabled()
        expect(mine.locator("#undo")).to_be_enabled()
        mine.locator("#chat [data-testid='user']").first.hover()
        expect(mine.locator(EDIT_BUTTON)).to_have_count(2)
        expect(mine.locator("#conversations input")).to_be_enabled()
        expect(mine.locator("#new-conversation")).to_be_enabled()


def test_the_conversation_downloads_as_text_with_every_quote_where_it_stands(page, server):
    """A researcher keeps what the archive said: the conversation downloads as a text file, each
    question with its answer and sources, every quoted sentence with its place in the article, in
    the page's language; there is nothing to download before the first answer and after the last is undone."""
    clear_chat(page)
    expect(page.locator("#download")).to_be_hidden()
    questions = ["Siapa juru bicara Kremlin?", "Apa yang dikatakan Lavrov tentang perluasan NATO?"]
    for question in questions:
        ask(page, question)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.startswith("arsip-berita-") and download.value.suggested_filename.endswith(".txt")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("Arsip Berita: percakapan, ") and "Menurut arsip: Dmitry Peskov" in text
    assert f"\n1. {questions[0]}\n" in text and f"\n2. {questions[1]}\n" in text and "keyakinan 0." in text
    quotes = re.findall(r"“(.+)” \(karakter (\d+)–(\d+)\)", text)
    assert len(quotes) >= 2
    article = page.request.get(f"{server.url}/api/articles/000_b0a4adb478896665.md").json()
    assert all(article["text"][int(start):int(end)] == sentence for sentence, start, end in quotes), quotes
    assert "[1] Rusia Lontarkan Serangkaian Ancaman saat Para Pemimpin NATO Berkumpul di Vilnius — Al Jazeera · 2023-07-11" in text
    page.screenshot(path=SHOTS / "29-download-conversation.png")
    page.get_by_role("radio", name="English").check()  # the file follows the page's language
    expect(page.locator("#download")).to_have_text("Download")
    with page.expect_download() as download:
        page.click("#download")
    english = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.startswith("news-archive-") and english.startswith("News Archive: conversation, ")
    assert re.findall(r"“(.+)” \(chars (\d+)–(\d+)\)", english) == quotes
    page.get_by_role("radio", name="Bahasa Indonesia").check()
    expect(page.locator("#download")).to_have_text("Unduh")
    for left in reversed(range(len(questions))):
        page.click("#undo")
        user_bubbles(page, left)  # each undo done before the next click (a click while one is pending is dropped)
    expect(page.locator("#download")).to_be_hidden()


def test_the_conversation_is_there_again_after_a_reload(page, server):
    """Kept in the browser: a reload (or a visit later) shows the conversation as it was, its
    citations opening their sentences and Undo acting on it (a reload at once after Undo keeps what
    Undo left); the chat's trash button forgets it."""
    with contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as tab:
        tab.goto(server.url + "/")
        tab.wait_for_selector("#question textarea")
        ask(tab, "Siapa juru bicara Kremlin?")
        ask(tab, "Apa yang dikatakan Lavrov tentang perluasan NATO?")
        asked, replies = questions_shown(tab), tab.locator("#chat [data-testid='bot']").all_inner_texts()
        tab.reload()
        tab.wait_for_selector("#sources [data-turn='2']", timeout=30_000)
        assert questions_shown(tab) == asked and tab.locator("#chat [data-testid='bot']").all_inner_texts() == replies
        expect(tab.locator("#download")).to_be_visible()
        tab.locator("#chat a[href='#cite-1-1']").click()  # the first answer's [1]: its sentence, highlighted
        expect(tab.locator("mark.focused")).to_contain_text("Juru bicara Kremlin Dmitry Peskov")
        tab.screenshot(path=SHOTS / "30-conversation-after-reload.png")
        tab.click("#undo")
        user_bubbles(tab, 1)
        tab.reload()
        tab.wait_for_selector("#sources [data-turn='1']", timeout=30_000)
        assert questions_shown(tab) == asked[:1]
        clear_chat(tab)
        tab.reload()
        tab.wait_for_selector("#question textarea")
        tab.wait_for_timeout(1_000)  # what the load would restore has come by then
        assert questions_shown(tab) == [] and tab.locator("#download").is_hidden()


def titles(options) -> list[str]:
    """The texts of a dropdown's options (the chosen one without its tick)."""
    return [text.replace("✓", "").strip() for text in options.all_inner_texts()]


@contextlib.contextmanager
def opening_events(tab, server) -> Iterator[list]:
    """The requests the page sends, while the block runs, to run the conversation list's event
    (its dependency in the app's /config, by the list's elem_id)."""
    import httpx

    config = httpx.get(f"{server.url}/config", timeout=30).json()
    listing = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "conversations")
    events = {d["id"] for d in config["dependencies"] if any(target[0] == listing for target in d["targets"])}
    sent: list = []

    def record(request) -> None:
        if request.method == "POST" and "/queue/join" in request.url and request.post_data_json.get("fn_index") in events:
            sent.append(request)

    tab.on("request", record)
    try:
        yield sent
    finally:
        tab.remove_listener("request", record)


def test_several_conversations_are_kept_and_each_opens_as_it_was_left(page, server):
    """A researcher keeps several lines of questions: "New conversation" starts an empty chat and
    keeps the one before in the list (titled by its first question, the one asked in last first);
    choosing one shows it as it was left, its citations opening their sentences; a reload keeps
    them all and the one open; the chat's trash button forgets only the one open."""
    with contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as tab:
        tab.goto(server.url + "/")
        tab.wait_for_selector("#question textarea")
        expect(tab.locator("#conversations")).to_be_hidden()
        ask(tab, "Siapa juru bicara Kremlin?")
        expect(tab.locator("#conversations input")).to_have_value("Siapa juru bicara Kremlin?")
        tab.click("#new-conversation")
        user_bubbles(tab, 0)
        tab.wait_for_function("() => !document.querySelector('#sources [data-turn]')", timeout=30_000)
        expect(tab.locator("#new-conversation")).to_be_hidden()
        expect(tab.locator("#conversations input")).to_have_value(LABELS["id"]["empty_conversation"])
        ask(tab, "Berapa harga cabai rawit di Bandung?")
        ask(tab, "Di mana harga cabai naik?")
        tab.click("#conversations input")
        options = tab.get_by_role("option")
        assert titles(options) == ["Berapa harga cabai rawit di Bandung?", "Siapa juru bicara Kremlin?"]
        tab.screenshot(path=SHOTS / "33-conversations-listed.png")
        with opening_events(tab, server) as sent:
            options.nth(1).click()  # the first conversation, as it was left
        tab.wait_for_function("() => document.querySelector('#sources [data-turn]') && "
                              "document.querySelectorAll('#chat [data-testid=\"user\"]').length === 1", timeout=30_000)
        assert questions_shown(tab) == ["Siapa juru bicara Kremlin?"] and "Peskov" in tab.locator("#sources").inner_text()
        tab.wait_for_timeout(500)
        assert len(sent) == 1  # one choice, one event (Gradio's `input` came twice: on the choice and on the blur)
        tab.locator("#chat a[href='#cite-1-1']").click()
        expect(tab.locator("mark.focused")).to_contain_text("Dmitry Peskov")
        tab.reload()  # both kept, the one open open again
        tab.wait_for_selector("#sources [data-turn='1']", timeout=30_000)
        assert questions_shown(tab) == ["Siapa juru bicara Kremlin?"]
        expect(tab.locator("#conversations input")).to_have_value("Siapa juru bicara Kremlin?")
        clear_chat(tab)  # forgets this one only
        tab.click("#conversations input")
        assert titles(tab.get_by_role("option")) == [LABELS["id"]["empty_conversation"], "Berapa harga cabai rawit di Bandung?"]
        with opening_events(tab, server) as sent:  # chosen with the keys this time
            tab.keyboard.press("ArrowDown")
            tab.keyboard.press("Enter")
            user_bubbles(tab, 2)
            tab.wait_for_timeout(500)
        assert len(sent) == 1
        assert questions_shown(tab) == ["Berapa harga cabai rawit di Bandung?", "Di mana harga cabai naik?"]
        tab.set_viewport_size({"width": 390, "height": 844})
        assert tab.evaluate("() => document.scrollingElement.scrollWidth") <= 390
        tab.screenshot(path=SHOTS / "34-conversations-phone.png", full_page=True)


def test_two_tabs_of_one_browser_keep_each_others_conversations(page, server):
    """A researcher asks in two tabs: each answer lands on what the other tab stored since, so a
    reload (or either tab's list, at once) holds both conversations, and each opens as it was left."""
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})  # one browser's storage
    with contextlib.closing(context):
        first, second = context.new_page(), context.new_page()
        for tab in (first, second):  # both open before either asks: each read an empty copy
            tab.goto(server.url + "/")
            tab.wait_for_selector("#question textarea")
        ask(first, "Siapa juru bicara Kremlin?")
        ask(second, "Berapa harga cabai rawit di Bandung?")
        first.click("#conversations input")  # the first tab's list shows the second's at once, its own still open
        expect(first.get_by_role("option")).to_have_count(2)  # the one asked in last first
        assert titles(first.get_by_role("option")) == ["Berapa harga cabai rawit di Bandung?", "Siapa juru bicara Kremlin?"]
        first.keyboard.press("Escape")
        expect(first.locator("#conversations input")).to_have_value("Siapa juru bicara Kremlin?")
        second.click("#conversations input")
        assert titles(second.get_by_role("option")) == ["Berapa harga cabai rawit di Bandung?", "Siapa juru bicara Kremlin?"]
        second.get_by_role("option").nth(1).click()  # the first tab's, as it left it
        expect(second.locator("#chat [data-testid='user']")).to_have_text(["Siapa juru bicara Kremlin?"], timeout=30_000)
        expect(second.locator("#sources")).to_contain_text("Peskov")
        ask(first, "Apa yang dikatakan Lavrov tentang perluasan NATO?")  # the first tab goes on in its own
        first.reload()
        first.wait_for_selector("#sources [data-turn='2']", timeout=30_000)
        first.click("#conversations input")
        assert titles(first.get_by_role("option")) == ["Siapa juru bicara Kremlin?", "Berapa harga cabai rawit di Bandung?"]
        first.screenshot(path=SHOTS / "37-two-tabs-conversations.png")
        first.get_by_role("option").nth(1).click()
        expect(first.locator("#chat [data-testid='user']")).to_have_text(["Berapa harga cabai rawit di Bandung?"], timeout=30_000)


def test_the_conversation_is_there_again_after_the_server_restarts(page, tmp_path):
    """The browser's copy is encrypted with a key the index folder keeps: a server restarted on the
    same index (an update, a crash, a new version) shows the conversation of a reload as it was."""
    with AppServer(tmp_path) as restarted, contextlib.closing(page.context.browser.new_page()) as tab:
        tab.goto(restarted.url + "/")
        tab.wait_for_selector("#question textarea")
        ask(tab, "Siapa juru bicara Kremlin?")
        replies = tab.locator("#chat [data-testid='bot']").all_inner_texts()
        restarted.__exit__(None, None, None)
        restarted.__enter__()  # the same port, so the same browser storage
        tab.reload()
        tab.wait_for_selector("#sources [data-turn='1']", timeout=30_000)
        assert questions_shown(tab) == ["Siapa juru bicara Kremlin?"]
        assert tab.locator("#chat [data-testid='bot']").all_inner_texts() == replies


def test_the_question_bubble_shows_exactly_what_was_typed(page):
    """Markup, a web address (its escaped dots were shown inside a link that led nowhere) and "$$"
    (drawn as a formula) are shown as typed; the chat's quotes and the search tab's summary are
    written the same way (`literal`)."""
    typed = "Berapa harga cabai <b>rawit</b> di *Bandung*? Lihat https://harga.example.id/cabai_rawit.html, $$2^{10}$$"
    ask(page, typed, new_conversation=True)
    bubble = page.locator("#chat [data-testid='user']").last
    assert bubble.inner_text().strip() == typed
    assert bubble.locator("b, em, strong, a, .katex").count() == 0
    page.get_by_role("tab", name=LABELS["id"]["search_tab"]).click()
    query = "cabai https://harga.example.id/cabai_rawit $$2^{10}$$"
    page.fill("#search-query textarea", query)
    page.press("#search-query textarea", "Enter")
    summary = page.locator("#search-summary")
    summary.get_by_text(f"«{query}»", exact=False).wait_for(timeout=30_000)
    assert summary.locator("a, .katex").count() == 0
    page.get_by_role("tab", name=LABELS["id"]["chat_tab"]).click()


def test_copy_quote_puts_a_citation_line_on_the_clipboard(page, server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    button = page.locator("#sources [data-turn='1'] button.copy-quote").first
    button.click()
    page.wait_for_function("() => document.querySelector('#sources button.copy-quote').innerText === 'Tersalin'", timeout=10_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("“Juru bicara Kremlin Dmitry Peskov")
    assert copied.endswith("” — Rusia Lontarkan Serangkaian Ancaman saat Para Pemimpin NATO Berkumpul di Vilnius, Al Jazeera, 11 Juli 2023.")


def test_the_chats_copy_buttons_copy_the_text_not_its_markdown(page, server):
    """Gradio's copy buttons copied a reply's markdown (`Rp 80\\.000`, `<a href="#cite-1-1">[1]</a>`,
    `**`): a reply copies as `rag ask` prints it, with its sources and each quote's place; a
    question as typed; the conversation numbered."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    question = "Siapa juru bicara Kremlin?"
    ask(page, question, new_conversation=True)
    page.wait_for_timeout(500)  # the message's buttons come after its last piece
    copy_reply = page.locator(f"#chat .message-buttons button[aria-label='{GRADIO_TOOLTIPS['Copy message']}']").last
    copy_reply.click()
    expect(copy_reply).to_have_class(re.compile("rag-copied"))  # the tick
    page.locator("#chat").screenshot(path=SHOTS / "31-reply-copied.png")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("Menurut arsip: Dmitry Peskov\n") and "\n[1] Rusia Lontarkan Serangkaian Ancaman" in copied, copied
    assert re.search(r"“Juru bicara Kremlin Dmitry Peskov.+” \(karakter \d+–\d+\)", copied), copied
    assert not re.search(r"\\|<a|\*\*|&#", copied), copied
    page.locator(f"#chat .message-buttons button[aria-label='{GRADIO_TOOLTIPS['Copy message']}']").first.click()
    page.wait_for_function("(q) => navigator.clipboard.readText().then((t) => t === q)", arg=question, timeout=10_000)
    page.locator(f"#chat button[aria-label='{GRADIO_TOOLTIPS['Copy conversation']}']").click()
    page.wait_for_function("(t) => navigator.clipboard.readText().then((c) => c === t)", arg=f"1. {question}\n\n{copied}", timeout=10_000)


def test_a_question_sent_after_scrolling_up_shows_its_answer(page):
    """Scrolled up to an earlier answer's citation, a user who asked again saw nothing come: the
    chat stayed where it was, the new answer below, out of sight."""
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    for question in ("Apa yang dikatakan Lavrov tentang perluasan NATO?", "Berapa harga cabai rawit di Bandung?"):
        ask(page, question)
    scroller = "document.querySelector('#chat .bubble-wrap')"
    page.evaluate(f"{scroller}.scrollTop = 0")
    ask(page, "Siapa Menteri Luar Negeri Rusia?")
    page.wait_for_timeout(500)
    assert page.evaluate(f"(() => {{ const s = {scroller}; return s.scrollHeight - s.scrollTop - s.clientHeight; }})()") < 40
    assert page.locator("#chat [data-testid='bot']").last.is_visible()


def test_a_suggested_follow_up_is_asked_with_one_click(page):
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    suggestion = page.locator("#follow-ups button").first
    suggestion.wait_for(state="visible")
    assert page.inner_text("#follow-ups-label").strip() == "Tanyakan juga:"  # the buttons say what they are
    text = suggestion.inner_text()
    assert text.startswith("Apa yang dikatakan tentang ") and "Peskov" not in text  # a name the answer did not give
    page.fill("#question textarea", "Kapan KTT NATO")  # a question being typed: the click asks the suggestion, not it
    suggestion.click()
    page.wait_for_selector("#sources [data-turn='2']", timeout=60_000)
    assert page.locator("#chat [data-testid='user']").last.inner_text().strip() == text
    assert page.input_value("#question textarea") == "Kapan KTT NATO"  # and leaves it in the box (it emptied it)
    page.fill("#question textarea", "")
    page.screenshot(path=str(SHOTS / "11-follow-up-suggestion.png"), full_page=True)


def test_an_off_topic_question_abstains_and_lists_related_articles(page):
    reply = ask(page, "Siapa presiden Brasil saat ini?", new_conversation=True)
    assert reply.startswith("Tidak ada jawaban") and "Menurut arsip" not in reply
    related = page.locator("#chat [data-testid='bot'] a[href^='#cite-1-']")
    assert related.count() >= 1
    related.first.click()
    page.wait_for_selector("#article-1-1[open]", state="attached")
    assert page.locator("#sources [data-turn='1'] .source-card").count() == related.count()


def test_a_wrong_filter_date_is_said_next_to_the_field_and_the_chat_stays(page):
    ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    page.click("#filters button")
    page.fill("#since textarea", "2023-13-45")
    page.fill("#question textarea", "Apa yang dikatakan Lavrov tentang perluasan NATO?")
    page.press("#question textarea", "Enter")
    error = page.locator("#filter-error")
    error.wait_for(state="visible", timeout=30_000)
    assert "2023-13-45" in error.inner_text() and "TTTT-BB-HH" in error.inner_text()
    assert page.locator("#chat [data-testid='user']").count() == 1  # the chat is as it was
    assert page.input_value("#question textarea") == "Apa yang dikatakan Lavrov tentang perluasan NATO?"
    assert page.locator(".toast-body, .error").count() == 0  # no error badge, no toast
    assert page.locator("#retry").is_enabled() and page.locator("#undo").is_enabled()  # nothing was asked: as they were
    page.locator("#chat [data-testid='user']").first.hover()
    expect(page.locator(EDIT_BUTTON)).to_have_count(1)
    page.screenshot(path=str(SHOTS / "12-wrong-filter-date.png"), full_page=True)
    # the date changed but still no date: the error stays and names it as it is now (it was hidden by
    # the change's reply, which could also come after Send's and hide the error Send had shown)
    page.fill("#since textarea", "2023-13-46")
    page.wait_for_function("() => document.querySelector('#filter-error')?.innerText.includes('2023-13-46')", timeout=10_000)
    assert error.is_visible()
    assert page.locator("#period input:checked").count() == 0  # a typed date is no quick range ("Semua" was ticked)
    page.locator("#active-filters label", has_text="sejak").click()  # the chip takes the wrong date away, and its error
    error.wait_for(state="hidden", timeout=10_000)
    assert page.get_by_role("radio", name="Semua", exact=True).is_checked()
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#sources [data-turn='2']", timeout=60_000)
    page.click("#filters button")


def _page_texts(page) -> set[str]:
    """The page's own words: every text node outside the chat bubbles, the article snippets and
    the example and follow-up questions (content, in the language it was written in)."""
    return set(page.evaluate("""() => {
        const skip = "#chat .message, .source-card h4, .source-card p, .article-view, details[id^=article] > summary, #follow-ups, .gallery, #articles tbody, #turns summary";
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const texts = [];
        while (walker.nextNode()) {
            const node = walker.currentNode, text = node.textContent.trim();
            if (text && !node.parentElement.closest(skip)) texts.push(text);
        }
        return texts;
    }"""))


def _strings_of(language: str) -> list[str]:
    """The table's strings that the other language writes differently (templates up to their first field)."""
    other = "en" if language == "id" else "id"
    found = []
    for key, value in LABELS[language].items():
        if value != LABELS[other][key]:
            fixed = value.split("{")[0].strip(" :*#")
            found += [fixed] if len(fixed) >= 4 else []
    return found


@pytest.mark.parametrize("language, question", [("English", "Who is the spokesman of the Kremlin?"),
                                                ("Bahasa Indonesia", "Siapa juru bicara Kremlin?")])
def test_the_page_speaks_one_language(page, language, question):
    """Switch the language, ask, search, walk every tab: no string of the other language's table."""
    code = "en" if language == "English" else "id"
    page.get_by_role("radio", name=language).check()
    page.wait_for_function(f"() => document.body.innerText.includes({LABELS[code]['send']!r})", timeout=10_000)
    ask(page, question, new_conversation=True)
    texts = _page_texts(page)
    page.get_by_role("tab", name=LABELS[code]["search_tab"]).click()
    page.fill("#search-query textarea", question)
    page.click("#search-go")
    page.locator("#search-results .search-hit").first.wait_for(timeout=30_000)
    texts |= _page_texts(page)
    page.get_by_role("tab", name=LABELS[code]["index_tab"]).click()
    page.wait_for_selector("#stats")
    texts |= _page_texts(page)
    page.screenshot(path=str(SHOTS / f"13-index-tab-{code}.png"), full_page=True)
    page.get_by_role("tab", name=LABELS[code]["chat_tab"]).click()
    foreign = [s for s in _strings_of("id" if code == "en" else "en") if any(s == t or (len(s) > 12 and s in t) for t in texts)]
    assert not foreign, foreign
    assert not {"Drop File Here", "Click to Upload", "Built with Gradio", "Use via API"} & texts  # Gradio's English-only texts
    assert f"{NOUNS[code]['chunk'][1]} · model" in " ".join(texts)  # the counts speak this language too


def test_the_language_is_remembered_and_gradio_speaks_it_too(page, server):
    """Gradio's own tooltips follow the page's language, not the browser's (en-US here), and
    switch with it; the language chosen is remembered for the next load; ?lang= in the address wins."""
    browser = page.context.browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    fresh = browser.new_page()

    def load(address: str = "/") -> tuple[str, str]:
        """(the page's lang attribute, the language chosen in the radio) once the page is up."""
        fresh.goto(server.url + address)
        fresh.wait_for_selector("#question textarea")
        fresh.wait_for_timeout(500)  # the load event sets the radio
        return fresh.evaluate("() => [document.documentElement.lang, document.querySelector('#language input:checked').value]")

    def tooltips() -> set[str]:
        return set(fresh.evaluate("() => [...document.querySelectorAll('button[title]')].map((b) => b.title)"))

    assert load() == ["id", "Bahasa Indonesia"]
    ask(fresh, "Siapa juru bicara Kremlin?")
    assert {"Bersihkan obrolan", "Salin pesan", "Salin percakapan", "Sunting"} <= tooltips(), tooltips()
    fresh.get_by_role("tab", name=LABELS["id"]["index_tab"]).click()
    fresh.wait_for_selector("#articles")
    assert {"Salin data tabel", "Layar penuh"} <= tooltips()
    fresh.get_by_role("radio", name="English").check()  # in place: the conversation stays, Gradio's tooltips switch too
    fresh.wait_for_function(f"() => document.body.innerText.includes({LABELS['en']['update']!r})", timeout=10_000)
    fresh.wait_for_function("() => [...document.querySelectorAll('button[title]')].some((b) => b.title === 'Copy conversation')", timeout=10_000)
    english = tooltips()
    assert {"Clear", "Copy message", "Copy conversation", "Edit", "Copy table data", "Fullscreen"} <= english, english
    assert not english & set(GRADIO_TOOLTIPS.values()) - {"Edit"}, english
    fresh.get_by_role("tab", name=LABELS["en"]["chat_tab"]).click()
    fresh.hover("#chat button[title='Clear']")
    fresh.screenshot(path=str(SHOTS / "20-language-switched-en.png"))
    assert load() == ["en", "English"] and LABELS["en"]["send"] in fresh.inner_text("#send")  # remembered
    assert load("/?lang=id") == ["id", "Bahasa Indonesia"] and LABELS["id"]["send"] in fresh.inner_text("#send")
    browser.close()


def test_phone_layout_answer_then_question_box_then_sources(page, server):
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(server.url + "/")
    phone.wait_for_selector("#question textarea")
    ask(phone, "Siapa juru bicara Kremlin?")
    box = {name: phone.locator(name).bounding_box() for name in ("#chat", "#question", "#follow-ups", "#sources", "#filters")}
    assert box["#chat"]["y"] + box["#chat"]["height"] <= box["#question"]["y"] < box["#follow-ups"]["y"] < box["#sources"]["y"] < box["#filters"]["y"]
    assert box["#question"]["y"] - (box["#chat"]["y"] + box["#chat"]["height"]) < 40  # the box right under the answer
    # where the next question is typed, the answer is in sight (the box was under the sources, a screen below it)
    phone.locator("#question textarea").scroll_into_view_if_needed()
    seen = phone.evaluate("""() => {
      const bots = document.querySelectorAll('#chat [data-testid="bot"]'), answer = bots[bots.length - 1].getBoundingClientRect();
      const box = document.querySelector('#question textarea').getBoundingClientRect();
      return [answer.top, answer.bottom, box.top, box.bottom, window.innerHeight];
    }""")
    assert seen[0] >= 0 and seen[3] <= seen[4] + 2, seen  # answer top, bottom, box top, bottom, screen height
    example = phone.locator("#chat-tab .gallery-item, #chat-tab [data-testid='examples'] button").first  # under the sources
    example.scroll_into_view_if_needed()
    example.click()
    phone.wait_for_function("() => document.querySelector('#question textarea').value !== ''", timeout=10_000)
    phone.wait_for_function("() => { const r = document.querySelector('#question textarea').getBoundingClientRect(); "
                            "return r.top >= 0 && r.bottom <= window.innerHeight; }", timeout=5_000)  # the filled box is in sight
    phone.fill("#question textarea", "")
    assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= 390  # no sideways scrolling
    phone.screenshot(path=str(SHOTS / "14-phone.png"), full_page=True)
    phone.get_by_role("radio", name="English").check()
    phone.wait_for_function(f"() => document.querySelector('#send').innerText.includes({LABELS['en']['send']!r})", timeout=10_000)
    assert "Peskov" in ask(phone, "Who is the spokesman of the Kremlin?", new_conversation=True)
    assert phone.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "14-phone-en.png"), full_page=True)
    phone.get_by_role("tab", name=LABELS["en"]["search_tab"]).click()  # the button under the box, not a tall one beside it
    query, go = (phone.locator(name).bounding_box() for name in ("#search-query", "#search-go"))
    assert go["y"] >= query["y"] + query["height"] and go["height"] < 60, (query, go)
    phone.close()


def test_the_page_loads_nothing_from_the_internet(page, server):
    """Every request off this server is blocked and recorded: none is made; one font family throughout."""
    offline = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    offline.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
                  else (outside.append(route.request.url), route.abort()))
    failed: list[str] = []  # and nothing asked of this server fails (a missing asset, a 404)
    offline.on("response", lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    offline.goto(server.url + "/")
    offline.wait_for_selector("#question textarea")
    ask(offline, "Siapa juru bicara Kremlin?")
    fonts = offline.evaluate("() => ['h1', '#send', '#question textarea', '#sources h4', '#chat .message']"
                             ".map((s) => getComputedStyle(document.querySelector(s)).fontFamily)")
    assert not outside, outside
    assert not failed, failed
    assert len(set(fonts)) == 1 and fonts[0].startswith("ui-sans-serif"), fonts
    offline.screenshot(path=str(SHOTS / "15-offline.png"), full_page=True)
    offline.close()


def test_active_filters_are_chips_one_click_removes_one(page):
    """A quick period fills both dates and shows them as chips above the chat; the archive's
    article (July 2023) is then out of range; unticking the chips lifts the filter."""
    clear_chat(page)
    page.click("#filters button")
    page.get_by_role("radio", name="30 hari terakhir").check()
    page.wait_for_function("() => document.querySelector('#since textarea').value !== ''", timeout=10_000)
    chips = page.locator("#active-filters")
    chips.wait_for(state="visible", timeout=10_000)
    assert "sejak " in chips.inner_text() and "sampai " in chips.inner_text()
    assert not ask(page, "Siapa juru bicara Kremlin?").startswith("Menurut arsip")  # nothing since 30 days ago
    assert "Tidak ada artikel yang cocok" in page.inner_text("#sources [data-turn='1']")
    page.screenshot(path=str(SHOTS / "16-filter-chips.png"), full_page=True)
    page.get_by_role("radio", name="English").check()  # the chips speak the page's language too
    page.wait_for_function("() => document.querySelector('#active-filters').innerText.includes('since ')", timeout=10_000)
    page.get_by_role("radio", name="Bahasa Indonesia").check()
    page.wait_for_function("() => document.querySelector('#active-filters').innerText.includes('sejak ')", timeout=10_000)
    chips.locator("label", has_text="sejak").click()
    page.wait_for_function("() => document.querySelector('#since textarea').value === ''", timeout=10_000)
    assert page.input_value("#until textarea") != ""  # only that filter went
    chips.locator("label", has_text="sampai").click()
    chips.wait_for(state="hidden", timeout=10_000)
    assert "Peskov" in ask(page, "Siapa juru bicara Kremlin?", new_conversation=True)
    page.click("#filters button")


def test_index_tab_shows_the_last_automatic_update(page, tmp_path):
    """Watch mode: a file copied into the corpus is indexed by itself, and the Index tab says so
    (desktop and phone), in both languages."""
    with AppServer(tmp_path, extra_env={"RAG_WATCH_QUIET_SECONDS": "0.5"}, args=("--watch",)) as server:
        page = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})  # the module's browser, a watching server
        page.goto(server.url + "/")
        page.get_by_role("tab", name=LABELS["id"]["index_tab"]).click()
        status = page.locator("#auto-update")
        status.get_by_text(LABELS["id"]["auto_none"]).wait_for(timeout=10_000)
        assert LABELS["id"]["auto_watch"] in status.inner_text()
        (server.corpus / "jembatan.md").write_text("---\ntitle: Jembatan Baru di Lebak\nsource: Kabar Banten\n---\n"
                                                    "Jembatan gantung sepanjang 120 meter diresmikan di Lebak pada Senin.\n")
        status.get_by_text(LABELS["id"]["trigger_watch"], exact=False).wait_for(timeout=30_000)
        page.get_by_text("1 artikel baru").wait_for(timeout=10_000)
        assert "Jembatan Baru di Lebak" in page.locator("#articles").inner_text()  # the list followed
        page.get_by_role("tab", name=LABELS["id"]["search_tab"]).click()  # as did the search tab's outlets
        page.click("#search-outlets input")
        assert page.get_by_role("option", name="Kabar Banten").count() == 1
        page.keyboard.press("Escape")
        page.get_by_role("tab", name=LABELS["id"]["index_tab"]).click()
        page.screenshot(path=str(SHOTS / "21-automatic-update-id.png"), full_page=True)
        page.get_by_role("radio", name="English").check()
        status.get_by_text(LABELS["en"]["trigger_watch"], exact=False).wait_for(timeout=10_000)
        assert "1 new article," in status.inner_text()  # English counts in the singular when one
        page.set_viewport_size({"width": 390, "height": 844})
        # on a phone the article table keeps title, outlet and date, unbroken, and fits the screen
        assert not page.locator("#articles th").nth(3).is_visible() and page.locator("#articles th").nth(2).is_visible()
        assert not page.locator("#articles .virtual-row").get_by_text("jembatan.md").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # each cell under its heading (the rows ended short of the header: "Al Jazeera" was cut under "Date")
        columns = page.evaluate("""() => {
          const span = (e) => { const r = e.getBoundingClientRect(); return [Math.round(r.x), Math.round(r.width)]; };
          const heads = [...document.querySelectorAll('#articles th')].slice(0, 3).map(span);
          const cells = [...document.querySelectorAll('#articles .virtual-row')].map((row) => [...row.children].slice(0, 3).map(span));
          return {heads, cells};
        }""")
        assert columns["cells"] and all(abs(c[0] - h[0]) <= 1 and abs(c[1] - h[1]) <= 1
                                        for row in columns["cells"] for c, h in zip(row, columns["heads"], strict=True)), columns
        page.screenshot(path=str(SHOTS / "22-automatic-update-phone-en.png"), full_page=True)
        assert "11 July 2023" in page.locator("#articles").inner_text()  # wraps between words on a phone, not inside "2023-07-11"
        page.close()


def test_the_article_list_turns_its_pages(page, tmp_path):
    """An archive of more articles than a page holds (LISTED): the caption said "500 of 4,140"
    and the rest could not be seen; ‹ and › turn the pages, a search starts from the first."""
    from rag.ui_index import LISTED

    (tmp_path / "corpus").mkdir()
    lines = [json.dumps({"id": f"pendek-{n:03d}", "title": f"Kabar pendek {n:03d}", "text": f"Kabar singkat nomor {n} dari Bandung."})
             for n in range(LISTED + 1)]
    (tmp_path / "corpus" / "pendek.jsonl").write_text("\n".join(lines) + "\n")
    with AppServer(tmp_path) as server, \
            contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as paged:
        paged.goto(server.url + "/")  # the seed article and LISTED + 1 short ones
        paged.get_by_role("tab", name=LABELS["id"]["index_tab"]).click()
        total = LISTED + 2
        paged.get_by_text(f"Menampilkan 1–{LISTED} dari {total} artikel").wait_for(timeout=10_000)
        assert paged.locator("#previous-page").is_disabled() and paged.locator("#next-page").is_enabled()
        paged.click("#next-page")
        paged.get_by_text(f"Menampilkan {LISTED + 1}–{total} dari {total} artikel").wait_for(timeout=10_000)
        assert {"pendek-499", "pendek-500"} <= set(paged.locator("#articles").inner_text().split())
        assert paged.locator("#next-page").is_disabled() and paged.locator("#previous-page").is_enabled()
        paged.screenshot(path=str(SHOTS / "26-article-list-second-page.png"), full_page=True)
        paged.fill("#article-query textarea", "pendek-49")  # 490-499: one page, no ‹ ›
        paged.get_by_text("10 artikel", exact=True).wait_for(timeout=10_000)
        assert not paged.locator("#pager").is_visible()
        paged.fill("#article-query textarea", "")
        paged.get_by_text(f"Menampilkan 1–{LISTED} dari {total} artikel").wait_for(timeout=10_000)
        paged.get_by_role("radio", name="English").check()
        paged.get_by_text(f"Showing 1–{LISTED} of {total} articles").wait_for(timeout=10_000)
        assert paged.locator("#next-page").inner_text().strip() == LABELS["en"]["next_page"]
        paged.set_viewport_size({"width": 390, "height": 844})
        assert paged.locator("#next-page").is_visible() and paged.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        buttons = [paged.locator(f"#{side}-page").bounding_box() for side in ("previous", "next")]
        assert abs(buttons[0]["y"] - buttons[1]["y"]) < 2  # side by side, not one under the other
        # each heading over its cells (they were 162 / 75 / 87 px over 184 / 76 / 63: "21 Novemb" cut)
        columns = paged.evaluate("""() => [document.querySelectorAll('#articles th'), document.querySelectorAll('#articles .body-cell')]
          .map((cells) => [...cells].slice(0, 3).map((c) => [Math.round(c.getBoundingClientRect().left), Math.round(c.getBoundingClientRect().width)]))""")
        assert all(abs(a - b) <= 2 for heading, cell in zip(*columns) for a, b in zip(heading, cell)), columns
        assert columns[0][2][1] >= 90, columns  # the date: "21 November 2022" keeps its words whole
        paged.screenshot(path=str(SHOTS / "27-article-list-pages-phone-en.png"), full_page=True)


def updated_over_http(server, title: str, source: str) -> None:
    """Add an article through the API and update the index, waiting until the update is done."""
    import httpx

    auth = {"Authorization": "Bearer test-token"}
    article = {"title": title, "source": source, "text": f"{title} terjadi pada Senin pagi. Warga diminta waspada."}
    assert httpx.post(f"{server.url}/api/articles", json=article, headers=auth, timeout=30).status_code == 201
    job = httpx.post(f"{server.url}/api/index/update", headers=auth, timeout=30).json()
    deadline = time.monotonic() + 120
    while httpx.get(f"{server.url}/api/index/status", timeout=30).json()["job"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert httpx.get(f"{server.url}/api/index/status", timeout=30).json()["job"]["id"] == job["id"]


def counts_from_health(server) -> str:
    """The index tab's counts as the server's health endpoint gives them: "N artikel · M potongan teks"."""
    import httpx

    health = httpx.get(f"{server.url}/api/health", timeout=30).json()
    return f"{health['articles']:,} artikel · {health['chunks']:,} potongan teks"


def test_a_page_opened_after_an_update_shows_the_index_as_it_is_now(page, server):
    """The counts, the article list and the outlet filter were those of the app's start in every
    page opened later; an update from the page kept the list's search; an empty delete box asks
    to pick an article; the primary buttons' text is readable (contrast)."""
    updated_over_http(server, "Longsor di Bogor", "Kabar Baru")
    with contextlib.closing(page.context.browser.new_page(viewport={"width": 1400, "height": 1000})) as page:
        page.goto(server.url + "/")
        page.wait_for_selector("#question textarea")
        assert page.eval_on_selector("#send", "b => getComputedStyle(b).backgroundColor") == "rgb(194, 65, 12)"
        page.get_by_role("tab", name="Indeks").click()
        page.wait_for_function("() => document.querySelector('#articles').innerText.includes('Longsor di Bogor')", timeout=30_000)
        assert page.inner_text("#stats").startswith(counts_from_health(server))  # the counts as the server has them now
        page.get_by_role("tab", name="Tanya").click()
        page.click("#filters button")
        page.click("#outlets input")
        assert page.get_by_role("option", name="Kabar Baru").count() == 1
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Cari").click()
        page.click("#search-outlets input")
        assert page.get_by_role("option", name="Kabar Baru").count() == 1
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Indeks").click()
        page.fill("#article-query input, #article-query textarea", "Longsor")
        page.wait_for_function("() => !document.querySelector('#articles').innerText.includes('cabai')", timeout=30_000)
        updated_over_http(server, "Banjir di Depok", "Kabar Baru")  # then the page's own update, with the list searched
        page.fill("#token input", "test-token")
        page.click("#update")
        page.wait_for_function("() => document.querySelector('#update-report').innerText.trim() !== ''", timeout=120_000)
        page.wait_for_timeout(1500)  # the list is shown again after the report (with its search)
        rows = page.inner_text("#articles")
        assert "Longsor di Bogor" in rows and "Banjir di Depok" not in rows  # still the search's rows
        assert page.inner_text("#stats").startswith(counts_from_health(server))  # and the counts followed the update
        page.fill("#delete-id input, #delete-id textarea", "")
        page.click("#delete")
        page.wait_for_function("() => document.querySelector('#delete-report').innerText.includes('Pilih dulu')", timeout=30_000)
