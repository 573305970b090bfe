"""What the chat shows of an answer: article text as typed, never live markdown or HTML."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import html
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer import Answer, Citation, Source
from rag.corpus import Article
from rag.ui_render import Turn, literal, render_reply, render_sources

SENTENCE = "Lihat [foto](https://contoh.id/x) dan ![](http://pelacak.id/p.png) <b>sekarang</b> *penting*."


def answer(abstained: bool = False) -> Answer:
    citation = Citation(1, "a.md", "Judul [tautan](http://x.id)", None, None, None, SENTENCE, 0, len(SENTENCE), 1.0)
    source = Source(1, "a.md", "Judul [tautan](http://x.id)", None, None, None, SENTENCE, 0, len(SENTENCE))
    if abstained:
        return Answer("Tidak ada jawaban.\nArtikel yang mungkin terkait:\n- x", [], [source], True, "id")
    return Answer(f"Menurut arsip: foto\n{SENTENCE} [1]", [citation], [source], False, "id", short_answer="foto", confidence=0.8)


def test_article_markdown_stays_text_in_the_reply():
    for reply in (render_reply(answer(), 1), render_reply(answer(abstained=True), 1)):
        shown, kept = reply.split('<span class="copy-text" hidden title="')  # what copy copies: an attribute's text
        assert "](" not in shown and "<b>" not in shown  # no live link, image or tag: shown as typed
        assert kept.endswith('"></span>') and not re.search('[<>"\n]', kept[:-len('"></span>')])  # one attribute, one line
    reply = render_reply(answer(), 1)
    assert reply.startswith("Menurut arsip: **foto** _(yakin)_") and '<a href="#cite-1-1">[1]</a>' in reply


def test_a_quote_that_is_the_answer_gets_the_confidence_label_after_the_frame():
    """A question about what someone said has no short answer: the label follows the frame."""
    said = replace(answer(), text=f"Menurut arsip:\n{SENTENCE} [1]", short_answer=None, confidence=0.2)
    assert render_reply(said, 1).startswith("Menurut arsip: _(kurang yakin)_  \n")
    assert render_reply(replace(said, confidence=None), 1).startswith("Menurut arsip:  \n")  # quotes only: no label


def test_literal_round_trip_characters():
    assert literal("a*b_c") == "a\\*b\\_c" and literal("<i>") == "&lt;i&gt;"


def test_the_cited_sentence_is_anchored_and_highlighted():
    """The card marks the cited sentence, not its neighbours in the passage, and the article view
    below it marks the same sentence under the anchor the reply's [1] links to."""
    text = f"Paragraf pembuka. {SENTENCE} Paragraf penutup."
    start = text.index(SENTENCE)
    cited = answer()
    cited.citations[0] = replace(cited.citations[0], start=start, end=start + len(SENTENCE))
    cited.sources[0] = replace(cited.sources[0], passage=text, passage_start=0, passage_end=len(text))
    article = Article("a.md", "Judul", text)
    panel = render_sources([Turn("q", cited, "id1")], lambda _: article, "id")
    shown = html.escape(SENTENCE, quote=False)
    assert 'data-turn="1"' in panel and "](http" in panel  # cards are HTML: brackets are plain text there
    assert re.findall(r"<mark>(.*?)</mark>", panel.split('class="article-view"')[0]) == [shown]
    assert re.findall(r'<mark id="cite-1-1">(.*?)</mark>', panel) == [shown]


def test_an_answer_kept_from_before_its_article_was_edited_marks_the_sentence_where_it_stands_now():
    """The browser keeps answers across reloads; the article view shows the article as it is now, so
    the cited sentence is marked where it now stands, not at the old offsets (nothing when it is gone)."""
    def article(text: str) -> Article:
        return Article(id="a.md", title="Judul", text=text, source=None, url=None, published=None, language="id",
                       path="a.md", metadata={}, sha256="0")

    def marked(text: str) -> list[str]:
        view = render_sources([Turn("q", answer(), "id1")], lambda _: article(text), "id").split('class="article-view">')[1]
        return re.findall(r"<mark[^>]*>(.*?)</mark>", view, re.DOTALL)

    shown = html.escape(SENTENCE, quote=False)
    assert marked(SENTENCE + " Lanjutan.") == [shown]
    assert marked("Koreksi: judul diperbaiki. " + SENTENCE) == [shown]  # a correction put before it
    assert marked("Artikel ini ditulis ulang seluruhnya.") == []


