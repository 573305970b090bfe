"""Start the app: bring the index up to date with corpus/, then serve the web UI at / and the
HTTP API at /api (OpenAPI docs at /docs) from one process."""

import argparse
import errno
import logging
import socket
import sys
import threading

from rag.config import get_settings


def cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, or None when it can. Bound as uvicorn binds
    (the host's own address family, SO_REUSEADDR: a port whose last server just stopped, its
    connections still closing, is free), so that "::" is IPv6 and only a port in use is "taken"."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        return f"unknown host {host} ({error.strerror}); pass --host with an address of this machine"
    with socket.socket(family, kind, protocol) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is taken; stop the other server or pass --port N"
            return f"cannot listen on {host} port {port} ({error.strerror})"
    return None


def port_number(text: str) -> int:
    """--port: a TCP port, 1 to 65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a number from 1 to 65535")
    return int(text)


def free_port() -> int:
    """A loopback port no one listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="News archive assistant: web UI and HTTP API")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=7860)
    parser.add_argument("--share", action="store_true", help="also create a public Gradio share link (off by default)")
    parser.add_argument("--watch", action="store_true", help="update the index by itself when files in the corpus folder "
                        "are added, edited or deleted")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("rag").setLevel(logging.INFO)  # index updates, watch mode and fetches say what they did
    if problem := cannot_listen(args.host, args.port):
        sys.exit(f"error: {problem}")

    from rag.cli import USER_ERRORS, build_and_report

    try:
        settings = get_settings()
        # tunes the memory allocator first: before any thread or model exists; another build running
        # (a cron `rag index`): served as it stands, the newer generation taken when that build ends
        embedder, _ = build_and_report(settings, busy_ok=True)
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
    import gradio as gr
    import uvicorn

    from rag.answer import Assistant
    from rag.api import create_api
    from rag.articles import Archive
    from rag.auto_update import start_in_background
    from rag.embeddings import set_threads
    from rag.indexer import IndexUpdater
    from rag.retriever import Retriever
    from rag.ui import build_ui, page_options

    set_threads(settings.query_threads)  # serve queries single-threaded: latency stays flat under load
    assistant = Assistant(Retriever(settings.index_dir, embedder, settings), settings)
    threading.Thread(target=lambda: assistant.reader, name="load-reader", daemon=True).start()  # ready before the first question
    updater = IndexUpdater(settings, embedder)
    archive = Archive(settings, assistant.retriever, updater, settings.api_token)
    start_in_background(settings, updater, watch=args.watch)  # watch mode, and the fetch schedule when RAG_FETCH_EVERY is set
    api = create_api(assistant, archive)
    ui = build_ui(assistant, archive)
    # Bounded under load: a few chats computed at once (one CPU-bound model), a capped waiting line,
    # capped connections; measured with benchmarks/load_test.py.
    ui.queue(default_concurrency_limit=settings.ui_concurrency, max_size=settings.ui_queue_size)
    ui.state_session_capacity = settings.ui_sessions  # Gradio keeps 10,000 sessions' state by default
    if args.share:  # Gradio's tunnel needs a server of its own: on a loopback port of its own, not this one
        ui.launch(share=True, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), **page_options())
    app = gr.mount_gradio_app(api, ui, path="/", **page_options(), max_file_size=settings.max_file_bytes,
                              footer_links=[])  # Gradio's footer speaks English only; the API docs are at /docs
    print(f"Serving on http://{args.host}:{args.port}/ (API docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", limit_concurrency=settings.max_connections)


if __name__ == "__main__":
    main()
