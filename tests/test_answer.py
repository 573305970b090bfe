"""Cited answers over a real index: verbatim citations, cross-lingual, follow-ups, abstention, filters."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT, text_on_disk, write

from rag.language import detect_language
from rag.answer import CONFIDENT, Answer, Assistant
from rag.conversation import followed_question, previous_short_answer, retrieval_query
from rag.followups import suggest_follow_ups
from rag.indexer import build_index
from rag.retriever import Filters, Retriever
from rag.ui_render import render_reply
from rag.ui_text import EXAMPLES

SEED = PROJECT / "corpus" / "000_b0a4adb478896665.md"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder):
    from rag.config import get_settings

    root = tmp_path_factory.mktemp("answers")
    shutil.copy(SEED, write(root / "corpus" / "seed.md", "").parent / "seed.md")
    write(root / "corpus" / "banjir.md", "---\ntitle: Banjir Besar Melanda Jakarta\nsource: Kompas\npublished: 2024-01-15\n---\n"
          "Banjir besar melanda Jakarta pada hari Senin. Sebanyak 5.000 warga mengungsi ke masjid terdekat.")
    settings = get_settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return Assistant(Retriever(settings.index_dir, embedder, settings), settings)


def check_citations(answer, corpus):
    """Every citation's span, read from the article file on disk, is the quoted sentence, quoted with its [n]."""
    assert answer.citations
    for citation in answer.citations:
        assert text_on_disk(corpus / citation.article_id)[citation.start : citation.end] == citation.sentence
        assert f"{citation.sentence} [{citation.n}]" in answer.text


@pytest.mark.parametrize("question", EXAMPLES)
def test_every_example_question_the_page_offers_is_answered_from_the_seed_article(assistant, question):
    """The first thing a new user clicks: over the seed article a fresh clone's corpus holds, each
    example is answered with a quote from it. ("Who is the Russian ambassador to the United
    States?" was one and abstained: the reader cannot read it across languages, models/README.md.)"""
    answer = assistant.answer(question)
    assert not answer.abstained and answer.citations[0].article_id == "seed.md", answer.text


def test_indonesian_question_cites_the_exact_sentence(assistant):
    answer = assistant.answer("Apa yang dikatakan Lavrov tentang perluasan NATO?")
    assert not answer.abstained and answer.language == "id"
    assert "Lavrov" in answer.citations[0].sentence and answer.citations[0].article_id == "seed.md"
    assert answer.sources[0].title.startswith("Rusia") and answer.sources[0].published == "2023-07-11"
    check_citations(answer, assistant.settings.corpus_dir)


def test_an_answer_read_back_from_its_json_is_the_same(assistant):
    """What the API returns and the page keeps in the browser reads back into the same answer."""
    answer = assistant.answer("Siapa juru bicara Kremlin?")
    back = Answer.from_json(json.loads(json.dumps(answer.to_json(), ensure_ascii=False)))
    assert back.hits == [] and back == Answer(**{**answer.__dict__, "hits": []})
    assert back.citations[0].sentence.startswith("Juru bicara Kremlin Dmitry Peskov") and back.confidence == answer.confidence


def test_english_question_gets_an_english_frame_and_verbatim_quotes(assistant):
    answer = assistant.answer("Who is the spokesman of the Kremlin?")
    assert not answer.abstained and answer.language == "en"
    assert answer.text.startswith("According to the archive:")
    assert any("Peskov" in c.sentence for c in answer.citations)
    check_citations(answer, assistant.settings.corpus_dir)


