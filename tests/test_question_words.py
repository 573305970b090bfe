"""How a question is worded for the search and the reader: names written in full where the
passage has their initials (and back), and the words that point at the archive itself."""

from __future__ import annotations

import pytest

from rag.initials import capitalised_runs, in_passage_words, initials
from rag.language import without_archive_words
from rag.rerank import longest_answer, names_missing
from rag.sentences import answer_type

BIDEN = "Presiden AS Joe Biden mengatakan Washington dan sekutunya sedang mendiskusikan pengiriman senjata."


def test_initials_count_each_part_of_a_hyphenated_word():
    assert initials("Amerika Serikat") == "AS" and initials("Perserikatan Bangsa-Bangsa") == "PBB"
    text = "Rektor Universitas Gadjah Mada, Ova Emilia, dan PT Perusahaan Gas Negara."
    assert [text[s:e] for s, e in capitalised_runs(text)] == ["Rektor Universitas Gadjah Mada", "Ova Emilia", "PT Perusahaan Gas Negara"]


@pytest.mark.parametrize(("question", "passage", "asked"), [
    ("Siapa presiden Amerika Serikat?", BIDEN, "Siapa presiden AS?"),
    ("Mulai kapan PT Perusahaan Gas Negara menaikkan harga gas?", "PGN menaikkan harga gas mulai 1 Oktober.",
     "Mulai kapan PT PGN menaikkan harga gas?"),
    ("Apa nama badan PBB itu?", "Perserikatan Bangsa-Bangsa memberikan penghargaan.", "Apa nama badan Perserikatan Bangsa-Bangsa itu?"),
    # the passage names it in full too, or has no initials for it: nothing to change
    ("Siapa presiden Amerika Serikat?", "Amerika Serikat (AS) dipimpin Presiden Joe Biden.", "Siapa presiden Amerika Serikat?"),
    ("Siapa juru bicara Kremlin?", BIDEN, "Siapa juru bicara Kremlin?"),
    # the question already gives both
    ("Siapa rektor Universitas Gadjah Mada (UGM)?", "Rektor UGM Ova Emilia.", "Siapa rektor Universitas Gadjah Mada (UGM)?"),
    # two letters stand for too many runs to be spelled out from the passage
    ("Siapa penasihat Presiden AS George W Bush?", "Penasihat Karl Rove Akan Segera mundur.", "Siapa penasihat Presiden AS George W Bush?"),
])
def test_a_question_is_read_in_the_passages_words(question, passage, asked):
    assert in_passage_words(question, passage) == asked


@pytest.mark.parametrize(("question", "kept"), [
    ("Siapa presiden Amerika Serikat yang disebut dalam artikel?", "Siapa presiden Amerika Serikat?"),
    ("Menurut berita ini, siapa juru bicara Kremlin?", "Siapa juru bicara Kremlin?"),
    ("Siapa yang dikutip dalam berita itu?", "Siapa yang dikutip?"),
    ("According to the article, who is the Kremlin spokesman?", "Who is the Kremlin spokesman?"),
    ("Which news agency is mentioned in the article?", "Which news agency is mentioned?"),
    # about the news, not the archive: kept
    ("Apa judul artikel tentang banjir?", "Apa judul artikel tentang banjir?"),
    ("Kapan berita acara pemeriksaan dalam berita acara itu ditandatangani?", "Kapan berita acara pemeriksaan dalam berita acara itu ditandatangani?"),
    ("Apa isi artikel ini?", "Apa isi artikel ini?"),
    ("Dalam artikel?", "Dalam artikel?"),
])
def test_words_about_the_archive_itself_are_not_searched(question, kept):
    assert without_archive_words(question) == kept


@pytest.mark.parametrize(("question", "passage", "missing"), [
    # another ministry of the same country: "Dalam" and "Negeri" are not in the passage
    ("Siapakah Menteri Dalam Negeri Irak?", "Menurut Wakil Menteri Kesehatan Irak Jalil Al-Shumari, ribuan orang ...", 0.5),
    # the question's names in the passage's initials, a number inside a range: nothing lacks
    ("Siapa presiden Amerika Serikat?", BIDEN, 0.0),
    ("Berapa harimau yang tersisa pada 1995?", "Data 1995 menyebutkan populasi tersisa 400-500 ekor.", 0.0),
    # initials of two letters are not read as a name (too many runs), but the passage spells them out
    ("Siapa presiden AS?", "Presiden Amerika Serikat Joe Biden mengatakan ...", 0.0),
    # a name is a whole word of the passage, not a piece of one
    ("Di mana Ani tinggal?", "Daniel tinggal di Bandung.", 1.0),
    ("Apa yang terjadi kemarin?", "Tidak ada nama di pertanyaan.", 0.0),
])
def test_the_questions_names_a_passage_lacks(question, passage, missing):
    assert names_missing(question, passage) == missing