def test_a_pdf_citation_names_its_page_in_the_card_and_the_copied_quote():
    cited = answer()
    cited.citations[0] = Citation(*list(cited.citations[0].__dict__.values())[:-1], page=3)
    for language, page in (("id", "hlm. 3"), ("en", "p. 3")):
        panel = render_sources([Turn("q", cited, "id1")], lambda _: None, language)
        assert f'<span class="page">{page}</span>' in panel and f"{page}." in panel.split("data-citation=")[1]


def test_other_copies_of_the_story_are_listed_under_the_card():
    cited = answer()
    copies = [{"article_id": "k.md", "title": "Salinan", "source": "Kompas", "published": "2024-04-11", "url": "https://kompas.com/a"},
              {"article_id": "d.md", "title": "Salinan <b>dua</b>", "source": None, "published": None, "url": "javascript:alert(1)"}]
    cited.sources[0] = Source(*list(cited.sources[0].__dict__.values())[:-1], also_in=copies)
    panel = render_sources([Turn("q", cited, "id1")], lambda _: None, "id")
    assert ('Juga dimuat di: <a href="https://kompas.com/a" target="_blank" rel="noopener noreferrer">Kompas</a> (11 April 2024), '
            "Salinan &lt;b&gt;dua&lt;/b&gt;</div>") in panel and "javascript:" not in panel


def test_counts_in_the_page_language():
    """English counts take the plural only above one ("1 new article", not "1 new articles")."""
    from rag.ui_text import counted

    assert [counted(n, "new article", "en") for n in (0, 1, 2)] == ["0 new articles", "1 new article", "2 new articles"]
    assert counted(1, "chunk", "id") == "1 potongan teks" and counted(1200, "chunk", "id", bold=True) == "**1.200** potongan teks"


def test_a_card_shows_the_outlet_badge_the_date_in_the_page_language_and_the_domain():
    """The compact card: initial badge, outlet, date as the page's language writes it, the link
    shown as its domain, and a Copy quote button whose citation line ends with the URL."""
    cited = answer()
    cited.sources[0] = replace(cited.sources[0], source="Al Jazeera", published="2023-07-11", url="https://www.aljazeera.com/news/2023/7/11/x")
    for language, date, copy in (("id", "11 Juli 2023", "Salin kutipan"), ("en", "11 July 2023", "Copy quote")):
        panel = render_sources([Turn("q", cited, "id1")], lambda _: None, language)
        assert '<span class="badge">A</span>' in panel and "Al Jazeera" in panel and date in panel
        assert ">aljazeera.com<" in panel and copy in panel
        line = html.unescape(panel.split('data-citation="')[1].split('"')[0])
        assert line.startswith("“Lihat") and line.endswith(f"Al Jazeera, {date}. https://www.aljazeera.com/news/2023/7/11/x")


def test_quick_date_ranges_end_today():
    from rag.ui_chat import period_dates

    today = dt.date.today()
    for period, days in (("last_7", 7), ("last_30", 30), ("last_365", 365)):
        assert period_dates(period) == ((today - dt.timedelta(days=days)).isoformat(), today.isoformat())
    assert period_dates("all_time") == ("", "")


