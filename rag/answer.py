"""Answer a question from the archive, citing for every sentence the article sentence it rests on.

The default answer is extractive: it quotes the one to three article sentences that best
answer the question, verbatim, each followed by `[n]` where `n` indexes the sources list. A
quote can be wrong only by being the wrong sentence, never by being made up. When the best
evidence is weak the assistant says the archive has no answer and lists what may be related.

Who decides what: the trained reader (`rag/reader.py`) reads the best passage of the top
retrieved articles (the first alone when it surely answers; else also a little more of the
first) and marks the answer span or "no answer" in each; a logistic model
learned on train questions weighs its margin with the retrieval scores, shared words and the
question's names the passage lacks into the probability that an article answers
(`article_features`, `read_articles`). The likeliest article is quoted, from
the sentence holding the reader's span, the span is the short answer, and below
`min_answer_probability` the assistant abstains. The reader was trained to say "no answer" on
passages the search ranks high that do not answer (`training/train_reader.py`, stage 2), which
is what makes its margin tell articles apart. A question in another language than the
articles has its own ranking, learned on English train questions: there BM25 and shared words
say little, and the reader's margins run lower. Without a reader (`RAG_READER=0`, or a model
that cannot be loaded), shared words (across languages, meaning) decide whether the archive
answers and which sentence is quoted (`score_sentences`, `Assistant._is_weak`).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import Stemmer

from rag import llm as llm_module
from rag.config import Settings, get_settings
from rag.documents import page_of
from rag.initials import acronyms, has_word, in_passage_words, spelled_out
from rag.language import ENGLISH_STOPWORDS, INDONESIAN_STOPWORDS, detect_language, without_archive_words, words
from rag.reader import CONFIG_FILE, Reader, ReaderUnavailable
from rag.retriever import Filters, Hit, Retriever

MAX_SENTENCES = 3
MAX_QUESTION_CHARS = 1000  # the longest question the page and the API accept
PASSAGES_READ = 4  # the answer is looked for in the sentences of this many top passages
_STEMMER = Stemmer.Stemmer("indonesian")
_log = logging.getLogger(__name__)
_STOPWORDS = INDONESIAN_STOPWORDS | ENGLISH_STOPWORDS

NO_ANSWER = {
    "id": "Tidak ada jawaban di arsip untuk pertanyaan ini.",
    "en": "The archive has no answer to this.",
}
FRAME = {"id": "Menurut arsip:", "en": "According to the archive:"}
LLM_FAILED = {
    "id": "LLM tidak tersedia ({reason}); menampilkan jawaban ekstraktif.",
    "en": "The LLM is unavailable ({reason}); showing the extractive answer.",
}
RELATED = {"id": "Artikel yang mungkin terkait:", "en": "Possibly related articles:"}

_MONTHS = (r"januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember|"
           r"january|february|march|may|june|july|august|october|december|jan|feb|mar|apr|jun|jul|agu|aug|sep|okt|oct|nov|des|dec")
_DAYS = r"senin|selasa|rabu|kamis|jumat|sabtu|minggu|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE = re.compile(rf"\b(?:{_MONTHS}|{_DAYS})\b|\b(?:1[89]|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas|puluh|ratus|ribu|juta|miliar|triliun|"
                     r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]+")

# Question words that announce what kind of answer is wanted.
ANSWER_TYPES: dict[str, tuple[str, ...]] = {
    "date": ("kapan", "kapankah", "tanggal", "when", "tahun berapa", "what year", "pukul berapa"),
    "number": ("berapa", "berapakah", "how many", "how much", "jumlah"),
    "name": ("siapa", "siapakah", "who", "whom"),
    "place": ("di mana", "dimana", "di manakah", "dimanakah", "ke mana", "kemana", "where", "di kota apa", "di negara"),
}
_REFERS_BACK = {"dia", "ia", "mereka", "itu", "tersebut", "beliau", "nya", "he", "she", "they", "it", "that", "this", "those"}


@dataclass(frozen=True)
class ArticleRef:
    """Source number `n` and the article's id, title, outlet, URL and date (YYYY-MM-DD)."""

    n: int
    article_id: str
    title: str
    source: str | None
    url: str | None
    published: str | None


