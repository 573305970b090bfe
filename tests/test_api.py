"""The HTTP API against the real server on loopback: reads, auth, bounds, streaming, updates."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import PROJECT, text_on_disk
from server import AppServer, serve_in_thread

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = PROJECT / "corpus" / "000_b0a4adb478896665.md"
QUESTION = "Apa yang dikatakan Lavrov tentang perluasan NATO?"

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("api"), token=TOKEN) as running:
        yield running


@pytest.fixture()
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def test_health_and_openapi(http):
    health = http.get("/api/health").json()
    assert health["status"] == "ok" and health["articles"] == 1 and health["model"] == "intfloat/multilingual-e5-small"
    for _ in range(120):  # the reader loads in the background while the server already answers
        if health["answers"] != "reader (loading)":
            break
        time.sleep(0.5)
        health = http.get("/api/health").json()
    assert health["answers"] in ("reader (bf16)", "reader (fp32)")
    spec = http.get("/openapi.json").json()
    assert {"/api/search", "/api/ask", "/api/articles", "/api/index/update"} <= set(spec["paths"])
    ask = spec["paths"]["/api/ask"]["post"]["responses"]
    assert ask["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AnswerOut"}
    assert "text/event-stream" in ask["200"]["content"] and {"400", "413", "422"} <= set(ask)
    assert {"401", "403", "409", "413", "422"} <= set(spec["paths"]["/api/articles/upload"]["post"]["responses"])
    assert http.get("/docs").status_code == 200


def test_the_api_docs_describe_every_operation_parameter_and_field(http):
    """/docs is where a developer learns the API: each operation says what it does, each query
    parameter and each request field what it means, and asking has an example to try."""
    spec = http.get("/openapi.json").json()
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(operations) >= 9
    for path, method, op in operations:
        assert op.get("description"), f"{method.upper()} {path} has no description"
        for parameter in op.get("parameters", []):
            if parameter["in"] == "query":
                assert parameter.get("description"), f"{method.upper()} {path}: ?{parameter['name']} has no description"
    for name in ("AskIn", "FiltersIn", "Turn", "ArticleIn"):
        model = spec["components"]["schemas"][name]
        assert model.get("description"), name
        assert all(field.get("description") for field in model["properties"].values()), name
    example = spec["components"]["schemas"]["AskIn"]["examples"][0]
    answer = http.post("/api/ask", json=example).json()  # what the seed article answers, read with the question before it
    assert not answer["abstained"] and "NATO" in answer["citations"][0]["sentence"], answer


def test_one_version_everywhere(http):
    """pyproject.toml's version is the API's (health, OpenAPI) and `rag --version`'s."""
    import subprocess
    import sys
    import tomllib

    version = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    assert http.get("/api/health").json()["version"] == version
    assert http.get("/openapi.json").json()["info"]["version"] == version
    cli = subprocess.run([sys.executable, "-m", "rag", "--version"], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert cli.stdout.strip() == f"python -m rag {version}"


def test_k_is_bounded_by_the_servers_max_k(http):
    too_many = http.post("/api/ask", json={"question": "Siapa juru bicara Kremlin?", "k": 51})
    assert too_many.status_code == 422 and "RAG_MAX_K" in too_many.text  # the server's RAG_MAX_K: 50 by default
    assert http.post("/api/ask", json={"question": "Siapa juru bicara Kremlin?", "k": 50}).status_code == 200


def test_a_period_that_ends_before_it_starts_is_refused_saying_so(http):
    search = http.get("/api/search", params={"q": "NATO", "since": "2023-08-01", "until": "2023-01-01"})
    ask = http.post("/api/ask", json={"question": "Siapa juru bicara Kremlin?",
                                      "filters": {"since": "2023-08-01", "until": "2023-01-01"}})
    for response in (search, ask):
        assert response.status_code == 422 and "before it starts" in response.text, response.text
    misspelt = http.post("/api/ask", json={"question": "Siapa juru bicara Kremlin?", "filters": {"sources": ["AlJazeera"]}})
    assert misspelt.json()["abstained"] and "Al Jazeera" in misspelt.json()["answer"]


def test_search_with_filters(http):
    results = http.get("/api/search", params={"q": "perluasan NATO", "k": 3}).json()["results"]
    assert results[0]["article_id"] == "000_b0a4adb478896665.md" and results[0]["source"] == "Al Jazeera"
    assert http.get("/api/search", params={"q": "NATO", "since": "2024-01-01"}).json()["results"] == []
    assert http.get("/api/search", params={"q": "NATO", "source": "al jazeera"}).json()["results"]


def test_a_phrase_in_quotes_is_counted_and_the_list_runs_by_date(http):
    found = http.get("/api/search", params={"q": '"Dmitry Peskov" Kremlin', "order": "newest"}).json()
    assert found["phrases"] == ["Dmitry Peskov"] and found["holding"] == 1 and found["order"] == "newest"
    assert found["holding_by_year"] == {"2023": 1}
    assert "Dmitry Peskov" in found["results"][0]["text"]  # the passage that holds it
    missing = http.get("/api/search", params={"q": '"Peskov Dmitry"'}).json()
    assert missing["holding"] == 0 and missing["holding_by_year"] == {} and missing["results"] == []  # a count, not null
    plain = http.get("/api/search", params={"q": "Peskov"}).json()
    assert plain["phrases"] == [] and plain["holding"] is None and plain["holding_by_year"] is None and plain["order"] == "relevance"
    lacking = http.get("/api/search", params={"q": "Peskov -Lavrov"}).json()  # the seed article names Lavrov too
    assert lacking["excluded"] == ["Lavrov"] and lacking["holding"] == 0 and lacking["results"] == []
    kept = http.get("/api/search", params={"q": "Peskov -Jokowi"}).json()  # ... but not him
    assert kept["excluded"] == ["Jokowi"] and kept["holding"] == 1 and len(kept["results"]) == 1
    clash = http.get("/api/search", params={"q": '"Dmitry Peskov" -Peskov'})  # no article can be listed: said why
    assert clash.status_code == 422 and 'q: the phrase "Dmitry Peskov" holds "Peskov"' in clash.json()["detail"]


@pytest.mark.parametrize("params, field", [({"q": ""}, "q"), ({"q": "x" * 1001}, "q"), ({"q": "NATO", "k": 0}, "k"),
                                           ({"q": "NATO", "k": 51}, "k"), ({"q": "NATO", "since": "kemarin"}, "since"),
                                           ({"q": "NATO", "order": "latest"}, "order"), ({"q": '""'}, "q"),
                                           ({"q": "-NATO"}, "q")])
def test_bad_search_inputs_are_4xx_naming_the_field(http, params, field):
    response = http.get("/api/search", params=params)
    assert response.status_code == 422 and field in json.dumps(response.json())


def test_a_blank_query_is_refused(http):
    response = http.get("/api/search", params={"q": "   "})
    assert response.status_code == 422 and response.json()["detail"].startswith("q: the query is empty")


@pytest.mark.parametrize("body, field", [({"question": "Siapa juru bicara Kremlin?", "filters": {"source": ["Kompas"]}}, "source"),
                                         ({"question": "Siapa juru bicara Kremlin?", "filter": {"sources": ["Kompas"]}}, "filter"),
                                         ({"question": "Siapa juru bicara Kremlin?", "stream": True}, "stream")])
def test_a_field_the_api_does_not_know_is_refused_not_ignored(http, body, field):
    response = http.post("/api/ask", json=body)  # ignored, the answer would come from outlets the client left out
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == field
    article = {"title": "Banjir", "text": "Banjir melanda Demak.", "date": "2024-03-02"}
    response = http.post("/api/articles", json=article, headers=AUTH)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "date"


def test_an_article_saved_but_not_indexed_yet_can_be_deleted(http, server):
    article = {"title": "Coba Salah", "text": "Artikel yang salah unggah."}
    assert http.post("/api/articles", json=article, headers=AUTH).status_code == 201
    assert http.delete("/api/articles/coba-salah.md", headers=AUTH).status_code == 200  # before any update
    assert not (server.corpus / "coba-salah.md").exists()
    again = http.delete("/api/articles/coba-salah.md", headers=AUTH)
    assert again.status_code == 404 and "coba-salah.md" in again.json()["detail"]
    assert http.delete("/api/articles/..%2Fserver.log", headers=AUTH).status_code == 404  # beside the corpus, not in it
    assert server.log.exists()


@pytest.mark.parametrize("question", ["   ", "\x1f", "x" * 1001])  # pydantic does not strip U+001C-U+001F, Python does
def test_a_blank_or_overlong_question_is_refused_naming_the_field(http, question):
    response = http.post("/api/ask", json={"question": question})
    assert response.status_code == 422 and "question" in json.dumps(response.json())


def test_ask_returns_cited_answer(http, server):
    body = http.post("/api/ask", json={"question": QUESTION}).json()
    assert not body["abstained"] and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert "Lavrov" in citation["sentence"]
    assert body["short_answer"] is None and 0 < body["confidence"] <= 1  # what Lavrov said: the quote is the answer
    factoid = http.post("/api/ask", json={"question": "Siapa juru bicara Kremlin?"}).json()
    assert factoid["short_answer"] == "Dmitry Peskov" and factoid["short_answer"] in factoid["citations"][0]["sentence"]
    assert text_on_disk(server.corpus / citation["article_id"])[citation["start"] : citation["end"]] == citation["sentence"]
    assert http.post("/api/ask", json={"question": QUESTION, "mode": "llm"}).status_code == 400


def test_ask_streams_server_sent_events(http):
    with http.stream("POST", "/api/ask", params={"stream": "true"}, json={"question": QUESTION}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("event:")]
    assert events[0] == "event: token" and events[-1] == "event: answer"


def test_writes_need_the_token(http):
    article = {"title": "Banjir Jakarta", "text": "Banjir melanda Jakarta. Warga mengungsi."}
    assert http.post("/api/articles", json=article).status_code == 401
    assert http.post("/api/articles", json=article, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.post("/api/index/update").status_code == 401
    assert http.delete("/api/articles/000_b0a4adb478896665.md").status_code == 401


def test_writes_refused_without_a_configured_token(settings, embedder):
    from rag.answer import Assistant
    from rag.api import create_api
    from rag.articles import Archive
    from rag.indexer import IndexUpdater, build_index
    from rag.retriever import Retriever

    shutil.copy(SEED, settings.corpus_dir)
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    api = create_api(Assistant(retriever, settings), Archive(settings, retriever, IndexUpdater(settings, embedder), None))
    with serve_in_thread(api) as url:
        response = httpx.post(f"{url}/api/index/update", headers=AUTH)
    assert response.status_code == 403 and "RAG_API_TOKEN" in response.json()["detail"]


def test_pages_of_the_origins_allowed_may_call_the_api_from_the_browser(settings, embedder, monkeypatch):
    """RAG_CORS_ORIGINS lets a CMS page's script ask (and, with the token, write); other origins get no CORS headers."""
    from rag.answer import Assistant
    from rag.api import create_api
    from rag.articles import Archive
    from rag.config import get_settings
    from rag.indexer import IndexUpdater, build_index
    from rag.retriever import Retriever

    monkeypatch.setenv("RAG_CORS_ORIGINS", "https://cms.contoh.id/, https://intranet.contoh.id")
    settings = get_settings(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir)
    assert settings.cors_origins == ["https://cms.contoh.id", "https://intranet.contoh.id"]
    shutil.copy(SEED, settings.corpus_dir)
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    api = create_api(Assistant(retriever, settings), Archive(settings, retriever, IndexUpdater(settings, embedder), TOKEN))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
    with serve_in_thread(api) as url:
        allowed = httpx.options(f"{url}/api/ask", headers={"Origin": "https://cms.contoh.id", **preflight})
        asked = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, headers={"Origin": "https://cms.contoh.id"}, timeout=60)
        other = httpx.options(f"{url}/api/ask", headers={"Origin": "https://lain.example", **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://cms.contoh.id"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert asked.status_code == 200 and asked.headers["access-control-allow-origin"] == "https://cms.contoh.id"
    assert "access-control-allow-origin" not in other.headers
    with pytest.raises(ValueError, match="not a web origin"):
        get_settings(cors_origins="cms.contoh.id")


def wait_for_update(http, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = http.get("/api/index/status").json()["job"]
        if job["id"] == job_id and job["state"] != "running":
            return job
        time.sleep(0.5)
    raise TimeoutError(job_id)


def test_article_added_over_http_is_answerable_after_update(http, server):
    article = {"title": "Kebakaran Pasar Senen", "source": "Warta Kota", "published": "2024-03-02",
               "text": "Pasar Senen terbakar pada Sabtu malam. Sebanyak 120 kios hangus dan api padam pukul tiga pagi."}
    created = http.post("/api/articles", json=article, headers=AUTH)
    assert created.status_code == 201, created.text
    assert http.post("/api/articles", json=article, headers=AUTH).status_code == 409  # no silent overwrite
    job = http.post("/api/index/update", headers=AUTH).json()
    finished = wait_for_update(http, job["id"])
    assert finished["state"] == "done" and "1 added" in finished["summary"]
    answer = http.post("/api/ask", json={"question": "Berapa kios yang hangus di Pasar Senen?"}).json()
    assert not answer["abstained"] and "120 kios" in answer["citations"][0]["sentence"]
    listed = http.get("/api/articles").json()
    assert listed["total"] == 2

    assert http.delete("/api/articles/kebakaran-pasar-senen.md", headers=AUTH).status_code == 200
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])
    assert http.get("/api/articles/kebakaran-pasar-senen.md").status_code == 404


def test_one_record_of_a_jsonl_file_is_deleted_and_the_others_stay_as_they_were(http, server):
    """A takedown from a bulk file: its record's line is emptied, every other byte of the file stays
    (a CRLF line too), and the records named by their line keep their ids after the next update."""
    raw = (b'{"id": "wk-1", "title": "Banjir Demak", "text": "Banjir merendam 12 desa di Demak pada Senin."}\r\n'
           b'{"title": "Gempa Cianjur", "text": "Gempa mengguncang Cianjur pada Selasa pagi."}\n\n'
           b'{"title": "Longsor Bogor", "text": "Longsor menutup jalan di Bogor pada Rabu pagi."}\n')
    files = {"file": ("kiriman.jsonl", raw, "application/jsonl")}
    assert http.post("/api/articles/upload", files=files, headers=AUTH).status_code == 201
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])
    assert http.get("/api/articles/kiriman.jsonl%232").json()["title"] == "Gempa Cianjur"
    deleted = http.delete("/api/articles/kiriman.jsonl%232", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "kiriman.jsonl#2"
    path = server.corpus / "kiriman.jsonl"
    assert path.read_bytes() == raw.replace(b'{"title": "Gempa Cianjur", "text": "Gempa mengguncang Cianjur pada Selasa pagi."}', b"")
    again = http.delete("/api/articles/kiriman.jsonl%232", headers=AUTH)  # listed until the update, deleted already
    assert again.status_code == 404 and "deleted from the corpus already" in again.json()["detail"]
    assert http.delete("/api/articles/wk-1", headers=AUTH).status_code == 200  # a record named by its id field
    assert path.read_bytes().startswith(b"\r\n\n\n{")
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])
    assert http.get("/api/articles/kiriman.jsonl%232").status_code == 404 and http.get("/api/articles/wk-1").status_code == 404
    assert http.get("/api/articles/kiriman.jsonl%234").json()["title"] == "Longsor Bogor"  # the same id: its line is line 4 still
    hits = http.get("/api/search", params={"q": "longsor menutup jalan di Bogor", "k": 1}).json()["results"]
    assert hits[0]["article_id"] == "kiriman.jsonl#4"
    path.unlink()
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])


