"""Suggest what to ask next, from the article an answer cites.

Why: someone who just read who said what usually wants the next fact from the same story: the
other people, places and organisations it names. Those are found in the cited article by their
capitals (no model, no LLM, a few milliseconds), the ones the conversation has not mentioned yet,
most frequent first, and turned into short questions in the answer's language. A short follow-up
is looked up together with the previous question (`rag.answer.retrieval_query`), so it stays in
the conversation's context.
"""

from __future__ import annotations

import re
from collections import Counter

from rag.answer import Answer
from rag.language import ENGLISH_STOPWORDS, INDONESIAN_STOPWORDS, words
from rag.sentences import DATE

TEMPLATES = {"id": "Apa yang dikatakan tentang {name}?", "en": "What does the archive say about {name}?"}
# A run of capitalised words that does not open a sentence: "Jens Stoltenberg", "Vilnius", "NATO".
_NAME = re.compile(r"(?<![.!?\n]\s)(?<![.!?\n])(?<!^)\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*")
_COMMON = INDONESIAN_STOPWORDS | ENGLISH_STOPWORDS | {"presiden", "menteri", "kata", "ujar"}


def names(text: str) -> Counter[str]:
    """How often each name (a run of capitalised words, not at a sentence start) occurs.

    Example::

        names("Kata Peskov, Presiden AS Joe Biden tiba di Vilnius. Biden bicara.")
        # Counter({'Peskov': 1, 'Joe Biden': 1, 'Vilnius': 1})   (sentence openers and titles left out)
    """
    found: Counter[str] = Counter()
    for match in _NAME.finditer(text):
        kept = [w for w in match.group().split() if w.lower() not in _COMMON and not DATE.fullmatch(w)]  # no months, days
        if kept and len(" ".join(kept)) > 2:
            found[" ".join(kept)] += 1
    return found


def suggest_follow_ups(answer: Answer, article_text: str, asked: str, limit: int = 3) -> list[str]:
    """Up to `limit` follow-up questions about names in the cited article that `asked` (the
    conversation's questions so far) does not mention; none for an abstention.

    Args:
        answer: the answer just given (its language and short answer are used).
        article_text: the text of the article its first quote comes from.
        asked: the questions asked so far, joined.
        limit: how many to suggest.

    Returns:
        Questions in the answer's language, most frequent names first.

    Example::

        suggest_follow_ups(answer, article.text, "Siapa juru bicara Kremlin?")
        # ['Apa yang dikatakan tentang Lavrov?', 'Apa yang dikatakan tentang NATO?', ...]
    """
    if answer.abstained or not answer.citations:
        return []
    known = set(words(f"{asked} {answer.short_answer or ''}"))
    fresh = [name for name, _ in names(article_text).most_common() if not known & set(words(name))]
    template = TEMPLATES.get(answer.language, TEMPLATES["en"])
    return [template.format(name=name) for name in fresh[:limit]]
