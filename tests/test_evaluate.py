"""The measuring instrument: exact metric values, strict question files, and an end-to-end run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import PROJECT, write

from rag.evaluate import (
    QuestionFileError, contains_answer, evaluate, exact_match, load_questions, ndcg_at, normalise_answer, percentile,
    recall_at, reciprocal_rank, squad_questions, token_f1,
)
from rag.precision import cpu_flags


def test_rank_metrics_exact_values():
    ranked = ["x", "gold", "y", "gold2"]
    gold = frozenset({"gold", "gold2"})
    assert (recall_at(ranked, gold, 1), recall_at(ranked, gold, 2)) == (0.0, 1.0)
    assert reciprocal_rank(ranked, gold) == 0.5
    assert reciprocal_rank(ranked, gold, k=1) == 0.0
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at(ranked, gold) == pytest.approx(expected)
    assert ndcg_at(["gold", "gold2"], gold) == pytest.approx(1.0)


def test_containment_and_percentiles():
    assert contains_answer("Juru bicara Kremlin Dmitry Peskov mengatakan", ["dmitry peskov"])
    assert not contains_answer("Lavrov berkata", ["Peskov", " "])
    assert percentile([0.1, 0.2, 0.3, 0.4], 0.5) == 0.2
    assert percentile([0.1, 0.2, 0.3, 0.4], 0.95) == 0.4


def test_short_answer_metrics_follow_squad():
    assert normalise_answer("  Presiden  Joe Biden, (A.S.).") == "presiden joe biden as"
    assert normalise_answer("Rp2.500,00") == "rp250000"
    assert exact_match("joe biden.", ["Obama", "Joe Biden"]) == 1.0
    assert exact_match("Presiden Joe Biden", ["Joe Biden"]) == 0.0
    assert token_f1("Presiden Joe Biden", ["Joe Biden"]) == pytest.approx(0.8)  # precision 2/3, recall 1
    assert token_f1("the Kremlin", ["Kremlin", "Moskow"]) == 1.0  # English articles do not count
    assert token_f1("Lavrov", ["Peskov"]) == 0.0
    assert (token_f1("", [""]), token_f1("", ["Peskov"])) == (1.0, 0.0)


@pytest.mark.parametrize("line, message", [
    ("{oops", "1: not valid JSON"),
    ('{"id": "q", "question": "Siapa?", "answers": "Budi", "gold_doc": ["a"], "answerable": true}', "field 'answers' must be a list"),
    ('{"id": "q", "question": "Siapa?", "answers": [], "gold_doc": [], "answerable": true}', "'gold_doc' is empty"),
    ('{"id": "q", "question": "  ", "answers": [], "gold_doc": ["a"], "answerable": true}', "1: field 'question': the question is empty"),
    ('{"id": "q", "question": "Siapa?", "answers": [], "gold_doc": ["a"], "answerable": true}', "1: field 'answers' is empty for an answerable"),
    ('{"id": "q", "question": "Siapa?", "gold_doc": ["a"], "answerable": true}', "1: field 'answers' is missing"),  # was "got None"
    ('{"version": "v2.0", "data": [{"title": "x", "paragraphs": []}]}', "a SQuAD file of one JSON document.*write it as JSONL"),
    ('{\n  "version": "v2.0",\n  "data": []\n}', "a SQuAD file of one JSON document"),  # pretty-printed: was "1: not valid JSON"
])
def test_malformed_question_file_names_line_and_field(tmp_path, line, message):
    path = write(tmp_path / "q.jsonl", line + "\n")
    with pytest.raises(QuestionFileError, match=message):
        load_questions(path)



SQUAD_ROW = '{"question": "Siapa?", "context": "Budi datang.", "answers": {"text": ["Budi"]}}'


@pytest.mark.parametrize("line, message", [
    ("{oops", r"squad.jsonl:2: not valid JSON"),
    ('["Siapa?", "Budi datang."]', r"squad.jsonl:2: expected a JSON object"),
    ('{"question": "Siapa?", "context": "Budi datang.", "answers": ["Budi"]}', r"squad.jsonl:2: field 'answers' must be an object"),
    ('{"question": "Siapa?", "context": "Budi datang.", "answers": {"text": "Budi"}}', r"squad.jsonl:2: field 'answers.text' must be a list"),
])
def test_malformed_squad_shape_file_names_line(tmp_path, line, message):
    """A SQuAD-shape file's bad line is named as a question file's is (it once gave a bare JSON
    error, or a traceback for a row that is not an object)."""
    path = write(tmp_path / "squad.jsonl", SQUAD_ROW + "\n" + line + "\n")
    with pytest.raises(QuestionFileError, match=message):
        squad_questions(path, None, tmp_path / "contexts")

TINY = {
    "banjir.md": "---\ntitle: Banjir Besar Melanda Jakarta\n---\nBanjir besar melanda Jakarta pada hari Senin. Sebanyak 5.000 warga mengungsi ke masjid terdekat.",
    "gempa.md": "---\ntitle: Gempa di Padang\n---\nGempa berkekuatan 6,1 mengguncang Padang. Gubernur Mahyeldi meminta warga tetap tenang.",
    "bola.md": "---\ntitle: Persija Juara Liga\n---\nPersija Jakarta menjadi juara liga setelah menang 2-0. Gol dicetak oleh Marko Simic.",
}
QUESTIONS = [
    {"id": "1", "question": "Berapa warga yang mengungsi karena banjir di Jakarta?", "answers": ["5.000"], "gold_doc": ["banjir.md"], "answerable": True, "split": "valid"},
    {"id": "2", "question": "Siapa gubernur yang meminta warga Padang tetap tenang setelah gempa?", "answers": ["Mahyeldi"], "gold_doc": ["gempa.md"], "answerable": True, "split": "valid"},
    {"id": "3", "question": "Siapa pencetak gol Persija saat juara liga?", "answers": ["Marko Simic"], "gold_doc": ["bola.md"], "answerable": True, "split": "valid"},
]


@pytest.mark.integration  # runs `python -m rag` as a user does (a real process): `make test` runs it, a bare `pytest` not
def test_eval_command_end_to_end(tmp_path):
    for name, text in TINY.items():
        write(tmp_path / "corpus" / name, text)
    questions = write(tmp_path / "q.jsonl", "\n".join(json.dumps(q) for q in QUESTIONS))
    result = subprocess.run(
        [sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(tmp_path / "corpus"),
         "--index", str(tmp_path / "index"), "--json", "--leave-gold-out", "--compare-reader",
         "--details", str(tmp_path / "details.jsonl")],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    rows, without = reports["reader"], reports["quotes only (no reader)"]
    # --details: a line per question and variant, whose scores are the ones the report averages
    details = [json.loads(line) for line in (tmp_path / "details.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(d["variant"], d["id"]) for d in details] == [(v, q["id"]) for v in reports for q in QUESTIONS]
    for variant, report in reports.items():
        mine = [d for d in details if d["variant"] == variant]
        assert sum(d["exact_match"] for d in mine) / 3 == report["short answer EM"]
        assert sum(d["f1"] for d in mine) / 3 == pytest.approx(report["short answer F1"], abs=0.002)
        assert sum(d["first_quote_holds_answer"] for d in mine) / 3 == report["containment (first cited sentence)"]
        assert all(d["gold_rank"] == 1 and d["first_quote_article"] in d["gold_doc"] for d in mine)
        assert all(d["leave_gold_out"]["abstained"] and d["leave_gold_out"]["first_quote"] is None for d in mine)
        wrong = sum(not d["abstained"] and not d["first_quote_holds_answer"] for d in mine)
        assert report["wrong answers (of all asked)"] == wrong / 6  # 3 questions, 3 leave-gold-out twins
    assert all(d["short_answer"] for d in details if d["variant"] == "reader")
    assert all(d["short_answer"] is None for d in details if d["variant"] != "reader")
    # the path taken, the reader's precision as chosen on this machine, and the CPU it ran on
    assert rows["answer mode"] in {f"extractive, reader ({p})" for p in ("fp32", "bf16")}, rows["answer mode"]
    assert without["answer mode"] == "extractive, quotes only"
    assert rows["CPU"] == without["CPU"] == f"{cpu_flags()}; 1 thread(s)"  # answers are timed on one thread, as served
    # the reader marks "5.000 warga", "Mahyeldi", and a name in the sentence the quote chose for Persija
    assert rows["short answer EM"] >= 1 / 3 and rows["short answer F1"] >= 0.5 > without["short answer F1"]
    assert without["short answer EM"] == 0.0  # a whole quoted sentence is never the exact answer
    assert rows["questions"] == 3
    assert rows["recall@1"] == 1.0 and rows["MRR@10"] == 1.0
    assert rows["citation validity"] == 1.0 and rows["citation precision"] == 1.0
    assert rows["containment (first cited sentence)"] >= 2 / 3  # "siapa pencetak gol" also matches the team name
    # without its gold article no question has an answer in this archive: every one must abstain
    assert rows["abstention (leave-gold-out)"] == 1.0


@pytest.mark.integration  # runs `python -m rag` as a user does (a real process): `make test` runs it, a bare `pytest` not
def test_eval_reads_a_squad_shape_file_whose_contexts_are_the_corpus(tmp_path):
    rows = [
        {"id": "a", "question": "Berapa warga yang mengungsi karena banjir di Jakarta?", "context": TINY["banjir.md"].split("---\n")[-1],
         "answers": {"text": ["5.000"], "answer_start": [60]}, "is_impossible": False},
        {"id": "b", "question": "Siapa gubernur yang meminta warga Padang tetap tenang?", "context": TINY["gempa.md"].split("---\n")[-1],
         "answers": {"text": ["Mahyeldi"], "answer_start": [44]}, "is_impossible": False},
        {"id": "c", "question": "Siapa presiden Brasil saat ini?", "context": TINY["bola.md"].split("---\n")[-1],
         "answers": {"text": [], "answer_start": []}, "is_impossible": True},
    ]
    questions = write(tmp_path / "squad.jsonl", "\n".join(json.dumps(r) for r in rows))
    result = subprocess.run(
        [sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(tmp_path / "contexts"),
         "--index", str(tmp_path / "index"), "--json"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len((tmp_path / "contexts" / "contexts.jsonl").read_text().splitlines()) == 3
    assert report["questions"] == 3 and report["recall@1"] == 1.0
    assert report["short answer F1"] >= 0.8 and report["abstention (unanswerable)"] == 1.0


def test_a_question_file_from_windows_is_read_or_named(tmp_path):
    """A BOM was "not valid JSON (decode using utf-8-sig)"; UTF-16 a bare codec error naming no file."""
    line = '{"id": "q", "question": "Siapa?", "answers": ["Budi"], "gold_doc": ["a"], "answerable": true}\n'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + line.encode())
    assert load_questions(tmp_path / "bom.jsonl")[0].question == "Siapa?"
    (tmp_path / "utf16.jsonl").write_bytes(line.encode("utf-16"))
    with pytest.raises(QuestionFileError, match=r"utf16.jsonl: not UTF-8 .* save it as UTF-8"):
        load_questions(tmp_path / "utf16.jsonl")


def test_a_squad_files_contexts_are_never_written_into_a_users_folder(tmp_path):
    """`rag eval squad.jsonl --corpus my-corpus` replaced my-corpus/contexts.jsonl, a file of the user's."""
    mine = write(tmp_path / "mine" / "contexts.jsonl", '{"id": "x", "title": "Punya saya", "text": "Isi."}\n')
    squad = write(tmp_path / "squad.jsonl", SQUAD_ROW + "\n")
    with pytest.raises(QuestionFileError, match="holds files rag eval did not write"):
        squad_questions(squad, None, tmp_path / "mine")
    assert mine.read_text() == '{"id": "x", "title": "Punya saya", "text": "Isi."}\n'
    for _ in range(2):  # a folder of its own, written again
        assert len(squad_questions(squad, None, tmp_path / "contexts")) == 1


