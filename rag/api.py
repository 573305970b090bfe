"""The HTTP API (FastAPI): search, ask (optionally streamed as server-sent events), manage
articles and index updates. A thin shell over the library; OpenAPI docs at /docs.

Reads are open. Writes need `Authorization: Bearer <RAG_API_TOKEN>`; with no token
configured they are refused with a message saying how to set one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, File, HTTPException, Query, UploadFile
from fastapi_offline import FastAPIOffline
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rag import __version__
from rag.answer import MAX_QUESTION_CHARS, Answer, Assistant, Citation, Source, checked_question
from rag.articles import Archive, ArticleNotFound, WriteRefused
from rag.corpus import FIELD_LIMITS
from rag.problems import ArticleError, Problem
from rag.indexer import UpdateJob
from rag.retriever import Filters
from rag.config import SEARCH_LISTED
from rag.search import search_archive

MAX_JSON_BYTES = 2 * 1024 * 1024
# Routes whose bodies are files, bounded by RAG_MAX_FILE_MB: the API's upload and, mounted on the
# same app by app.py, the page's (Gradio's) upload.
UPLOAD_PATHS = ("/api/articles/upload", "/gradio_api/upload")


class Strict(BaseModel):
    """A request body that names a field the API does not know is refused (422 naming it), not
    quietly half-applied: a filter sent as "source" or "filter" would otherwise be ignored."""

    model_config = ConfigDict(extra="forbid")


class FiltersIn(Strict):
    """Which articles may answer: published in [since, until], from these outlets."""

    since: dt.date | None = Field(None, description="only articles published on or after this date (YYYY-MM-DD)")
    until: dt.date | None = Field(None, description="only articles published on or before this date (YYYY-MM-DD)")
    sources: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20, description="only articles of these outlets, as `source` names them (none: all)")

    @model_validator(mode="after")
    def period_in_order(self) -> FiltersIn:
        """A period that ends before it starts is refused (422 saying so), not answered with nothing."""
        self.to_filters()
        return self

    def to_filters(self) -> Filters:
        """The request's period and outlets as the library's `Filters`."""
        return Filters(self.since, self.until, tuple(self.sources))


class Turn(Strict):
    """One turn of the conversation before the question, as the chat showed it."""

    role: Literal["user", "assistant"] = Field(description="who said it")
    content: str = Field(max_length=20_000, description="what was said: a question, or the reply's `answer` text")


class AskIn(Strict):
    """A question, with the conversation before it (a follow-up such as "Dan Swedia?" is read with
    the question it follows) and the filters."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "question": "Apa yang dia katakan tentang NATO?",
        "history": [{"role": "user", "content": "Siapa Menteri Luar Negeri Rusia?"},
                    {"role": "assistant", "content": "Menurut arsip: Sergey Lavrov\nMenteri Luar Negeri Rusia Sergey Lavrov ... [1]"}],
        "filters": {"since": "2023-07-01", "sources": ["Al Jazeera"]}}]})

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)] = Field(
        description=f"the question, in any language (the reply follows it); at most {MAX_QUESTION_CHARS} characters")
    history: list[Turn] = Field(default_factory=list, max_length=50, description="the conversation before it, oldest first")
    filters: FiltersIn | None = Field(None, description="which articles may answer (none: all)")
    mode: Literal["extractive", "llm"] = Field(
        "extractive", description="'extractive' quotes the articles; 'llm' lets the configured LLM write the reply, its "
                                  "sentences checked against the quoted passages")
    k: int | None = Field(None, ge=1, description="passages retrieved (default RAG_TOP_K, at most RAG_MAX_K)")


