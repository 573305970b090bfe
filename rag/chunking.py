"""Split articles into sentences, and sentences into model-sized chunks.

Citations point at sentences, so the sentence splitter decides what a user sees highlighted.
It is tuned for Indonesian news: abbreviations (`dr.`, `Prof.`, `Jl.`, `a.n.`), numbers
(`1.000`, `3,5`, `Rp 2.500`), dates (`27/3`), quotes, brackets, ellipses and datelines
(`Jakarta (ANTARA News) - ...`) do not end a sentence. Chunks are runs of whole sentences,
sized in the embedding model's tokens, overlapping by one sentence so an answer that
straddles two chunks is still found whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.corpus import Article

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]

# Tokens (lower-cased, without the final dot) after which a full stop is not a sentence end.
ABBREVIATIONS: frozenset[str] = frozenset("""
a.n an bpk dr dra drs dll dsb dst gg h hj ir jl jln kab kec kel kh kol letjen mayjen brigjen
jend kapt kompol ajun m mr mrs ms no nn ny prof rp rt rw s sdr sdri st tn tsb u.p yth vs etc
e.g i.e jr sr dkk hal tel telp ttd mgr pdt sh se mm mba tgl pk pkl
""".split())

# A candidate end: terminal punctuation, closing quotes/brackets, then white space.
_END = re.compile(r"(?:[.!?]+|…|\.\.\.)[\"'”’»)\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘«(\[]*[A-Z0-9À-ÖØ-ÞĀ-Ž]")
_TOKEN_BEFORE = re.compile(r"(\S+)$")


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article; offsets index `Article.text`."""

    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    sentences: tuple[Span, ...]


def indexable_text(title: str, chunk_text: str) -> str:
    """What the models read for a chunk: the headline gives every chunk its topic."""
    return f"{title}\n{chunk_text}"


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the word ending at `dot` (a full stop) is an abbreviation or an initial."""
    match = _TOKEN_BEFORE.search(text, max(0, dot - 64), dot)  # a bounded look-back keeps long lines linear
    if not match:
        return False
    word = match.group(1).lstrip("\"'“‘(«[").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:\w\.)+\w", word))


def _ends_sentence(text: str, match: re.Match[str], line_end: int) -> bool:
    """Decide whether a punctuation run ends a sentence, by what precedes and follows it."""
    punctuation = match.group(0).rstrip("\"'”’»)]")
    if punctuation in ("…", "..."):
        return False  # mid-line, an ellipsis trails off inside a quote; it does not end the sentence
    if punctuation == "." and _is_abbreviation(text, match.start()):
        return False
    return bool(_NEXT_STARTS_SENTENCE.match(text, match.end(), line_end))


def _trimmed(text: str, start: int, end: int) -> Span | None:
    """The span without surrounding white space, or None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _line_sentences(text: str, line_start: int, line_end: int) -> list[Span]:
    """Sentences of one line, in one pass (a megabyte-long line costs linear time).

    A “quotation” that closes later on the same line is kept whole: its inner full stops do
    not end the sentence, so a quote is cited with its attribution.
    """
    spans: list[Span] = []
    start = counted = line_start
    open_quotes = 0
    last_close = text.rfind("”", line_start, line_end)
    for match in _END.finditer(text, line_start, line_end):
        seen = text[counted : match.end()]
        open_quotes += seen.count("“") - seen.count("”")
        counted = match.end()
        inside_quote = open_quotes > 0 and last_close >= match.end()
        if not inside_quote and _ends_sentence(text, match, line_end):
            span = _trimmed(text, start, match.end())
            if span:
                spans.append(span)
            start = match.end()
    span = _trimmed(text, start, line_end)
    if span:
        spans.append(span)
    return spans


def split_sentences(text: str) -> list[Span]:
    """Sentence spans (start, end) of `text`; every line break also ends a sentence."""
    spans: list[Span] = []
    line_start = 0
    for line in text.split("\n"):
        line_end = line_start + len(line)
        spans.extend(_line_sentences(text, line_start, line_end))
        line_start = line_end + 1
    return spans


def _split_word(start: int, end: int, max_tokens: int) -> list[Span]:
    """A single "word" over the budget (a URL, a run of digits): pieces of half the budget in
    characters, since a token covers at least one character (the half leaves room for a
    tokenizer's word-start marker)."""
    step = max(1, max_tokens // 2)
    return [(i, min(i + step, end)) for i in range(start, end, step)]


def _split_long(text: str, span: Span, count_tokens: TokenCounter, max_tokens: int) -> list[Span]:
    """Cut a sentence longer than a chunk into pieces of at most `max_tokens` model tokens.

    Words are packed greedily by their token counts; a piece that the tokenizer still counts
    over the budget as a whole is halved until it fits, so every piece fits by the real count.
    """
    start, end = span
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[list[Span]] = [[]]
    total = 0
    for word, tokens in zip(words, count_tokens([text[s:e] for s, e in words])):
        if tokens > max_tokens:
            pieces += [[part] for part in _split_word(*word, max_tokens)] + [[]]
            total = 0
        elif total + tokens > max_tokens:
            pieces.append([word])
            total = tokens
        else:
            pieces[-1].append(word)
            total += tokens
    return [piece for words_of_piece in pieces if words_of_piece for piece in _fit(text, words_of_piece, count_tokens, max_tokens)]


def _fit(text: str, words: list[Span], count_tokens: TokenCounter, max_tokens: int) -> list[Span]:
    """The words as one span if the tokenizer counts it within the budget, else halves of it
    (by words, and inside a single word by characters: normalisation can turn one character
    into several tokens)."""
    start, end = words[0][0], words[-1][1]
    if end - start == 1 or count_tokens([text[start:end]])[0] <= max_tokens:
        return [(start, end)]
    if len(words) == 1:
        words = [(i, i + 1) for i in range(start, end)]
    middle = len(words) // 2
    return _fit(text, words[:middle], count_tokens, max_tokens) + _fit(text, words[middle:], count_tokens, max_tokens)


def chunk_article(article: Article, count_tokens: TokenCounter, max_tokens: int, overlap: int) -> list[Chunk]:
    """Group the article's sentences into chunks of at most `max_tokens` model tokens.

    Each chunk after the first repeats the last `overlap` sentences of the one before. A
    sentence longer than `max_tokens` is cut at word boundaries (by `count_tokens`, the
    model's own tokenizer in the index) and its pieces count as sentences, so no chunk ever
    exceeds the budget.
    """
    text = article.text
    spans = split_sentences(text)
    counts = count_tokens([text[s:e] for s, e in spans])
    sentences: list[Span] = []
    sizes: list[int] = []
    for span, tokens in zip(spans, counts):
        parts = _split_long(text, span, count_tokens, max_tokens) if tokens > max_tokens else [span]
        sentences.extend(parts)
        sizes.extend(count_tokens([text[s:e] for s, e in parts]) if len(parts) > 1 else [tokens])

    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last, total = first, sizes[first]
        while last + 1 < len(sentences) and total + sizes[last + 1] <= max_tokens:
            last += 1
            total += sizes[last]
        # pieces of one word do not add up (no space between them): count the chunk as a whole
        while last > first and count_tokens([text[sentences[first][0] : sentences[last][1]]])[0] > max_tokens:
            last -= 1
        start, end = sentences[first][0], sentences[last][1]
        chunks.append(Chunk(article.id, len(chunks), text[start:end], start, end, tuple(sentences[first : last + 1])))
        if last + 1 >= len(sentences):
            break
        first = max(last + 1 - overlap, first + 1)
    return chunks