@pytest.mark.parametrize("question", [
    "Apa yang dikatakan Lavrov tentang perluasan NATO?", "Apa yang dia peringatkan?", "Apa yang Lavrov katakan?",
    "Apa yang dikatakannya?", "Apa saja yang disampaikan Jokowi?", "Apa kata Lavrov tentang NATO?", "Apa katanya?",
    "Apa tanggapan Swedia?", "What did Zelenskyy say before the NATO summit?", "What does the archive say about Peskov?",
    "What has Peskov said about Ukraine?", "What was said about NATO?",
])
def test_a_question_about_what_was_said(question):
    assert answer_type(question) == "statement"


@pytest.mark.parametrize("question", [
    "Siapa juru bicara Kremlin?", "Siapa yang mengatakan itu?", "Kapan Peskov mengatakan hal itu?", "Di mana dia berbicara?",
    "Apa kata yang prasejarahnya singkat?", "Apa kata kunci artikel ini?", "Apa yang dikatakan Lavrov sebagai ancaman?",
    "Who said the Kremlin monitors the summit very carefully?", "What did the report say the death toll was?",
    "What did Lavrov tell TASS the date was?", "What is the name of the man who said a tiger had given birth?",
    "What does NATO stand for? How many people did he say died?",
])
def test_a_question_about_a_fact_that_mentions_saying(question):
    """A name, a date, a number or a word: the reader's span is the answer."""
    assert answer_type(question) != "statement"


@pytest.mark.parametrize(("question", "kind"), [
    ('Siapa penulis buku "Kapan Kita Kawin?"', "name"), ("Kapan lagu “Siapa Dia” dirilis?", "date"),
    ("Siapa yang menulis 'Apa kata dunia'?", "name"),
    # a comma after the question word, or the whole question in quotes, hides nothing
    ("Pada tahun berapakah, SEA Games terakhir diadakan di Vietnam?", "date"), ('"Siapa juru bicara Kremlin?"', "name"),
    ("'Siapa juru bicara Kremlin?'", "name"), ("Kapan lagu ‘Siapa Dia’ dirilis?", "date"), ('Apa judul buku "Siapa Dia"?', None),
    # a question that quotes the question it asks
    ('Tolong jawab: "Siapa presiden AS?"', "name"),
])
def test_question_words_are_read_outside_quotes_whatever_punctuation_follows(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize(("question", "tokens"), [
    ("Siapa juru bicara Kremlin?", 30), ("Kapan KTT NATO digelar?", 30), ("Berapa korban tewas?", 30),
    ("Di mana para pemimpin NATO bertemu?", 30), ("Apa nama sungai terpanjang di Tiongkok?", 30),
    ("What is the name of Iran's foreign minister?", 30), ("How large is the area of sugar cane fields?", 30),
    ("Apa yang dimaksud dengan inflasi inti?", 64), ("Apa itu komunisme?", 64), ("Bagaimana cara mengobati tuberkulosis?", 64),
    ("Mengapa Finlandia bergabung dengan NATO?", 64),
    # why and how whatever else they name; names and places asked for with other words
    ("Mengapa jumlah pengangguran naik?", 64), ("Bagaimana dampaknya di negara berkembang?", 64),
    ("How did Biden react when Putin spoke?", 64), ("How many people died?", 30), ("Negara mana yang menjadi tuan rumah?", 30),
    ("Which country hosted the summit?", 30), ("Who's the spokesman of the Kremlin?", 30), ("Sebutkan nama menteri itu!", 30),
    # words of a quoted title are no question words
    ('Tahun berapa terbit buku "50 Alasan Mengapa Anwar Tak Bisa Menjadi Perdana Menteri"?', 30),
    ("Siapa penyanyi lagu 'Bagaimana Kalau Aku Tidak Baik-Baik Saja'?", 30), ('"Mengapa harga naik?"', 64),
])
def test_a_name_date_number_or_place_is_a_short_answer_a_definition_may_be_a_clause(question, tokens):
    assert longest_answer(question) == tokens


def test_a_follow_up_that_does_not_say_takes_the_length_of_the_question_it_follows():
    assert longest_answer("Dan Swedia?", "Kapan Finlandia bergabung dengan NATO?") == 30
    assert longest_answer("Mengapa?", "Siapa juru bicara Kremlin?") == 64
    assert longest_answer("Dan Swedia?") == 64