def test_each_citation_mark_opens_its_own_sentence():
    """Two sentences quoted from one article: the second [1] opened the first sentence."""
    text = "Harga cabai naik. Pasokan dari Garut berkurang. Pedagang mengeluh."
    first, second = (text.index(s) for s in ("Harga", "Pasokan"))
    cite = [Citation(1, "a.md", "Cabai", None, None, None, s, a, a + len(s), 1.0)
            for s, a in (("Pasokan dari Garut berkurang.", second), ("Harga cabai naik.", first))]
    source = Source(1, "a.md", "Cabai", None, None, None, text, 0, len(text))
    quoted = Answer(f"Menurut arsip:\n{cite[0].sentence} [1] {cite[1].sentence} [1]", cite, [source], False, "id")
    reply = render_reply(quoted, 2)
    assert reply.index('<a href="#cite-2-1">[1]</a>') < reply.index('<a href="#cite-2-1-2">[1]</a>')
    article = Article("a.md", "Cabai", text)
    panel = render_sources([Turn("q", quoted, "x")] * 2, lambda _: article, "id")
    view = panel.split('id="article-2-1"')[1]
    assert '<mark id="cite-2-1-2">Harga cabai naik.</mark>' in view and '<mark id="cite-2-1">Pasokan' in view
    # an earlier answer's article is not sent again: the page fetches it when opened and marks these offsets
    earlier = panel.split('id="article-1-1"')[1].split("</details>")[0]
    marks = json.loads(html.unescape(re.search(r'data-marks="([^"]*)"', earlier).group(1)))
    assert 'data-article="a.md"' in earlier and "Pedagang" not in earlier
    assert [text[start:end] for start, end, _ in marks] == ["Pasokan dari Garut berkurang.", "Harga cabai naik."]
    assert [anchor for _, _, anchor in marks] == ["cite-1-1", "cite-1-1-2"]


def test_numbers_and_times_are_written_as_the_pages_language_writes_them():
    """The Indonesian page said "4,140 artikel" (to an Indonesian reader four and a bit) and that
    the index was built "2026-12-05T21:14:25+00:00"."""
    from rag.ui_text import counted, format_moment

    assert counted(4140, "article", "id") == "4.140 artikel" and counted(4140, "article", "en") == "4,140 articles"
    assert format_moment("2026-12-05T21:14:25+00:00", "id") == "5 Desember 2026 21:14 UTC"
    assert format_moment("2026-12-06T04:14:25+07:00", "en") == "5 December 2026 21:14 UTC"


def test_a_quote_in_the_copied_quote_takes_single_marks():
    """"Copy quote" wrapped a sentence that opens with a quote in another pair: ““De facto, ...”."""
    from rag.ui_render import citation_line

    source = Source(1, "a.md", "Judul", "Kompas", None, "2023-07-11", "", 0, 0)
    assert citation_line('“De facto, NATO adalah musuh,” kata Peskov. "Ya."', source, "id") == \
        "“‘De facto, NATO adalah musuh,’ kata Peskov. 'Ya.'” — Judul, Kompas, 11 Juli 2023."


def test_the_article_list_says_which_page_it_shows(archive, embedder):
    """The index tab lists LISTED articles a page: with more, it said nothing, and a newsroom
    with 4,140 articles saw 500 as if they were all; then it said so but could not show the rest."""
    from rag.articles import Archive
    from rag.indexer import IndexUpdater
    from rag.retriever import Retriever
    from rag.ui_index import article_table

    listing = Archive(archive, Retriever(archive.index_dir, embedder, archive), IndexUpdater(archive, embedder))
    rows, caption, offset, total = article_table(listing, "", "id", limit=40)
    assert len(rows) == 40 and (offset, total) == (0, 90)
    assert caption == "Menampilkan 1–40 dari 90 artikel; cari untuk mempersempit"
    second, caption, offset, _ = article_table(listing, "", "en", offset=40, limit=40)
    assert caption == "Showing 41–80 of 90 articles; search to narrow them" and offset == 40
    last, caption, offset, _ = article_table(listing, "", "en", offset=80, limit=40)
    assert caption == "Showing 81–90 of 90 articles; search to narrow them" and len(last) == 10
    assert len({row[-1] for row in rows + second + last}) == 90  # every article once, on one page
    # a page past the end (the list shrank under it: a delete, an update) shows the last one
    assert article_table(listing, "", "en", offset=120, limit=40)[1:3] == (caption, 80)
    rows, caption, _, _ = article_table(listing, "", "en")
    assert len(rows) == 90 and caption == "90 articles"


