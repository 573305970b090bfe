"""Sentence splitting and chunking on Indonesian news text."""

from __future__ import annotations

import pytest

from rag.chunking import chunk_article, split_sentences
from rag.corpus import make_article


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Acara itu dihadiri dr. Budi dan Prof. Siti di Jl. Sudirman No. 5. Semua senang.",
         ["Acara itu dihadiri dr. Budi dan Prof. Siti di Jl. Sudirman No. 5.", "Semua senang."]),
        ("Surat a.n. Direktur H. Ahmad diterima St. Yosef. Lalu dibalas.",
         ["Surat a.n. Direktur H. Ahmad diterima St. Yosef.", "Lalu dibalas."]),
        ("Harga naik 3,5 persen menjadi Rp 2.500 per liter. Sebanyak 1.000 orang protes pada 27/3. Polisi datang.",
         ["Harga naik 3,5 persen menjadi Rp 2.500 per liter.", "Sebanyak 1.000 orang protes pada 27/3.", "Polisi datang."]),
        ("“Kami tidak takut. Kami akan melawan,” kata dia. Polisi diam.",
         ["“Kami tidak takut. Kami akan melawan,” kata dia.", "Polisi diam."]),
        ("Dia pergi (dengan marah). Semua diam.", ["Dia pergi (dengan marah).", "Semua diam."]),
        ("Harga naik... lalu turun … Tapi tetap mahal. Benarkah? Ya!",
         ["Harga naik... lalu turun … Tapi tetap mahal.", "Benarkah?", "Ya!"]),
        ("Jakarta (ANTARA News) - Presiden meresmikan jalan tol. Acara berlangsung meriah.",
         ["Jakarta (ANTARA News) - Presiden meresmikan jalan tol.", "Acara berlangsung meriah."]),
        ("Srinagar, Senin - Polisi menembak dua orang. Warga marah.",
         ["Srinagar, Senin - Polisi menembak dua orang.", "Warga marah."]),
        ("Judul tanpa titik\nKalimat pertama. Kalimat kedua.", ["Judul tanpa titik", "Kalimat pertama.", "Kalimat kedua."]),
        ("Dia berkata “ini tidak masuk akal”. bahwa garis waktu belum ada.",
         ["Dia berkata “ini tidak masuk akal”. bahwa garis waktu belum ada."]),
    ],
)
def test_indonesian_sentences(text, expected):
    assert sentences(text) == expected


def word_counter(texts):
    return [len(t.split()) for t in texts]


def test_chunks_are_whole_sentences_within_budget_with_one_sentence_overlap():
    text = " ".join(f"Kalimat nomor {i} berisi beberapa kata tambahan di sini." for i in range(40))
    article = make_article("a.md", "a.md", {"title": "Judul"}, text, "a")
    chunks = chunk_article(article, word_counter, max_tokens=30, overlap=1)
    assert len(chunks) > 5
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert sum(word_counter([article.text[s:e] for s, e in chunk.sentences])) <= 30
        assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
    for before, after in zip(chunks, chunks[1:]):
        assert after.sentences[0] == before.sentences[-1]
    assert chunks[-1].sentences[-1][1] == len(article.text)


def test_a_sentence_longer_than_a_chunk_is_cut_at_word_boundaries():
    text = "Awal. " + " ".join(["kata"] * 100) + ". Akhir."
    article = make_article("a.md", "a.md", {"title": "Judul"}, text, "a")
    chunks = chunk_article(article, word_counter, max_tokens=30, overlap=0)
    for chunk in chunks:
        assert sum(word_counter([chunk.text])) <= 30
        assert not chunk.text.startswith(" ") and not chunk.text.endswith(" ")
    covered = "".join(c.text for c in chunks).replace(" ", "")
    assert covered == article.text.replace(" ", "")


def test_a_megabytes_long_line_is_split_in_linear_time():
    import time

    line = "Harga naik menjadi Rp 2.500 kata dr. Budi. “Kami tidak takut. Kami melawan,” katanya. " * 25000  # 2 MB
    started = time.perf_counter()
    spans = split_sentences(line)
    assert len(spans) == 50000
    assert time.perf_counter() - started < 10  # quadratic scanning took hours here
