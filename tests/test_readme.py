"""The README's Python example runs as written against a real index, in a fresh process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT

from rag.indexer import build_index

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


def readme_block(heading: str) -> str:
    text = (PROJECT / "README.md").read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def run_python(code: str, cwd, path=PROJECT) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "PYTHONPATH": str(path)})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def folder_with_index(tmp_path_factory, embedder):
    """A folder holding `index/` of the seed article, as after `make run`."""
    from rag.config import get_settings

    root = tmp_path_factory.mktemp("readme")
    (root / "corpus").mkdir()
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", root / "corpus")
    build_index(get_settings(corpus_dir=root / "corpus", index_dir=root / "index"), embedder)
    return root


def test_python_example_runs(folder_with_index):
    output = run_python(readme_block("### Python"), folder_with_index)
    assert "Rusia Lontarkan" in output and "Peskov" in output


def test_top_level_names_answer_as_the_readme_says(folder_with_index):
    """README: `from rag import Retriever, Assistant` works too (and Filters)."""
    output = run_python(
        "from rag import Assistant, Filters, Retriever\n"
        "answer = Assistant(Retriever('index')).answer('Siapa juru bicara Kremlin?', filters=Filters(sources=('Al Jazeera',)))\n"
        "print(answer.citations[0].article_id, answer.citations[0].sentence)\n"
        "print(len(Retriever('index').search('NATO', filters=Filters(sources=('Kompas',)))))\n",
        folder_with_index,
    )
    cited, filtered = output.splitlines()
    assert cited.startswith("000_b0a4adb478896665.md ") and "Peskov" in cited
    assert filtered == "0"  # the filter is applied: the seed is from Al Jazeera


def test_a_plain_pip_install_answers_with_the_shipped_reader(folder_with_index, tmp_path):
    """README: `pip install path/to/this/checkout` (a wheel, not editable) carries the trained reader."""
    source = tmp_path / "source"  # what the wheel is built from, so the checkout gets no build/ folder
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "rag", "models"):
        copy = shutil.copytree if (PROJECT / name).is_dir() else shutil.copy
        copy(PROJECT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", tmp_path / "wheel", source],
                   check=True, timeout=300)
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", tmp_path / "site", wheel], check=True, timeout=300)
    output = run_python(
        "import rag.reader\n"
        "from rag import Assistant, Retriever\n"
        "print(rag.reader.READER_DIR)\n"
        "print(Assistant(Retriever('index')).answer('Siapa juru bicara Kremlin?').short_answer)\n",
        folder_with_index, path=tmp_path / "site",
    )
    reader_dir, short_answer = output.splitlines()
    assert reader_dir == str(tmp_path / "site" / "rag" / "models" / "reader")  # not the checkout's models/
    assert short_answer == "Dmitry Peskov"
    asked = subprocess.run([sys.executable, "-m", "rag", "ask", "Siapa juru bicara Kremlin?", "--json"], cwd=folder_with_index,
                           capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert asked.returncode == 0, asked.stderr  # its index/ is the folder's own: the default outside a checkout
    assert json.loads(asked.stdout)["short_answer"] == "Dmitry Peskov"


@pytest.mark.parametrize("target", ["eval", "train", "bench"])
def test_make_says_the_data_is_missing_before_installing_anything(tmp_path, target):
    """A fresh clone without ../shared: `make eval` installed the runtime (about 2 GB; `make train`
    the training requirements too) and only then said the data was missing."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", "pyproject.toml", *(p.name for p in PROJECT.glob("requirements*.txt"))):
        shutil.copy(PROJECT / name, clone)
    result = subprocess.run(["make", target], cwd=clone, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is missing" in result.stderr, result.stderr
    assert not (clone / ".venv").exists()  # nothing installed
