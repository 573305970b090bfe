"""Reading articles: formats, normalisation, ids, and one clear problem per bad file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

from conftest import write

from rag.corpus import load_corpus


def only(scan, article_id):
    return next(a for a in scan.articles if a.id == article_id)


def test_markdown_front_matter_and_metadata(tmp_path):
    write(tmp_path / "news/a.md", "---\ntitle: Banjir di Jakarta\nsource: Kompas\nurl: https://x.id/a\n"
          "published: 2024-02-03\nlanguage: id\ncategory: bencana\n---\n\nHujan deras turun. Air naik.\n")
    scan = load_corpus(tmp_path)
    article = only(scan, "news/a.md")
    assert (article.title, article.source, article.url) == ("Banjir di Jakarta", "Kompas", "https://x.id/a")
    assert article.published == dt.date(2024, 2, 3)
    assert article.metadata == {"category": "bencana"}
    assert article.text == "Hujan deras turun. Air naik."
    assert len(article.sha256) == 64 and not scan.problems


def test_title_from_headline_line_or_file_name(tmp_path):
    write(tmp_path / "headline.txt", "Gempa Guncang Sumatra\nGempa terjadi pagi ini. Warga panik.")
    write(tmp_path / "no_headline.txt", "Gempa terjadi pagi ini. Warga panik.")
    scan = load_corpus(tmp_path)
    assert only(scan, "headline.txt").title == "Gempa Guncang Sumatra"
    assert only(scan, "headline.txt").text == "Gempa terjadi pagi ini. Warga panik."
    assert only(scan, "no_headline.txt").title == "No headline"


def test_bom_windows_line_endings_and_nfc(tmp_path):
    (tmp_path / "a.txt").write_bytes("\ufeffJudul\r\nKafe\u0301 buka. Ramai.\r\n".encode())
    article = load_corpus(tmp_path).articles[0]
    assert article.title == "Judul"
    assert article.text == "Kafé buka. Ramai."


def test_content_hash_follows_content_not_file_bytes(tmp_path):
    write(tmp_path / "a.txt", "Judul\nIsi berita.")
    first = load_corpus(tmp_path).articles[0].sha256
    (tmp_path / "a.txt").write_bytes(b"Judul\r\nIsi berita.\r\n")
    assert load_corpus(tmp_path).articles[0].sha256 == first
    write(tmp_path / "a.txt", "Judul\nIsi berita lain.")
    assert load_corpus(tmp_path).articles[0].sha256 != first


def test_jsonl_ids_bad_lines_and_duplicates(tmp_path):
    lines = [
        json.dumps({"id": "berita-1", "title": "Satu", "text": "Teks satu."}),
        "{not json",
        json.dumps({"title": "Tanpa teks"}),
        json.dumps({"body": "Teks dua dari body."}),
        json.dumps({"id": "berita-1", "text": "Duplikat."}),
        '{"title": "Cuitan \\ud83d", "text": "Setengah emoji: semua pembaruan indeks berhenti di sini."}',
        '{"title": "Cuitan \\ud83d\\ude00", "text": "Emoji utuh."}',
    ]
    write(tmp_path / "feed.jsonl", "\n".join(lines))
    scan = load_corpus(tmp_path)
    assert sorted(a.id for a in scan.articles) == ["berita-1", "feed.jsonl#4", "feed.jsonl#7"]
    problems = {(p.line, p.reason.split(" (")[0]) for p in scan.problems}
    assert (2, "not valid JSON") in problems
    assert (6, "half a character") in problems
    assert (3, "no 'text'") in problems
    assert any("duplicate article id 'berita-1'" in p.reason for p in scan.problems)


def test_a_field_over_its_limit_is_a_problem_of_its_own_article(tmp_path):
    """An outlet of 1,100 characters stopped every build of a Milvus index with a traceback (its
    column holds 1,024 bytes): every door now holds the page's and the API's limits."""
    lines = [json.dumps({"id": "baik", "title": "Baik", "text": "Isi."}),
             json.dumps({"id": "panjang", "title": "Panjang", "source": "K" * 1100, "text": "Isi."}),
             json.dumps({"id": "x" * 600, "title": "Id panjang", "text": "Isi."}),
             json.dumps({"id": "dua", "source": ["Kompas", "Antara"], "text": "Isi."}),  # was the outlet "['Kompas', 'Antara']"
             json.dumps({"id": 0, "title": "Nol", "text": "Isi."})]  # an id, not a missing one (was kiriman.jsonl#5)
    write(tmp_path / "kiriman.jsonl", "\n".join(lines))
    scan = load_corpus(tmp_path)
    assert [a.id for a in scan.articles] == ["baik", "0"]
    assert [str(p) for p in scan.problems] == [
        "kiriman.jsonl:2: source is 1100 characters, over the 200 limit. Shorten it to the limit.",
        "kiriman.jsonl:3: id is 600 characters, over the 500 limit. Shorten it to the limit.",
        "kiriman.jsonl:4: 'source' is a list or a mapping, not text. Write it as text, e.g. source: Kompas (one outlet)."]


def test_html_through_trafilatura(tmp_path):
    body = " ".join(["Pemerintah mengumumkan kebijakan baru tentang harga beras di pasar tradisional."] * 6)
    write(tmp_path / "page.html", f"<html><head><title>Harga Beras Turun</title>"
          f'<meta property="og:site_name" content="Warta"></head><body><nav>Menu</nav>'
          f"<article><h1>Harga Beras Turun</h1><p>{body}</p><p>{body}</p></article></body></html>")
    article = load_corpus(tmp_path).articles[0]
    assert article.title == "Harga Beras Turun"
    assert "kebijakan baru" in article.text and "Menu" not in article.text


def test_bad_files_are_reported_and_never_stop_the_rest(tmp_path):
    write(tmp_path / "good.md", "Berita Baik\nIsi yang baik.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK")
    (tmp_path / "latin1.txt").write_bytes("Judul\nCaf\xe9 buka.".encode("latin-1"))
    write(tmp_path / "empty.md", "")
    write(tmp_path / "only_front.md", "---\ntitle: Kosong\n---\n")
    write(tmp_path / "bad_yaml.md", "---\ntitle: [tidak ditutup\n---\nIsi.")
    write(tmp_path / "python_tag.md", "---\ntitle: !!python/object/apply:os.system ['echo pwned']\n---\nIsi.")
    write(tmp_path / "bad_date.md", "---\ntitle: Kemarin\nsource: Kompas\npublished: kemarin\n---\nIsi.")
    write(tmp_path / "long_source.md", "---\ntitle: Panjang\nsource: " + "K" * 300 + "\n---\nIsi.")
    write(tmp_path / "picture.png", "not an article")
    os.symlink("/etc/hostname", tmp_path / "outside.txt")
    scan = load_corpus(tmp_path)
    assert [a.id for a in scan.articles] == ["good.md"]
    reasons = {p.path: str(p) for p in scan.problems}
    assert "binary" in reasons["binary.txt"]
    assert "not valid UTF-8" in reasons["latin1.txt"] and "latin1.txt:2" in reasons["latin1.txt"]
    assert "no text" in reasons["empty.md"] and "no text" in reasons["only_front.md"]
    assert "not valid YAML" in reasons["bad_yaml.md"] and "bad_yaml.md:2" in reasons["bad_yaml.md"]
    assert "not valid YAML" in reasons["python_tag.md"]
    assert "ISO date" in reasons["bad_date.md"] and "bad_date.md:4:" in reasons["bad_date.md"]  # the field's line, not the body's (6)
    assert reasons["long_source.md"].startswith("long_source.md:3: source is 300 characters")
    assert "outside the corpus" in reasons["outside.txt"]
    assert scan.ignored == ["picture.png"]
    # every problem says what to do: a hint of its own, a sentence of a few words, printed after the reason
    assert all(len(p.hint.split()) >= 3 and p.hint[0].isupper() and p.hint.endswith(".") for p in scan.problems)
    assert all(str(p).endswith(f"{p.reason}. {p.hint}") for p in scan.problems)


def test_oversized_file_is_refused(tmp_path):
    write(tmp_path / "big.txt", "Judul\n" + "kata " * 1000)
    scan = load_corpus(tmp_path, max_file_bytes=1000)
    assert not scan.articles and "over the" in str(scan.problems[0])


def test_records_of_one_jsonl_file_deleted_at_once_are_all_gone_and_the_others_stay(tmp_path):
    """Deletes from the page and the API may come together: each empties its record's line under a
    lock on the file, so none brings back a record another one took out; a UTF-16 file is refused."""
    from concurrent.futures import ThreadPoolExecutor

    import pytest

    from rag.corpus import read_file
    from rag.corpus_files import remove_article_file
    from rag.problems import ArticleError

    corpus = tmp_path / "corpus"
    lines = [json.dumps({"title": f"Kabar {n}", "text": f"Kabar nomor {n} dari Bandung."}) for n in range(40)]
    path = write(corpus / "kabar.jsonl", "\n".join(lines) + "\n")
    articles, _ = read_file(path, "kabar.jsonl", 2**20)
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lambda article: remove_article_file(corpus, article), articles[::2]))
    left, problems = read_file(path, "kabar.jsonl", 2**20)
    assert [a.id for a in left] == [a.id for a in articles[1::2]] and not problems
    assert path.read_text().split("\n")[1::2] == lines[1::2]  # the others as they were, on their lines
    assert not remove_article_file(corpus, articles[0])  # deleted already
    for encoding in ("utf-16", "utf-16-le"):  # with a BOM and without: refused, the file as it was
        wide = write(corpus / "lebar.jsonl", "")
        wide.write_bytes(("\r\n".join(lines[:3]) + "\r\n").encode(encoding))
        before = wide.read_bytes()
        record = read_file(wide, "lebar.jsonl", 2**20)[0][1]
        with pytest.raises(ArticleError, match="UTF-16"):
            remove_article_file(corpus, record)
        assert wide.read_bytes() == before



def test_deleting_an_article_that_is_a_link_removes_the_link_not_the_article_it_points_to(tmp_path):
    """A corpus may hold a link to one of its own files (read as an article of its own): deleting
    that article removed the file it pointed to, another article, and left the link broken."""
    from rag.corpus import load_corpus
    from rag.corpus_files import remove_article_file

    corpus = tmp_path / "corpus"
    real = write(corpus / "asli.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta.")
    os.symlink("asli.md", corpus / "tautan.md")
    link = next(a for a in load_corpus(corpus).articles if a.id == "tautan.md")
    assert remove_article_file(corpus, link)
    assert not os.path.lexists(corpus / "tautan.md") and real.read_text().endswith("banjir di Jakarta.")
    assert [a.id for a in load_corpus(corpus).articles] == ["asli.md"]


def test_uploads_of_one_name_at_once_keep_one_file_whole_and_refuse_the_others(tmp_path):
    """The page and the API may save a file of the same name at the same moment: one is stored
    whole, every other is told the name exists, and no upload's temporary file is left behind
    (they once shared one temporary name, and a late one wrote over a file saved meanwhile)."""
    from concurrent.futures import ThreadPoolExecutor

    from rag.corpus_files import save_article_file
    from rag.problems import ArticleError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = [f"---\ntitle: Kiriman {n}\n---\n" + f"Kiriman nomor {n} dari Bandung. " * 2000 for n in range(8)]

    def upload(text: str) -> str:
        try:
            save_article_file(corpus, "kiriman.md", text.encode())
            return "saved"
        except ArticleError as error:
            return error.key

    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(upload, texts))
        assert sorted(outcomes) == ["exists"] * 7 + ["saved"], outcomes
        assert (corpus / "kiriman.md").read_text() == texts[outcomes.index("saved")]
        assert [p.name for p in corpus.iterdir()] == ["kiriman.md"]
        (corpus / "kiriman.md").unlink()


def test_an_upload_the_disk_cannot_hold_leaves_no_half_file_behind(tmp_path):
    """The disk fills while an upload is written (here files may grow to 64 KiB: EFBIG, as ENOSPC
    on a full disk): the write fails and no half-written temporary file stays in the corpus."""
    import resource
    import signal

    import pytest

    from rag.corpus_files import article_markdown, save_article_file

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    data = article_markdown("Laporan Panjang", "Laporan tahunan dinas pertanian Garut. " * 5000)  # ~200 KB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError):
            save_article_file(corpus, "laporan.md", data)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert list(corpus.iterdir()) == []


def test_an_upload_with_a_long_name_keeps_its_kind_and_fits_the_disk(tmp_path):
    """A 130-character name lost its ".md" (cut at 120 characters): "saved", but never indexed; a
    JSONL file's records became one article of raw JSON. A long name in Japanese was over the
    disk's 255 bytes."""
    from rag.corpus_files import save_article_file

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = b'{"title": "Satu", "text": "Isi berita pertama."}\n{"title": "Dua", "text": "Isi berita kedua."}\n'
    for name, data in (("laporan-" * 16 + ".md", b"---\ntitle: Laporan\n---\nIsi laporan panjang.\n"),
                       ("kiriman-" * 16 + ".jsonl", records),
                       ("能登半島地震の復興支援" * 10 + ".md", b"---\ntitle: Noto\n---\nIsi berita tentang Noto.\n")):
        path, articles = save_article_file(corpus, name, data)
        assert path.suffix == Path(name).suffix and len(path.name.encode()) <= 160, path.name
    assert sorted(a.title for a in load_corpus(corpus).articles) == ["Dua", "Laporan", "Noto", "Satu"]


