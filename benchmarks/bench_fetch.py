"""New articles flowing in: fetched from a news site and indexed, against copying files by hand.

    .venv/bin/python benchmarks/bench_fetch.py [--articles 90] [--repeats 3]

Serves the fixture articles (tests/fixtures/news-qa, shipped with the tests) as a news site on
the loopback interface (tests/news_site.py: a sitemap and article pages), then in one run:

- fetch: `rag fetch SITEMAP` into an empty corpus (robots.txt, per-request extraction with
  trafilatura, Markdown written; `RAG_FETCH_DELAY=0`, so this is the fetcher's own cost, not
  the politeness delay a real site gets), median of `--repeats` runs;
- fetch again: nothing new (the sitemap answers 304);
- index the fetched corpus (first build, the default embedder, warmed up), and the same
  articles copied in as Markdown files by hand (the baseline): articles/s of each, so what
  fetching costs (the first row) stands next to what indexing costs either way.

Prints one Markdown table and the CPU flags. Nothing reaches outside the machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from news_site import NewsSite, Story  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.corpus_files import article_markdown  # noqa: E402
from rag.embeddings import embedder_for  # noqa: E402
from rag.fetch import Fetcher  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.precision import cpu_flags  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "news-qa" / "corpus"


def stories(count: int) -> list[Story]:
    articles = load_corpus(FIXTURES).articles[:count]
    return [Story(f"/berita/{n}", a.title, a.published_iso or "2017-01-01", [p for p in a.text.split("\n") if p.strip()],
                  a.source or "Warta Lokal") for n, a in enumerate(articles)]


def fetch_once(site: NewsSite, corpus: Path) -> tuple[float, int]:
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    with Fetcher(corpus, delay=0) as fetcher:
        report = fetcher.fetch([site.base + "/sitemap.xml"])
    assert not report.failures, report.failures
    return report.seconds, len(report.saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    rows = []
    with NewsSite(stories(args.articles), broken=False) as site:
        runs = [fetch_once(site, work / "fetched") for _ in range(args.repeats)]
        seconds, saved = statistics.median(r[0] for r in runs), runs[0][1]
        rows.append(("fetch (sitemap, empty corpus)", saved, seconds))
        with Fetcher(work / "fetched", delay=0) as again:
            report = again.fetch([site.base + "/sitemap.xml"])
        rows.append(("fetch again (nothing new)", len(report.saved), report.seconds))

    by_hand = work / "by-hand"
    by_hand.mkdir()
    for story in stories(args.articles):
        (by_hand / f"{story.path.rsplit('/', 1)[-1]}.md").write_bytes(
            article_markdown(story.title, "\n".join(story.paragraphs), source=story.site_name, published=story.published))
    embedder = embedder_for(get_settings())
    embedder.embed_passages(["pemanasan model"])  # load and choose the precision before timing either build
    for label, corpus in (("index the fetched articles", work / "fetched"), ("index the same articles copied by hand", by_hand)):
        settings = get_settings(corpus_dir=corpus, index_dir=work / f"index-{corpus.name}")
        report = build_index(settings, embedder)
        rows.append((label, report.added, report.seconds))

    print(f"CPU: {cpu_flags()}; embedder {embedder.variant}\n")
    print("| stage | articles | seconds | articles/s |")
    print("|---|---:|---:|---:|")
    for label, count, seconds in rows:
        print(f"| {label} | {count} | {seconds:.2f} | {count / seconds if seconds and count else 0:.1f} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
