"""Cited answers from a news archive. The public API: `Retriever` (search) and `Assistant` (answers).

Imported lazily, so `python -m rag` and the index builder do not pay for what they do not use.
"""

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Assistant", "Filters", "Retriever", "__version__"]


def _version() -> str:
    """The version in pyproject.toml: from the installed package's metadata, or read from the
    file itself when the project runs from its folder (as `make run` does)."""
    try:
        return metadata.version("rag-news-archive")
    except metadata.PackageNotFoundError:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]["version"]


__version__ = _version()


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from rag.answer import Assistant

        return Assistant
    if name in ("Retriever", "Filters"):
        from rag import retriever

        return getattr(retriever, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