def test_a_question_in_a_third_language_is_answered_in_english_across_languages(assistant):
    """A Spanish or Chinese question was taken for Indonesian ("Menurut arsip", "Tidak ada
    jawaban", thresholds and BM25's share of Indonesian questions); it is now asked across
    languages and answered in English. Keywords and names stay Indonesian."""
    from rag.language import question_language

    assert [question_language(q) for q in ("Quel est le porte-parole du Kremlin?", "Кто пресс-секретарь Кремля?",
                                          "banjir rob Semarang", "gempa Cianjur 2022", "Jokowi")] == ["fr", "ru", None, None, None]
    answer = assistant.answer("¿Quién es el portavoz del Kremlin?")
    assert answer.language == "en" and answer.text.startswith("According to the archive: Dmitry Peskov"), answer.text
    assert assistant.answer("克里姆林宫发言人是谁?").language == "en"
    assert assistant.retriever.lexical_share("¿Quién es el portavoz del Kremlin?", assistant.retriever.refresh()) == \
        assistant.settings.lexical_weight_cross_lingual
    assert assistant.answer("banjir rob Semarang").language == "id"


def test_the_answer_a_follow_up_follows_is_its_short_answer_or_a_definitions_quote():
    """What a follow-up's span must not merely repeat: the bold lead of the last reply, or, when
    the frame stood alone because the answer was most of its sentence, that sentence; never the
    quote that answered what someone said (a name in it is a new answer)."""
    def history(question: str, reply: str) -> list[dict]:
        return [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]

    assert previous_short_answer(history("Siapa juru bicara Kremlin?", "Menurut arsip: Dmitry Peskov\nJuru bicara ... [1]")) == "Dmitry Peskov"
    definition = "Menurut arsip:\nInflasi inti adalah komponen inflasi yang cenderung menetap. [1]\n\nSumber: ..."
    assert previous_short_answer(history("Apa itu inflasi inti?", definition)) == "Inflasi inti adalah komponen inflasi yang cenderung menetap."
    said = "Menurut arsip:\nSergey Lavrov memperingatkan bahwa Moskow akan menanggapi. [1]"
    assert previous_short_answer(history("Apa yang dikatakan Lavrov tentang NATO?", said)) == ""


def test_follow_up_folds_the_previous_question_into_retrieval(assistant):
    def searched(question: str, history: list[dict]) -> str:
        return retrieval_query(question, followed_question(question, history))

    history = [{"role": "user", "content": "Mengapa Finlandia bergabung dengan NATO?"},
               {"role": "assistant", "content": "..."}]
    assert searched("Bagaimana tanggapan Swedia?", history).startswith("Mengapa Finlandia")
    assert searched("Berapa warga yang mengungsi karena banjir di Jakarta kemarin?", history).startswith("Berapa")
    pointing = [{"role": "user", "content": "Menurut artikel ini, mengapa Finlandia bergabung dengan NATO?"}]
    assert searched("Bagaimana tanggapan Swedia?", pointing) == "Mengapa Finlandia bergabung dengan NATO? Bagaimana tanggapan Swedia?"
    # "What did he warn of?" is Lavrov's warning after a question about Lavrov, Gavrilov's after one about
    # Gavrilov (the seed article does not say how Sweden responded: abstaining on the question above is right)
    for previous, warned in (("Siapa Menteri Luar Negeri Rusia?", "Sergey Lavrov"), ("Siapa diplomat senior Rusia yang dikutip RIA?", "Gavrilov")):
        history = [{"role": "user", "content": previous}, {"role": "assistant", "content": "..."}]
        answer = assistant.answer("Apa yang dia peringatkan?", history=history)
        assert not answer.abstained and warned in answer.citations[0].sentence, answer.text


