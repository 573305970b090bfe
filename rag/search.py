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

from rag.config import SEARCH_LISTED
from rag.lexical import phrase_pattern
from rag.retriever import EMPTY_QUERY, Filters, Hit, Retriever

# -"a phrase" (group 1; one left open at the end of the query runs to it), -word where a word starts
# (after a space or an opening bracket: "(-rob)") (2), "a phrase" (3): straight quotes or the curly
# ones a word processor writes, in any pairing (“banjir rob" is typed by mixing two keyboards)
QUOTE = '"“”'
TERM = re.compile(rf'(?<![^\s(\[{{])-(?:[{QUOTE}]([^{QUOTE}]*)(?:[{QUOTE}]|$)|([^\s{QUOTE}]+))|[{QUOTE}]([^{QUOTE}]*)[{QUOTE}]')


class UnsearchableQuery(ValueError):
    """A query no article can be listed for, and why (`reason`): 'nothing' (no word, or quotes
    with nothing in them), 'only_excluded' (only what a minus puts out), or 'excluded_in_phrase'
    (a phrase in quotes holds what a minus puts out: `phrase` and `excluded`, e.g.
    '"banjir rob" -rob'). The page says it in its language; the API and the CLI say `str()`.

    Example::

        try:
            search_archive(retriever, '"banjir rob" -rob')
        except UnsearchableQuery as problem:
            problem.reason, problem.phrase, problem.excluded   # ('excluded_in_phrase', 'banjir rob', 'rob')
    """

    MESSAGES = {"nothing": EMPTY_QUERY,
                "only_excluded": "the query only says what to leave out: give words to search for",
                "excluded_in_phrase": 'the phrase "{phrase}" holds "{excluded}", which the minus leaves out: no article can '
                                      'hold both; drop the minus or the phrase'}

    def __init__(self, reason: str, phrase: str = "", excluded: str = "") -> None:
        self.reason, self.phrase, self.excluded = reason, phrase, excluded
        super().__init__(self.MESSAGES[reason].format(phrase=phrase, excluded=excluded))


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
        words: what was ranked by (`ParsedQuery.words`: the words put out left out).
    """

    hits: list[Hit]
    phrases: tuple[str, ...] = ()
    holding: int | None = None
    excluded: tuple[str, ...] = ()
    years: dict[str, int] = field(default_factory=dict)
    words: str = ""


class ParsedQuery(NamedTuple):
    """A search box's query: the `words` to rank by, the `phrases` every article listed must hold
    and the `excluded` words or phrases none may hold."""

    words: str
    phrases: tuple[str, ...]
    excluded: tuple[str, ...] = ()


def parse_query(query: str) -> ParsedQuery:
    """The words to rank by (the quotes dropped, their words kept), the phrases in quotes, and
    what a minus puts out (`-rob`, `-"banjir rob"`: at the start of a word, so "anak-anak"
    stays a word, and outside quotes, so "suhu -5 derajat" is one phrase; also after an opening
    bracket, "(-rob)"; punctuation around a minus word is dropped, as is a bracket or other mark
    left standing alone), each with its spaces made single. A quote left open is dropped; its
    words rank as the others.

    Example::

        parse_query('"banjir rob" Demak')   # ParsedQuery('banjir rob Demak', ('banjir rob',), ())
        parse_query('“Joko Widodo” "" 2024 -Solo')   # ParsedQuery('Joko Widodo 2024', ('Joko Widodo',), ('Solo',))
    """
    phrases: list[str] = []
    excluded: list[str] = []

    def take(term: re.Match) -> str:  # one pass, left to right: a minus inside quotes is the phrase's
        which = term.lastindex or 0
        text = " ".join((term.group(which) or "").split())
        if which == 2:  # -word: "-rob," and "(-rob)" put out "rob"; "-C++", "-C#" and "-.NET" keep their marks
            text = re.sub(r"^[(\[{«‘“'\"]+|[,.;:!?)\]}»’”'\"…]+$", "", text) if re.search(r"\w", text) else ""
        (excluded if which <= 2 else phrases).append(text)
        return " " if which <= 2 else f" {text} "

    words = " ".join(word for word in re.sub('["“”]', " ", TERM.sub(take, query)).split() if re.search(r"\w", word))
    return ParsedQuery(words, tuple(dict.fromkeys(p for p in phrases if p)), tuple(dict.fromkeys(p for p in excluded if p)))


def search_archive(retriever: Retriever, query: str, k: int | None = None, filters: Filters | None = None,
                   order: str = "relevance") -> ArchiveSearch:
    """`Retriever.search` for a query typed into a search box: its phrases in quotes become
    `Filters.phrases` (every article listed holds each of them, as whole words, any case), what
    a minus puts out `Filters.excluded_phrases` (none holds one), the rest ranks; `order` 'newest' or 'oldest' lists by date (with phrases, the newest of every
    article holding them, not only of the best).

    Args:
        retriever: the archive's `Retriever`.
        query: words, a question, "phrases in quotes", -excluded words, in any language.
        k: how many articles (default `SEARCH_LISTED`, 10; at most `RAG_MAX_K`).
        filters: a period and outlets (`Filters`); None: all.
        order: 'relevance' (default), 'newest' or 'oldest'.

    Returns:
        an `ArchiveSearch`: the hits, the phrases and how many articles hold them.

    Raises:
        UnsearchableQuery: a query without a word to rank by, or one no article can match.
        ValueError: `k` below 1, an unknown `order`.

    Example::

        found = search_archive(Retriever(), '"juru bicara Kremlin"', k=20, order="newest")
        found.holding, [hit.article.published for hit in found.hits]
    """
    k = min(SEARCH_LISTED, retriever.settings.max_k) if k is None else k
    words, phrases, excluded = parse_query(query)
    if not words:
        raise UnsearchableQuery("only_excluded" if excluded else "nothing")
    for phrase in phrases:
        if clash := next((out for out in excluded if phrase_pattern(out).search(phrase)), None):
            raise UnsearchableQuery("excluded_in_phrase", phrase, clash)
    if not phrases and not excluded:
        return ArchiveSearch(retriever.search(words, k, filters, order), words=words)
    filters = filters or Filters()
    filters = replace(filters, phrases=filters.phrases + phrases, excluded_phrases=filters.excluded_phrases + excluded)
    hits, years = retriever.search_counted(words, k, filters, order)
    return ArchiveSearch(hits, phrases, sum(years.values()), excluded, years, words)
