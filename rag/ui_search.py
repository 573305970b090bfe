"""The search tab of the web page: the archive's articles for some words or a question, best
match first, each with the passage that matched, its outlet and date, and the whole article
folded below; a period and outlets narrow them.

Why a tab of its own: the chat answers a question from a few articles, while a researcher or an
archivist often wants every article about something (all the reports on a flood, a name's
appearances in one outlet). The articles are `Retriever.search`'s, as `rag search` and
`GET /api/search` list them; the cards are drawn by `rag.ui_render.hit_card`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import gradio as gr

from rag.answer import MAX_QUESTION_CHARS
from rag.language import content_words
from rag.lexical import holds_phrase, phrase_pattern
from rag.replies import NO_MATCH
from rag.retriever import ORDERS, Hit, Retriever
from rag.config import SEARCH_LISTED
from rag.search import ArchiveSearch, UnsearchableQuery, search_archive
from rag.sentences import score_sentences
from rag.corpus_files import slug
from rag.ui_chat import download_file, parse_filters
from rag.ui_render import hit_card, literal
from rag.ui_text import LABELS, counted, number



@dataclass
class SearchTab:
    """The search tab's components."""

    query: gr.Textbox
    go: gr.Button
    since: gr.Textbox
    until: gr.Textbox
    outlets: gr.Dropdown
    k: gr.Slider
    order: gr.Radio  # best match first, or by date (`rag.retriever.ORDERS`)
    summary: gr.Markdown  # how many articles were found for what, or what is wrong with the filters
    download: gr.DownloadButton  # the list as a CSV file, once there is one
    results: gr.HTML
    searched: gr.State  # what the last search was run with (`inputs`' values), [] before the first

    @property
    def outputs(self) -> list:
        """What a search shows, in `search_view`'s order."""
        return [self.summary, self.results, self.download]

    @property
    def inputs(self) -> list:
        """What a search reads, in `search_view`'s order (the page's language follows)."""
        return [self.query, self.since, self.until, self.outlets, self.k, self.order]

    @property
    def labelled(self) -> list:
        """What `relabel_search` relabels, in its order."""
        return [self.query, self.go, self.since, self.until, self.outlets, self.k, self.order]


def search_tab(retriever: Retriever, labels: dict[str, str]) -> SearchTab:
    """The query box and its button, then the period, outlets and how many, then the results."""
    with gr.Row(equal_height=True):
        query = gr.Textbox(label=labels["search_query"], placeholder=labels["search_placeholder"], info=labels["search_syntax"],
                           elem_id="search-query", max_length=MAX_QUESTION_CHARS, scale=4,
                           min_width=260)  # a phone puts the button under the box, not a tall one beside it
        go = gr.Button(labels["search_go"], variant="primary", elem_id="search-go", scale=0, min_width=120)
    with gr.Row():
        since = gr.Textbox(label=labels["since"], elem_id="search-since", min_width=160)
        until = gr.Textbox(label=labels["until"], elem_id="search-until", min_width=160)
        outlets = gr.Dropdown(retriever.store.sources(), multiselect=True, label=labels["sources"],
                              elem_id="search-outlets", min_width=200)
        k = gr.Slider(1, retriever.settings.max_k, value=min(SEARCH_LISTED, retriever.settings.max_k), step=1,
                      label=labels["search_k"], elem_id="search-k", min_width=200)
        order = gr.Radio(order_choices(labels), value="relevance", label=labels["search_order"], elem_id="search-order",
                         min_width=200)
    with gr.Row(equal_height=True):
        summary = gr.Markdown(elem_id="search-summary", latex_delimiters=[], min_width=260)  # the CSV button under it on a phone
        download = gr.DownloadButton(labels["search_download"], elem_id="search-download", size="sm", visible=False, scale=0,
                                     min_width=160)
    results = gr.HTML(elem_id="search-results")
    return SearchTab(query, go, since, until, outlets, k, order, summary, download, results, gr.State([]))


