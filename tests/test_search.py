"""Searching the archive as a researcher does (`rag.search`): a "phrase in quotes" lists every
article holding it and only those, counted; the list can run by date, newest or oldest first."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import PROJECT, write

from rag.indexer import build_index
from rag.lexical import holds_phrase, phrase_pattern
from rag.retriever import Filters, Retriever
from rag.search import UnsearchableQuery, parse_query, search_archive
from rag.ui_search import matching_sentence


def words(text: str) -> str:
    """The text as its lower-cased words, one space apart: an oracle for "holds the phrase"
    that shares no code with `rag.lexical.phrase_pattern`."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def holds(text: str, phrase: str) -> bool:
    return words(phrase) in words(text)


def article(title: str, source: str, published: str | None, text: str) -> str:
    date = f"published: {published}\n" if published else ""
    return f"---\ntitle: {title}\nsource: {source}\n{date}---\n{text}\n"


@pytest.mark.parametrize("query, expected", [
    ('"banjir rob" Demak', ("banjir rob Demak", ("banjir rob",), ())),
    ('“Joko  Widodo” "" 2024', ("Joko Widodo 2024", ("Joko Widodo",), ())),  # curly quotes, spaces made single
    ('harga "cabai rawit" "Rp 80.000"', ("harga cabai rawit Rp 80.000", ("cabai rawit", "Rp 80.000"), ())),
    ('banjir "Demak', ("banjir Demak", (), ())),  # a quote left open is no phrase
    ("banjir Demak", ("banjir Demak", (), ())),
    ('banjir -rob anak-anak -"Sungai  Wulan" -“Kudus” - 5', ("banjir anak-anak 5", (), ("rob", "Sungai Wulan", "Kudus"))),
    ('"banjir rob" -Demak', ("banjir rob", ("banjir rob",), ("Demak",))),
    ('"suhu -5 derajat" Dieng', ("suhu -5 derajat Dieng", ("suhu -5 derajat",), ())),  # a minus inside quotes is the phrase's
    ('banjir -rob, -"" -.', ("banjir", (), ("rob",))),  # punctuation around a minus word goes
    ("banjir (-rob) [-Demak, -Kudus] C++", ("banjir C++", (), ("rob", "Demak", "Kudus"))),  # after a bracket too
    ('“banjir rob" Demak', ("banjir rob Demak", ("banjir rob",), ())),  # quotes of two keyboards, mixed
    ('banjir -"banjir rob', ("banjir", (), ("banjir rob",))),  # a minus's quote left open at the end: put out, not searched for
    ("bahasa -C++ -C# -.NET -–", ("bahasa", (), ("C++", "C#", ".NET"))),  # a name's marks stay: "-C++" put out every "C"
])
def test_the_phrases_in_quotes_are_read_from_the_query(query, expected):
    assert parse_query(query) == expected


@pytest.mark.parametrize("phrase, text", [("istanbul", "Di İstanbul"), ("ISTANBUL", "di istanbul"), ("σ", "λόγος"),
                                          ("μ", "5 µm"), ("Joko  Widodo", "JOKO\nwidodo"), ("rob", "robohkan"), ("a.b", "axb")])
def test_the_quick_test_for_a_phrase_agrees_with_its_pattern(phrase, text):
    """`holds_phrase` tests a literal first, for speed; it must find what the pattern finds, in
    any case the pattern reads as the same (Turkish İ, final sigma, the micro sign), and no more."""
    assert holds_phrase(None, text, phrase) == bool(phrase_pattern(phrase).search(text))
    assert holds_phrase(text, None, phrase) == bool(phrase_pattern(phrase).search(text))


def test_a_phrase_in_quotes_lists_every_article_holding_it_and_only_those(archive, embedder):
    """Over the 90 fixture articles: the phrase's articles, all of them (more than a plain search
    for its words would put first), each shown with a passage that holds the phrase."""
    retriever = Retriever(archive.index_dir, embedder, archive)
    articles = [retriever.store.article(row["id"]) for row in retriever.store.article_list()]
    phrase = "Amerika Serikat"
    expected = {a.id for a in articles if holds(f"{a.title}\n{a.text}", phrase)}
    assert 5 <= len(expected) <= 40, len(expected)  # the fixture holds it in some articles, not in all
    found = search_archive(retriever, f'"{phrase}" presiden', k=50)
    assert {hit.article.id for hit in found.hits} == expected and found.holding == len(expected)
    assert found.phrases == (phrase,)
    assert all(holds(hit.text, phrase) for hit in found.hits), [hit.text for hit in found.hits if not holds(hit.text, phrase)]
    plain = [hit.article.id for hit in retriever.search(f"{phrase} presiden", 50)]
    assert set(plain) - expected, "a plain search lists articles without the phrase too"
    assert search_archive(retriever, '"Amerika Serikat Srinagar Monas"').hits == []
    assert search_archive(retriever, '"Amerika Serikat Srinagar Monas"').holding == 0


