"""Search the archive as a researcher does: "words in double quotes" must stand in every article
listed, -words (or -"phrases") in none, and the list may run by date. The page's search tab, `GET /api/search` and `rag search`
all read a query through `search_archive`.

Why: ranking by meaning finds the article about a flood that never names the town, which is what
a question wants; but an archivist counting the reports that name "Demak" wants exactly those,
all of them, and often the newest first. Quotes are how every search box says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from rag.retriever import Filters, Hit, Retriever

QUOTED = re.compile(r'"([^"]*)"|“([^”]*)”')  # straight quotes, or the curly ones a word processor writes
EXCLUDED = re.compile(r'(?<!\S)-(?:"([^"]*)"|“([^”]*)”|([^\s"“”]+))')  # -word, -"a phrase", where a word starts


@dataclass(frozen=True)
class ArchiveSearch:
    """What `search_archive` found.

    Attributes:
        hits: the articles, each with its best passage, in the order asked for.
        phrases: the phrases in quotes every one of them holds (none: the query had none).
        holding: how many articles of the archive hold them all and none of `excluded`,
            within the filters (None without either): the count a researcher reports, often
            more than `hits` shows (every copy of a story counts; the list shows a story once,
            `Hit.also_in`).
        excluded: the words or phrases a minus put out (`-rob`, `-"banjir rob"`): no article
            listed holds one.
        years: `holding` by year of publication, oldest first, '' for the undated (how a
            name's or a story's coverage grew and faded).
    """

    hits: list[Hit]
    phrases: tuple[str, ...] = ()
    holding: int | None = None
    excluded: tuple[str, ...] = ()
    years: dict[str, int] = field(default_factory=dict)


class ParsedQuery(NamedTuple):
    """A search box's query: the `words` to rank by, the `phrases` every article listed must hold
    and the `excluded` words or phrases none may hold."""

    words: str
    phrases: tuple[str, ...]
    excluded: tuple[str, ...] = ()


def parse_query(query: str) -> ParsedQuery:
    """The words to rank by (the quotes dropped, their words kept), the phrases in quotes, and
    what a minus puts out (`-rob`, `-"banjir rob"`: at the start of a word, so "anak-anak"
    stays a word), each with its spaces made single. A quote left open is dropped; its words
    rank as the others.

    Example::

        parse_query('"banjir rob" Demak')   # ParsedQuery('banjir rob Demak', ('banjir rob',), ())
        parse_query('“Joko Widodo” "" 2024 -Solo')   # ParsedQuery('Joko Widodo 2024', ('Joko Widodo',), ('Solo',))
    """
    excluded = [" ".join(next(filter(None, match.groups()), "").split()) for match in EXCLUDED.finditer(query)]
    query = EXCLUDED.sub(" ", query)
    inside = [" ".join((match.group(1) or match.group(2) or "").split()) for match in QUOTED.finditer(query)]
    words = QUOTED.sub(lambda match: f" {match.group(1) or match.group(2) or ''} ", query)
    return ParsedQuery(" ".join(re.sub('["“”]', " ", words).split()), tuple(dict.fromkeys(phrase for phrase in inside if phrase)),
                       tuple(dict.fromkeys(phrase for phrase in excluded if phrase)))


def search_archive(retriever: Retriever, query: str, k: int | None = None, filters: Filters | None = None,
                   order: str = "relevance") -> ArchiveSearch:
    """`Retriever.search` for a query typed into a search box: its phrases in quotes become
    `Filters.phrases` (every article listed holds each of them, as whole words, any case), what
    a minus puts out `Filters.excluded_phrases` (none holds one), the rest ranks; `order` 'newest' or 'oldest' lists by date (with phrases, the newest of every
    article holding them, not only of the best).

    Args:
        retriever: the archive's `Retriever`.
        query: words, a question, "phrases in quotes", -excluded words, in any language.
        k: how many articles (default `RAG_TOP_K`; at most `RAG_MAX_K`).
        filters: a period and outlets (`Filters`); None: all.
        order: 'relevance' (default), 'newest' or 'oldest'.

    Returns:
        an `ArchiveSearch`: the hits, the phrases and how many articles hold them.

    Raises:
        ValueError: a query without a word to rank by, `k` below 1, an unknown `order`.

    Example::

        found = search_archive(Retriever(), '"juru bicara Kremlin"', k=20, order="newest")
        found.holding, [hit.article.published for hit in found.hits]
    """
    words, phrases, excluded = parse_query(query)
    if not words and excluded:
        raise ValueError("the query only says what to leave out: give words to search for")
    if not phrases and not excluded:
        return ArchiveSearch(retriever.search(words, k, filters, order))
    filters = filters or Filters()
    filters = replace(filters, phrases=filters.phrases + phrases, excluded_phrases=filters.excluded_phrases + excluded)
    hits, years = retriever.search_counted(words, k, filters, order)
    return ArchiveSearch(hits, phrases, sum(years.values()), excluded, years)
