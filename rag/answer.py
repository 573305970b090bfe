"""Answer a question from the archive, citing for every sentence the article sentence it rests on.

The default answer is extractive: it quotes the one to three article sentences that best
answer the question, verbatim, each followed by `[n]` where `n` indexes the sources list. A
quote can be wrong only by being the wrong sentence, never by being made up. When the best
evidence is weak the assistant says the archive has no answer and lists what may be related.

Who decides what: the search finds the passages (`rag/retriever.py`); their sentences are
scored by the words they share with the question (`rag/sentences.py`); the trained reader
(`rag/reader.py`) reads the best of them and reranks the articles (`rag/rerank.py`): the
likeliest article is quoted, from the sentence holding the reader's span, the span is the short
answer (unless the question asks what someone said: then the quote is), and below the ranking's
`min_probability` the assistant abstains. A question in another language than the articles has
its own ranking, learned on English train questions: there BM25
and shared words say little, and the reader's margins run lower. Without a reader
(`RAG_READER=0`, or a model that cannot be loaded), shared words (across languages, meaning)
decide whether the archive answers and which sentence is quoted (`Assistant._is_weak`). This
module holds the answer's types (`Answer`, `Citation`, `Source`), the reply's language, the
quoting and citing, and the optional LLM reply, checked against the same passages; a follow-up
is read with the question before it (`rag/conversation.py`), and the reply's fixed words are in
`rag/replies.py`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal, NamedTuple

from rag import llm as llm_module
from rag.config import Settings, get_settings
from rag.conversation import followed_question, previous_short_answer, refers_back, repeats, retrieval_query
from rag.documents import page_of
from rag.language import question_language, without_archive_words, words
from rag.reader import CONFIG_FILE, Reader, ReaderUnavailable
from rag.replies import FRAME, LLM_FAILED, NO_ANSWER, NO_ANSWER_FILTERED, NO_MATCH, RELATED, UNKNOWN_OUTLETS
from rag.rerank import ARTICLE_FEATURES, CLAUSE_ANSWER_TOKENS, Ranking, ReadResult, longest_answer, names_missing, read_articles
from rag.retriever import Filters, Hit, Retriever
from rag.sentences import PASSAGES_READ, ScoredSentence, answer_type, names_and_numbers, score_sentences

MAX_SENTENCES = 3  # quoted without the reader, or when the quote is the answer (what someone said)
# A clause answer (`longest_answer`) this share of its sentence or more (a definition: "Inflasi inti
# adalah komponen inflasi yang ...") is not written before the quote again; `Answer.short_answer`
# still holds it.
CLAUSE_SHARE = 0.5
SHOWN_OUTLETS = 20  # outlets named when a filter asks for one the archive does not have
MAX_QUESTION_CHARS = 1000  # the longest question answered (the page's box stops there, the API refuses longer)
_log = logging.getLogger(__name__)


CONFIDENT = 0.5  # an answer at least this likely is shown as "confident" (yakin); a short question so answered alone is no follow-up


@dataclass(frozen=True)
class ArticleRef:
    """An article an answer names: its source number and what a reader needs to find it.

    Attributes:
        n: the source's number, as `[n]` marks it in `Answer.text` (1 = the first source).
        article_id: the article's id in the index (its file name, or file name#record).
        title, source, url: the article's title, outlet and web address (None when unknown).
        published: its date as YYYY-MM-DD (None when unknown).
    """

    n: int
    article_id: str
    title: str
    source: str | None
    url: str | None
    published: str | None


@dataclass(frozen=True)
class Citation(ArticleRef):
    """One quoted article sentence, exactly as the article has it.

    Attributes:
        n, article_id, title, source, url, published: see `ArticleRef`; `n` numbers the
            source in `Answer.sources`.
        sentence: the quoted sentence.
        start, end: its character offsets in the article's text: `text[start:end] == sentence`.
        score: how well it answers, by the path that chose it (the reader's, or shared words).
        page: the page of a PDF it stands on (None for other articles).

    Example::

        citation = assistant.answer("Siapa juru bicara Kremlin?").citations[0]
        article = assistant.retriever.store.article(citation.article_id)
        article.text[citation.start:citation.end] == citation.sentence   # True
    """

    sentence: str
    start: int
    end: int
    score: float
    page: int | None = None


@dataclass(frozen=True)
class Source(ArticleRef):
    """An article the answer rests on (or, when abstaining, one that may be related), with the
    passage that was read.

    Attributes:
        n, article_id, title, source, url, published: see `ArticleRef`.
        passage: the passage of the article that was read.
        passage_start, passage_end: its character offsets in the article's text.
        also_in: the same story's other copies in the archive (article_id, title, source,
            published, url of each).
    """

    passage: str
    passage_start: int
    passage_end: int
    also_in: list[dict] = field(default_factory=list)  # the story's other copies: article_id, title, source, published, url


@dataclass
class Answer:
    """A reply: its text with `[n]` marks, the quoted sentences, the sources they come from.

    Attributes:
        text: the reply as shown: the short answer after the frame ("Menurut arsip:"), then the
            quoted sentences with `[n]` marks; when abstaining, a sentence that says so.
        citations: the quoted sentences (`Citation`), in the order the text quotes them.
        sources: the articles they come from, numbered as the marks (`Source`); when
            abstaining, related articles.
        abstained: True when the archive does not answer the question.
        language: the reply's language ('id' or 'en'), the question's.
        hits: the retrieved passages, the likeliest answer's article first (what `rag eval`
            scores).
        notice: a line about how the answer was made (e.g. an LLM that could not be reached).
        unsupported: with an LLM, the reply's sentences that no quoted sentence supports.
        removed_citations: with an LLM, the `[n]` marks it made to no passage (removed).
        short_answer, confidence: see below.

    `short_answer` is the reader's answer span inside the first quote (None when abstaining,
    with an LLM, without a reader, when the question asks what was said (`answer_type` "statement"),
    or when a follow-up's span repeats the answer it follows); `text` leads with it after the
    frame, unless the question asks for a clause and it is most of the quoted sentence
    (`CLAUSE_SHARE`: a definition); `confidence` (0..1) the
    probability that the quoted article answers, as the reader's ranking estimates it (None
    when abstaining, with an LLM or without a reader).

    Example::

        answer = Assistant(Retriever("index")).answer("Siapa juru bicara Kremlin?")
        answer.short_answer, answer.sureness      # ('Dmitry Peskov', 'confident')
        answer.citations[0].sentence              # 'Juru bicara Kremlin Dmitry Peskov mengatakan ...'
        answer.to_json()["citations"][0]["start"] # the sentence's offset in the article
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

    @property
    def sureness(self) -> str | None:
        """'confident' when the reader's probability reaches `CONFIDENT`, 'unsure' below it, None
        without one: the key of the label the page and `rag ask` show (`rag.ui_text.LABELS`)."""
        if self.confidence is None:
            return None
        return "confident" if self.confidence >= CONFIDENT else "unsure"

    @classmethod
    def from_json(cls, data: dict) -> Answer:
        """The answer `to_json` wrote (without `hits`): e.g. one `POST /api/ask` returned, or the
        conversation the page keeps in the browser.

        Example::

            Answer.from_json(answer.to_json()).citations == answer.citations   # True
        """
        return cls(data["answer"], [Citation(**c) for c in data["citations"]], [Source(**s) for s in data["sources"]],
                   data["abstained"], data["language"], notice=data.get("notice"), unsupported=list(data.get("unsupported") or []),
                   removed_citations=list(data.get("removed_citations") or []), short_answer=data.get("short_answer"),
                   confidence=data.get("confidence"))

    def to_json(self) -> dict:
        """The answer as `rag ask --json` and `POST /api/ask` return it (the shape the API's
        schema documents)."""
        return {
            "answer": self.text, "short_answer": self.short_answer, "confidence": self.confidence,
            "citations": [c.__dict__ for c in self.citations],
            "sources": [s.__dict__ for s in self.sources], "abstained": self.abstained,
            "language": self.language, "notice": self.notice,
            "unsupported": self.unsupported, "removed_citations": self.removed_citations,
        }


