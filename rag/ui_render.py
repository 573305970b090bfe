"""The chat's HTML: the reply bubbles, and the source cards every answer keeps.

Why its own module: what the page shows is decided here and only here, so that it can be
checked without a browser (`tests/test_properties.py` feeds it hostile text) and so that
`rag/ui.py`, `rag/ui_chat.py` and `rag/ui_index.py` stay the page's layout and events.

Every piece of article data is escaped before it reaches the page: titles, text and URLs are
shown as text, never as live HTML, and only http(s) links are made clickable. The user's own
question is shown exactly as typed. Every answer keeps its own sources: citation `[n]` of answer
`t` links to `#cite-t-n`, so the first answer's `[1]` still opens its own article after three
more questions, and a second `[1]` (another sentence of the same article) opens that sentence
(`#cite-t-1-2`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from rag.answer import Answer, Citation, Source
from rag.replies import FRAME
from rag.corpus import Article
from rag.documents import page_of
from rag.retriever import Hit
from rag.transcript import answer_text
from rag.ui_text import LABELS, format_date


@dataclass(frozen=True)
class Turn:
    """One question of the conversation, its answer, and an id that tells a retried answer apart."""

    question: str
    answer: Answer
    answer_id: str


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def literal(text: str) -> str:
    """Chat markdown that shows `text` exactly as typed: no HTML, no emphasis, no links (a web
    address is no autolink either: its "://" is written "&#58;//", or the page would show the
    backslashes that escape its dots inside a link that leads nowhere). The markdown components
    that show it turn math off (`latex_delimiters=[]`): "$$" is a price, not a formula.

    Example::

        literal("<img src=x> *bukan tebal*")   # shown as '<img src=x> *bukan tebal*'
    """
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False)).replace("://", "&#58;//")
    return escaped.replace("\n", "  \n")


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")


def typed_text(content: object) -> str:
    """What the user typed, back from a chat message `literal` wrote (as the chat hands an edited
    message back: a string, or Gradio's list of `{"type": "text", "text": ...}` parts).

    Example::

        typed_text(literal("<b>Apa</b> kata *Lavrov*?"))   # '<b>Apa</b> kata *Lavrov*?'
    """
    if isinstance(content, list | tuple):
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    elif isinstance(content, dict):
        content = content.get("text", "")
    text = str(content or "").replace("  \n", "\n")
    return html.unescape(_ESCAPED.sub(r"\1", text))


def render_reply(answer: Answer, turn: int) -> str:
    """The reply to question `turn` (1, 2, ...) as chat markdown, in the answer's language:
    article text shown as typed (no HTML, no markdown: a `[x](url)` in an article is no link), the
    short answer in bold with a plain confidence label (after the frame when the quote is the
    answer: what someone said, or a definition that is most of its sentence), each [n] a link to
    the sentence it cites in this answer's article n. An abstention has no frame; it names the related articles,
    each a link to its card. The chat's copy buttons copy `answer_text` (kept in a hidden element:
    the page's script puts it on the clipboard in place of this markdown)."""
    return _reply_markdown(answer, turn) + _copy_text(answer)


def _copy_text(answer: Answer) -> str:
    """What the chat's "copy message" puts on the clipboard (the page's script reads it; Gradio's
    own copy is this markdown, backslashes and links included): the answer as `rag ask` prints it,
    its sources and the offsets of each quote."""
    text = answer_text(answer, answer.language if answer.language in LABELS else "en").rstrip("\n")
    kept = html.escape(text, quote=True).replace("\n", "&#10;")  # a blank line would end the markdown's HTML
    return f'<span class="copy-text" hidden title="{kept}"></span>'


def _reply_markdown(answer: Answer, turn: int) -> str:
    labels = LABELS.get(answer.language, LABELS["en"])
    if answer.abstained:
        first, *rest = answer.text.split("\n")
        text = f"_{literal(first)}_"
        # "Possibly related articles:" before their links; without any, what else it says (the outlets a filter names)
        text += "".join("  \n" + literal(line) for line in (rest[:1] if answer.sources else rest))
        for source in answer.sources:
            text += f'  \n- <a href="#cite-{turn}-{source.n}">{literal(source.title)}</a>'
        return text
    text = literal(answer.text)
    frame = literal(FRAME[answer.language])
    # the reader's probability that the article answers (none without a reader)
    label = f" _({labels[answer.sureness]})_" if answer.sureness else ""
    lead = f"{frame} {literal(answer.short_answer)}" if answer.short_answer else None
    if lead and text.startswith(lead):  # the frame, then the short answer: bold it there, and only there
        text = f"{frame} **{text[len(frame) + 1 : len(lead)]}**{label}" + text[len(lead):]
    elif label and text.startswith(frame):  # the quote is the answer (what someone said, a definition)
        text = frame + label + text[len(frame):]
    text = _link_marks(text, answer, turn)
    if answer.notice:
        text += f"  \n  \n_{literal(answer.notice)}_"
    return text


def citation_anchors(answer: Answer, turn: int) -> list[str]:
    """The id of each citation's highlighted sentence in its article, in `answer.citations` order:
    `cite-t-n` for the first sentence quoted from source n, `cite-t-n-2`, `cite-t-n-3` for the
    next ones (a sentence quoted twice keeps its id), so that each `[n]` opens its own sentence.

    Example::

        citation_anchors(answer, 1)   # ['cite-1-1', 'cite-1-1-2', 'cite-1-2'] for [1] [1] [2]
    """
    ids: dict[tuple[int, int, int], str] = {}
    per_source: dict[int, int] = {}
    for c in answer.citations:
        if (c.n, c.start, c.end) not in ids:
            per_source[c.n] = per_source.get(c.n, 0) + 1
            ids[c.n, c.start, c.end] = f"cite-{turn}-{c.n}" + (f"-{per_source[c.n]}" if per_source[c.n] > 1 else "")
    return [ids[c.n, c.start, c.end] for c in answer.citations]


def _link_marks(text: str, answer: Answer, turn: int) -> str:
    """Each citation's `[n]` in a rendered reply (`text`) as a link to its own sentence: the
    first `[n]` after the quoted sentence, as `Assistant` writes them, in `answer.citations`
    order (an LLM's sentences are its own words: there the next `[n]`). A "[1]" inside a quoted
    sentence stays text."""
    pieces, cursor = [], 0
    for citation, anchor in zip(answer.citations, citation_anchors(answer, turn), strict=True):
        sentence = literal(citation.sentence)
        quoted = text.find(sentence, cursor)
        mark = literal(f"[{citation.n}]")
        at = text.find(mark, quoted + len(sentence) if quoted >= 0 else cursor)
        if at < 0:
            continue
        pieces.append(text[cursor:at] + f'<a href="#{anchor}">[{citation.n}]</a>')
        cursor = at + len(mark)
    return "".join(pieces) + text[cursor:]


def render_sources(turns: Sequence[Turn], article_of: Callable[[str], Article | None], language: str) -> str:
    """Every answer's source cards, the latest answer first and open, earlier ones folded.

    Each group carries `data-turn` (1, 2, ...) and `data-answer` (the answer's id), set once its
    answer is complete. `article_of` looks an article up by id (`IndexStore.article`).
    """
    labels = LABELS[language]
    if not turns:
        return f'<div id="turns"><p>{labels["no_sources"]}</p></div>'
    groups = []
    for t, turn in reversed(list(enumerate(turns, 1))):
        key = "related_of" if turn.answer.abstained else "sources_of"
        heading = f'{labels[key].format(n=t)}: {html.escape(turn.question)}'
        latest = t == len(turns)  # earlier answers' articles come when opened (`article_view`)
        cards = "\n".join(source_card(turn.answer, source, t, article_of, language, latest) for source in turn.answer.sources)
        cards = cards or f'<p>{labels["no_related"]}</p>'  # nothing retrieved (e.g. filters that exclude all)
        attributes = f'class="turn" id="turn-{t}" data-turn="{t}" data-answer="{html.escape(turn.answer_id, quote=True)}"'
        opened = " open" if t == len(turns) else ""
        groups.append(f"<details {attributes}{opened}><summary><h3>{heading}</h3></summary>\n{cards}</details>")
    return '<div id="turns">' + "\n".join(groups) + "</div>"


def source_card(answer: Answer, source: Source, turn: int, article_of: Callable[[str], Article | None],
                language: str, with_text: bool = True) -> str:
    """A compact card: outlet badge and name, date, title, the passage with the cited sentence
    highlighted, the link as its domain, "Copy quote", and the full article folded below (its
    text in the card, or, without `with_text`, fetched when it is opened: `article_view`)."""
    labels = LABELS[language]
    cited = [(c, anchor) for c, anchor in zip(answer.citations, citation_anchors(answer, turn), strict=True) if c.n == source.n]
    spans = [(c.start, c.end) for c, _ in cited]
    anchor = f"cite-{turn}-{source.n}"
    article = article_of(source.article_id)
    full = article_view(article, placed_marks(article.text, cited), language, with_text) if article else '<div class="article-view"></div>'
    passage = snippet(source.passage, spans, source.passage_start)
    pages = sorted({c.page for c in answer.citations if c.n == source.n and c.page})
    page = ", ".join(labels["page"].format(n=n) for n in pages)
    head = card_head(source.source, source.url, source.published, page, language)
    foot = [web_link(source.url)] if is_web(source.url) else []
    quote = " ".join(c.sentence for c in answer.citations if c.n == source.n)
    if quote:
        line = citation_line(quote, source, language, page)
        foot.append(f'<button type="button" class="copy-quote" data-citation="{html.escape(line, quote=True)}" '
                    f'data-copied="{labels["copied"]}">{labels["copy_quote"]}</button>')
    foot.append(f'<a href="#{anchor}">{labels["open_article"]} [{source.n}]</a>')
    return (f'<div class="source-card" id="source-{turn}-{source.n}">{head}'
            f"<h4>[{source.n}] {html.escape(source.title)}</h4><p>{passage}</p>"
            f'<div class="card-foot">{" · ".join(foot)}</div>{copies_line(source.also_in, language)}'
            f'<details id="article-{turn}-{source.n}"><summary>{html.escape(source.title)}</summary>{full}</details></div>')


def article_view(article: Article, marks: list[tuple[int, int, str]], language: str, with_text: bool) -> str:
    """The whole article under a card, its cited sentences marked (`marks`: start, end, anchor).
    Without `with_text` the text is left out: the page's script (`ragLoadArticle` in `rag.ui`)
    fetches it from `GET /api/articles/{id}` when the card's article is opened and marks the same
    offsets, so that a long conversation does not send every earlier answer's articles again
    with each answer.

    Example::

        article_view(article, [(0, 15, "cite-1-1")], "id", with_text=False)
        # '<div class="article-view" data-article="a.md" data-marks="[[0, 15, &quot;cite-1-1&quot;]]" ...></div>'
    """
    if with_text:
        return f'<div class="article-view">{_highlight(article.text, marks, 0)}</div>'
    return (f'<div class="article-view" data-article="{html.escape(article.id, quote=True)}" '
            f'data-marks="{html.escape(json.dumps(marks), quote=True)}" '
            f'data-failed="{html.escape(LABELS[language]["article_unavailable"], quote=True)}"></div>')


def hit_card(hit: Hit, rank: int, language: str, matched: tuple[int, int] | None = None) -> str:
    """A search result as a card, as the sources panel draws a source: outlet, date (and PDF
    page), `rank` and title, the passage that matched (around its sentence `matched`, marked,
    when one is given; else its opening), the link, the other outlets' copies, and the whole
    article folded below with that sentence (else the passage) marked.

    Example::

        hit = retriever.search("juru bicara Kremlin", k=1)[0]
        hit_card(hit, 1, "id", hit.sentences[0])   # '<div class="source-card search-hit" ...'
    """
    article = hit.article
    page = page_of(article, hit.start)
    head = card_head(article.source, article.url, article.published_iso, LABELS[language]["page"].format(n=page) if page else "",
                     language)
    foot = [web_link(article.url)] if is_web(article.url) else []
    link = f'<div class="card-foot">{" · ".join(foot)}</div>' if foot else ""
    full = _highlight(article.text, [(*(matched or (hit.start, hit.end)), None)], 0)
    passage = snippet(hit.text, [matched] if matched else [], hit.start)
    return (f'<div class="source-card search-hit" data-article="{html.escape(article.id, quote=True)}">{head}'
            f"<h4>{rank}. {html.escape(article.title)}</h4><p>{passage}</p>"
            f"{link}{copies_line(hit.copies(), language)}"
            f'<details><summary>{LABELS[language]["open_article"]}</summary><div class="article-view">{full}</div></details></div>')


def card_head(outlet: str | None, url: str | None, published: str | None, page: str, language: str) -> str:
    """A card's first line: the outlet's initial as a badge, its name (else the link's domain),
    the date as the page's language writes it, and the PDF page when there is one."""
    outlet = outlet or domain(url) or ""
    head = [f'<span class="badge">{html.escape(outlet[:1].upper() or "?")}</span>']
    head += [f'<span class="outlet">{html.escape(outlet)}</span>'] if outlet else []
    head += [f'<span class="date">{html.escape(format_date(published, language))}</span>'] if published else []
    head += [f'<span class="page">{page}</span>'] if page else []
    return f'<div class="card-head">{" ".join(head)}</div>'


def web_link(url: str) -> str:
    """An http(s) link shown as its domain, opened in a new tab."""
    return (f'<a class="domain" href="{html.escape(url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(domain(url))}</a>')


def placed_marks(text: str, cited: list[tuple[Citation, str]]) -> list[tuple[int, int, str]]:
    """(start, end, anchor) of each cited sentence where it stands in the article's `text` as it is
    now: an answer kept from before the article was edited (a reload, the browser's copy) cites
    offsets into the old text; its sentence is marked where it stands now (the place nearest the
    old one), and not at all when the edit removed it.

    Example::

        # the answer cited "Lavrov berkata." at 0..15; a correction was put before it since
        placed_marks("Koreksi. Lavrov berkata.", [(citation, "cite-1-1")])   # [(9, 24, "cite-1-1")]
    """
    placed = []
    for citation, anchor in cited:
        start = citation.start
        if text[start : citation.end] != citation.sentence:
            found = [m.start() for m in re.finditer(re.escape(citation.sentence), text)]
            if not found:
                continue
            start = min(found, key=lambda at: abs(at - citation.start))
        placed.append((start, start + len(citation.sentence), anchor))
    return placed


def copies_line(also_in: list[dict], language: str) -> str:
    """"Also published in: Kompas (11 April 2024), Detik" for a story other outlets carried too
    (`Source.also_in`, `Hit.copies()`: each a link when it has a web URL); '' when there is no other copy."""
    if not also_in:
        return ""
    copies = []
    for copy in also_in:
        name = html.escape(copy["source"] or copy["title"])
        when = f" ({html.escape(format_date(copy['published'], language))})" if copy["published"] else ""
        url = copy["url"]
        copies.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{name}</a>{when}'
                      if is_web(url) else f"{name}{when}")
    return f'<div class="also-in">{LABELS[language]["also_in"]}: {", ".join(copies)}</div>'


