"""Write article files into the corpus folder: an upload, an article sent to the API, a fetched
page, and their removal.

Why a module of its own: the corpus folder is the user's data, and every write to it must be
safe in the same way (no file outside the folder, no half-written file a build could read, no
file the indexer would refuse later), whoever writes: the page and the API (`rag.articles`)
or the fetcher (`rag.fetch`). Reading stays in `rag.corpus`, whose readers check each file
before it is saved.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from rag.corpus import (DEFAULT_MAX_FILE_BYTES, SNIFF_BYTES, SUFFIXES, Article, check_not_binary, find_jsonl_record, is_record,
                         limit_text, read_file)
from rag.problems import ArticleError


_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_file_name(name: str) -> str:
    """A plain file name from an uploaded one: no folders, no `..`, no control characters."""
    base = Path(name.replace("\\", "/")).name
    base = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", base)).strip(" .")
    if not base or Path(base).suffix.lower() not in SUFFIXES:
        raise ArticleError("unsupported", name=name, suffixes=", ".join(sorted(SUFFIXES)))
    return base[:120]


def save_article_file(corpus: Path, name: str, data: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES, replace: bool = False) -> tuple[Path, list[Article]]:
    """Check an uploaded article file and store it in the corpus folder (never outside it).

    The bytes are parsed first with the same readers the indexer uses, so a bad upload is
    refused with the reason instead of being found later. Written through a temporary file
    and renamed, so a reader never sees half a file.
    """
    if len(data) > max_bytes:
        raise ArticleError("upload_too_big", size=f"{len(data) / 2**20:.1f}", limit=limit_text(max_bytes))
    file_name = safe_file_name(name)
    target = (corpus / file_name).resolve()
    if not target.is_relative_to(corpus.resolve()):
        raise ArticleError("name_outside", name=name)
    if target.exists() and not replace:
        raise ArticleError("exists", name=file_name)
    staging = target.with_name(f".upload-{os.getpid()}-{file_name}")
    staging.write_bytes(data)
    try:
        articles, problems = read_file(staging, file_name, max_bytes)
        if problems:
            raise ArticleError(problems[0].key, problems[0].line, **problems[0].fields)
        # a file replaced under the lock a delete of one of its records takes: neither undoes the other
        with locked(target) if target.exists() else contextlib.nullcontext():
            os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target, articles


def slug(title: str) -> str:
    """A file name stem from a title: lower-case words joined by '-', at most 80 characters."""
    words = "".join(c if c.isalnum() else "-" for c in title.lower()).split("-")
    return "-".join(w for w in words if w)[:80] or "article"


def article_markdown(title: str, text: str, **fields: Any) -> bytes:
    """An article as Markdown with YAML front matter (how articles added through the API are stored)."""
    front = {"title": title, **{key: value for key, value in fields.items() if value not in (None, "")}}
    return ("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n" + text.strip() + "\n").encode("utf-8")


def remove_article_file(corpus: Path, article: Article, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bool:
    """Remove an article from the corpus folder: its file, or, for a record of a JSONL file, that
    record's line (`blank_jsonl_record`). The index drops it at its next update.

    Returns:
        False when the corpus no longer holds it (deleted already); True when it was removed.

    Raises:
        ArticleError: the file lies outside the corpus, is a UTF-16 JSONL file, or no longer holds
            the record on the line the index knows it by (see `blank_jsonl_record`).

    Example::

        remove_article_file(Path("corpus"), archive.removable("kompas.jsonl#3"))   # True: line 3 emptied
    """
    path = (corpus / article.path).resolve()
    if not path.is_relative_to(corpus.resolve()):
        raise ArticleError("delete_outside", path=article.path)
    if is_record(article):
        return blank_jsonl_record(path, article, max_bytes)
    if not path.is_file():
        return False
    path.unlink(missing_ok=True)
    return True


def blank_jsonl_record(path: Path, article: Article, max_line_bytes: int) -> bool:
    """Empty the line of the JSONL file `path` that holds the record `article`: every other line
    stays as it was, byte for byte, and every line keeps its number, so that the records named by
    their line (`kompas.jsonl#12`) keep their ids. The file is written aside and renamed into
    place, under a lock on it (`locked`: an upload replacing the file takes it too), so that two
    writes to one file both hold and a reader sees the file before or after, never half of it.
    False when no line holds the record (or there is no file).

    Raises:
        ArticleError: a UTF-16 file (its lines are not byte lines: edit it by hand); or a record
            named by its line (`kompas.jsonl#12`) whose line now holds another record (the file
            changed since the index read it: delete again after an update).
    """
    try:
        with locked(path) as handle:
            if check_not_binary(handle.read(SNIFF_BYTES)):
                raise ArticleError("record_of_file", id=article.id, path=article.path)
            record = find_jsonl_record(path, article.path, article.id, max_line_bytes)
            if record is None:
                return False
            if article.sha256 and record.sha256 != article.sha256 and article.id == f"{article.path}#{record.line}":
                raise ArticleError("record_moved", id=article.id, path=article.path)
            handle.seek(0)
            _write_replacing(path, _without_line(handle, record.line))
            return True
    except FileNotFoundError:
        return False


def _without_line(handle: BinaryIO, line: int) -> Iterator[bytes]:
    """The bytes of an open file with line `line` (1-based) emptied but for its line ending, read in
    bounded pieces (a line may be as long as the file)."""
    number, previous = 1, b""
    for piece in iter(lambda: handle.readline(1 << 20), b""):
        ends = piece.endswith(b"\n")
        if number != line:
            yield piece
        elif ends:
            yield b"\r\n" if piece.endswith(b"\r\n") or (piece == b"\n" and previous.endswith(b"\r")) else b"\n"
        number, previous = number + ends, piece


def _write_replacing(path: Path, pieces: Iterable[bytes]) -> None:
    """Write `pieces` to a new file beside `path` (its mode kept), flushed to disk, then rename it over `path`."""
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=f".write-{path.name}-")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.writelines(pieces)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(path, staging)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[BinaryIO]:
    """`path` open for reading under an exclusive lock, held until the block ends; taken again when
    another writer replaced the file while this one waited (its lock was on the file replaced).
    FileNotFoundError when there is no such file."""
    while True:
        handle = open(path, "rb")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                yield handle
                return
        finally:
            handle.close()