def test_a_short_question_the_archive_answers_on_its_own_is_no_follow_up(assistant):
    """Short questions were read with the one before them: "Di mana para pemimpin NATO
    berkumpul?" after the Kremlin question got Peskov's sentence, marked confident; "Siapa juru
    bicara Kremlin?" after Lavrov's warning got "Maria Zakharova". One answered confidently as
    asked stands alone; one whose names the followed answer's article lacks does too."""
    def after(previous: str, question: str):
        first = assistant.answer(previous)
        return assistant.answer(question, history=[{"role": "user", "content": previous}, {"role": "assistant", "content": first.text}])

    leaders = after("Siapa juru bicara Kremlin?", "Di mana para pemimpin NATO berkumpul?")
    assert leaders.short_answer == "Lituania" and "Peskov" not in leaders.citations[0].sentence
    assert after("Apa kata Lavrov tentang NATO?", "Siapa juru bicara Kremlin?").short_answer == "Dmitry Peskov"
    flood = after("Siapa juru bicara Kremlin?", "Berapa warga Jakarta mengungsi?")  # "Jakarta": not in the Kremlin article
    assert "5.000 warga" in flood.citations[0].sentence, flood.text


def test_a_question_that_goes_on_from_the_one_before_is_a_follow_up():
    from rag.conversation import refers_back

    assert all(map(refers_back, ["Dan Swedia?", "Bagaimana dengan Swedia?", "What about Sweden?", "Apa yang dia katakan?"]))
    assert not any(map(refers_back, ["Di mana para pemimpin NATO berkumpul?", "Danau Toba ada di mana?", "Andorra di mana?"]))


def test_a_span_is_whole_words():
    from rag.reader import whole_words

    text = "Juru bicara Kremlin Dmitry Peskov mengatakan"
    assert text[slice(*whole_words(text, 29, 33))] == "Peskov"  # the reader marked "skov"
    assert whole_words(text, 27, 33) == (27, 33) and whole_words(text, 0, len(text)) == (0, len(text))


def test_a_follow_up_does_not_get_the_answer_it_follows_as_its_short_answer(assistant):
    """The reader reads a follow-up with the question before it and may answer that one again:
    what was just said is not shown as the new short answer; the quote still is."""
    question = "Siapa Menteri Luar Negeri Rusia?"
    first = assistant.answer(question)
    assert first.short_answer == "Sergey Lavrov"
    history = [{"role": "user", "content": question}, {"role": "assistant", "content": first.text}]
    answer = assistant.answer("Di mana dia berbicara?", history=history)  # the reader marks "Sergey Lavrov" again
    assert answer.short_answer is None and "Sergey Lavrov memperingatkan" in answer.citations[0].sentence, answer.text
    assert "Sergey Lavrov" not in answer.text.split("\n")[0] and answer.confidence is not None  # nor in the lead line
    fresh = assistant.answer("Siapa Menteri Luar Negeri Rusia?", history=[{"role": "user", "content": "Siapa juru bicara Kremlin?"},
                                                                        {"role": "assistant", "content": "Menurut arsip: Dmitry Peskov"}])
    assert fresh.short_answer == "Sergey Lavrov"  # not a follow-up: answered as asked


DEMAK = ("---\ntitle: Banjir Demak\nsource: Kompas\npublished: 2024-03-20\n---\n"
         "Banjir besar melanda Kabupaten Demak pada hari Minggu. "
         "Bupati Demak Eisti'anah mengatakan sebanyak 12.000 warga mengungsi ke tempat yang lebih aman.\n\n"
         "Menurut BPBD, tanggul Sungai Wulan jebol sepanjang 50 meter. "
         "Kepala BPBD Jawa Tengah menyebut hujan deras sebagai penyebab utama.\n")
FOOTBALL = ("---\ntitle: Prancis Tundukkan Swedia di Stockholm\nsource: Bola Kita\npublished: 2023-06-20\n---\n"
            "Tim nasional Prancis menang 2-1 atas Swedia dalam laga kualifikasi di Stockholm pada Selasa malam. "
            "Pelatih Swedia mengatakan timnya kalah karena lini belakang yang rapuh.\n")


