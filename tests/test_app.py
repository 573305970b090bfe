"""`python app.py` updates the index, then serves the page; its endpoints answer over HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server import PROJECT, AppServer, serve_in_thread

from rag.ui_text import LABELS

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


def test_chat_endpoint_through_gradio_client(shared_server):
    from gradio_client import Client

    client = Client(f"{shared_server.url}/", verbose=False)
    history, sources, *_ = client.predict(
        "Apa kata Lavrov tentang NATO?", "", "", [], 5, "extractive", api_name="/chat")
    assert history[-1]["role"] == "assistant" and "[1]" in str(history[-1]["content"])
    assert "Lavrov" in str(history[-1]["content"]) and "Al Jazeera" in sources and "<mark" in sources


def test_page_writes_through_gradio_client_need_the_token(shared_server, tmp_path):
    """The Index tab's upload, update and delete events are public Gradio endpoints: without the
    token they are refused and change nothing; with it they work."""
    from gradio_client import Client, handle_file

    client = Client(f"{shared_server.url}/", verbose=False)
    article = tmp_path / "uji_akses.md"
    article.write_text("---\ntitle: Uji Token\n---\nPanitia lomba layang-layang di Pangandaran menetapkan tanggal final.\n")
    corpus = shared_server.corpus
    before = sorted(p.name for p in corpus.iterdir())
    generation = httpx.get(f"{shared_server.url}/api/health").json()["generation"]
    refused = LABELS["id"]["wrong_token"]  # the page's language is Indonesian by default
    for token in ("", "wrong-token"):
        assert refused in client.predict([handle_file(str(article))], token, api_name="/upload_articles")[0]
        assert refused in client.predict(token, api_name="/update_index")[0]
        assert refused in client.predict("000_b0a4adb478896665.md", token, api_name="/delete_article")
    assert sorted(p.name for p in corpus.iterdir()) == before  # nothing saved, nothing deleted
    assert httpx.get(f"{shared_server.url}/api/health").json()["generation"] == generation  # no update ran

    shown = client.predict([handle_file(str(article))], "test-token", api_name="/upload_articles")[0].replace("\\", "")  # markdown
    assert "Tersimpan** uji_akses.md" in shown
    assert "1 artikel baru" in client.predict("test-token", api_name="/update_index")[0]
    assert "Dihapus** uji_akses.md" in client.predict("uji_akses.md", "test-token", api_name="/delete_article").replace("\\", "")
    assert not (corpus / "uji_akses.md").exists()
    assert "1 dihapus" in client.predict("test-token", api_name="/update_index")[0]


def test_a_file_uploaded_through_the_page_and_the_api_gets_one_name(shared_server, tmp_path):
    """The page's upload (Gradio) drops `: ? ! |` and such from a name before we see it; the API
    gets the name as sent. One file sent both ways is one file, so "replace" on the page
    corrects the article the API saved instead of saving a second copy beside it."""
    from gradio_client import Client, handle_file

    name = "Banjir: Demak?! {2024}.md"
    api_text = "---\ntitle: Banjir Demak\n---\nBanjir merendam Demak pada pagi hari.\n"
    page_text = api_text.replace("pagi", "sore")
    corpus = shared_server.corpus
    before = {p.name for p in corpus.iterdir()}
    (tmp_path / name).write_text(page_text)
    try:
        saved = httpx.post(f"{shared_server.url}/api/articles/upload", files={"file": (name, api_text.encode())},
                           headers={"Authorization": "Bearer test-token"})
        assert saved.status_code == 201, saved.text
        shown = Client(f"{shared_server.url}/", verbose=False).predict(
            [handle_file(str(tmp_path / name))], "test-token", True, api_name="/upload_articles")[0]
        added = {p.name for p in corpus.iterdir()} - before
        assert added == {"Banjir Demak 2024.md"}, (added, shown)
        assert "sore" in (corpus / "Banjir Demak 2024.md").read_text()  # replaced, not saved beside it
    finally:
        for file_name in {p.name for p in corpus.iterdir()} - before:  # the shared server's corpus as it was
            (corpus / file_name).unlink()



def seed_app(settings, embedder, token: str | None = None):
    """The page and the API over the seed article, as `app.py` mounts them, for `settings`."""
    import gradio as gr

    from rag.answer import Assistant
    from rag.api import create_api
    from rag.articles import Archive
    from rag.indexer import IndexUpdater, build_index
    from rag.retriever import Retriever
    from rag.ui import build_ui

    (settings.corpus_dir / "seed.md").write_bytes((PROJECT / "corpus" / "000_b0a4adb478896665.md").read_bytes())
    build_index(settings, embedder)
    retriever = Retriever(settings.index_dir, embedder, settings)
    assistant = Assistant(retriever, settings)
    archive = Archive(settings, retriever, IndexUpdater(settings, embedder), token=token)
    return gr.mount_gradio_app(create_api(assistant, archive), build_ui(assistant, archive), path="/"), archive


def test_without_a_configured_token_the_page_is_read_only(settings, embedder):
    """No RAG_API_TOKEN: the Index tab says how to enable writes, and every write is refused
    whatever token is sent."""
    from gradio_client import Client

    app, archive = seed_app(settings, embedder)
    disabled = LABELS["id"]["writes_disabled"]
    with serve_in_thread(app) as url:
        config = httpx.get(f"{url}/config").json()
        shown = [c.get("props", {}).get("value") for c in config["components"]]
        assert disabled in shown and "RAG_API_TOKEN" in disabled
        token_box = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "token")
        assert token_box["props"]["interactive"] is False
        client = Client(f"{url}/", verbose=False)
        assert disabled in client.predict("anything", api_name="/update_index")[0]
        assert disabled in client.predict("seed.md", "anything", api_name="/delete_article")
    assert (settings.corpus_dir / "seed.md").exists() and archive.updater.current is None



@pytest.mark.parametrize("top_k, max_k", [(30, 50), (5, 8)])
def test_the_page_and_the_api_answer_with_the_servers_own_k_bounds(settings, embedder, top_k, max_k):
    """RAG_TOP_K above the chat slider's usual 20 answers (the slider once stopped at 20 and
    Gradio refused every question), and a search without `k` answers under a RAG_MAX_K below
    its default of 10 (it once asked for 10 and was refused)."""
    from gradio_client import Client

    app, _ = seed_app(settings.model_copy(update={"top_k": top_k, "max_k": max_k}), embedder)
    with serve_in_thread(app) as url:
        history, *_ = Client(f"{url}/", verbose=False).predict(
            "Siapa juru bicara Kremlin?", "", "", [], top_k, "extractive", api_name="/chat")
        search = httpx.get(f"{url}/api/search", params={"q": "Kremlin"}, timeout=60)
    assert "Peskov" in str(history[-1]["content"])
    assert search.status_code == 200 and search.json()["results"][0]["article_id"] == "seed.md"

def test_share_starts_the_app_on_its_port_even_without_a_public_link(tmp_path):
    """`--share` gives Gradio's tunnel a loopback server of its own: on the default port it took the
    app's own and the app died (offline the link fails, and the app still serves)."""
    server = AppServer(tmp_path, args=("--share",))
    server.env["GRADIO_SERVER_PORT"] = str(server.port)  # where Gradio looks first (7860, the app's default, without it)
    with server as running:
        assert httpx.get(f"{running.url}/api/health", timeout=10).json()["status"] == "ok"
        assert httpx.get(f"{running.url}/", timeout=10).status_code == 200
        time.sleep(2)  # Gradio's launch runs beside uvicorn's start
        assert running.process.poll() is None, running.log.read_text()


