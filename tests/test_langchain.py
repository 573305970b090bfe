"""The LangChain adapters on a real index."""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest
from conftest import PROJECT, write

from rag.indexer import build_index
from rag.langchain import ArticleRetriever, E5Embeddings
from rag.retriever import Filters, Retriever


def test_article_retriever_returns_documents_with_citable_metadata(settings, embedder):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir / "seed.md")
    build_index(settings, embedder)
    retriever = ArticleRetriever(retriever=Retriever(settings.index_dir, embedder, settings), k=3)
    documents = retriever.invoke("Apa kata Lavrov tentang NATO?")
    assert documents and documents[0].metadata["article_id"] == "seed.md"
    metadata = documents[0].metadata
    assert set(metadata) == {"article_id", "title", "source", "url", "published", "language", "page", "chunk_start", "chunk_end",
                             "score", "also_in"}
    assert (metadata["source"], metadata["language"], metadata["page"], metadata["also_in"]) == ("Al Jazeera", "id", None, [])
    text = (settings.corpus_dir / "seed.md").read_text()
    assert documents[0].page_content in text
    filtered = ArticleRetriever(retriever=retriever.retriever, filters=Filters(sources=("Reuters",)))
    assert filtered.invoke("NATO") == []


def test_k_and_filters_given_to_one_call_apply_to_it(settings, embedder):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir / "seed.md")
    write(settings.corpus_dir / "banjir.md", "---\ntitle: Banjir Demak\nsource: Kompas\n---\nBanjir merendam Demak. NATO tidak disebut.")
    build_index(settings, embedder)
    archive = ArticleRetriever(retriever=Retriever(settings.index_dir, embedder, settings), k=3)
    assert len(archive.invoke("NATO")) == 2 and len(archive.invoke("NATO", k=1)) == 1
    kompas = archive.invoke("NATO", filters=Filters(sources=("Kompas",)))
    assert [d.metadata["source"] for d in kompas] == ["Kompas"]
    with pytest.raises(TypeError):
        archive.invoke("NATO", fliters=Filters(sources=("Kompas",)))  # a misspelt keyword is not dropped
    # the async calls take them too (LangChain's default async method refused both)
    assert [d.metadata["source"] for d in asyncio.run(archive.ainvoke("NATO", k=1, filters=Filters(sources=("Kompas",))))] == ["Kompas"]
    assert [len(docs) for docs in asyncio.run(archive.abatch(["NATO", "Demak"], k=1))] == [1, 1]
    with pytest.raises(ValueError):
        ArticleRetriever(retriever=archive.retriever, k=0)


def test_e5_embeddings_apply_the_prefixes(embedder):
    embeddings = E5Embeddings(embedder)
    query = np.array(embeddings.embed_query("perluasan NATO"))
    assert np.allclose(query, embedder.embed_query("perluasan NATO"), atol=1e-5)
    document = np.array(embeddings.embed_documents(["perluasan NATO"])[0])
    assert not np.allclose(query, document, atol=1e-3)  # "query: " and "passage: " differ
