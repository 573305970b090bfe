"""`python -m rag ...`: a thin command-line shell around the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rag.config import Settings, get_settings
from rag.store import IndexProblem


def _settings(args: argparse.Namespace) -> Settings:
    return get_settings(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None))


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed."""
    from rag.embeddings import load_embedder
    from rag.indexer import build_index

    settings = _settings(args)
    embedder = load_embedder(settings.embedding_model)
    report = build_index(settings, embedder, full=args.full)
    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    if report.ignored:
        print(f"ignored {len(report.ignored)} file(s) with unsupported extensions: {', '.join(report.ignored[:5])}"
              + (" ..." if len(report.ignored) > 5 else ""), file=sys.stderr)
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Cited answers from a news archive.")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_paths(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/ or RAG_CORPUS_DIR)")
        command.add_argument("--index", type=Path, help="index folder (default: index/ or RAG_INDEX_DIR)")
        return command

    index = with_paths(commands.add_parser("index", help="build or update the index from the corpus"))
    index.add_argument("--full", action="store_true", help="ignore the previous generation and re-chunk everything")
    index.set_defaults(handler=cmd_index)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("rag").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (IndexProblem, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index generation is intact, run the command again to resume", file=sys.stderr)
        return 130
