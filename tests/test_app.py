"""`python app.py` updates the index, then serves the page; its endpoints answer over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys

from server import PROJECT


def test_chat_endpoint_through_gradio_client(shared_server):
    from gradio_client import Client

    client = Client(f"{shared_server.url}/", verbose=False)
    history, sources, question = client.predict(
        "Apa kata Lavrov tentang NATO?", [], "", "", [], 5, "Ekstraktif (kutipan)", api_name="/chat")
    assert history[-1]["role"] == "assistant" and "[1]" in str(history[-1]["content"])
    assert "Lavrov" in str(history[-1]["content"]) and "Al Jazeera" in sources and "<mark" in sources
    assert question == ""


def test_a_taken_port_gives_a_clear_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"port {port}" in result.stderr and "--port" in result.stderr
