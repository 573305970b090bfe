"""New articles from feeds and sitemaps (rag/fetch.py), against a news site on the loopback
interface (tests/news_site.py): nothing here reaches outside the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from news_site import COPY_OF_FIRST, NEW_STORY, STORIES, TRICKY_STORIES, NewsSite
from rag import cli
from rag.answer import Assistant
from rag.config import get_settings
from rag.corpus import load_corpus
from rag.fetch import STATE_FILE, USER_AGENT, Fetcher, canonical_url, fetch_sources, read_sources
from rag.indexer import build_index
from rag.retriever import Retriever
from server import PROJECT

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


def quick_fetcher(corpus) -> Fetcher:
    return Fetcher(corpus, delay=0, timeout=0.5, retries=1, backoff=0.05)


def test_articles_behind_a_robots_txt_that_cannot_be_read_are_fetched_once_it_can_be(tmp_path):
    """RFC 9309: a robots.txt answering 5xx allows nothing, this run; the feed's articles on that
    site are fetched by a later run (they were recorded as failed for good)."""
    with NewsSite(broken=False) as feed, NewsSite(broken=False) as articles:
        feed.article_base, articles.robots_status = articles.base, 503
        with quick_fetcher(tmp_path) as fetcher:
            first = fetcher.fetch([feed.base + "/rss.xml"])
        assert first.saved == [] and not any(path.startswith("/berita/") for path in articles.hits)
        assert any("robots.txt could not be read" in line for line in first.failures), first.failures
        articles.robots_status = 200
        with quick_fetcher(tmp_path) as fetcher:
            again = fetcher.fetch([feed.base + "/rss.xml"])
        assert len(again.saved) == 2, again.failures


def test_feeds_and_sitemap_bring_each_article_once_and_report_each_broken_page_once(tmp_path):
    with NewsSite(slow_seconds=2.0) as site:
        sources = [site.base + path for path in ("/rss.xml", "/atom.xml", "/sitemap.xml")]
        with quick_fetcher(tmp_path) as fetcher:
            report = fetcher.fetch(sources)
        assert len(report.saved) == len(STORIES), report.saved
        failures = sorted(line.split(": ", 1)[0].removeprefix(site.base) for line in report.failures)
        assert failures == ["/berita/galat-server", "/berita/lambat", "/berita/tanpa-artikel", "/berita/tidak-ada", "/private/internal"]
        reasons = " | ".join(report.failures)
        for reason in ("HTTP 404", "HTTP 500 (after 2 attempts)", "no answer within 0.5 s", "no article text", "robots.txt"):
            assert reason in reasons
        assert [d.split(" ")[0] for d in report.duplicates] == [site.base + COPY_OF_FIRST]
        assert site.hits["/private/internal"] == 0 and site.hits["/robots.txt"] == 1
        assert site.user_agents == {USER_AGENT}

        articles = {a.url: a for a in load_corpus(tmp_path).articles}
        assert set(articles) == {site.base + s.path for s in STORIES}  # the tracking-parameter copy under its canonical URL
        first = articles[site.base + STORIES[0].path]
        assert (first.title, first.source, first.published.isoformat()) == (STORIES[0].title, "Warta Lokal", STORIES[0].published)
        assert first.metadata["author"] == "Redaksi Warta Lokal" and first.text.startswith(STORIES[0].paragraphs[0])
        assert first.path.startswith(site.base.removeprefix("http://").replace(":", "_") + "/2024-03-18-banjir")

        pages = {path: hits for path, hits in site.hits.items() if path.startswith("/berita/")}
        with quick_fetcher(tmp_path) as fetcher:
            again = fetcher.fetch(sources)
        assert again.saved == [] and site.status[304] == 2  # the Atom feed and the sitemap: unchanged, all their articles in
        retried = sorted(line.split(": ", 1)[0].removeprefix(site.base) for line in again.failures)
        assert retried == ["/berita/galat-server", "/berita/lambat"]  # the RSS feed is read again for its passing failures only
        assert {path: site.hits[path] - hits for path, hits in pages.items() if site.hits[path] != hits} == {
            "/berita/galat-server": 2, "/berita/lambat": 2}


def test_a_new_feed_item_is_fetched_indexed_and_answered(settings, embedder):
    settings = settings.model_copy(update={"fetch_delay": 0.0})
    with NewsSite(broken=False) as site:
        first = fetch_sources(settings, [site.base + "/"])  # the home page announces its RSS feed
        assert len(first.saved) == 2 and not first.failures
        build_index(settings, embedder)
        site.stories.append(NEW_STORY)
        second = fetch_sources(settings, [site.base + "/"])
        assert len(second.saved) == 1 and second.known == 1
        assert build_index(settings, embedder).added == 1
    assistant = Assistant(Retriever(settings.index_dir, embedder, settings), settings)
    answer = assistant.answer("Berapa magnitudo gempa yang mengguncang Garut?")
    assert not answer.abstained and answer.citations[0].url == site.base + NEW_STORY.path
    assert "5,1" in answer.citations[0].sentence


def test_rag_fetch_reads_sources_yaml(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("RAG_FETCH_DELAY", "0")
    with NewsSite(broken=False) as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [
            {"name": "peta situs", "source": "Kabar Contoh", "url": site.base + "/sitemap.xml"}, site.base + "/atom.xml"]}))
        code = cli.main(["fetch", "--sources", str(sources), "--corpus", str(tmp_path / "corpus"), "--no-index"])
    assert code == 0 and capsys.readouterr().out.startswith(f"fetched {len(STORIES)} new article(s)")
    articles = load_corpus(tmp_path / "corpus").articles
    assert len(articles) == len(STORIES) and {a.source for a in articles} == {"Kabar Contoh"}  # the outlet sources.yaml names
    with NewsSite(broken=False) as site:  # a page that is not there: fetched nothing, said, and the exit status says so
        code = cli.main(["fetch", site.base + "/berita/tidak-ada", "--corpus", str(tmp_path / "corpus"), "--no-index"])
    assert code == cli.PARTLY_FAILED and "fetch failed: " + site.base + "/berita/tidak-ada" in caplog.text


def test_sources_file_and_settings_errors_say_what_to_write(tmp_path):
    bad = tmp_path / "sources.yaml"
    for url in ("ftp://contoh.id/feed", "'http://'", "https:///feed"):  # no host: refused here, not tried four times
        bad.write_text(f"sources:\n  - {url}\n")
        with pytest.raises(ValueError, match=r"source 1 .* is not an http\(s\) URL"):
            read_sources(bad)
    bad.write_text("sources:\n  - {url: https://contoh.id/feed, source: 12}\n")
    with pytest.raises(ValueError, match=r"source 1: 'source' is the outlet's name"):
        read_sources(bad)
    bad.write_text("feeds: []\n")
    with pytest.raises(ValueError, match="no 'sources:' list"):
        read_sources(bad)
    assert get_settings(fetch_every="30m").fetch_every == 1800 and get_settings(fetch_every="2h").fetch_every == 7200
    assert get_settings(fetch_every="900").fetch_every == 900
    with pytest.raises(ValueError, match="not a duration"):
        get_settings(fetch_every="sering")


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, capsys):
    """A RAG_* value that is wrong gave pydantic's four-line dump naming the field; infinity was
    taken, and failed later (RAG_MAX_FILE_MB=inf: every command, OverflowError)."""
    monkeypatch.setenv("RAG_TOP_K", "abc")
    assert cli.main(["status"]) == 2
    assert capsys.readouterr().err == ("error: RAG_TOP_K='abc': Input should be a valid integer, unable to parse string as an "
                                       "integer\n")
    monkeypatch.delenv("RAG_TOP_K")
    for name in ("RAG_MAX_FILE_MB", "RAG_WATCH_QUIET_SECONDS", "RAG_FETCH_DELAY"):
        monkeypatch.setenv(name, "inf")
        with pytest.raises(ValueError, match=f"{name}='inf': Input should be a finite number"):
            get_settings()
        monkeypatch.delenv(name)
    assert cli.main(["eval", str(PROJECT / "corpus")]) == 2  # a folder for the questions file: one line, no traceback
    assert capsys.readouterr().err == f"error: [Errno 21] Is a directory: '{PROJECT / 'corpus'}'\n"
    assert cli.main(["search", "NATO", "--k", "500"]) == 2  # refused as the API refuses it (it was cut to 50 without a word)
    assert capsys.readouterr().err == "error: --k 500: at most 50 (RAG_MAX_K)\n"
    assert get_settings(max_k=100, top_k=60).top_k == 60  # top_k stopped at 50 on its own, under a max_k of 200


def test_canonical_url_drops_tracking_and_normalises():
    assert canonical_url("HTTPS://Berita.ID:443/a?utm_source=x&b=2&fbclid=z&a=1#atas") == "https://berita.id/a?a=1&b=2"
    assert canonical_url("http://berita.id:8080") == "http://berita.id:8080/"


def test_the_site_crawl_delay_spaces_the_requests(tmp_path):
    with NewsSite(broken=False, crawl_delay=1) as site:  # whole seconds: robotparser reads no fractions
        with quick_fetcher(tmp_path) as fetcher:
            report = fetcher.fetch([site.base + "/sitemap.xml"])
    assert len(report.saved) == len(STORIES)
    gaps = [later - earlier for earlier, later in zip(site.times, site.times[1:])]
    assert len(gaps) == len(STORIES) - 1 and min(gaps) >= 0.95


def test_an_article_url_brings_that_article_not_the_site_feed(tmp_path):
    with NewsSite(broken=False) as site, quick_fetcher(tmp_path) as fetcher:
        report = fetcher.fetch([site.base + STORIES[0].path])  # its page links the RSS feed in the menu
    assert [a.url for a in load_corpus(tmp_path).articles] == [site.base + STORIES[0].path] and len(report.saved) == 1


def test_articles_saved_but_not_yet_noted_are_not_saved_again(tmp_path):
    """A fetch stopped between writing an article's file and noting it in its state (the window
    the kill test below hits by chance): the next fetch finds the file and counts it as known."""
    with NewsSite(broken=False) as site:
        with quick_fetcher(tmp_path) as fetcher:
            first = fetcher.fetch([site.base + "/sitemap.xml"])
        (tmp_path / STATE_FILE).unlink()  # as if the process had died before noting any of them
        with quick_fetcher(tmp_path) as fetcher:
            again = fetcher.fetch([site.base + "/sitemap.xml"])
    assert len(first.saved) == len(STORIES) and not again.saved and again.known == len(STORIES), again.summary()
    assert len(list(tmp_path.rglob("*.md"))) == len(STORIES)


def articles_in(corpus: Path) -> list[Path]:
    """The article files saved so far; not a `.upload-*` staging file, which a kill can leave
    behind and the index skips (the kill once landed while one was being written)."""
    return [path for path in corpus.rglob("*.md") if not path.name.startswith(".")]


def test_a_killed_fetch_resumes_without_saving_an_article_twice(tmp_path):
    corpus = tmp_path / "corpus"
    with NewsSite(broken=False, crawl_delay=1) as site:  # one article a second: time to kill it halfway
        env = {**os.environ, "RAG_FETCH_DELAY": "0", "PYTHONPATH": str(PROJECT)}
        command = [sys.executable, "-m", "rag", "fetch", "--no-index", "--corpus", str(corpus), site.base + "/sitemap.xml"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not articles_in(corpus) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = len(articles_in(corpus))
        assert 1 <= first < len(STORIES)
        with quick_fetcher(corpus) as fetcher:
            report = fetcher.fetch([site.base + "/sitemap.xml"])
    assert len(report.saved) == len(STORIES) - first and report.known == first and not report.duplicates
    assert sorted(a.url for a in load_corpus(corpus).articles) == sorted(site.base + s.path for s in STORIES)


def test_a_feed_of_what_real_sites_get_wrong_brings_every_article_it_can(tmp_path):
    """One bad link ended the whole run (and, scheduled, every run after it at the same link): a
    port that is not a number and a redirect loop are now one failure line each; a link relative
    to its feed is read against it; a Japanese headline gets a file name the disk takes (it was over
    255 bytes); two pages naming the home page as canonical are two articles, not one and a copy;
    a sitemap index's gzipped sitemap brings its article (it was filed as a page without text)."""
    with NewsSite(broken=False) as site, quick_fetcher(tmp_path) as fetcher:
        report = fetcher.fetch([site.base + "/rss-tricky.xml", site.base + "/sitemap-index.xml"])
    assert sorted(a.title for a in load_corpus(tmp_path).articles) == sorted(s.title for s in TRICKY_STORIES), report
    assert len(report.saved) == len(TRICKY_STORIES) and report.duplicates == []
    assert sorted(report.failures) == [
        f"{site.base}/putar: redirects in a loop (more than 20)",
        "http://127.0.0.1:abc/berita/x: not a valid URL (Port could not be cast to integer value as 'abc')"], report.failures


