"""Read a question in its conversation: is it a follow-up of the question before ("Dan Swedia?",
"Apa yang dia peringatkan?"), and what was answered before it.

Why: a follow-up searched alone finds the wrong story ("Bagaimana tanggapan Swedia?" after a
question about NATO found a football match against Sweden); searched with the question it
follows, it stays in that story. A question asking what was said about a name of its own (what
the page suggests after an answer) stands alone. The conversation is the chat history as the
API and the page pass it: `{"role": "user" | "assistant", "content": str}` turns, oldest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.language import without_archive_words, words
from rag.replies import FRAME
from rag.sentences import answer_type, names_and_numbers, terms

_GOES_ON = re.compile(r"(dan|lalu|kalau|bagaimana dengan|and|what about|how about)\b", re.IGNORECASE)
MAX_FOLLOWED = 3  # a chain of follow-ups is read with at most this many questions before it
_REFERS_BACK = {"dia", "ia", "mereka", "itu", "tersebut", "beliau", "nya", "he", "she", "they", "it", "that", "this", "those"}


def said_by(role: str, history: Sequence[dict] | None) -> list[str]:
    """The plain-text turns of `role` ('user' or 'assistant') in `history`, oldest first."""
    return [turn["content"] for turn in history or () if turn.get("role") == role and isinstance(turn.get("content"), str)]


def refers_back(question: str) -> bool:
    """Does the question point at something said before ("dia", "itu", "mereka", "he", "that"),
    or go on from it ("Dan Swedia?", "Bagaimana dengan Swedia?", "What about Sweden?")?"""
    return bool(_REFERS_BACK & set(words(question))) or bool(_GOES_ON.match(question.strip()))


def followed_question(question: str, history: Sequence[dict] | None) -> str | None:
    """The previous question (without words about the archive itself) when the new one refers
    back to it, or is short and does not ask what was said about a name of its own (a
    follow-up), else None; when the previous one was a follow-up too, the questions it followed
    come after it (`MAX_FOLLOWED` in all). "Dan Swedia?", "Apa yang dia peringatkan?" follow the question
    before; "Apa yang dikatakan tentang Ukraina?" (what the page suggests after an answer)
    stands alone: read with "Siapa juru bicara Kremlin?" it got Peskov's sentence again.

    Example::

        history = [{"role": "user", "content": "Siapa juru bicara Kremlin?"}]
        followed_question("Apa yang dia katakan?", history), followed_question("Apa yang dikatakan tentang NATO?", history)
        # ('Siapa juru bicara Kremlin?', None)
    """
    return _followed(question, list(history or ()), MAX_FOLLOWED)


def _followed(question: str, history: list[dict], depth: int) -> str | None:
    """`followed_question`, with the questions a follow-up followed in turn, `depth` at most: "Mengapa?"
    after "Bagaimana dengan Swedia?" after a question about NATO is read with both, not with Sweden alone."""
    asked = [i for i, turn in enumerate(history) if turn.get("role") == "user" and isinstance(turn.get("content"), str)]
    if not asked or not _follows(question, history[asked[-1]]["content"]):
        return None
    previous = history[asked[-1]]["content"]
    earlier = _followed(previous, history[: asked[-1]], depth - 1) if depth > 1 else None
    return " ".join(filter(None, (without_archive_words(previous), earlier)))


def _follows(question: str, previous: str) -> bool:
    """`followed_question`'s rule for one question after another."""
    if refers_back(question):
        return True
    about_a_new_name = answer_type(question) == "statement" and bool(names_and_numbers(question) - names_and_numbers(previous))
    return len(terms(question)) <= 3 and not about_a_new_name


def previous_short_answer(history: Sequence[dict] | None) -> str:
    """The short answer of the assistant's last reply in `history`: its first line after the
    frame ("Menurut arsip: Sergey Lavrov" -> "Sergey Lavrov"), or its quote when the frame stands
    alone because the answer was most of that sentence (a definition; not when the question
    asked what was said, where the quote is no answer a name in it repeats); '' when there is none."""
    replies = said_by("assistant", history)
    lead, _, rest = replies[-1].partition("\n") if replies else ("", "", "")
    frame = next((f for f in FRAME.values() if lead.startswith(f)), None)
    if frame is None:
        return ""
    asked = said_by("user", history)
    if lead.strip() == frame and asked and answer_type(asked[-1]) != "statement":
        return re.sub(r"\s*\[\d+\]", "", rest.partition("\n")[0]).strip()
    return lead[len(frame):].strip()


def repeats(span: str, answered: str) -> bool:
    """Is `span` made only of words and numbers of `answered` (never when `answered` is empty)?"""
    said = set(re.findall(r"\w+", answered.casefold()))
    return bool(said) and set(re.findall(r"\w+", span.casefold())) <= said


def retrieval_query(question: str, previous: str | None) -> str:
    """What is searched for `question`: the question it follows (`followed_question`) first,
    when there is one.

    Example::

        retrieval_query("Dan Swedia?", "Kapan Finlandia bergabung dengan NATO?")
        # 'Kapan Finlandia bergabung dengan NATO? Dan Swedia?'
    """
    return f"{previous} {question}" if previous else question