@dataclass(frozen=True)
class Citation(ArticleRef):
    """One quoted article sentence, at [start, end) of the article's text; `n` is its source's
    number in `Answer.sources`; `page` the page of a PDF it stands on (None for other articles)."""

    sentence: str
    start: int
    end: int
    score: float
    page: int | None = None


@dataclass(frozen=True)
class Source(ArticleRef):
    """An article the answer rests on (or, when abstaining, one that may be related), with the
    passage that was read."""

    passage: str
    passage_start: int
    passage_end: int
    also_in: list[dict] = field(default_factory=list)  # later copies of the same story: article_id, title, source, published, url


@dataclass
class Answer:
    """A reply: its text with `[n]` marks, the quoted sentences, the sources they come from.

    `short_answer` is the reader's answer span inside the first quote (None when abstaining,
    with an LLM, or without a reader); `confidence` (0..1) the probability that the quoted
    article answers, as the reader's ranking estimates it (None without a reader).
    """

    text: str
    citations: list[Citation]
    sources: list[Source]
    abstained: bool
    language: str
    hits: list[Hit] = field(default_factory=list, repr=False)
    notice: str | None = None
    unsupported: list[str] = field(default_factory=list)
    removed_citations: list[int] = field(default_factory=list)
    short_answer: str | None = None
    confidence: float | None = None

    def to_json(self) -> dict:
        return {
            "answer": self.text, "short_answer": self.short_answer, "confidence": self.confidence,
            "citations": [c.__dict__ for c in self.citations],
            "sources": [s.__dict__ for s in self.sources], "abstained": self.abstained,
            "language": self.language, "notice": self.notice,
            "unsupported": self.unsupported, "removed_citations": self.removed_citations,
        }


def terms(text: str) -> list[str]:
    """Stemmed content words: what lexical evidence is counted in."""
    return _STEMMER.stemWords([w for w in words(text) if w not in _STOPWORDS and len(w) > 1])


def answer_type(question: str) -> str | None:
    lowered = " " + question.lower() + " "
    for kind, cues in ANSWER_TYPES.items():
        if any(f" {cue} " in lowered or f" {cue}?" in lowered for cue in cues):
            return kind
    return None


