"""Search the archive as a researcher does: "words in double quotes" must stand in every article
listed, and the list may run by date. The page's search tab, `GET /api/search` and `rag search`
all read a query through `search_archive`.

Why: ranking by meaning finds the article about a flood that never names the town, which is what
a question wants; but an archivist counting the reports that name "Demak" wants exactly those,
all of them, and often the newest first. Quotes are how every search box says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rag.retriever import Filters, Hit, Retriever

QUOTED = re.compile(r'"([^"]*)"|“([^”]*)”')  # straight quotes, or the curly ones a word processor writes


@dataclass(frozen=True)
class ArchiveSearch:
    """What `search_archive` found.

    Attributes:
        hits: the articles, each with its best passage, in the order asked for.
        phrases: the phrases in quotes every one of them holds (none: the query had none).
        holding: how many articles of the archive hold them all, within the filters (None
            without phrases): the count a researcher reports, often more than `hits` shows
            (every copy of a story counts; the list shows a story once, `Hit.also_in`).
    """

    hits: list[Hit]
    phrases: tuple[str, ...] = ()
    holding: int | None = None


def parse_query(query: str) -> tuple[str, tuple[str, ...]]:
    """The words to rank by (the quotes dropped, their words kept) and the phrases in quotes,
    each with its spaces made single. A quote left open is dropped; its words rank as the others.

    Example::

        parse_query('"banjir rob" Demak')   # ('banjir rob Demak', ('banjir rob',))
        parse_query('“Joko Widodo” "" 2024')   # ('Joko Widodo 2024', ('Joko Widodo',))
    """
    inside = [" ".join((match.group(1) or match.group(2) or "").split()) for match in QUOTED.finditer(query)]
    words = QUOTED.sub(lambda match: f" {match.group(1) or match.group(2) or ''} ", query)
    return " ".join(re.sub('["“”]', " ", words).split()), tuple(dict.fromkeys(phrase for phrase in inside if phrase))


def search_archive(retriever: Retriever, query: str, k: int | None = None, filters: Filters | None = None,
                   order: str = "relevance") -> ArchiveSearch:
    """`Retriever.search` for a query typed into a search box: its phrases in quotes become
    `Filters.phrases` (every article listed holds each of them, as whole words, any case), the
    rest ranks; `order` 'newest' or 'oldest' lists by date (with phrases, the newest of every
    article holding them, not only of the best).

    Args:
        retriever: the archive's `Retriever`.
        query: words, a question, "phrases in quotes", in any language.
        k: how many articles (default `RAG_TOP_K`; at most `RAG_MAX_K`).
        filters: a period and outlets (`Filters`); None: all.
        order: 'relevance' (default), 'newest' or 'oldest'.

    Returns:
        an `ArchiveSearch`: the hits, the phrases and how many articles hold them.

    Raises:
        ValueError: a query without a word, `k` below 1, an unknown `order`.

    Example::

        found = search_archive(Retriever(), '"juru bicara Kremlin"', k=20, order="newest")
        found.holding, [hit.article.published for hit in found.hits]
    """
    words, phrases = parse_query(query)
    if not phrases:
        return ArchiveSearch(retriever.search(words, k, filters, order))
    filters = replace(filters or Filters(), phrases=(filters.phrases if filters else ()) + phrases)
    hits, holding = retriever.search_counted(words, k, filters, order)
    return ArchiveSearch(hits, phrases, holding)