def test_the_conversations_kept_in_the_browser_read_back_or_start_empty():
    """The page keeps the conversations in the browser (`stored`) and shows them again at the next
    visit (`restored`), the one open open again; what it cannot read (another version's, or tampered
    with) starts an empty chat; the conversation an earlier version kept is read as one."""
    from rag.ui_conversations import KEPT_TURNS, restored, shelved, stored

    first, second = [Turn("Siapa Menteri Luar Negeri Rusia?", answer(), "id1")], [Turn("Siapa juru bicara Kremlin?", answer(), "id2")]
    shelf = {"c2": second, "c1": first}
    assert restored(json.loads(json.dumps(stored(shelf, "c1")))) == (shelf, "c1")
    kept, empty = restored(stored(shelf, "c3"))  # a new, empty one was open: a new id, not one another tab may hold
    assert kept == shelf and empty not in ("c3", "c1", "c2") and len(empty) == 12
    bad = {"current": "c1", "conversations": [{"id": "c1", "turns": [{"question": "Siapa?", "answer": {"answer": "Lavrov"}, "id": "x"}]}]}
    for unread in (bad, None, [], {"current": "c1"}):
        kept, current = restored(unread)
        assert kept == {} and len(current) == 12
    earlier, current = restored([{"question": first[0].question, "answer": first[0].answer.to_json(), "id": "id1"}])
    assert list(earlier.values()) == [first] and list(earlier) == [current]
    long = [Turn(f"Pertanyaan {n}?", answer(), f"id{n}") for n in range(KEPT_TURNS + 5)]
    assert restored(stored({"c1": long}, "c1"))[0]["c1"] == long[5:]  # the browser's storage stays small
    many = {f"c{n}": long[: KEPT_TURNS // 4] for n in range(5)}
    kept = restored(stored(many, "c0"))[0]
    assert list(kept) == ["c0", "c1", "c2", "c3"] and kept["c3"] == many["c3"]  # the ones asked in longest ago go first
    # asked in: first; opened only: where it was; emptied: gone
    assert list(shelved(shelf, "c1", first + second)) == ["c1", "c2"] and list(shelved(shelf, "c1", first)) == ["c2", "c1"]
    assert list(shelved(shelf, "c2", [])) == ["c1"] and list(shelved(shelf, "c3", [])) == ["c2", "c1"]


def test_the_browsers_copy_as_gradio_wrote_it_is_read_with_its_key_only(caplog):
    """`tests/fixtures/gradio-browser-copy.txt` is what Gradio 6.31's page wrote to local storage for
    `stored` of two conversations, its BrowserState keyed "fixture-secret" (made with headless
    Chromium): the server reads it back with that key; another key, a cut or a foreign value reads
    as none (None: the tab's own conversations stay the base), said in the log; nothing stored is none."""
    from rag.ui_conversations import browser_copy

    raw = (Path(__file__).parent / "fixtures" / "gradio-browser-copy.txt").read_text().strip()
    shelf = browser_copy(raw, "fixture-secret")
    assert {key: [turn.question for turn in turns] for key, turns in shelf.items()} == {
        "c1": ["Siapa juru bicara Kremlin?"], "c0": ["Berapa harga cabai?"]}
    assert shelf["c1"][0].answer.short_answer == "foto" and shelf["c1"][0].answer_id == "id1"
    for unread in (browser_copy(raw, "another-secret"), browser_copy(raw[:-40], "fixture-secret"),
                   browser_copy("not-a-copy", "fixture-secret")):
        assert unread is None
    from rag.ui_conversations import shelf_of

    number = {"current": "c1", "conversations": [{"id": "c1", "turns": [{"question": 5, "answer": answer().to_json(), "id": "a"}]}]}
    with pytest.raises(TypeError):  # what a page or a hand could write: refused, not shown (a title needs a string)
        shelf_of(number)
    assert "could not be read" in caplog.text and browser_copy("", "fixture-secret") is None


def test_a_change_in_one_tab_keeps_what_the_other_tabs_stored():
    """Two tabs of one browser: each change (an answer, Undo, the trash button, another conversation
    opened) lands on the browser's copy as stored now, so a conversation begun in the other tab
    stays; only the conversation acted on changes; one asked in both tabs keeps both."""
    from rag.ui_conversations import merged

    def turn(n: int) -> Turn:
        return Turn(f"Pertanyaan {n}?", answer(), f"id{n}")

    def stored_and_open(*args) -> tuple[dict, str]:
        change = merged(*args)
        return change.store, change.current

    mine, theirs = [turn(1)], [turn(2)]
    # this tab asked in c1; another tab began c2 since: both kept, the one asked in last first
    assert stored_and_open({}, "c1", mine, {"c2": theirs}) == ({"c1": mine, "c2": theirs}, "c1")
    assert list(merged({"c1": mine}, "c1", mine + [turn(3)], {"c2": theirs, "c1": mine}).store) == ["c1", "c2"]
    # undone or cleared here: only that one changes
    assert merged({"c1": mine + [turn(3)]}, "c1", mine, {"c2": theirs, "c1": mine + [turn(3)]}).store == {"c1": mine, "c2": theirs}
    assert merged({"c1": mine}, "c1", [], {"c2": theirs, "c1": mine}).store == {"c2": theirs}
    # nothing changed here (a language switch, another opened): the copy stands, also what another tab
    # asked in the conversation open here; one cleared there while open here stays, as this tab shows it
    assert stored_and_open({"c1": mine}, "c1", mine, {"c1": mine + [turn(4)]}) == ({"c1": mine + [turn(4)]}, "c1")
    assert merged({"c1": mine}, "c2", theirs, {"c1": mine, "c2": theirs}).store == {"c1": mine, "c2": theirs}
    assert merged({"c1": mine}, "c1", mine, {"c2": theirs}).store == {"c1": mine, "c2": theirs}
    # asked here and in another tab in the same conversation (both tabs opened c1): the other tab's
    # stays c1, this tab's goes on under a new id, first
    both, now = stored_and_open({"c1": mine}, "c1", mine + [turn(3)], {"c1": mine + [turn(4)]})
    assert now != "c1" and both == {now: mine + [turn(3)], "c1": mine + [turn(4)]} and list(both)[0] == now
    both, now = stored_and_open({}, "c1", theirs, {"c1": mine})
    assert both == {now: theirs, "c1": mine}
    # ... also when this tab changed something else first (a language switch): it goes on from its own c1
    switched = merged({"c1": mine}, "c1", mine, {"c1": mine + [turn(4)]})
    assert switched.seen == {"c1": mine} and switched.store == {"c1": mine + [turn(4)]}
    asked = merged(switched.seen, "c1", mine + [turn(3)], switched.store)
    assert asked.current != "c1" and asked.store == {asked.current: mine + [turn(3)], "c1": mine + [turn(4)]}
    # no copy (none stored, or unreadable): this tab's own, as before
    assert stored_and_open({"c2": theirs}, "c1", mine, None) == ({"c1": mine, "c2": theirs}, "c1")


def test_the_key_of_the_conversations_kept_in_browsers_outlives_a_restart(tmp_path, caplog):
    """The browser's copy of a conversation is encrypted with a key the index folder keeps: made
    once, readable by its owner only, the same for the next run; a folder that cannot keep one
    leaves Gradio a key of the run, said in the log."""
    from rag.ui_conversations import browser_key

    first = browser_key(tmp_path / "index")
    assert first and len(first) >= 24 and browser_key(tmp_path / "index") == first
    assert (tmp_path / "index" / "browser.key").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in (tmp_path / "index").iterdir()] == ["browser.key"]  # nothing left aside
    (tmp_path / "file").write_text("")
    assert browser_key(tmp_path / "file") is None and "a restart forgets them" in caplog.text


def test_conversation_files_older_than_a_day_are_swept_away(monkeypatch):
    """Each change of a conversation writes its file to download; a server's disk does not fill with them."""
    import os
    import time

    from rag import ui_chat
    from rag.ui_chat import KEPT_FOR, conversation_file

    conversation = [Turn("Siapa Menteri Luar Negeri Rusia?", answer(), "id1")]
    old = conversation_file(conversation, "id")
    assert old.name.startswith("arsip-berita-") and "1. Siapa Menteri Luar Negeri Rusia?" in old.read_text(encoding="utf-8")
    stale = time.time() - KEPT_FOR - 60
    os.utime(old.parent, (stale, stale))
    monkeypatch.setattr(ui_chat, "_swept", [time.time() - ui_chat.SWEEP_EVERY - 1])  # the last sweep an hour ago
    new = conversation_file(conversation, "en")
    assert new.exists() and new.name.startswith("news-archive-") and not old.exists()


def test_filters_a_user_got_wrong_are_said_in_the_page_language():
    from rag.ui_chat import parse_filters

    assert parse_filters("2023-08-01", "2023-01-01", [], "id") == (
        None, "Periode berakhir (2023-01-01) sebelum dimulai (2023-08-01): tukar kedua tanggal.")
    assert parse_filters("11/07/2023", "", [], "en")[1].startswith("Date «11/07/2023» not understood")
    filters, wrong = parse_filters(" 2023-01-01", "2023-08-01 ", ["Kompas"], "en")
    assert wrong is None and (filters.since, filters.until, filters.sources) == (dt.date(2023, 1, 1), dt.date(2023, 8, 1), ("Kompas",))


def test_a_failed_answer_is_told_from_the_conversation_by_its_question():
    """After a failed answer the chat shows its question past the conversation's last turn:
    Retry asks it and Undo takes it back (`failed_question`); without one, they act on the last turn."""
    from rag.ui_chat import failed_question

    typed = "Siapa <b>juru bicara</b> *Kremlin*?"
    turn = Turn("Siapa Menteri Luar Negeri Rusia?", answer(), "id1")
    asked = [{"role": "user", "content": literal(turn.question)}, {"role": "assistant", "content": "Sergey Lavrov [1]"}]
    failure = [{"role": "user", "content": [{"type": "text", "text": literal(typed)}]}, {"role": "assistant", "content": "⚠"}]
    assert failed_question(asked + failure, [turn]) == typed  # as typed, from Gradio's parts
    assert failed_question(asked, [turn]) is None
    assert failed_question(failure, []) == typed and failed_question([], []) is None


def test_the_search_tab_shows_each_article_around_the_sentence_that_matched(archive, embedder):
    """The search tab's list: k articles best first, each card's passage around (and marking) its
    sentence that holds most of the query's words, that sentence marked in the folded article
    too; an empty box, a wrong date and filters that leave nothing are said instead."""
    from rag.replies import NO_MATCH
    from rag.retriever import Filters, Retriever
    from rag.ui_search import search_view
    from rag.ui_text import LABELS

    retriever = Retriever(archive.index_dir, embedder, archive)
    summary, cards, download = search_view(retriever, "ledakan bom di Srinagar", "", "", [], 4, "relevance", "id")
    # the list is a ranking: how many of it hold every word ("10 artikel untuk «Jokowi»" listed one naming him)
    assert summary == "4 artikel untuk «ledakan bom di Srinagar», yang paling cocok lebih dulu. " \
                      "1 dari 4 memuat setiap katanya; yang lain terdekat maknanya.", summary
    first = cards.split('<div class="source-card search-hit"')[1]
    assert cards.count('class="source-card search-hit"') == 4 and "<h4>1. " in first
    marked = re.findall(r"<mark>(.*?)</mark>", first, re.S)
    assert len(marked) == 2 and marked[0] == marked[1] and "Srinagar" in marked[0]  # in the passage and the article
    # the list to download: a CSV a spreadsheet opens as UTF-8, a row per card, in the same order
    path = Path(download["value"])
    assert path.name == "cari-ledakan-bom-di-srinagar.csv" and download["visible"]
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4"] and html.escape(rows[0]["title"]) in first
    assert rows[0]["matched_sentence"] == html.unescape(marked[0]) and rows[0]["matched_sentence"] in rows[0]["passage"]
    assert path.read_bytes().startswith(b"\xef\xbb\xbfrank,title,outlet,published,url,article_id,score,matched_sentence,passage")
    assert search_view(retriever, "  ", "", "", [], 4, "relevance", "en")[:2] == (LABELS["en"]["search_prompt"], "")
    assert search_view(retriever, '""', "", "", [], 4, "relevance", "en")[:2] == (LABELS["en"]["search_prompt"], "")
    wrong = search_view(retriever, "bom", "2023-02-30", "", [], 4, "relevance", "en")[0]
    assert wrong.startswith(r"Date «2023\-02\-30» not understood")  # markdown
    nothing = search_view(retriever, "bom", "2999-01-01", "", [], 4, "relevance", "id")
    assert nothing[:2] == (NO_MATCH["id"], "") and not nothing[2]["visible"]
    # a phrase in quotes: how many articles hold it, and each card marks a sentence that does
    summary, cards, _ = search_view(retriever, '"Amerika Serikat" presiden', "", "", [], 3, "newest", "en")
    holders = [retriever.store.article(a) for a in retriever.store.article_ids_where(*Filters(phrases=("Amerika Serikat",)).where())]
    years = collections.Counter(str(a.published.year) if a.published else "undated" for a in holders)
    assert len(years) > 1, years  # the fixture's holders span years: the summary counts each
    by_year = " · ".join(f"{year} ({years[year]})" for year in sorted(years, key=lambda y: (y == "undated", y)))
    holding = len(holders)
    assert summary == (f"Articles holding «Amerika Serikat»: {holding}. By year: {by_year}. "
                       f"3 articles for «\"Amerika Serikat\" presiden», newest first.")
    marks = re.findall(r'<div class="source-card search-hit".*?<p[^>]*>.*?<mark>(.*?)</mark>', cards, re.S)
    assert len(marks) == 3 and all("amerika serikat" in mark.lower() for mark in marks), marks
    dates = [dt.datetime.strptime(d, "%d %B %Y") for d in re.findall(r'class="date">(\d{1,2} \w+ \d{4})<', cards)]
    assert len(dates) == 3 and dates == sorted(dates, reverse=True), dates
    lacking = len(retriever.store.article_ids_where(*Filters(phrases=("Amerika Serikat",), excluded_phrases=("presiden",)).where()))
    summary = search_view(retriever, '"Amerika Serikat" ekonomi -presiden', "", "", [], 3, "relevance", "id")[0]
    assert summary.startswith(f"Artikel yang memuat «Amerika Serikat» tanpa «presiden»: {lacking}. ") and 0 < lacking < holding
    none = search_view(retriever, '"Amerika Serikat Srinagar"', "", "", [], 3, "relevance", "en")
    assert none[0] == f"Articles holding «Amerika Serikat Srinagar»: 0. {NO_MATCH['en']}" and none[1] == ""
    # a query no article can be listed for says why, in the page's language
    clash = search_view(retriever, '"Amerika Serikat" -serikat', "", "", [], 3, "relevance", "id")
    assert clash[:2] == ("Frasa «Amerika Serikat» memuat «serikat», yang dikecualikan dengan tanda minus: tidak ada artikel "
                         "yang bisa memuat keduanya. Hapus minusnya atau frasanya.", "")
    only = search_view(retriever, "(-presiden)", "", "", [], 3, "relevance", "en")
    assert only[:2] == (LABELS["en"]["search_only_excluded"], "")


def test_the_search_list_to_download_runs_no_formula_in_a_spreadsheet():
    """A title fetched from the web may start like a formula: the CSV shows it as text."""
    from rag.retriever import Hit
    from rag.ui_search import results_csv

    text = "-5 derajat di Dieng. Warga menyalakan api unggun."
    article = Article("x.md", '=HYPERLINK("http://jahat.id","klik")', text, source="@akun", url="https://x.id/a")
    hit = Hit(article, 0, 0, len(text), ((0, 20), (21, len(text))), 1.0, None, None)
    rows = list(csv.reader(io.StringIO(results_csv([hit], [(0, 20)]).removeprefix("\ufeff"))))
    assert rows[1][1:3] == ['\'=HYPERLINK("http://jahat.id","klik")', "'@akun"]
    assert rows[1][7:] == ["'-5 derajat di Dieng.", "'" + text] and rows[1][4:6] == ["https://x.id/a", "x.md"]
