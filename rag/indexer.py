"""Build or update the index from the corpus: diff by content hash, embed only what changed.

Safe to interrupt: vectors go to the embedding cache batch by batch, and the new generation
becomes visible only when it is complete (see `rag.store`). Run it again and it picks up
where it stopped, reusing every vector already computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.chunking import Chunk, chunk_article, indexable_text
from rag.config import Settings
from rag.corpus import Article, CorpusScan, load_corpus
from rag.embeddings import Embedder, vector_family
from rag.embedding_cache import EmbeddingCache
from rag.manifest import IndexMismatch, IndexProblem, Manifest
from rag.problems import Problem
from rag.milvus_vectors import milvus_uri
from rag.store import GenerationWriter, IndexWriteFailed, current_generation, read_article_hashes
from rag.writelock import writer_lock

log = logging.getLogger("rag.indexer")
ProgressCallback = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build did; printed by the CLI and shown by the UI.

    Attributes:
        added, updated, removed, unchanged, failed: articles in each case (failed: files that
            could not be read; their articles keep what the index held).
        chunks_embedded, chunks_reused: passages embedded now, and taken from the embedding cache.
        seconds: how long the build took.
        generation: the new index generation's name (None when nothing changed).
        problems: what was wrong with each file skipped (`rag.problems.Problem`).
        ignored: files in the corpus folder that are not articles (by their suffix).
    """

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    generation: str | None = None
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: articles added, updated, removed, unchanged, failed; chunks embedded and reused; time."""
        return (
            f"articles: {self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.failed} failed; chunks: {self.chunks_embedded} embedded, "
            f"{self.chunks_reused} reused from cache; {self.seconds:.1f} s"
            + (f"; generation {self.generation}" if self.generation else "; index unchanged")
        )


def passage_key(title: str, chunk_text: str) -> str:
    """A passage's key in the embedding cache (with the model's fingerprint): the hash of what the
    model reads for it (`indexable_text`)."""
    return text_hash(indexable_text(title, chunk_text))


def text_hash(text: str) -> str:
    """sha256 of a chunk's text: the embedding cache's key (with the model's fingerprint)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Progress:
    """A tqdm bar on a terminal; plain log lines every few seconds otherwise (and a UI callback)."""

    def __init__(self, total: int, callback: ProgressCallback | None):
        self.total, self.done, self.callback = total, 0, callback
        self.started = self.last_log = time.monotonic()
        self.bar = tqdm(total=total, unit="chunk", desc="embedding", disable=not sys.stderr.isatty() or total == 0)

    def advance(self, count: int) -> None:
        self.done += count
        self.bar.update(count)
        if self.callback:
            self.callback(self.done, self.total)
        now = time.monotonic()
        if self.bar.disable and (now - self.last_log > 5 or self.done == self.total):
            rate = self.done / max(now - self.started, 1e-9)
            log.info("embedded %d/%d chunks (%.1f chunks/s)", self.done, self.total, rate)
            self.last_log = now

    def close(self) -> None:
        self.bar.close()


def _embed_all(
    pending: list[tuple[Article, list[Chunk]]], embedder: Embedder, cache: EmbeddingCache,
    batch_size: int, report: BuildReport, callback: ProgressCallback | None, ray: str | None = None,
) -> dict[str, np.ndarray]:
    """Vectors for every chunk text, from the cache where possible, else embedded (here, or on
    the Ray cluster at `ray`) and cached batch by batch."""
    texts = {text_hash(t): t for article, chunks in pending for t in (indexable_text(article.title, c.text) for c in chunks)}
    vectors = cache.get(list(texts))
    missing = [h for h in texts if h not in vectors]
    report.chunks_reused = len(texts) - len(missing)
    missing.sort(key=lambda h: len(texts[h]))  # similar lengths batch with little padding
    progress = _Progress(len(missing), callback)
    try:
        for batch, embedded in _embedded_batches(missing, texts, embedder, batch_size, ray):
            cache.put(batch, embedded)
            vectors.update(zip(batch, embedded))
            report.chunks_embedded += len(batch)
            progress.advance(len(batch))
    finally:
        progress.close()
    return vectors


def _embedded_batches(missing: list[str], texts: dict[str, str], embedder: Embedder, batch_size: int,
                      ray: str | None) -> Iterator[tuple[list[str], np.ndarray]]:
    """(hashes, vectors) of the missing texts, batch by batch: on the Ray cluster, or here."""
    if not missing:
        return
    if ray is not None:
        from rag.ray_embedding import embed_on_ray

        yield from embed_on_ray(ray, {h: texts[h] for h in missing}, embedder, batch_size)
        return
    step = embedder.passages_per_call(batch_size)
    for start in range(0, len(missing), step):
        batch = missing[start : start + step]
        yield batch, embedder.embed_passages([texts[h] for h in batch], batch_size=batch_size)


def _write_generation(
    settings: Settings, embedder: Embedder, previous: Path | None, pending: list[tuple[Article, list[Chunk]]],
    removed: list[str], report: BuildReport, progress: ProgressCallback | None, ray: str | None,
) -> Path:
    """Embed what is pending and write the next generation; on any failure nothing becomes visible."""
    with contextlib.closing(EmbeddingCache(settings.index_dir / "embedding-cache.sqlite", embedder.fingerprint)) as cache:
        vectors = _embed_all(pending, embedder, cache, settings.embed_batch_size, report, progress, ray)
    milvus = (milvus_uri(settings), settings.milvus_collection) if settings.vector_store == "milvus" else None
    writer = GenerationWriter(settings.index_dir, previous, settings.exact_search_max_chunks, milvus)
    try:
        writer.remove_articles(removed)
        for article, chunks in pending:
            matrix = np.stack([vectors[passage_key(article.title, c.text)] for c in chunks]) if chunks else np.zeros((0, embedder.dimension), np.float32)
            writer.add_article(article, chunks, matrix)
        return writer.commit({
            "model_id": embedder.model_id, "dimension": embedder.dimension,
            "query_prefix": embedder.query_prefix, "passage_prefix": embedder.passage_prefix,
            "fingerprint": embedder.fingerprint, "embedder_variant": embedder.variant, "embedder_device": embedder.device,
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
        })
    except BaseException:
        writer.abort()
        raise


def _refuse_to_drop_unread(scan: CorpusScan, previous: Path) -> None:
    """A full rewrite keeps only what it reads: refuse it while a folder cannot be listed, or a
    file the index holds articles from cannot be read now, whose articles it would drop (an
    incremental update keeps them)."""
    if scan.unread_folders:
        raise IndexProblem(f"{', '.join(scan.unread_folders)}: cannot be read, and rewriting the whole index would drop the articles "
                           "indexed from there; fix the folder's permissions and build again (the current index stays as it is)")
    held, read = read_article_hashes(previous), {article.id for article in scan.articles}
    unread = scan.unread(path for _, path in held.values())
    if lost := sorted({path for article_id, (_, path) in held.items() if path in unread and article_id not in read}):
        named = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise IndexProblem(f"{named}: cannot be read now (said above), and rewriting the whole index would drop the articles "
                           "indexed from there; fix the file, or delete it to drop them, and build again (the current index stays as it is)")


def build_index(settings: Settings, embedder: Embedder, full: bool = False, progress: ProgressCallback | None = None,
                ray: str | None = None) -> BuildReport:
    """Bring the index in `settings.index_dir` up to date with `settings.corpus_dir`.

    Articles whose content hash is unchanged are left alone; new and changed ones are
    re-chunked and embedded; articles whose file is gone are removed. An article whose file
    now fails to read keeps what the index already holds for it. `full` ignores the previous
    generation (vectors still come from the cache when the text and model are the same).
    `ray` ('auto' or HOST:PORT) embeds the new passages on that Ray cluster (`rag.ray_embedding`).

    Args:
        settings: where the corpus and the index are, and how to build (`rag.config.Settings`).
        embedder: the embedding model (`rag.embeddings.embedder_for(settings)`).
        full: rebuild every article, not only the changed ones.
        progress: called with (passages embedded, passages to embed) as the build goes.
        ray: a Ray cluster to embed on ('auto', or its HOST:PORT); None embeds here.

    Returns:
        A `BuildReport`; the new generation is live once it returns (readers switch to it at
        their next `Retriever.refresh()`).

    Raises:
        IndexLocked: another build holds the index.
        IndexProblem: the index cannot be read or written (the message says what to do); the
            generation that was live stays live.

    Example::

        settings = get_settings(corpus_dir="corpus", index_dir="index")
        print(build_index(settings, embedder_for(settings)).summary())
        # articles: 1 added, 0 updated, 0 removed, 0 unchanged, 0 failed; chunks: 5 embedded, ...
    """
    started = time.monotonic()
    index_dir = settings.index_dir
    with writer_lock(index_dir):
        scan = load_corpus(settings.corpus_dir, settings.max_file_bytes)
        report = BuildReport(problems=scan.problems, ignored=scan.ignored, failed=len(scan.failed_paths))
        for problem in scan.problems:
            log.warning("skipped: %s", problem)

        try:
            previous = current_generation(index_dir)
        except IndexProblem:
            if not full:
                raise
            previous = None  # a full rebuild repairs a broken pointer
        known: dict[str, tuple[str, str]] = {}
        if previous is not None:
            manifest = Manifest.read(previous / "manifest.json")
            embedder.match(manifest.embedder_variant)  # `auto` keeps the index's family, even for a full rebuild
            rewrite = rewritten_whole(manifest, settings)
            if full or rewrite:
                _refuse_to_drop_unread(scan, previous)
                if not full:
                    log.info("%s", rewrite)
                previous = None
            else:
                manifest.check_compatible(embedder.model_id, embedder.fingerprint, embedder.family,
                                          settings.chunk_tokens, settings.chunk_overlap)
                known = read_article_hashes(previous)

        changes = corpus_changes(scan, known)
        added, changed, removed = changes.added, changes.changed, changes.removed
        report.added, report.updated, report.removed, report.unchanged = len(added), len(changed), len(removed), changes.unchanged
        if previous is not None and not (added or changed or removed):
            report.seconds = time.monotonic() - started
            return report

        pending = [(a, chunk_article(a, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)) for a in added + changed]
        try:
            generation = _write_generation(settings, embedder, previous, pending, [a.id for a in changed] + removed, report, progress, ray)
        except (OSError, sqlite3.Error) as error:
            free_mib = shutil.disk_usage(index_dir).free / 2**20
            raise IndexWriteFailed(
                f"could not write the index in {index_dir} ({error}; {free_mib:.1f} MiB free on that disk); "
                "the previous index is still the live one. "
                "Free disk space (or fix the folder's permissions) and run the build again: it resumes."
            ) from error
        report.generation = generation.name
        _prune_cache(settings, embedder, generation)
        report.seconds = time.monotonic() - started
        return report


@dataclass
class CorpusChanges:
    """How the corpus differs from an index: the articles an update adds, re-embeds (`changed`: new
    text or metadata) and removes (ids; those of files that could not be read now are kept), and
    how many it leaves as they are."""

    added: list[Article]
    changed: list[Article]
    removed: list[str]
    unchanged: int

    @property
    def any(self) -> bool:
        """Did any article appear, change or go?"""
        return bool(self.added or self.changed or self.removed)


def corpus_changes(scan: CorpusScan, known: dict[str, tuple[str, str]]) -> CorpusChanges:
    """What an update would do: `scan` (the corpus now) against `known` (the index's article ids
    and their (hash, file), `read_article_hashes`).

    Example::

        changes = corpus_changes(load_corpus(Path("corpus")), read_article_hashes(current_generation(Path("index"))))
        len(changes.added), len(changes.removed)   # (1, 0)
    """
    current = {article.id for article in scan.articles}
    changed = [a for a in scan.articles if a.id in known and known[a.id] != (a.sha256, a.path)]  # a record moved to another file too
    added = [a for a in scan.articles if a.id not in known]
    unread = scan.unread(path for _, path in known.values())
    removed = [i for i, (_, path) in known.items() if i not in current and path not in unread]
    return CorpusChanges(added, changed, removed, len(current) - len(added) - len(changed))


@dataclass
class PendingUpdate:
    """What `rag index` would do now (`pending_update`): the live index's manifest (None before
    the first build), the corpus as it is, the articles it would change, and, when it would not
    update the index in place, why (`not_in_place`)."""

    manifest: Manifest | None
    scan: CorpusScan
    changes: CorpusChanges
    not_in_place: str | None = None

    @property
    def up_to_date(self) -> bool:
        """Is there an index, holding the corpus as it is now (nothing to add, change or remove)?"""
        return self.manifest is not None and not self.changes.any and not self.not_in_place


def pending_update(settings: Settings) -> PendingUpdate:
    """What an update would change (`rag status`). Reads only: no lock, no model.

    Example::

        pending_update(get_settings()).up_to_date   # True: nothing to do
    """
    scan = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    generation = current_generation(settings.index_dir)
    if generation is None:
        return PendingUpdate(None, scan, corpus_changes(scan, {}))
    manifest = Manifest.read(generation / "manifest.json")
    return PendingUpdate(manifest, scan, corpus_changes(scan, read_article_hashes(generation)), not_in_place(manifest, settings))


def not_in_place(manifest: Manifest, settings: Settings) -> str | None:
    """Why `build_index` would not update the index of `manifest` in place with `settings`, as it
    says it (`rewritten_whole`, or `Manifest.check_compatible`'s refusal of another model or
    chunking and what to do), read off the manifest alone: None when it would. (The model's
    weights and precision family are checked when it loads.)"""
    if rewrite := rewritten_whole(manifest, settings):
        return rewrite
    same_model = settings.embedding_model == manifest.model_id
    try:
        manifest.check_compatible(settings.embedding_model, manifest.fingerprint if same_model else "not loaded",
                                  vector_family(manifest.embedder_variant), settings.chunk_tokens, settings.chunk_overlap)
    except IndexMismatch as refused:
        return str(refused)  # it says what to do
    return None


def rewritten_whole(manifest: Manifest, settings: Settings) -> str | None:
    """Why `build_index` rewrites every article of the index of `manifest` (from the cached
    vectors) rather than update it: an older index format, or another `RAG_VECTOR_STORE`; None
    when it updates it."""
    if not manifest.current_format:
        return "the index is of an older format: `rag index` rewrites every article into the new one (vectors from the cache)"
    if manifest.vector_store != settings.vector_store:
        return (f"the index keeps its vectors in {manifest.vector_store}, RAG_VECTOR_STORE is {settings.vector_store}: "
                "`rag index` rewrites every article (vectors from the cache)")
    return None


# The embedding cache drops the passages the index no longer has (deleted, edited articles) once they
# are this share of what it holds for the model, and at least STALE_MIN: rarely, as it reads every passage.
STALE_SHARE = 0.25
STALE_MIN = 1000


def _prune_cache(settings: Settings, embedder: Embedder, generation: Path) -> None:
    """Keep the embedding cache the size of the live index (`EmbeddingCache.keep_only`) once many of
    its vectors belong to passages no longer indexed."""
    try:
        with contextlib.closing(EmbeddingCache(settings.index_dir / "embedding-cache.sqlite", embedder.fingerprint)) as cache:
            held = cache.count()
            if held - Manifest.read(generation / "manifest.json").chunks < max(STALE_MIN, STALE_SHARE * held):
                return
            gone = cache.keep_only(live_passage_hashes(generation))
    except (OSError, sqlite3.Error) as error:  # the build is done and live: a cache left as it was costs disk, nothing else
        log.warning("embedding cache: could not drop the vectors of passages no longer indexed (%s); the next build tries again", error)
        return
    log.info("embedding cache: dropped %d vectors of passages no longer indexed", gone)


def live_passage_hashes(generation: Path) -> set[str]:
    """The cache keys (`passage_key`) of every passage a generation indexes."""
    spans: dict[str, list[tuple[int, int]]] = {}
    with contextlib.closing(sqlite3.connect(f"file:{generation / 'index.sqlite'}?mode=ro", uri=True)) as db:
        for article_id, start, end in db.execute('SELECT article_id, start, "end" FROM chunks'):
            spans.setdefault(article_id, []).append((start, end))
        return {passage_key(title, text[start:end])
                for article_id, title, text in db.execute("SELECT id, title, text FROM articles")
                for start, end in spans.get(article_id, ())}


@dataclass
class UpdateJob:
    """One background index update, as the UI and the HTTP API report it. `trigger` says who
    asked: "manual" (the page, the API), "watch" (the corpus folder changed), "fetch" (new
    articles from the sources; `note` then holds the fetch's summary)."""

    id: str
    trigger: str = "manual"
    state: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    summary: str | None = None
    report: BuildReport | None = None
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)
    note: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