def test_an_articles_title_outlet_and_date_are_corrected_in_its_file(http, server):
    """A wrong date or outlet fixed where the article lives: a Markdown file's front matter, a JSONL
    record's line; its text (and so its citations) as it was; a PDF's fields are its own."""
    article = {"title": "Banjir Demak", "text": "Banjir merendam 12 desa di Demak pada Senin.", "source": "kompas", "published": "2023-01-05"}
    assert http.post("/api/articles", json=article, headers=AUTH).status_code == 201
    lines = b'{"title": "Gempa", "text": "Gempa mengguncang Padang.", "date": "2023-02-01"}\n{"title": "Asap", "text": "Asap di Riau."}\n'
    assert http.post("/api/articles/upload", files={"file": ("kabar.jsonl", lines, "application/jsonl")}, headers=AUTH).status_code == 201
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])
    before = http.get("/api/articles/banjir-demak.md").json()
    assert http.patch("/api/articles/banjir-demak.md", json={"source": "Kompas"}).status_code == 401  # the token first
    fixed = http.patch("/api/articles/banjir-demak.md", json={"source": "Kompas", "published": "2024-01-05", "url": ""}, headers=AUTH)
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["source"], fixed.json()["published"], fixed.json()["text"]) == ("Kompas", "2024-01-05", before["text"])
    record = http.patch("/api/articles/kabar.jsonl%231", json={"title": "Gempa Padang", "published": "2023-02-02"}, headers=AUTH)
    assert record.status_code == 200 and record.json()["title"] == "Gempa Padang"
    assert (server.corpus / "kabar.jsonl").read_bytes() == (
        b'{"title": "Gempa Padang", "text": "Gempa mengguncang Padang.", "date": "2023-02-02"}\n' + lines.split(b"\n")[1] + b"\n")
    wrong = http.patch("/api/articles/banjir-demak.md", json={"published": "5 Januari 2024"}, headers=AUTH)
    assert wrong.status_code == 422 and "YYYY-MM-DD" in wrong.json()["detail"]
    assert http.patch("/api/articles/banjir-demak.md", json={"title": ""}, headers=AUTH).status_code == 422
    assert http.patch("/api/articles/banjir-demak.md", json={"text": "lain"}, headers=AUTH).status_code == 422  # not a field to edit
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])
    hits = http.get("/api/search", params={"q": "banjir Demak", "source": "Kompas", "since": "2024-01-01"}).json()["results"]
    assert [hit["article_id"] for hit in hits] == ["banjir-demak.md"]  # the filters see the corrected fields
    for name in ("banjir-demak.md", "kabar.jsonl"):
        (server.corpus / name).unlink()
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])


