"""Shared fixtures: the real default embedder (loaded once) and small corpora written per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests must never reach for a model hub

PROJECT = Path(__file__).resolve().parent.parent
NEWS_FIXTURES = PROJECT / "tests" / "fixtures" / "news-qa"  # shipped with the tests; sources in its README


@pytest.fixture(scope="session")
def embedder():
    """The embedder a user gets by default (RAG_EMBED_PRECISION=auto: the fastest measured here), loaded once."""
    from rag.config import get_settings
    from rag.embeddings import embedder_for

    return embedder_for(get_settings())


@pytest.fixture(scope="session")
def archive(tmp_path_factory, embedder):
    """The 90 fixture articles (tests/fixtures/news-qa) indexed once; tests that change them work on copies."""
    import shutil

    from rag.config import get_settings
    from rag.indexer import build_index

    root = tmp_path_factory.mktemp("archive")
    shutil.copytree(NEWS_FIXTURES / "corpus", root / "corpus")
    settings = get_settings(corpus_dir=root / "corpus", index_dir=root / "index")
    report = build_index(settings, embedder)
    assert report.added == 90 and report.failed == 0, report.summary()
    return settings


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """One running app (seed corpus, token "test-token") for the tests that do not depend on its exact contents."""
    from server import AppServer

    with AppServer(tmp_path_factory.mktemp("shared-app")) as running:
        yield running


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


def text_on_disk(path: Path) -> str:
    """An article file's text as a person reads it in an editor (front matter dropped, trimmed),
    read without `rag.corpus`, so citation offsets are checked against the file, not against
    the text the code itself sliced."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    return text.strip()


class StressTable:
    """Rows of the `make stress` summary: what was tried, what failed, and whether data was lost."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int, int, str]] = []

    def add(self, case: str, cases: int, failures: int, detail: str = "", data_lost: int = 0) -> None:
        self.rows.append((case, cases, failures, data_lost, detail))

    def markdown(self) -> str:
        lines = ["| stress case | cases tried | failures | data lost | detail |", "| --- | ---: | ---: | ---: | --- |"]
        lines += [f"| {case} | {cases} | {failures} | {lost} | {detail} |" for case, cases, failures, lost, detail in self.rows]
        return "\n".join(lines)


_STRESS = StressTable()


@pytest.fixture(scope="session")
def stress_table() -> StressTable:
    return _STRESS


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the stress table (and keep a copy in test-output/stress.md) when stress tests ran."""
    if not _STRESS.rows:
        return
    table = _STRESS.markdown()
    terminalreporter.write_sep("=", "stress summary")
    terminalreporter.write_line(table)
    output = PROJECT / "test-output"
    output.mkdir(exist_ok=True)
    (output / "stress.md").write_text(table + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can see whether the test passed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
