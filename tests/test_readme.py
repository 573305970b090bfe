"""The README's Python example runs as written against a real index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import PROJECT

from rag.indexer import build_index


def readme_block(heading: str) -> str:
    text = (PROJECT / "README.md").read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_python_example_runs(settings, embedder, tmp_path):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir)
    build_index(settings.model_copy(update={"index_dir": tmp_path / "index"}), embedder)
    result = subprocess.run([sys.executable, "-c", readme_block("### Python")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert result.returncode == 0, result.stderr
    assert "Rusia Lontarkan" in result.stdout and "Peskov" in result.stdout


def test_public_names():
    from rag import Assistant, Filters, Retriever

    assert Assistant.__name__ == "Assistant" and Retriever.search and Filters().where() is None
