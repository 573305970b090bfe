"""The dense side of a generation in Milvus instead of a FAISS file (`RAG_VECTOR_STORE=milvus`).

Why: past one machine's memory and disk, the vectors move to a Milvus cluster while the rest of
the pipeline stays as it is. `RAG_MILVUS_URI` names it: a local path (default
`<index>/milvus.db`) runs Milvus Lite, embedded in the process; `http://host:19530` talks to
Milvus standalone or a cluster with the same code.

How generations map onto Milvus: each generation's vectors are one collection, named in the
generation's `vectors.milvus.json`. A build copies the live collection's rows into a new
collection, applies its additions and removals there, and only after CURRENT names the new
generation moves the alias `<prefix>_live` to it, so a reader, whether it follows CURRENT or the
alias, sees one whole generation or the one before. A killed build leaves a collection that no
generation names; the next build drops it. Each vector carries its article id, source
(lower-cased) and date, so date and source filters are Milvus scalar filters.

The lexical side (BM25) stays in the generation folder: Milvus's BM25 analyzers have no
Indonesian stemming or stopwords, which the project's BM25 needs ("mengungsi" meets "pengungsi").
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from pathlib import Path

import numpy as np

from rag.config import get_settings
from rag.manifest import IndexProblem
from rag.retriever import Filters
from rag.vector_index import cells_for, cells_to_scan

FILE = "vectors.milvus.json"
ALIAS = "live"
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()
MILVUS_MAX_LIMIT = 16_384  # the most hits one Milvus search returns
MILVUS_IDS_SENT = 4_096  # chunk ids a phrase's search sends at most (milvus-io/milvus#15513: slow past that)


def _quote(text: str) -> str:
    """A JSON string without \\u escapes, which Milvus Lite's parser refuses."""
    return json.dumps(text, ensure_ascii=False)


def filter_expression(filters: Filters) -> str:
    """`filters` as a Milvus scalar filter over the fields stored with each vector ('' when
    nothing is filtered): the same restriction as `Filters.where` over the article table, but for
    phrases, which need the text (`MilvusVectors.search` sends their chunk ids instead).

    Example::

        filter_expression(Filters(sources=("Kompas",)))   # 'source in ["kompas"]'
    """
    clauses = []
    if filters.since:
        clauses.append(f"published >= {_quote(filters.since.isoformat())}")
    if filters.until:
        clauses.append(f'published <= {_quote(filters.until.isoformat())} and published != ""')
    if filters.sources:
        clauses.append(f"source in [{', '.join(_quote(s.lower()) for s in filters.sources)}]")
    if filters.exclude_articles:
        clauses.append(f"article_id not in [{', '.join(_quote(a) for a in sorted(filters.exclude_articles))}]")
    return " and ".join(clauses)


def client(uri: str):
    """One Milvus client per URI and process (a Milvus Lite file is opened once)."""
    with _clients_lock:
        if uri not in _clients:
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise IndexProblem("RAG_VECTOR_STORE=milvus needs pymilvus and milvus-lite: "
                                   "pip install -r requirements-scale.txt") from None
            logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its per-iterator timestamp warnings are noise
            # Milvus Lite's embedded gRPC adapter lacks AllocTimestamp; pymilvus falls back to a client-side
            # timestamp, but grpc prints the refused call as a traceback on every build
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            try:
                _clients[uri] = MilvusClient(uri)
            except Exception as error:
                local = "://" not in uri
                raise IndexProblem(
                    f"cannot open Milvus at {uri} ({error})" + (
                        "; a Milvus Lite file is used by one process at a time: stop the other one (the app, or a "
                        f"build), or share it through a server: milvus-lite server --data-dir {uri} --port 19530, "
                        "then RAG_MILVUS_URI=http://127.0.0.1:19530" if local else "; is the server running and reachable?")
                ) from error
        return _clients[uri]


def _folder_tag(generations: Path) -> str:
    """A short tag of the index folder, in its collections' names, so indexes sharing a server and
    a prefix never drop each other's collections."""
    return hashlib.sha256(str(generations.resolve().parent).encode()).hexdigest()[:8]


def milvus_uri(settings) -> str:
    """`RAG_MILVUS_URI`, or Milvus Lite in the index folder."""
    return settings.milvus_uri or str(Path(settings.index_dir).resolve() / "milvus.db")


