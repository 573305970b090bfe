"""Watch mode and the fetch schedule (rag/auto_update.py): the index follows the corpus folder
and the news sources by itself, one build at a time, while answers keep coming."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from conftest import write
from news_site import NEW_STORY, NewsSite
from rag.auto_update import watch_corpus
from rag.indexer import IndexUpdater, build_index
from rag.retriever import Retriever
from server import AppServer

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not

ARTICLE = """---
title: Jembatan Gantung Baru di Lebak
source: Kabar Banten
published: 2024-07-01
---
Jembatan gantung sepanjang 120 meter yang menghubungkan dua desa di Kabupaten Lebak diresmikan pada Senin.
Jembatan itu dibangun oleh warga bersama TNI selama empat bulan dengan biaya Rp 900 juta.
"""


def wait_for(condition, seconds: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s")


@contextlib.contextmanager
def watching(settings, embedder) -> Iterator[list]:
    """An index of one article and a watcher on its corpus (0.5 s of quiet): the updates it ran, as they end."""
    write(settings.corpus_dir / "lama.md", ARTICLE.replace("Lebak", "Pandeglang"))
    build_index(settings, embedder)
    updater, stop, jobs = IndexUpdater(settings, embedder), threading.Event(), []
    watcher = threading.Thread(target=watch_corpus, args=(settings, updater, stop, jobs.append), daemon=True)
    watcher.start()
    try:
        time.sleep(0.5)  # the watcher is up
        yield jobs
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


def test_changes_in_the_corpus_folder_update_the_index_once_per_burst(settings, embedder):
    settings = settings.model_copy(update={"watch_quiet_seconds": 0.5})
    with watching(settings, embedder) as jobs:
        for n in range(3):  # a burst: one update for all three
            write(settings.corpus_dir / f"baru-{n}.md", ARTICLE.replace("Lebak", f"Lebak {n}"))
        wait_for(lambda: jobs)
        write(settings.corpus_dir / ".fetch" / "state.json", "{}")  # hidden files are not articles: no update
        (settings.corpus_dir / "foto.png").write_bytes(b"\x89PNG")  # nor files the corpus scan does not read
        time.sleep(1.5)
        assert [(j.trigger, j.report.added) for j in jobs] == [("watch", 3)]

        write(settings.corpus_dir / "baru-0.md", ARTICLE.replace("120 meter", "150 meter"))
        wait_for(lambda: len(jobs) == 2)
        assert jobs[1].report.updated == 1
        (settings.corpus_dir / "baru-1.md").unlink()
        wait_for(lambda: len(jobs) == 3)
        assert jobs[2].report.removed == 1
        batch = settings.corpus_dir.parent / "incoming" / "batch"  # a batch moved in whole (a sync, an unzipped export):
        for n in range(2):                                          # watchfiles names the folder, not its files
            write(batch / f"kiriman-{n}.md", ARTICLE.replace("Lebak", f"Serang {n}"))
        batch.rename(settings.corpus_dir / "batch")
        wait_for(lambda: len(jobs) == 4)
        assert jobs[3].report.added == 2
        ids = {h.article.id for h in Retriever(settings.index_dir, embedder, settings).search("jembatan gantung Lebak", k=10)}
        assert "baru-1.md" not in ids and "baru-0.md" in ids
        for earlier, later in zip(jobs, jobs[1:]):
            assert earlier.finished_at <= later.started_at  # never two builds at once


def test_a_watch_update_another_process_blocked_is_tried_again_without_another_change(settings, embedder):
    """A cron `rag index` held the index when the folder settled: the update failed, and the new
    article waited, for good, for some other file to change."""
    from rag.writelock import writer_lock

    settings = settings.model_copy(update={"watch_quiet_seconds": 0.5})
    with watching(settings, embedder) as jobs:
        with writer_lock(settings.index_dir):  # another build holds the index
            write(settings.corpus_dir / "baru.md", ARTICLE)
            wait_for(lambda: jobs)
        wait_for(lambda: any(job.state == "done" for job in jobs))
        assert jobs[0].state == "failed" and "IndexLocked" in jobs[0].error
        assert jobs[-1].report.added == 1  # no file changed after the lock went


def ask(server: AppServer, question: str) -> dict:
    return httpx.post(f"{server.url}/api/ask", json={"question": question}, timeout=30).json()


def test_the_app_follows_the_corpus_folder_and_the_news_sources(tmp_path):
    with NewsSite(broken=False) as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [site.base + "/rss.xml"]}))
        env = {"RAG_WATCH_QUIET_SECONDS": "0.5", "RAG_FETCH_EVERY": "2s", "RAG_FETCH_DELAY": "0", "RAG_SOURCES_FILE": str(sources)}
        with AppServer(tmp_path / "app", extra_env=env, args=("--watch",)) as server:
            status = httpx.get(f"{server.url}/api/index/status").json()
            assert status["automatic"] == ["fetch", "watch"]

            question = "Berapa panjang jembatan gantung di Lebak?"
            write(server.corpus / "jembatan.md", ARTICLE)
            cited = wait_for(lambda: (a := ask(server, question))["citations"] and a["citations"][0]["article_id"] == "jembatan.md")
            assert cited
            last = httpx.get(f"{server.url}/api/index/status").json()["last_automatic"]
            assert last["trigger"] in ("watch", "fetch") and last["state"] in ("running", "done")

            (server.corpus / "jembatan.md").unlink()
            wait_for(lambda: all(c["article_id"] != "jembatan.md" for c in ask(server, question)["citations"]))

            site.stories.append(NEW_STORY)  # a new item in the feed: fetched on the next round, then answered
            answer = wait_for(lambda: (a := ask(server, "Berapa magnitudo gempa yang mengguncang Garut?"))["citations"]
                              and a["citations"][0]["url"] == site.base + NEW_STORY.path and a)
            assert "5,1" in answer["citations"][0]["sentence"]
            assert "scheduled fetch" in server.log.read_text()
