"""Score the sentences of the retrieved passages by the words they share with the question.

Why: a quote must be a sentence of the article, and the cheapest evidence of which sentence
answers is the question's own words in it (stemmed, stopwords left out, weighted by how rare
they are among the candidate sentences), plus whether it holds the kind of thing asked for (a
date for "kapan", a number for "berapa", a name for "siapa"). This is what the reader's window
is centred on (`rag.rerank.window_read`), one of the features the reader's ranking weighs
(shared words), and, without a reader, what chooses the quote outright.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import Stemmer

from rag.language import content_words, words
from rag.retriever import Hit

PASSAGES_READ = 4  # the answer is looked for in the sentences of this many top passages
_STEMMER = Stemmer.Stemmer("indonesian")

_MONTHS = (r"januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember|"
           r"january|february|march|may|june|july|august|october|december|jan|feb|mar|apr|jun|jul|agu|aug|sep|okt|oct|nov|des|dec")
_DAYS = r"senin|selasa|rabu|kamis|jumat|sabtu|minggu|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE = re.compile(rf"\b(?:{_MONTHS}|{_DAYS})\b|\b(?:1[89]|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas|puluh|ratus|ribu|juta|miliar|triliun|"
                     r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]+")

# Question words that announce what kind of answer is wanted.
ANSWER_TYPES: dict[str, tuple[str, ...]] = {
    "date": ("kapan", "kapankah", "tanggal", "when", "tahun berapa", "tahun berapakah", "what year", "pukul berapa"),
    "number": ("berapa", "berapakah", "how many", "how much", "jumlah"),
    "name": ("siapa", "siapakah", "who", "whom"),
    "place": ("di mana", "dimana", "di manakah", "dimanakah", "ke mana", "kemana", "where", "di kota apa", "di negara"),
}

_CUE_WORD = re.compile(r"\w+(?:['’-]\w+)*")  # "who's", "Baik-Baik"; not a quote mark before a word

# A question whose answer is what someone said ("statement"): the quoted sentence answers it, a
# span of it does not ("Apa yang dikatakan Lavrov tentang NATO?" -> "Sergey Lavrov memperingatkan
# bahwa Moskow"); the suggested follow-ups ask this way ("Apa yang dikatakan tentang Vilnius?").
_SAID_ID = r"(?:di)?(?:katakan|sampaikan|ungkapkan|nyatakan|peringatkan)(?:nya)?"
_WHAT_WAS_SAID = re.compile(
    rf"\bapa\s+(?:saja\s+)?yang\s+(?:\w+\s+){{0,4}}?{_SAID_ID}\b(?![^?]*\bsebagai\b)"  # not "... dikatakan X sebagai ancaman?"
    r"|\bapa\s+(?:kata|tanggapan|komentar|pendapat|pernyataan)(?:nya\b|\s+(?!(?:yang|kunci|lain|pertama|terakhir|dasar)\b))"
    # English: say/tell/think/warn ends the question or opens what it is about ("... say before the summit?"),
    # so "What did the report say the death toll was?" (a number) is not one
    r"|^\W*what\s+(?:did|does|do|will|would)\s[^?.!]*\b(?:say|tell|think|warn)\b"
    r"(?:\s+(?:about|of|on|regarding|before|after|at|in|to|during)\b[^?]*)?\W*$"
    r"|^\W*what\s+(?:has|have|had)\s[^?.!]*\b(?:said|told|warned)\b(?:\s+(?:about|of|on|regarding|before|after|at|in|to|during)\b[^?]*)?\W*$"
    r"|^\W*what\s+(?:was|is|has\s+been)\s+said\b",
    re.IGNORECASE)

# Asks for a clause, whatever else it names ("Mengapa jumlah pengangguran naik?" is no number question).
_CLAUSE = re.compile(r"\b(?:mengapa|kenapa|bagaimana|apa(?:kah)?\s+(?:yang\s+)?dimaksud|apa(?:kah)?\s+itu|pengertian|arti\s+dari"
                     r"|why|how(?!\s+(?:many|much|large|big|long|far|old|tall|high|wide|deep|heavy|often|soon)\b))\b", re.IGNORECASE)
# Names and measures asked for without the question words of `ANSWER_TYPES` (which also weigh the
# sentences). Kept apart: as `ANSWER_TYPES` cues ("apa nama" asks 12% of the news questions) they
# changed none of the reader's answers on the 304 news train questions they retype (2026-12-02).
_NAME_OR_MEASURE = re.compile(
    r"\bwhat(?:'s|\s+is|\s+was|\s+are|\s+were)?\s+the\s+names?\b|\bwho's\b|\bapa(?:kah)?\s+nama\b|\bsebutkan\s+nama\b"
    r"|\b(?:which|what)\s+(?:country|city|town|province|region|year|month|day|party|team|club|company|agency|newspaper|ship)\b"
    r"|\b(?:negara|kota|provinsi|daerah|partai|tim|klub|perusahaan)\s+(?:mana|apa)\b"
    r"|\bhow\s+(?:large|big|long|far|old|tall|high|wide|deep|heavy|often|soon)\b|\bseberapa\s+(?:besar|banyak|jauh|lama|tinggi|luas)\b",
    re.IGNORECASE)


def terms(text: str) -> list[str]:
    """Stemmed content words (`rag.language.content_words`): what lexical evidence is counted in.

    Example::

        terms("Siapa presiden AS?")   # ['presiden', 'AS']
    """
    return _STEMMER.stemWords(content_words(text))


# A title or a quote inside a question: its words are no question words ("Tahun berapa terbit buku
# "50 Alasan Mengapa Anwar ..."?" asks for a year, not why). An apostrophe within a word is no quote.
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”|(?<!\w)\'[^\']*\'(?!\w)|(?<!\w)‘[^’]*’(?!\w)')


_OTHER_QUESTION_WORDS = ("apa", "apakah", "what", "which", "mana", "manakah")


def _question_words_part(question: str) -> str:
    """`question` without what it quotes, unless no question word is left outside the quotes
    ('Tolong jawab: "Siapa presiden AS?"' asks the quoted question)."""
    outside = _QUOTED.sub(" ", question)
    asks = _has_cue(outside, *ANSWER_TYPES.values(), _OTHER_QUESTION_WORDS) or \
        any(pattern.search(outside) for pattern in (_WHAT_WAS_SAID, _CLAUSE, _NAME_OR_MEASURE))
    return outside if asks else question


def _has_cue(text: str, *cues: Sequence[str]) -> bool:
    """Does `text` hold one of the `cues` (words or phrases) as whole words, whatever the
    punctuation around them ("tahun berapakah, ...")?"""
    lowered = f" {' '.join(_CUE_WORD.findall(text.lower()))} "
    return any(f" {cue} " in lowered for group in cues for cue in group)


def answer_type(question: str) -> str | None:
    """What kind of answer `question` asks for: "statement" (what someone said, which the quote
    gives whole; no short answer is shown), else "date", "number", "name" or "place" by its
    question words (`ANSWER_TYPES`, not counting words it quotes), or None.

    Example::

        answer_type("Apa yang dikatakan Lavrov tentang perluasan NATO?")   # 'statement'
        answer_type("Siapa juru bicara Kremlin?")                          # 'name'
        answer_type('Siapa penulis buku "Kapan Kita Kawin?"')              # 'name'
    """
    return _answer_type_of(_question_words_part(question))


def _answer_type_of(question: str) -> str | None:
    """`answer_type` of a question whose quotes are already left out."""
    if _WHAT_WAS_SAID.search(question):
        return "statement"
    return next((kind for kind, cues in ANSWER_TYPES.items() if _has_cue(question, cues)), None)


def asks_for_clause(*questions: str) -> bool:
    """Is the answer a clause rather than a name, date, number or place: the question asks why,
    how or what something is, or for none of those (`answer_type`, or "apa nama", "negara mana",
    "which country", "how large" ...)? The first of `questions` that says which decides (a
    follow-up, then the question it follows); none says: a clause. The reader may then mark a
    longer span (`rag.rerank.longest_answer`).

    Example::

        asks_for_clause("Apa yang dimaksud dengan komunisme?")                      # True
        asks_for_clause("Siapa juru bicara Kremlin?")                               # False
        asks_for_clause("Dan Swedia?", "Kapan Finlandia bergabung dengan NATO?")    # False
    """
    for question in map(_question_words_part, questions):
        if _CLAUSE.search(question):
            return True
        if _answer_type_of(question) in ANSWER_TYPES or _NAME_OR_MEASURE.search(question):
            return False
    return True


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


@dataclass(frozen=True)
class ScoredSentence:
    """One sentence of `hits[hit_rank]`, at [start, end) = `span` of its article: the IDF-weighted
    share of the question's terms it holds (`coverage`) and its `score` (coverage with the
    answer-type bonus and the passage prior), see `score_sentences`."""

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

    Args:
        question: as asked (or with the question it follows, for a follow-up).
        hits: the search's passages, best first; the first `PASSAGES_READ` are scored.

    Returns:
        a `ScoredSentence` for each distinct sentence, best first.

    Example::

        hits = retriever.search("Siapa juru bicara Kremlin?", 5)
        score_sentences("Siapa juru bicara Kremlin?", hits)[0].text   # 'Juru bicara Kremlin Dmitry Peskov ...'
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
