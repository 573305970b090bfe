"""Resident memory of an answering process, with and without the reader, side by side.

    .venv/bin/python benchmarks/bench_memory.py [--questions 100]

Each variant runs in a fresh process (as the server does: glibc arenas capped, one query thread)
over the cached `rag eval` index of the news-qa corpus, answers the first N valid questions and
reports VmRSS and its peak (VmHWM) from /proc/self/status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared_data import NEWS_QA, require  # noqa: E402


def measure(reader: bool, questions: int) -> str:
    """Run in this process: answer `questions` questions, return 'VmRSS VmHWM' in MiB."""
    from rag.embeddings import tune_memory_allocator

    tune_memory_allocator()
    from rag.answer import Assistant
    from rag.config import get_settings
    from rag.embeddings import embedder_for, set_threads
    from rag.evaluate import eval_index_dir, load_questions
    from rag.retriever import Retriever

    corpus = NEWS_QA / "corpus"
    settings = get_settings(corpus_dir=corpus, reader=reader)
    settings = settings.model_copy(update={"index_dir": eval_index_dir(corpus, settings)})
    embedder = embedder_for(settings)
    set_threads(1)
    assistant = Assistant(Retriever(settings.index_dir, embedder, settings), settings)
    for question in load_questions(NEWS_QA / "questions-dev.jsonl", "valid")[:questions]:
        assistant.answer(question.question)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return f"{assistant.answer_path} {int(status['VmRSS'].split()[0]) / 1024:.0f} {int(status['VmHWM'].split()[0]) / 1024:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--child", choices=("reader", "quotes"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(measure(args.child == "reader", args.questions))
        return
    require(NEWS_QA / "questions-dev.jsonl", NEWS_QA / "corpus")
    print(f"\n| answer path | RSS after {args.questions} questions, MiB | peak RSS, MiB |\n| --- | --- | --- |")
    for child in ("reader", "quotes"):
        out = subprocess.run([sys.executable, __file__, "--child", child, "--questions", str(args.questions)],
                             capture_output=True, text=True, check=True).stdout.split()[-3:]
        path = "with the reader" if child == "reader" else "quotes only (RAG_READER=0)"
        print(f"| {path} | {out[1]} | {out[2]} |")


if __name__ == "__main__":
    main()
