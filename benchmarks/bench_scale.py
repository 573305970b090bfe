"""Scale benchmark: a whole index generation of 100k and 1M chunks on this machine.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100000 1000000] [--queries 200] [--hnsw-up-to 100000]

For each size it writes a real generation with the project's own writer (SQLite rows, both BM25
indexes, the vector index of the kind the size calls for: IVF-Flat past
RAG_EXACT_SEARCH_MAX_CHUNKS), then serves it from a fresh process as `app.py` would (the
default embedder loaded, one torch thread) and prints one Markdown table: build time and its
parts, size on disk, server RSS, search p50/p95 (dense alone, each BM25, the whole hybrid
search), recall@10 of the served dense search against exact search over the same vectors, and,
for comparison in the same run, exact flat search and HNSW (up to `--hnsw-up-to` chunks: its
build is the slow part) on the same queries.

The data is synthetic, built from real parts: vectors are real e5 passage vectors of news
chunks plus Gaussian noise (each synthetic vector has cosine ~0.86 to the real one it came
from), texts are real news sentences drawn at random (three chunks of ~6 sentences per
article), queries are real questions embedded by the real model. It reads
../shared/data/news-qa when present, else the test fixtures shipped in tests/fixtures/news-qa.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunking import Chunk, chunk_article, indexable_text  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.corpus import Article, load_corpus  # noqa: E402
from rag.embeddings import embedder_for  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.store import GenerationWriter  # noqa: E402
from shared_data import NEWS_QA, ROOT  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "news-qa"
NOISE = 0.6  # norm of the noise added to a unit vector: cosine to the original ~0.86
SENTENCES_PER_CHUNK = 6
CHUNKS_PER_ARTICLE = 3


def real_parts(base_chunks: int, queries: int) -> tuple[list[str], np.ndarray, np.ndarray, list[str], str, dict]:
    """Real sentences, real passage vectors, real question vectors (and their texts), the data's name
    and the embedder's manifest fields (so the server opens the generation as its own)."""
    data = NEWS_QA if (NEWS_QA / "corpus").is_dir() else FIXTURES
    articles = load_corpus(data / "corpus").articles
    settings = get_settings()
    embedder = embedder_for(settings, threads=os.cpu_count())
    chunked = [(a, c) for a in articles for c in chunk_article(a, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)]
    chunks = [indexable_text(a.title, c.text) for a, c in chunked]
    random.Random(0).shuffle(chunks)
    passages = embedder.embed_passages(chunks[:base_chunks])
    sentences = [a.text[s:e] for a, c in chunked for s, e in c.sentences]
    question_file = data / ("questions-dev.jsonl" if data == NEWS_QA else "questions.jsonl")
    texts = [q.question for q in load_questions(question_file)][:queries]
    vectors = np.stack([embedder.embed_query(t) for t in texts])
    model = {"model_id": embedder.model_id, "dimension": embedder.dimension, "query_prefix": embedder.query_prefix,
             "passage_prefix": embedder.passage_prefix, "fingerprint": embedder.fingerprint,
             "embedder_variant": embedder.variant, "chunk_tokens": 200, "chunk_overlap": 1}
    return sentences, passages, vectors, texts, f"{data.relative_to(ROOT.parent)} ({len(articles)} articles)", model


