"""PDF and Word files as articles: press releases and reports arrive as documents, not pages.

A PDF's text layer is read page by page (pypdf) and the pages are joined with blank lines; the
offset where each page starts is kept in the article's metadata (`pages`), so a citation can
say on which page its sentence stands (`page_of`). A PDF without a text layer (a scan) is
refused with the reason: OCR is not supported, and an empty article would only hide that.
A `.docx` is read paragraph by paragraph (python-docx); Word stores no page numbers (pages are
made when the document is laid out), so its citations have none.

Title, author and date come from the document's own properties when they are filled in.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import logging
from typing import Any

from rag.corpus import Article, make_article, normalise_text, split_headline
from rag.problems import ArticleError

PAGE_BREAK = "\n\n"
logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns about every odd object of damaged files


def page_of(article: Article, offset: int) -> int | None:
    """The 1-based page of a document article on which character `offset` stands, or None for
    articles without pages (everything but PDFs).

    Example::

        article = read_pdf(raw, "laporan.pdf", "Laporan")[0]
        page_of(article, article.text.index("inflasi"))   # 3
    """
    starts = article.metadata.get("pages")
    if not starts:
        return None
    return bisect.bisect_right(starts, offset)


def read_pdf(raw: bytes, relative: str, fallback_title: str) -> list[Article]:
    """One article from a PDF's text layer, with the start offset of every page in `metadata['pages']`.

    Raises `ArticleError` for an encrypted or damaged PDF, or one with no text layer.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ArticleError("pdf_password")
        pages = [reflow(normalise_text(page.extract_text() or "")) for page in reader.pages]
        info = reader.metadata or {}
        fields = {"title": info.get("/Title"), "author": info.get("/Author"),
                  "published": _pdf_date(info.get("/CreationDate"))}
    except ArticleError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged file breaks pypdf in many ways (IndexError, RecursionError, ...): one problem, not a stopped build
        raise ArticleError("pdf_unreadable", error=_why(error)) from None
    if not any(pages):
        raise ArticleError("pdf_no_text", pages=len(pages))
    if not fields["title"]:  # a first line that reads like a headline becomes the title (as for text files)
        first = next(i for i, page in enumerate(pages) if page)
        fields["title"], pages[first] = split_headline(pages[first])
        if not fields["title"] and any(pages[first + 1 :]) and split_headline(pages[first] + "\n.")[0]:
            fields["title"], pages[first] = split_headline(pages[first] + "\n.")[0], ""  # a cover page of one line
    fields["title"] = fields["title"] or fallback_title  # the page offsets are taken: no headline is cut from the text after
    text, starts = _join_pages(pages)
    fields["pages"] = starts
    return [make_article(relative, relative, _filled(fields), text, fallback_title)]


def read_docx(raw: bytes, relative: str, fallback_title: str) -> list[Article]:
    """One article from a Word document's paragraphs (tables' cells too), title/author/date from its properties."""
    import docx

    try:
        document = docx.Document(io.BytesIO(raw))
        paragraphs = [p.text for p in document.paragraphs]
        paragraphs += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        properties = document.core_properties
        fields = {"title": properties.title, "author": properties.author, "published": properties.created}
    except Exception as error:  # noqa: BLE001 - a damaged zip or XML part (lxml's XMLSyntaxError, ...): one problem, not a stopped build
        raise ArticleError("docx_unreadable", error=_why(error)) from None
    return [make_article(relative, relative, _filled(fields), "\n\n".join(p.strip() for p in paragraphs if p.strip()), fallback_title)]


def _why(error: Exception) -> str:
    """A parser's error as a problem shows it: its message, or its type when it has none."""
    return str(error) or type(error).__name__


def reflow(page: str, full_line: float = 0.7) -> str:
    """Undo a PDF's line wrapping: a line at least `full_line` of the page's longest line was
    wrapped by the layout and is joined to the next with a space; shorter lines (headlines, the
    last line of a paragraph) keep their break. Sentences then read as one line each, which the
    sentence splitter and the quotes need.

    Example::

        reflow("Inflasi Juli tercatat 3,08\npersen menurut BPS.")   # one line
    """
    lines = page.split("\n")
    longest = max(map(len, lines), default=0)
    out = lines[:1]
    for line in lines[1:]:
        if line and out[-1] and len(out[-1]) >= full_line * longest:
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


def _join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """The pages joined by blank lines, and where each starts in the text the article will hold.

    Pages come normalised (`normalise_text`), so `make_article` changes nothing and the offsets
    hold; an empty page starts where the next one does.
    """
    text, starts = "", []
    for page in pages:
        if text and page:
            text += PAGE_BREAK
        starts.append(len(text))
        text += page
    return text, starts


def _pdf_date(value: Any) -> dt.date | None:
    """A PDF date string ("D:20230711093000+07'00'") as a date; None when missing or malformed."""
    digits = str(value or "").removeprefix("D:")[:8]
    try:
        return dt.datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        return None


def _filled(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value not in (None, "")}