class AnswerOut(BaseModel):
    """What `POST /api/ask` returns (`rag.answer.Answer.to_json`); documents the response in OpenAPI."""

    answer: str = Field(description="the reply: the short answer, then the quoted sentences with [n] marks")
    short_answer: str | None = Field(description="the answer span inside the first quote (None when abstaining, for a statement, with an LLM)")
    confidence: float | None = Field(description="0..1: the probability that the quoted article answers (None when abstaining or with an LLM)")
    citations: list[Citation] = Field(description="each quoted sentence, at [start, end) of its article's text")
    sources: list[Source] = Field(description="the articles cited (or, when abstaining, related ones), numbered as the [n] marks")
    abstained: bool
    language: str = Field(description="the reply's language ('id' or 'en', the question's)")
    notice: str | None = Field(description="a one-line notice, e.g. that the LLM failed and the extractive answer stands")
    unsupported: list[str] = Field(description="LLM mode: sentences of the reply that no quoted sentence supports")
    removed_citations: list[int] = Field(description="LLM mode: [n] marks that cited no passage, removed")


ERRORS = {code: {"description": text} for code, text in [
    (401, "missing or wrong token (writes)"), (403, "writes are disabled: no RAG_API_TOKEN on the server"),
    (404, "no such article"), (409, "the article exists (use replace=true), or is a record of a JSONL file"),
    (413, "request body over its limit (2 MiB JSON, RAG_MAX_FILE_MB for uploads)"),
    (422, "a field missing, unknown or invalid, or an article file that cannot be read; the message names it"),
    (507, "the corpus could not be written (a full disk, a read-only folder); it was left as it was")]}
ARTICLE_ERROR_STATUS = {"exists": 409, "utf16_file": 409, "record_moved": 409, "edit_document": 409, "write_failed": 507}


def errors(*codes: int) -> dict:
    """OpenAPI entries for the error statuses an endpoint answers with."""
    return {code: ERRORS[code] for code in codes}


class ArticleIn(Strict):
    """An article to save into the corpus (as a Markdown file with front matter); indexed by the next update."""

    title: str = Field(min_length=1, max_length=FIELD_LIMITS["title"], description="the headline")
    text: str = Field(min_length=1, max_length=1_000_000, description="the article's text, paragraphs separated by blank lines")
    id: str | None = Field(None, max_length=200, pattern=r"^[\w\-. ]+$", description="file name stem; derived from the title if absent")
    source: str | None = Field(None, max_length=FIELD_LIMITS["source"], description="the outlet, e.g. 'Kompas' (the filters' `sources`)")
    url: str | None = Field(None, max_length=FIELD_LIMITS["url"], description="where it was published")
    published: dt.date | None = Field(None, description="publication date (YYYY-MM-DD; the filters' dates)")
    language: str | None = Field(None, max_length=10, description="e.g. 'id' or 'en' (detected when absent)")


class ArticleFieldsIn(Strict):
    """An article's fields to change in its file (those left out stay; an empty string removes one, but not the title)."""

    title: str | None = Field(None, max_length=FIELD_LIMITS["title"], description="the headline")
    source: str | None = Field(None, max_length=FIELD_LIMITS["source"], description="the outlet, e.g. 'Kompas'")
    published: str | None = Field(None, max_length=FIELD_LIMITS["published"], description="publication date, YYYY-MM-DD ('' removes it)")
    url: str | None = Field(None, max_length=FIELD_LIMITS["url"], description="where it was published")


def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(HTTPBearer(auto_error=False))) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any (`Archive` checks it)."""
    return credentials.credentials if credentials else None


Token = Annotated[str | None, Depends(bearer_token)]


class WriteGate:
    """Bounds every request body as it arrives, and refuses a write without the token before
    reading its body.

    A `Content-Length` header is a promise a client need not make (a chunked upload has none),
    so the bytes are counted as they come: past the limit (`MAX_JSON_BYTES`, or `upload_limit`
    for the `UPLOAD_PATHS`) the request ends with 413. A write (anything but GET/HEAD/OPTIONS
    under /api/articles or /api/index) is refused with 401/403 before its body is read; the
    endpoints check the token again through `Archive`, the library's gate.
    """

    def __init__(self, app, archive: Archive, upload_limit: int) -> None:
        self.app, self.archive, self.upload_limit = app, archive, upload_limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, headers = scope["path"], dict(scope["headers"])
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and path.startswith(("/api/articles", "/api/index")):
            try:
                self.archive.authorize(_bearer(headers.get(b"authorization", b"").decode("latin-1")))
            except WriteRefused as refused:
                status, extra = _refusal_status(refused)
                return await JSONResponse({"detail": str(refused)}, status, extra)(scope, receive, send)
        limit = self.upload_limit if path in UPLOAD_PATHS else MAX_JSON_BYTES
        too_large = HTTPException(413, f"request body over {limit // 2**20} MiB")
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await JSONResponse({"detail": too_large.detail}, 413)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large  # raised where the endpoint reads its body: FastAPI answers it
            return message

        await self.app(scope, counted, send)


def _bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, if any."""
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _refusal_status(refused: WriteRefused) -> tuple[int, dict[str, str]]:
    """401 (and how to authenticate) for a missing or wrong token, 403 when writes are disabled."""
    return (401, {"WWW-Authenticate": "Bearer"}) if refused.configured else (403, {})


