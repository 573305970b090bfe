"""Every default in one place. Environment variables `RAG_<NAME>` override them; CLI flags
override those."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_CHECKOUT = Path(__file__).resolve().parent.parent
# The checkout `rag` runs from (the repository, or an editable install of it); for a wheel installed
# into site-packages, the folder it is run in: `corpus/` and `index/` are then the user's own.
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else Path.cwd()
SEARCH_LISTED = 10  # articles a search lists (page, API, `rag search`) unless asked for more or fewer (at most RAG_MAX_K)


class Settings(BaseSettings):
    """Settings of the library, the CLI and the app: each field is read from the environment
    variable `RAG_<FIELD>` (e.g. `RAG_TOP_K=5`), else its default; README ("Build or update the
    index") lists them.

    Example::

        settings = Settings(corpus_dir="my-articles", index_dir="my-index")
        settings.top_k   # 5, unless RAG_TOP_K says otherwise
    """

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=None, extra="ignore", allow_inf_nan=False)

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    embedding_model: str = "intfloat/multilingual-e5-small"
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where the embedder runs: auto = a CUDA GPU when torch sees one, else the CPU")
    embed_precision: Literal["auto", "fp32", "bf16", "int8", "fp16"] = Field(
        "auto", description="auto = fp16 on a GPU; on the CPU the fastest of int8, fp32 and bf16, measured at load "
                            "(within the family of an existing index: int8, or exact = fp32/bf16/fp16)")
    exact_search_max_chunks: int = Field(200_000, ge=100, description="more chunks than this are searched through an IVF index "
                                                                      "(approximate, memory-mapped; benchmarks/bench_scale.py); "
                                                                      "at least 100: k-means needs more vectors than its 16+ cells")
    vector_store: Literal["faiss", "milvus"] = Field("faiss", description="where the vectors live: a FAISS file per generation, "
                                                                        "or Milvus (Lite or a server, RAG_MILVUS_URI)")
    milvus_uri: str | None = Field(None, description="Milvus Lite file path or http://host:19530; default <index_dir>/milvus.db")
    milvus_collection: str = Field("rag", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                   description="prefix of the Milvus collections; the live one is aliased <prefix>_live")
    ivf_nprobe: int = Field(128, ge=1, description="IVF cells scanned per question: more find more of the exact top hits, slower")
    chunk_tokens: int = Field(200, ge=16, le=510, description="chunk size in model tokens")
    chunk_overlap: int = Field(1, ge=0, le=5, description="sentences repeated between chunks")
    max_file_mb: float = Field(20, gt=0, description="larger corpus files are refused")
    embed_batch_size: int = Field(32, ge=1, le=512)
    query_threads: int = Field(1, ge=1, description="torch threads when serving queries")
    lexical_weight: float = Field(0.7, ge=0, le=1, description="share of BM25 in the article score (the rest is dense)")
    lexical_weight_cross_lingual: float = Field(0.4, ge=0, le=1, description="the same for a question in another language "
                                                "than most articles (where only names match words)")
    # abstention, calibrated on the train questions with leave-gold-out (benchmarks/tune_on_train.py)
    min_coverage: float = Field(0.44, ge=0, le=1, description="abstain below this share of question terms in the best sentence...")
    min_dense_score: float = Field(0.88, ge=0, le=1, description="...unless the best passage is at least this similar")
    min_dense_cross_lingual: float = Field(0.80, ge=0, le=1, description="question and article in different languages: abstain below this similarity")
    reader: bool = Field(True, description="find the short answer and its sentence with the trained reader (models/reader); 0: quotes only")
    reader_ranking: list[float] | None = Field(None, min_length=6, max_length=6,
                                               description="weights of the reader's margin, the retrieval score, the dense "
                                                           "similarity, the shared words and the question's names missing, then the intercept: the probability "
                                                           "that an article answers; unset = the ones learned with the reader "
                                                           "(models/reader/reader.json, benchmarks/tune_on_train.py --reader)")
    min_answer_probability: float | None = Field(None, ge=0, le=1, description="with the reader: abstain when no article answers "
                                                                                "with this probability; unset = the reader's own")
    min_answer_probability_cross_lingual: float | None = Field(None, ge=0, le=1, description="the same for a question in "
                                                               "another language than the articles (its own ranking, whose "
                                                               "probabilities run lower); unset = the reader's own")
    top_k: int = Field(5, ge=1, le=200)  # and at most max_k: a larger one is cut to it
    max_k: int = Field(50, ge=1, le=200)
    ui_concurrency: int = Field(4, ge=1, le=64, description="chat requests the web page answers at once")
    api_concurrency: int = Field(4, ge=1, le=64, description="HTTP API requests answered at once; more wait their turn")
    ui_queue_size: int = Field(256, ge=1, description="chat requests waiting beyond that; more are refused with 'queue full' (bounded memory)")
    max_connections: int = Field(512, ge=8, description="open HTTP connections; more get 503 instead of piling up")
    ui_sessions: int = Field(256, ge=1, description="web sessions whose state the server keeps; the longest idle is dropped first")
    api_token: str | None = Field(None, description="token every write needs (HTTP API, web page, gradio_client); unset = read-only")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="web origins whose pages may call the HTTP API from the browser (a CMS widget), "
                                          "comma-separated, e.g. https://cms.example.id; unset = none (same origin only)")
    sources_file: Path = Field(PROJECT_ROOT / "sources.yaml", description="feeds, sitemaps and sites `rag fetch` and the app's schedule follow")
    fetch_every: float | None = Field(None, gt=0, le=366 * 24 * 3600, description="the app fetches the sources this often (30m, 2h, 900s; seconds "
                                                              "if no unit) and updates the index; unset = never")
    fetch_delay: float = Field(1.0, ge=0, description="seconds between two requests to the same site when fetching")
    watch_quiet_seconds: float = Field(2.0, gt=0, description="watch mode: update once the corpus folder has been quiet this long")
    llm: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(60, gt=0, description="seconds before an LLM call is given up")

    @field_validator("fetch_every", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """'30m', '2h', '1d', '90s' or plain seconds."""
        if isinstance(value, str) and value.strip():
            text = value.strip().lower()
            unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1])
            try:
                return float(text[:-1]) * unit if unit else float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 2h or 900s") from None
        return value or None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """'https://a.id, https://b.id' -> ['https://a.id', 'https://b.id']; each must be an http(s) origin."""
        if isinstance(value, str):
            value = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        for origin in value or []:
            if origin != "*" and not (isinstance(origin, str) and origin.startswith(("http://", "https://"))):
                raise ValueError(f"{origin!r} is not a web origin; write e.g. https://cms.example.id (comma-separated)")
        return value

    @property
    def max_file_bytes(self) -> int:
        """`max_file_mb` in bytes: the most one article file (or JSONL line) may hold."""
        return int(self.max_file_mb * 2**20)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides on top.

    Args:
        overrides: field=value pairs (e.g. `corpus_dir=...`); a None value keeps what the
            environment or the default says, so command-line options left out change nothing.

    Returns:
        The `Settings`.

    Example::

        get_settings(index_dir="/tmp/index", top_k=None).index_dir   # PosixPath('/tmp/index')
    """
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:  # one line per bad value, named as the user set it
        raise ValueError("; ".join(f"RAG_{'_'.join(map(str, e['loc'])).upper()}={str(e['input'])[:80]!r}: {e['msg']}"
                                   for e in error.errors())) from None
