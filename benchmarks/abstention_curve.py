"""What each abstention threshold would give on your questions: right answers, wrong ones, abstentions.

Why: the reader's thresholds (`RAG_MIN_ANSWER_PROBABILITY`, and across languages
`RAG_MIN_ANSWER_PROBABILITY_CROSS_LINGUAL`) were set on the project's train questions for at
most 4% false abstention. An archive whose users would rather see "no answer" than a wrong one
(or the other way round) can choose its own from its own questions: ask them once with both
thresholds at 0, keep the details, and read here what every threshold would have done: an
answer is given exactly when its probability (`confidence`) reaches the threshold.

    RAG_MIN_ANSWER_PROBABILITY=0 RAG_MIN_ANSWER_PROBABILITY_CROSS_LINGUAL=0 \\
        .venv/bin/python -m rag eval my-questions.jsonl --corpus my-corpus --leave-gold-out --details all.jsonl
    .venv/bin/python benchmarks/abstention_curve.py all.jsonl

"Right" is an answer whose first quote holds a gold answer (for a leave-gold-out twin, another
article that holds it); "wrong" any other answer, an unanswerable question's included.
"False abstention" and "abstention where it should" are the `rag eval` rows of the same names.
Choose on train questions, then measure the choice on others.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

THRESHOLDS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7)


def asked(details: list[dict]) -> list[tuple[dict, bool]]:
    """Every answer the details hold, with whether its question had an answer in the archive: each
    question's own, and its leave-gold-out twin's (never answerable)."""
    answers = [(row, row["answerable"]) for row in details]
    return answers + [(row["leave_gold_out"], False) for row in details if row.get("leave_gold_out")]


def probability(answer: dict) -> float:
    """The probability the answer was given with; -1 when none was (it abstained even at 0)."""
    return -1.0 if answer["abstained"] or answer["confidence"] is None else answer["confidence"]


def curve(details: list[dict], thresholds: tuple[float, ...] = THRESHOLDS) -> list[dict]:
    """One row per threshold: right, wrong and abstained answers (counts over everything asked), false
    abstention (share of the answerable questions) and abstention where it should (share of the
    unanswerable ones and leave-gold-out twins).

    Example::

        rows = curve([json.loads(line) for line in open("all.jsonl")])
        rows[0]   # {'threshold': 0.0, 'right': 301, 'wrong': 321, 'abstained': 0, 'false abstention': 0.0, ...}
    """
    answers = asked(details)
    answerable = [answer for answer, can in answers if can]
    unanswerable = [answer for answer, can in answers if not can]
    rows = []
    for threshold in thresholds:
        given = [(answer, can) for answer, can in answers if probability(answer) >= threshold]
        right = sum(answer["first_quote_holds_answer"] for answer, _ in given)  # never for an unanswerable question
        rows.append({
            "threshold": threshold, "right": right, "wrong": len(given) - right, "abstained": len(answers) - len(given),
            "false abstention": sum(probability(a) < threshold for a in answerable) / max(len(answerable), 1),
            "abstention where it should": sum(probability(a) < threshold for a in unanswerable) / max(len(unanswerable), 1),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("details", type=Path, help="the file `rag eval --details` wrote, run with both thresholds at 0")
    args = parser.parse_args()
    try:
        details = [json.loads(line) for line in args.details.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        sys.exit(f"error: {args.details}: {error} (give the file `rag eval --details FILE` wrote)")
    if any("variant" in row for row in details):
        sys.exit(f"error: {args.details} holds several variants (--compare-reader); run rag eval without it")
    given = [answer for answer, _ in asked(details) if not answer["abstained"]]
    if given and all(answer["confidence"] is None for answer in given):  # read as "false abstention 1.000" everywhere
        sys.exit(f"error: {args.details} holds no answer's probability: it comes from a run without the reader "
                 "(RAG_READER=0); run rag eval with the reader, both thresholds at 0")
    rows = curve(details)
    print(f"{len(details)} questions, {len(asked(details))} answers asked for (leave-gold-out twins included)")
    print("| threshold | right | wrong | abstained | false abstention | abstention where it should |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['threshold']:.2f} | {row['right']} | {row['wrong']} | {row['abstained']} | "
              f"{row['false abstention']:.3f} | {row['abstention where it should']:.3f} |")


if __name__ == "__main__":
    main()
