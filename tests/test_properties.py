"""Property-based checks (hypothesis): parsing never crashes on arbitrary input, chunk and
sentence offsets always point into the text, and chunks cover the text in order.

A short run here; `make stress` (issue 7) will raise the example counts.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import chunk_article, split_sentences
from rag.corpus import make_article, read_file

EXAMPLES = int(os.environ.get("RAG_PROPERTY_EXAMPLES", "150"))
NEWS_ALPHABET = st.sampled_from(list("abcdeHJKLMN .,!?…“”\"'()-/0123456789\n\t") + ["dr.", "Prof.", "Rp", "1.000", "3,5", " - "])
news_like = st.lists(NEWS_ALPHABET, max_size=300).map("".join)


def word_counter(texts):
    return [len(t.split()) for t in texts]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(news_like, st.text(max_size=400)))
def test_sentence_spans_are_ordered_trimmed_and_inside_the_text(text):
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    assert "".join("".join(text[s:e] for s, e in spans).split()) == "".join(text.split())  # nothing lost


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(news_like, st.text(min_size=1, max_size=400)), st.integers(min_value=3, max_value=40), st.integers(0, 2))
def test_chunks_cover_the_article_in_order_within_budget(body, budget, overlap):
    if not body.strip():
        return
    article = make_article("a.md", "a.md", {"title": "Judul"}, body, "a")
    chunks = chunk_article(article, word_counter, max_tokens=budget, overlap=overlap)
    text = article.text
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert all(chunk.start <= s < e <= chunk.end for s, e in chunk.sentences)
        assert sum(word_counter([text[s:e] for s, e in chunk.sentences])) <= budget or len(chunk.sentences) == 1
    covered = sorted({span for chunk in chunks for span in chunk.sentences})
    assert "".join("".join(text[s:e] for s, e in covered).split()) == "".join(text.split())  # nothing lost


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000), st.sampled_from([".md", ".txt", ".jsonl", ".html"]))
def test_reading_arbitrary_bytes_gives_articles_or_problems_never_exceptions(tmp_path_factory, data, suffix):
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"file{suffix}"
    path.write_bytes(data)
    articles, problems = read_file(path, path.name, 1 << 20)
    for article in articles:
        assert article.text and article.sha256
    for problem in problems:
        assert problem.path == path.name and problem.reason and problem.hint
