"""Answers as plain text to keep: what `rag ask` prints, and the conversation the page downloads.

Why: a researcher or an archivist keeps what the archive said in their own notes, and a quote is
worth keeping only with where it stands. Each answer is written with its sources under it: title,
outlet, date and address, and every quoted sentence with its character offsets in the article
(and its page in a PDF), so that the sentence can be found again without the app. One function
writes an answer for the command line and for the page, in the page's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rag.answer import Answer
from rag.ui_text import LABELS, format_date

def answer_text(answer: Answer, language: str = "en") -> str:
    """The answer and its notice (an LLM that could not be reached, as the page says it), then
    (unless it abstains) how sure the reader is and each source with the sentences quoted from it.

    Args:
        answer: an `Answer` (`Assistant.answer`).
        language: 'id' or 'en': the words around the answer (the answer and the quotes are as
            they are).

    Returns:
        Plain text, lines ending in newlines.

    Example::

        print(answer_text(assistant.answer("Siapa juru bicara Kremlin?")))
        # Menurut arsip: Dmitry Peskov
        # Juru bicara Kremlin Dmitry Peskov mengatakan ... [1]
        #
        # confidence 0.91 (confident)
        # [1] Rusia Lontarkan Serangkaian Ancaman ... — Al Jazeera · 2023-07-11 · https://...
        #     “Juru bicara Kremlin Dmitry Peskov mengatakan ...” (chars 1523–1650)
    """
    labels = LABELS[language]
    lines = [answer.text] + ([f"({answer.notice})"] if answer.notice else [])  # how it was made: "LLM unavailable; ..."
    if not answer.abstained:
        lines.append("")
        if answer.sureness:  # the reader's probability that the article answers, labelled as the page labels it
            lines.append(f"{labels['kept_confidence']} {answer.confidence:.2f} ({labels[answer.sureness]})")
        for source in answer.sources:
            meta = " · ".join(str(x) for x in (source.source, source.published, source.url) if x)
            lines.append(f"[{source.n}] {source.title}" + (f" — {meta}" if meta else ""))
            if source.also_in:
                copies = (" ".join(str(x) for x in (copy["source"] or copy["title"], copy["published"]) if x) for copy in source.also_in)
                lines.append(f"    {labels['also_in']}: {', '.join(copies)}")
            for citation in answer.citations:
                if citation.n == source.n:
                    page = labels["page"].format(n=citation.page) + ", " if citation.page else ""
                    lines.append(f"    “{citation.sentence}” ({page}{labels['kept_chars']} {citation.start}–{citation.end})")
    return "\n".join(lines) + "\n"


def conversation_text(turns: Sequence[tuple[str, Answer]], language: str, when: dt.datetime | None = None) -> str:
    """A conversation to keep: a heading with its date, then each question and its
    `answer_text`, numbered as the page numbers them.

    Args:
        turns: (question, answer) pairs in the order they were asked.
        language: 'id' or 'en'.
        when: the time in the heading (default now).

    Returns:
        Plain text.

    Example::

        conversation_text([("Siapa juru bicara Kremlin?", answer)], "id").splitlines()[:3]
        # ['Arsip Berita: percakapan, 4 Desember 2026 16:30', '', '1. Siapa juru bicara Kremlin?']
    """
    when = when or dt.datetime.now()
    parts = [f"{LABELS[language]['kept_title']}, {format_date(when.date().isoformat(), language)} {when:%H:%M}\n"]
    for number, (question, answer) in enumerate(turns, 1):
        parts.append(f"{number}. {question}\n\n{answer_text(answer, language)}")
    return "\n".join(parts)