def test_a_body_that_names_a_file_on_this_machine_is_not_read_from_disk(tmp_path):
    """feedparser opens a string or bytes that name a path: a site answering with a path made the
    fetch read that file from this machine's disk (and follow the links in it)."""
    with NewsSite(broken=False) as site, quick_fetcher(tmp_path / "corpus") as fetcher:
        local = tmp_path / "lokal.xml"
        local.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><link>{site.base}/rahasia</link>'
                         "</item></channel></rss>")
        site.local_path_body = str(local)
        report = fetcher.fetch([site.base + "/jalur.xml"])
    assert site.hits["/rahasia"] == 0 and report.saved == []
    assert report.failures == [f"{site.base}/jalur.xml: no article text found on the page (0 characters)"], report.failures



def test_rag_fetch_indexes_articles_an_earlier_fetch_left_out_of_the_index(tmp_path, monkeypatch, capsys):
    """An update stopped with Ctrl-C (or refused while another build ran) left fetched articles
    out of the index; the next `rag fetch` found nothing new and built nothing, for good."""
    from rag.store import IndexStore

    monkeypatch.setenv("RAG_FETCH_DELAY", "0")
    corpus, index = str(tmp_path / "corpus"), tmp_path / "index"
    with NewsSite(broken=False) as site:
        assert cli.main(["fetch", site.base + "/sitemap.xml", "--corpus", corpus, "--index", str(index), "--no-index"]) == 0
        assert cli.main(["fetch", site.base + "/sitemap.xml", "--corpus", corpus, "--index", str(index)]) == 0
    assert "fetched 0 new article(s)" in capsys.readouterr().out
    assert IndexStore.open(index).manifest.articles == len(STORIES)