def create_api(assistant: Assistant, archive: Archive) -> FastAPI:
    """The API bound to one assistant (its index) and one archive (its corpus, updates and token).

    Example::

        app = create_api(assistant, Archive(settings, assistant.retriever, updater, token="s3cret"))
        uvicorn.run(app, port=7860)
    """
    settings = assistant.settings

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        # Endpoints run in anyio's worker threads (40 by default). Answers are CPU-bound, so more
        # threads add no throughput; they only take CPU from the web page's chat queue. Capping
        # them (RAG_API_CONCURRENCY, beside the chat's RAG_UI_CONCURRENCY) shares the CPU fairly
        # (benchmarks/load_test.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_concurrency
        yield

    # FastAPIOffline serves the Swagger UI from files in the package: /docs renders with no network
    app = FastAPIOffline(title="News archive assistant API", version=__version__, docs_url="/docs", redoc_url=None,
                         openapi_url="/openapi.json", lifespan=lifespan)

    app.add_middleware(WriteGate, archive=archive, upload_limit=settings.max_file_bytes + 65536)
    if settings.cors_origins:  # added last, so it runs first: a preflight is answered before the gate reads anything
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    add_read_routes(app, assistant, archive)
    add_write_routes(app, archive)
    return app


def add_read_routes(app: FastAPI, assistant: Assistant, archive: Archive) -> None:
    """Health, search, ask (optionally streamed), article listings and the update status: open to all."""
    settings = assistant.settings

    def too_many(k: int | None) -> None:
        """Refuse more passages than the server allows (`RAG_MAX_K`), rather than quietly return fewer."""
        if k is not None and k > settings.max_k:
            raise HTTPException(422, f"k: at most {settings.max_k} (RAG_MAX_K); this request asks for {k}")

    @app.get("/api/health")
    def health() -> dict:
        """Whether the server answers, and the index it answers from: its generation, counts, embedding
        model, when it was built, and the answer path ("reader (bf16)", "shared words" without a reader)."""
        manifest = assistant.retriever.refresh().manifest
        return {"status": "ok", "version": __version__, "generation": manifest.generation, "articles": manifest.articles,
                "chunks": manifest.chunks, "model": manifest.model_id, "built_at": manifest.built_at,
                "answers": assistant.answer_path}

    @app.get("/api/search", responses=errors(422))
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="the query, in any language")],
        k: Annotated[int | None, Query(ge=1, description=f"articles returned (default {SEARCH_LISTED}, at most RAG_MAX_K)")] = None,
        since: Annotated[dt.date | None, Query(description="only articles published on or after (YYYY-MM-DD)")] = None,
        until: Annotated[dt.date | None, Query(description="only articles published on or before (YYYY-MM-DD)")] = None,
        source: Annotated[list[str] | None, Query(max_length=20, description="only these outlets (repeat for more)")] = None,
        order: Annotated[Literal["relevance", "newest", "oldest"], Query(
            description="best match first, or by date (with a phrase in quotes: the newest / oldest of every article holding it)")] = "relevance",
    ) -> dict:
        """The articles that best match `q` (BM25 and meaning, fused), best first or by date: each
        with its score, its best passage and where that passage stands in the article's text. A
        phrase in double quotes in `q` ("banjir rob") must stand in every article listed (whole
        words, any case), a -word or -"phrase" in none; `phrases` and `excluded` name them and
        `holding` counts the articles holding all of the one and none of the other (within the
        period and outlets), however many `k` lists, and `holding_by_year` each year's of them
        ("undated" last; {} when none holds them; both null without phrases). No answer is read: for an answer
        with citations, POST /api/ask."""
        too_many(k)
        try:
            filters = Filters(since, until, tuple(source or ()))
        except ValueError as error:  # a period that ends before it starts
            raise HTTPException(422, f"since, until: {error}") from None
        try:
            found = search_archive(assistant.retriever, q, k, filters, order)
        except ValueError as error:  # a blank query
            raise HTTPException(422, f"q: {error}") from None
        return {"query": q, "order": order, "phrases": list(found.phrases), "excluded": list(found.excluded), "holding": found.holding,
                "holding_by_year": None if found.holding is None else {year or "undated": count for year, count in found.years.items()},
                "results": [hit.to_json(rank) for rank, hit in enumerate(found.hits, 1)]}

    @app.post("/api/ask", response_model=None, responses={
        200: {"model": AnswerOut, "content": {"text/event-stream": {"schema": {"type": "string"}, "example":
              'event: token\ndata: "Menurut arsip: "\n\nevent: answer\ndata: {"answer": ..., "citations": [...]}\n\n'}},
              "description": "the answer; with ?stream=true server-sent events: `token` events with text, then one `answer` event"},
        400: {"description": "mode 'llm' without a configured LLM"}, **errors(413, 422)})
    def ask(body: AskIn, stream: Annotated[bool, Query(description="send the reply as server-sent events")] = False,
            ) -> dict | StreamingResponse:
        """The answer to a question: the short answer and the quoted sentences, each cited `[n]` with
        its article and character offsets (`citations`, `sources`), the reader's `confidence`, or
        `abstained` with related articles when the archive has no answer."""
        too_many(body.k)
        if body.mode == "llm" and not settings.llm:
            raise HTTPException(400, "no LLM is configured: set RAG_LLM (and RAG_LLM_BASE_URL / RAG_LLM_API_KEY)")
        try:
            checked_question(body.question)  # before a stream starts: white space pydantic does not strip
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        items = assistant.stream(
            body.question, [t.model_dump() for t in body.history],
            body.filters.to_filters() if body.filters else None, body.k, settings.llm if body.mode == "llm" else False,
        )
        if not stream:
            *_, answer = items
            return answer.to_json()
        return StreamingResponse(_events(items), media_type="text/event-stream")

    @app.get("/api/articles")
    def list_articles(offset: Annotated[int, Query(ge=0, description="articles skipped")] = 0,
                      limit: Annotated[int, Query(ge=1, le=500, description="articles returned")] = 100,
                      q: Annotated[str, Query(max_length=200, description="only those whose id or title holds this (any case)")] = "",
                      ) -> dict:
        """The indexed articles (id, title, outlet, date, address, file), by id, a page at a time, and how many match."""
        total, articles = archive.list(q, offset, limit)
        return {"total": total, "articles": articles}

    @app.get("/api/articles/{article_id:path}", responses=errors(404))
    def get_article(article_id: str) -> dict:
        """One article: its text and fields, and its sentences with their character offsets (what a citation's `start` / `end` point into)."""
        try:
            article = archive.article(article_id)
        except ArticleNotFound as missing:
            raise HTTPException(404, str(missing)) from None
        return {**article.to_json(), "sentences": assistant.retriever.store.sentences(article_id)}

    @app.get("/api/index/status")
    def update_status() -> dict:
        """The running or last update (`job`), the last automatic one (watch mode, fetch schedule) and what runs them."""
        updater = archive.updater
        return {"job": _job_json(updater.current), "last_automatic": _job_json(updater.last_automatic),
                "automatic": sorted(updater.automatic), "index": health()}


