"""Query latency, side by side in one run: search only, full answers with the reader's short
answer (precision as chosen at load, and fp32 forced), the previous answer path (quotes only,
no reader), and the plain LangChain pipeline's retrieval, on the same questions, single-threaded.

    .venv/bin/python benchmarks/bench_query.py [--questions 200] [--rounds 3]

Rounds are interleaved (each round runs every system over the questions), so background load
hits all systems alike; the table shows medians over all calls, p95, and questions/s of one
process. Needs the cached `rag eval` index and the LangChain vectors of bench_quality.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_quality import embedder_variant, langchain_pipeline  # noqa: E402
from shared_data import NEWS_QA, require  # noqa: E402

from rag.answer import Assistant  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.embeddings import embedder_for  # noqa: E402
from rag.evaluate import eval_index_dir, load_questions, percentile  # noqa: E402
from rag.reader import Reader  # noqa: E402
from rag.retriever import Retriever  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", type=int, default=10, help="passages retrieved per question, the same for every row")
    args = parser.parse_args()
    require(NEWS_QA / "questions-dev.jsonl", NEWS_QA / "corpus")
    questions = [q.question for q in load_questions(NEWS_QA / "questions-dev.jsonl", "valid")][: args.questions]
    corpus = NEWS_QA / "corpus"
    settings = get_settings(corpus_dir=corpus)
    settings = settings.model_copy(update={"index_dir": eval_index_dir(corpus, settings)})
    embedder = embedder_for(settings)
    langchain_search, _ = langchain_pipeline(load_corpus(corpus).articles, embedder, args.k)  # the same model variant
    variant = embedder_variant(embedder)

    import torch

    torch.set_num_threads(1)
    retriever = Retriever(settings.index_dir, embedder, settings)
    assistant = Assistant(retriever, settings)
    exact = Assistant(retriever, settings, reader=Reader(precision="fp32", embedder=embedder))
    previous = Assistant(retriever, settings.model_copy(update={"reader": False}))
    if assistant.reader is None:
        sys.exit("error: the reader did not load (see the log line above); this benchmark compares it")
    systems = {
        f"search only (this project, k={args.k}, e5 {variant})": lambda q: assistant.retriever.search(q, args.k),
        f"answer with the reader's short answer (k={args.k}, reader {assistant.reader.precision})": lambda q: assistant.answer(q, k=args.k),
        f"answer with the reader's short answer (k={args.k}, reader fp32)": lambda q: exact.answer(q, k=args.k),
        f"previous answer path: quotes only, no reader (k={args.k})": lambda q: previous.answer(q, k=args.k),
        f"LangChain retrieval (FAISS flat, 1000/200 chunks, k={args.k}, e5 {variant})": langchain_search,
    }
    timings: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(args.rounds):
        for name, run in systems.items():
            for question in questions:
                start = time.perf_counter()
                run(question)
                timings[name].append(time.perf_counter() - start)
    print(f"\n{len(questions)} valid questions x {args.rounds} rounds, 1 thread\n")
    print("| system | p50 ms | p95 ms | questions/s |\n| --- | --- | --- | --- |")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values) * 1000:.1f} | {percentile(values, 0.95) * 1000:.1f} | "
              f"{len(values) / sum(values):.1f} |")


if __name__ == "__main__":
    main()
