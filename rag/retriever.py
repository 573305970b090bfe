"""Find the passages that answer a query: whole-article BM25 and dense (FAISS) similarity
mixed by score, one best passage per article; near-duplicate copies of one story are shown
once, as the earliest published copy, with the others as `also_in`.

BM25 nails names, numbers and rare words, which factoid questions about news are full of,
and on the dev questions it is the stronger signal; dense retrieval adds paraphrase and
crosses languages. A weighted sum of normalised scores lets the stronger signal lead, where
reciprocal-rank fusion would give the weaker one an equal vote. `benchmarks/bench_quality.py`
shows each side alone next to the fusion.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.config import Settings, get_settings
from rag.corpus import Article
from rag.documents import page_of
from rag.embeddings import Embedder, load_embedder
from rag.language import question_language
from rag.lexical import phrase_pattern
from rag.manifest import IndexMismatch, IndexProblem
from rag.store import CURRENT, ChunkRow, IndexStore

log = logging.getLogger(__name__)

CANDIDATES = 200  # candidates taken from each side before fusion
EXHAUSTIVE_UP_TO = 30_000  # passages: a phrase held by articles of at most so many makes each of them a candidate
ORDERS = ("relevance", "newest", "oldest")  # how `Retriever.search` lists its articles
EMPTY_QUERY = "the query is empty: give words to search for"


def _day(name: str, value: object) -> dt.date | None:
    """A filter's date as a day: a `datetime` counts as its day (its time compared with dates
    left out the day itself), an ISO string is read; anything else is a TypeError naming it."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"Filters({name}={value!r}): write the date as YYYY-MM-DD") from None
    raise TypeError(f"Filters({name}=...) takes a date, got {value!r}")


@dataclass(frozen=True)
class Filters:
    """Restrict a search to a date range (both ends included, each a `date`, a `datetime` read as
    its day, or "YYYY-MM-DD"; an article without a date is left out by either end), to some sources (outlet names, any case), to articles holding some
    phrases (each of them, as whole words, any case: `rag.lexical.phrase_pattern`) and none of
    the `excluded_phrases`, or away from some articles. A range that ends before it starts is a ValueError that says so.

    Example::

        Filters(since=dt.date(2023, 7, 1), until=dt.date(2023, 7, 31), sources=("Kompas", "Tempo"), phrases=("banjir rob",))
    """

    since: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()
    exclude_articles: frozenset[str] = field(default_factory=frozenset)
    phrases: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            object.__setattr__(self, name, _day(name, getattr(self, name)))
        for name, what in (("sources", "outlet names"), ("phrases", "phrases"), ("excluded_phrases", "phrases")):  # "Kompas": one
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
            if not all(isinstance(item, str) for item in getattr(self, name)):
                raise TypeError(f"Filters({name}=...) takes {what}, got {value!r}")
        if not all(phrase.split() for phrase in self.phrases + self.excluded_phrases):
            raise ValueError("a phrase to find is blank: give it a word")
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"the period ends (until {self.until}) before it starts (since {self.since}): swap the two dates")

    @property
    def narrows(self) -> bool:
        """Whether a user chose any of them (a period, outlets, phrases); leaving articles out is no choice of theirs."""
        return bool(self.since or self.until or self.sources or self.phrases or self.excluded_phrases)

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
            clauses.append(f"lower_text(a.source) IN ({','.join('?' * len(self.sources))})")  # IndexStore's Python lower()
            params.extend(s.lower() for s in self.sources)
        if self.exclude_articles:
            clauses.append(f"a.id NOT IN ({','.join('?' * len(self.exclude_articles))})")
            params.extend(sorted(self.exclude_articles))
        for phrase in self.phrases:
            clauses.append("has_phrase(a.title, a.text, ?)")  # IndexStore's `rag.lexical.holds_phrase`
            params.append(phrase)
        for phrase in self.excluded_phrases:
            clauses.append("NOT has_phrase(a.title, a.text, ?)")
            params.append(phrase)
        return (" AND ".join(clauses), params) if clauses else None


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: a chunk of an article, with its sentences and scores.

    Attributes:
        article: the whole article (`rag.corpus.Article`); `text` is the passage's part of it.
        chunk_id: the chunk's id in the index.
        start, end: the passage's character offsets in `article.text`.
        sentences: (start, end) of each of its sentences, offsets into `article.text`.
        score: the fused score the hits are ranked by (higher is better).
        dense_score, lexical_score: the cosine similarity of the question's and the passage's
            vectors, and the BM25 score (None when that side did not find the passage).
        also_in: the same story's other copies in the archive, whatever the filters.

    Example::

        hit = Retriever("index").search("juru bicara Kremlin", k=1)[0]
        hit.article.title, hit.text[:60], round(hit.score, 3)
    """

    article: Article
    chunk_id: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    score: float
    dense_score: float | None
    lexical_score: float | None
    also_in: tuple[Article, ...] = ()  # the story's other copies, whatever the filters (rag.near_duplicates)

    @property
    def text(self) -> str:
        """The passage: the article's text from `start` to `end`."""
        return self.article.text[self.start : self.end]

    def copies(self) -> list[dict]:
        """The other copies of this story: id, title, outlet, date and URL of each."""
        return [{"article_id": a.id, "title": a.title, "source": a.source, "published": a.published_iso, "url": a.url}
                for a in self.also_in]

    def to_json(self, rank: int) -> dict:
        """The hit as `rag search --json` and `GET /api/search` return it, at `rank` (1 = best): the
        article's fields, the passage and its [start, end) in the article's text (and the PDF page
        it starts on, else None), the scores, and the other outlets' copies of the story (`also_in`)."""
        article = self.article
        return {
            "rank": rank, "article_id": article.id, "title": article.title, "source": article.source,
            "url": article.url, "published": article.published_iso, "language": article.language,
            "text": self.text, "start": self.start, "end": self.end, "page": page_of(article, self.start), "score": self.score,
            "dense_score": self.dense_score, "lexical_score": self.lexical_score, "also_in": self.copies(),
        }


