"""Load test on loopback: many chat sessions at once through the HTTP API and the Gradio endpoint,
with an index update in the middle. Prints requests, errors, p50/p95 latency and server memory.

    python benchmarks/load_test.py                      # starts the app on a 61-article corpus
    python benchmarks/load_test.py --sessions 50 --seconds 60 --max-requests 20000
    python benchmarks/load_test.py --url http://127.0.0.1:7860 --token T --pid 1234   # a running server

Each session loops over three calls (POST /api/ask, GET /api/search, the Gradio `chat` event),
so every kind of request is in flight at the same time. The run stops at the time limit or the
request cap, whichever comes first. Memory is the server's RSS, sampled every second after a
warm-up; "flat" means the last samples are not above the first ones by more than the margin
the caller sets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

PROJECT = Path(__file__).resolve().parent.parent
NEWS_QA = PROJECT / "tests" / "fixtures" / "news-qa"  # 90 articles and their questions, shipped with the tests
SEED_QUESTIONS = ["Apa kata Lavrov tentang perluasan NATO?", "Siapa juru bicara Kremlin?", "What did Peskov say about Finland?"]
NEW_ARTICLE = {"title": "Jembatan Kaca Ngarai Sianok Dibuka", "source": "Uji Beban",
               "text": "Pemerintah Kabupaten Agam membuka jembatan kaca di atas Ngarai Sianok pada hari Sabtu. "
                       "Jembatan sepanjang 87 meter itu dirancang oleh insinyur Ratna Wulandari."}
NEW_QUESTION = "Siapa yang merancang jembatan kaca Ngarai Sianok?"


@dataclass
class Calls:
    """Latencies and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def row(self, name: str, seconds: float) -> dict:
        ordered = sorted(self.latencies) or [0.0]
        return {"endpoint": name, "requests": len(self.latencies) + len(self.errors), "errors": len(self.errors),
                "p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
                "per_s": len(self.latencies) / seconds}


def load_questions(corpus_ids: set[str], limit: int = 200) -> list[str]:
    """Questions about the articles the server holds (the test fixture's FacQA questions), plus the seed's."""
    questions = list(SEED_QUESTIONS)
    for line in (NEWS_QA / "questions.jsonl").read_text().splitlines():
        record = json.loads(line)
        if set(record.get("gold_doc") or []) & corpus_ids:
            questions.append(record["question"])
    return questions[:limit]


async def ask_api(client: httpx.AsyncClient, question: str) -> None:
    response = await client.post("/api/ask", json={"question": question, "k": 5})
    response.raise_for_status()
    body = response.json()
    if not body.get("answer"):
        raise ValueError(f"empty answer: {body}")


async def search_api(client: httpx.AsyncClient, question: str) -> None:
    response = await client.get("/api/search", params={"q": question, "k": 5})
    response.raise_for_status()
    if not isinstance(response.json().get("results"), list):
        raise ValueError("no results list")


async def chat_gradio(client: httpx.AsyncClient, question: str) -> None:
    """The web chat's own event, through Gradio's HTTP API (queue, then a server-sent event stream)."""
    response = await client.post("/gradio_api/call/chat", json={"data": [question, "", "", [], 5, "extractive"]})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    last_event, data = None, ""
    async with client.stream("GET", f"/gradio_api/call/chat/{event_id}") as stream:
        stream.raise_for_status()
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                last_event = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:]
    if last_event != "complete" or "assistant" not in data:
        raise ValueError(f"chat ended with {last_event}: {data[:200]}")


CALLS = {"POST /api/ask": ask_api, "GET /api/search": search_api, "Gradio chat event": chat_gradio}


class Budget:
    """Stops every session at the time limit or the request cap."""

    def __init__(self, seconds: float, max_requests: int):
        self.deadline, self.left = time.monotonic() + seconds, max_requests

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return False
        self.left -= 1
        return True


async def session(number: int, client: httpx.AsyncClient, questions: list[str], budget: Budget, calls: dict[str, Calls]) -> None:
    rng = random.Random(number)
    kinds = list(CALLS)
    turn = number
    while budget.take():
        kind = kinds[turn % len(kinds)]
        turn += 1
        started = time.monotonic()
        try:
            await CALLS[kind](client, rng.choice(questions))
            calls[kind].latencies.append(time.monotonic() - started)
        except Exception as error:  # counted and reported; the session goes on
            calls[kind].errors.append(f"{type(error).__name__}: {error}"[:300])


