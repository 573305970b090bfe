"""Let the trained reader rerank the retrieved articles and find the short answer.

Why: the search ranks articles by shared words and meaning, which finds the right article
first for four questions in five; the reader (`rag/reader.py`) reads the question with a
passage and marks the answer span or "no answer", which tells the right article from one that
merely shares the words. It reads the best passage of the top retrieved article (the first
alone when it surely answers; else also of the next ones and a little more of the first), and
a logistic model learned on train questions (`benchmarks/tune_on_train.py --reader`) weighs its
margin with the retrieval scores, the shared words and the question's names the passage lacks
into the probability that an article answers (`article_features`, `Ranking`). The likeliest
article is quoted from the sentence holding the reader's span, and the span is the short answer
(`rag.answer` decides when it is shown): a name, date, number or place of at most 30 tokens, a
definition or a reason of up to 64 (`longest_answer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.initials import acronyms, has_word, in_passage_words, spelled_out
from rag.reader import MAX_ANSWER_TOKENS, Reader
from rag.retriever import Hit
from rag.sentences import PASSAGES_READ, ScoredSentence, asks_for_clause, names_and_numbers, score_sentences


@dataclass(frozen=True)
class ReaderAnswer:
    """The reader's answer from one article: the sentence holding its best span, the span's text,
    the article's `article_features` and the probability that it answers (`answer_probability`)."""

    sentence: ScoredSentence
    short_answer: str
    features: list[float]
    probability: float


MARGIN_FLOOR = -20.0  # a passage where the reader marks nothing counts as this sure it does not answer


ARTICLE_FEATURES = ("reader margin", "retrieval score", "dense similarity", "shared words", "question names missing")


def article_features(hit: Hit, margin: float, coverage: float, missing: float) -> list[float]:
    """What decides whether a retrieved article answers: the reader's answer-vs-no-answer margin in
    its passage, the retrieval score (BM25 and dense, fused), the passage's cosine similarity to
    the question, the share of the question's words in its best sentence, and the share of the
    question's names and numbers its passage lacks (`names_missing`)."""
    return [max(margin, MARGIN_FLOOR), hit.score, hit.dense_score or 0.0, coverage, missing]


def names_missing(question: str, passage: str) -> float:
    """The share of the question's names and numbers (`names_and_numbers`, the question read in
    the passage's words: `in_passage_words`) that are neither words of `passage` nor initials it
    spells out. The reader answers a passage about another championship, ministry or year as
    surely as the right one ("Siapakah Menteri Dalam Negeri Irak?" → the deputy health
    minister); this tells them apart.

    Example::

        names_missing("Siapa Menteri Dalam Negeri Irak?", "Wakil Menteri Kesehatan Irak Jalil Al-Shumari")   # 0.5
    """
    question = in_passage_words(question, passage)
    asked, short, lowered = names_and_numbers(question), acronyms(question), passage.lower()

    def present(name: str) -> bool:  # as a word, or initials the passage spells out ("AS": "Amerika Serikat")
        return has_word(lowered, name) or (name.upper() in short and spelled_out(name.upper(), passage) is not None)

    return sum(not present(name) for name in asked) / len(asked) if asked else 0.0


# What a definition, a "how" or a "why" asks for is a clause ("Apa yang dimaksud dengan
# komunisme?" -> "ideologi yang berkenaan dengan filosofi, politik, sosial, dan ekonomi ..."):
# 4% of IDK-MRC's train answers are longer than the reader's 30 tokens, 0.5% longer than 50
# (FacQA's news answers: 0.2%, none).
CLAUSE_ANSWER_TOKENS = 64


def longest_answer(*questions: str) -> int:
    """The most reader tokens the short answer may span: `CLAUSE_ANSWER_TOKENS` when the question
    asks for a clause (`rag.sentences.asks_for_clause`: why, how, what something is, or no name,
    date, number or place), else the reader's `MAX_ANSWER_TOKENS` (30).

    Example::

        longest_answer("Siapa juru bicara Kremlin?")             # 30
        longest_answer("Apa yang dimaksud dengan komunisme?")    # 64
    """
    return CLAUSE_ANSWER_TOKENS if asks_for_clause(*questions) else MAX_ANSWER_TOKENS


