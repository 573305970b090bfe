"""Write article files into the corpus folder: an upload, an article sent to the API, a fetched
page, and their removal.

Why a module of its own: the corpus folder is the user's data, and every write to it must be
safe in the same way (no file outside the folder, no half-written file a build could read, no
file the indexer would refuse later), whoever writes: the page and the API (`rag.articles`)
or the fetcher (`rag.fetch`). Reading stays in `rag.corpus`, whose readers check each file
before it is saved.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from rag.corpus import DEFAULT_MAX_FILE_BYTES, SUFFIXES, Article, limit_text, read_file
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


def remove_article_file(corpus: Path, article: Article) -> Path:
    """Delete the file an article came from, if the file holds just that article.

    A record of a JSONL file is refused (the other records would go too); the index drops
    the article at its next update.
    """
    if article.id != article.path:
        raise ArticleError("record_of_file", id=article.id, path=article.path)
    path = (corpus / article.path).resolve()
    if not path.is_relative_to(corpus.resolve()):
        raise ArticleError("delete_outside", path=article.path)
    path.unlink(missing_ok=True)
    return path