def rescale(scores: dict, floor: float | None = None) -> dict:
    """Map scores onto 0..1 so two unrelated scales can be mixed: the best becomes 1, the lowest
    candidate 0 (min-max), or `floor` 0 when given (BM25 scores are then divided by the best)."""
    if not scores:
        return {}
    high, low = max(scores.values()), min(scores.values()) if floor is None else floor
    return {key: (value - low) / (high - low) if high > low else 1.0 for key, value in scores.items()}


def best_per_article(ranking: list[tuple[int, float]], rows: dict[int, ChunkRow]) -> dict[str, float]:
    """Each article's best score among its chunks' (`ranking`: chunk id, score)."""
    best: dict[str, float] = {}
    for chunk_id, score in ranking:
        article = rows[chunk_id].article_id
        best[article] = max(best.get(article, score), score)
    return best


def one_per_story(store: IndexStore, scores: dict[str, float], allowed: np.ndarray | None) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
    """Fold near-duplicate copies of a story (`rag.near_duplicates`) into its earliest published
    copy among the `allowed` articles (None: all), scored as the best of them. Returns the new
    scores and, for each kept copy, the ids of the others.

    Example::

        scores, copies = one_per_story(store, {"antara.md": 0.9, "kompas.md": 0.8}, None)
        # {"antara.md": 0.9}, {"antara.md": ("kompas.md",)}
    """
    scores, copies = dict(scores), {}
    groups = store.near_duplicates(list(scores))
    permitted = set(allowed.tolist()) if groups and allowed is not None else None  # built only when a story has copies
    for members in groups:
        shown = [m for m in members if permitted is None or m in permitted]
        earliest = min(shown, key=lambda m: (members[m] or "9999-12-31", m))  # ISO dates sort as dates
        scores[earliest] = max(scores.pop(m, 0.0) for m in members)
        copies[earliest] = tuple(m for m in members if m != earliest)
    return scores, copies


def by_date(store: IndexStore, article_ids: list[str], newest: bool = True) -> list[str]:
    """`article_ids` by publication date, the newest (or the oldest) first; undated ones after
    them, in their order.

    Example::

        by_date(store, ["lama.md", "baru.md", "tanpa-tanggal.md"])   # ['baru.md', 'lama.md', 'tanpa-tanggal.md']
    """
    dates = store.published(article_ids)
    dated = sorted((a for a in article_ids if dates.get(a)), key=lambda a: dates[a], reverse=newest)  # ISO dates sort as dates
    return dated + [a for a in article_ids if not dates.get(a)]


