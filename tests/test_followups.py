"""Suggested follow-up questions come from the names of the cited article the conversation has
not mentioned yet; dates are written the page language's way."""

from __future__ import annotations

from rag.answer import Answer, Citation
from rag.followups import names, suggest_follow_ups
from rag.ui_text import format_date

ARTICLE = ("Juru bicara Kremlin Dmitry Peskov berbicara di Moskow. Menurut Peskov, Jens Stoltenberg tiba di "
           "Vilnius pada Juli. Presiden AS Joe Biden juga hadir di Vilnius bersama Stoltenberg.")


def answer(language: str = "id", abstained: bool = False) -> Answer:
    citation = Citation(1, "a.md", "Judul", None, None, None, "Juru bicara Kremlin Dmitry Peskov berbicara di Moskow.", 0, 53, 1.0)
    return Answer("...", [] if abstained else [citation], [], abstained, language, short_answer="Dmitry Peskov")


def test_names_are_runs_of_capitals_that_do_not_open_a_sentence():
    found = names(ARTICLE)
    assert found["Vilnius"] == 2 and found["Jens Stoltenberg"] == 1 and found["Joe Biden"] == 1
    assert "Juru" not in found and "Menurut" not in found and "Juli" not in found and "Presiden AS Joe Biden" not in found


DATELINE = ("Jakarta, CNN Indonesia -- Menteri Pertanian Amran Sulaiman memastikan stok beras cukup. "
            "Ledakan harga tidak terjadi, kata Amran di Bulog. Sebuah ledakan permintaan biasa terjadi. "
            "Gubernur DKI Jakarta Basuki Tjahaja Purnama hadir. Stok-beras-aman-hingga-Juli. Menurut Bulog, "
            "stok ada di Jakarta, kata Kepala Bulog Budi Waseso. Budi Waseso menambahkan stok aman.")


def test_names_leave_out_titles_portfolios_sentence_openers_and_slugs():
    found = names(DATELINE)
    assert found["Amran Sulaiman"] == 1 and found["Amran"] == 1 and found["Budi Waseso"] == 2 and found["Bulog"] == 2
    assert found["Jakarta"] == 2  # capitalised mid-sentence too, so a name also where it opens the dateline
    assert "Pertanian Amran Sulaiman" not in found  # the portfolio after "Menteri" is not the name
    assert not any("Basuki" in name for name in found)  # where "DKI Jakarta" ends is nowhere else written
    assert "Ledakan" not in found  # opens a sentence the pattern cannot see; the text writes it in lower case
    assert not any("-" in name for name in found)  # a URL slug


def test_follow_ups_name_each_person_once_and_not_the_outlet():
    citation = Citation(1, "a.md", "Judul", "CNN Indonesia", None, None, "Ledakan harga tidak terjadi.", 0, 28, 1.0)
    questions = suggest_follow_ups(Answer("...", [citation], [], False, "id"), DATELINE, "Apakah stok beras di Jakarta cukup?")
    assert questions == ["Apa yang dikatakan tentang Bulog?", "Apa yang dikatakan tentang Budi Waseso?",
                         "Apa yang dikatakan tentang Amran Sulaiman?"]  # not "Amran" again, nor CNN Indonesia


def test_follow_ups_leave_out_what_was_asked_and_answered():
    questions = suggest_follow_ups(answer(), ARTICLE, "Siapa juru bicara Kremlin?")
    assert questions[0] == "Apa yang dikatakan tentang Vilnius?"  # the most frequent name first
    assert not any("Peskov" in q or "Kremlin" in q for q in questions) and len(questions) == 3
    assert suggest_follow_ups(answer("en"), ARTICLE, "Who speaks for the Kremlin?")[0] == "What does the archive say about Vilnius?"
    assert suggest_follow_ups(answer(abstained=True), ARTICLE, "Siapa?") == []


def test_dates_in_the_page_language():
    assert format_date("2023-07-11", "id") == "11 Juli 2023" and format_date("2023-07-11", "en") == "11 July 2023"
    assert format_date("kemarin", "id") == "kemarin" and format_date(None, "en") == ""