def test_a_short_follow_up_is_answered_not_the_question_before_it_again(tmp_path, embedder):
    """"Di mana tanggul jebol?" after "Siapa Bupati Demak?" was read with the question before it:
    the reader marked the Bupati's name again, and the reply quoted the Bupati's sentence with no
    short answer. "Mengapa?" after "Bagaimana dengan Swedia?" after a question about NATO was read
    with Sweden alone and answered from a football match."""
    from rag.config import get_settings

    for name, text in (("demak.md", DEMAK), ("bola.md", FOOTBALL), ("seed.md", SEED.read_text(encoding="utf-8"))):
        write(tmp_path / "corpus" / name, text)
    settings = get_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    build_index(settings, embedder)
    assistant = Assistant(Retriever(settings.index_dir, embedder, settings), settings)

    def conversation(*questions: str):
        history = []
        for question in questions:
            answer = assistant.answer(question, history=history)
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        return answer

    dike = conversation("Siapa Bupati Demak?", "Di mana tanggul jebol?")
    assert "Sungai Wulan" in (dike.short_answer or "") and "tanggul" in dike.citations[0].sentence, dike.text
    why = conversation("Apa yang dikatakan Lavrov tentang NATO?", "Bagaimana dengan Swedia?", "Mengapa?")
    assert all(citation.article_id != "bola.md" for citation in why.citations), why.text
    history = [{"role": "user", "content": "Apa yang dikatakan Lavrov tentang NATO?"}, {"role": "assistant", "content": "..."},
               {"role": "user", "content": "Bagaimana dengan Swedia?"}, {"role": "assistant", "content": "..."}]
    assert followed_question("Mengapa?", history) == "Bagaimana dengan Swedia? Apa yang dikatakan Lavrov tentang NATO?"


def test_each_suggested_follow_up_gets_a_quote_about_its_own_name(assistant):
    """What the page suggests after an answer asks what was said about another name of the cited
    article; read with the question before it ("Siapa juru bicara Kremlin?"), each got Peskov's
    sentence back, which names none of them."""
    question = "Siapa juru bicara Kremlin?"
    first = assistant.answer(question)
    history = [{"role": "user", "content": question}, {"role": "assistant", "content": first.text}]
    text = assistant.retriever.store.article(first.citations[0].article_id).text
    suggested = suggest_follow_ups(first, text, question)
    assert len(suggested) == 3
    for follow_up in suggested:
        name = follow_up.removeprefix("Apa yang dikatakan tentang ").removesuffix("?")
        answer = assistant.answer(follow_up, history=history)
        assert answer.citations[0].sentence != first.citations[0].sentence, follow_up
        assert any(name in citation.sentence for citation in answer.citations), (follow_up, answer.text)


def test_no_answer_in_the_archive_abstains_with_related_articles(assistant):
    answer = assistant.answer("Siapa pemenang Piala Dunia sepak bola tahun 2018?")
    assert answer.abstained and not answer.citations
    assert answer.text.startswith("Tidak ada jawaban di arsip")
    assert answer.sources and "Artikel yang mungkin terkait:" in answer.text
    assert all(source.title in answer.text for source in answer.sources)  # each related article named


def test_filters_restrict_the_archive(assistant):
    recent = assistant.answer("banjir Jakarta", filters=Filters(since=dt.date(2024, 1, 1)))
    assert {h.article.id for h in recent.hits} == {"banjir.md"}
    assert assistant.retriever.search("NATO", filters=Filters(sources=("al jazeera",)))[0].article.id == "seed.md"
    assert assistant.retriever.search("NATO", filters=Filters(sources=("Tempo",))) == []