def has_answer_type(sentence: str, kind: str | None, question: str) -> bool:
    """Does the sentence hold the kind of thing asked for (a date, a number, a name, a place)?"""
    if kind == "date":
        return bool(DATE.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind in ("name", "place"):
        asked = set(words(question))
        return any(name.lower() not in asked for name in _NAME.findall(sentence))
    return False


def names_and_numbers(text: str) -> set[str]:
    """Capitalised words (not sentence-initial) and numbers, lower-cased: what translation keeps."""
    return {name.lower() for name in _NAME.findall(text)} | set(re.findall(r"\d+", text))


def said_by(role: str, history: Sequence[dict] | None) -> list[str]:
    """The plain-text turns of `role` ('user' or 'assistant') in `history`, oldest first."""
    return [turn["content"] for turn in history or () if turn.get("role") == role and isinstance(turn.get("content"), str)]


def followed_question(question: str, history: Sequence[dict] | None) -> str | None:
    """The previous question (without words about the archive itself) when the new one is short
    or refers back to it (a follow-up), else None."""
    previous = said_by("user", history)
    if previous and (len(terms(question)) <= 3 or _REFERS_BACK & set(words(question))):
        return without_archive_words(previous[-1])
    return None


def previous_short_answer(history: Sequence[dict] | None) -> str:
    """The short answer of the assistant's last reply in `history`: its first line after the
    frame ("Menurut arsip: Sergey Lavrov" -> "Sergey Lavrov"); '' when there is none."""
    replies = said_by("assistant", history)
    lead = replies[-1].split("\n", 1)[0] if replies else ""
    frame = next((f for f in FRAME.values() if lead.startswith(f)), None)
    return lead[len(frame):].strip() if frame else ""


def repeats(span: str, answered: str) -> bool:
    """Is `span` made only of words and numbers of `answered` (never when `answered` is empty)?"""
    said = set(re.findall(r"\w+", answered.casefold()))
    return bool(said) and set(re.findall(r"\w+", span.casefold())) <= said


def retrieval_query(question: str, history: Sequence[dict] | None) -> str:
    """Fold the previous question in when the new one is short or refers back to it."""
    previous = followed_question(question, history)
    return f"{previous} {question}" if previous else question


@dataclass(frozen=True)
class ScoredSentence:
    hit_rank: int
    span: tuple[int, int]
    text: str
    coverage: float
    score: float


def score_sentences(question: str, hits: Sequence[Hit]) -> list[ScoredSentence]:
    """Rank the sentences of the top passages by how well they answer the question.

    Coverage is the IDF-weighted share of question terms a sentence contains (IDF over the
    candidate sentences, so words that single a sentence out weigh most); a sentence that
    holds the asked-for answer type gets a bonus; sentences of better passages a small prior.
    """
    asked = set(terms(question))
    kind = answer_type(question)
    candidates = []
    seen = set()
    for rank, hit in enumerate(hits[:PASSAGES_READ]):
        for start, end in hit.sentences:
            key = (hit.article.id, start)
            if key not in seen:
                seen.add(key)
                text = hit.article.text[start:end]
                candidates.append((rank, (start, end), text, set(terms(text))))
    if not candidates:
        return []
    frequency = {t: sum(t in c[3] for c in candidates) for t in asked}
    weight = {t: math.log(1 + len(candidates) / (1 + frequency[t])) for t in asked}
    total = sum(weight.values()) or 1.0
    scored = []
    for rank, span, text, found in candidates:
        coverage = sum(weight[t] for t in asked & found) / total
        bonus = 0.25 if has_answer_type(text, kind, question) else 0.0
        prior = 0.15 / (1 + rank)
        scored.append(ScoredSentence(rank, span, text, coverage, coverage + bonus + prior))
    return sorted(scored, key=lambda s: s.score, reverse=True)


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
                  next_passages: Callable[[Hit, int], list[Hit]] | None = None) -> ReadResult:
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

    Returns:
        a `ReadResult`.

    Example::

        ranked = score_sentences(question, hits)
        best = read_articles(reader, question, hits, ranked, assistant.ranking(reader)).answers[0]
        best.short_answer, best.sentence.text   # 'Dmitry Peskov', 'Juru bicara Kremlin Dmitry Peskov ...'
    """
    hits, ranked = list(hits), list(ranked)
    first = passage_windows(reader, question, hits, ranked, range(min(1, len(hits))), whole)
    answers = read_passages(reader, question, hits, ranked, ranking.weights, first)
    if answers and answers[0].probability >= ranking.sure:
        return ReadResult(hits, ranked, answers, ranking.min_probability)
    others = passage_windows(reader, question, hits, ranked, range(1, min(ranking.articles, len(hits))), whole)
    answers += read_passages(reader, question, hits, ranked, ranking.weights, others)
    reading = ReadResult(hits, ranked, answers, ranking.min_probability)
    if next_passages is not None and first:
        unread = max(0, ranking.articles - len(hits))  # a small archive: read its top article further instead
        reading = read_more_of_top(reader, question, reading, ranking.weights, first[0][1], next_passages, 1 + unread)
    return replace(reading, answers=sorted(reading.answers, key=lambda a: a.probability, reverse=True))


def read_more_of_top(reader: Reader, question: str, reading: ReadResult, weights: Sequence[float],
                     window: tuple[int, int], next_passages: Callable[[Hit, int], list[Hit]],
                     count: int = 1) -> ReadResult:
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
        found += [(a, hits, ranked) for a in read_passages(reader, question, hits, ranked, weights, windows)]
        count -= 1
    for passage in next_passages(top, count):
        other_hits = [passage, *hits[1:]]
        other_ranked = score_sentences(question, other_hits)
        windows = passage_windows(reader, question, other_hits, other_ranked, range(1))
        found += [(a, other_hits, other_ranked) for a in read_passages(reader, question, other_hits, other_ranked, weights, windows)]
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
                  weights: Sequence[float], windows: Sequence[tuple[int, tuple[int, int]]]) -> list[ReaderAnswer]:
    """The reader's answer in each of the passages `hits[rank]`, read in its window (`windows`:
    (rank, [start, end) of the article), see `passage_windows`), in `windows` order; see
    `read_articles`."""
    answers = []
    texts = [hits[rank].article.text[start:end] for rank, (start, end) in windows]
    for reading in reader.read(question, texts):
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


class Assistant:
    """Question in, cited answer out. Open it on an index folder; it follows index updates.

    Extractive by default; with an LLM configured (`RAG_LLM`, or `llm=` per call) a chat
    model writes the reply from the same passages and the reply is checked afterwards.
    """

    def __init__(self, retriever: Retriever | None = None, settings: Settings | None = None,
                 reader: Reader | None = None):
        self.settings = settings or get_settings()
        self.retriever = retriever or Retriever(self.settings.index_dir, settings=self.settings)
        self._reader = reader or (Reader(embedder=self.retriever.embedder) if self.settings.reader else None)
        self._reader_lock = threading.Lock()
        self._said_no_cross_lingual_ranking = False
        self._chat_models: dict[str, object] = {}

    @property
    def answer_path(self) -> str:
        """How answers are found, without loading anything: 'reader (bf16)', 'reader (loading)'
        or 'quotes only' (no reader configured, or it could not be loaded)."""
        reader = self._reader
        if reader is None:
            return "quotes only"
        return f"reader ({reader.precision})" if reader.loaded else "reader (loading)"

    @property
    def reader(self) -> Reader | None:
        """The reader, loaded on first use; None (after one log line) when it cannot be loaded or
        has no ranking to choose articles by."""
        reader = self._reader
        if reader is not None:
            try:
                reader.load()
                if reader.ranking() is None:
                    raise ReaderUnavailable(f"{reader.directory / CONFIG_FILE} has no 'ranking' "
                                            "(run benchmarks/tune_on_train.py --reader --write)")
                for stored in filter(None, (reader.ranking(), reader.ranking(across_languages=True))):
                    if len(stored["weights"]) != len(ARTICLE_FEATURES) + 1:
                        raise ReaderUnavailable(
                            f"{reader.directory / CONFIG_FILE}: a ranking of {len(stored['weights']) - 1} features, this "
                            f"version weighs {len(ARTICLE_FEATURES)} ({', '.join(ARTICLE_FEATURES)}); run "
                            "benchmarks/tune_on_train.py --reader --write")
            except Exception as error:  # a missing or damaged model file: answer without it
                self._drop_reader(error)
                return None
        return reader

    def _drop_reader(self, error: Exception) -> None:
        with self._reader_lock:
            if self._reader is not None:  # several threads may fail at once: say it once
                _log.warning("answer reader unavailable (%s: %s); answering with quotes only", type(error).__name__, error)
                self._reader = None

    def answer(self, question: str, history: Sequence[dict] | None = None, filters: Filters | None = None,
               k: int | None = None, llm: str | Literal[False] | None = None) -> Answer:
        """The complete answer (the last item `stream` yields)."""
        *_, final = self.stream(question, history, filters, k, llm)
        return final

    def stream(self, question: str, history: Sequence[dict] | None = None, filters: Filters | None = None,
               k: int | None = None, llm: str | Literal[False] | None = None) -> Iterator[str | Answer]:
        """Yield reply text as it is produced, then the complete, checked `Answer` last.

        `llm`: None answers as configured (through `RAG_LLM` when it is set, else extractive),
        False extractively whatever is configured, a model spec through that chat model.

        The final `Answer.text` is authoritative: after an LLM reply is checked, citations to
        no passage are gone and unsupported sentences are flagged.
        """
        question = question.strip()
        language = detect_language(question) or "id"
        about_news = without_archive_words(question)  # "... yang disebut dalam artikel?" asks about the news
        in_context = retrieval_query(about_news, history)  # a follow-up is searched with the question it follows...
        previous = followed_question(about_news, history)
        asked = f"{about_news} {previous}" if previous else about_news  # ...and read with it after (the reader cuts at 48 tokens)
        hits = self.retriever.search(in_context, k or self.settings.top_k, filters)
        spec = self.settings.llm if llm is None else llm or None
        ranked = score_sentences(in_context, hits)
        by_meaning = bool(ranked) and hits[ranked[0].hit_rank].article.language not in (None, language)
        read = self._read(asked, in_context, hits, ranked, by_meaning) if ranked else None
        if read:
            hits, ranked = read.hits, read.ranked
        answer = self._quote(in_context, language, hits, ranked, read, by_meaning, previous_short_answer(history) if previous else "")
        if spec and not answer.abstained:
            likely = [(a.sentence.hit_rank + 1, a.short_answer) for a in read.answers] if read else []
            answer = yield from self._generate(spec, question, history, language, hits, answer, likely)
        else:
            for piece in re.split(r"(?<=[\]:]) ", answer.text):
                yield piece + " "
        if read:  # the retrieved articles as the reader ranked them (what `rag eval` scores): the likeliest first
            order = list(dict.fromkeys([a.sentence.hit_rank for a in read.answers] + list(range(len(hits)))))
            answer.hits = [hits[rank] for rank in order]
        yield answer

    def _quote(self, in_context: str, language: str, hits: list[Hit], ranked: list[ScoredSentence],
               read: ReadResult | None, by_meaning: bool, answered: str = "") -> Answer:
        """Quote the sentences that answer, or abstain when the evidence is weak.

        With the reader's answers (`read`; None without a reader): the article most likely to
        answer is quoted, from the sentence holding the reader's span, and the span is the short
        answer; below its `min_probability` the assistant abstains. Without them,
        shared words (`ranked`; across languages: meaning) choose the sentence and decide
        abstention (`_is_weak`). `by_meaning`: the best sentence's article is in another language
        than the question. `answered`: the short answer of the reply a follow-up follows; a span
        made of its words is not the new short answer (the reader reads the follow-up with the
        question before it and may answer that one again: "Apa yang dia peringatkan?" after "Siapa
        Menteri Luar Negeri Rusia?" marks "Sergey Lavrov"), the quote still is.
        """
        found = None
        if read is not None:
            found = read.best
            if found is None:
                return self._abstain(language, hits)
            first = found.sentence
            best = max((s for s in ranked if s.hit_rank == first.hit_rank), key=lambda s: s.score)
        else:
            if by_meaning:
                ranked = self._rank_by_meaning(in_context, hits, ranked)
            if not ranked or self._is_weak(hits, ranked[0], language, in_context):
                return self._abstain(language, hits)
            first = best = ranked[0]
        # More sentences of the same passage when their words answer almost as well: context, not
        # doubt. Not across languages: similar meaning is what every sentence of the passage has.
        more = [] if by_meaning else [s for s in ranked if s.span != first.span and s.hit_rank == first.hit_rank and s.score >= 0.8 * best.score]
        answer = self._compose(language, hits, [first, *more[: MAX_SENTENCES - 1]])
        if found and not repeats(found.short_answer, answered):
            frame = FRAME[language]
            answer.text = f"{frame} {found.short_answer}" + answer.text[len(frame):]
            answer.short_answer = found.short_answer
            answer.confidence = round(found.probability, 4)
        return answer

    def ranking(self, reader: Reader, across_languages: bool = False) -> Ranking | None:
        """The reader's own `Ranking` (from its reader.json), for questions in the articles'
        language or, `across_languages`, in another (None when it has none); for the former with
        what the settings override (`RAG_READER_RANKING`, `RAG_MIN_ANSWER_PROBABILITY`)."""
        stored = reader.ranking(across_languages)
        if stored is None:
            return None
        ranking = Ranking(**{f.name: stored[f.name] for f in fields(Ranking) if f.name in stored})
        if across_languages:
            return ranking
        if self.settings.reader_ranking is not None:
            ranking = replace(ranking, weights=self.settings.reader_ranking)
        if self.settings.min_answer_probability is not None:
            ranking = replace(ranking, min_probability=self.settings.min_answer_probability)
        return ranking

    def _read(self, question: str, query: str, hits: Sequence[Hit], ranked: Sequence[ScoredSentence],
              across_languages: bool) -> ReadResult | None:
        """What the reader reads in the passages (`read_articles`; when unsure, further into the
        top article by the search's order for `query`, except `across_languages`). None without a
        reader, when it fails (after one log line), or for a question in another language than the
        articles (`across_languages`) when the reader has no ranking for those (one made before
        there was one): quotes answer those."""
        reader = self.reader
        if reader is None:
            return None
        ranking = self.ranking(reader, across_languages)
        if ranking is None:
            if not self._said_no_cross_lingual_ranking:
                self._said_no_cross_lingual_ranking = True
                _log.warning("%s has no 'ranking_cross_lingual': questions in another language than the articles are "
                             "answered with quotes (run benchmarks/tune_on_train.py --reader --write)", reader.directory)
            return None
        try:
            further = None if across_languages else functools.partial(self._next_passages, query=query)
            return read_articles(reader, question, hits, ranked, ranking, whole=across_languages, next_passages=further)
        except Exception as error:  # a reader that loaded but cannot read: keep the quotes
            self._drop_reader(error)
            return None

    def _next_passages(self, hit: Hit, count: int, query: str) -> list[Hit]:
        """`Retriever.next_passages`, or none (after a log line) when the index cannot give them: the
        answer then rests on what was read, and the reader stays on (a failure inside `_read` would
        switch it off for the process)."""
        try:
            return self.retriever.next_passages(hit, query, count)
        except Exception as error:
            _log.warning("could not read further into %s (%s: %s)", hit.article.id, type(error).__name__, error)
            return []

    def _generate(self, spec: str, question: str, history: Sequence[dict] | None, language: str,
                  hits: Sequence[Hit], extractive: Answer, likely: Sequence[tuple[int, str]] = ()) -> Iterator[str]:
        """Stream an LLM reply from the top passages and return it checked; on any LLM failure,
        the extractive answer. `likely`: the reader's answers, best first, as (passage number,
        span), shown to the model before the passages. The answer keeps all `hits`, as the
        extractive one does."""
        pieces: list[str] = []
        try:
            model = self._chat_model(spec)
            read = hits[:PASSAGES_READ]
            messages = llm_module.build_messages(question, read, language, NO_ANSWER[language], history, likely)
            for chunk in model.stream(messages):
                text = chunk.text
                pieces.append(text)
                yield text
        except Exception as error:  # unreachable server, timeout, bad key, missing provider package
            reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            extractive.notice = LLM_FAILED[language].format(reason=f"{type(error).__name__}: {reason}")
            return extractive
        reply = "".join(pieces).strip()
        if not reply or reply.startswith(NO_ANSWER[language].rstrip(".")):
            return self._abstain(language, list(hits))
        return self._compose_checked(reply, language, hits)

    def _chat_model(self, spec: str):
        if spec not in self._chat_models:
            self._chat_models[spec] = llm_module.make_chat_model(
                spec, self.settings.llm_base_url, self.settings.llm_api_key, self.settings.llm_timeout)
        return self._chat_models[spec]

    def _compose_checked(self, reply: str, language: str, hits: Sequence[Hit]) -> Answer:
        """Rebuild an LLM reply from its checked sentences, with citations tied to exact sentences.
        The reply may cite only the passages the model read (the first PASSAGES_READ hits)."""
        checked, invalid = llm_module.check_reply(reply, hits[:PASSAGES_READ], terms, self.retriever.embedder.embed_passages)
        sources = SourceList(hits)
        citations: list[Citation] = []
        parts: list[str] = []
        for sentence in checked:
            marks = []
            for passage, (start, end), support in sentence.cited:
                n = sources.number(passage - 1)
                citations.append(_citation(n, hits[passage - 1], start, end, support))
                marks.append(f"[{n}]")
            flag = "" if sentence.supported else llm_module.UNSUPPORTED_MARK
            parts.append(" ".join([sentence.text + flag, *marks]))
        answer = Answer(" ".join(parts), citations, sources.sources, False, language, list(hits))
        answer.unsupported = [s.text for s in checked if not s.supported]
        answer.removed_citations = invalid
        return answer

    def _rank_by_meaning(self, question: str, hits: Sequence[Hit], ranked: list[ScoredSentence]) -> list[ScoredSentence]:
        """Across languages few words are shared, so rank the top passages' sentences by the
        multilingual model's similarity to the question instead (a dozen short texts to embed)."""
        candidates = [s for s in ranked if s.hit_rank < 2]
        embedder = self.retriever.embedder
        similarity = embedder.embed_passages([s.text for s in candidates]) @ embedder.embed_query(question)
        rescored = [replace(s, score=float(sim)) for s, sim in zip(candidates, similarity)]
        return sorted(rescored, key=lambda s: s.score, reverse=True)

    def _is_weak(self, hits: Sequence[Hit], best: ScoredSentence, language: str, question: str) -> bool:
        """Weak evidence: little of the question in the best sentence, and no very close passage.

        Shared words mean little across languages (an English question, an Indonesian archive):
        there the evidence is the question's names and numbers (Kremlin, NATO, 2018), which
        stay the same in both languages, or failing those the multilingual similarity alone.
        """
        dense = max((h.dense_score or 0.0) for h in hits) if hits else 0.0
        if dense >= self.settings.min_dense_score:
            return False
        if hits and hits[best.hit_rank].article.language not in (None, language):
            asked = names_and_numbers(question)
            if not asked:
                return dense < self.settings.min_dense_cross_lingual
            return not asked & (set(words(best.text)) | set(re.findall(r"\d+", best.text)))
        return best.coverage < self.settings.min_coverage

    def _compose(self, language: str, hits: Sequence[Hit], chosen: Sequence[ScoredSentence]) -> Answer:
        sources = SourceList(hits)
        citations = [_citation(sources.number(s.hit_rank), hits[s.hit_rank], *s.span, s.score)
                     for s in chosen]  # best first: the first quote is the answer
        text = FRAME[language] + "\n" + " ".join(f"{c.sentence} [{c.n}]" for c in citations)
        return Answer(text, citations, sources.sources, False, language, list(hits))

    def _abstain(self, language: str, hits: Sequence[Hit]) -> Answer:
        related = [_source(n, hit) for n, hit in enumerate(hits[:3], 1)]
        text = NO_ANSWER[language]
        if related:
            text += "\n" + RELATED[language] + "".join(f"\n- {s.title}" for s in related)
        return Answer(text, [], related, True, language, list(hits))


class SourceList:
    """The sources of one answer, numbered [1], [2], ... in the order they are first cited.

    Example::

        sources = SourceList(hits)
        n = sources.number(2)   # hits[2] becomes source [1]
        sources.sources         # [Source(n=1, ...)]
    """

    def __init__(self, hits: Sequence[Hit]):
        self.hits = hits
        self.sources: list[Source] = []
        self._numbers: dict[int, int] = {}

    def number(self, rank: int) -> int:
        """The source number of `hits[rank]`, adding it to the list on its first citation."""
        if rank not in self._numbers:
            self._numbers[rank] = len(self.sources) + 1
            self.sources.append(_source(self._numbers[rank], self.hits[rank]))
        return self._numbers[rank]


def _citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    """A citation of the article sentence at [start, end); the span is checked against the text."""
    article = hit.article
    sentence = article.text[start:end]
    if not sentence or start < hit.start or end > hit.end:
        raise ValueError(f"citation span {start}-{end} lies outside passage {hit.start}-{hit.end} of {article.id}")
    return Citation(n, article.id, article.title, article.source, article.url,
                    article.published_iso, sentence, start, end, round(score, 4), page_of(article, start))


def _source(n: int, hit: Hit) -> Source:
    article = hit.article
    return Source(n, article.id, article.title, article.source, article.url,
                  article.published_iso, hit.text, hit.start, hit.end, hit.copies())
