"""The dense side of a generation: chunk vectors in FAISS, searched exactly up to a size and
through an inverted file beyond it.

Why: exact (flat) search reads every vector for every question. That is right for a newsroom
desk (11,237 chunks: under a millisecond) but at a million chunks it reads 1.5 GB per question
and every process holds all of it. Beyond `RAG_EXACT_SEARCH_MAX_CHUNKS` the vectors go into an
IVF-Flat index: k-means cells over the vectors, and a question scans only the `RAG_IVF_NPROBE`
cells nearest to it. It keeps the exact vectors (scores are true cosines, and the passage
choice within an article still reads them), adds and removes by chunk id as incremental builds
need, and FAISS memory-maps it, so a server maps the file instead of loading it.
`benchmarks/bench_scale.py` measures it against exact search and HNSW at 100k and 1M chunks;
HNSW cannot remove vectors, so every incremental build would rebuild its graph.

Which kind a generation holds is recorded in its manifest (`vector_index`: "flat" or "ivf<N>").
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

TRAINING_POINTS_PER_CELL = 40  # k-means wants ~39 points per cell; more only slows training


def empty(dimension: int) -> faiss.Index:
    """A new exact index keyed by chunk id.

    Example::

        index = empty(384)
        index.add_with_ids(np.eye(384, dtype=np.float32)[:2], np.array([7, 9]))
    """
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def kind(index: faiss.Index) -> str:
    """'flat', or 'ivf<cells>' for an inverted-file index (what the manifest records)."""
    return f"ivf{index.nlist}" if isinstance(index, faiss.IndexIVF) else "flat"


def cells_for(count: int) -> int:
    """k-means cells for `count` vectors: the power of two nearest 4·√count (FAISS's rule of thumb)."""
    return 2 ** max(4, round(math.log2(4 * math.sqrt(max(count, 1)))))


def cells_to_scan(nprobe: int, cells: int, allowed: int | None, total: int) -> int:
    """IVF cells to scan: `nprobe`, widened to nprobe/s when a filter leaves a share s of the
    `total` vectors (`allowed` of them), so a narrow filter still finds about as many candidates.

    Example::

        cells_to_scan(128, 4096, allowed=None, total=10**6)      # 128
        cells_to_scan(128, 4096, allowed=10**5, total=10**6)     # 1280
    """
    if allowed is None or total <= 0:
        return min(nprobe, cells)
    share = allowed / total
    return cells if share == 0 else min(cells, math.ceil(nprobe / min(1.0, share)))


def fit(index: faiss.Index, exact_up_to: int) -> faiss.Index:
    """The index to save for the vectors `index` now holds.

    A flat index that has grown past `exact_up_to` becomes IVF; an IVF index is trained again
    when it has grown to twice the cells its size calls for, and goes back to flat below half
    the threshold (so a corpus near the threshold does not flip at every build).

    Args:
        index: the generation's vectors after this build's additions and removals.
        exact_up_to: the most vectors searched exactly (`RAG_EXACT_SEARCH_MAX_CHUNKS`).

    Returns:
        `index` itself when its kind still fits, else a new index holding the same vectors and ids.
    """
    count = index.ntotal
    if isinstance(index, faiss.IndexIVF):
        if count < exact_up_to // 2:
            ids, vectors = contents(index)
            flat = empty(index.d)
            flat.add_with_ids(vectors, ids)
            return flat
        return index if cells_for(count) < 2 * index.nlist else _inverted_file(*contents(index))
    return _inverted_file(*contents(index)) if count > exact_up_to else index


def _inverted_file(ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """IVF-Flat over `vectors` (inner product), trained on an even sample, with a hash-table map from
    chunk id to position so vectors can be read back and removed by id."""
    cells = cells_for(len(ids))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1], cells, faiss.METRIC_INNER_PRODUCT)
    step = max(1, len(ids) // (cells * TRAINING_POINTS_PER_CELL))
    index.train(np.ascontiguousarray(vectors[::step]))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    for start in range(0, len(ids), 100_000):  # in slices: the copy FAISS makes stays small
        index.add_with_ids(np.ascontiguousarray(vectors[start : start + 100_000]), ids[start : start + 100_000])
    return index


def contents(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids, vectors) of every vector in a flat or IVF-Flat index, in storage order."""
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        ids, codes = [], []
        for cell in range(index.nlist):
            size = lists.list_size(cell)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(cell), size).copy())
                codes.append(faiss.rev_swig_ptr(lists.get_codes(cell), size * index.code_size).copy())
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids), np.concatenate(codes).view(np.float32).reshape(-1, index.d)
    return faiss.vector_to_array(index.id_map).astype(np.int64), index.index.reconstruct_n(0, index.ntotal)


class FaissVectors:
    """One generation's vectors in `vectors.faiss`: what the writer adds and removes, what a store searches.

    Example::

        vectors = FaissVectors()
        vectors.add(article, [1, 2], matrix)        # chunk ids from the generation's SQLite rows
        kind = vectors.save(folder, exact_up_to=200_000)
        FaissVectors.open(folder).search(query_vector, 10, None, None, nprobe=32)
    """

    FILE = "vectors.faiss"
    store = "faiss"

    def __init__(self, index: faiss.Index | None = None):
        self.index = index  # created on the first add, when the dimension is known

    @classmethod
    def open(cls, folder: Path, writable: bool = False) -> FaissVectors:
        """A saved generation's vectors: read-only and memory-mapped for searching (pages are read
        as they are searched and shared between processes); loaded whole and changeable when
        `writable`, as the start of the next generation."""
        path = folder / cls.FILE
        if writable:
            return cls(faiss.read_index(str(path)))
        with open(path, "rb") as handle:
            inverted_file = handle.read(4) == b"IwFl"  # IndexIVFFlat's tag in FAISS's format
        # FAISS maps an IVF's lists with IO_FLAG_MMAP, a flat index's vectors with IO_FLAG_MMAP_IFC
        # (IO_FLAG_MMAP copies those); the two flags together fail on IVF
        mapping = faiss.IO_FLAG_MMAP if inverted_file else faiss.IO_FLAG_MMAP_IFC
        return cls(faiss.read_index(str(path), mapping | faiss.IO_FLAG_READ_ONLY))

    @property
    def count(self) -> int:
        return self.index.ntotal if self.index is not None else 0

    @property
    def kind(self) -> str:
        return kind(self.index) if self.index is not None else "flat"

    def add(self, article, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Add one article's chunk vectors under their chunk ids."""
        if self.index is None:
            self.index = empty(vectors.shape[1])
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(chunk_ids, dtype=np.int64))

    def remove(self, chunk_ids: list[int]) -> None:
        """Drop the vectors of these chunk ids (ids it does not hold are ignored)."""
        if self.index is not None and chunk_ids:
            self.index.remove_ids(np.asarray(chunk_ids, dtype=np.int64))

    def save(self, folder: Path, dimension: int, exact_up_to: int) -> str:
        """Write the index of the kind its size calls for (`fit`) into `folder`; returns the kind.
        FAISS reports a failed write (a full disk) as RuntimeError; it is raised as the OSError it is."""
        self.index = fit(self.index if self.index is not None else empty(dimension), exact_up_to)
        try:
            faiss.write_index(self.index, str(folder / self.FILE))
        except RuntimeError as error:
            raise OSError(f"could not write {self.FILE}: {str(error).rsplit(': ', 1)[-1]}") from error
        return self.kind

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None, filters, nprobe: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids and their cosines, only among `allowed` ids when given
        (`filters` is what `allowed` was selected by; FAISS needs only the ids).

        On IVF, a filter that leaves a share s of the vectors scans nprobe/s cells (up to all), so
        a narrow filter still finds about as many candidates as an unfiltered search.
        """
        index = self.index
        k = min(k, index.ntotal)
        if k <= 0:
            return []
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
        if isinstance(index, faiss.IndexIVF):
            cells = cells_to_scan(nprobe, index.nlist, len(allowed) if allowed is not None else None, index.ntotal)
            params = faiss.SearchParametersIVF(sel=selector, nprobe=cells)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vectors_of(self, chunk_ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunks, in the order given."""
        return self.index.reconstruct_batch(np.asarray(chunk_ids, dtype=np.int64))

    def went_live(self) -> None:
        """Nothing to do: CURRENT names the generation folder that holds the file."""

    def abort(self) -> None:
        """Nothing to undo: the file lives in the staging folder, which is removed."""



def open_vectors(folder: Path):
    """A saved generation's vectors, for searching, in whichever store it names: `vectors.faiss`
    or Milvus (`rag.milvus_vectors`)."""
    from rag.milvus_vectors import FILE, MilvusVectors

    return MilvusVectors.open(folder) if (folder / FILE).exists() else FaissVectors.open(folder)


def drop(folder: Path) -> None:
    """Release what a pruned generation holds outside its folder (a Milvus collection)."""
    from rag.milvus_vectors import FILE, MilvusVectors

    if (folder / FILE).exists():
        MilvusVectors.drop(folder)