class MilvusVectors:
    """One generation's vectors in a Milvus collection, with the FAISS store's operations.

    Args:
        uri: Milvus Lite file path or server URL.
        collection: the collection holding this generation's vectors.
        prefix: the collections' common prefix (`RAG_MILVUS_COLLECTION`); the alias is `<prefix>_live`.

    Example::

        vectors = MilvusVectors.start("index/milvus.db", "rag", previous=None, generations=Path("index/generations"))
        vectors.add(article, [1, 2], matrix)
        vectors.save(staging_folder, dimension=384, exact_up_to=200_000)
        MilvusVectors.open(generation_folder).search(query_vector, 10, None, Filters(sources=("cnn",)), nprobe=32)
    """

    store = "milvus"

    INSERT_BATCH = 2000  # rows per insert call: one round trip per article would dominate a large build

    def __init__(self, uri: str, collection: str, prefix: str, kind: str = "flat", count: int | None = None):
        self.uri, self.collection, self.prefix = uri, collection, prefix
        self.kind, self._saved_count = kind, count  # a saved generation's, read from its folder (it never changes)
        self.client = client(uri)
        self._pending: list[dict] = []  # rows added but not yet sent
        self._created = False

    # -- a generation being written
    @classmethod
    def start(cls, uri: str, prefix: str, previous: Path | None, generations: Path) -> MilvusVectors:
        """A new collection for the next generation, holding a copy of the previous one's rows
        (`generations`: the folder of generation folders, to find collections no one names)."""
        vectors = cls(uri, f"{prefix}_{_folder_tag(generations)}_gen_{time.time_ns()}", prefix)
        vectors._drop_unnamed(generations)
        if previous is not None:
            source = cls.open(previous)
            rows = source.client.query_iterator(source.collection, batch_size=2000,
                                                output_fields=["vector", "article_id", "source", "published"])
            while batch := rows.next():
                vectors._insert(batch)
            rows.close()
        return vectors

    def _drop_unnamed(self, generations: Path) -> None:
        """Drop collections of killed builds: made for this index folder (its tag is in their
        name), but named by none of its generations. Other indexes' collections are never touched."""
        named = {json.loads((folder / FILE).read_text())["collection"] for folder in generations.glob("gen-*") if (folder / FILE).exists()}
        ours = rf"{re.escape(self.prefix)}_{_folder_tag(generations)}_gen_\d+"
        for name in self.client.list_collections():
            if re.fullmatch(ours, name) and name not in named:
                self.client.drop_collection(name)

    def _ensure_collection(self, dimension: int) -> None:
        if self._created:
            return
        self._created = True
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("article_id", DataType.VARCHAR, max_length=2048)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("published", DataType.VARCHAR, max_length=10)
        self.client.create_collection(self.collection, schema=schema)  # no index yet, so not loaded: `save` indexes it

    def _insert(self, rows: list[dict]) -> None:
        if rows:
            self._ensure_collection(len(rows[0]["vector"]))
            self.client.insert(self.collection, [{key: row[key] for key in ("id", "vector", "article_id", "source", "published")}
                                                 for row in rows])

    def _send_pending(self) -> None:
        self._insert(self._pending)
        self._pending = []

    def add(self, article, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Add one article's chunk vectors, with the fields filters read (sent in batches)."""
        source, published = (article.source or "").lower(), article.published_iso or ""
        self._pending += [{"id": int(i), "vector": v.tolist(), "article_id": article.id, "source": source, "published": published}
                          for i, v in zip(chunk_ids, np.asarray(vectors, dtype=np.float32))]
        if len(self._pending) >= self.INSERT_BATCH:
            self._send_pending()

    def remove(self, chunk_ids: list[int]) -> None:
        self._send_pending()
        if chunk_ids and self._created:
            self.client.delete(self.collection, ids=[int(i) for i in chunk_ids])

    def save(self, folder: Path, dimension: int, exact_up_to: int) -> str:
        """Index the collection (exact up to `exact_up_to` vectors, IVF-Flat beyond), load it and
        name it in `folder`; returns the kind, as the manifest records it."""
        self._send_pending()
        self._ensure_collection(dimension)
        self.client.flush(self.collection)
        count = self.count
        kind = "flat" if count <= exact_up_to else f"ivf{cells_for(count)}"
        index = self.client.prepare_index_params()
        if kind == "flat":
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        else:
            index.add_index(field_name="vector", index_type="IVF_FLAT", metric_type="IP", params={"nlist": cells_for(count)})
        self.client.create_index(self.collection, index)
        self.client.load_collection(self.collection)
        self.kind = kind
        (folder / FILE).write_text(json.dumps({"uri": self.uri, "collection": self.collection, "prefix": self.prefix,
                                               "kind": kind, "count": count}))
        return kind

    def went_live(self) -> None:
        """Point the alias at this generation's collection (after CURRENT does)."""
        alias = f"{self.prefix}_{ALIAS}"
        if alias in self.client.list_aliases().get("aliases", []):
            self.client.alter_alias(self.collection, alias)
        else:
            self.client.create_alias(self.collection, alias)

    def abort(self) -> None:
        """Drop the collection of a build that failed."""
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)

    # -- a saved generation
    @classmethod
    def _named_in(cls, folder: Path) -> MilvusVectors:
        """The vectors a generation folder names (never changed once saved), through `RAG_MILVUS_URI`
        when set (the same data served another way, e.g. the Lite file behind a server), else the
        URI it was written through."""
        fields = json.loads((folder / FILE).read_text())
        vectors = cls(get_settings().milvus_uri or fields["uri"], fields["collection"], fields["prefix"], fields["kind"], fields.get("count"))
        vectors._created = True
        return vectors

    @classmethod
    def open(cls, folder: Path) -> MilvusVectors:
        """A saved generation's vectors, loaded for searching (Milvus Lite keeps no collection
        loaded across processes)."""
        vectors = cls._named_in(folder)
        vectors.client.load_collection(vectors.collection)
        return vectors

    @classmethod
    def drop(cls, folder: Path) -> None:
        """Drop a pruned generation's collection (unless the alias still points at it)."""
        if (folder / FILE).exists():
            vectors = cls._named_in(folder)
            alias = f"{vectors.prefix}_{ALIAS}"
            aliased = alias in vectors.client.list_aliases().get("aliases", []) and \
                vectors.client.describe_alias(alias)["collection_name"] == vectors.collection
            if vectors.client.has_collection(vectors.collection) and not aliased:
                vectors.client.drop_collection(vectors.collection)

    @property
    def count(self) -> int:
        """Vectors held: a saved generation's from its folder, one being written asked of Milvus."""
        if self._saved_count is not None:
            return self._saved_count
        return int(self.client.get_collection_stats(self.collection)["row_count"]) if self._created else 0

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None, filters: Filters | None,
               nprobe: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids and their cosines; `filters` become a Milvus scalar filter
        (`allowed`, the same restriction as chunk ids, is what FAISS needs and is sent only for
        phrases, which Milvus cannot test: the chunks of the articles holding them)."""
        expression = filter_expression(filters) if filters is not None else ""
        wanted = None  # chunk ids to keep of what Milvus returns, when they are too many to send
        if filters is not None and (filters.phrases or filters.excluded_phrases) and allowed is not None:  # no text in Milvus
            k = min(k, MILVUS_MAX_LIMIT)
            if len(allowed) <= MILVUS_IDS_SENT:
                expression = f"id in [{', '.join(str(int(i)) for i in allowed)}]"
            else:  # a long id list slows Milvus to seconds: the nearest under the other filters, then these
                wanted = set(allowed.tolist())
                k = MILVUS_MAX_LIMIT if filters.phrases else min(2 * k, MILVUS_MAX_LIMIT)  # only put-out words: most stay
        ivf_cells = int(self.kind[3:]) if self.kind.startswith("ivf") else 1  # nprobe means nothing to a flat index
        cells = cells_to_scan(nprobe, ivf_cells, len(allowed) if allowed is not None else None, self.count)
        hits = self.client.search(self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()], limit=k,
                                  filter=expression, search_params={"metric_type": "IP", "params": {"nprobe": cells}},
                                  output_fields=[])
        return [(int(hit["id"]), float(hit["distance"])) for hit in hits[0] if wanted is None or int(hit["id"]) in wanted]

    def vectors_of(self, chunk_ids: list[int]) -> np.ndarray:
        rows = self.client.query(self.collection, ids=[int(i) for i in chunk_ids], output_fields=["vector"])
        by_id = {int(row["id"]): row["vector"] for row in rows}
        return np.array([by_id[int(i)] for i in chunk_ids], dtype=np.float32)