def test_a_taken_port_gives_a_clear_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"port {port}" in result.stderr and "--port" in result.stderr


def test_a_missing_corpus_folder_gives_a_clear_message(tmp_path):
    """What a user can fix is said in one line, as `rag index` says it, not as a traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAG_CORPUS_DIR": str(tmp_path / "nowhere"), "RAG_INDEX_DIR": str(tmp_path / "index")}
    result = subprocess.run([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT, capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("does not exist; create it, or name another with --corpus DIR or RAG_CORPUS_DIR"), result.stderr


@contextlib.contextmanager
def refusing_writes(folder: Path) -> Iterator[None]:
    """`folder` as a disk that refuses every change to it: read-only for a user, immutable for root
    (whom permissions do not stop; `chattr +i` needs CAP_LINUX_IMMUTABLE, which root has)."""
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_a_corpus_that_cannot_be_written_is_said_by_the_page_and_the_api(settings, embedder, tmp_path):
    """A corpus folder that refuses writes (read-only, a full disk): the page and the API say the
    corpus could not be changed and why, instead of Gradio's bare "Error" and a 500, and it is
    left as it was."""
    from gradio_client import Client, handle_file

    app, _ = seed_app(settings, embedder, token="test-token")
    corpus, seed = settings.corpus_dir, settings.corpus_dir / "seed.md"
    before = seed.read_bytes()
    article = tmp_path / "baru.md"
    article.write_text("---\ntitle: Baru\n---\nPanitia lomba layang-layang di Pangandaran menetapkan tanggal final.\n")
    auth = {"Authorization": "Bearer test-token"}
    with serve_in_thread(app) as url, refusing_writes(corpus):
        client = Client(f"{url}/", verbose=False)
        page = [client.predict([handle_file(str(article))], "test-token", api_name="/upload_articles")[0],
                client.predict("seed.md", "test-token", api_name="/delete_article"),
                client.predict("seed.md", "Judul Baru", "", "", "", "test-token", api_name="/edit_article")]
        api = [httpx.post(f"{url}/api/articles", json={"title": "Baru", "text": "Isi."}, headers=auth, timeout=30),
               httpx.delete(f"{url}/api/articles/seed.md", headers=auth, timeout=30),
               httpx.patch(f"{url}/api/articles/seed.md", json={"title": "Judul Baru"}, headers=auth, timeout=30)]
    for shown in page:
        assert "Ditolak" in shown and "korpus tidak dapat diubah (Operation not permitted" in shown.replace("\\", ""), shown
    for response in api:
        assert response.status_code == 507, response.text
        assert response.json()["detail"].startswith("the corpus could not be changed (Operation not permitted")
    assert sorted(p.name for p in corpus.iterdir()) == ["seed.md"] and seed.read_bytes() == before


def test_the_page_refuses_the_field_lengths_the_api_refuses(settings, embedder):
    """The page's edit saved a 600-character title the API refuses (500): one limit, checked where
    the file is written, so both doors say the same."""
    from gradio_client import Client

    app, _ = seed_app(settings, embedder, token="test-token")
    seed = settings.corpus_dir / "seed.md"
    before = seed.read_bytes()
    with serve_in_thread(app) as url:
        shown = Client(f"{url}/", verbose=False).predict("seed.md", "J" * 600, "", "", "", "test-token", api_name="/edit_article")
        api = httpx.patch(f"{url}/api/articles/seed.md", json={"title": "J" * 600}, headers={"Authorization": "Bearer test-token"})
    assert "Ditolak" in shown and "title 600 karakter, melebihi batas 500" in shown.replace("\\", ""), shown
    assert api.status_code == 422 and seed.read_bytes() == before



def test_the_app_starts_while_another_build_holds_the_index(tmp_path):
    """Restarted while a cron `rag index` (or `rag index --watch`) holds the index, the app exited
    ("another index build ... wait for it to finish"); it now serves the index as it stands."""
    from rag.writelock import writer_lock

    with AppServer(tmp_path):
        pass  # the index built
    with writer_lock(tmp_path / "index"), AppServer(tmp_path) as server:
        assert httpx.get(f"{server.url}/api/health", timeout=30).json()["articles"] == 1
        log = server.log.read_text()
    assert "note: another index build" in log and "not updated now" in log


def test_app_py_says_why_it_cannot_listen_before_loading_anything(tmp_path):
    """A port in use is "taken"; a host that does not resolve, or an address not on this machine
    (192.0.2.1 is for documentation only), was "taken" too, port 70000 a traceback, and "::"
    (IPv6) was refused though it binds: each now says what it is."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flags, said in ((["--port", str(port)], f"error: port {port} on 127.0.0.1 is taken"),
                            (["--host", "nosuchhost.invalid"], "error: unknown host nosuchhost.invalid"),
                            (["--host", "192.0.2.1"], "error: cannot listen on 192.0.2.1 port 7860 (Cannot assign requested address)"),
                            (["--port", "70000"], "'70000' is not a port: give a number from 1 to 65535")):
            run = subprocess.run([sys.executable, "app.py", *flags], cwd=PROJECT, capture_output=True, text=True, timeout=60)
            assert run.returncode != 0 and said in run.stderr, (flags, run.stderr)
    sys.path.insert(0, str(PROJECT))
    try:
        from app import cannot_listen
    finally:
        sys.path.remove(str(PROJECT))
    try:  # what this machine says of an IPv6 bind, as the app's check must
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::", 0))
            free = probe.getsockname()[1]
    except OSError as no_ipv6:
        assert cannot_listen("::", 7860) == f"cannot listen on :: port 7860 ({no_ipv6.strerror})"
    else:
        assert cannot_listen("::", free) is None

