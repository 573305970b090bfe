"""Start the app: bring the index up to date with corpus/, then serve the web page."""

import argparse

from rag.config import get_settings
from rag.embeddings import load_embedder
from rag.indexer import build_index
from rag.retriever import Retriever
from rag.ui import build_ui


def main() -> None:
    parser = argparse.ArgumentParser(description="News archive assistant")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="create a public Gradio link (off by default)")
    args = parser.parse_args()

    settings = get_settings()
    embedder = load_embedder(settings.embedding_model)
    print(build_index(settings, embedder).summary(), flush=True)
    retriever = Retriever(settings.index_dir, embedder, settings)
    build_ui(retriever).launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