def add_write_routes(app: FastAPI, archive: Archive) -> None:
    """Add, upload, edit and delete articles, start an update: each needs the token (checked by `Archive`)."""
    @app.post("/api/articles", status_code=201, responses=errors(401, 403, 409, 413, 422, 507))
    def add_article(body: ArticleIn, token: Token,
                    replace: Annotated[bool, Query(description="overwrite an article of the same id")] = False) -> dict:
        """Save an article into the corpus (token needed); POST /api/index/update indexes it."""
        fields = body.model_dump(exclude={"title", "text", "id"})
        return _saved(lambda: archive.save_article(body.title, body.text, token, body.id, replace, **fields))

    @app.post("/api/articles/upload", status_code=201, responses=errors(401, 403, 409, 413, 422, 507))
    async def upload_article(token: Token, file: UploadFile = File(..., description=".md, .txt, .jsonl, .html, .pdf or .docx"),
                             replace: Annotated[bool, Query(description="overwrite a file of the same name")] = False) -> dict:
        """Save an article file into the corpus (token needed), checked as the index reads it: a file
        that cannot be read is refused with why; POST /api/index/update indexes it."""
        data = await file.read(archive.settings.max_file_bytes + 1)
        def save() -> dict:  # parsing a PDF takes seconds: off the event loop, within RAG_API_CONCURRENCY
            return _saved(lambda: archive.save_file(file.filename or "", data, token, replace), file.filename or "")
        return await anyio.to_thread.run_sync(save)

    @app.patch("/api/articles/{article_id:path}", responses=errors(401, 403, 404, 409, 422, 507))
    def edit_article(article_id: str, body: ArticleFieldsIn, token: Token) -> dict:
        """Change an article's title, outlet, date or URL in its file (token needed): a Markdown or text file's front matter,
        or its record's line of a JSONL file; its text stays. POST /api/index/update re-indexes it."""
        with _http_errors():
            article = archive.edit(article_id, token, **body.model_dump(exclude_unset=True))
        return {**article.to_json(), "note": "changed in the corpus; POST /api/index/update to re-index it"}

    @app.delete("/api/articles/{article_id:path}", responses=errors(401, 403, 404, 409, 507))
    def delete_article(article_id: str, token: Token) -> dict:
        """Remove an article from the corpus (token needed): its file, or its record's line of a JSONL file (emptied, the
        other lines untouched); POST /api/index/update drops it from the index."""
        with _http_errors():
            archive.delete(article_id, token)
        return {"deleted": article_id, "note": "removed from the corpus; POST /api/index/update to drop it from the index"}

    @app.post("/api/index/update", status_code=202, responses=errors(401, 403))
    def start_update(token: Token) -> dict:
        """Start an incremental index update (token needed) and return its job; GET /api/index/status follows it."""
        with _http_errors():
            return _job_json(archive.start_update(token))