def test_a_name_is_the_same_whether_the_page_cleaned_it_first_or_not():
    """The page hands us the name Gradio cleaned, the API the name as sent: both must give one file
    name (checked against the Gradio this project installs, so an upgrade that changes its rule
    shows here)."""
    from gradio_client.utils import strip_invalid_filename_characters

    from rag.corpus_files import safe_file_name

    for name in ("Banjir: Demak?.md", "a|b{c}$d!`e*.txt", "?.md", "«Kompas» (2023) #1.md", 'kata "kunci" <x>.jsonl',
                 "con.md", "Nul .tar.md", "console.md", "laporan.md.", "tab\there.md", "能登: 地震?.md", "x" * 300 + ".md"):
        assert safe_file_name(name) == safe_file_name(strip_invalid_filename_characters(name)), name


def test_a_record_named_by_its_line_is_not_deleted_once_another_record_took_that_line(tmp_path):
    """The index knows `kabar.jsonl#2` as "Kabar 1"; a line above it was removed by hand since, so
    line 2 holds "Kabar 2": the delete is refused (update first), and a line of a megabyte or more
    beside the one emptied stays byte for byte."""
    import pytest

    from rag.corpus import read_file
    from rag.corpus_files import remove_article_file
    from rag.problems import ArticleError

    corpus = tmp_path / "corpus"
    lines = [json.dumps({"title": f"Kabar {n}", "text": f"Kabar nomor {n} dari Bandung." + " Panjang." * (200_000 if n == 3 else 0)})
             for n in range(4)]
    path = write(corpus / "kabar.jsonl", "\r\n".join(lines) + "\r\n")
    indexed = read_file(path, "kabar.jsonl", 2**24)[0]
    edited = ("\r\n".join(lines[1:]) + "\r\n").encode()
    path.write_bytes(edited)  # "Kabar 0" removed by hand: each record a line up
    with pytest.raises(ArticleError, match="no longer on its line"):
        remove_article_file(corpus, indexed[1], 2**24)
    assert path.read_bytes() == edited
    now = read_file(path, "kabar.jsonl", 2**24)[0]
    assert remove_article_file(corpus, now[0], 2**24)  # as the index would know it after an update
    assert path.read_bytes() == ("\r\n" + "\r\n".join(lines[2:]) + "\r\n").encode()