def checked_question(question: str) -> str:
    """`question` without surrounding white space; ValueError, saying why, when that leaves
    nothing or more than `MAX_QUESTION_CHARS` characters (the page's box stops there too).

    Example::

        checked_question("  Siapa juru bicara Kremlin? ")   # 'Siapa juru bicara Kremlin?'
    """
    question = question.strip()
    if not question:
        raise ValueError("the question is empty: type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"a question has at most {MAX_QUESTION_CHARS} characters; this one has {len(question)}: ask it "
                         "shorter, or search for its keywords")
    return question


class Found(NamedTuple):
    """What was searched for a question (`in_context`), the passages found and their sentences,
    what the reader made of them (None without a reader), whether the quote is chosen by
    meaning (another language), and the most tokens a span may have."""

    in_context: str
    hits: list[Hit]
    ranked: list[ScoredSentence]
    read: ReadResult | None
    by_meaning: bool
    tokens: int

    @property
    def sure(self) -> bool:
        """The reader surely found the answer (the page calls it "confident")."""
        best = self.read.best if self.read else None
        return best is not None and best.probability >= CONFIDENT

    @property
    def quoted(self) -> str:
        """The text of the article the answer would quote ('' when none would be)."""
        best = self.read.best if self.read else None
        rank = best.sentence.hit_rank if best else self.ranked[0].hit_rank if self.ranked else None
        return self.hits[rank].article.text if rank is not None else ""


