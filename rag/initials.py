"""Ask the reader in the passage's own words where a name is written by its initials.

Indonesian news writes many names by their initials: "Presiden AS Joe Biden", "UGM", "PGN",
"BEJ". A question that names them in full ("Siapa presiden Amerika Serikat?") shares no word
with such a passage, and the reader, trained mostly on questions worded like their passages,
then doubts the right span: over the seed article its margin for "Joe Biden" is −3.9 asked
with "Amerika Serikat" and +1.2 asked with "AS". 28 of the 2,806 news-qa questions are read
otherwise with their gold article by the rules below (see models/README.md, Limits).
Initials are the first letters of the name's words (each part of "Bangsa-Bangsa" counts), so
no dictionary is needed: a run of capitalised words in the question whose initials stand as a
word in the passage, while the run itself does not, is read as those initials. The other way round too: initials in the question that the
passage does not have, where it has a capitalised run with those first letters.
"""

from __future__ import annotations

import re

_CAPITALISED = re.compile(r"[A-Z][\w'’]*(?:-[A-Z][\w'’]*)*")
_INITIALS = re.compile(r"\b[A-Z]{2,6}\b")
_SPELLED_OUT = re.compile(r"\b[A-Z]{3,6}\b")  # two letters stand for too many runs ("AS": "Akan Segera")
LONGEST_NAME = 6  # words; "Badan Meteorologi, Klimatologi, dan Geofisika" is not one run anyway


def initials(name: str) -> str:
    """The first letter of each word of `name`, each part of a hyphenated word counting.

    Example::

        initials("Perserikatan Bangsa-Bangsa")   # "PBB"
    """
    return "".join(part[0] for word in name.split() for part in word.split("-")).upper()


def capitalised_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each run of two or more consecutive capitalised words in `text`."""
    runs: list[tuple[int, int]] = []
    words = list(_CAPITALISED.finditer(text))
    first = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or text[words[i - 1].end() : words[i].start()] != " ":
            if i - first >= 2:
                runs.append((words[first].start(), words[i - 1].end()))
            first = i
    return runs


def _names_in(run: str) -> list[str]:
    """Every stretch of two to LONGEST_NAME words of a capitalised run, longest first."""
    parts = run.split(" ")
    return [" ".join(parts[i : i + n]) for n in range(min(len(parts), LONGEST_NAME), 1, -1)
            for i in range(len(parts) - n + 1)]


def has_word(text: str, word: str) -> bool:
    """Does `word` stand in `text` as a whole word (not inside another)?"""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def in_passage_words(question: str, passage: str) -> str:
    """`question` with a name it writes in full put as the initials `passage` writes it by, and
    initials it uses put as the name the passage writes in full; unchanged when neither applies.

    Args:
        question: what the user asked.
        passage: the text the reader is about to read with it.

    Returns:
        The question to read with this passage.

    Example::

        in_passage_words("Siapa presiden Amerika Serikat?", "Presiden AS Joe Biden mengatakan ...")
        # "Siapa presiden AS?"
    """
    asked = question
    for start, end in capitalised_runs(question):
        for name in _names_in(question[start:end]):
            short = initials(name)
            if (name in asked and not has_word(asked, short) and not has_word(passage, name)
                    and has_word(passage, short)):
                asked = asked.replace(name, short)
                break
    for short in set(_SPELLED_OUT.findall(question)) - acronyms(passage):
        name = spelled_out(short, passage)
        if name is not None:
            asked = re.sub(rf"(?<!\w){short}(?!\w)", name, asked)
    return asked


def acronyms(text: str) -> set[str]:
    """The words of two to six capitals in `text` ("AS", "PBB", "WHO")."""
    return set(_INITIALS.findall(text))


def spelled_out(short: str, passage: str) -> str | None:
    """The stretch of a capitalised run of `passage` whose initials are `short`, if any.

    Example::

        spelled_out("AS", "Presiden Amerika Serikat Joe Biden")   # "Amerika Serikat"
    """
    for start, end in capitalised_runs(passage):
        name = next((n for n in _names_in(passage[start:end]) if initials(n) == short), None)
        if name is not None:
            return name
    return None