def test_upload_is_sanitised_and_checked(http, server):
    files = {"file": ("../../evil.md", b"---\ntitle: Aman\n---\nIsi berita aman.", "text/markdown")}
    response = http.post("/api/articles/upload", files=files, headers=AUTH)
    assert response.status_code == 201 and response.json()["path"] == "evil.md"
    assert (server.corpus / "evil.md").exists() and not (server.corpus.parent.parent / "evil.md").exists()
    bad = {"file": ("rusak.md", b"---\ntitle: [rusak\n---\nIsi.", "text/markdown")}
    response = http.post("/api/articles/upload", files=bad, headers=AUTH)
    assert response.status_code == 422 and "not valid YAML" in response.json()["detail"]
    lines = {"file": ("rusak.jsonl", b'{"title": "Satu", "text": "Isi pertama."}\n{"title": "Dua", "text": \n', "application/jsonl")}
    response = http.post("/api/articles/upload", files=lines, headers=AUTH)  # the file, the line and what to do
    assert response.status_code == 422 and response.json()["detail"].startswith("rusak.jsonl:2: not valid JSON (")
    assert response.json()["detail"].endswith("Fix or remove the line.") and not (server.corpus / "rusak.jsonl").exists()
    binary = {"file": ("gambar.png", b"\x89PNG", "image/png")}
    assert http.post("/api/articles/upload", files=binary, headers=AUTH).status_code == 422
    (server.corpus / "evil.md").unlink()