def answer_probability(features: Sequence[float], weights: Sequence[float]) -> float:
    """Logistic model over `article_features`: `weights` are one per feature, then the intercept
    (learned on train questions: `benchmarks/tune_on_train.py --reader`)."""
    z = sum(w * f for w, f in zip(weights, features)) + weights[-1]
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class Ranking:
    """How the reader's readings choose the article to answer from, learned with each reader
    on train questions (`benchmarks/tune_on_train.py --reader --write`, kept in its reader.json).

    `weights`: of `article_features`, then the intercept; `min_probability`: below it the
    assistant abstains; `sure`: when the top article answers with at least this probability,
    the others are not read (most questions then cost one passage); `articles`: otherwise the
    passages of this many top articles are read, and one more window of the top article
    (`read_more_of_top`).
    """

    weights: list[float]
    min_probability: float
    sure: float = 1.0
    articles: int = PASSAGES_READ


@dataclass(frozen=True)
class ReadResult:
    """What the reader made of one question's passages (`read_articles`): `answers`, best first,
    the `hits` and `ranked` sentences they point into (the top hit replaced by the passage of
    the same article that answered better, when one was read), and `min_probability`, below
    which the assistant abstains."""

    hits: list[Hit]
    ranked: list[ScoredSentence]
    answers: list[ReaderAnswer]
    min_probability: float

    @property
    def best(self) -> ReaderAnswer | None:
        """The likeliest answer; None when there is none or it is less likely than `min_probability`."""
        return self.answers[0] if self.answers and self.answers[0].probability >= self.min_probability else None


def read_articles(reader: Reader, question: str, hits: Sequence[Hit], ranked: Sequence[ScoredSentence],
                  ranking: Ranking, whole: bool = False,
                  next_passages: Callable[[Hit, int], list[Hit]] | None = None,
                  answer_tokens: int | None = None) -> ReadResult:
    """Let the reader read the passage of the top article, and when it is not sure that one
    answers (`ranking.sure`), of the next ones too (up to `ranking.articles`) and more of the top
    article (`read_more_of_top`); rank the articles by the probability that they answer: the
    reader's margin weighed with the retrieval scores, shared words and the question's names the
    passage lacks (`article_features`).
    For each article, its best span that lies inside one sentence is the short answer and that
    sentence the quote; an article where the reader marks nothing inside a sentence is left out.

    Args:
        reader: the loaded reader.
        question: what the reader reads (a follow-up with the question it follows).
        hits: the search's passages, best first; ranked: their sentences (`score_sentences`).
        ranking: the reader's `Ranking` (`Assistant.ranking`).
        whole: read whole passages, not the window around their best sentence by shared words
            (`window_read`), which across languages may miss the answer: shared words are
            only names and numbers there.
        next_passages: the search's next passages of an article, at most so many
            (`Retriever.next_passages` bound to the query); None reads no further into the top
            article.
        answer_tokens: the most tokens a span may have; None: `longest_answer(question)`.

    Returns:
        a `ReadResult`.

    Example::

        ranked = score_sentences(question, hits)
        best = read_articles(reader, question, hits, ranked, assistant.ranking(reader)).answers[0]
        best.short_answer, best.sentence.text   # 'Dmitry Peskov', 'Juru bicara Kremlin Dmitry Peskov ...'
    """
    hits, ranked = list(hits), list(ranked)
    tokens = answer_tokens or longest_answer(question)
    first = passage_windows(reader, question, hits, ranked, range(min(1, len(hits))), whole)
    answers = read_passages(reader, question, hits, ranked, ranking.weights, first, tokens)
    if answers and answers[0].probability >= ranking.sure:
        return ReadResult(hits, ranked, answers, ranking.min_probability)
    others = passage_windows(reader, question, hits, ranked, range(1, min(ranking.articles, len(hits))), whole)
    answers += read_passages(reader, question, hits, ranked, ranking.weights, others, tokens)
    reading = ReadResult(hits, ranked, answers, ranking.min_probability)
    if next_passages is not None and first:
        unread = max(0, ranking.articles - len(hits))  # a small archive: read its top article further instead
        reading = read_more_of_top(reader, question, reading, ranking.weights, first[0][1], next_passages, 1 + unread,
                                   answer_tokens=tokens)
    return replace(reading, answers=sorted(reading.answers, key=lambda a: a.probability, reverse=True))