def snippet(passage: str, spans: list[tuple[int, int]], offset: int, context: int = 160) -> str:
    """The cited sentences of a passage (article offsets `spans`, the passage starting at
    `offset`) highlighted, with about `context` characters around them, cut at spaces with "…";
    the passage's opening when nothing in it is cited.

    Example::

        snippet("A. B cited. C.", [(3, 11)], 0)   # 'A. <mark>B cited.</mark> C.'
    """
    inside = [(a, b) for a, b in spans if offset <= a and b <= offset + len(passage)]
    first = min((a for a, _ in inside), default=offset) - offset
    last = max((b for _, b in inside), default=offset) - offset
    start = 0 if first <= context else passage.rfind(" ", 0, first - context) + 1
    end = len(passage) if len(passage) - last <= context else passage.find(" ", last + (context if inside else 2 * context))
    end = len(passage) if end < 0 else end
    text = passage[start:end]
    marks = [(a, b, None) for a, b in inside]
    return ("… " if start else "") + _highlight(text, marks, offset + start) + (" …" if end < len(passage) else "")


def citation_line(quote: str, source: Source, language: str, page: str = "") -> str:
    """The quote as a journalist pastes it: “quote” — title, outlet, date, page. URL (a quote in
    the quote in single marks: “‘De facto, ...’ kata Peskov.”, not ““De facto, ...” kata Peskov.”)

    Example::

        citation_line("Peskov berkata ...", source, "id")
        # '“Peskov berkata ...” — Rusia Lontarkan Ancaman, Al Jazeera, 11 Juli 2023. https://...'
    """
    where = ", ".join(x for x in (source.title, source.source, format_date(source.published, language), page) if x)
    url = f" {source.url}" if is_web(source.url) else ""
    inner = quote.translate(_INNER_QUOTES)  # a quote inside the quote takes single marks, as a journalist writes it
    return f"“{inner}” — {where}.{url}"


_INNER_QUOTES = str.maketrans({"“": "‘", "”": "’", '"': "'"})


def is_web(url: str | None) -> bool:
    """Only http(s) links are made clickable (no javascript:, data:, file:)."""
    return bool(url) and url.startswith(("http://", "https://"))


def domain(url: str | None) -> str:
    """The host of an http(s) URL without `www.` ('' for anything else)."""
    if not is_web(url):
        return ""
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def _highlight(text: str, marks: list[tuple[int, int, str | None]], offset: int) -> str:
    """Escape `text` and wrap the cited spans (article offsets, each with its id or None) in <mark>."""
    pieces, cursor = [], 0
    for start, end, anchor in sorted(marks, key=lambda mark: mark[:2]):
        start, end = start - offset, end - offset
        if start < cursor or start < 0 or end > len(text):
            continue
        attribute = f' id="{anchor}"' if anchor else ""
        pieces += [html.escape(text[cursor:start]), f"<mark{attribute}>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces)