class Assistant:
    """Question in, cited answer out. Open it on an index folder; it follows index updates.

    Extractive by default; with an LLM configured (`RAG_LLM`, or `llm=` per call) a chat
    model writes the reply from the same passages and the reply is checked afterwards.

    Args:
        retriever: the search (default: a `Retriever` on `settings.index_dir`).
        settings: `rag.config.Settings` (default: the retriever's, else from `RAG_*` variables).
        reader: the answer reader (default: the one in `models/reader`, loaded at the first
            question; None with `RAG_READER=0`). When it cannot be loaded, quotes answer.

    Example::

        from rag.answer import Assistant
        assistant = Assistant()
        print(assistant.answer("Siapa juru bicara Kremlin?").text)
        # Menurut arsip: Dmitry Peskov
        # Juru bicara Kremlin Dmitry Peskov mengatakan pada konferensi pers reguler: ... [1]
    """

    def __init__(self, retriever: Retriever | None = None, settings: Settings | None = None,
                 reader: Reader | None = None):
        self.settings = settings or (retriever.settings if retriever else get_settings())
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
        """The complete answer (the last item `stream` yields; its arguments are `stream`'s).

        Example::

            answer = Assistant().answer("Siapa juru bicara Kremlin?")
            answer.short_answer, answer.citations[0].sentence   # 'Dmitry Peskov', 'Juru bicara Kremlin Dmitry Peskov ...'
        """
        *_, final = self.stream(question, history, filters, k, llm)
        return final

    def stream(self, question: str, history: Sequence[dict] | None = None, filters: Filters | None = None,
               k: int | None = None, llm: str | Literal[False] | None = None) -> Iterator[str | Answer]:
        """Yield reply text as it is produced, then the complete, checked `Answer` last.

        Args:
            question: in any language; the reply is framed in its language, the quotes are the
                articles' own sentences.
            history: the conversation so far, `{"role": "user"|"assistant", "content": ...}`
                turns; a short follow-up ("Dan Swedia?") is read with the question it follows,
                unless the archive answers it confidently as it was asked, or the article that
                would answer it with the question before does not name its own names.
            filters: restrict the archive (`Filters`: dates, outlets).
            k: how many articles to retrieve (default `RAG_TOP_K`).
            llm: None answers as configured (through `RAG_LLM` when it is set, else
                extractive), False extractively whatever is configured, a model spec through
                that chat model.

        The final `Answer.text` is authoritative: after an LLM reply is checked, citations to
        no passage are gone and unsupported sentences are flagged.

        Raises:
            ValueError: an empty question, or one over `MAX_QUESTION_CHARS` characters (`checked_question`).

        Example::

            for item in assistant.stream("Apa kata Lavrov tentang NATO?"):
                print(item if isinstance(item, str) else item.citations, end="")
        """
        question = checked_question(question)
        asked_in = question_language(question)
        language = asked_in if asked_in in FRAME else "en" if asked_in else "id"  # a third language is answered in English
        about_news = without_archive_words(question)  # "... yang disebut dalam artikel?" asks about the news
        followed, answered = followed_question(about_news, history), previous_short_answer(history)
        found, previous = self._find_in_conversation(about_news, followed, answered, language, k, filters)
        in_context, hits, ranked, read, by_meaning, tokens = found
        spec = self.settings.llm if llm is None else llm or None
        answered = answered if previous else ""
        if not hits and filters is not None and filters.narrows:
            answer = self._nothing_matches(language, filters)
        else:
            answer = self._quote(in_context, language, hits, ranked, read, by_meaning, answered,
                                 answer_type(about_news) != "statement", tokens == CLAUSE_ANSWER_TOKENS)
            if answer.abstained and filters is not None and filters.narrows:  # not "the archive lacks it": the filters may
                answer.text = NO_ANSWER_FILTERED[language] + answer.text.removeprefix(NO_ANSWER[language])
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
               read: ReadResult | None, by_meaning: bool, answered: str = "", span_wanted: bool = True,
               clause_wanted: bool = False) -> Answer:
        """Quote the sentences that answer, or abstain when the evidence is weak.

        With the reader's answers (`read`; None without a reader): the article most likely to
        answer is quoted, from the sentence holding the reader's span (that sentence alone), and
        the span is the short answer; below its `min_probability` the assistant abstains. Without
        them, shared words (`ranked`; across languages: meaning) choose the sentence and decide
        abstention (`_is_weak`), and up to `MAX_SENTENCES` of the passage whose words answer
        almost as well follow it, as they do when the quote is the answer (no span).
        `by_meaning`: the best sentence's article is in another language than the question. `answered`: the short answer of the reply a follow-up follows; a span
        made of its words is not the new short answer (the reader reads the follow-up with the
        question before it and may answer that one again: "Apa yang dia peringatkan?" after "Siapa
        Menteri Luar Negeri Rusia?" marks "Sergey Lavrov"), the quote still is. `span_wanted`:
        False when the question asks what was said (`answer_type` "statement"): the quote is the
        answer, with the reader's confidence, and no span is shown as the short answer.
        `clause_wanted`: the question may be answered by a clause (`longest_answer`): a span that
        is most of its sentence is then not written before the quote again.
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
        # doubt. Not across languages: similar meaning is what every sentence of the passage has;
        # not when the reader's span answers: the sentence holding it is the quote ("Siapa Gubernur
        # Bank Indonesia?" is not answered by the passage's other sentence naming Bank Indonesia).
        spanned = found is not None and span_wanted and not repeats(found.short_answer, answered)
        more = [] if by_meaning or spanned else \
            [s for s in ranked if s.span != first.span and s.hit_rank == first.hit_rank and s.score >= 0.8 * best.score]
        answer = self._compose(language, hits, [first, *more[: MAX_SENTENCES - 1]])
        if found:
            answer.confidence = round(found.probability, 4)
        if spanned:
            answer.short_answer = found.short_answer
            if not clause_wanted or len(found.short_answer) < CLAUSE_SHARE * len(first.text):  # else the quote says it all
                frame = FRAME[language]
                answer.text = f"{frame} {found.short_answer}" + answer.text[len(frame):]
        return answer

    def ranking(self, reader: Reader, across_languages: bool = False) -> Ranking | None:
        """The reader's own `Ranking` (from its reader.json), for questions in the articles'
        language or, `across_languages`, in another (None when it has none); for the former with
        what the settings override (`RAG_READER_RANKING`, `RAG_MIN_ANSWER_PROBABILITY`; across
        languages `RAG_MIN_ANSWER_PROBABILITY_CROSS_LINGUAL`)."""
        stored = reader.ranking(across_languages)
        if stored is None:
            return None
        ranking = Ranking(**{f.name: stored[f.name] for f in fields(Ranking) if f.name in stored})
        if self.settings.reader_ranking is not None and not across_languages:
            ranking = replace(ranking, weights=self.settings.reader_ranking)
        threshold = self.settings.min_answer_probability_cross_lingual if across_languages else self.settings.min_answer_probability
        if threshold is not None:
            ranking = replace(ranking, min_probability=threshold)
        return ranking

    def _find_in_conversation(self, question: str, previous: str | None, answered: str, language: str, k: int | None,
                              filters: Filters | None) -> tuple[Found, str | None]:
        """`_find` for a question that may follow `previous` (`followed_question`; its reply's
        short answer `answered`), and the question it was read with. One that refers back is read
        with it; a short one is first read as it was asked, and stands alone when the archive
        answers it confidently ("Siapa juru bicara Kremlin?" after a question about Lavrov), when
        the article the reading with `previous` would quote has none of its names ("Apa ancaman
        Korea Utara?" is not answered from the Kremlin article; not across languages, where names
        are spelt otherwise), or when that reading answers `previous` again and the question
        alone is answered ("Di mana tanggul jebol?" after "Siapa Bupati Demak?" marked the
        Bupati's name and quoted that sentence)."""
        if previous is None or refers_back(question):
            return self._find(question, previous, language, k, filters), previous
        alone = self._find(question, None, language, k, filters)
        if alone.sure:
            return alone, None
        followed = self._find(question, previous, language, k, filters)
        if not followed.by_meaning and names_missing(question, followed.quoted) == 1.0:
            return alone, None
        if followed.read and followed.read.best and repeats(followed.read.best.short_answer, answered) and alone.read and alone.read.best:
            return alone, None
        return followed, previous

    def _find(self, question: str, previous: str | None, language: str, k: int | None, filters: Filters | None) -> Found:
        """Search for `question` (with the question it follows, `previous`, when it is a
        follow-up), score the passages' sentences and let the reader read them."""
        in_context = retrieval_query(question, previous)  # a follow-up is searched with the question it follows...
        asked = f"{question} {previous}" if previous else question  # ...and read with it after (the reader cuts at 48 tokens)
        hits = self.retriever.search(in_context, self.settings.top_k if k is None else k, filters)  # 0: refused, not the default
        ranked = score_sentences(in_context, hits)
        by_meaning = bool(ranked) and hits[ranked[0].hit_rank].article.language not in (None, language)
        tokens = longest_answer(*filter(None, (question, previous)))  # a name is short; a follow-up may say so
        read = self._read(asked, in_context, hits, ranked, by_meaning, tokens) if ranked else None
        if read:
            hits, ranked = read.hits, read.ranked
        return Found(in_context, hits, ranked, read, by_meaning, tokens)

    def _read(self, question: str, query: str, hits: Sequence[Hit], ranked: Sequence[ScoredSentence],
              across_languages: bool, answer_tokens: int) -> ReadResult | None:
        """What the reader reads in the passages (`read_articles`, spans of at most `answer_tokens`;
        when unsure, further into the top article by the search's order for `query`, except
        `across_languages`). None without a reader, when it fails (after one log line), or for a
        question in another language than the articles (`across_languages`) when the reader has
        no ranking for those (one made before there was one): quotes answer those."""
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
            return read_articles(reader, question, hits, ranked, ranking, whole=across_languages, next_passages=further,
                                 answer_tokens=answer_tokens)
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
        checked, invalid = llm_module.check_reply(reply, hits[:PASSAGES_READ], self.retriever.embedder.embed_passages)
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

    def _nothing_matches(self, language: str, filters: Filters) -> Answer:
        """The reply when the filters leave no article: said so, with the outlets asked for that the
        archive does not have (a misspelt "AlJazeera") and those it has (the first `SHOWN_OUTLETS`)."""
        text = NO_MATCH[language]
        known = self.retriever.store.sources()
        names = {name.lower() for name in known}
        unknown = [name for name in filters.sources if name.lower() not in names]
        if unknown:
            listed = ", ".join(known[:SHOWN_OUTLETS]) + (", ..." if len(known) > SHOWN_OUTLETS else "")
            text += "\n" + UNKNOWN_OUTLETS[language].format(unknown=", ".join(unknown), known=listed or "-")
        return Answer(text, [], [], True, language, [])

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
