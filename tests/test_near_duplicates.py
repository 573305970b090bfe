"""Wire copy republished by several outlets (rag/near_duplicates.py): all copies are indexed,
answers cite the earliest published one and list the others."""

from __future__ import annotations

from conftest import write
from rag.answer import Assistant
from rag.indexer import build_index
from rag.near_duplicates import estimated_jaccard, signature
from rag.retriever import Filters, Retriever

STORY = ("Pemerintah Kabupaten Sigi menetapkan status tanggap darurat selama 14 hari setelah banjir bandang menerjang "
         "tiga desa pada Rabu dini hari. Kepala Badan Penanggulangan Bencana Daerah Sigi, Asrul Repadjori, mengatakan "
         "sebanyak 412 rumah rusak dan 1.200 warga mengungsi ke tenda darurat. Bantuan logistik dari Palu tiba pada Kamis "
         "pagi dan dibagikan melalui posko di balai desa. Warga diminta menjauhi bantaran sungai karena hujan diperkirakan "
         "masih turun hingga akhir pekan.")
OTHER = ("Harga cabai rawit di Pasar Inpres Manonda, Palu, naik menjadi Rp 80.000 per kilogram menjelang Idul Adha. "
         "Pedagang menyebut pasokan dari Sigi berkurang karena akses jalan terputus.")


def article(title: str, source: str, published: str, text: str) -> str:
    return f"---\ntitle: {title}\nsource: {source}\npublished: {published}\n---\n{text}\n"


def test_copies_of_one_story_are_cited_once_as_the_earliest(settings, embedder):
    corpus = settings.corpus_dir
    write(corpus / "antara.md", article("Sigi Tetapkan Tanggap Darurat Banjir", "Antara", "2024-04-10", STORY))
    republished = "SIGI, KOMPAS.com - " + STORY.replace("Rabu dini hari", "Rabu (10/4/2024) dini hari") + " Baca juga: Banjir di Palu."
    write(corpus / "kompas.md", article("Banjir Bandang, Sigi Tetapkan Status Tanggap Darurat", "Kompas", "2024-04-11", republished))
    write(corpus / "detik.md", article("Tanggap Darurat Banjir Sigi", "Detik", "2024-04-12", STORY))
    write(corpus / "cabai.md", article("Harga Cabai di Palu Naik", "Antara", "2024-06-12", OTHER))
    assert estimated_jaccard(signature(STORY), signature(republished)) >= 0.7
    assert estimated_jaccard(signature(STORY), signature(OTHER)) < 0.2
    assert build_index(settings, embedder).added == 4  # every copy stays in the index

    retriever = Retriever(settings.index_dir, embedder, settings)
    hits = retriever.search("Berapa rumah rusak akibat banjir bandang di Sigi?", k=5)
    assert [h.article.id for h in hits] == ["antara.md", "cabai.md"]  # the story once, as its earliest copy
    assert [c["source"] for c in hits[0].copies()] == ["Detik", "Kompas"]

    answer = Assistant(retriever, settings).answer("Berapa rumah rusak akibat banjir bandang di Sigi?")
    assert answer.citations[0].article_id == "antara.md" and "412 rumah" in answer.citations[0].sentence
    assert {c["article_id"] for c in answer.sources[0].also_in} == {"kompas.md", "detik.md"}

    only_kompas = retriever.search("rumah rusak banjir Sigi", k=5, filters=Filters(sources=("Kompas",)))
    assert [h.article.id for h in only_kompas] == ["kompas.md"]  # a filter picks the earliest copy it allows

    (corpus / "antara.md").unlink()
    build_index(settings, embedder)
    hits = Retriever(settings.index_dir, embedder, settings).search("Berapa rumah rusak akibat banjir bandang di Sigi?", k=5)
    assert hits[0].article.id == "kompas.md" and [c["article_id"] for c in hits[0].copies()] == ["detik.md"]
