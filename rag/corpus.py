"""Read articles from the corpus folder: Markdown/text with YAML front matter, JSONL, saved HTML,
PDF and Word documents (`rag.documents`).

A corpus is whatever a newsroom has lying around, so reading is forgiving about layout and
strict about content: a file that cannot be read becomes a `Problem` that names the file,
the line and what to do, and the other files are still read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import yaml

from rag.language import detect_language
from rag.problems import ArticleError, Problem

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
DOCUMENT_SUFFIXES = {".pdf", ".docx"}
SUFFIXES = TEXT_SUFFIXES | DOCUMENT_SUFFIXES | {".jsonl", ".html", ".htm"}
KNOWN_FIELDS = {"id", "title", "source", "url", "published", "language", "text", "body"}
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
SNIFF_BYTES = 8192
MAX_FOLDER_DEPTH = 64
MAX_PROBLEMS_PER_FILE = 10
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Article:
    """One news article. `text` is what citations point into, by character offset.

    Attributes:
        id: unique in the corpus: the file's path in the corpus folder; for a record of a JSONL
            file, its `id` field, else `path#n` (the n-th line).
        title, text: the headline and the body, normalised (`normalise_text`).
        source, url: the outlet and the web address (None when the file does not say).
        published: the publication date (None when unknown).
        language: 'id', 'en', ... as detected or declared (None when unsure).
        path: the file it was read from, relative to the corpus folder.
        metadata: any other front-matter fields, as written.
        sha256: the hash of what was indexed (a changed hash re-indexes the article).
        line: the record's line in a JSONL file, for error messages.

    Example::

        article = Retriever("index").store.article("000_b0a4adb478896665.md")
        article.title, article.published_iso   # ('Rusia Lontarkan ...', '2023-07-11')
    """

    id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published: dt.date | None = None
    language: str | None = None
    path: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    line: int | None = None  # the record's line in a JSONL file, for error messages

    @property
    def published_iso(self) -> str | None:
        """The publication date as YYYY-MM-DD, or None."""
        return self.published.isoformat() if self.published else None

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready (the date as YYYY-MM-DD)."""
        return {**self.__dict__, "published": self.published_iso}


