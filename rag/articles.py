"""Managing the archive: list, add and remove articles, start index updates.

The web page and the HTTP API are two shells over this one implementation, so a write is
checked the same way whichever door it comes through: every write needs the token
(`RAG_API_TOKEN`). Without a configured token the archive is read-only, and the refusal
says how to enable writes. Reads need no token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.corpus import Article, find_jsonl_record, is_record, read_file
from rag.corpus_files import article_markdown, edit_article_fields, remove_article_file, save_article_file, slug
from rag.indexer import IndexUpdater, UpdateJob
from rag.problems import ArticleError
from rag.retriever import Retriever


class WriteRefused(PermissionError):
    """A write without the right token. `configured` tells "writes are disabled" (no token
    set on the server) from "wrong or missing token"."""

    def __init__(self, message: str, configured: bool):
        super().__init__(message)
        self.configured = configured


class ArticleNotFound(LookupError):
    """No article with that id in the live index (or, for a delete, in the corpus). `removed`:
    its file was deleted already and the index holds it until the next update."""

    def __init__(self, message: str, removed: bool = False):
        super().__init__(message)
        self.removed = removed


WRITES_DISABLED = "writes are disabled: set RAG_API_TOKEN to a secret on the server to enable uploads, deletes and index updates"
WRONG_TOKEN = "missing or wrong token: give the RAG_API_TOKEN the server was started with"


@dataclass
class Archive:
    """The corpus folder and the live index, as readers and writers of articles see them.

    Args:
        settings: where the corpus is, and the file size limit.
        retriever: the live index (listings follow new generations).
        updater: runs index updates in the background.
        token: the secret every write must present; None makes the archive read-only.

    Example::

        archive = Archive(settings, retriever, updater, token="s3cret")
        path, articles = archive.save_file("berita.md", b"# Judul\\nIsi berita.", token="s3cret")
        job = archive.start_update(token="s3cret")
    """

    settings: Settings
    retriever: Retriever
    updater: IndexUpdater
    token: str | None = field(default=None, repr=False)

    @property
    def writable(self) -> bool:
        """Are writes enabled (a token configured, `RAG_API_TOKEN`)?"""
        return bool(self.token)

    def authorize(self, token: str | None) -> None:
        """Raise `WriteRefused` unless writes are enabled and `token` is the configured one."""
        if not self.token:
            raise WriteRefused(WRITES_DISABLED, configured=False)
        if not token or not secrets.compare_digest(token.encode(), self.token.encode()):
            raise WriteRefused(WRONG_TOKEN, configured=True)

    # -- reads
    def list(self, query: str = "", offset: int = 0, limit: int = 100) -> tuple[int, list[dict]]:
        """(total, page) of the indexed articles whose id or title contains `query` (any case)."""
        needle = query.strip().lower()
        rows = [row for row in self.retriever.refresh().article_list()
                if not needle or needle in row["id"].lower() or needle in row["title"].lower()]
        return len(rows), rows[offset : offset + limit]

    def article(self, article_id: str) -> Article:
        """The article as the index holds it; `ArticleNotFound` when the index has none of that id."""
        article = self.retriever.refresh().article(article_id)
        if article is None:
            raise ArticleNotFound(f"no article {article_id!r} in the index")
        return article

    # -- writes
    def save_file(self, name: str, data: bytes, token: str | None, replace: bool = False) -> tuple[Path, list[Article]]:
        """Check an article file and store it in the corpus (see `rag.corpus_files.save_article_file`).
        Searchable after the next index update."""
        self.authorize(token)
        with _corpus_write():
            return save_article_file(self.settings.corpus_dir, name, data, self.settings.max_file_bytes, replace)

    def save_article(self, title: str, text: str, token: str | None, file_stem: str | None = None,
                     replace: bool = False, **fields: str | dt.date | None) -> tuple[Path, list[Article]]:
        """Store one article given as fields, as Markdown with front matter named after `file_stem` or the title."""
        return self.save_file(f"{file_stem or slug(title)}.md", article_markdown(title, text, **fields), token, replace)

    def delete(self, article_id: str, token: str | None) -> Article:
        """Remove an article from the corpus: its file, or its line of a JSONL file (emptied, the
        other records untouched); the index drops it at the next update.

        An article saved in a file of its own but not indexed yet can be removed too (a wrong
        upload need not be made searchable first); one the corpus no longer holds is not found
        (`ArticleNotFound`).

        Example::

            archive.delete("kompas.jsonl#3", token="s3cret").title   # 'Banjir di Demak'
        """
        self.authorize(token)
        article = self._known(article_id)  # the writer reads the file itself: False when it is gone
        with _corpus_write():
            removed = remove_article_file(self.settings.corpus_dir, article, self.settings.max_file_bytes)
        if not removed:
            raise self._deleted_already(article_id)
        return article

    def edit(self, article_id: str, token: str | None, **changes: str | None) -> Article:
        """Set an article's title, outlet (`source`), date (`published`, YYYY-MM-DD) or URL in its
        file (`rag.corpus_files.edit_article_fields`: '' removes one); its text stays, and the next
        index update re-embeds it. Returns the article as its file now reads.

        Example::

            archive.edit("banjir.md", "s3cret", published="2024-03-02", source="Kompas").source   # 'Kompas'
        """
        self.authorize(token)
        article = self._known(article_id)
        with _corpus_write():
            edited = edit_article_fields(self.settings.corpus_dir, article, changes, self.settings.max_file_bytes)
        if not edited:
            raise self._deleted_already(article_id)
        return self.current(article_id)

    def current(self, article_id: str) -> Article:
        """The article as its file holds it now (what the page's edit box shows: an edit not yet
        indexed included); `ArticleNotFound` as `removable` says it.

        Example::

            archive.current("banjir.md").source   # 'Kompas', saved a moment ago, before any update
        """
        in_corpus = self._in_corpus(self._known(article_id))
        if in_corpus is None:
            raise self._deleted_already(article_id)
        return in_corpus

    def removable(self, article_id: str) -> Article:
        """The article `delete` would remove, or `edit` change, as the index knows it (what the
        page names when it asks to confirm; a record named by its line is checked against it).

        Raises:
            ArticleNotFound: no such article in the corpus; `removed` when its file was deleted
                already and the index still lists it until the next update.
            ArticleError: a JSONL record whose line no longer reads as an article (the line, why).

        Example::

            archive.removable("kompas/2024-04-11-banjir.md").title   # 'Banjir di Jakarta'
        """
        article = self._known(article_id)
        # a file of its own goes whole: removable while it is there, even when it no longer reads
        if not (self.settings.corpus_dir / article.path).is_file() or (is_record(article) and self._in_corpus(article) is None):
            raise self._deleted_already(article_id)
        return article

    def _known(self, article_id: str) -> Article:
        """The article as the index knows it, or as its own file holds it before it is indexed;
        `ArticleNotFound` when neither does."""
        article = self.retriever.refresh().article(article_id) or self._not_indexed_yet(article_id)
        if article is None:
            raise ArticleNotFound(f"no article {article_id!r} in the corpus")
        return article

    def _in_corpus(self, article: Article) -> Article | None:
        """`article` as its file holds it now (a JSONL record read alone); None when it no longer
        does; `ArticleError` (the file, the line, what to do) when it does but no longer reads."""
        path = self.settings.corpus_dir / article.path
        if not path.is_file():
            return None
        if is_record(article):
            return find_jsonl_record(path, article.path, article.id, self.settings.max_file_bytes)
        articles, problems = read_file(path, article.path, self.settings.max_file_bytes)
        if problems:
            raise problems[0].error()
        return next((a for a in articles if a.id == article.id), None)

    @staticmethod
    def _deleted_already(article_id: str) -> ArticleNotFound:
        return ArticleNotFound(f"article {article_id!r} was deleted from the corpus already; "
                               "the next index update drops it from the index", removed=True)

    def _not_indexed_yet(self, article_id: str) -> Article | None:
        """The article a corpus file holds alone, read from the file (the index has not seen it)."""
        corpus = self.settings.corpus_dir.resolve()
        path = (corpus / article_id).resolve()
        if not path.is_relative_to(corpus) or not path.is_file():
            return None
        articles, _ = read_file(path, article_id, self.settings.max_file_bytes)
        return next((article for article in articles if article.id == article_id), None)

    def start_update(self, token: str | None) -> UpdateJob:
        """Start an incremental index update in the background (or return the one running)."""
        self.authorize(token)
        return self.updater.start()


@contextlib.contextmanager
def _corpus_write() -> Iterator[None]:
    """An OSError while a write changes the corpus (a full disk, a read-only folder, no permission)
    as the `ArticleError` the page, the API and the CLI say: the writers stage and rename, so the
    corpus was left as it was."""
    try:
        yield
    except OSError as error:
        raise ArticleError("write_failed", error=error.strerror or str(error)) from error