def read_more_of_top(reader: Reader, question: str, reading: ReadResult, weights: Sequence[float],
                     window: tuple[int, int], next_passages: Callable[[Hit, int], list[Hit]],
                     count: int = 1, *, answer_tokens: int) -> ReadResult:
    """`count` more windows of the top article, read when the reader was not sure its passage
    answers: when its `window` left sentences of the passage out, first a window around the best
    of those ("Apa kata Lavrov tentang NATO?" over the seed article: the lead holding Lavrov's
    warning was outside the first), then the article's next passages (`next_passages`: "Kantor
    berita apa yang mengutip ucapan Lavrov?" finds TASS there, not in the passage the search
    picked). `read_articles` asks for more than one when the search found fewer articles than it
    reads when unsure: over the seed article alone, "Siapa presiden Amerika Serikat?" finds
    "Presiden AS Joe Biden" in the fourth passage. When one of these readings answers better,
    its answer replaces the top article's, and a next passage takes the top hit's place (its
    sentences scored again)."""
    hits, ranked, answers = reading.hits, reading.ranked, reading.answers
    top = hits[0]
    found: list[tuple[ReaderAnswer, list[Hit], list[ScoredSentence]]] = []
    if window != (top.start, top.end):
        left_out = [s for s in ranked if s.hit_rank == 0 and not window[0] <= s.span[0] < window[1]]
        windows = [(0, window_read(reader, question, top, left_out))]
        found += [(a, hits, ranked) for a in read_passages(reader, question, hits, ranked, weights, windows, answer_tokens)]
        count -= 1
    for passage in next_passages(top, count):
        other_hits = [passage, *hits[1:]]
        other_ranked = score_sentences(question, other_hits)
        windows = passage_windows(reader, question, other_hits, other_ranked, range(1))
        found += [(a, other_hits, other_ranked)
                  for a in read_passages(reader, question, other_hits, other_ranked, weights, windows, answer_tokens)]
    before = next((a for a in answers if a.sentence.hit_rank == 0), None)
    if not found:
        return reading
    better, other_hits, other_ranked = max(found, key=lambda f: f[0].probability)
    if before is not None and better.probability <= before.probability:
        return reading
    return replace(reading, hits=other_hits, ranked=other_ranked, answers=[better, *(a for a in answers if a is not before)])


def passage_windows(reader: Reader, question: str, hits: Sequence[Hit], ranked: Sequence[ScoredSentence],
                    ranks: range, whole: bool = False) -> list[tuple[int, tuple[int, int]]]:
    """(rank, the [start, end) of its article to read) for the passages `hits[rank]`: the whole
    passage when `whole`, else the window around its best sentence (`window_read`)."""
    return [(rank, (hits[rank].start, hits[rank].end) if whole else
             window_read(reader, question, hits[rank], [s for s in ranked if s.hit_rank == rank])) for rank in ranks]


def read_passages(reader: Reader, question: str, hits: Sequence[Hit], ranked: Sequence[ScoredSentence],
                  weights: Sequence[float], windows: Sequence[tuple[int, tuple[int, int]]],
                  answer_tokens: int) -> list[ReaderAnswer]:
    """The reader's answer in each of the passages `hits[rank]`, read in its window (`windows`:
    (rank, [start, end) of the article), see `passage_windows`), in `windows` order, its spans
    at most `answer_tokens` long (`longest_answer`); see `read_articles`."""
    answers = []
    texts = [hits[rank].article.text[start:end] for rank, (start, end) in windows]
    for reading in reader.read(question, texts, max_answer_tokens=answer_tokens):
        rank, (offset, _) = windows[reading.passage]
        hit = hits[rank]
        sentences = [s for s in ranked if s.hit_rank == rank]
        coverage = max((s.coverage for s in sentences), default=0.0)
        features = article_features(hit, reading.margin, coverage, names_missing(question, texts[reading.passage]))
        probability = answer_probability(features, weights)
        for span in reading.spans:
            start, end = offset + span.start, offset + span.end
            sentence = next((s for s in sentences if s.span[0] <= start and end <= s.span[1]), None)
            short = hit.article.text[start:end].strip()
            if sentence and short:
                answers.append(ReaderAnswer(sentence, short, features, probability))
                break
    return answers


def window_read(reader: Reader, question: str, hit: Hit, sentences: Sequence[ScoredSentence]) -> tuple[int, int]:
    """Where in its article the reader reads `hit`: the passage's sentences around its best one
    (`sentences`: the hit's, best first, from `score_sentences`) that fit one reader window with
    the question (`Reader.one_window`); the whole passage when none was scored."""
    spans = list(hit.sentences)
    if not sentences or sentences[0].span not in spans:
        return hit.start, hit.end
    article = hit.article.text
    kept = reader.one_window(question, [article[start:end] for start, end in spans], spans.index(sentences[0].span))
    return spans[kept[0]][0], spans[kept[-1]][1]
