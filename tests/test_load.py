"""Bounded load on loopback through the real server: HTTP API and the Gradio chat event at once,
an index update in the middle, zero failed requests, flat memory (benchmarks/load_test.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from conftest import PROJECT

sys.path.insert(0, str(PROJECT / "benchmarks"))
from load_test import load_questions, memory_growth, print_report, run_load, start_app  # noqa: E402

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not


def run(tmp_path, sessions: int, seconds: float, max_requests: int, articles: int) -> dict:
    with start_app(tmp_path, articles) as server:
        questions = load_questions({p.name for p in server.corpus.iterdir()})
        result = asyncio.run(run_load(server.url, sessions, seconds, max_requests, questions, "load-test-token", server.process.pid))
    print_report(result)
    return result


def check(result: dict, max_growth: float) -> None:
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in result["rows"]), result["error_examples"]
    update = result["update"]
    assert update["state"] == "done" and update["new_article_cited"], update
    assert memory_growth(result["memory_mb"]) < max_growth, result["memory_mb"]


def test_short_load_with_an_index_update(shared_server):
    questions = load_questions({p.name for p in shared_server.corpus.iterdir()})
    result = asyncio.run(run_load(shared_server.url, sessions=8, seconds=6, max_requests=400, questions=questions,
                                  token="test-token", server_pid=shared_server.process.pid))
    print_report(result)
    check(result, max_growth=0.25)


@pytest.mark.slow
def test_fifty_sessions_for_a_minute(tmp_path, stress_table):
    result = run(tmp_path, sessions=50, seconds=60, max_requests=20000, articles=60)
    rows = result["rows"]
    memory = result["memory_mb"]
    stress_table.add(
        "load: 50 sessions x 60 s (API ask, API search, Gradio chat)", cases=sum(r["requests"] for r in rows),
        failures=sum(r["errors"] for r in rows),
        detail="; ".join(f"{r['endpoint']} p50 {r['p50_ms']:.0f} ms / p95 {r['p95_ms']:.0f} ms" for r in rows)
               + f"; RSS {memory[0]:.0f}→{memory[-1]:.0f} MB ({100 * memory_growth(memory):+.1f}%); "
               f"index update during load {result['update']['state']} in {result['update']['seconds']:.1f} s",
    )
    check(result, max_growth=0.10)


def test_memory_growth_needs_enough_samples():
    assert memory_growth([100, 100, 100, 110, 110]) == pytest.approx(0.10)
    with pytest.raises(ValueError, match="only 4 memory samples"):
        memory_growth([100, 100, 100, 500])  # too few to tell growth from noise: no silent 0.0