def test_eval_against_a_corpus_without_the_gold_articles_is_refused(tmp_path):
    """The fixture questions evaluated over the project's corpus (--corpus forgotten) scored zeros, silently."""
    result = subprocess.run([sys.executable, "-m", "rag", "eval", str(PROJECT / "tests" / "fixtures" / "news-qa" / "questions.jsonl"),
                             "--corpus", str(PROJECT / "corpus"), "--index", str(tmp_path / "index")],
                            cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "none of the 25 answerable questions' gold articles is in" in result.stderr, result.stderr


def test_eval_command_rejects_a_malformed_file(tmp_path):
    questions = write(tmp_path / "q.jsonl", '{"id": "1", "question": 5}\n')
    result = subprocess.run([sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(PROJECT / "corpus")],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "q.jsonl:1: field 'question' must be a str" in result.stderr


@pytest.mark.parametrize("where", ["no-such-folder/details.jsonl", "corpus"])
def test_eval_says_at_once_when_the_details_file_cannot_be_written(tmp_path, where):
    """In a folder that is not there, or a folder itself: said in one line, before the index is
    built (minutes on a real corpus), not after every question was asked."""
    questions = write(tmp_path / "q.jsonl", "\n".join(json.dumps(q) for q in QUESTIONS))
    for name, text in TINY.items():
        write(tmp_path / "corpus" / name, text)
    result = subprocess.run([sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(tmp_path / "corpus"),
                             "--index", str(tmp_path / "index"), "--details", str(tmp_path / where)],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith(f"error: --details {tmp_path / where}: cannot write there"), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "index").exists()  # nothing was built


UNANSWERABLE = [  # the tiny archive has no Bandung flood, nor Brazil's president
    {"id": "4", "question": "Berapa warga yang mengungsi karena banjir di Bandung?", "answers": [], "gold_doc": [], "answerable": False},
    {"id": "5", "question": "Siapa presiden Brasil saat ini?", "answers": [], "gold_doc": [], "answerable": False},
]


def two_outlets_evaluated(tmp_path, embedder, questions: list[dict], **settings_changed) -> tuple[dict, list[dict]]:
    """`evaluate` (with leave-gold-out) over TINY and two more articles: another outlet's copy of the
    flood story, another Persija match; returns the report and the details lines (asked again in
    the same `tmp_path`, the index is found up to date)."""
    from rag.answer import Assistant
    from rag.config import get_settings
    from rag.indexer import build_index
    from rag.retriever import Retriever

    settings = get_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    for name, text in TINY.items():
        write(tmp_path / "corpus" / name, text)
    write(tmp_path / "corpus" / "banjir-lain.md", "---\ntitle: Ribuan Warga Jakarta Mengungsi\n---\n"
          "Hujan deras sejak Minggu malam membuat sungai meluap. Sebanyak 5.000 warga mengungsi karena banjir di Jakarta.")
    write(tmp_path / "corpus" / "bola-lain.md", "---\ntitle: Persija Menang di Kandang\n---\n"
          "Persija Jakarta menang 1-0 atas Persib dalam laga liga. Gol kemenangan dicetak oleh Bambang Pamungkas.")
    build_index(settings, embedder)
    assistant = Assistant(Retriever(settings.index_dir, embedder, settings), settings.model_copy(update=settings_changed))
    loaded = load_questions(write(tmp_path / "q.jsonl", "\n".join(json.dumps(q) for q in questions)))
    details: list[dict] = []
    return evaluate(assistant, loaded, leave_gold_out=True, details=details.append), details


def test_leave_gold_out_tells_an_answer_from_another_article_from_a_wrong_one(tmp_path, embedder):
    """Two outlets carried the flood story: without the gold one, quoting the other is a right
    answer, not a failure to abstain; the report counts it apart from a wrong answer (another
    match's scorer) and from an abstention (no other article about the Padang earthquake)."""
    rows, details = two_outlets_evaluated(tmp_path, embedder, QUESTIONS + UNANSWERABLE)
    assert rows["abstention (leave-gold-out)"] == pytest.approx(1 / 3)
    assert rows["leave-gold-out: answer quoted from another article"] == pytest.approx(1 / 3)
    # what a user meets: of the 5 questions and 3 leave-gold-out twins, two answered with a quote that does not
    # hold the answer: another match's scorer, and the Jakarta flood's 5.000 for Bandung's
    assert all(d["first_quote_holds_answer"] for d in details if d["answerable"])
    assert [d["abstained"] for d in details if not d["answerable"]] == [False, True]
    assert rows["wrong answers (of all asked)"] == pytest.approx(2 / 8)


def test_the_abstention_curve_foretells_what_a_threshold_gives(tmp_path, embedder):
    """benchmarks/abstention_curve.py: asked once with the thresholds at 0, the details tell what
    any threshold would give; asked again at that threshold, `rag eval` reports just that."""
    import sys

    sys.path.insert(0, str(PROJECT / "benchmarks"))
    from abstention_curve import curve

    def run(threshold: float) -> tuple[dict, list[dict]]:
        return two_outlets_evaluated(tmp_path, embedder, [*QUESTIONS, UNANSWERABLE[0]], min_answer_probability=threshold)

    _, everything = run(0.0)
    twins = [d["leave_gold_out"] for d in everything if d["answerable"]]
    given = sorted(d["confidence"] for d in everything + twins if not d["abstained"])
    middle = len(given) // 2  # halfway up the answers given (between two: confidences are rounded to 4 places)
    threshold = (given[middle - 1] + given[middle]) / 2
    predicted = curve(everything, (threshold,))[0]
    rows, _ = run(threshold)
    assert 0 < predicted["abstained"] < 7
    assert predicted["false abstention"] == pytest.approx(rows["false abstention (answerable)"])
    assert predicted["wrong"] / 7 == pytest.approx(rows["wrong answers (of all asked)"])  # 4 questions, 3 twins
    unanswered = (rows["abstention (leave-gold-out)"] * 3 + rows["abstention (unanswerable)"]) / 4
    assert predicted["abstention where it should"] == pytest.approx(unanswered)


def test_the_abstention_curve_refuses_details_of_a_run_without_the_reader(tmp_path):
    """Details from `RAG_READER=0` have no probabilities: the curve printed false abstention 1.000 at every threshold."""
    row = {"answerable": True, "abstained": False, "confidence": None, "first_quote_holds_answer": True}
    details = write(tmp_path / "quotes.jsonl", "\n".join(json.dumps(row) for _ in range(3)) + "\n")
    result = subprocess.run([sys.executable, str(PROJECT / "benchmarks" / "abstention_curve.py"), str(details)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "comes from a run without the reader (RAG_READER=0)" in result.stderr, result.stderr


def test_bench_index_names_a_corpus_that_is_a_file():
    """`benchmarks/bench_index.py --corpus FILE` ended in a NotADirectoryError traceback."""
    result = subprocess.run([sys.executable, str(PROJECT / "benchmarks" / "bench_index.py"), "--corpus", str(PROJECT / "README.md")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "README.md is a file; name a folder of articles" in result.stderr, result.stderr
