"""PDF and Word files in the corpus: read, indexed, and cited with their page (rag/documents.py).

The fixture documents are generated here (fpdf2 writes the PDFs, python-docx the Word file),
so the known sentence really stands on page 3 of a real PDF.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from rag.answer import Assistant
from rag.corpus import load_corpus
from rag.documents import page_of
from rag.indexer import build_index
from rag.retriever import Retriever

KNOWN = "Inflasi tahunan Kabupaten Sleman pada Juli tercatat 3,08 persen menurut Badan Pusat Statistik."
FILLER = ("Laporan ini membahas kegiatan ekonomi daerah selama satu bulan terakhir. "
          "Pemerintah daerah terus memantau harga bahan pokok di pasar tradisional.")


def write_pdf(path: Path, pages: list[str], title: str | None = "Laporan Ekonomi Sleman Juli 2023") -> Path:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_creation_date(dt.datetime(2023, 8, 2, tzinfo=dt.timezone.utc))
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 7, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def write_scan(path: Path) -> Path:
    """A PDF like a scan: a page with only a drawing on it, no text layer."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 160, style="F")
    path.write_bytes(bytes(pdf.output()))
    return path


def write_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = "Humas Kementerian"
    document.core_properties.created = dt.datetime(2023, 9, 14)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def cut_part(path: Path, part: str) -> Path:
    """The Word file at `path` with its XML part `part` cut in half: a valid zip holding broken XML."""
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    parts[part] = parts[part][: len(parts[part]) // 2]
    with zipfile.ZipFile(path, "w") as damaged:
        for name, data in parts.items():
            damaged.writestr(name, data)
    return path


@pytest.fixture()
def document_corpus(settings):
    corpus = settings.corpus_dir
    pages = [f"Halaman {n}. {FILLER}" for n in (1, 2)] + [f"{FILLER} {KNOWN}", f"Halaman 4. {FILLER}"]
    write_pdf(corpus / "laporan-sleman.pdf", pages)
    write_docx(corpus / "siaran-pers.docx", "Program Beasiswa Diperluas",
               ["Kementerian Pendidikan memperluas program beasiswa untuk 20.000 mahasiswa baru.",
                "Pendaftaran dibuka mulai 1 Oktober 2023 melalui laman resmi kementerian."])
    write_scan(corpus / "pindaian.pdf")
    (corpus / "rusak.pdf").write_bytes(b"%PDF-1.4\nbukan pdf sungguhan")
    (corpus / "rusak.docx").write_bytes(b"PK\x03\x04 bukan docx")
    # damage that breaks the parsers in other ways than "not a PDF / not a zip": one problem each, the build goes on
    unknown_filter = write_pdf(corpus / "filter.pdf", [FILLER]).read_bytes().replace(b"/FlateDecode", b"/FlateDecodX")
    (corpus / "filter.pdf").write_bytes(unknown_filter)  # pypdf: NotImplementedError
    for part, name in (("word/document.xml", "isi-rusak.docx"), ("docProps/core.xml", "properti-rusak.docx")):
        cut_part(write_docx(corpus / name, "Judul", [FILLER]), part)  # lxml: XMLSyntaxError
    return settings


def test_pdf_and_docx_become_articles_with_metadata_and_pages(document_corpus):
    scan = load_corpus(document_corpus.corpus_dir)
    articles = {a.id: a for a in scan.articles}
    assert set(articles) == {"laporan-sleman.pdf", "siaran-pers.docx"}
    pdf = articles["laporan-sleman.pdf"]
    assert pdf.title == "Laporan Ekonomi Sleman Juli 2023" and pdf.published == dt.date(2023, 8, 2)
    starts = pdf.metadata["pages"]
    assert len(starts) == 4 and pdf.text[starts[2]:].startswith(FILLER[:40])
    assert starts[2] < pdf.text.index("Inflasi tahunan") < starts[3]
    assert [page_of(pdf, starts[2] - 1), page_of(pdf, starts[2]), page_of(pdf, len(pdf.text))] == [2, 3, 4]
    word = articles["siaran-pers.docx"]
    assert word.title == "Program Beasiswa Diperluas" and word.published == dt.date(2023, 9, 14)
    assert word.metadata["author"] == "Humas Kementerian" and "20.000 mahasiswa" in word.text
    problems = {p.path: p.reason for p in scan.problems}
    assert problems["pindaian.pdf"] == "no text layer in 1 page(s); OCR is not supported"
    assert problems["rusak.pdf"].startswith("not a readable PDF")
    assert problems["rusak.docx"].startswith("not a readable Word document")
    assert problems["filter.pdf"] == "not a readable PDF (Unsupported filter /FlateDecodX)"
    assert problems["isi-rusak.docx"].startswith("not a readable Word document (")
    assert problems["properti-rusak.docx"].startswith("not a readable Word document (")


def test_a_pdf_without_title_takes_its_headline(tmp_path):
    path = write_pdf(tmp_path / "rilis.pdf", ["Rilis Pers Bank Indonesia\n" + FILLER, KNOWN], title=None)
    article = load_corpus(tmp_path).articles[0]
    assert article.title == "Rilis Pers Bank Indonesia" and article.text.startswith("Laporan ini")
    assert path.name == article.id and article.metadata["pages"][1] == article.text.index("Inflasi")


def test_a_pdf_with_a_cover_page_of_one_line_cites_the_right_pages(tmp_path):
    """A cover page holding only the report's name, and no Title property: the headline was cut
    from the joined text after the pages' offsets were taken, so every quote was cited a page early."""
    write_pdf(tmp_path / "laporan.pdf", ["Laporan Tahunan Dinas Pertanian 2023", FILLER, KNOWN], title=None)
    article = load_corpus(tmp_path).articles[0]
    assert article.title == "Laporan Tahunan Dinas Pertanian 2023"
    assert page_of(article, article.text.index("Laporan ini")) == 2 and page_of(article, article.text.index("Inflasi")) == 3
    write_pdf(tmp_path / "laporan.pdf", ["Laporan tahunan ini disusun oleh dinas.", FILLER, KNOWN], title=None)  # no headline
    article = load_corpus(tmp_path).articles[0]
    assert article.title == "Laporan" and page_of(article, article.text.index("Inflasi")) == 3  # from the file name


def test_documents_are_indexed_and_cited_with_the_page(document_corpus, embedder):
    report = build_index(document_corpus, embedder)
    assert report.added == 2 and report.failed == 6
    assistant = Assistant(Retriever(document_corpus.index_dir, embedder, document_corpus), document_corpus)
    answer = assistant.answer("Berapa inflasi tahunan Kabupaten Sleman pada Juli?")
    first = answer.citations[0]
    assert not answer.abstained and first.article_id == "laporan-sleman.pdf"
    assert "3,08 persen" in first.sentence and first.page == 3
    answer = assistant.answer("Berapa mahasiswa baru yang mendapat beasiswa kementerian?")
    assert answer.citations[0].article_id == "siaran-pers.docx" and answer.citations[0].page is None
    # a search hit (rag search --json, GET /api/search, the LangChain documents) names the page its passage starts on
    hit = assistant.retriever.search("inflasi tahunan Sleman Juli", k=1)[0]
    starts = hit.article.metadata["pages"]  # where each page's text begins in the article
    assert "Inflasi tahunan" in hit.text and hit.to_json(1)["page"] == bisect.bisect_right(starts, hit.start)
