"""Property-based checks (hypothesis): parsing never crashes on arbitrary input, chunk and
sentence offsets always point into the text, and chunks cover the text in order.

A short run here (150 examples each); `make stress` runs 1,000 each (RAG_PROPERTY_EXAMPLES).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from rag.chunking import chunk_article, split_sentences
from rag.corpus import decode_bytes, make_article, read_file
from rag.problems import ArticleError

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("RAG_PROPERTY_EXAMPLES", "150"))
RUNS: Counter[str] = Counter()


def counted(test):
    """Count the examples a property ran to the end (for the `make stress` table); examples that
    `assume` rejects are not cases tried."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        result = test(*args, **kwargs)
        RUNS[test.__name__] += 1
        return result
    return run


@pytest.fixture(autouse=True)
def report_examples(request, stress_table):
    yield
    report = getattr(request.node, "rep_call", None)
    if EXAMPLES >= 1000 and report is not None:
        stress_table.add(f"fuzz: {request.node.name.removeprefix('test_').replace('_', ' ')}",
                         cases=RUNS[request.node.name], failures=int(report.failed))
NEWS_ALPHABET = st.sampled_from(list("abcdeHJKLMN .,!?…“”\"'()-/0123456789\n\t") + ["dr.", "Prof.", "Rp", "1.000", "3,5", " - "]
                                   + ["Rp2.500.000,00", "https://kabar.id/a?b=1", "sosial-ekonomi-politik", "ﷺ"])  # many tokens a word
news_like = st.lists(NEWS_ALPHABET, max_size=300).map("".join)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(news_like, st.text(max_size=400)))
@counted
def test_sentence_spans_are_ordered_trimmed_and_inside_the_text(text):
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    assert "".join("".join(text[s:e] for s, e in spans).split()) == "".join(text.split())  # nothing lost


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(news_like, st.text(min_size=1, max_size=400)), st.integers(min_value=16, max_value=40), st.integers(0, 2))  # budgets from RAG_CHUNK_TOKENS's minimum
@example(body="https://kabar.id/a?b=1aRp2.500.000,00", budget=16, overlap=0)  # found by hypothesis: pieces of a word
@counted
def test_chunks_cover_the_article_in_order_within_budget(embedder, body, budget, overlap):
    assume(body.strip())
    article = make_article("a.md", "a.md", {"title": "Judul"}, body, "a")
    count = embedder.count_tokens  # the real tokenizer, as in the index
    chunks = chunk_article(article, count, max_tokens=budget, overlap=overlap)
    text = article.text
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert all(chunk.start <= s < e <= chunk.end for s, e in chunk.sentences)
        assert sum(count([text[s:e] for s, e in chunk.sentences])) <= budget  # whatever a single sentence's length
        assert count([chunk.text])[0] <= budget
    covered = sorted({span for chunk in chunks for span in chunk.sentences})
    assert "".join("".join(text[s:e] for s, e in covered).split()) == "".join(text.split())  # nothing lost


def blank(data: bytes) -> bool:
    """Does the file hold no text once decoded (a byte-order mark alone, spaces)?"""
    try:
        return not decode_bytes(data).strip()
    except ArticleError:
        return False

@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000), st.sampled_from([".md", ".txt", ".jsonl", ".html"]))
@counted
def test_reading_arbitrary_bytes_gives_articles_or_problems_never_exceptions(tmp_path_factory, data, suffix):
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"file{suffix}"
    path.write_bytes(data)
    articles, problems = read_file(path, path.name, 1 << 20)
    assert articles or problems or blank(data)  # only a file without text holds neither
    for article in articles:
        assert article.text and article.sha256
    for problem in problems:
        assert problem.path == path.name and problem.reason and problem.hint


class _Page(HTMLParser):
    """What a browser would build from rendered HTML: tags, link targets, element ids, highlighted texts."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.marks: list[str] = []
        self.ids: list[str] = []
        self.spans: list[dict] = []
        self._in_mark = 0
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attributes = dict(attrs)
        if tag == "a":
            self.links.append(attributes.get("href") or "")
        if tag == "span":
            self.spans.append(attributes)
        if "id" in attributes:
            self.ids.append(attributes["id"] or "")
        if tag == "mark":
            self._in_mark += 1
            self.marks.append("")
        assert not any(name.startswith("on") for name in attributes)  # no event handlers, whatever the input

    def handle_endtag(self, tag):
        if tag == "mark":
            self._in_mark -= 1

    def handle_data(self, data):
        if self._in_mark:
            self.marks[-1] += data


SAFE_TAGS = {"h3", "h4", "div", "span", "small", "p", "a", "mark", "details", "summary", "button"}
hostile_text = st.lists(st.sampled_from(list("ab <>&\"'=/.!?\n") + ["<script>", "javascript:", "onerror=", "[1]", "[9]", "&amp;"]),
                        min_size=1, max_size=80).map("".join)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=hostile_text, title=hostile_text, url=st.one_of(st.none(), hostile_text, st.just("https://x.id/a?b=<c>&d=\"e\"")),
       picks=st.lists(st.integers(0, 1000), min_size=1, max_size=3))
@counted
def test_citations_render_inert_and_highlight_exactly_the_cited_sentences(body, title, url, picks):
    from rag.answer import Answer, Citation, Source
    from rag.transcript import answer_text
    from rag.ui_render import Turn, citation_anchors, render_reply, render_sources

    assume(body.strip())
    article = make_article("a.md", "a.md", {"title": title.strip() or "t"}, "x. " + body, "a")
    spans = split_sentences(article.text)
    chosen = sorted({spans[i % len(spans)] for i in picks})
    citations = [Citation(1, article.id, article.title, None, url, None, article.text[s:e], s, e, 1.0) for s, e in chosen]
    source = Source(1, article.id, article.title, "<b>Sumber</b>", url, "2024-01-01", article.text, 0, len(article.text))
    answer = Answer(" ".join(f"{c.sentence} [1]" for c in citations) + " [9]", citations, [source], False, "id")

    sources_page = _Page(render_sources([Turn("q", answer, "a1")], {article.id: article}.get, "id"))
    assert sources_page.tags <= SAFE_TAGS
    assert all(link.startswith("#cite-1-") or (url and link == url and url.startswith(("http://", "https://"))) for link in sources_page.links)
    expected = [article.text[s:e] for s, e in chosen]
    assert sources_page.marks == expected * 2  # in the snippet and in the full article: the exact sentences

    reply_page = _Page(render_reply(answer, 1))
    anchors = [f"#{anchor}" for anchor in citation_anchors(answer, 1)]  # cite-1-1, cite-1-1-2, ...: one a sentence
    # the mark after each quoted sentence opens that sentence, in order; a "[1]" or "[9]" inside a sentence stays text
    assert reply_page.tags <= {"a", "span"} and reply_page.links == anchors
    # what "copy" copies: the answer as `rag ask` prints it, whole, in one hidden element's attribute
    assert reply_page.spans == [{"class": "copy-text", "hidden": None, "title": answer_text(answer, "id").rstrip("\n")}]
    assert len(set(anchors)) == len(chosen) and {f"#{a}" for a in sources_page.ids if a.startswith("cite-")} == set(anchors)