def test_filters_that_leave_no_article_say_so_and_name_the_outlets(assistant):
    """A misspelt outlet or a period the archive has nothing in is not "the archive has no answer"."""
    misspelt = assistant.answer("Siapa juru bicara Kremlin?", filters=Filters(sources=("AlJazeera",)))
    assert misspelt.abstained and not misspelt.sources
    assert misspelt.text.startswith("Tidak ada artikel di arsip yang cocok dengan filter ini")
    assert "Sumber yang tidak ada di arsip: AlJazeera. Sumber di arsip: " in misspelt.text and "Al Jazeera" in misspelt.text
    assert "Sumber yang tidak ada di arsip: AlJazeera" in render_reply(misspelt, 1)  # the page shows it too
    later = assistant.answer("Who is the Kremlin spokesman?", filters=Filters(since=dt.date(2030, 1, 1)))
    assert later.abstained and later.text == "No article in the archive matches these filters (period, outlets)."
    # articles within the filters, none answering: the answer may lie outside them (it was "the archive has no answer")
    elsewhere = assistant.answer("Siapa juru bicara Kremlin?", filters=Filters(sources=("Kompas",)))
    assert elsewhere.abstained and elsewhere.text.startswith("Tidak ada jawaban di arsip untuk pertanyaan ini dalam filter yang dipilih")
    with pytest.raises(ValueError, match="before it starts"):
        Filters(since=dt.date(2023, 8, 1), until=dt.date(2023, 1, 1))


def test_a_question_too_long_to_answer_is_refused(assistant):
    """The page's box and the API stop at MAX_QUESTION_CHARS; the Python API says so too."""
    with pytest.raises(ValueError, match="at most 1000 characters; this one has 1001"):
        assistant.answer("x" * 1001)


@pytest.mark.integration  # runs `python -m rag` as a user does (a real process): `make test` runs it, a bare `pytest` not
def test_a_blank_question_is_refused_by_the_cli_in_one_line(assistant):
    settings = assistant.settings
    result = subprocess.run([sys.executable, "-m", "rag", "ask", "   ", "--corpus", str(settings.corpus_dir), "--index",
                             str(settings.index_dir)], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: the question is empty: type a question")


@pytest.mark.integration  # runs `python -m rag` as a user does (a real process): `make test` runs it, a bare `pytest` not
def test_ask_cli_json(assistant):
    settings = assistant.settings
    result = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "Siapa Menteri Luar Negeri Rusia?", "--json",
         "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) >= {"answer", "short_answer", "confidence", "citations", "sources", "abstained"}
    assert payload["short_answer"] in payload["citations"][0]["sentence"] and 0 < payload["confidence"] <= 1
    citation = payload["citations"][0]
    assert set(citation) >= {"n", "article_id", "title", "source", "url", "published", "sentence", "start", "end", "score"}


@pytest.mark.integration  # runs `python -m rag` as a user does (a real process): `make test` runs it, a bare `pytest` not
def test_ask_cli_says_how_sure_the_reader_is(assistant):
    """The page labels an answer "confident" or "less sure"; the CLI's plain answer says so too,
    with the probability `--json` gives, so a doubtful answer does not read as a sure one."""
    settings = assistant.settings
    question = "Siapa juru bicara Kremlin?"
    result = subprocess.run([sys.executable, "-m", "rag", "ask", question, "--corpus", str(settings.corpus_dir),
                             "--index", str(settings.index_dir)], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    confidence = assistant.answer(question).confidence
    label = "confident" if confidence >= CONFIDENT else "less sure"
    assert f"\nconfidence {confidence:.2f} ({label})\n[1] " in result.stdout, result.stdout


def test_the_question_word_tells_the_language():
    """An Indonesian question quoting an English title is still Indonesian (its frame, its BM25 share)."""
    assert detect_language('Siapa yang menyanyikan lagu "My Heart Will Go On"?') == "id"
    assert detect_language('Who sang the song "Bengawan Solo"?') == "en"
    # question words with the particle -kah, and "kemana": 7 of news-qa's 2,806 questions were called English
    assert detect_language("Kapankah Kartono Ryadi lahir?") == "id"
    for question in ("Kapankah diadakannya The First Step to Nobel Prize in Physics ke - 13 Warsawa?",
                     "Kemana pesawat Mandala Airlines RI - 020 rute Jakarta-Jambi return to base / RTB?",
                     "Dimanakah lokasi Commanding and General Staff College (CGSC)?"):
        assert detect_language(question) != "en"  # undecided reads as the articles' language