def _job_json(job: UpdateJob | None) -> dict | None:
    """An update job as JSON: its fields but the report (its summary says it) and the wait event."""
    return {name: value for name, value in job.__dict__.items() if name not in ("report", "finished")} if job else None


def _saved(save, file_name: str = "") -> dict:
    with _http_errors(file_name):
        path, articles = save()
    return {"path": path.name, "articles": [a.id for a in articles],
            "note": "saved in the corpus; POST /api/index/update to make it searchable"}


@contextlib.contextmanager
def _http_errors(file_name: str = "") -> Iterator[None]:
    """The library's refusals as HTTP statuses: 403 writes disabled, 401 bad token, 404, 409, 422,
    507 (an uploaded file's problem names it and the line: "a.jsonl:3: not valid JSON ... Fix or
    remove the line.")."""
    try:
        yield
    except WriteRefused as refused:
        status, headers = _refusal_status(refused)
        raise HTTPException(status, str(refused), headers=headers or None) from None
    except ArticleNotFound as missing:
        raise HTTPException(404, str(missing)) from None
    except ArticleError as error:
        status = ARTICLE_ERROR_STATUS.get(error.key, 422)
        raise HTTPException(status, Problem.of(file_name, error).text() if file_name else f"{error.reason}. {error.hint}") from None


def _events(items: Iterator[str | Answer]) -> Iterator[str]:
    """Server-sent events: `token` events with text, then one `answer` event with the checked answer."""
    for item in items:
        if isinstance(item, Answer):
            yield f"event: answer\ndata: {json.dumps(item.to_json(), ensure_ascii=False)}\n\n"
        else:
            yield f"event: token\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"

