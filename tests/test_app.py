"""`python app.py` updates the index, then serves a page whose search endpoint answers over HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

from conftest import PROJECT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_app_builds_index_and_serves_search(tmp_path):
    from gradio_client import Client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", corpus)
    port = free_port()
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "index"), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                assert server.poll() is None, server.stdout.read()
                time.sleep(1)
        result = client.predict("Apa kata Lavrov tentang NATO?", 3, api_name="/search")
        assert "Lavrov" in result and "Al Jazeera" in result
    finally:
        server.terminate()
        server.wait(timeout=30)
