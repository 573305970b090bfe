"""Start the real app (`python app.py`) on a free loopback port for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    def __init__(self, root: Path, token: str | None = "test-token", extra_env: dict | None = None, args: tuple[str, ...] = ()):
        self.args = list(args)
        self.corpus, self.index = root / "corpus", root / "index"
        self.corpus.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", self.corpus)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAG_CORPUS_DIR": str(self.corpus), "RAG_INDEX_DIR": str(self.index),
                    "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
        if token:
            self.env["RAG_API_TOKEN"] = token
        self.log = root / "server.log"

    def __enter__(self) -> "AppServer":
        self.process = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port), *self.args], cwd=PROJECT, env=self.env,
                                        stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(self.log.read_text())

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:  # Gradio's graceful shutdown can take ~15 s; nothing to save here
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve an ASGI app built in this process on a loopback port (real HTTP, no second model load)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
