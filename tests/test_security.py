"""Nothing deserialises with pickle: an index folder someone hands over must never be able to run
code when the app opens it, searches it or builds on it."""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import numpy as np

from conftest import PROJECT
from rag.answer import Assistant
from rag.indexer import build_index
from rag.retriever import Retriever

SEED = PROJECT / "corpus" / "000_b0a4adb478896665.md"


def test_no_pickle_anywhere_in_the_package():
    pattern = re.compile(r"^\s*(import (pickle|dill|joblib|cloudpickle)|from (pickle|dill|joblib|cloudpickle)\b)"
                         r"|allow_pickle\s*=\s*True|torch\.load\(|yaml\.load\((?!.*Loader=_YAML_LOADER)", re.MULTILINE)
    offenders = [f"{path.relative_to(PROJECT)}: {match.group(0).strip()}"
                 for path in sorted((PROJECT / "rag").rglob("*.py")) + [PROJECT / "app.py"]
                 for match in pattern.finditer(path.read_text())]
    assert offenders == []


class Payload:
    """Unpickled, it creates the file `marker`: proof that the file was read with pickle. (The test
    writes pickles as the attack it checks against; nothing in the project reads or writes one.)"""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def plant(path: Path, marker: Path) -> None:
    """Replace the index file at `path` with a pickle that runs code (a .npy file: an object array)."""
    if path.suffix == ".npy":
        np.save(path, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(pickle.dumps(Payload(marker)))


def test_an_index_file_replaced_by_a_pickle_runs_no_code(settings, embedder, tmp_path):
    """Each file of a built index in turn is swapped for a pickle; the app opens the index, answers
    and builds on it (or refuses with an error): the pickle's code never runs."""
    shutil.copy(SEED, settings.corpus_dir / "seed.md")
    build_index(settings, embedder)
    built = tmp_path / "built"
    shutil.copytree(settings.index_dir, built)
    marker = tmp_path / "code-ran"
    files = sorted(path.relative_to(built) for path in built.rglob("*") if path.is_file() and path.name != ".lock")
    assert len(files) >= 15 and Path("embedding-cache.sqlite") in files
    for relative in files:
        shutil.rmtree(settings.index_dir)
        shutil.copytree(built, settings.index_dir)
        plant(settings.index_dir / relative, marker)
        try:
            Assistant(Retriever(settings.index_dir, embedder, settings), settings).answer("Siapa juru bicara Kremlin?")
        except Exception:  # noqa: BLE001 - refusing the file is fine; running it is not
            pass
        if relative.name in ("embedding-cache.sqlite", "manifest.json", "CURRENT"):
            (settings.corpus_dir / "seed.md").write_text(SEED.read_text() + "\nTambahan.\n")  # something to build
            try:
                build_index(settings, embedder)
            except Exception:  # noqa: BLE001
                pass
            shutil.copy(SEED, settings.corpus_dir / "seed.md")
        assert not marker.exists(), f"{relative}: read with pickle"
