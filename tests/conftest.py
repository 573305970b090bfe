"""Shared fixtures: the real default embedder (loaded once) and small corpora written per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests must never reach for a model hub

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data" / "news-qa"


@pytest.fixture(scope="session")
def embedder():
    from rag.embeddings import load_embedder

    return load_embedder()


@pytest.fixture()
def settings(tmp_path):
    from rag.config import get_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return get_settings(corpus_dir=corpus, index_dir=tmp_path / "index")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