def order_choices(labels: dict[str, str]) -> list[tuple[str, str]]:
    """The orders a search list can run in, as the page's language names them."""
    return [(labels[f"search_order_{order}"], order) for order in ORDERS]


def search_view(retriever: Retriever, query: str, since: str, until: str, outlets: list[str] | None, k: float,
                order: str, language: str) -> tuple[str, str, dict]:
    """The summary line, the result cards and the CSV file to download of one search
    (`search_archive`: "phrases in quotes" must stand in each article; `order` 'relevance',
    'newest' or 'oldest'), in the page's `language`: what to type when the box is empty, what is
    wrong with a date, "Tidak ada artikel ..." when the filters leave none, else "10 artikel
    untuk «banjir», yang paling cocok lebih dulu" (after "Artikel yang memuat «banjir rob»: 312."
    for phrases), a card per article (`hit_card`) and the list as CSV (`results_csv`).

    Example::

        summary, cards, download = search_view(Retriever("index"), '"juru bicara" Kremlin', "", "", [], 5, "newest", "id")
    """
    labels = LABELS[language]
    query = (query or "").strip()
    nothing = gr.update(value=None, visible=False, label=labels["search_download"])
    if not query:
        return labels["search_prompt"], "", nothing
    filters, wrong = parse_filters(since, until, outlets, language)
    if filters is None:
        return wrong, "", nothing
    try:
        found = search_archive(retriever, query, int(k), filters, order)
    except UnsearchableQuery as problem:  # quotes and nothing in them, only what to leave out, a phrase put out
        said = labels["search_prompt" if problem.reason == "nothing" else f"search_{problem.reason}"]
        return said.format(phrase=literal(problem.phrase), excluded=literal(problem.excluded)), "", nothing
    hits = found.hits
    holding = holding_line(found, language)
    if not hits:
        return holding + (NO_MATCH[language] if filters.narrows or holding else labels["search_empty_index"]), "", nothing
    summary = holding + labels[f"search_found_{order}"].format(articles=counted(len(hits), "article", language), query=literal(query))
    asked = [] if found.phrases else content_words(found.words)  # with phrases, the line before says how many hold them
    if asked:  # the list is a ranking: say how many hold every word ("10 for «Jokowi»" listed 1 naming him)
        holding_words = sum(all(holds_phrase(hit.article.title, hit.article.text, word) for word in asked) for hit in hits)
        summary += " " + labels["search_words_held"].format(count=number(holding_words, language), total=number(len(hits), language))
    matched = [matching_sentence(found.words, hit, found.phrases) for hit in hits]  # not the words put out
    cards = "\n".join(hit_card(hit, rank, language, sentence) for rank, (hit, sentence) in enumerate(zip(hits, matched, strict=True), 1))
    name = f"{labels['search_file']}-{slug(query)[:40]}.csv"
    return summary, cards, gr.update(value=download_file(name, results_csv(hits, matched)), visible=True, label=labels["search_download"])


def holding_line(found: ArchiveSearch, language: str) -> str:
    """How many articles hold the query's phrases and none of what it put out ("Artikel yang
    memuat «banjir rob» tanpa «Demak»: 1.012. "), and how many each year when they span more than
    one ("Per tahun: 2016 (5) · 2017 (7)."), or '' when the query has neither."""
    labels = LABELS[language]
    if not found.phrases and not found.excluded:
        return ""
    key = "search_holding_lacking" if found.phrases and found.excluded else "search_holding" if found.phrases else "search_lacking"
    def listed(phrases: tuple[str, ...]) -> str:
        return " + ".join(f"«{literal(phrase)}»" for phrase in phrases)
    line = labels[key].format(phrases=listed(found.phrases), excluded=listed(found.excluded), count=number(found.holding, language)) + " "
    if len(found.years) > 1:  # a spread over time: how the coverage grew and faded
        years = " · ".join(f"{year or labels['search_undated']} ({number(count, language)})" for year, count in found.years.items())
        line += labels["search_years"].format(years=years) + " "
    return line