def test_a_phrase_is_found_as_whole_words_in_any_case_and_spacing(settings, embedder):
    corpus = settings.corpus_dir
    write(corpus / "a.md", article("Rob di Pesisir", "Antara", "2024-01-02", "Banjir\nrob kembali melanda pesisir Demak pagi ini."))
    write(corpus / "b.md", article("BANJIR ROB", "Kompas", "2024-01-03", "Air laut pasang merendam rumah warga di Sayung."))
    write(corpus / "c.md", article("Hujan Deras", "Tempo", "2024-01-04", "Banjir robohkan rumah warga di lereng bukit."))
    write(corpus / "d.md", article("Pasang Surut", "Detik", "2024-01-05", "Rob dan banjir datang bergantian di Semarang."))
    coast = " ".join(f"Pesisir Demak di desa ke-{n} terkikis; rob dan banjir datang bergantian, warga menanam bakau." for n in range(30))
    write(corpus / "e.md", article("Abrasi", "Tempo", "2024-01-06", f"{coast}\n\nSetahun lalu banjir rob juga datang."))
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    found = search_archive(retriever, "“banjir rob”", k=10)  # in the title of one, across a line break in another
    assert sorted(hit.article.id for hit in found.hits) == ["a.md", "b.md", "e.md"] and found.holding == 3
    query = '"banjir rob" pesisir Demak terkikis bakau'
    [long] = search_archive(retriever, query, k=10, filters=Filters(sources=("Tempo",))).hits
    assert "banjir rob" in long.text and len(long.article.text) > 3 * len(long.text)  # its passage that holds the phrase
    sentence = long.article.text[slice(*matching_sentence(query, long, ("banjir rob",)))]  # the search card marks it
    assert sentence == "Setahun lalu banjir rob juga datang.", sentence
    assert search_archive(retriever, '"banjir rob"', k=10, filters=Filters(sources=("Kompas",))).holding == 1
    assert search_archive(retriever, '"banjir rob"', k=10, filters=Filters(sources=("Detik",))).hits == []
    # a minus leaves out the articles holding a word or a phrase, and the count says how many are left
    without = search_archive(retriever, '"banjir rob" -Sayung', k=10)
    assert sorted(hit.article.id for hit in without.hits) == ["a.md", "e.md"] and without.holding == 2
    assert without.phrases == ("banjir rob",) and without.excluded == ("Sayung",)
    lacking = search_archive(retriever, 'banjir -"banjir rob"', k=10)
    assert sorted(hit.article.id for hit in lacking.hits) == ["c.md", "d.md"] and lacking.holding == 2
    assert [hit.article.id for hit in search_archive(retriever, "banjir -rob", k=10).hits] == ["c.md"]  # "robohkan" is no "rob"
    for query, reason in (("-rob", "only_excluded"), ("(-rob)", "only_excluded"), ('"" -', "nothing")):
        with pytest.raises(UnsearchableQuery) as problem:
            search_archive(retriever, query)
        assert problem.value.reason == reason
    # a phrase holding what the minus puts out: none could be listed, and the query is said to be why
    for query, excluded in (('"banjir rob" -rob', "rob"), ('"Banjir  Rob" Demak -"banjir rob"', "banjir rob")):
        with pytest.raises(UnsearchableQuery, match="no article can hold both") as problem:
            search_archive(retriever, query)
        assert (problem.value.reason, problem.value.excluded) == ("excluded_in_phrase", excluded)
    assert search_archive(retriever, '"banjir rob" -robohkan', k=10).holding == 3  # a word of its own: no clash


def test_a_phrase_in_a_script_without_spaces_is_found_inside_running_text(settings, embedder):
    """Chinese, Japanese and Thai write no spaces between words, so a quoted name stands between
    other letters: "北京" in "在北京，洪水" was never found (it had no word ends to hold to)."""
    corpus = settings.corpus_dir
    write(corpus / "beijing.md", article("北京暴雨", "新华社", "2024-07-30", "北京市发生暴雨。在北京，洪水淹没了许多街道。"))
    write(corpus / "bangkok.md", article("น้ำท่วมกรุงเทพ", "Thai PBS", "2024-09-01", "ฝนตกหนักในกรุงเทพมหานครทำให้น้ำท่วมถนนหลายสาย"))
    write(corpus / "demak.md", article("Banjir Demak", "Antara", "2024-01-02", "Banjir rob kembali melanda pesisir Demak pagi ini."))
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    for query, expected in (('"北京" 暴雨', "beijing.md"), ('"กรุงเทพ" น้ำท่วม', "bangkok.md")):
        found = search_archive(retriever, query, k=10)
        assert [hit.article.id for hit in found.hits] == [expected] and found.holding == 1, query
    assert search_archive(retriever, '"rob kembali"', k=10).holding == 1 and search_archive(retriever, '"ro"', k=10).holding == 0


