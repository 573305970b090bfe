"""`python app.py` updates the index, then serves the page; its endpoints answer over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
from server import PROJECT


def test_chat_endpoint_through_gradio_client(shared_server):
    from gradio_client import Client

    client = Client(f"{shared_server.url}/", verbose=False)
    history, sources, question = client.predict(
        "Apa kata Lavrov tentang NATO?", [], "", "", [], 5, "Ekstraktif (kutipan)", api_name="/chat")
    assert history[-1]["role"] == "assistant" and "[1]" in str(history[-1]["content"])
    assert "Lavrov" in str(history[-1]["content"]) and "Al Jazeera" in sources and "<mark" in sources
    assert question == ""


def test_page_writes_through_gradio_client_need_the_token(shared_server, tmp_path):
    """The Index tab's upload, update and delete events are public Gradio endpoints: without the
    token they are refused and change nothing; with it they work."""
    from gradio_client import Client, handle_file

    client = Client(f"{shared_server.url}/", verbose=False)
    article = tmp_path / "uji_token.md"
    article.write_text("---\ntitle: Uji Token\n---\nPanitia lomba layang-layang di Pangandaran menetapkan tanggal final.\n")
    corpus = shared_server.corpus
    before = sorted(p.name for p in corpus.iterdir())
    generation = httpx.get(f"{shared_server.url}/api/health").json()["generation"]
    for token in ("", "wrong-token"):
        report = client.predict([handle_file(str(article))], token, api_name="/upload_articles")
        assert "token" in report and "uji_token.md" in report
        report, _ = client.predict(token, api_name="/update_index")
        assert "token" in report
        report = client.predict("000_b0a4adb478896665.md", token, api_name="/delete_article")
        assert "token" in report
    assert sorted(p.name for p in corpus.iterdir()) == before  # nothing saved, nothing deleted
    assert httpx.get(f"{shared_server.url}/api/health").json()["generation"] == generation  # no update ran

    assert "✅ uji_token.md" in client.predict([handle_file(str(article))], "test-token", api_name="/upload_articles")
    assert "1 added" in client.predict("test-token", api_name="/update_index")[0]
    assert "uji_token.md" in client.predict("uji_token.md", "test-token", api_name="/delete_article")
    assert not (corpus / "uji_token.md").exists()
    assert "1 removed" in client.predict("test-token", api_name="/update_index")[0]


def test_a_taken_port_gives_a_clear_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"port {port}" in result.stderr and "--port" in result.stderr