CSV_COLUMNS = ["rank", "title", "outlet", "published", "url", "article_id", "score", "matched_sentence", "passage"]


def results_csv(hits: list[Hit], matched: list[tuple[int, int] | None]) -> str:
    """The articles found as CSV, best first, one row each (`CSV_COLUMNS`: the sentence that
    matched, else empty, and the passage), with a byte-order mark so that a spreadsheet opens
    it as UTF-8, and no cell a spreadsheet would run as a formula (`inert`).

    Example::

        results_csv(hits, [matching_sentence("banjir", hit) for hit in hits]).splitlines()[0]
        # '\ufeffrank,title,outlet,published,url,article_id,score,matched_sentence,passage'
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, (hit, sentence) in enumerate(zip(hits, matched, strict=True), 1):
        row = hit.to_json(rank)
        texts = [row[key] or "" for key in ("title", "source", "published", "url", "article_id")]
        writer.writerow([rank, *map(inert, texts), f"{hit.score:.4f}", inert(hit.article.text[slice(*sentence)] if sentence else ""),
                         inert(row["text"])])
    return "\ufeff" + out.getvalue()


def inert(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula (=, +, -, @, a tab
    or a carriage return: a title fetched from the web may) gets a leading apostrophe.

    Example::

        inert('=HYPERLINK("http://x.id")'), inert("Banjir")   # ('\'=HYPERLINK("http://x.id")', 'Banjir')
    """
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def matching_sentence(query: str, hit: Hit, phrases: tuple[str, ...] = ()) -> tuple[int, int] | None:
    """The passage's sentence that holds most of the query's words (`rag.sentences.score_sentences`'
    coverage: stemmed, weighted by how rare they are; the better scored of equals), of those
    holding one of the `phrases` when some do, to show why the article matched; None when no
    sentence holds any word (a query in another language than the article's, matched by meaning).

    Example::

        matching_sentence("harga cabai", hit)   # (41, 112): "Harga cabai rawit naik ..."
    """
    scored = score_sentences(query, [hit])
    text = hit.article.text
    holding = [s for s in scored if any(phrase_pattern(p).search(text[slice(*s.span)]) for p in phrases)]
    best = max(holding or scored, key=lambda sentence: sentence.coverage, default=None)
    return best.span if best and best.coverage > 0 else None


def wire_search(retriever: Retriever, search: SearchTab, language: gr.State) -> None:
    """The button and Enter in the box search (the HTTP API has `GET /api/search` for programs)."""
    def run(query: str, since: str, until: str, outlets: list[str], k: float, order: str, language: str) -> tuple:
        return *search_view(retriever, query, since, until, outlets, k, order, language), [query, since, until, outlets, k, order]

    for event in (search.go.click, search.query.submit, search.order.input):  # a new order lists again at once
        event(run, [*search.inputs, language], [*search.outputs, search.searched], api_visibility="private")


def search_again(retriever: Retriever, searched: list, language: str) -> tuple[str, str, dict]:
    """`search_view` of the last search (`SearchTab.searched`) in another language; nothing
    before the first (a query typed but not searched for is not run)."""
    if not searched:
        return "", "", gr.update(visible=False, label=LABELS[language]["search_download"])
    return search_view(retriever, *searched, language)


def relabel_search(labels: dict[str, str]) -> list:
    """Updates for `SearchTab.labelled` (query, button, since, until, outlets, k, order) in
    another language (`search_view` labels the download)."""
    return [gr.update(label=labels["search_query"], placeholder=labels["search_placeholder"], info=labels["search_syntax"]),
            gr.update(value=labels["search_go"]), gr.update(label=labels["since"]), gr.update(label=labels["until"]),
            gr.update(label=labels["sources"]), gr.update(label=labels["search_k"]),
            gr.update(label=labels["search_order"], choices=order_choices(labels))]
