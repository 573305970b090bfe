"""The index on disk as generations: each a complete, read-only set of FAISS vectors, SQLite
rows (articles, chunks, sentences, near-duplicate groups) and two BM25 indexes, plus the manifest.

Layout of an index folder::

    CURRENT                  name of the live generation (switched with os.replace)
    .lock                    held by the one writer (rag.writelock)
    embedding-cache.sqlite   (model fingerprint, passage text) -> vector (rag.embedding_cache)
    browser.key              the key of the conversations the web page keeps in browsers (rag.ui_chat)
    generations/gen-000007/  manifest.json (rag.manifest), index.sqlite, vectors.faiss,
                             bm25-chunks/, bm25-articles/ (rag.lexical)

A build writes a complete new generation in a staging folder, renames it into place and only
then points CURRENT at it. A crash at any moment therefore leaves the previous generation
intact, and readers keep whatever generation they opened. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag import near_duplicates, vector_index
from rag.chunking import Chunk, indexable_text
from rag.corpus import Article
from rag.lexical import LexicalIndex, holds_phrase
from rag.manifest import FORMAT_VERSION, IndexProblem, Manifest

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
GENERATIONS = "generations"
KEEP_GENERATIONS = 2  # the live one and the one before it, for readers still using it

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, source TEXT, url TEXT,
    published TEXT, language TEXT, path TEXT NOT NULL, metadata TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT NOT NULL REFERENCES articles(id), ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, PRIMARY KEY (article_id, ordinal)
);
CREATE INDEX IF NOT EXISTS articles_by_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_by_source ON articles(source);
"""


class IndexWriteFailed(IndexProblem):
    """The disk refused a write (full, too large, read-only); the previous generation stays live."""


# ---------------------------------------------------------------- pointers

