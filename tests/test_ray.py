"""`rag index --ray`: a build whose passages are embedded on a Ray cluster (started here: a head
node with two CPU workers) gives the same chunks and vectors as a local build."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NEWS_FIXTURES

from rag.indexer import build_index
from rag.store import IndexStore

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


@pytest.fixture()
def ray_cluster(tmp_path):
    """`ray start --head` with 2 CPUs on a free port, stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray = str(Path(sys.executable).parent / "ray")
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short
    subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--port", str(port), "--node-ip-address", "127.0.0.1",
                    "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                   check=True, capture_output=True, timeout=120)
    yield f"127.0.0.1:{port}"
    import ray as ray_module

    ray_module.shutdown()
    subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=60)
    shutil.rmtree(temp, ignore_errors=True)


def test_a_ray_build_matches_a_local_build(settings, embedder, ray_cluster, tmp_path):
    for path in sorted((NEWS_FIXTURES / "corpus").glob("indosum_*"))[:8]:
        shutil.copy(path, settings.corpus_dir)
    local = build_index(settings, embedder)
    on_ray = settings.model_copy(update={"index_dir": tmp_path / "ray-index"})
    report = build_index(on_ray, embedder, ray=ray_cluster)
    assert report.chunks_embedded == local.chunks_embedded > 0 and report.chunks_reused == 0, report.summary()

    mine, theirs = IndexStore.open(settings.index_dir), IndexStore.open(on_ray.index_dir)
    rows = [(r["id"], r["article_id"], r["start"], r["end"]) for r in mine.db.execute('SELECT id, article_id, start, "end" FROM chunks ORDER BY id')]
    assert rows == [(r["id"], r["article_id"], r["start"], r["end"]) for r in theirs.db.execute('SELECT id, article_id, start, "end" FROM chunks ORDER BY id')]
    ids = [row[0] for row in rows]
    cosine = (mine.chunk_vectors(ids) * theirs.chunk_vectors(ids)).sum(axis=1)
    assert cosine.min() >= 0.999, f"worst cosine {cosine.min():.5f}"
    assert theirs.manifest.embedder_variant == mine.manifest.embedder_variant
    assert np.isclose(np.linalg.norm(theirs.chunk_vectors(ids), axis=1), 1, atol=1e-3).all()


def test_an_address_with_no_cluster_is_refused_at_once(settings, embedder):
    """`ray.init` tried a dead HOST:PORT for minutes (still going after 300 s), the build holding
    the index's writer lock all along, so the page's update and the watcher were refused."""
    import time

    from rag.manifest import IndexProblem

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    shutil.copy(sorted((NEWS_FIXTURES / "corpus").glob("indosum_*"))[0], settings.corpus_dir)
    started = time.monotonic()
    with pytest.raises(IndexProblem, match=f"no Ray cluster at '127.0.0.1:{closed}'"):
        build_index(settings, embedder, ray=f"127.0.0.1:{closed}")
    assert time.monotonic() - started < 60
