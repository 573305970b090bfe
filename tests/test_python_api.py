"""The Python API as a developer embedding it meets it: filters, bad arguments, settings."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from conftest import PROJECT, write

from rag.answer import Assistant
from rag.indexer import build_index
from rag.retriever import Filters, Retriever

FRENCH = """---
title: "Gempa di Cianjur"
source: "ÉLYSÉE Média"
published: 2023-07-12
---
Gempa bermagnitudo 5,6 mengguncang Cianjur, Jawa Barat. Ratusan rumah rusak dan warga mengungsi.
"""


@pytest.fixture()
def retriever(settings, embedder) -> Retriever:
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir / "seed.md")
    write(settings.corpus_dir / "gempa.md", FRENCH)
    build_index(settings, embedder)
    return Retriever(settings.index_dir, embedder, settings)


def test_an_outlet_with_accented_capitals_is_found_by_its_name_in_any_case(retriever):
    for name in ("ÉLYSÉE Média", "élysée média", "ÉLYSÉE MÉDIA"):  # SQLite's lower() folds ASCII only
        assert [hit.article.id for hit in retriever.search("gempa Cianjur", 5, Filters(sources=(name,)))] == ["gempa.md"]
    assert [hit.article.id for hit in retriever.search("NATO", 5, Filters(sources="Al Jazeera"))] == ["seed.md"]  # one name, not letters


def test_bad_arguments_are_refused_not_guessed(retriever):
    with pytest.raises(ValueError, match="query is empty"):
        retriever.search("   ")
    with pytest.raises(ValueError, match="1 or more"):
        retriever.search("gempa", k=0)
    with pytest.raises(TypeError, match="outlet names"):
        Filters(sources=(1,))
    with pytest.raises(ValueError, match="phrase to find is blank"):
        Filters(phrases=("  ",))
    with pytest.raises(ValueError, match="order 'latest'"):
        retriever.search("gempa", order="latest")
    assert Filters(phrases="banjir rob").phrases == ("banjir rob",)  # one phrase, not letters
    with pytest.raises(ValueError, match="1 or more"):
        Assistant(retriever).answer("Siapa juru bicara Kremlin?", k=0)  # was the default, silently


def test_a_date_filter_given_as_a_datetime_or_an_iso_string_means_its_day(retriever):
    """The Kremlin story is dated 2023-07-11: a `datetime` of that day (its time once left out the
    day itself) and the ISO string both find it; a string that is no date says how to write it."""
    for since in (dt.date(2023, 7, 11), dt.datetime(2023, 7, 11, 9, 30), "2023-07-11"):
        assert [hit.article.id for hit in retriever.search("NATO", 5, Filters(since=since, until=since))] == ["seed.md"], since
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Filters(since="11 Juli 2023")
    with pytest.raises(TypeError, match="takes a date"):
        Filters(until=20230711)


def test_the_assistant_answers_with_the_settings_of_its_retriever(settings, embedder):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir / "seed.md")
    build_index(settings, embedder)
    quotes_only = settings.model_copy(update={"reader": False, "top_k": 1})
    assistant = Assistant(Retriever(settings.index_dir, embedder, quotes_only))
    assert assistant.settings is quotes_only and assistant.answer_path == "quotes only"
    assert len(assistant.answer("Siapa juru bicara Kremlin?").sources) == 1


def test_the_api_documents_the_answer_as_it_is(retriever):
    """`AnswerOut` (the OpenAPI schema of POST /api/ask) has exactly the fields `to_json` gives, of their types."""
    from rag.api import AnswerOut

    answer = Assistant(retriever).answer("Siapa juru bicara Kremlin?").to_json()
    assert set(AnswerOut.model_fields) == set(answer)
    assert AnswerOut.model_validate(answer).short_answer == "Dmitry Peskov"


def test_a_retriever_used_in_a_with_block_closes_its_index(settings, embedder, retriever):
    """A script that opens many indexes (one per archive) closes each when done."""
    import sqlite3

    with Retriever(settings.index_dir, embedder, settings) as scoped:
        assert scoped.search("gempa Cianjur", k=1)[0].article.id == "gempa.md"
    with pytest.raises(sqlite3.ProgrammingError):  # closed: the generation's database is no longer open
        scoped.search("gempa Cianjur", k=1)
    assert retriever.search("gempa Cianjur", k=1)[0].article.id == "gempa.md"  # another Retriever is not touched
