"""Write article files into the corpus folder: an upload, an article sent to the API, a fetched
page, their removal (a file, or one record's line of a JSONL file), and an edit of an article's
title, outlet, date and URL where its file says them.

Why a module of its own: the corpus folder is the user's data, and every write to it must be
safe in the same way (no file outside the folder, no half-written file a build could read, no
file the indexer would refuse later), whoever writes: the page and the API (`rag.articles`)
or the fetcher (`rag.fetch`). Reading stays in `rag.corpus`, whose readers check each file
before it is saved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from rag.corpus import (DEFAULT_MAX_FILE_BYTES, FIELD_LIMITS, SNIFF_BYTES, SUFFIXES, TEXT_SUFFIXES, Article, check_not_binary, decode_bytes,
                         find_jsonl_record, front_matter, is_record, jsonl_article, limit_text, normalise_newlines,
                         normalise_text, read_file, read_text_article, split_headline)
from rag.problems import ArticleError


_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)
# What the page's upload (Gradio's `strip_invalid_filename_characters`) drops from a name before we
# see it; dropped here too, so that one file uploaded through the page and through the API gets one
# name, and "replace" replaces it instead of saving a second copy.
_DROPPED_BY_PAGE = re.compile(r"[<>:\"|?*`$!{}\x00-\x1f\x7f]")
_WINDOWS_DEVICE = re.compile(r"CON|PRN|AUX|NUL|COM[1-9¹²³]|LPT[1-9¹²³]", re.IGNORECASE)  # the page saves "con.md" as "_con.md"


def safe_file_name(name: str) -> str:
    """A plain file name from an uploaded one: no folders, no `..`, no control characters, its
    stem at most 120 characters and 150 bytes (a disk takes names of 255 bytes), its suffix kept.

    Example::

        safe_file_name("../Banjir: Demak?.md")   # 'Banjir Demak.md'
        safe_file_name("«Kompas» 2023.md")      # '_Kompas_ 2023.md'
    """
    stem, dot_suffix = os.path.splitext(Path(name.replace("\\", "/")).name)
    base = (_DROPPED_BY_PAGE.sub("", stem) or "file") + _DROPPED_BY_PAGE.sub("", dot_suffix)  # as the page: "?.md" is "file.md"
    if _WINDOWS_DEVICE.fullmatch(base.rstrip(" .").partition(".")[0].rstrip(" ")):
        base = "_" + base
    base = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", base)).strip(" .")
    suffix = Path(base).suffix
    if not base or suffix.lower() not in SUFFIXES:
        raise ArticleError("unsupported", name=name, suffixes=", ".join(sorted(SUFFIXES)))
    stem = _fitting(base[: -len(suffix)], 120).rstrip(" .")
    return (stem or "article") + suffix


def _fitting(stem: str, characters: int) -> str:
    """`stem` cut to `characters` and to 150 bytes of UTF-8 (whole characters): with a suffix and
    the writers' staging prefix, a name the disk takes (255 bytes; 80 Japanese characters are 240)."""
    return stem[:characters].encode("utf-8")[:150].decode("utf-8", "ignore")


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
    staging = target.with_name(f".upload-{uuid.uuid4().hex[:12]}-{file_name}")  # its own: two uploads of one name at once
    try:
        staging.write_bytes(data)  # on a full disk, half of it: removed below
        articles, problems = read_file(staging, file_name, max_bytes)
        if problems:
            raise problems[0].error()
        if not replace:
            try:
                os.link(staging, target)  # fails rather than write over a file saved since the check above
            except FileExistsError:
                raise ArticleError("exists", name=file_name) from None
        else:  # under the lock a delete of one of its records takes: neither undoes the other
            with locked(target) if target.exists() else contextlib.nullcontext():
                os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target, articles


def slug(title: str) -> str:
    """A file name stem from a title: lower-case words joined by '-', at most 80 characters and
    150 bytes (`_fitting`).

    Example::

        slug("Banjir Rendam Demak!")   # 'banjir-rendam-demak'
    """
    words = "".join(c if c.isalnum() else "-" for c in title.lower()).split("-")
    stem = _fitting("-".join(w for w in words if w), 80).strip("-")
    return stem or "article"


def article_markdown(title: str, text: str, **fields: Any) -> bytes:
    """An article as Markdown with YAML front matter (how articles added through the API are stored)."""
    front = {"title": title, **{key: value for key, value in fields.items() if value not in (None, "")}}
    return ("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n" + text.strip() + "\n").encode("utf-8")


