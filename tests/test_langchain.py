"""The LangChain adapters on a real index."""

from __future__ import annotations

import shutil

import numpy as np
from conftest import PROJECT

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
    assert set(metadata) == {"article_id", "title", "source", "url", "published", "chunk_start", "chunk_end", "score"}
    text = (settings.corpus_dir / "seed.md").read_text()
    assert documents[0].page_content in text
    filtered = ArticleRetriever(retriever=retriever.retriever, filters=Filters(sources=("Reuters",)))
    assert filtered.invoke("NATO") == []


def test_e5_embeddings_apply_the_prefixes(embedder):
    embeddings = E5Embeddings(embedder)
    query = np.array(embeddings.embed_query("perluasan NATO"))
    assert np.allclose(query, embedder.embed_query("perluasan NATO"), atol=1e-5)
    document = np.array(embeddings.embed_documents(["perluasan NATO"])[0])
    assert not np.allclose(query, document, atol=1e-3)  # "query: " and "passage: " differ
