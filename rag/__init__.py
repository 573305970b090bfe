"""Cited answers from a news archive. The public API: `Retriever` (search) and `Assistant` (answers).

Imported lazily, so `python -m rag` and the index builder do not pay for what they do not use.
"""

from typing import Any

__all__ = ["Assistant", "Filters", "Retriever"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from rag.answer import Assistant

        return Assistant
    if name in ("Retriever", "Filters"):
        from rag import retriever

        return getattr(retriever, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
