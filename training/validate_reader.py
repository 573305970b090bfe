"""Measure the reader on the held-out sets it was never trained on, reading the gold passage.

- FacQA valid (news): exact match and token F1 of the short answer (SQuAD definitions), and how
  often the gold answer lies inside the article sentence that holds the predicted span (what
  the chat quotes), all and on the 80 questions whose passage no train question uses.
- IDK-MRC valid (Wikipedia, half unanswerable): F1 on the answerable ones when forced to
  answer, and the share of unanswerable ones recognised (no-answer margin below the threshold).

    python training/validate_reader.py [--reader models/reader] [--precision fp32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.chunking import split_sentences  # noqa: E402
from rag.evaluate import contains_answer, exact_match, format_table, token_f1  # noqa: E402
from rag.reader import READER_DIR, Reader, Span  # noqa: E402
from rag.rerank import longest_answer  # noqa: E402
from train_reader import DATA, read_jsonl  # noqa: E402  (same folder)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence(s) of `text` that the span [start, end) touches."""
    spans = [(s, e) for s, e in split_sentences(text) if s < end and e > start] or [(start, end)]
    return text[spans[0][0] : spans[-1][1]]


def validate(reader: Reader, data: Path, threshold: float) -> dict[str, float | str]:
    facqa = read_jsonl(data / "facqa-train-valid.jsonl")
    train_contexts = {r["context"] for r in facqa if r["split"] == "train"}
    valid = [r for r in facqa if r["split"] == "valid"]
    rows: dict[str, float | str] = {"precision": reader.precision}
    scores = {"all": [], "unseen": []}
    begin = time.perf_counter()
    for row in valid:
        [found] = reader.read(row["question"], [row["context"]], max_answer_tokens=longest_answer(row["question"]))
        best = found.best or Span(0, 0, 0.0)
        predicted = row["context"][best.start : best.end]
        gold = row["answers"]["text"]
        result = (exact_match(predicted, gold), token_f1(predicted, gold),
                  contains_answer(sentence_around(row["context"], best.start, best.end), gold))
        scores["all"].append(result)
        if row["context"] not in train_contexts:
            scores["unseen"].append(result)
    rows["ms per question (facqa, one passage)"] = (time.perf_counter() - begin) * 1000 / len(valid)
    for name, results in scores.items():
        label = "FacQA valid" if name == "all" else f"FacQA valid, unseen passages ({len(results)})"
        rows[f"{label}: EM"] = sum(r[0] for r in results) / len(results)
        rows[f"{label}: F1"] = sum(r[1] for r in results) / len(results)
        rows[f"{label}: answer in quoted sentence"] = sum(r[2] for r in results) / len(results)
    idk = read_jsonl(data / "idkmrc-valid.jsonl")
    forced, recognised, answered_f1 = [], [], []
    for row in idk:
        [found] = reader.read(row["question"], [row["context"]], max_answer_tokens=longest_answer(row["question"]))
        best = found.best or Span(0, 0, 0.0)
        predicted = row["context"][best.start : best.end]
        if row["is_impossible"]:
            recognised.append(found.margin < threshold)
        else:
            forced.append(token_f1(predicted, row["answers"]["text"]))
            answered_f1.append(forced[-1] if found.margin >= threshold else 0.0)
    rows["IDK-MRC valid: F1 answerable, forced"] = sum(forced) / len(forced)
    rows[f"IDK-MRC valid: F1 answerable, margin >= {threshold:g}"] = sum(answered_f1) / len(answered_f1)
    rows[f"IDK-MRC valid: unanswerable recognised (margin < {threshold:g})"] = sum(recognised) / len(recognised)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", type=Path, default=READER_DIR)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--threshold", type=float, default=0.0, help="no-answer margin threshold")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(format_table(validate(Reader(args.reader, args.precision).load(), args.data, args.threshold)))


if __name__ == "__main__":
    main()
