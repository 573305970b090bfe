"""Suggest what to ask next, from the article an answer cites.

Why: someone who just read who said what usually wants the next fact from the same story: the
other people, places and organisations it names. Those are found in the cited article by their
capitals (no model, no LLM, a few milliseconds), the ones the conversation has not mentioned yet,
most frequent first, and turned into short questions in the answer's language. A short follow-up
is looked up together with the previous question (`rag.conversation.retrieval_query`), so it stays in
the conversation's context.
"""

from __future__ import annotations

import re
from collections import Counter

from rag.answer import Answer
from rag.language import ENGLISH_STOPWORDS, INDONESIAN_STOPWORDS, words
from rag.sentences import DATE

TEMPLATES = {"id": "Apa yang dikatakan tentang {name}?", "en": "What does the archive say about {name}?"}
# A run of capitalised words: "Jens Stoltenberg", "Vilnius", "NATO".
_RUN = re.compile(r"\b[A-Z][\w'-]+(?:[ \t]+[A-Z][\w'-]+)*")
# What stands before a sentence's (or a line's, a list item's, a dateline's) first word.
_OPENS = re.compile(r"(?:\A|\n|[.!?\"\u201c\u201d'\u2018\u2019*#>|\u2013\u2014]|\s-|\d\.)\s*\Z")
_COMMON = INDONESIAN_STOPWORDS | ENGLISH_STOPWORDS | {"kata", "ujar", "wib", "wita", "wit"}
# Titles before a name: "Menteri Keuangan Sri Mulyani Indrawati" names a person after a portfolio.
_TITLES = {"presiden", "menteri", "gubernur", "bupati", "walikota", "wali", "ketua", "kepala", "direktur",
           "dirut", "sekjen", "jenderal", "panglima", "kapolri", "kapolda", "dubes", "prof", "dr", "ir",
           "drs", "wakil", "manajer", "pelatih", "sejarawan", "pengamat"}


def names(text: str) -> Counter[str]:
    """How often each name (a run of capitalised words) occurs, without what is not one: a
    sentence's first word (unless the text capitalises it where no sentence starts: "Budi
    Waseso menambahkan"), a title ("Presiden", "Menteri"), a common word capitalised (a word the
    text also writes in lower case), a URL slug. After a title, a run of three words or more
    holds a portfolio before the name ("Menteri Keuangan Sri Mulyani Indrawati"): the name starts
    at the last of its words that starts a name elsewhere in the text ("Sri Mulyani mengatakan"),
    and the run is left out when none does or that leaves more than three words.

    Example::

        names("Kata Peskov, Presiden AS Joe Biden tiba di Vilnius. Biden bicara.")
        # Counter({'Peskov': 1, 'Joe Biden': 1, 'Vilnius': 1})   (sentence openers and titles left out)
    """
    lower = set(re.findall(r"(?<![\w'-])[a-z][\w'-]*", text))
    runs = [(_opens_sentence(text, match.start(), match.group()), match.group().split()) for match in _RUN.finditer(text)]
    inside = {word for opens, run in runs for word in run[opens:]}  # capitalised where no sentence starts
    runs = [run[1:] if opens and run[0] not in inside else run for opens, run in runs]
    starts = Counter(run[0] for run in runs if run)
    found: Counter[str] = Counter()
    for run in runs:
        for titled, part in _split_at_titles(run):
            name = _name_in(part, titled, starts, lower)
            if name:
                found[name] += 1
    return found


def _opens_sentence(text: str, at: int, run: str) -> bool:
    """Whether the run at `at` starts a sentence, a line or a dateline (a title there is still a title)."""
    return run.split()[0].lower() not in _TITLES and bool(_OPENS.search(text[max(0, at - 20):at]))


def _split_at_titles(run: list[str]) -> list[tuple[bool, list[str]]]:
    """The parts of a run between its title words, each with whether a title stands before it."""
    parts: list[tuple[bool, list[str]]] = [(False, [])]
    for word in run:
        if word.lower() in _TITLES:
            parts.append((True, []))
        else:
            parts[-1][1].append(word)
    return [(titled, part) for titled, part in parts if part]


def _name_in(part: list[str], titled: bool, starts: Counter[str], lower: set[str]) -> str | None:
    """The name a part of a run holds, or None (see `names`)."""
    if any(w.count("-") >= 2 for w in part):
        return None  # a URL slug: "Ahok-tunggu-janji-Anies"
    kept = [w for w in part if w.lower() not in _COMMON and not DATE.fullmatch(w)]
    if titled and len(kept) > 2:
        begins = [i for i in range(1, len(kept)) if kept[i] in starts]
        kept = kept[begins[-1]:] if begins and len(kept) - begins[-1] <= 3 else []  # a person's name: 1-3 words
    if len(kept) == 1 and kept[0].lower() in lower:
        return None  # "Ledakan", "Tahun": a common word opening a sentence the pattern did not see
    name = " ".join(kept)
    return name if len(name) > 2 else None


def suggest_follow_ups(answer: Answer, article_text: str, asked: str, limit: int = 3) -> list[str]:
    """Up to `limit` follow-up questions about names in the cited article that `asked` (the
    conversation's questions so far) does not mention, each about another name (not "Amran"
    and then "Amran Sulaiman"), none about the outlet; none for an abstention.

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
    outlet = (answer.citations[0].source or "").casefold()  # "CNN Indonesia" in its own dateline
    fresh: list[str] = []
    for name, _ in names(article_text).most_common():
        if len(fresh) < limit and name.casefold() != outlet and not known & set(words(name)):
            fresh.append(name)
            known |= set(words(name))  # "Amran", then not "Amran Sulaiman" too
    template = TEMPLATES.get(answer.language, TEMPLATES["en"])
    return [template.format(name=name) for name in fresh]