def test_the_server_answers_while_an_upload_is_read(http, server):
    """An uploaded PDF is parsed before it is saved (1,500 pages: seconds); meanwhile the server
    answers others (the parse once ran on the event loop, and every request waited for it)."""
    import io
    import threading

    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.set_font("helvetica", size=9)
    pdf.add_page()
    pdf.multi_cell(0, 4, "Laporan ekonomi daerah selama satu bulan terakhir. " * 60)
    page, writer, data = PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0], PdfWriter(), io.BytesIO()
    for _ in range(1500):
        writer.add_page(page)
    writer.write(data)
    upload: dict = {}

    def send() -> None:
        files = {"file": ("laporan-panjang.pdf", data.getvalue(), "application/pdf")}
        upload["status"] = httpx.post(f"{server.url}/api/articles/upload", files=files, headers=AUTH, timeout=120).status_code

    sending = threading.Thread(target=send)
    sending.start()
    time.sleep(1.0)  # the file has arrived and is being read
    started = time.perf_counter()
    assert http.get("/api/health").status_code == 200
    answered_in = time.perf_counter() - started
    still_reading = sending.is_alive()
    sending.join()
    assert upload["status"] == 201 and still_reading and answered_in < 0.5, (upload, still_reading, answered_in)
    assert http.delete("/api/articles/laporan-panjang.pdf", headers=AUTH).status_code == 200

