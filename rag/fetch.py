"""Fetch new articles from news sites: RSS/Atom feeds and sitemaps, into the corpus as Markdown.

A newsroom's new articles appear in its feeds and sitemaps; `rag fetch URL...` (or the sources
listed in `sources.yaml`, polled every `RAG_FETCH_EVERY`) follows them so nobody has to copy
files. Each article page is downloaded once, its text and metadata extracted with trafilatura,
and written as a Markdown file with front matter under `corpus/<site>/`: the corpus stays a
plain folder a person can read and edit, and the normal incremental build indexes it.

Polite by construction: robots.txt is obeyed, requests to one host are spaced by
`RAG_FETCH_DELAY` seconds (or the site's Crawl-delay when longer), every request names the
project in its User-Agent, feeds and sitemaps are asked for with their ETag/Last-Modified (an
unchanged feed costs a 304), and transient failures (timeouts, 429, 5xx) are retried with
exponential backoff. A failing feed or page is one log line and never stops the others.

What was fetched is remembered in `corpus/.fetch/state.sqlite` (a dot folder, so not read as
articles): canonical URLs (tracking parameters such as `utm_*` removed, or the page's own
`<link rel=canonical>`) and hashes of the article text, so a second fetch adds nothing and the
same story under two URLs is saved once. A fetched file you delete stays deleted. Each saved
article is committed to the state at once, so an interrupted fetch never saves one twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import sqlite3
import time
import urllib.robotparser
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import yaml

from rag.config import Settings
from rag.corpus import normalise_text, read_text_article
from rag.corpus_files import article_markdown, save_article_file, slug
from rag.problems import ArticleError

log = logging.getLogger(__name__)

USER_AGENT = "rag-news-archive/1.0 (news archive assistant; fetches feeds and sitemaps politely)"
STATE_FILE = Path(".fetch") / "state.sqlite"
TRACKING_PARAMETERS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga", "ref_src", "yclid"}
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_SITEMAP_DEPTH = 3
MIN_ARTICLE_CHARS = 80  # less is a menu or a teaser, not an article


class FetchError(Exception):
    """One URL could not be fetched; the message says why, in one line. `permanent` failures
    (404, 410, robots.txt, no article on the page) are not tried again by later fetches."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class FetchReport:
    """What one fetch did: files saved, URLs already known, duplicates, failures (one line each)."""

    saved: list[str] = field(default_factory=list)
    known: int = 0
    duplicates: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line, e.g. 'fetched 3 new article(s) (12 already known, 1 duplicate(s), 2 failed) in 4.1 s, 17 request(s)'."""
        return (f"fetched {len(self.saved)} new article(s) ({self.known} already known, {len(self.duplicates)} duplicate(s), "
                f"{len(self.failures)} failed) in {self.seconds:.1f} s, {self.requests} request(s)")


def canonical_url(url: str) -> str:
    """The URL an article is known by: lower-case scheme and host, no default port, no fragment,
    no tracking parameters (`utm_*`, `fbclid`, ...), the other parameters sorted.

    Example::

        canonical_url("HTTPS://Berita.id:443/a?utm_source=x&b=2&a=1#top")   # 'https://berita.id/a?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMETERS)
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def _web_url(url: object) -> bool:
    """An http(s) URL with a host ("http://" alone is not one: it was retried and said "connection failed")."""
    return isinstance(url, str) and url.startswith(("http://", "https://")) and bool(urlsplit(url).hostname)