def remove_article_file(corpus: Path, article: Article, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bool:
    """Remove an article from the corpus folder: its file, or, for a record of a JSONL file, that
    record's line, emptied (`_change_record`: every other byte stays and every line keeps its
    number, so that the records named by their line, `kompas.jsonl#12`, keep their ids). The
    index drops it at its next update.

    Returns:
        False when the corpus no longer holds it (deleted already); True when it was removed.

    Raises:
        ArticleError: the file lies outside the corpus, is a UTF-16 JSONL file, or no longer holds
            the record on the line the index knows it by.

    Example::

        remove_article_file(Path("corpus"), archive.removable("kompas.jsonl#3"))   # True: line 3 emptied
    """
    path = _inside(corpus, article)
    if is_record(article):
        return _change_record(path, article, max_bytes, lambda line, record: b"")
    try:
        with locked(path):  # an edit waiting for it finds no file, rather than writing it back
            (corpus / article.path).unlink()  # an article that is a link: the link (its target is another article's file)
    except FileNotFoundError:
        return False
    return True


EDITABLE_FIELDS = ("title", "source", "published", "url")  # what `edit_article_fields` sets


def edit_article_fields(corpus: Path, article: Article, changes: dict[str, str | None],
                        max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bool:
    """Set an article's title, outlet, date or URL (`changes`: a field of `EDITABLE_FIELDS` -> its
    new value; '' or None removes it, but a title stays) where its file says them: the front matter
    of a Markdown or text file (added when it has none; a headline taken from its first line moves
    into it), or the fields of its JSONL record (that line rewritten, every other byte as it was).
    Its text reads as before, so citations keep their places; the next update re-embeds it. Under
    the lock deletes and replacing uploads take; written aside and renamed into place.

    Returns:
        False when the corpus no longer holds it.

    Raises:
        ArticleError: a PDF, DOCX or HTML article (its fields are the document's own), a UTF-16
            file, a date that is not YYYY-MM-DD, an empty title, a field over its `FIELD_LIMITS`, or a record named by its line
            that no longer stands there.

    Example::

        edit_article_fields(Path("corpus"), archive.article("banjir.md"), {"published": "2024-03-02", "source": "Kompas"})
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"only {', '.join(EDITABLE_FIELDS)} can be edited, not {', '.join(sorted(unknown))}")
    changes = {key: " ".join((value or "").split()) for key, value in changes.items()}  # one line each
    if "title" in changes and not changes["title"]:
        raise ArticleError("edit_no_title")
    if too_long := next((key for key, value in changes.items() if len(value) > FIELD_LIMITS[key]), None):
        raise ArticleError("field_too_long", field=too_long, length=len(changes[too_long]), limit=FIELD_LIMITS[too_long])
    if changes.get("published"):  # a wrong date is refused before the file is touched
        try:
            changes["published"] = dt.date.fromisoformat(changes["published"]).isoformat()
        except ValueError:
            raise ArticleError("bad_date", value=changes["published"]) from None
    path = _inside(corpus, article)
    if is_record(article):
        def edited(line: bytes, record: Article) -> bytes:
            bom = b"\xef\xbb\xbf" if line.startswith(b"\xef\xbb\xbf") else b""
            fields = _with_fields(json.loads(line[len(bom):].decode("utf-8")), changes)
            _check_same_text([jsonl_article(article.path, record.line, fields)], article)
            return bom + json.dumps(fields, ensure_ascii=False).encode("utf-8")
        return _change_record(path, article, max_bytes, edited)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ArticleError("edit_document", path=article.path, kind=path.suffix.lstrip(".").upper())
    try:
        with _locked_utf8(path, article) as handle:
            raw = handle.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise ArticleError("file_too_big", size=f"{len(raw) / 2**20:.1f}", limit=limit_text(max_bytes))
            edited_text = _with_front_matter(normalise_newlines(decode_bytes(raw)), changes)
            if b"\r\n" in raw.partition(b"\n")[0] + b"\n":  # the file's line endings, and its BOM, as they were
                edited_text = edited_text.replace("\n", "\r\n")
            data = (b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b"") + edited_text.encode("utf-8")
            _check_same_text(read_text_article(path, article.path, data), article)
            _write_replacing(path, [data])
            return True
    except FileNotFoundError:
        return False


def _inside(corpus: Path, article: Article) -> Path:
    """The file of `article` (where a link leads), refused when it or the link lies outside the corpus folder."""
    root, entry = corpus.resolve(), corpus / article.path
    path = entry.resolve()
    if not (path.is_relative_to(root) and entry.parent.resolve().is_relative_to(root)):
        raise ArticleError("delete_outside", path=article.path)
    return path


def _with_fields(fields: dict[str, Any], changes: dict[str, str]) -> dict[str, Any]:
    """`fields` with `changes` set where they stand (an empty value removes the field; a date goes
    where the record writes it, `published` or the older `date`, and goes from both when removed)."""
    fields = dict(fields)
    for key, value in changes.items():
        spelled = "date" if key == "published" and "published" not in fields and "date" in fields else key
        if value:
            fields[spelled] = value
        else:
            fields.pop(spelled, None)
            if key == "published":
                fields.pop("date", None)
    return fields


def _with_front_matter(text: str, changes: dict[str, str]) -> str:
    """A Markdown or text file's `text` (newlines normalised) with `changes` in its front matter
    (one added when there is none): only the lines of the keys changed are written, each
    `key: value` on one line, so the rest of the block (comments, values such as `0123`) stays as
    it was; a title given to a file whose headline was its first line replaces that line.

    Raises:
        ArticleError: a key to change whose value is not one plain line, or a block that would
            not read back with exactly these changes.
    """
    fields, body, _ = front_matter(text)
    head = text[: len(text) - len(body)]  # "---\n<block>---", or "" without front matter
    block, closing = (head[4 : head.rfind("\n") + 1], head[head.rfind("\n") + 1 :]) if head else ("", "---")
    if "title" in changes and "title" not in fields and split_headline(normalise_text(body))[0]:
        body = body.lstrip().partition("\n")[2]
    lines = block.splitlines(keepends=True)
    wanted = _with_fields(fields, changes)
    for key in ("title", "source", "published", "date", "url"):
        if fields.get(key) == wanted.get(key):
            continue
        at = [n for n, line in enumerate(lines) if re.match(rf"{key}\s*:", line)]
        if len(at) > 1 or (at and at[0] + 1 < len(lines) and lines[at[0] + 1][:1] in (" ", "\t", "-")):
            raise ArticleError("edit_front_matter", key=key)
        line = [yaml.safe_dump({key: wanted[key]}, allow_unicode=True, width=1 << 16)] if key in wanted else []
        if at:
            lines[at[0] : at[0] + 1] = line
        else:
            lines += line
    edited = "---\n" + "".join(lines) + closing + ("" if body.startswith("\n") else "\n") + body
    if front_matter(edited)[0] != wanted:
        raise ArticleError("edit_front_matter", key=", ".join(sorted(changes)))
    return edited


def _change_record(path: Path, article: Article, max_line_bytes: int, new: Callable[[bytes, Article], bytes]) -> bool:
    """Rewrite the line of the JSONL file `path` that holds the record `article` as `new(line,
    record)` (the line without its ending; the record as the file holds it), every other byte as
    it was, under the file's lock, written aside and renamed into place. False when no line holds
    it (or there is no file).

    Raises:
        ArticleError: a UTF-16 file (its lines are not byte lines), or a record named by its line
            (`kompas.jsonl#12`) whose line now holds another record (the file changed since the
            index read it: try again after an update).
    """
    try:
        with _locked_utf8(path, article) as handle:
            record = find_jsonl_record(path, article.path, article.id, max_line_bytes)
            if record is None:
                return False
            if record.text != article.text and article.id == f"{article.path}#{record.line}":  # another record stands there
                raise ArticleError("record_moved", id=article.id, path=article.path)
            _write_replacing(path, _with_line(handle, record.line, lambda line: new(line, record)))
            return True
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _locked_utf8(path: Path, article: Article) -> Iterator[BinaryIO]:
    """`locked(path)`, refused for a UTF-16 file (changed by hand only), the handle at its start."""
    with locked(path) as handle:
        if check_not_binary(handle.read(SNIFF_BYTES)):
            raise ArticleError("utf16_file", path=article.path)
        handle.seek(0)
        yield handle


def _check_same_text(edited: list[Article], article: Article) -> None:
    """Refuse an edit after which the article would not read as before (its citations point into its text)."""
    if len(edited) != 1 or edited[0].text != article.text:
        raise ArticleError("edit_text_changed", path=article.path)


def _with_line(handle: BinaryIO, line: int, new: Callable[[bytes], bytes]) -> Iterator[bytes]:
    """The bytes of an open file with line `line` (1-based, without its ending) replaced by
    `new(line)`, every other byte as it was, read in bounded pieces (a line may be as long as the
    file; the one replaced is at most a JSONL line's limit, as the reader found it)."""
    number, held = 1, []
    for piece in iter(lambda: handle.readline(1 << 20), b""):
        if number != line:
            yield piece
        else:
            held.append(piece)
            if piece.endswith(b"\n"):
                whole, held = b"".join(held), []
                ending = b"\r\n" if whole.endswith(b"\r\n") else b"\n"
                yield new(whole[: -len(ending)]) + ending
        number += piece.endswith(b"\n")
    if held:  # the last line, without an ending
        yield new(b"".join(held))


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
