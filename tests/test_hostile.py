"""Indexing a hostile corpus through the real CLI: no crash, one clear line per bad file (or
JSONL line), every good article findable, nothing read from outside the corpus, bounded memory.

The short version runs in `make test`; the full one (50 MB article, 5 MB line) in `make stress`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT
from hostile import make_hostile_corpus

from rag.corpus import printable

PEAK_RSS_LIMIT_MB = 2500  # model (~0.9 GB) + embedding activations + the largest allowed file + chunk texts; measured 1.9 GB full size


def run_index(corpus: Path, index: Path, max_file_mb: float, quantize: bool) -> tuple[int, str, str, float]:
    """Run `python -m rag index` and return (exit code, stdout, stderr, peak RSS in MB) of that process."""
    env = {**os.environ, "RAG_MAX_FILE_MB": str(max_file_mb), "RAG_EMBED_QUANTIZE": str(int(quantize)), "PYTHONPATH": str(PROJECT)}
    out, err = index.parent / "stdout.txt", index.parent / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index)],
                                   env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out.read_text(), err.read_text(errors="replace"), usage.ru_maxrss / 1024


def check_hostile_corpus(tmp_path: Path, embedder, full: bool) -> dict[str, float]:
    from rag.config import get_settings
    from rag.indexer import build_index
    from rag.retriever import Retriever

    corpus = make_hostile_corpus(tmp_path / "corpus", full=full)
    index = tmp_path / "index"
    # the short run embeds with the fp32 test fixture; the full one with the default int8 model (3x faster)
    code, stdout, stderr, peak_mb = run_index(corpus.root, index, corpus.max_file_mb, quantize=full)
    assert code == 0, stderr[-3000:]

    skipped = [line for line in stderr.splitlines() if line.startswith("skipped: ")]
    for where, reason in corpus.bad.items():
        mine = [line for line in skipped if re.match(rf"skipped: {re.escape(printable(where))}(:\d+)?: ", line)]
        assert len(mine) == 1 and reason in mine[0], (where, mine)
        assert mine[0].rstrip().endswith(".") and len(mine[0].split(". ")) >= 2  # a reason and what to do
    assert len(skipped) == len(corpus.bad), skipped

    settings = get_settings(corpus_dir=corpus.root, index_dir=index)
    retriever = Retriever(index, None if full else embedder, settings)
    store = retriever.store
    assert store.manifest.articles == len(corpus.good)
    for article_id, phrase in corpus.good.items():
        assert phrase in store.article(article_id).text
        assert retriever.search(phrase, 3)[0].article.id == article_id, phrase
    assert not (corpus.root / "PWNED").exists()
    assert "sandi server" not in " ".join(store.article(a["id"]).text for a in store.article_list())
    assert peak_mb < PEAK_RSS_LIMIT_MB

    again = build_index(settings.model_copy(update={"max_file_mb": corpus.max_file_mb}), retriever.embedder)
    assert again.generation is None and again.chunks_embedded == 0 and again.failed == len(corpus.failed_files)  # no churn
    return {"files": len(corpus.good) + len(corpus.bad), "bad": len(corpus.bad), "peak_mb": peak_mb}


def test_hostile_corpus_short(tmp_path, embedder):
    check_hostile_corpus(tmp_path, embedder, full=False)


@pytest.mark.slow
def test_hostile_corpus_full(tmp_path, embedder, stress_table):
    result = check_hostile_corpus(tmp_path, embedder, full=True)
    stress_table.add("hostile corpus (50 MB article, 5 MB line, ...)", cases=result["files"], failures=0,
                     detail=f"{result['bad']} bad files/lines each reported once; peak RSS {result['peak_mb']:.0f} MB "
                            f"(limit {PEAK_RSS_LIMIT_MB})")