def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when no build ever finished."""
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    generation = index_dir / GENERATIONS / pointer.read_text().strip()
    if not (generation / "manifest.json").exists():
        raise IndexProblem(f"{pointer} points at {generation}, which is missing; rebuild: python -m rag index --full")
    return generation


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, text: str) -> None:
    staging = path.with_name(path.name + ".tmp")
    with open(staging, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)
    _fsync_dir(path.parent)


# ---------------------------------------------------------------- reading a generation

def read_article_hashes(generation: Path) -> dict[str, tuple[str, str]]:
    """id -> (sha256, path) of a generation: all an incremental build needs, without loading
    the vectors or the BM25 indexes."""
    with contextlib.closing(sqlite3.connect(f"file:{generation / 'index.sqlite'}?mode=ro", uri=True)) as db:
        return {i: (sha, path) for i, sha, path in db.execute("SELECT id, sha256, path FROM articles")}


@dataclass(frozen=True)
class ChunkRow:
    """A passage as the store's `chunks` table holds it: its article and its place in the article's text."""
    id: int
    article_id: str
    ordinal: int
    start: int
    end: int
    first_sentence: int
    last_sentence: int


def article_from_row(row: sqlite3.Row) -> Article:
    """The `Article` an `articles` table row holds."""
    published = dt.date.fromisoformat(row["published"]) if row["published"] else None
    return Article(
        id=row["id"], title=row["title"], text=row["text"], source=row["source"], url=row["url"],
        published=published, language=row["language"], path=row["path"],
        metadata=json.loads(row["metadata"]), sha256=row["sha256"],
    )


class IndexStore:
    """A read-only view of one generation: vectors, rows and the BM25 index."""

    def __init__(self, generation: Path):
        self.path = generation
        self.manifest = Manifest.read(generation / "manifest.json")
        self.manifest.check_format()
        self.db = sqlite3.connect(f"file:{generation / 'index.sqlite'}?mode=ro", uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        # SQLite's lower() folds ASCII only: "ÉLYSÉE Média" would never match its own name
        self.db.create_function("lower_text", 1, lambda text: text.lower() if isinstance(text, str) else text, deterministic=True)
        self.db.create_function("has_phrase", 3, holds_phrase, deterministic=True)  # `Filters.phrases`
        self.vectors = vector_index.open_vectors(generation)
        self.chunk_bm25 = LexicalIndex.load(generation / "bm25-chunks")
        self.article_bm25 = LexicalIndex.load(generation / "bm25-articles")

    @classmethod
    def open(cls, index_dir: Path) -> "IndexStore":
        """The index folder's current generation, opened for reading (IndexProblem when there is none).

        Example::

            store = IndexStore.open(Path("index"))
            store.manifest.articles, store.article("000_b0a4adb478896665.md").title
        """
        generation = current_generation(index_dir)
        if generation is None:
            raise IndexProblem(f"no index in {index_dir}; build one first: python -m rag index")
        return cls(generation)

    def close(self) -> None:
        """Close the generation's database (its files stay as they are)."""
        self.db.close()

    # -- rows
    def article(self, article_id: str) -> Article | None:
        """The indexed article with this id, its text included; None when the index has none."""
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", [article_id]).fetchone()
        return article_from_row(row) if row else None

    def article_list(self) -> list[dict[str, str | None]]:
        """Every article's id, title, source, date, url and file, without the texts (for listings)."""
        rows = self.db.execute("SELECT id, title, source, published, url, path FROM articles ORDER BY id")
        return [dict(row) for row in rows]

    @cached_property
    def main_language(self) -> str | None:
        """The language most of the archive's articles are in ('id', 'en'; None when none is known)."""
        row = self.db.execute("SELECT language FROM articles WHERE language IS NOT NULL "
                              "GROUP BY language ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def sources(self) -> list[str]:
        """Every outlet named by an article, sorted (the page's outlet filter offers these)."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source")]

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """The chunk rows (article, [start, end) in its text) of these ids, by id."""
        return {r["id"]: ChunkRow(*r) for r in self._rows_in("SELECT * FROM chunks WHERE id IN ({})", [int(i) for i in chunk_ids])}

    def _rows_in(self, sql: str, values: Sequence[Any]) -> Iterator[sqlite3.Row]:
        """The rows of `sql`, whose `IN ({})` takes `values`, 500 at a time (a phrase's articles
        may have thousands of chunks; SQLite before 3.32 takes 999 values a statement)."""
        for first in range(0, len(values), 500):
            batch = list(values[first : first + 500])
            yield from self.db.execute(sql.format(",".join("?" * len(batch))), batch)

    def sentences(self, article_id: str) -> list[tuple[int, int]]:
        """The article's sentences as [start, end) offsets into its text, in order (what citations point at)."""
        rows = self.db.execute('SELECT start, "end" FROM sentences WHERE article_id = ? ORDER BY ordinal', [article_id])
        return [(r[0], r[1]) for r in rows]

    def chunk_ids_of(self, article_ids: Sequence[str]) -> np.ndarray:
        """The ids of these articles' chunks (those `article_ids_where` selected: the clause,
        `has_phrase` reading texts, runs once)."""
        ids = [r[0] for r in self._rows_in("SELECT id FROM chunks WHERE article_id IN ({})", [str(a) for a in article_ids])]
        return np.array(sorted(ids), dtype=np.int64)

    # -- search
    def search_dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None, *,
                     filters=None, nprobe: int) -> list[tuple[int, float]]:
        """The `k` chunks most similar to `vector`, among the `allowed` chunk ids that `filters`
        (a `rag.retriever.Filters`) selected; `nprobe`: cells an IVF index scans (`rag.vector_index`)."""
        return self.vectors.search(vector, k, allowed, filters, nprobe)

    def search_lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """BM25 over chunks: which passage of an article matches best."""
        return self.chunk_bm25.search(query, k, allowed)

    def search_articles_lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """BM25 over whole articles: on factoid news questions the strongest single signal."""
        return self.article_bm25.search(query, k, allowed)

    def article_ids_where(self, sql: str, params: Sequence[Any]) -> np.ndarray:
        """Article ids matching a WHERE clause over `articles` (alias a; `Filters.where`)."""
        return np.array([r[0] for r in self.db.execute(f"SELECT a.id FROM articles a WHERE {sql}", list(params))], dtype=str)

    def published(self, article_ids: Sequence[str]) -> dict[str, str | None]:
        """Each article's publication date (ISO; None when it has none), by id."""
        return dict(self._rows_in("SELECT id, published FROM articles WHERE id IN ({})", article_ids))

    def years(self, article_ids: Sequence[str] | None = None) -> dict[str, int]:
        """How many of these articles (None: all) each year of publication has, oldest first;
        '' counts the undated ones, last.

        Example::

            store.years()   # {'2016': 3120, '2017': 1015, '': 5}
        """
        if article_ids is None:
            counts = dict(self.db.execute("SELECT COALESCE(substr(published, 1, 4), ''), COUNT(*) FROM articles GROUP BY 1"))
        else:
            counts = {}
            for published in self.published(article_ids).values():
                year = (published or "")[:4]
                counts[year] = counts.get(year, 0) + 1
        return {year: counts[year] for year in sorted(counts, key=lambda y: (not y, y))}

    def near_duplicates(self, article_ids: Sequence[str]) -> list[dict[str, str | None]]:
        """The copies of every story (`rag.near_duplicates`) that one of the given articles is a
        copy of: each group as {article id: its publication date (ISO) or None}, texts not read
        (this runs for every search's candidates)."""
        groups = near_duplicates.groups_of(self.db, article_ids)
        published = self.published([m for group in groups for m in group])
        return [{m: published.get(m) for m in group} for group in groups]

    def chunks_of(self, article_id: str) -> list[ChunkRow]:
        """The article's chunks, in order."""
        return [ChunkRow(*r) for r in self.db.execute("SELECT * FROM chunks WHERE article_id = ? ORDER BY ordinal", [article_id])]

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these chunks, one row each, in the order asked."""
        return self.vectors.vectors_of(list(chunk_ids))


# ---------------------------------------------------------------- writing a generation

class GenerationWriter:
    """Builds the next generation next to the live one; nothing is visible until `commit`."""

    def __init__(self, index_dir: Path, previous: Path | None, exact_up_to: int = 200_000,
                 milvus: tuple[str, str] | None = None):
        """`exact_up_to`: more chunks than this are searched through IVF (`rag.vector_index`);
        `milvus`: (URI, collection prefix) to keep the vectors in Milvus (`rag.milvus_vectors`)."""
        self.index_dir = index_dir
        self.exact_up_to = exact_up_to
        self.vectors = None
        self.committed = False
        root = index_dir / GENERATIONS
        root.mkdir(parents=True, exist_ok=True)
        for leftover in root.glob(".staging-*"):  # a build that was killed; we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        self.staging = root / f".staging-{os.getpid()}-{int(time.time())}"
        self.staging.mkdir()
        self.db = sqlite3.connect(self.staging / "index.sqlite")
        try:
            if previous is not None:
                self._copy_rows(previous)
            self.db.executescript(SCHEMA + near_duplicates.SCHEMA)
            if milvus is not None:
                from rag.milvus_vectors import MilvusVectors

                self.vectors = MilvusVectors.start(*milvus, previous, root)
            else:
                self.vectors = vector_index.FaissVectors.open(previous, writable=True) if previous else vector_index.FaissVectors()
        except BaseException:
            self.abort()
            raise

    def _copy_rows(self, previous: Path) -> None:
        """Start from the live generation's rows (it is only read, never changed)."""
        with contextlib.closing(sqlite3.connect(f"file:{previous / 'index.sqlite'}?mode=ro", uri=True)) as source:
            source.backup(self.db)

    def remove_articles(self, article_ids: Iterable[str]) -> None:
        """Drop these articles and their passages from the generation being written."""
        ids = list(article_ids)
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            chunk_ids = [r[0] for r in self.db.execute(f"SELECT id FROM chunks WHERE article_id IN ({marks})", batch)]
            self.vectors.remove(chunk_ids)
            for table, column in (("chunks", "article_id"), ("sentences", "article_id"), ("articles", "id")):
                self.db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", batch)
            near_duplicates.remove(self.db, batch)

    def add_article(self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert the article, its sentences (the citation targets) and its chunks with vectors."""
        sentences = sorted({span for chunk in chunks for span in chunk.sentences})
        ordinal = {span: i for i, span in enumerate(sentences)}
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)",
            [article.id, article.title, article.text, article.source, article.url,
             article.published_iso, article.language,
             article.path, json.dumps(article.metadata, ensure_ascii=False), article.sha256],
        )
        self.db.executemany("INSERT INTO sentences VALUES (?,?,?,?)", [(article.id, i, s, e) for (s, e), i in ordinal.items()])
        chunk_ids = []
        for chunk in chunks:
            cursor = self.db.execute(
                'INSERT INTO chunks (article_id, ordinal, start, "end", first_sentence, last_sentence) VALUES (?,?,?,?,?,?)',
                [article.id, chunk.ordinal, chunk.start, chunk.end, ordinal[chunk.sentences[0]], ordinal[chunk.sentences[-1]]],
            )
            chunk_ids.append(cursor.lastrowid)
        if chunk_ids:
            self.vectors.add(article, chunk_ids, vectors)
        near_duplicates.add(self.db, article.id, f"{article.title}\n{article.text}")

    def _write_bm25(self, target: Path) -> None:
        """Rebuild both BM25 indexes from the rows (bm25s has no incremental update; it takes seconds)."""
        chunks = self.db.execute(
            'SELECT c.id, a.title, substr(a.text, c.start + 1, c."end" - c.start) FROM chunks c '
            "JOIN articles a ON a.id = c.article_id ORDER BY c.id"
        ).fetchall()
        LexicalIndex.build([indexable_text(t, x) for _, t, x in chunks], np.array([r[0] for r in chunks], dtype=np.int64)).save(target / "bm25-chunks")
        articles = self.db.execute("SELECT id, title, text FROM articles ORDER BY id").fetchall()
        LexicalIndex.build([indexable_text(t, x) for _, t, x in articles], np.array([r[0] for r in articles], dtype=str)).save(target / "bm25-articles")

    def commit(self, manifest_fields: dict[str, Any]) -> Path:
        """Write everything, make it durable, then switch CURRENT to the new generation."""
        self.db.commit()
        counts = self.db.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks)").fetchone()
        self._write_bm25(self.staging)
        self.db.close()
        kind = self.vectors.save(self.staging, manifest_fields["dimension"], self.exact_up_to)
        name = _next_generation_name(self.index_dir)
        manifest = Manifest(
            format_version=FORMAT_VERSION, generation=name, articles=counts[0], chunks=counts[1],
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            vector_store=self.vectors.store, vector_index=kind, **manifest_fields,
        )
        manifest.write(self.staging / "manifest.json")
        for path in self.staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        target = self.index_dir / GENERATIONS / name
        os.replace(self.staging, target)
        _fsync_dir(target.parent)
        try:
            _write_atomically(self.index_dir / CURRENT, name)
        except BaseException:
            if current_generation(self.index_dir) != target:  # never switched to: drop it, the live one is untouched
                self.vectors.abort()
                shutil.rmtree(target, ignore_errors=True)
            raise
        self.committed = True  # from here on the generation is live: nothing may undo it
        try:
            self.vectors.went_live()
            _prune_generations(self.index_dir, keep=name)
        except Exception as error:  # the build succeeded; tidying up is retried by the next one
            log.warning("generation %s is live, but moving the alias or pruning old generations failed: %s", name, error)
        return target

    def abort(self) -> None:
        """Undo a build that failed before its generation went live (after that, nothing to undo)."""
        if self.committed:
            return
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        if self.vectors is not None:
            self.vectors.abort()
        shutil.rmtree(self.staging, ignore_errors=True)


def _next_generation_name(index_dir: Path) -> str:
    existing = [int(p.name.split("-")[1]) for p in (index_dir / GENERATIONS).glob("gen-*") if p.name.split("-")[1].isdigit()]
    return f"gen-{max(existing, default=0) + 1:06d}"


def _prune_generations(index_dir: Path, keep: str) -> None:
    """Delete all but the newest generations. Open readers keep working: their files stay open."""
    generations = sorted(p for p in (index_dir / GENERATIONS).glob("gen-*") if p.is_dir())
    for old in generations[:-KEEP_GENERATIONS]:
        if old.name != keep:
            vector_index.drop(old)
            shutil.rmtree(old, ignore_errors=True)
