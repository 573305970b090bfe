"""What a generation of the index was built with, and the refusal to open it with anything else.

Vectors of another model, of the same model in another precision (int8/fp32), or chunks of
another size would silently give wrong results, so opening such an index is a clear error that
says what to set or how to rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.embeddings import vector_family

FORMAT_VERSION = 5  # 3: the embedder variant (int8/fp32) is a field of its own; 4: near-duplicate groups; 5: BM25 keeps acronyms such as AS


class IndexProblem(RuntimeError):
    """An index problem the user must act on; the message says what to do."""


class IndexMismatch(IndexProblem):
    """The index was built differently from what would read or update it."""


@dataclass(frozen=True)
class Manifest:
    """What a generation was built with; opening it with anything else is refused.

    `embedder_variant` is the precision the vectors were computed in: "fp32", "bf16", "fp16" or
    the int8 variant's name (`rag.embeddings.INT8_VARIANT`); queries and new passages must be
    embedded in the same family (`rag.embeddings.vector_family`). `embedder_device` is where
    (cpu or cuda), for the record.
    """

    format_version: int
    generation: str
    model_id: str
    dimension: int
    query_prefix: str
    passage_prefix: str
    fingerprint: str
    chunk_tokens: int
    chunk_overlap: int
    articles: int
    chunks: int
    built_at: str
    embedder_variant: str = "fp32"
    embedder_device: str = "cpu"
    vector_store: str = "faiss"  # or "milvus" (rag.milvus_vectors)
    vector_index: str = "flat"  # or "ivf<cells>" past RAG_EXACT_SEARCH_MAX_CHUNKS (rag.vector_index)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        """The manifest in `path` (fields a newer version added and this one does not know are ignored)."""
        fields = json.loads(path.read_text())
        return cls(**{key: value for key, value in fields.items() if key in cls.__dataclass_fields__})

    def write(self, path: Path) -> None:
        """Write the manifest as JSON to `path`."""
        path.write_text(json.dumps(self.__dict__, indent=2))

    @property
    def current_format(self) -> bool:
        """Was the index written in the format this version reads?"""
        return self.format_version == FORMAT_VERSION

    def check_format(self) -> None:
        """Refuse to read an index written in another format (an incremental build converts it)."""
        if not self.current_format:
            raise IndexMismatch(
                f"the index ({self.generation}) has format {self.format_version}, this version reads {FORMAT_VERSION}; "
                "update it with 'python -m rag index' (it is rewritten reusing the vectors in the index's embedding cache)"
            )

    def check_compatible(self, model_id: str, fingerprint: str, family: str,
                         chunk_tokens: int | None = None, chunk_overlap: int | None = None) -> None:
        """Refuse an embedder or chunking config other than the one the index was built with;
        `family` is the embedder's vector family ('int8' or 'exact', `rag.embeddings.vector_family`)."""
        self.check_format()
        if model_id == self.model_id and family != vector_family(self.embedder_variant):
            use = "int8" if family == "exact" else "fp32 (or bf16)"
            raise IndexMismatch(
                f"the index holds {self.embedder_variant} vectors of {self.model_id}, the embedder computes "
                f"{family} ones; set RAG_EMBED_PRECISION={use} or auto to use it, or rebuild it: python -m rag index --full"
            )
        if (model_id, fingerprint) != (self.model_id, self.fingerprint):
            raise IndexMismatch(
                f"the index was built with {self.model_id} (weights {self.fingerprint[:12]}) but the "
                f"embedder is {model_id} (weights {fingerprint[:12]}); rebuild it with "
                f"'python -m rag index --full', or set RAG_EMBEDDING_MODEL={self.model_id}"
            )
        wanted = (chunk_tokens, chunk_overlap)
        if None not in wanted and wanted != (self.chunk_tokens, self.chunk_overlap):
            raise IndexMismatch(
                f"the index was chunked with {self.chunk_tokens} tokens / {self.chunk_overlap} overlap, "
                f"not {chunk_tokens} / {chunk_overlap}; rebuild it with 'python -m rag index --full'"
            )