def multipart(name: str, mib: int) -> Iterator[bytes]:
    """A file upload of `mib` MiB, sent chunked: no Content-Length tells its size."""
    yield f'--x\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
    for _ in range(mib):
        yield b"kata " * (2**20 // 5) + b"kata"
    yield b"\r\n--x--\r\n"


MULTIPART = {"Content-Type": "multipart/form-data; boundary=x"}


def server_writes(server) -> int:
    """Bytes the server process has written so far (a spooled upload is written to a temporary file)."""
    return int(dict(line.split(": ") for line in (Path("/proc") / str(server.process.pid) / "io").read_text().splitlines())["wchar"])


def test_request_size_is_bounded(http):
    response = http.post("/api/ask", content=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    chunked = (part for part in [b'{"question": "Siapa?", "x": "', b"a" * 3 * 2**20, b'"}'])  # no Content-Length
    response = http.post("/api/ask", content=chunked, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["detail"] == "request body over 2 MiB"
    response = http.post("/api/articles/upload", content=multipart("besar.md", 21), headers={**MULTIPART, **AUTH})
    assert response.status_code == 413 and response.json()["detail"] == "request body over 20 MiB"


def test_a_write_without_the_token_is_refused_before_its_body_is_read(http, server):
    written = server_writes(server)
    response = http.post("/api/articles/upload", content=multipart("besar.md", 15), headers=MULTIPART)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert server_writes(server) - written < 2**20  # the 15 MiB were not spooled to disk first
    assert http.delete("/api/articles/000_b0a4adb478896665.md").status_code == 401


def test_the_page_uploads_files_up_to_the_file_limit(http):
    """The page's upload (Gradio's route on the same server) takes files over the JSON bodies' 2 MiB."""
    article = b"---\ntitle: Besar\n---\n" + b"kata " * (3 * 2**20 // 5)
    response = http.post("/gradio_api/upload", files={"files": ("besar.md", article, "text/markdown")})
    assert response.status_code == 200 and response.json()[0].endswith("besar.md")


def test_queries_keep_working_while_an_update_runs(http, server):
    from conftest import NEWS_FIXTURES

    for path in sorted((NEWS_FIXTURES / "corpus").glob("indosum_*.md"))[:25]:
        (server.corpus / path.name).write_bytes(path.read_bytes())
    job = http.post("/api/index/update", headers=AUTH).json()
    answered_during_update = 0  # searches that returned while the build was still running
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        response = http.get("/api/search", params={"q": "perluasan NATO", "k": 3})
        assert response.status_code == 200 and response.json()["results"]
        if http.get("/api/index/status").json()["job"]["state"] != "running":
            break
        answered_during_update += 1
    assert wait_for_update(http, job["id"])["state"] == "done"
    assert answered_during_update >= 1  # readers were answered while the writer worked
    assert http.get("/api/health").json()["articles"] >= 26
    for path in sorted((NEWS_FIXTURES / "corpus").glob("indosum_*.md"))[:25]:
        (server.corpus / path.name).unlink()
    wait_for_update(http, http.post("/api/index/update", headers=AUTH).json()["id"])


def test_an_index_folder_changed_under_the_server_leaves_it_answering_from_the_open_generation(settings, embedder, caplog):
    """The index folder's CURRENT moved away (a folder restored or emptied under a running server),
    then naming a generation that is not there: every route still answers from the generation it
    has open (they were bare 500s, and a streamed answer an empty 200), and the log says why, once."""
    from rag.answer import Assistant
    from rag.api import create_api
    from rag.articles import Archive
    from rag.indexer import IndexUpdater, build_index
    from rag.retriever import Retriever

    shutil.copy(SEED, settings.corpus_dir)
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    api = create_api(Assistant(retriever, settings), Archive(settings, retriever, IndexUpdater(settings, embedder), TOKEN))
    pointer = settings.index_dir / "CURRENT"
    with serve_in_thread(api) as url:
        for change in ("moved", "names a missing generation"):
            if change == "moved":
                pointer.rename(settings.index_dir / "CURRENT.moved")
            else:
                pointer.write_text("gen-999999\n")
            for _ in range(2):
                assert httpx.get(f"{url}/api/search", params={"q": "NATO"}, timeout=60).json()["results"], change
                assert httpx.get(f"{url}/api/health", timeout=60).json()["generation"] == "gen-000001", change
                assert "Lavrov" in httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60).json()["citations"][0]["sentence"]
                streamed = httpx.post(f"{url}/api/ask", params={"stream": "true"}, json={"question": QUESTION}, timeout=60)
                assert streamed.status_code == 200 and "event: answer" in streamed.text, change
    kept = [r.getMessage() for r in caplog.records if r.getMessage().startswith("keeping generation gen-000001")]
    assert len(kept) == 2 and "CURRENT cannot be read" in kept[0] and "gen-999999, cannot be opened" in kept[1], kept