class Retriever:
    """Hybrid search over an index folder; follows new index generations as they appear.

    Args:
        index_dir: the index folder (default: `RAG_INDEX_DIR`, else `index/`).
        embedder: the query embedder; default: the model the index was built with, loaded in
            the index's family (int8 or exact) and the fastest precision this CPU offers.
        settings: `rag.config.Settings` (default: from `RAG_*` variables).

    Example::

        from rag.retriever import Filters, Retriever
        retriever = Retriever("index")
        hits = retriever.search("Siapa juru bicara Kremlin?", k=3, filters=Filters(sources=("CNN Indonesia",)))
        hits[0].article.title, hits[0].text[:80]
    """

    def __init__(self, index_dir: Path | None = None, embedder: Embedder | None = None, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self._lock = threading.Lock()
        self._pointer: str | None = None
        self._retired: IndexStore | None = None  # the generation before the live one, for searches still in flight
        self._kept_because: str | None = None  # why a newer generation could not be opened, as last logged
        self.store = self._open_current()
        manifest = self.store.manifest  # queries are embedded in the index's family (int8 or exact)
        self.embedder = embedder or load_embedder(manifest.model_id, self.settings.query_threads,
                                                  self.settings.embed_precision, self.settings.device)
        self.embedder.match(manifest.embedder_variant)
        # the last queries' vectors: an answer that reads on in the top article asks for its query's again
        self._query_vector = functools.lru_cache(maxsize=64)(self.embedder.embed_query)
        manifest.check_compatible(self.embedder.model_id, self.embedder.fingerprint, self.embedder.family)

    def close(self) -> None:
        """Close the index generations it holds open (their files stay); a search after it fails.

        Example::

            with Retriever("index") as retriever:   # closed at the end of the block
                hits = retriever.search("perluasan NATO")
        """
        with self._lock:
            for store in (self._retired, self.store):
                if store is not None:
                    store.close()
            self._retired = None

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _keep(self, why: str) -> None:
        """Say in the log, once rather than at every question, why the open generation goes on answering."""
        if why != self._kept_because:
            log.error("keeping generation %s: %s", self.store.path.name, why)
            self._kept_because = why

    def _open_current(self) -> IndexStore:
        store = IndexStore.open(self.index_dir)
        self._pointer = store.path.name
        return store

    def refresh(self) -> IndexStore:
        """Switch to a newer generation if a build finished. Searches in flight keep the old one,
        which is closed at the switch after next (a search lasts milliseconds, a build seconds).
        When the index folder cannot say which is newest (moved, emptied, restored under a running
        server) or the newest cannot be opened, the open generation goes on answering (said once in the log)."""
        try:
            pointer = (self.index_dir / CURRENT).read_text().strip()
        except OSError as error:
            self._keep(f"{self.index_dir / CURRENT} cannot be read ({error.strerror or error})")
            return self.store
        if pointer != self._pointer:
            with self._lock:
                if pointer != self._pointer:
                    try:
                        store = self._open_current()
                    except (IndexProblem, OSError) as error:
                        self._keep(f"the newest, {pointer}, cannot be opened: {error}")
                        self._pointer = pointer  # not tried at every question: a generation never changes, a build makes a new one
                        return self.store
                    try:  # a generation built with vectors of another family cannot be searched with ours
                        store.manifest.check_compatible(self.embedder.model_id, self.embedder.fingerprint, self.embedder.family)
                    except IndexMismatch as error:
                        log.error("keeping generation %s: the new one cannot be searched here: %s", self.store.path.name, error)
                        store.close()
                        return self.store
                    if self._retired is not None:
                        self._retired.close()
                    self._retired, self.store = self.store, store
        return self.store

    def search(self, query: str, k: int | None = None, filters: Filters | None = None,
               order: str = "relevance") -> list[Hit]:
        """The `k` best articles for the query, each with its best passage, best first (or by date).

        Articles are ranked by a weighted sum of their BM25 score (whole article, divided by the
        best) and their best chunk's cosine similarity (min-max over the candidates); the
        weight (`lexical_share`) was tuned on the train questions. Within an article, the passage
        is the chunk with the best mix of the same two signals. A story several outlets carried
        comes once, its other copies in `Hit.also_in`. When `filters` ask for phrases, every
        article holding them is a candidate (up to `EXHAUSTIVE_UP_TO` passages; else the 200 best
        of each side, as without).

        Args:
            query: a question or keywords, in any language.
            k: how many articles, 1 or more (default `RAG_TOP_K`; at most `RAG_MAX_K`).
            filters: a date range, outlets, phrases, articles to leave out (`Filters`); None: all.
            order: 'relevance', or 'newest' / 'oldest': the `k` best by date (undated ones last);
                with phrases, the newest / oldest `k` of every article holding them.

        Returns:
            `Hit`s, best first: the article, the passage's [start, end) in its text, the
            passage's sentences and the scores.

        Raises:
            ValueError: a blank query, `k` below 1, or an `order` not in `ORDERS`.

        Example::

            [hit.article.id for hit in retriever.search("banjir Demak", k=5)]
            retriever.search("banjir", k=50, filters=Filters(phrases=("Demak",)), order="newest")   # a timeline
        """
        return self._search(query, k, filters, order)[0]

    def search_counted(self, query: str, k: int | None = None, filters: Filters | None = None,
                       order: str = "relevance") -> tuple[list[Hit], dict[str, int]]:
        """`search`, and how many articles the `filters` leave each year (`IndexStore.years`: ''
        for the undated; every copy of a story counted; all the index holds without filters),
        from the same pass over the same index generation: a search box's "phrases in quotes"
        are counted so (`rag.search.search_archive`).

        Example::

            hits, years = retriever.search_counted("Kremlin", 10, Filters(phrases=("Dmitry Peskov",)))
            sum(years.values())   # how many articles name him
        """
        hits, store, allowed = self._search(query, k, filters, order)
        return hits, store.years(None if allowed is None else allowed.tolist())

    def _search(self, query: str, k: int | None, filters: Filters | None,
                order: str) -> tuple[list[Hit], IndexStore, np.ndarray | None]:
        """`search`'s hits, the generation they come from and the articles the filters left
        (None without filters), for `search_counted` to count without a second pass."""
        if not query.strip():
            raise ValueError(EMPTY_QUERY)
        if k is not None and k < 1:
            raise ValueError(f"k is how many articles to return: 1 or more, got {k}")
        if order not in ORDERS:
            raise ValueError(f"order {order!r}: use one of {', '.join(ORDERS)}")
        k = min(k or self.settings.top_k, self.settings.max_k)
        store = self.refresh()
        filters = filters or Filters()
        where = filters.where()
        allowed_articles = store.article_ids_where(*where) if where else None
        allowed_chunks = store.chunk_ids_of(allowed_articles) if where else None
        if allowed_chunks is not None and len(allowed_chunks) == 0:
            return [], store, allowed_articles
        every = bool(filters.phrases) and len(allowed_chunks) <= EXHAUSTIVE_UP_TO  # a known set: rank all of it
        chunk_pool, article_pool = (len(allowed_chunks), len(allowed_articles)) if every else (CANDIDATES, CANDIDATES)
        vector = self._query_vector(query)
        dense = store.search_dense(vector, chunk_pool, allowed_chunks, filters=filters, nprobe=self.settings.ivf_nprobe)
        lexical_chunks = dict(store.search_lexical(query, chunk_pool, allowed_chunks))
        article_bm25 = dict(store.search_articles_lexical(query, article_pool, allowed_articles))
        rows = store.chunks([chunk_id for chunk_id, _ in dense])
        article_dense = best_per_article(dense, rows)
        share = self.lexical_share(query, store)
        dense_part, lexical_part = rescale(article_dense), rescale(article_bm25, floor=0.0)
        fused = {a: share * lexical_part.get(a, 0.0) + (1 - share) * dense_part.get(a, 0.0)
                 for a in set(dense_part) | set(lexical_part)}
        fused, copies = one_per_story(store, fused, allowed_articles)
        best_articles = sorted(fused, key=fused.__getitem__, reverse=True)
        if order != "relevance":
            best_articles = by_date(store, best_articles if every else best_articles[:k], newest=order == "newest")
        best_articles = best_articles[:k]
        return [replace(self._best_passage(store, article_id, vector, lexical_chunks, share, fused[article_id], article_bm25.get(article_id),
                                           filters.phrases),
                        also_in=tuple(store.article(copy) for copy in copies.get(article_id, ())))  # only the k shown
                for article_id in best_articles], store, allowed_articles

    def lexical_share(self, query: str, store: IndexStore) -> float:
        """BM25's share of the score: `lexical_weight`, or `lexical_weight_cross_lingual` when the
        query is in another language than most articles (both tuned on train questions,
        `benchmarks/tune_on_train.py`; across languages BM25 matches only names and numbers)."""
        language, main = question_language(query), store.main_language
        crossing = language is not None and main is not None and language != main
        return self.settings.lexical_weight_cross_lingual if crossing else self.settings.lexical_weight

    def next_passages(self, hit: Hit, query: str, count: int = 1) -> list[Hit]:
        """Up to `count` passages of `hit`'s article that `search` ranks after `hit`'s (by the same
        mix of similarity to `query` and BM25 evidence), best first, with `hit`'s scores for the
        article; none for an article of one passage.

        Example::

            top = retriever.search("Kantor berita apa yang mengutip ucapan Lavrov?", 3)[0]
            retriever.next_passages(top, "Kantor berita apa yang mengutip ucapan Lavrov?")[0].text   # '... kantor berita TASS ...'
        """
        if count < 1:
            return []
        store = self.refresh()
        chunks = store.chunks_of(hit.article.id)
        if len(chunks) < 2:
            return []
        share = self.lexical_share(query, store)
        ranked = self._ranked_chunks(store, chunks, self._query_vector(query),
                                     dict(store.search_lexical(query, CANDIDATES, None)), share)
        after = [(row, similarity) for row, similarity in ranked if row.id != hit.chunk_id][:count]
        return [replace(self._hit(store, row, hit.score, similarity, hit.lexical_score), also_in=hit.also_in)
                for row, similarity in after]

    def _best_passage(self, store: IndexStore, article_id: str, vector, lexical_chunks: dict[int, float],
                      share: float, score: float, lexical: float | None, phrases: tuple[str, ...] = ()) -> Hit:
        """The article's chunk that best mixes similarity to the query and BM25 evidence; with
        `phrases`, the best of those that hold one (the reason the article is listed)."""
        ranked = self._ranked_chunks(store, store.chunks_of(article_id), vector, lexical_chunks, share)
        if phrases:
            text = store.article(article_id).text
            ranked = [r for r in ranked if any(phrase_pattern(p).search(text, r[0].start, r[0].end) for p in phrases)] or ranked
        row, similarity = ranked[0]
        return self._hit(store, row, score, similarity, lexical)

    def _ranked_chunks(self, store: IndexStore, chunks: list[ChunkRow], vector, lexical_chunks: dict[int, float],
                       share: float) -> list[tuple[ChunkRow, float]]:
        """An article's `chunks` and their similarity to the query, best first by the mix of
        similarity and BM25 evidence (`share` of it, scaled by the article's best chunk)."""
        similarity = store.chunk_vectors([c.id for c in chunks]) @ vector
        top_lexical = max((lexical_chunks.get(c.id, 0.0) for c in chunks), default=0.0) or 1.0
        mixed = [share * lexical_chunks.get(c.id, 0.0) / top_lexical + (1 - share) * float(s) for c, s in zip(chunks, similarity)]
        order = sorted(range(len(chunks)), key=mixed.__getitem__, reverse=True)
        return [(chunks[i], float(similarity[i])) for i in order]

    def _hit(self, store: IndexStore, row: ChunkRow, score: float, dense: float | None, lexical: float | None) -> Hit:
        article = store.article(row.article_id)
        sentences = store.sentences(row.article_id)[row.first_sentence : row.last_sentence + 1]
        return Hit(article, row.id, row.start, row.end, tuple(sentences), score, dense, lexical)