def test_a_scheduled_fetch_updates_the_index_again_after_an_update_another_process_blocked(settings, embedder):
    """The schedule's update failed while another process held the index (a cron `rag index`); the
    articles it fetched waited for the next new one. The next round now updates without one."""
    import threading

    from rag.auto_update import fetch_on_schedule
    from rag.indexer import IndexUpdater
    from rag.writelock import writer_lock

    settings = settings.model_copy(update={"fetch_delay": 0.0, "fetch_every": 0.5,
                                           "sources_file": settings.corpus_dir.parent / "sources.yaml"})
    jobs, stop = [], threading.Event()
    with NewsSite(broken=False) as site:
        settings.sources_file.write_text(yaml.safe_dump({"sources": [site.base + "/sitemap.xml"]}))
        schedule = threading.Thread(target=fetch_on_schedule, args=(settings, IndexUpdater(settings, embedder), stop, jobs.append))
        with writer_lock(settings.index_dir):  # another build holds the index
            schedule.start()
            deadline = time.monotonic() + 60
            while not jobs and time.monotonic() < deadline:
                time.sleep(0.1)
        while len(jobs) < 2 and time.monotonic() < deadline + 60:
            time.sleep(0.1)
        stop.set()
        schedule.join(timeout=30)
    assert [job.state for job in jobs[:2]] == ["failed", "done"], [(j.state, j.error) for j in jobs]
    assert "IndexLocked" in jobs[0].error and jobs[1].report.added == len(STORIES)