def test_newest_first_lists_the_newest_articles_holding_the_phrase_not_only_the_best(settings, embedder):
    """With a phrase, 'newest' is the newest of every article holding it (a football report that
    names Demak once, over the flood reports that match the query better); without one, the
    best `k` by date; an undated article comes after the dated ones."""
    corpus = settings.corpus_dir
    flood = "Banjir merendam ribuan rumah di Demak setelah tanggul Sungai Wulan jebol. Warga Demak mengungsi."
    write(corpus / "banjir-1.md", article("Banjir Demak", "Antara", "2024-02-10", flood))
    write(corpus / "banjir-2.md", article("Tanggul Jebol, Demak Banjir", "Kompas", "2024-03-18", flood.replace("ribuan", "ratusan")))
    write(corpus / "banjir-3.md", article("Banjir Demak Surut", "Tempo", "2024-03-25", "Banjir di Demak mulai surut; tanggul Sungai Wulan ditambal."))
    write(corpus / "bola.md", article("PSIS Menang", "Bola Kita", "2024-06-01", "PSIS menang 2-0; pemain asal Demak mencetak gol kedua."))
    write(corpus / "tanpa-tanggal.md", article("Catatan", "Blog", None, "Catatan perjalanan ke Demak dan Kudus saat banjir."))
    write(corpus / "kudus.md", article("Banjir Kudus", "Detik", "2024-07-01", "Banjir merendam ribuan rumah di Kudus setelah hujan deras."))
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    best = [hit.article.id for hit in search_archive(retriever, '"Demak" banjir tanggul', k=2).hits]
    assert "bola.md" not in best  # the best match is a flood report
    newest = search_archive(retriever, '"Demak" banjir tanggul', k=2, order="newest")
    assert [hit.article.id for hit in newest.hits] == ["bola.md", "banjir-3.md"] and newest.holding == 5
    assert newest.years == {"2024": 4, "": 1}  # a year's count of them, the undated last
    oldest = search_archive(retriever, '"Demak" banjir tanggul', k=5, order="oldest")
    assert [hit.article.id for hit in oldest.hits] == ["banjir-1.md", "banjir-2.md", "banjir-3.md", "bola.md", "tanpa-tanggal.md"]
    plain = search_archive(retriever, "banjir tanggul Demak", k=3, order="newest").hits  # the best 3, by date
    assert [hit.article.id for hit in plain] == sorted((hit.article.id for hit in retriever.search("banjir tanggul Demak", 3)),
                                                       key=lambda a: retriever.store.article(a).published, reverse=True)
    with pytest.raises(ValueError, match="order 'latest'"):
        search_archive(retriever, "banjir", order="latest")



def test_a_search_lists_ten_articles_unless_asked_or_bounded(archive, embedder):
    """The page, the API and `rag search` list 10 articles by default (`rag search` once listed
    RAG_TOP_K's 5 while the others listed 10), at most RAG_MAX_K."""
    retriever = Retriever(archive.index_dir, embedder, archive)
    assert len(search_archive(retriever, "banjir").hits) == 10
    assert len(search_archive(retriever, "banjir", k=3).hits) == 3
    bounded = Retriever(archive.index_dir, embedder, archive.model_copy(update={"max_k": 4}))
    assert len(search_archive(bounded, "banjir").hits) == 4

def test_search_from_the_command_line_counts_the_articles_holding_a_phrase_and_lists_them_by_date(settings, embedder):
    corpus = settings.corpus_dir
    write(corpus / "lama.md", article("Banjir Rob Lama", "Antara", "2023-01-05", "Banjir rob merendam Sayung, Demak."))
    write(corpus / "baru.md", article("Banjir Rob Baru", "Kompas", "2024-11-20", "Banjir rob kembali merendam Sayung, Demak."))
    write(corpus / "lain.md", article("Gempa Cianjur", "Tempo", "2024-12-01", "Gempa mengguncang Cianjur; rumah warga rusak."))
    build_index(settings, embedder)
    run = subprocess.run([sys.executable, "-m", "rag", "search", '"banjir rob" Sayung', "--order", "newest",
                          "--corpus", str(corpus), "--index", str(settings.index_dir)],
                         capture_output=True, text=True, cwd=PROJECT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "articles holding “banjir rob”: 2\nby year: 2023 1, 2024 1\n" in run.stdout
    assert run.stdout.index("Banjir Rob Baru") < run.stdout.index("Banjir Rob Lama") and "Gempa" not in run.stdout
