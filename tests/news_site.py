"""A news site on the loopback interface, for the fetch tests and benchmarks/bench_fetch.py.

It serves what a real newsroom's site does (robots.txt, an RSS feed, an Atom feed, a sitemap,
a home page announcing its feed, article pages with metadata) and what goes wrong on real
sites (404, 500, a page that never answers in time, a page with no article, the same article
under a URL with tracking parameters, a copy of an article under another URL). Feeds and the
sitemap carry an ETag and answer 304 when it matches. Nothing leaves the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Story:
    path: str
    title: str
    published: str
    paragraphs: list[str]
    site_name: str = "Warta Lokal"
    canonical: str | None = None  # the page's <link rel="canonical"> path (None: its own)


STORIES = [
    Story("/berita/banjir-demak", "Banjir Rendam Ribuan Rumah di Demak", "2024-03-18", [
        "Banjir merendam sekitar 3.200 rumah di Kabupaten Demak, Jawa Tengah, setelah tanggul Sungai Wulan jebol pada Minggu malam.",
        "Badan Penanggulangan Bencana Daerah mencatat 7.500 warga mengungsi ke balai desa dan masjid terdekat.",
        "Bupati Demak Eisti'anah meminta warga tetap waspada karena hujan deras diperkirakan berlanjut hingga akhir pekan."]),
    Story("/berita/kereta-cepat", "Penumpang Kereta Cepat Tembus Dua Juta", "2024-02-05", [
        "Kereta cepat Jakarta-Bandung telah mengangkut dua juta penumpang sejak mulai beroperasi pada Oktober 2023.",
        "Direktur Utama KCIC Dwiyana Slamet Riyadi mengatakan okupansi rata-rata mencapai 74 persen pada akhir pekan.",
        "Perusahaan berencana menambah jadwal perjalanan menjadi 48 kali sehari mulai bulan depan."]),
    Story("/berita/panen-kopi", "Petani Kopi Gayo Sambut Panen Raya", "2024-04-22", [
        "Petani kopi di dataran tinggi Gayo, Aceh Tengah, memulai panen raya dengan harga gelondong merah Rp 14.000 per kilogram.",
        "Ketua koperasi petani Gayo, Armiadi, menyebut hasil panen tahun ini naik sekitar 15 persen dibandingkan tahun lalu.",
        "Sebagian besar kopi arabika Gayo diekspor ke Amerika Serikat dan Eropa."]),
    Story("/berita/festival-film", "Festival Film Pelajar Digelar di Yogyakarta", "2024-05-09", [
        "Festival Film Pelajar Yogyakarta menayangkan 86 film pendek karya siswa sekolah menengah dari 21 provinsi.",
        "Film dokumenter berjudul Sungai yang Hilang karya pelajar Palu meraih penghargaan film terbaik.",
        "Panitia menyatakan festival akan kembali digelar tahun depan dengan kategori animasi."]),
]
NEW_STORY = Story("/berita/gempa-garut", "Gempa Magnitudo 5,1 Guncang Garut", "2024-06-03", [
    "Gempa bermagnitudo 5,1 mengguncang Kabupaten Garut, Jawa Barat, pada Senin pagi pukul 06.12 WIB.",
    "BMKG menyatakan pusat gempa berada di laut pada kedalaman 10 kilometer dan tidak berpotensi tsunami.",
    "Sebanyak 27 rumah warga di Kecamatan Pameungpeuk dilaporkan rusak ringan."])
COPY_OF_FIRST = "/arsip/salinan-banjir-demak"  # the first story's text again, under another URL
# what real sites get wrong, in /rss-tricky.xml and the sitemap index /sitemap-index.xml
RELATIVE_STORY = Story("/berita/relatif", "Harga Beras Turun di Pasar Induk", "2024-06-04", [
    "Harga beras medium di Pasar Induk Beras Cipinang turun menjadi Rp 12.800 per kilogram pada Selasa.",
    "Pedagang menyebut pasokan dari Jawa Tengah dan Jawa Timur kembali lancar setelah panen raya.",
    "Badan Pangan Nasional memperkirakan harga stabil hingga akhir bulan."])  # linked as "/berita/relatif"
LONG_TITLE_STORY = Story("/berita/judul-panjang", ("日本政府は二〇二四年度の補正予算案を閣議決定し、物価高対策と能登半島地震の復興支援に重点的に配分する方針を示した"
                         "。与党は来週の国会での成立を目指しており、野党は財源の在り方を追及する構えを見せている"), "2024-06-05", [
    "Pemerintah Jepang menyetujui rancangan anggaran tambahan untuk tahun fiskal 2024 dalam rapat kabinet pada Rabu.",
    "Anggaran itu difokuskan pada langkah mengatasi kenaikan harga dan pemulihan wilayah Semenanjung Noto setelah gempa.",
    "Parlemen dijadwalkan membahas rancangan tersebut pekan depan."])  # a slug over 255 bytes when cut at 80 characters
ROOT_CANONICAL_STORIES = [  # a site whose every page names its home page as canonical
    Story("/berita/kanonik-satu", "Bandara Baru Kulon Progo Layani Rute Internasional", "2024-06-06", [
        "Bandara Internasional Yogyakarta di Kulon Progo mulai melayani penerbangan langsung ke Singapura dan Kuala Lumpur.",
        "Pengelola bandara memperkirakan jumlah penumpang naik 20 persen setelah rute baru dibuka.",
        "Pemerintah daerah menyiapkan angkutan umum tambahan dari bandara ke pusat kota."], canonical="/"),
    Story("/berita/kanonik-dua", "Nelayan Cilacap Keluhkan Cuaca Buruk", "2024-06-07", [
        "Ratusan nelayan di Cilacap tidak melaut selama sepekan karena gelombang tinggi di selatan Jawa.",
        "Himpunan Nelayan Seluruh Indonesia setempat meminta bantuan beras bagi keluarga nelayan yang terdampak.",
        "BMKG memperkirakan gelombang setinggi empat meter masih terjadi hingga akhir pekan."], canonical="/")]
GZIPPED_STORY = Story("/berita/dari-sitemap-gzip", "Pelabuhan Patimban Mulai Ekspor Mobil", "2024-06-08", [
    "Pelabuhan Patimban di Subang mengekspor 3.000 unit mobil ke Filipina dan Vietnam dalam pengapalan pertama bulan ini.",
    "Kementerian Perhubungan menyebut kapasitas terminal kendaraan akan ditambah tahun depan.",
    "Pengusaha otomotif berharap biaya logistik turun dengan pelabuhan baru itu."])  # only in a gzipped sitemap
TRICKY_STORIES = [RELATIVE_STORY, LONG_TITLE_STORY, *ROOT_CANONICAL_STORIES, GZIPPED_STORY]


def article_page(story: Story, base: str) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    return f"""<!doctype html><html lang="id"><head><meta charset="utf-8">
<title>{html.escape(story.title)} - {story.site_name}</title>
<meta property="og:title" content="{html.escape(story.title)}">
<meta property="og:site_name" content="{story.site_name}">
<meta property="article:published_time" content="{story.published}T08:00:00+07:00">
<meta name="author" content="Redaksi {story.site_name}">
<link rel="canonical" href="{base}{story.canonical or story.path}">
</head><body><nav><a href="/">Beranda</a> <a href="/rss.xml">RSS</a></nav>
<article><h1>{html.escape(story.title)}</h1>{body}</article><footer>Hak cipta {story.site_name}</footer></body></html>"""


class NewsSite:
    """A running site at `base` ("http://127.0.0.1:PORT"). `stories` can grow while it runs
    (the feeds follow); `hits` counts requests per path; `status` counts the statuses sent.

    Example::

        with NewsSite() as site:
            Fetcher(corpus).fetch([site.base + "/rss.xml"])
    """

    def __init__(self, stories: list[Story] | None = None, broken: bool = True, slow_seconds: float = 3.0, crawl_delay: float = 0):
        self.stories = list(STORIES if stories is None else stories)
        self.crawl_delay = crawl_delay
        self.times: list[float] = []  # when each article page was asked for
        self.broken, self.slow_seconds = broken, slow_seconds
        self.robots_status = 200  # 503: a robots.txt that cannot be read
        self.article_base: str | None = None  # the site the RSS feed's links point to (None: this one)
        self.local_path_body = ""  # what /jalur.xml answers: a path on the fetching machine
        self.hits: Counter[str] = Counter()
        self.status: Counter[int] = Counter()
        self.user_agents: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> NewsSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what the site holds
    def broken_links(self) -> list[str]:
        if not self.broken:
            return []
        return ["/berita/tidak-ada", "/berita/galat-server", "/berita/lambat", "/berita/tanpa-artikel", "/private/internal",
                self.stories[0].path + "?utm_source=rss&utm_medium=feed", COPY_OF_FIRST]

    def rss(self) -> str:
        links = [s.path for s in self.stories[-2:]] + self.broken_links()  # the newest two
        base = self.article_base or self.base
        items = "".join(f"<item><title>{p}</title><link>{base}{p}</link><guid>{base}{p}</guid></item>" for p in links)
        return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Warta Lokal</title>{items}</channel></rss>'

    def atom(self) -> str:
        entries = "".join(f'<entry><title>{s.title}</title><id>{self.base}{s.path}</id><link href="{self.base}{s.path}"/>'
                          f"<updated>{s.published}T08:00:00Z</updated></entry>" for s in self.stories[1:3])
        return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Warta Lokal</title>'
                f"<id>{self.base}/</id><updated>2024-06-03T08:00:00Z</updated>{entries}</feed>")

    def sitemap(self) -> str:
        urls = "".join(f"<url><loc>{self.base}{s.path}</loc><lastmod>{s.published}</lastmod></url>" for s in self.stories)
        return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'

    def tricky_rss(self) -> str:
        """A feed of links real feeds carry: a port that is not a number, a redirect loop, a link
        relative to the feed, a headline in Japanese, two pages naming the home page as canonical."""
        links = ["http://127.0.0.1:abc/berita/x", f"{self.base}/putar", RELATIVE_STORY.path,
                 *(self.base + s.path for s in (LONG_TITLE_STORY, *ROOT_CANONICAL_STORIES))]
        items = "".join(f"<item><title>t</title><link>{html.escape(link)}</link></item>" for link in links)
        return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Warta Lokal</title>{items}</channel></rss>'

    def page(self, path: str) -> tuple[int, str, str | bytes]:
        """(status, content type, body) of a path."""
        if path == "/robots.txt":
            delay = f"Crawl-delay: {self.crawl_delay}\n" if self.crawl_delay else ""
            return self.robots_status, "text/plain", f"User-agent: *\nDisallow: /private/\n{delay}"
        if path == "/rss.xml":
            return 200, "application/rss+xml", self.rss()
        if path == "/atom.xml":
            return 200, "application/atom+xml", self.atom()
        if path == "/sitemap.xml":
            return 200, "application/xml", self.sitemap()
        if path == "/rss-tricky.xml":
            return 200, "application/rss+xml", self.tricky_rss()
        if path == "/sitemap-index.xml":  # its one sitemap gzipped, relative to it
            return 200, "application/xml", ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                                            'sitemap/0.9"><sitemap><loc>/sitemap-news.xml.gz</loc></sitemap></sitemapindex>')
        if path == "/sitemap-news.xml.gz":
            urls = f"<url><loc>{self.base}{GZIPPED_STORY.path}</loc></url>"
            return 200, "application/x-gzip", gzip.compress(
                f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode())
        if path == "/jalur.xml":  # a body that is a path on the fetching machine
            return 200, "application/rss+xml", self.local_path_body
        if path == "/":
            return 200, "text/html", ('<html><head><title>Warta Lokal</title><link rel="alternate" type="application/rss+xml" '
                                      'href="/rss.xml"></head><body><h1>Warta Lokal</h1></body></html>')
        for story in self.stories + TRICKY_STORIES:
            if path == story.path:
                return 200, "text/html", article_page(story, self.base)
        if path == COPY_OF_FIRST:
            return 200, "text/html", article_page(replace(self.stories[0], path=COPY_OF_FIRST), self.base)
        if path == "/berita/galat-server":
            return 500, "text/plain", "galat"
        if path == "/berita/tanpa-artikel":
            return 200, "text/html", "<html><head><title>Indeks</title></head><body><nav><a href='/'>Beranda</a></nav></body></html>"
        return 404, "text/plain", "tidak ditemukan"

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                site.hits[path] += 1
                if path.startswith("/berita/"):
                    site.times.append(time.monotonic())
                site.user_agents.add(self.headers.get("User-Agent", ""))
                if path == "/berita/lambat":
                    time.sleep(site.slow_seconds)
                if path == "/berita/menetes":  # a page sent a few bytes at a time, each well within a timeout
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", "60")
                    self.end_headers()
                    for _ in range(20):
                        try:
                            self.wfile.write(b"<p>tes</p>"[:3])
                            self.wfile.flush()
                        except (BrokenPipeError, ConnectionResetError):
                            return
                        time.sleep(0.2)
                    return
                if path == "/putar":  # redirects to itself, for ever
                    self.send_response(302)
                    self.send_header("Location", "/putar")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, kind, body = site.page(path)
                data = body if isinstance(body, bytes) else body.encode("utf-8")
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                if kind.endswith("xml") and self.headers.get("If-None-Match") == etag:
                    status, data = 304, b""
                site.status[status] += 1
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", f"{kind}; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    if kind.endswith("xml"):
                        self.send_header("ETag", etag)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the slow page)

            def log_message(self, *args) -> None:
                pass

        return Handler