class IndexUpdater:
    """Runs incremental builds, one at a time, for long-lived servers and watchers.

    Readers are never blocked: they keep the generation they have until the new one is
    switched in (see `Retriever.refresh`). `last_automatic` is the latest update started by a
    watcher or the fetch schedule (`rag.auto_update`), whose names are in `automatic`.

    Example::

        updater = IndexUpdater(settings, embedder)
        job = updater.start()            # in the background; or return the one running
        job = updater.run("watch")       # here, after any running one: sees every change made so far
    """

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings, self.embedder = settings, embedder
        self._lock = threading.Lock()
        self.current: UpdateJob | None = None  # the running or the last finished update; older ones are forgotten
        self.last_automatic: UpdateJob | None = None
        self.automatic: set[str] = set()  # "watch", "fetch": what starts updates by itself

    def start(self, trigger: str = "manual") -> UpdateJob:
        """Start an update in a background thread, or return the one already running."""
        with self._lock:
            if self.current and self.current.state == "running":
                return self.current
            job = self._begin(trigger)
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-update-{job.id}").start()
        return job

    def run(self, trigger: str, note: str | None = None) -> UpdateJob:
        """Run an update in this thread and return it when done. A running update is waited for
        first, then a new one runs: the running one may have read the corpus before the change."""
        while True:
            with self._lock:
                running = self.current if self.current and self.current.state == "running" else None
                if running is None:
                    job = self._begin(trigger, note)
                    break
            running.finished.wait()
        self._run(job)
        return job

    def _begin(self, trigger: str, note: str | None = None) -> UpdateJob:
        job = UpdateJob(id=uuid.uuid4().hex[:12], trigger=trigger, note=note)
        self.current = job
        if trigger != "manual":
            self.last_automatic = job
        return job

    def _run(self, job: UpdateJob) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            report = build_index(self.settings, self.embedder, progress=progress)
            job.summary, job.report, job.problems = report.summary(), report, list(report.problems)
            job.state = "done"
        except Exception as error:  # reported to the user through the job status
            job.error, job.state = f"{type(error).__name__}: {error}", "failed"
            log.exception("index update %s failed", job.id)
        finally:
            job.finished_at = time.time()
            job.finished.set()