def test_an_articles_fields_are_edited_in_its_file_and_its_text_reads_as_before(tmp_path):
    """A title, outlet or date set where the file says them: a text file whose headline was its first
    line gets front matter with that title (the line leaves the body, so the text reads as before);
    a JSONL record's date goes where it writes it; a PDF's, DOCX's or HTML's fields are their own."""
    import pytest

    from rag.corpus import read_file
    from rag.corpus_files import edit_article_fields, remove_article_file
    from rag.problems import ArticleError

    corpus = tmp_path / "corpus"
    plain = write(corpus / "gempa.txt", "Gempa Padang\r\nGempa mengguncang Padang pada Senin. Tidak ada korban.\r\n")
    before = read_file(plain, "gempa.txt", 2**20)[0][0]
    assert before.title == "Gempa Padang"
    assert edit_article_fields(corpus, before, {"title": "Gempa di Padang", "source": "Antara", "published": "2024-03-04"})
    after = read_file(plain, "gempa.txt", 2**20)[0][0]
    assert (after.title, after.source, after.published_iso, after.text) == ("Gempa di Padang", "Antara", "2024-03-04", before.text)
    assert edit_article_fields(corpus, after, {"source": ""})  # removed
    assert read_file(plain, "gempa.txt", 2**20)[0][0].source is None
    # only the lines of the keys changed: comments, other values, the BOM and CRLF endings stay; no line is added
    kept = "\ufeff---\r\ntitle: Banjir\r\n# dari arsip lama\r\nkode: 0123\r\npublished: 2023-01-01\r\ndate: 2022-12-31\r\n---\r\nBanjir di Demak.\r\n"
    marked = write(corpus / "banjir.md", "")
    marked.write_bytes(kept.encode())
    for change in ({"source": "Kompas"}, {"source": "Tempo"}, {"published": ""}):
        assert edit_article_fields(corpus, read_file(marked, "banjir.md", 2**20)[0][0], change)
    assert marked.read_bytes() == kept.replace("published: 2023-01-01\r\ndate: 2022-12-31\r\n", "source: Tempo\r\n").encode()
    record = write(corpus / "k.jsonl", '{"id": "k-1", "title": "Asap", "text": "Asap di Riau.", "date": "2023-02-01", "penulis": "Ani"}')
    article = read_file(record, "k.jsonl", 2**20)[0][0]
    assert edit_article_fields(corpus, article, {"published": "2023-02-03"})
    assert record.read_text() == '{"id": "k-1", "title": "Asap", "text": "Asap di Riau.", "date": "2023-02-03", "penulis": "Ani"}'
    lines = write(corpus / "n.jsonl", '{"title": "Satu", "text": "Isi satu."}\n{"title": "Dua", "text": "Isi dua."}\n')
    indexed = read_file(lines, "n.jsonl", 2**20)[0][1]  # named by its line: edited twice as the index knows it, then deleted
    assert edit_article_fields(corpus, indexed, {"source": "Antara"}) and edit_article_fields(corpus, indexed, {"url": "https://a.id/2"})
    assert remove_article_file(corpus, indexed) and lines.read_text() == '{"title": "Satu", "text": "Isi satu."}\n\n'
    for bad, match in (({"published": "kemarin"}, "ISO date"), ({"title": " "}, "keeps a title")):
        with pytest.raises(ArticleError, match=match):
            edit_article_fields(corpus, article, bad)
    page = write(corpus / "laman.html", "<html><body><p>Isi.</p></body></html>")
    with pytest.raises(ArticleError, match="HTML document"):
        edit_article_fields(corpus, dataclasses.replace(article, id="laman.html", path="laman.html"), {"source": "X"})
    assert page.read_text() == "<html><body><p>Isi.</p></body></html>"


def test_a_corpus_named_by_a_file_is_said_to_be_one(tmp_path):
    """`--corpus questions.jsonl` (a file for a folder) was said not to exist."""
    import pytest

    write(tmp_path / "berita.jsonl", '{"title": "A", "text": "B."}\n')
    with pytest.raises(FileNotFoundError, match="berita.jsonl is a file, not a folder; create it, or name another"):
        load_corpus(tmp_path / "berita.jsonl")
