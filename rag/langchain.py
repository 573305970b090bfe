"""LangChain adapters: the archive as a `BaseRetriever`, the default model as `Embeddings`."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.embeddings import Embedder, load_embedder
from rag.retriever import Filters, Hit, Retriever


class E5Embeddings(Embeddings):
    """The archive's embedding model for LangChain: `query: ` / `passage: ` prefixes applied."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or load_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


def hit_to_document(hit: Hit) -> Document:
    article = hit.article
    return Document(
        page_content=hit.text,
        metadata={
            "article_id": article.id, "title": article.title, "source": article.source, "url": article.url,
            "published": article.published_iso,
            "chunk_start": hit.start, "chunk_end": hit.end, "score": hit.score,
        },
    )


class ArticleRetriever(BaseRetriever):
    """Hybrid archive search as a LangChain retriever (one passage per article, best first)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit_to_document(hit) for hit in self.retriever.search(query, self.k, self.filters)]
