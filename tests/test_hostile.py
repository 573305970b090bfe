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

from rag.cli import PARTLY_FAILED
from rag.problems import printable

# Peak RSS of the build process: model (~0.9 GB) + embedding activations + the largest allowed
# file + chunk texts. Measured (VmHWM of the child alone, int8 default): short 1.27 GB, full
# size (50 MB article, 5 MB line) 2.0 GB.
PEAK_RSS_LIMIT_MB = {"short": 1800, "full": 2500}


# "...: <reason>. <What to do, a capitalised sentence of at least three words>."
SAYS_WHAT_TO_DO = re.compile(r"\S\. [A-Z][^.]*\s\S+\s[^.]*\.$")


# The child reports its own peak from /proc/self/status (VmHWM belongs to the program's own
# memory map). rusage's ru_maxrss would not do: Linux carries the high-water mark across fork
# and exec, so a child forked from this test process (model loaded) inherits pytest's peak.
REPORT_PEAK = """
import atexit, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"peak-rss-kb {peak}\\n")
atexit.register(report)
sys.argv[0] = "rag"
runpy.run_module("rag", run_name="__main__")
"""


def run_index(corpus: Path, index: Path, max_file_mb: float) -> tuple[int, str, str, float]:
    """Run `python -m rag index` and return (exit code, stdout, stderr, peak RSS in MB) of that process."""
    env = {**os.environ, "RAG_MAX_FILE_MB": str(max_file_mb), "PYTHONPATH": str(PROJECT)}
    result = subprocess.run([sys.executable, "-c", REPORT_PEAK, "index", "--corpus", str(corpus), "--index", str(index)],
                            env=env, capture_output=True, text=True, errors="replace")
    peak_kb = re.search(r"^peak-rss-kb (\d+)$", result.stderr, re.MULTILINE)
    assert peak_kb, result.stderr[-3000:]
    return result.returncode, result.stdout, result.stderr, int(peak_kb.group(1)) / 1024


def check_hostile_corpus(tmp_path: Path, embedder, full: bool) -> dict:
    """Index the hostile corpus through the CLI and check every file; returns the counts and the
    list of failed checks (one entry per file or property that is wrong)."""
    from rag.config import get_settings
    from rag.indexer import build_index
    from rag.retriever import Retriever

    corpus = make_hostile_corpus(tmp_path / "corpus", full=full)
    index = tmp_path / "index"
    code, stdout, stderr, peak_mb = run_index(corpus.root, index, corpus.max_file_mb)  # the default (auto) embedder
    assert code == PARTLY_FAILED, stderr[-3000:]  # indexed, but files were skipped: a cron job can tell
    failures: list[str] = []

    skipped = [line for line in stderr.splitlines() if line.startswith("skipped: ")]
    for where, reason in corpus.bad.items():
        mine = [line for line in skipped if re.match(rf"skipped: {re.escape(printable(where))}(:\d+)?: ", line)]
        # reported once, with its reason, then a sentence saying what to do
        if not (len(mine) == 1 and reason in mine[0] and SAYS_WHAT_TO_DO.search(mine[0].rstrip())):
            failures.append(f"bad file {where!r}: {mine}")
    if len(skipped) != len(corpus.bad):
        failures.append(f"{len(skipped)} 'skipped' lines for {len(corpus.bad)} bad files")

    settings = get_settings(corpus_dir=corpus.root, index_dir=index)
    retriever = Retriever(index, embedder, settings)
    store = retriever.store
    if store.manifest.articles != len(corpus.good):
        failures.append(f"{store.manifest.articles} articles indexed, {len(corpus.good)} expected")
    for article_id, phrase in corpus.good.items():
        article = store.article(article_id)
        if article is None or phrase not in article.text or retriever.search(phrase, 3)[0].article.id != article_id:
            failures.append(f"good file {article_id!r} not indexed or not found by {phrase!r}")
    if (corpus.root / "PWNED").exists():
        failures.append("a YAML tag ran a command")
    if "sandi server" in " ".join(store.article(a["id"]).text for a in store.article_list()):
        failures.append("text from outside the corpus was indexed")
    limit = PEAK_RSS_LIMIT_MB["full" if full else "short"]
    if peak_mb >= limit:
        failures.append(f"peak RSS {peak_mb:.0f} MB over {limit} MB")

    again = build_index(settings.model_copy(update={"max_file_mb": corpus.max_file_mb}), retriever.embedder)
    if not (again.generation is None and again.chunks_embedded == 0 and again.failed == len(corpus.failed_files)):
        failures.append(f"a second build changed something: {again.summary()}")
    return {"files": len(corpus.good) + len(corpus.bad), "bad": len(corpus.bad), "peak_mb": peak_mb, "failures": failures}


@pytest.mark.integration  # runs `python -m rag index` and reads its peak memory (a real process): `make test` runs it, a bare `pytest` not
def test_hostile_corpus_short(tmp_path, embedder):
    result = check_hostile_corpus(tmp_path, embedder, full=False)
    assert not result["failures"], result["failures"]


@pytest.mark.slow
def test_hostile_corpus_full(tmp_path, embedder, stress_table):
    result = check_hostile_corpus(tmp_path, embedder, full=True)
    stress_table.add("hostile corpus (50 MB article, 5 MB line, ...)", cases=result["files"], failures=len(result["failures"]),
                     detail=f"{result['bad']} bad files/lines each reported once; peak RSS {result['peak_mb']:.0f} MB "
                            f"(limit {PEAK_RSS_LIMIT_MB['full']})")
    assert not result["failures"], result["failures"]