def synthetic_vectors(base: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = base[rng.integers(0, len(base), count)]
    noisy = picked + rng.standard_normal(picked.shape, dtype=np.float32) * (NOISE / np.sqrt(base.shape[1]))
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def write_generation(index_dir: Path, size: int, sentences: list[str], base: np.ndarray, model: dict,
                     exact_up_to: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """A real generation of `size` chunks; returns timings and (chunk ids, vectors) for exact search."""
    rng = random.Random(size)
    writer = GenerationWriter(index_dir, None, exact_up_to)
    timings = {}
    started = time.perf_counter()
    all_vectors = []
    day = dt.date(2020, 1, 1)
    for number in range(size // CHUNKS_PER_ARTICLE):
        parts = [" ".join(rng.choices(sentences, k=SENTENCES_PER_CHUNK)) for _ in range(CHUNKS_PER_ARTICLE)]
        text, chunks, offset = " ".join(parts), [], 0
        for ordinal, part in enumerate(parts):
            chunks.append(Chunk(f"a{number}", ordinal, part, offset, offset + len(part), ((offset, offset + len(part)),)))
            offset += len(part) + 1
        article = Article(id=f"a{number}", title=f"Berita {number}", text=text, source=f"outlet{number % 40}",
                          published=day + dt.timedelta(days=number % 1500), path=f"a{number}.md", sha256=str(number))
        vectors = synthetic_vectors(base, len(chunks), number)
        writer.add_article(article, chunks, vectors)
        all_vectors.append(vectors)
    timings["rows and vectors s"] = time.perf_counter() - started
    ids = np.arange(1, size // CHUNKS_PER_ARTICLE * CHUNKS_PER_ARTICLE + 1, dtype=np.int64)  # SQLite's autoincrement ids
    started = time.perf_counter()
    writer.commit(model)
    timings["BM25 + vector index + write s"] = time.perf_counter() - started
    return timings, ids, np.concatenate(all_vectors)


SERVE = r"""
import json, statistics, sys, time
import numpy as np
from rag.config import get_settings
from rag.embeddings import embedder_for, set_threads
from rag.retriever import Retriever
index_dir, queries_file = sys.argv[1], sys.argv[2]
payload = json.load(open(queries_file))
set_threads(1)
settings = get_settings(index_dir=index_dir)
memory = {}
def checkpoint(name):  # /proc/self/status: ru_maxrss would report the parent's peak (Linux keeps it across exec)
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    memory[name] = [int(status[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile", "VmHWM")]
from rag.store import IndexStore
IndexStore.open(settings.index_dir)
checkpoint("opening the index")
retriever = Retriever(settings.index_dir, embedder_for(settings, threads=1), settings)
retriever.embedder.embed_query("warm up")
checkpoint("loading the model")
store = retriever.store
vectors = np.array(payload["vectors"], dtype=np.float32)
def timed(run, items):
    times, results = [], []
    for item in items:
        start = time.perf_counter(); results.append(run(item)); times.append((time.perf_counter() - start) * 1000)
    return sorted(times), results
dense = {}
for nprobe in payload["nprobes"]:
    dense[nprobe] = timed(lambda v: [i for i, _ in store.search_dense(v, 10, nprobe=nprobe)], vectors)
checkpoint("dense")
bm25_chunks, _ = timed(lambda q: store.search_lexical(q, 200), payload["texts"])
checkpoint("bm25 chunks")
bm25_articles, _ = timed(lambda q: store.search_articles_lexical(q, 200), payload["texts"])
checkpoint("bm25 articles")
hybrid, _ = timed(lambda q: retriever.search(q, 10), payload["texts"])
checkpoint("hybrid")
pct = lambda t, p: t[min(len(t) - 1, int(p * len(t)))]
print(json.dumps({"dense": {n: found for n, (_, found) in dense.items()}, "memory": memory, "kind": store.manifest.vector_index,
    "times": {name: [statistics.median(t), pct(t, 0.95)] for name, t in
              [*((f"dense (nprobe {n})", t) for n, (t, _) in dense.items()), ("bm25 chunks", bm25_chunks),
               ("bm25 articles", bm25_articles), ("hybrid", hybrid)]}}))
"""


def serve(index_dir: Path, vectors: np.ndarray, texts: list[str], nprobes: list[int]) -> dict:
    """Open the generation in a fresh process, as the server does, and time searches there."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"vectors": vectors.tolist(), "texts": (texts * (len(vectors) // len(texts) + 1))[: len(vectors)],
                   "nprobes": nprobes}, handle)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_READER": "0"}
    out = subprocess.run([sys.executable, "-c", SERVE, str(index_dir), handle.name], capture_output=True, text=True, env=env)
    os.unlink(handle.name)
    if out.returncode:
        sys.exit(f"the serving process failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def exact_top10(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    scores = queries @ vectors.T
    return [set(ids[np.argpartition(-row, 10)[:10]].tolist()) for row in scores]


def recall(found: list[list[int]], exact: list[set[int]]) -> float:
    return statistics.mean(len(set(f) & e) / 10 for f, e in zip(found, exact))


def timed_searches(index, queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), 10)
        times.append((time.perf_counter() - start) * 1000)
        found.append(ids[0].tolist())
    return sorted(times), found


def compare_indexes(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, exact: list[set[int]], hnsw: bool) -> list[tuple[str, str]]:
    """Exact flat search and (optionally) HNSW over the same vectors, one thread."""
    import faiss

    faiss.omp_set_num_threads(1)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, ids)
    times, found = timed_searches(flat, queries)
    rows = [("exact flat search p50 / p95 ms (recall@10)", f"{statistics.median(times):.1f} / {times[int(0.95 * len(times))]:.1f} ({recall(found, exact):.3f})")]
    del flat
    if hnsw:
        faiss.omp_set_num_threads(os.cpu_count())
        graph = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = 40
        index = faiss.IndexIDMap2(graph)
        started = time.perf_counter()
        index.add_with_ids(vectors, ids)
        build = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        graph.hnsw.efSearch = 64
        times, found = timed_searches(index, queries)
        rows.append(("HNSW32 (efC 40, efS 64): build s, p50 / p95 ms (recall@10)",
                     f"{build:.0f} s, {statistics.median(times):.2f} / {times[int(0.95 * len(times))]:.2f} ({recall(found, exact):.3f})"))
    faiss.omp_set_num_threads(os.cpu_count())
    return rows


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base-chunks", type=int, default=1500, help="real passage vectors the synthetic ones are drawn around")
    parser.add_argument("--hnsw-up-to", type=int, default=100_000)
    args = parser.parse_args()

    from rag.precision import cpu_flags

    settings = get_settings()
    sentences, base, queries, texts, data, model = real_parts(args.base_chunks, args.queries)
    print(f"data: {data}; {len(base)} real passage vectors, {len(queries)} real questions; CPU {cpu_flags()}, "
          f"{os.cpu_count()} cores; exact search up to {settings.exact_search_max_chunks:,} chunks, nprobe {settings.ivf_nprobe}\n")
    columns = {}
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{size}-"))
        try:
            timings, ids, vectors = write_generation(work, size, sentences, base, model, settings.exact_search_max_chunks)
            nprobes = sorted({settings.ivf_nprobe, 64, 128, 256})
            served = serve(work, queries, texts, nprobes)
            exact = exact_top10(ids, vectors, queries)
            generation = next((work / "generations").glob("gen-*"))
            memory = served["memory"]
            rows = [("vector index", served["kind"]),
                    *[(name, f"{seconds:.0f}") for name, seconds in timings.items()],
                    ("on disk MiB (SQLite / BM25 / vectors)",
                     f"{(generation / 'index.sqlite').stat().st_size / 2**20:.0f} / "
                     f"{folder_mib(generation / 'bm25-chunks') + folder_mib(generation / 'bm25-articles'):.0f} / "
                     f"{(generation / 'vectors.faiss').stat().st_size / 2**20:.0f}"),
                    *[(f"server RSS after {phase} MiB: all = private + file-backed (peak so far)", f"{rss:.0f} = {anon:.0f} + {file:.0f} ({peak:.0f})")
                      for phase, (rss, anon, file, peak) in memory.items()],
                    *[(f"{name} p50 / p95 ms", f"{p50:.1f} / {p95:.1f}") for name, (p50, p95) in served["times"].items()],
                    *[(f"served dense search recall@10 vs exact (nprobe {n})", f"{recall(found, exact):.3f}") for n, found in served["dense"].items()],
                    *compare_indexes(ids, vectors, queries, exact, size <= args.hnsw_up_to)]
            columns[f"{size:,} chunks"] = dict(rows)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"done: {size:,} chunks", file=sys.stderr, flush=True)
    names = list(dict.fromkeys(name for column in columns.values() for name in column))
    print("| measure | " + " | ".join(columns) + " |\n| --- |" + " --- |" * len(columns))
    for name in names:
        print(f"| {name} | " + " | ".join(column.get(name, "–") for column in columns.values()) + " |")


if __name__ == "__main__":
    main()