async def update_during_load(client: httpx.AsyncClient, token: str, delay: float) -> dict:
    """Add an article and rebuild the index while the sessions run; then the new article must be cited."""
    await asyncio.sleep(delay)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    added = await client.post("/api/articles", json=NEW_ARTICLE, headers=headers)
    added.raise_for_status()
    job = (await client.post("/api/index/update", headers=headers)).json()
    while job.get("state") == "running":
        await asyncio.sleep(0.5)
        job = (await client.get("/api/index/status")).json()["job"]
    answer = (await client.post("/api/ask", json={"question": NEW_QUESTION})).json()
    cited = any(c.get("title") == NEW_ARTICLE["title"] for c in answer.get("citations", []))
    return {"state": job.get("state"), "seconds": time.monotonic() - started, "new_article_cited": cited,
            "summary": job.get("summary") or job.get("error")}


async def sample_memory(pid: int | None, samples: list[float], stop: asyncio.Event) -> None:
    if pid is None:
        return
    process = psutil.Process(pid)
    while not stop.is_set():
        samples.append(process.memory_info().rss / 2**20)
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass


async def run_load(url: str, sessions: int, seconds: float, max_requests: int, questions: list[str],
                   token: str | None = None, server_pid: int | None = None, warmup_requests: int = 30) -> dict:
    """Drive the server and return the table rows, the memory samples and the update's outcome."""
    limits = httpx.Limits(max_connections=sessions + 8, max_keepalive_connections=sessions + 8)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        warm = Budget(60, warmup_requests)  # model caches, Gradio queue workers, allocator arenas
        await asyncio.gather(*(session(i, client, questions, warm, {k: Calls() for k in CALLS}) for i in range(4)))
        calls = {kind: Calls() for kind in CALLS}
        memory: list[float] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(server_pid, memory, stop))
        update = asyncio.create_task(update_during_load(client, token, seconds / 3)) if token else None
        started = time.monotonic()
        budget = Budget(seconds, max_requests)
        await asyncio.gather(*(session(i, client, questions, budget, calls) for i in range(sessions)))
        elapsed = time.monotonic() - started
        update_result = await update if update else None
        stop.set()
        await sampler
    rows = [calls[kind].row(kind, elapsed) for kind in CALLS]
    errors = [e for kind in CALLS for e in calls[kind].errors]
    return {"rows": rows, "seconds": elapsed, "sessions": sessions, "memory_mb": memory, "update": update_result,
            "error_examples": errors[:5]}


def memory_growth(samples: list[float]) -> float:
    """Median of the last fifth of the samples over the median of the first fifth, minus one."""
    if len(samples) < 5:
        raise ValueError(f"only {len(samples)} memory samples (one a second): too few to measure growth; run longer or pass --pid")
    fifth = max(1, len(samples) // 5)
    return statistics.median(samples[-fifth:]) / statistics.median(samples[:fifth]) - 1


def print_report(result: dict) -> None:
    print(f"\n{result['sessions']} sessions, {result['seconds']:.1f} s")
    print("| endpoint | requests | errors | p50 ms | p95 ms | req/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in result["rows"]:
        print(f"| {row['endpoint']} | {row['requests']} | {row['errors']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['per_s']:.1f} |")
    memory = result["memory_mb"]
    if memory:
        print(f"server RSS: first {memory[0]:.0f} MB, max {max(memory):.0f} MB, last {memory[-1]:.0f} MB "
              f"(growth last/first fifth {100 * memory_growth(memory):+.1f}%)")
    if result["update"]:
        print(f"index update during load: {result['update']}")
    for example in result["error_examples"]:
        print(f"error: {example}")


def start_app(root: Path, articles: int):
    """The real app (`python app.py`) on a free port, over the seed article and `articles` of the test fixture's news articles."""
    import shutil

    sys.path.insert(0, str(PROJECT / "tests"))
    from server import AppServer

    server = AppServer(root, token="load-test-token")
    for path in sorted((NEWS_QA / "corpus").iterdir())[:articles]:  # the FacQA ones (with questions) first
        shutil.copy(path, server.corpus / path.name)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--articles", type=int, default=60, help="articles of tests/fixtures/news-qa to serve when starting the app (at most 90)")
    parser.add_argument("--url", help="test a running server instead of starting one")
    parser.add_argument("--token", help="its API token (enables the index update during the load)")
    parser.add_argument("--pid", type=int, help="its process id (enables memory sampling)")
    args = parser.parse_args()
    if args.url:
        questions = load_questions(set())
        result = asyncio.run(run_load(args.url, args.sessions, args.seconds, args.max_requests, questions, args.token, args.pid))
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as root, start_app(Path(root), args.articles) as server:
            questions = load_questions({p.name for p in server.corpus.iterdir()})
            result = asyncio.run(run_load(server.url, args.sessions, args.seconds, args.max_requests, questions,
                                          "load-test-token", server.process.pid))
    print_report(result)
    return 1 if any(row["errors"] for row in result["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
