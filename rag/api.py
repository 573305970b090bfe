"""The HTTP API (FastAPI): search, ask (optionally streamed as server-sent events), manage
articles and index updates. A thin shell over the library; OpenAPI docs at /docs.

Reads are open. Writes need `Authorization: Bearer <RAG_API_TOKEN>`; with no token
configured they are refused with a message saying how to set one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
from collections.abc import Iterator
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from rag.answer import Answer, Assistant
from rag.corpus import ArticleError, article_markdown, remove_article_file, save_article_file
from rag.indexer import IndexUpdater
from rag.retriever import Filters

MAX_QUERY_CHARS = 1000
MAX_JSON_BYTES = 2 * 1024 * 1024


class FiltersIn(BaseModel):
    since: dt.date | None = None
    until: dt.date | None = None
    sources: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=20)

    def to_filters(self) -> Filters:
        return Filters(self.since, self.until, tuple(self.sources))


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    filters: FiltersIn | None = None
    mode: Literal["extractive", "llm"] = "extractive"
    k: int | None = Field(None, ge=1, le=50)


class ArticleIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=1_000_000)
    id: str | None = Field(None, max_length=200, pattern=r"^[\w\-. ]+$", description="file name stem; derived from the title if absent")
    source: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=2000)
    published: dt.date | None = None
    language: str | None = Field(None, max_length=10)


def _slug(title: str) -> str:
    words = "".join(c if c.isalnum() else "-" for c in title.lower()).split("-")
    return "-".join(w for w in words if w)[:80] or "article"


def create_api(assistant: Assistant, updater: IndexUpdater, api_token: str | None) -> FastAPI:
    """The API bound to one assistant (its index) and one updater (its corpus)."""
    settings = assistant.settings

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        # Endpoints run in anyio's worker threads (40 by default). Answers are CPU-bound, so more
        # threads add no throughput; they only take CPU from the web page's chat queue. Capping
        # them at the chat's concurrency shares the CPU fairly (benchmarks/load_test.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_concurrency
        yield

    app = FastAPI(title="News archive assistant API", version="1.0", docs_url="/docs", openapi_url="/openapi.json", lifespan=lifespan)
    bearer = HTTPBearer(auto_error=False)

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not api_token:
            raise HTTPException(403, "writes are disabled: set RAG_API_TOKEN to a secret and send it as 'Authorization: Bearer <token>'")
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), api_token.encode()):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <RAG_API_TOKEN>'",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        limit = settings.max_file_bytes + 65536 if request.url.path == "/api/articles/upload" else MAX_JSON_BYTES
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse({"detail": f"request body over {limit // 2**20} MiB"}, status_code=413)
        return await call_next(request)

    @app.get("/api/health")
    def health() -> dict:
        store = assistant.retriever.refresh()
        manifest = store.manifest
        return {"status": "ok", "generation": manifest.generation, "articles": manifest.articles,
                "chunks": manifest.chunks, "model": manifest.model_id, "built_at": manifest.built_at}

    @app.get("/api/search")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
        k: Annotated[int, Query(ge=1, le=50)] = 10,
        since: dt.date | None = None, until: dt.date | None = None,
        source: Annotated[list[str] | None, Query(max_length=20)] = None,
    ) -> dict:
        hits = assistant.retriever.search(q, k, Filters(since, until, tuple(source or ())))
        return {"query": q, "results": [hit.to_json(rank) for rank, hit in enumerate(hits, 1)]}

    @app.post("/api/ask", response_model=None)
    def ask(body: AskIn, stream: bool = False) -> dict | StreamingResponse:
        if body.mode == "llm" and not settings.llm:
            raise HTTPException(400, "no LLM is configured: set RAG_LLM (and RAG_LLM_BASE_URL / RAG_LLM_API_KEY)")
        items = assistant.stream(
            body.question, [t.model_dump() for t in body.history],
            body.filters.to_filters() if body.filters else None, body.k, settings.llm if body.mode == "llm" else None,
        )
        if not stream:
            *_, answer = items
            return answer.to_json()
        return StreamingResponse(_events(items), media_type="text/event-stream")

    @app.get("/api/articles")
    def list_articles(offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
        articles = assistant.retriever.refresh().article_list()
        return {"total": len(articles), "articles": articles[offset : offset + limit]}

    @app.get("/api/articles/{article_id:path}")
    def get_article(article_id: str) -> dict:
        store = assistant.retriever.refresh()
        article = store.article(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id!r} in the index")
        return {**{k: v for k, v in article.__dict__.items() if k != "published"},
                "published": article.published.isoformat() if article.published else None,
                "sentences": store.sentences(article_id)}

    @app.post("/api/articles", dependencies=[Depends(require_token)], status_code=201)
    def add_article(body: ArticleIn, replace: bool = False) -> dict:
        name = f"{body.id or _slug(body.title)}.md"
        data = article_markdown(body.title, body.text, source=body.source, url=body.url,
                                published=body.published, language=body.language)
        return _save(name, data, replace)

    @app.post("/api/articles/upload", dependencies=[Depends(require_token)], status_code=201)
    async def upload_article(file: UploadFile = File(...), replace: bool = False) -> dict:
        data = await file.read(settings.max_file_bytes + 1)
        return _save(file.filename or "", data, replace)

    def _save(name: str, data: bytes, replace: bool) -> dict:
        try:
            path, articles = save_article_file(settings.corpus_dir, name, data, settings.max_file_bytes, replace)
        except ArticleError as error:
            status = 409 if "already exists" in error.reason else 422
            raise HTTPException(status, f"{error.reason}. {error.hint}") from None
        return {"path": path.name, "articles": [a.id for a in articles],
                "note": "saved in the corpus; POST /api/index/update to make it searchable"}

    @app.delete("/api/articles/{article_id:path}", dependencies=[Depends(require_token)])
    def delete_article(article_id: str) -> dict:
        article = assistant.retriever.refresh().article(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id!r} in the index")
        try:
            remove_article_file(settings.corpus_dir, article)
        except ArticleError as error:
            raise HTTPException(409, f"{error.reason}. {error.hint}") from None
        return {"deleted": article_id, "note": "removed from the corpus; POST /api/index/update to drop it from the index"}

    @app.post("/api/index/update", dependencies=[Depends(require_token)], status_code=202)
    def start_update() -> dict:
        return updater.start().__dict__

    @app.get("/api/index/status")
    def update_status() -> dict:
        job = updater.current
        return {"job": job.__dict__ if job else None, "index": health()}

    return app


def _events(items: Iterator[str | Answer]) -> Iterator[str]:
    """Server-sent events: `token` events with text, then one `answer` event with the checked answer."""
    for item in items:
        if isinstance(item, Answer):
            yield f"event: answer\ndata: {json.dumps(item.to_json(), ensure_ascii=False)}\n\n"
        else:
            yield f"event: token\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"

