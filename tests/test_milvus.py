"""The same retriever with its vectors in Milvus (RAG_VECTOR_STORE=milvus): Milvus Lite embedded
in the process for a local path, and a real `milvus-lite server` over gRPC for an http:// URI.
Same answers as FAISS, date and source filters as Milvus scalar filters, incremental deletes, and
a build SIGKILLed in another process leaves the previous generation (and the alias) answering."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NEWS_FIXTURES
from test_crash import NEW_ARTICLES, check_survivor, grow_corpus, start_build
from test_ranking import ranking_scores

from rag.evaluate import load_questions
from rag.indexer import build_index
from rag.milvus_vectors import filter_expression
from rag.retriever import Filters, Retriever
from rag.store import IndexStore, current_generation

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


@pytest.fixture(scope="module")
def milvus_archive(archive, embedder, tmp_path_factory):
    """The 90 fixture articles again, vectors in Milvus Lite (from the FAISS build's embedding cache)."""
    root = tmp_path_factory.mktemp("milvus-archive")
    settings = archive.model_copy(update={"index_dir": root / "index", "vector_store": "milvus"})
    settings.index_dir.mkdir()
    shutil.copy(archive.index_dir / "embedding-cache.sqlite", settings.index_dir)
    report = build_index(settings, embedder)
    assert report.added == 90 and report.chunks_embedded == 0, report.summary()
    return settings


def test_milvus_answers_like_faiss(archive, milvus_archive, embedder):
    store = IndexStore.open(milvus_archive.index_dir)
    assert (store.manifest.vector_store, store.manifest.vector_index) == ("milvus", "flat")
    assert store.vectors.count == store.manifest.chunks == IndexStore.open(archive.index_dir).manifest.chunks
    assert store.vectors.client.describe_alias("rag_live")["collection_name"] == store.vectors.collection
    on_faiss, on_milvus = ranking_scores(archive, embedder), ranking_scores(milvus_archive, embedder)
    assert abs(on_faiss["R@5"] - on_milvus["R@5"]) <= 0.01 and on_milvus["R@1"] >= 0.96, (on_faiss, on_milvus)
    faiss_retriever, milvus_retriever = Retriever(archive.index_dir, embedder, archive), Retriever(milvus_archive.index_dir, embedder, milvus_archive)
    for question in load_questions(NEWS_FIXTURES / "questions.jsonl"):
        expected = [(h.article.id, h.chunk_id, round(h.score, 4)) for h in faiss_retriever.search(question.question, 5)]
        assert [(h.article.id, h.chunk_id, round(h.score, 4)) for h in milvus_retriever.search(question.question, 5)] == expected


@pytest.mark.parametrize("filters", [Filters(sources=("AntaraNews",)), Filters(since=dt.date(2016, 9, 5), until=dt.date(2016, 9, 15)),
                                     Filters(until=dt.date(2016, 9, 9), sources=("CNN Indonesia", "suara"))])
def test_date_and_source_filters_are_milvus_scalar_filters(archive, milvus_archive, embedder, filters):
    question = "Apa kata presiden tentang ekonomi?"
    store = IndexStore.open(milvus_archive.index_dir)
    vector = embedder.embed_query(question)
    dense = store.search_dense(vector, 50, None, filters=filters, nprobe=32)  # no chunk ids sent: Milvus filters itself
    allowed = set(store.chunk_ids_of(store.article_ids_where(*filters.where())).tolist())
    assert dense and {chunk for chunk, _ in dense} <= allowed, filter_expression(filters)
    expected = Retriever(archive.index_dir, embedder, archive).search(question, 10, filters)
    found = Retriever(milvus_archive.index_dir, embedder, milvus_archive).search(question, 10, filters)
    assert [h.article.id for h in found] == [h.article.id for h in expected] and found


@pytest.mark.parametrize("ids_sent", [4096, 5])
def test_a_phrase_reaches_milvus_as_the_passages_of_the_articles_holding_it(archive, milvus_archive, embedder, ids_sent,
                                                                         monkeypatch):
    """Milvus keeps no text, so a phrase (`Filters.phrases`) is sent as those articles' chunk ids,
    or, when they are too many to send, Milvus's nearest are kept when they are among them."""
    monkeypatch.setattr("rag.milvus_vectors.MILVUS_IDS_SENT", ids_sent)
    filters = Filters(phrases=("Amerika Serikat",))
    expected = Retriever(archive.index_dir, embedder, archive).search("presiden", 50, filters, order="newest")
    found = Retriever(milvus_archive.index_dir, embedder, milvus_archive).search("presiden", 50, filters, order="newest")
    assert [(h.article.id, h.chunk_id) for h in found] == [(h.article.id, h.chunk_id) for h in expected] and len(found) >= 5
    assert all("amerika serikat" in h.article.text.lower() for h in found)


def test_incremental_builds_delete_and_add_in_a_new_collection(milvus_archive, embedder, tmp_path):
    settings = milvus_archive.model_copy(update={"corpus_dir": tmp_path / "corpus", "index_dir": tmp_path / "index",
                                                 "milvus_collection": "incremental", "exact_search_max_chunks": 20})
    settings.corpus_dir.mkdir()
    settings.index_dir.mkdir()
    shutil.copy(milvus_archive.index_dir / "embedding-cache.sqlite", settings.index_dir)
    articles = sorted((NEWS_FIXTURES / "corpus").iterdir())[:12]
    for path in articles:
        shutil.copy(path, settings.corpus_dir)
    build_index(settings, embedder)
    first = IndexStore.open(settings.index_dir)
    gone = articles[0].name
    (settings.corpus_dir / gone).unlink()
    shutil.copy(sorted((NEWS_FIXTURES / "corpus").iterdir())[20], settings.corpus_dir)
    report = build_index(settings, embedder)
    store = IndexStore.open(settings.index_dir)
    assert (report.added, report.removed) == (1, 1) and store.vectors.collection != first.vectors.collection
    assert store.manifest.vector_index == first.manifest.vector_index == "ivf16"  # past the threshold (20 here): IVF in Milvus
    assert store.vectors.count == store.manifest.chunks and first.vectors.count == first.manifest.chunks  # the old one is untouched
    retriever = Retriever(settings.index_dir, embedder, settings)
    title = first.article(gone).title
    assert all(hit.article.id != gone for hit in retriever.search(title, 12))
    odd_source = Filters(sources=('Détik "✓"',))  # non-ASCII and quotes in a scalar filter
    assert store.search_dense(embedder.embed_query(title), 5, None, filters=odd_source, nprobe=16) == []
    assert store.vectors.client.describe_alias("incremental_live")["collection_name"] == store.vectors.collection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def milvus_server(tmp_path):
    """A real Milvus Lite server process (gRPC), the way several processes share one Milvus."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(tmp_path / "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def test_a_killed_build_leaves_the_previous_generation_answering(settings, embedder, milvus_server, monkeypatch):
    monkeypatch.setenv("RAG_VECTOR_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", milvus_server)
    settings = settings.model_copy(update={"vector_store": "milvus", "milvus_uri": milvus_server})
    grow_corpus(settings, embedder)  # generation 1 (the seed article), 30 new articles waiting
    live = IndexStore.open(settings.index_dir).vectors
    build = start_build(settings.corpus_dir, settings.index_dir)  # the CLI, in another process, same server
    deadline = time.monotonic() + 120
    while len(live.client.list_collections()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # until the build has made its collection
    assert len(live.client.list_collections()) >= 2, "the build made no collection of its own in 120 s"
    build.send_signal(signal.SIGKILL)
    build.communicate()
    assert build.returncode == -signal.SIGKILL  # killed while building, not ended before
    assert current_generation(settings.index_dir).name == "gen-000001"
    assert live.client.describe_alias("rag_live")["collection_name"] == live.collection
    check_survivor(settings, embedder)

    report = build_index(settings, embedder)  # the next build drops the killed one's collection and finishes
    store = IndexStore.open(settings.index_dir)
    assert report.added == NEW_ARTICLES and store.vectors.count == store.manifest.chunks
    assert set(store.vectors.client.list_collections()) == {live.collection, store.vectors.collection}
    assert store.vectors.client.describe_alias("rag_live")["collection_name"] == store.vectors.collection


def test_a_milvus_lite_index_built_by_other_processes_answers_here(settings, monkeypatch):
    """The CLI builds twice (each its own process, the second copying the first's collection), then
    this process searches: Milvus Lite keeps no collection loaded across processes."""
    monkeypatch.setenv("RAG_VECTOR_STORE", "milvus")
    for path in sorted((NEWS_FIXTURES / "corpus").glob("indosum_*"))[:3]:
        shutil.copy(path, settings.corpus_dir)
    for extra in ("", "\nKalimat tambahan yang baru."):
        with open(settings.corpus_dir / sorted(p.name for p in settings.corpus_dir.iterdir())[0], "a", encoding="utf-8") as handle:
            handle.write(extra)
        build = start_build(settings.corpus_dir, settings.index_dir)
        out, err = build.communicate(timeout=300)
        assert build.returncode == 0, err[-2000:]
    store = IndexStore.open(settings.index_dir)
    assert store.path.name == "gen-000002" and store.manifest.vector_store == "milvus"
    hits = Retriever(settings.index_dir, settings=settings.model_copy(update={"vector_store": "milvus"})).search("polisi", 3)
    assert hits and store.vectors.count == store.manifest.chunks