@dataclass
class CorpusScan:
    """Everything one pass over the corpus found."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def failed_paths(self) -> set[str]:
        """Files (and folders) with a problem."""
        return {problem.path for problem in self.problems}

    @property
    def unread_folders(self) -> list[str]:
        """Folders (relative to the corpus; "." for the corpus itself) that could not be listed."""
        return [problem.path for problem in self.problems if problem.key == "folder_unreadable"]

    def unread(self, paths: Iterable[str]) -> set[str]:
        """Those of `paths` (relative to the corpus) that could not be read, as files or because
        their folder could not be listed: the indexer keeps what it already holds for them.

        Example::

            scan = load_corpus(Path("corpus"))
            scan.unread(["2024/banjir.md", "gempa.md"])   # {'2024/banjir.md'} when 2024/ could not be listed
        """
        files = self.failed_paths
        folders = tuple(f"{folder}/" for folder in self.unread_folders)
        if "./" in folders:  # the corpus folder itself
            return set(paths)
        return {path for path in paths if path in files or path.startswith(folders)}


def normalise_newlines(text: str) -> str:
    """Strip a BOM and turn Windows/old-Mac line endings into `\\n` (offsets count one char a break)."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def normalise_text(text: str) -> str:
    """NFC, no BOM, Unix line endings, no trailing spaces: the form offsets are taken in."""
    text = unicodedata.normalize("NFC", normalise_newlines(text))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def content_hash(article: Article) -> str:
    """sha256 of text and metadata: it decides whether an article must be re-embedded."""
    payload = {
        "title": article.title, "text": article.text, "source": article.source, "url": article.url,
        "published": article.published_iso,
        "language": article.language, "metadata": article.metadata,
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def _utf16_encoding(head: bytes) -> str | None:
    """The UTF-16 flavour of a file's first bytes, with or without a BOM (Windows tools write both).

    Without a BOM, UTF-16 text of a Latin-script language has a NUL in every other byte and
    none in the others; binary data does not look like that.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even_nuls, odd_nuls = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd_nuls >= 0.6 * pairs and even_nuls == 0:
        return "utf-16-le"
    if even_nuls >= 0.6 * pairs and odd_nuls == 0:
        return "utf-16-be"
    return None


def check_not_binary(head: bytes) -> str | None:
    """The UTF-16 encoding (with or without a BOM) of text starting with `head`, None for UTF-8, or an
    `ArticleError` for binary data."""
    utf16 = _utf16_encoding(head)
    if utf16 is None and b"\x00" in head:
        raise ArticleError("binary")
    return utf16


def decode_bytes(raw: bytes) -> str:
    """Decode UTF-8 (with or without BOM) or UTF-16 (with or without BOM), or say why the bytes are not an article."""
    utf16 = check_not_binary(raw[:SNIFF_BYTES])
    try:
        return raw.decode(utf16 or "utf-8-sig")
    except UnicodeDecodeError as error:
        if utf16:
            raise ArticleError("utf16_undecodable", byte=error.start) from None
        line = raw[: error.start].count(b"\n") + 1
        raise ArticleError("not_utf8", line, byte=error.start) from None


def parse_date(value: Any, line: int | None = None) -> dt.date | None:
    """An ISO date (YAML may already have parsed it); anything else is an error, not a guess."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ArticleError("bad_date", line, value=value) from None


def title_from_path(path: Path) -> str:
    """A readable fallback title: the file name without extension, separators as spaces."""
    words = re.sub(r"[_\-]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def split_headline(text: str) -> tuple[str | None, str]:
    """Take a first line that reads like a headline (short, no final full stop, more text follows)."""
    first, _, rest = text.partition("\n")
    first = first.strip().lstrip("#").strip()
    if rest.strip() and 0 < len(first) <= 160 and not first.endswith((".", "!", "?", ":", ",", ";", "”", '"')):
        return first, rest.strip()
    return None, text


def front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """Split a leading `---` YAML block from the body; return (fields, body, body's first line)."""
    if not text.startswith("---\n"):
        return {}, text, 1
    end = re.search(r"^(---|\.\.\.)[ \t]*$", text[4:], flags=re.MULTILINE)
    if not end:
        raise ArticleError("front_matter_open", 1)
    block = text[4 : 4 + end.start()]
    body = text[4 + end.end() :]
    try:
        fields = yaml.load(block, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ArticleError("front_matter_yaml", line, problem=problem) from None
    if not isinstance(fields, dict):
        raise ArticleError("front_matter_fields", 2)
    return fields, body, block.count("\n") + 3


# Characters, for every door: an article file, the page's and the API's edits and uploads (the
# Milvus store's columns hold 4 bytes a character of these; an id of 500 fits its 2,048 bytes).
FIELD_LIMITS = {"id": 500, "title": 500, "source": 200, "published": 40, "url": 2000}


def make_article(article_id: str, path: str, fields: dict[str, Any], text: str, fallback_title: str, line: int | None = None) -> Article:
    """Build an Article from parsed fields, normalising text and inferring what is missing.

    Raises:
        ArticleError: no text, a date that cannot be read, or a field over its `FIELD_LIMITS`
            (an outlet of 1,100 characters stopped every build of a Milvus index).
    """
    text = normalise_text(text)
    title = _text_field(fields, "title", line) or ""
    if not title:
        headline, body = split_headline(text)
        title, text = (headline, body) if headline else (fallback_title, text)
    title = normalise_text(title)
    if not text:
        raise ArticleError("no_text", line)
    extra = {key: value for key, value in fields.items() if key not in KNOWN_FIELDS}
    article = Article(
        id=article_id, title=title, text=text,
        source=_text_field(fields, "source", line), url=_text_field(fields, "url", line),
        published=parse_date(fields.get("published") or fields.get("date"), line),
        language=_text_field(fields, "language", line) or detect_language(title + "\n" + text),
        path=path, metadata=json.loads(json.dumps(extra, default=str)),
    )
    for key in ("id", "title", "source", "url"):
        if len(value := getattr(article, key) or "") > FIELD_LIMITS[key]:
            raise ArticleError("field_too_long", line, field=key, length=len(value), limit=FIELD_LIMITS[key])
    return Article(**{**article.__dict__, "sha256": content_hash(article)})


def _text_field(fields: dict[str, Any], key: str, line: int | None) -> str | None:
    """A field as text (a number too: `source: 123`); None when absent or blank. A list or a
    mapping is refused: it was stored as Python's "['Kompas', 'Antara']" and listed as an outlet."""
    value = fields.get(key)
    if isinstance(value, list | dict):
        raise ArticleError("field_not_text", line, field=key)
    return str(value).strip() or None if value is not None else None


def read_text_article(path: Path, relative: str, raw: bytes) -> list[Article]:
    """A `.md`/`.txt` file: optional front matter, then the body. A field's problem names the
    field's own line (it named the body's first)."""
    text = normalise_newlines(decode_bytes(raw))
    fields, body, body_line = front_matter(text)
    try:
        return [make_article(relative, relative, fields, body, title_from_path(path), body_line)]
    except ArticleError as error:
        named = error.fields.get("field")
        if error.key == "bad_date":
            named = "published" if "published" in fields else "date"
        if named and (line := _field_line(text, named)):
            raise ArticleError(error.key, line, **error.fields) from None
        raise


def _field_line(text: str, key: str) -> int | None:
    """The line of the front matter of `text` where `key:` stands, or None."""
    lines = text.split("\n")
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() in ("---", "..."):
            return None
        if re.match(rf"{re.escape(key)}\s*:", line):
            return number
    return None


def limit_text(max_bytes: int) -> str:
    """A size limit as a refusal says it: "20 MiB"."""
    return f"{max_bytes / 2**20:.0f} MiB"


def _jsonl_lines(handle: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, str | ArticleError]]:
    """(line number, text) of a JSONL file, reading one line at a time so any file size works.

    A line over the limit or not in UTF-8 comes as an `ArticleError` for that line only, so
    the caller goes on with the next one.
    """
    utf16 = check_not_binary(handle.read(SNIFF_BYTES))
    handle.seek(0)
    if utf16:  # rare (Windows exports): decoded whole, within the file limit
        if os.fstat(handle.fileno()).st_size > max_line_bytes:
            raise ArticleError("utf16_jsonl_too_big", limit=limit_text(max_line_bytes))
        yield from enumerate(normalise_newlines(decode_bytes(handle.read())).split("\n"), start=1)
        return
    for number, raw in enumerate(iter(lambda: handle.readline(max_line_bytes + 1), b""), start=1):
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the over-long line without holding it
            yield number, ArticleError("line_too_long", number, limit=limit_text(max_line_bytes))
            continue
        try:
            yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            yield number, ArticleError("line_not_utf8", number, byte=error.start)


def read_jsonl_articles(path: Path, relative: str, max_line_bytes: int) -> tuple[list[Article], list[Problem]]:
    """One article a line; a bad line is a problem of its own and the other lines still count.

    A file with many bad lines is reported with its first few and a count of the rest.
    """
    articles, problems = [], []
    with open(path, "rb") as handle:
        for number, line in _jsonl_lines(handle, max_line_bytes):
            try:
                if isinstance(line, ArticleError):
                    raise line
                if line.strip():
                    articles.append(jsonl_article(relative, number, json.loads(line)))
            except json.JSONDecodeError as error:
                problems.append(Problem(relative, "bad_json", {"message": error.msg}, number))
            except UnicodeEncodeError as error:  # a "\ud83d" alone: JSON reads it, no text can hold it
                escape = "\\u" + f"{ord(error.object[error.start]):04x}"
                problems.append(Problem(relative, "half_character", {"escape": escape}, number))
            except ArticleError as error:
                problems.append(Problem.of(relative, error, number))
    if len(problems) > MAX_PROBLEMS_PER_FILE:
        more = len(problems) - MAX_PROBLEMS_PER_FILE + 1
        problems[MAX_PROBLEMS_PER_FILE - 1 :] = [Problem(relative, "more_bad_lines", {"count": more})]
    return articles, problems


def jsonl_article(relative: str, number: int, record: Any) -> Article:
    """The article a JSONL record (`record`, parsed from line `number` of `relative`) holds.

    Example::

        jsonl_article("kiriman.jsonl", 4, {"title": "Banjir", "text": "Banjir di Demak."}).id   # 'kiriman.jsonl#4'
    """
    if not isinstance(record, dict):
        raise ArticleError("not_object", number)
    text = record.get("text") or record.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError("no_text_field", number)
    article = make_article(_jsonl_id(relative, number, record), relative, record, text, f"{Path(relative).stem} #{number}", number)
    return dataclasses.replace(article, line=number)


def _jsonl_id(relative: str, number: int, record: dict) -> str:
    """A JSONL record's article id: its `id` field, else `file.jsonl#n` (its line)."""
    given = _text_field(record, "id", number)  # `"id": 0` is an id, not a missing one
    return given if given is not None else f"{relative}#{number}"


def find_jsonl_record(path: Path, relative: str, article_id: str, max_line_bytes: int) -> Article | None:
    """The record `article_id` of the JSONL file `path` (`relative` in the corpus) as
    `read_jsonl_articles` reads it (its `line` set; the first when several lines hold it); None
    when no line does; `ArticleError` (its line, what to do) when the line holding it no longer
    reads as an article. Only that line is made an `Article`; the others are parsed for their id.

    Example::

        find_jsonl_record(Path("corpus/kompas.jsonl"), "kompas.jsonl", "kompas-2024-001", 20 * 2**20).line   # 12
    """
    with open(path, "rb") as handle:
        for number, line in _jsonl_lines(handle, max_line_bytes):
            if isinstance(line, str) and line.strip():
                record = None
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(line)
                if isinstance(record, dict) and _jsonl_id(relative, number, record) == article_id:
                    return jsonl_article(relative, number, record)  # its line no longer reads: ArticleError says why
    return None


def is_record(article: Article) -> bool:
    """Whether `article` is one record of a JSONL file (not a file of its own)."""
    return Path(article.path).suffix.lower() == ".jsonl"


def read_html_article(path: Path, relative: str, raw: bytes) -> list[Article]:
    """A saved news page: trafilatura finds the main text and the metadata."""
    import trafilatura

    document = trafilatura.bare_extraction(decode_bytes(raw), with_metadata=True, include_comments=False)
    if document is None or not getattr(document, "text", None):
        raise ArticleError("html_no_text")
    fields = {
        "title": document.title, "source": document.sitename or document.hostname,
        "url": document.url, "published": document.date, "language": document.language,
    }
    return [make_article(relative, relative, fields, document.text, title_from_path(path))]


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, never more than the limit in memory (even if it grows while read)."""
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        size = max(path.stat().st_size, len(raw))
        raise ArticleError("file_too_big", size=f"{size / 2**20:.1f}", limit=limit_text(max_bytes))
    return raw


def read_file(path: Path, relative: str, max_bytes: int) -> tuple[list[Article], list[Problem]]:
    """Read one corpus file into articles; every failure is turned into a Problem.

    `max_bytes` bounds the memory one file can take: an article file over it is refused,
    and a JSONL file is read line by line with each line held to it.
    """
    try:
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return read_jsonl_articles(path, relative, max_bytes)
        raw = _read_bounded(path, max_bytes)
        if suffix in (".html", ".htm"):
            return read_html_article(path, relative, raw), []
        if suffix in DOCUMENT_SUFFIXES:
            from rag import documents

            reader = documents.read_pdf if suffix == ".pdf" else documents.read_docx
            return reader(raw, relative, title_from_path(path)), []
        return read_text_article(path, relative, raw), []
    except ArticleError as error:
        return [], [Problem.of(relative, error)]
    except OSError as error:
        return [], [Problem(relative, "unreadable", {"error": error.strerror or str(error)})]


def _entry_problem(entry: os.DirEntry, root: Path, depth: int) -> tuple[str, dict] | None:
    """Why a directory entry is not read as an article file and what to do, or None if it is one to read."""
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        return "name_not_utf8", {}
    if entry.is_symlink():
        target = Path(os.path.realpath(entry.path))
        if not target.is_relative_to(root):
            return "symlink_outside", {}
        if target.is_dir():
            return "symlink_folder", {}
        if not target.is_file():
            return "symlink_broken", {}
        return None
    if entry.is_dir(follow_symlinks=False):
        return ("too_deep", {"depth": MAX_FOLDER_DEPTH}) if depth >= MAX_FOLDER_DEPTH else None
    if not entry.is_file(follow_symlinks=False):
        return "not_regular", {}
    return None


def iter_corpus_files(root: Path) -> Iterator[tuple[Path, str, tuple[str, dict] | None]]:
    """Yield (path, relative name, (problem key, its fields) or None) for every visible file, never leaving `root`.

    Iterative, so no folder depth can exhaust the stack; folder symlinks are not followed
    (no loops); a file symlink is read only if it resolves to a file inside the corpus;
    pipes and devices are never opened (reading one would block the build).
    """
    resolved_root = root.resolve()
    folders: list[tuple[Path, int]] = [(root, 0)]
    while folders:
        folder, depth = folders.pop()
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as error:
            yield folder, folder.relative_to(root).as_posix(), ("folder_unreadable", {"error": error.strerror or str(error)})
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            problem = _entry_problem(entry, resolved_root, depth)
            if problem is None and entry.is_dir(follow_symlinks=False):
                subfolders.append((path, depth + 1))
            else:
                yield path, relative, problem
        folders.extend(reversed(subfolders))


def load_corpus(root: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> CorpusScan:
    """Read every article under `root`; duplicate ids keep the first and report the rest."""
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise FileNotFoundError(f"corpus folder {root} {what}; create it, or name another with --corpus DIR or RAG_CORPUS_DIR")
    scan = CorpusScan()
    seen: dict[str, str] = {}
    for path, relative, problem in iter_corpus_files(root):
        if problem:
            scan.problems.append(Problem(relative, *problem))
            continue
        if path.suffix.lower() not in SUFFIXES:
            scan.ignored.append(relative)
            continue
        articles, problems = read_file(path, relative, max_file_bytes)
        scan.problems.extend(problems)
        for article in articles:
            if article.id in seen:
                scan.problems.append(Problem(relative, "duplicate_id", {"id": article.id, "other": seen[article.id]}, article.line))
                continue
            seen[article.id] = relative
            scan.articles.append(article)
    return scan