def test_a_damaged_fetch_state_is_named_with_what_to_do(tmp_path, monkeypatch, capsys):
    """corpus/.fetch/state.sqlite damaged: `rag fetch` said only "file is not a database" in a
    traceback; now the file and what to do, and doing it saves nothing twice."""
    monkeypatch.setenv("RAG_FETCH_DELAY", "0")
    corpus = tmp_path / "corpus"
    with NewsSite(broken=False) as site:
        assert cli.main(["fetch", site.base + "/sitemap.xml", "--corpus", str(corpus), "--no-index"]) == 0
        state = corpus / STATE_FILE
        state.write_bytes(b"bukan basis data " * 100)
        capsys.readouterr()
        assert cli.main(["fetch", site.base + "/sitemap.xml", "--corpus", str(corpus), "--no-index"]) == 2
        assert capsys.readouterr().err.startswith(f"error: {state}: not a readable fetch state (file is not a database); move it away")
        state.rename(tmp_path / "state.sqlite.rusak")
        assert cli.main(["fetch", site.base + "/sitemap.xml", "--corpus", str(corpus), "--no-index"]) == 0
    assert capsys.readouterr().out.startswith(f"fetched 0 new article(s) ({len(STORIES)} already known")
    assert len(load_corpus(corpus).articles) == len(STORIES)


def test_a_page_that_trickles_in_is_given_up(tmp_path):
    """A site sending three bytes every 0.2 s never hits a 0.5 s read timeout: the fetch (and the
    app's schedule thread behind it) waited as long as the site went on. It now gives up after 4x
    the timeout, and the run goes on."""
    with NewsSite(broken=False) as site, quick_fetcher(tmp_path) as fetcher:
        started = time.monotonic()
        report = fetcher.fetch([site.base + "/berita/menetes", site.base + STORIES[0].path])
    assert report.failures == [f"{site.base}/berita/menetes: the page was still coming after 2 s"], report.failures
    assert len(report.saved) == 1 and time.monotonic() - started < 3.5

