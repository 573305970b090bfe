"""Find the passages that answer a query: dense (FAISS) and lexical (BM25) results fused,
then spread over distinct articles.

Dense retrieval understands paraphrase and crosses languages; BM25 nails names, numbers and
rare words, which factoid questions about news are full of. Reciprocal-rank fusion combines
them without having to calibrate two unrelated score scales.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings, get_settings
from rag.corpus import Article
from rag.embeddings import Embedder, load_embedder
from rag.store import CURRENT, ChunkRow, IndexStore

RRF_K = 60  # the usual reciprocal-rank constant: ranks past ~60 barely count
CANDIDATES = 100  # candidates taken from each side before fusion


@dataclass(frozen=True)
class Filters:
    """Restrict a search to a date range, to some sources, or away from some articles."""

    since: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()
    exclude_articles: frozenset[str] = field(default_factory=frozenset)

    def where(self) -> tuple[str, list[object]] | None:
        """A WHERE clause over `articles` (alias a), or None when nothing is filtered."""
        clauses: list[str] = []
        params: list[object] = []
        if self.since:
            clauses.append("a.published >= ?")
            params.append(self.since.isoformat())
        if self.until:
            clauses.append("a.published <= ?")
            params.append(self.until.isoformat())
        if self.sources:
            clauses.append(f"lower(a.source) IN ({','.join('?' * len(self.sources))})")
            params.extend(s.lower() for s in self.sources)
        if self.exclude_articles:
            clauses.append(f"a.id NOT IN ({','.join('?' * len(self.exclude_articles))})")
            params.extend(sorted(self.exclude_articles))
        return (" AND ".join(clauses), params) if clauses else None


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: a chunk of an article, with its sentences and scores."""

    article: Article
    chunk_id: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    score: float
    dense_score: float | None
    lexical_score: float | None

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


def fuse(rankings: list[list[tuple[int, float]]], weights: list[float]) -> dict[int, float]:
    """Weighted reciprocal-rank fusion of several ranked (id, score) lists."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, (item, _) in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + weight / (RRF_K + rank + 1)
    return fused


class Retriever:
    """Hybrid search over an index folder; follows new index generations as they appear."""

    def __init__(self, index_dir: Path | None = None, embedder: Embedder | None = None, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self._lock = threading.Lock()
        self._pointer: str | None = None
        self.store = self._open_current()
        self.embedder = embedder or load_embedder(self.store.manifest.model_id, threads=self.settings.query_threads)
        self.store.manifest.check_compatible(self.embedder.model_id, self.embedder.fingerprint)

    def _open_current(self) -> IndexStore:
        store = IndexStore.open(self.index_dir)
        self._pointer = store.path.name
        return store

    def refresh(self) -> IndexStore:
        """Switch to a newer generation if a build finished; searches in flight keep the old one."""
        pointer = (self.index_dir / CURRENT).read_text().strip()
        if pointer != self._pointer:
            with self._lock:
                if pointer != self._pointer:
                    self.store = self._open_current()
        return self.store

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, per_article: int = 1) -> list[Hit]:
        """The `k` best passages, at most `per_article` from each article (best first)."""
        k = max(1, min(k or self.settings.top_k, self.settings.max_k))
        store = self.refresh()
        where = (filters or Filters()).where()
        allowed = store.chunk_ids_where(*where) if where else None
        if allowed is not None and len(allowed) == 0:
            return []
        dense = store.search_dense(self.embedder.embed_query(query), CANDIDATES, allowed)
        lexical = store.search_lexical(query, CANDIDATES, allowed)
        fused = fuse([dense, lexical], [self.settings.dense_weight, self.settings.lexical_weight])
        ranked = sorted(fused, key=fused.get, reverse=True)
        rows = store.chunks(ranked[: max(CANDIDATES, k * 4)])
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        hits: list[Hit] = []
        taken: dict[str, int] = {}
        for chunk_id in ranked:
            row: ChunkRow | None = rows.get(chunk_id)
            if row is None or taken.get(row.article_id, 0) >= per_article:
                continue
            taken[row.article_id] = taken.get(row.article_id, 0) + 1
            hits.append(self._hit(store, row, fused[chunk_id], dense_scores.get(chunk_id), lexical_scores.get(chunk_id)))
            if len(hits) == k:
                break
        return hits

    def _hit(self, store: IndexStore, row: ChunkRow, score: float, dense: float | None, lexical: float | None) -> Hit:
        article = store.article(row.article_id)
        sentences = store.sentences(row.article_id)[row.first_sentence : row.last_sentence + 1]
        return Hit(article, row.id, row.start, row.end, tuple(sentences), score, dense, lexical)
