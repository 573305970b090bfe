"""Tune retrieval fusion weights and calibrate abstention on the train split (never on valid).

    .venv/bin/python benchmarks/tune_on_train.py [--questions N]

Fusion: recall@1 and MRR@10 of train questions for a grid of BM25 shares (the rest is dense).
Abstention: for each train question it records the evidence strength (best sentence coverage, best
passage dense score) once with the gold articles in the index and once with them filtered
out, then grid-searches `RAG_MIN_COVERAGE` / `RAG_MIN_DENSE_SCORE` for the most
leave-gold-out abstentions while abstaining on at most 10% of the answerable questions.
With `--reader`: calibrates the reader's confidence. Each train question is answered as the
product answers it (the reader picks the short answer in the chosen article); a logistic
regression of "the short answer is right" (token F1 >= 0.5 against a gold answer) on the
reader's margin gives `RAG_READER_CALIBRATION`.
Report the result on the valid split with `make eval`, never on the questions tuned on.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import Assistant, score_sentences  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.embeddings import embedder_for  # noqa: E402
from rag.evaluate import eval_index_dir, load_questions, recall_at, reciprocal_rank, token_f1  # noqa: E402
from rag.retriever import Filters, Retriever  # noqa: E402
from shared_data import NEWS_QA, require  # noqa: E402


def evidence(assistant: Assistant, question: str, filters: Filters | None) -> tuple[float, float]:
    hits = assistant.retriever.search(question, 10, filters)
    ranked = score_sentences(question, hits)
    coverage = ranked[0].coverage if ranked else 0.0
    dense = max((h.dense_score or 0.0) for h in hits) if hits else 0.0
    return coverage, dense


def tune_fusion(assistant: Assistant, questions) -> None:
    print("| lexical share | R@1 | R@5 | MRR@10 |\n| --- | --- | --- | --- |")
    for weight in (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        assistant.retriever.settings = assistant.settings.model_copy(update={"lexical_weight": weight})
        ranked = [[h.article.id for h in assistant.retriever.search(q.question, 10)] for q in questions]
        r1 = sum(recall_at(r, q.gold_docs, 1) for r, q in zip(ranked, questions)) / len(questions)
        r5 = sum(recall_at(r, q.gold_docs, 5) for r, q in zip(ranked, questions)) / len(questions)
        mrr = sum(reciprocal_rank(r, q.gold_docs) for r, q in zip(ranked, questions)) / len(questions)
        print(f"| {weight} | {r1:.3f} | {r5:.3f} | {mrr:.3f} |")
    assistant.retriever.settings = assistant.settings


def calibrate_reader(assistant: Assistant, questions) -> None:
    """Fit P(short answer right | reader margin) on train questions (Platt scaling), answering
    each exactly as the product does."""
    from sklearn.linear_model import LogisticRegression

    reading = Assistant(assistant.retriever, assistant.settings.model_copy(update={"reader": True}))
    margins, right = [], []
    for q in questions:
        answer = reading.answer(q.question, llm=False)
        if answer.short_answer is not None:
            margins.append([answer.margin])
            right.append(token_f1(answer.short_answer, q.answers) >= 0.5)
    if not reading.reader or len(set(right)) < 2:
        sys.exit("error: no usable short answers: the reader did not load (see the log line above) or marked nothing")
    model = LogisticRegression().fit(margins, right)
    calibration = [round(float(model.coef_[0][0]), 3), round(float(model.intercept_[0]), 3)]
    print(f"{len(margins)} short answers on train questions, {sum(right) / len(right):.3f} right (F1 >= 0.5)")
    print(f"| RAG_READER_CALIBRATION |\n| --- |\n| {calibration} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--reader", action="store_true", help="calibrate the reader's confidence instead")
    args = parser.parse_args()
    require(NEWS_QA / "questions-dev.jsonl", NEWS_QA / "corpus")
    questions = load_questions(NEWS_QA / "questions-dev.jsonl", "train")
    random.Random(0).shuffle(questions)
    questions = questions[: args.questions]
    corpus = NEWS_QA / "corpus"
    settings = get_settings(corpus_dir=corpus)
    settings = settings.model_copy(update={"index_dir": eval_index_dir(corpus, settings)})
    assistant = Assistant(Retriever(settings.index_dir, embedder_for(settings, threads=1), settings),
                          settings.model_copy(update={"reader": False}))
    if args.reader:
        return calibrate_reader(assistant, questions)
    tune_fusion(assistant, questions)
    with_gold = [evidence(assistant, q.question, None) for q in questions]
    without = [evidence(assistant, q.question, Filters(exclude_articles=q.gold_docs)) for q in questions]

    best = None
    for coverage_step in range(0, 101, 2):
        for dense_step in range(70, 96):
            min_coverage, min_dense = coverage_step / 100, dense_step / 100
            def abstains(c: float, d: float) -> bool:
                return c < min_coverage and d < min_dense
            false_rate = sum(abstains(*e) for e in with_gold) / len(with_gold)
            true_rate = sum(abstains(*e) for e in without) / len(without)
            if false_rate <= 0.10 and (best is None or true_rate > best[0]):
                best = (true_rate, false_rate, min_coverage, min_dense)
    print("| leave-gold-out abstention | false abstention | RAG_MIN_COVERAGE | RAG_MIN_DENSE_SCORE |")
    print("| --- | --- | --- | --- |")
    print("| {:.3f} | {:.3f} | {:.2f} | {:.2f} |".format(*best))


if __name__ == "__main__":
    main()