def read_sources(path: Path) -> list[tuple[str, str | None]]:
    """The feed/sitemap/site URLs of a `sources.yaml`, each with the outlet name its articles get
    (None: the one the page names itself, e.g. "KOMPAS.com"): a list under `sources:`, each a URL
    or a mapping with `url` and optionally `source` (other keys, such as `name`, are notes for people).

    Example file::

        sources:
          - https://www.antaranews.com/rss/terkini.xml
          - {name: Kompas (sitemap), source: Kompas, url: https://www.kompas.com/sitemap.xml}
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the sources ({error}); write a 'sources:' list of URLs") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: no 'sources:' list; write one URL per item")
    urls = []
    for number, entry in enumerate(entries, 1):
        url, outlet = (entry.get("url"), entry.get("source")) if isinstance(entry, dict) else (entry, None)
        if not _web_url(url):
            raise ValueError(f"{path}: source {number} ({entry!r}) is not an http(s) URL")
        if outlet is not None and not (isinstance(outlet, str) and outlet.strip()):
            raise ValueError(f"{path}: source {number}: 'source' is the outlet's name, e.g. 'source: Kompas'; got {outlet!r}")
        urls.append((url, outlet.strip() if outlet else None))
    return urls


def fetch_sources(settings: Settings, urls: list[str] | None = None) -> FetchReport:
    """Fetch new articles from `urls`, or from the sources of `settings.sources_file`, into the
    corpus (the one entry point of `rag fetch` and the app's schedule).

    Example::

        report = fetch_sources(get_settings(), ["https://www.antaranews.com/rss/terkini.xml"])
        if report.saved:
            build_index(settings, embedder)
    """
    outlets: dict[str, str] = {}  # the outlet name a source's articles get, where sources.yaml gives one
    if not urls:
        if not settings.sources_file.exists():
            raise FileNotFoundError(f"no URLs given and no {settings.sources_file}; pass URLs or write a sources.yaml "
                                    "(see sources.example.yaml)")
        sources = read_sources(settings.sources_file)
        urls, outlets = [url for url, _ in sources], {url: outlet for url, outlet in sources if outlet}
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    with Fetcher(settings.corpus_dir, delay=settings.fetch_delay, max_bytes=settings.max_file_bytes) as fetcher:
        return fetcher.fetch(urls, outlets)


class FetchState:
    """What was fetched before, as (kind, key) -> value rows: "article" canonical URL -> corpus
    file, "hash" text hash -> corpus file, "failed" URL -> why (failed for good), "etag" and
    "modified" URL -> the validators of a feed or sitemap. Every `put` is committed at once."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS seen (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
                            "PRIMARY KEY (kind, key))")
        except sqlite3.DatabaseError as error:  # damaged, or another file under its name
            self.db.close()
            raise ValueError(f"{path}: not a readable fetch state ({error}); move it away and fetch again "
                             "(the articles saved before are downloaded again but known by their files, not saved twice)") from None

    def get(self, kind: str, key: str) -> str | None:
        """The value recorded for `key` of this `kind` ("article": the file of a fetched URL, "etag": a feed's ETag, ...), or None."""
        row = self.db.execute("SELECT value FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return row[0] if row else None

    def put(self, *rows: tuple[str, str, str]) -> None:
        """Store (kind, key, value) rows in one transaction."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO seen VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


class Fetcher:
    """Downloads new articles from feeds, sitemaps and sites into a corpus folder.

    Args:
        corpus_dir: where the Markdown files go (one sub-folder per site).
        delay: seconds between two requests to the same host.
        timeout: seconds before a request is given up (then retried); a response still coming
            after 4x this long is given up too (a site sending a byte now and then never times out).
        retries: extra attempts after a timeout, a connection error, 429 or 5xx.
        backoff: seconds before the first retry; doubled each time.
        max_bytes: larger responses are refused.

    Example::

        with Fetcher(Path("corpus")) as fetcher:
            print(fetcher.fetch(["https://www.antaranews.com/rss/terkini.xml"]).summary())   # then `build_index` indexes the new files
    """

    def __init__(self, corpus_dir: Path, delay: float = 1.0, timeout: float = 15.0, retries: int = 3,
                 backoff: float = 1.0, max_bytes: int = 20 * 2**20):
        self.corpus_dir, self.delay, self.retries, self.backoff, self.max_bytes = corpus_dir, delay, retries, backoff, max_bytes
        self.client = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=True)
        self.state = FetchState(corpus_dir / STATE_FILE)
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.report = FetchReport()
        self._validators: list[tuple[str, str, str]] = []  # ETag/Last-Modified of the source being fetched
        self._retry_later = False  # did one of its pages fail for now (5xx, timeout)?
        self._outlet: str | None = None  # the outlet name sources.yaml gives the source being fetched

    def fetch(self, urls: Iterable[str], outlets: dict[str, str] | None = None) -> FetchReport:
        """Fetch every new article reachable from `urls` (feeds, sitemaps, site home pages or
        article pages) and return what happened. Never raises for a bad URL: it is reported.
        `outlets`: the outlet name (`source`) the articles reached from a URL get, instead of the
        one its pages give ("KOMPAS.com", "kompas.com" and "Kompas" are one outlet in the filters)."""
        started, self.report = time.monotonic(), FetchReport()
        for url in urls:
            self._validators, self._retry_later = [], False
            self._outlet = (outlets or {}).get(url)
            try:
                for link in self._article_links(url):
                    self._fetch_article(link)
            except FetchError as error:
                self._fail(url, str(error))
                self._retry_later = True
            if not self._retry_later:  # a feed counts as seen only once every article behind it is in
                self.state.put(*self._validators)
        self.report.seconds = time.monotonic() - started
        return self.report

    def close(self) -> None:
        self.client.close()
        self.state.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- discovering article links
    def _article_links(self, url: str, depth: int = 0) -> list[str]:
        """The article URLs a feed, a sitemap (index) or a site's home page (the path `/`: the
        feeds it announces) leads to; any other page is an article and leads to itself."""
        response = self._get(url, conditional=True)
        if response is None:  # 304: unchanged since the last fetch
            return []
        body = self._gunzipped(response.content)  # a sitemap.xml.gz is a gzip file, not a gzip encoding
        links = self._feed_links(body, str(response.url))
        if links is None:
            links = self._sitemap_links(body, str(response.url), depth)
        if links is not None:
            return links
        if urlsplit(url).path in ("", "/"):
            return [link for feed in self._discovered_feeds(response.text, url) for link in self._article_links(feed, depth + 1)]
        return [url]

    def _gunzipped(self, body: bytes) -> bytes:
        """`body` unpacked when it is a gzip file (at most `max_bytes` of it), else as it is."""
        if body[:2] != b"\x1f\x8b":
            return body
        unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            unpacked = unpacker.decompress(body, self.max_bytes + 1)
        except zlib.error as error:
            raise FetchError(f"not a readable gzip file ({error})", permanent=True) from None
        if len(unpacked) > self.max_bytes:
            raise FetchError(f"unpacked over {self.max_bytes / 2**20:.0f} MiB", permanent=True)
        return unpacked

    @staticmethod
    def _feed_links(body: bytes, url: str) -> list[str] | None:
        """The article links of a feed (relative ones read against `url`), or None when `body` is no feed."""
        import feedparser

        parsed = feedparser.parse(io.BytesIO(body))  # bytes as a file: feedparser opens a string or bytes that name a path
        if not parsed.version:
            return None
        return [urljoin(url, entry.link) for entry in parsed.entries if entry.get("link")]

    def _sitemap_links(self, body: bytes, url: str, depth: int) -> list[str] | None:
        from lxml import etree

        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return None
        kind = etree.QName(root).localname
        if kind not in ("urlset", "sitemapindex"):
            return None
        locations = [urljoin(url, e.text.strip()) for e in root.iter("{*}loc") if e.text and e.text.strip()]
        if kind == "urlset":
            return locations
        if depth >= MAX_SITEMAP_DEPTH:
            raise FetchError(f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH} levels")
        links = []
        for sitemap in locations:
            try:
                links += self._article_links(sitemap, depth + 1)
            except FetchError as error:
                self._fail(sitemap, str(error))
                self._retry_later = True
        return links

    @staticmethod
    def _discovered_feeds(html: str, url: str) -> list[str]:
        """Feeds a site's page announces (`<link rel="alternate" type="application/rss+xml">`)."""
        from trafilatura.feeds import FeedParameters, determine_feed

        parts = urlsplit(url)
        return determine_feed(html, FeedParameters(f"{parts.scheme}://{parts.netloc}", parts.hostname or "", url))

    # -- one article
    def _fetch_article(self, link: str) -> None:
        try:
            canonical = canonical_url(link)
        except ValueError as error:  # a port that is not a number, a broken IPv6 address
            self._fail(link, f"not a valid URL ({error})")
            return
        if self.state.get("article", canonical) or self.state.get("failed", canonical):
            self.report.known += 1
            return
        try:
            response = self._get(link)
            fields, text = self._extract(response.text, str(response.url))
            fields["source"] = self._outlet or fields["source"]
        except FetchError as error:
            self._fail(link, str(error))
            if error.permanent:
                self.state.put(("failed", canonical, str(error)))
            else:
                self._retry_later = True
            return
        canonical_page = self._canonical_page(fields["url"], canonical)
        text_hash = hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()
        earlier = self.state.get("article", canonical_page) or self.state.get("hash", text_hash)
        if earlier:
            self.state.put(("article", canonical, earlier))
            self.report.duplicates.append(f"{link} (same article as {earlier})")
            return
        try:
            relative, new = self._save(fields, text, canonical_page)
        except ArticleError as error:
            self._fail(link, f"{error.reason}; not saved")
            return
        except OSError as error:  # the corpus's disk: tried again by the next fetch
            self._fail(link, f"could not be saved ({error.strerror or error})")
            self._retry_later = True
            return
        self.state.put(("article", canonical, relative), ("article", canonical_page, relative), ("hash", text_hash, relative))
        if new:
            self.report.saved.append(relative)
            log.info("fetched %s -> %s", link, relative)
        else:  # saved by a fetch that was stopped before it could note it
            self.report.known += 1

    @staticmethod
    def _canonical_page(named: str, link: str) -> str:
        """The URL an article page names as its own (`<link rel=canonical>`, `og:url`), canonical,
        unless it names its site's home page (some sites name it on every page, which would make
        every article a copy of the first) or cannot be read: then `link`, the one it was fetched by."""
        try:
            page = canonical_url(named)
        except ValueError:
            return link
        return link if urlsplit(page).path in ("", "/") else page

    @staticmethod
    def _extract(html: str, url: str) -> tuple[dict, str]:
        import trafilatura

        document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
        text = (document.text or "").strip() if document is not None else ""
        if len(text) < MIN_ARTICLE_CHARS:
            raise FetchError(f"no article text found on the page ({len(text)} characters)", permanent=True)
        fields = {"title": document.title, "source": document.sitename or document.hostname, "url": document.url or url,
                  "published": document.date, "author": document.author, "language": document.language,
                  "fetched": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        if text.split("\n", 1)[0].strip() == (document.title or "").strip():  # the headline, already the title
            text = text.split("\n", 1)[-1].strip()
        return fields, text

    def _save(self, fields: dict, text: str, url: str) -> tuple[str, bool]:
        """Write the article under corpus/<host>/ as Markdown with front matter; a free name is
        chosen. Returns its path in the corpus and whether it is new: False when a file of that
        name was already saved from this URL (by a fetch stopped before it noted the article)."""
        site = self.corpus_dir / (urlsplit(url).netloc.replace(":", "_") or "web")
        site.mkdir(parents=True, exist_ok=True)
        title = fields.pop("title") or urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or "article"
        stem = "-".join(x for x in (str(fields.get("published") or "")[:10], slug(title)) if x)
        data = article_markdown(title, text, **fields)
        for attempt in range(1, 1000):
            name = f"{stem}.md" if attempt == 1 else f"{stem}-{attempt}.md"
            path = site / name
            if not path.exists():
                path, _ = save_article_file(site, name, data, self.max_bytes)
                return path.relative_to(self.corpus_dir).as_posix(), True
            if _saved_from(path, url):
                return path.relative_to(self.corpus_dir).as_posix(), False
        raise ArticleError("no_free_name", stem=stem)

    # -- HTTP, politely
    def _get(self, url: str, conditional: bool = False) -> httpx.Response | None:
        """GET `url` within robots.txt, the per-host delay and the retry policy; None on 304."""
        if not _web_url(url):
            raise FetchError("not an http(s) URL")
        rules = self._robots_rules(url)
        if rules is None:  # tried again on the next run
            raise FetchError("its site's robots.txt could not be read")
        if not rules.can_fetch(USER_AGENT, url):
            raise FetchError("disallowed by robots.txt", permanent=True)
        headers = {}
        if conditional:
            for kind, header in (("etag", "If-None-Match"), ("modified", "If-Modified-Since")):
                if value := self.state.get(kind, url):
                    headers[header] = value
        response = self._request(url, headers)
        if response.status_code == 304:
            return None
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code}", permanent=response.status_code in (404, 410))
        if conditional:  # stored once the source's articles are all in (`fetch`)
            self._validators += [(kind, url, response.headers[header]) for kind, header in (("etag", "etag"), ("modified", "last-modified"))
                                 if header in response.headers]
        return response

    def _request(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """One request with retries: timeouts, connection errors, 429 and 5xx are tried again after
        `backoff`, 2x`backoff`, ... seconds (or the server's Retry-After, up to 60 s)."""
        for attempt in range(self.retries + 1):
            self._wait_turn(url)
            wait = self.backoff * 2**attempt
            try:
                response = self._read(url, headers)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("retry-after", "")
                wait = min(float(retry_after), 60.0) if retry_after.isdigit() else wait
            except httpx.TooManyRedirects:
                raise FetchError(f"redirects in a loop (more than {self.client.max_redirects})", permanent=True) from None
            except httpx.InvalidURL as error:
                raise FetchError(f"not a valid URL ({error})", permanent=True) from None
            except httpx.TimeoutException:
                problem = f"no answer within {self.client.timeout.read} s"
            except httpx.TransportError as error:
                problem = f"connection failed ({error})"
            if attempt < self.retries:
                time.sleep(wait)
        raise FetchError(f"{problem} (after {self.retries + 1} attempts)")

    def _read(self, url: str, headers: dict[str, str]) -> httpx.Response:
        self.report.requests += 1
        longest = 4 * (self.client.timeout.read or 0) or float("inf")
        started = time.monotonic()
        with self.client.stream("GET", url, headers=headers) as response:
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > self.max_bytes:
                    raise FetchError(f"response over {self.max_bytes / 2**20:.0f} MiB")
                if time.monotonic() - started > longest:  # each piece within the timeout, the whole never
                    raise FetchError(f"the page was still coming after {longest:g} s")
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body), request=response.request)

    def _wait_turn(self, url: str) -> None:
        """Space requests to one host by `delay`, or by the site's robots.txt Crawl-delay when longer."""
        parts = urlsplit(url)
        host = parts.netloc
        rules = self._robots.get(f"{parts.scheme}://{host}")
        delay = max(self.delay, float((rules.crawl_delay(USER_AGENT) if rules else None) or 0))
        pause = self._last_request.get(host, -1e9) + delay - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last_request[host] = time.monotonic()

    def _robots_rules(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        """robots.txt of the URL's site (fetched once per run): a missing one (4xx) allows all;
        one that cannot be read (5xx, no answer) is None and allows nothing this run, as RFC 9309
        asks."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            rules = urllib.robotparser.RobotFileParser()
            try:
                response = self._request(urljoin(site, "/robots.txt"), {})
                rules.parse(response.text.splitlines() if response.status_code < 400 else [])
                self._robots[site] = rules
            except FetchError as error:
                self._robots[site] = None
                self._fail(urljoin(site, "/robots.txt"), f"{error}; not fetching from {parts.netloc} this time")
        return self._robots[site]

    def _fail(self, url: str, reason: str) -> None:
        line = f"{url}: {reason}"
        if line not in self.report.failures:
            self.report.failures.append(line)
            log.warning("fetch failed: %s", line)


def _saved_from(path: Path, url: str) -> bool:
    """Does the article file at `path` say it was saved from `url` (its front matter)?"""
    try:
        saved = read_text_article(path, path.name, path.read_bytes())[0].url
    except (OSError, ArticleError):
        return False
    return saved is not None and canonical_url(saved) == url
