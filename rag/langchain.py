"""LangChain adapters: the archive as a `BaseRetriever`, the default model as `Embeddings`."""

from __future__ import annotations

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from rag.embeddings import Embedder, load_embedder
from rag.retriever import Filters, Hit, Retriever


class E5Embeddings(Embeddings):
    """The archive's embedding model for LangChain: `query: ` / `passage: ` prefixes applied.

    Args:
        embedder: an `Embedder` to share (default: the bundled multilingual e5-small, fastest
            precision for this CPU).

    Example::

        from rag.langchain import E5Embeddings
        vectors = E5Embeddings().embed_documents(["Banjir merendam Demak."])   # one 384-dim unit vector
    """

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or load_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


def hit_to_document(hit: Hit) -> Document:
    """A search hit as a LangChain `Document`: the passage as its content; as metadata the
    article's id, title, source, url, date and language, the passage's offsets (and PDF page),
    the score, and the other outlets' copies of the story (`also_in`, as `GET /api/search` gives them).

    Example::

        document = hit_to_document(Retriever(Path("index")).search("perluasan NATO", k=1)[0])
        document.metadata["source"], document.metadata["chunk_start"]   # ('Al Jazeera', 763)
    """
    fields = hit.to_json(rank=0)
    return Document(
        page_content=hit.text,
        metadata={
            **{key: fields[key] for key in ("article_id", "title", "source", "url", "published", "language", "page", "score", "also_in")},
            "chunk_start": hit.start, "chunk_end": hit.end,
        },
    )


class ArticleRetriever(BaseRetriever):
    """Hybrid archive search as a LangChain retriever (one passage per article, best first).

    Args:
        retriever: the archive's `Retriever`.
        k: how many articles each query returns (1 or more; at most `RAG_MAX_K`, as the search
            caps it); `invoke(query, k=2)` overrides it for one call.
        filters: restrict every query (`Filters`: dates, outlets); `invoke(query,
            filters=Filters(...))` overrides it for one call. Another keyword raises TypeError.
            `ainvoke` and `abatch` take the same ones (the search runs in a thread).

    Example::

        from rag.langchain import ArticleRetriever
        from rag.retriever import Filters, Retriever
        archive = ArticleRetriever(retriever=Retriever("index"), k=3)
        docs = archive.invoke("Siapa juru bicara Kremlin?")
        docs[0].metadata["title"]
        archive.invoke("Siapa juru bicara Kremlin?", k=1, filters=Filters(sources=("Kompas",)))
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(5, ge=1)
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: Filters | None = None) -> list[Document]:
        hits = self.retriever.search(query, self.k if k is None else k, filters or self.filters)
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, filters: Filters | None = None) -> list[Document]:
        # LangChain's own async default passes no `k` or `filters` on, and fails when given them
        return await run_in_executor(None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(),
                                     k=k, filters=filters)
