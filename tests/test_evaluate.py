"""The measuring instrument: exact metric values, strict question files, and an end-to-end run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import PROJECT, write

from rag.evaluate import (
    QuestionFileError, contains_answer, load_questions, ndcg_at, percentile, recall_at, reciprocal_rank,
)


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


@pytest.mark.parametrize("line, message", [
    ("{oops", "1: not valid JSON"),
    ('{"id": "q", "question": "Siapa?", "answers": "Budi", "gold_doc": ["a"], "answerable": true}', "field 'answers' must be a list"),
    ('{"id": "q", "question": "Siapa?", "answers": [], "gold_doc": [], "answerable": true}', "'gold_doc' is empty"),
])
def test_malformed_question_file_names_line_and_field(tmp_path, line, message):
    path = write(tmp_path / "q.jsonl", line + "\n")
    with pytest.raises(QuestionFileError, match=message):
        load_questions(path)


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


def test_eval_command_end_to_end(tmp_path):
    for name, text in TINY.items():
        write(tmp_path / "corpus" / name, text)
    questions = write(tmp_path / "q.jsonl", "\n".join(json.dumps(q) for q in QUESTIONS))
    result = subprocess.run(
        [sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(tmp_path / "corpus"),
         "--index", str(tmp_path / "index"), "--json", "--leave-gold-out"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows["questions"] == 3
    assert rows["recall@1"] == 1.0 and rows["MRR@10"] == 1.0
    assert rows["citation validity"] == 1.0 and rows["citation precision"] == 1.0
    assert rows["containment (first cited sentence)"] >= 2 / 3  # "siapa pencetak gol" also matches the team name
    assert rows["answer mode"] == "extractive"
    # without its gold article no question has an answer in this archive: every one must abstain
    assert rows["abstention (leave-gold-out)"] == 1.0


def test_eval_command_rejects_a_malformed_file(tmp_path):
    questions = write(tmp_path / "q.jsonl", '{"id": "1", "question": 5}\n')
    result = subprocess.run([sys.executable, "-m", "rag", "eval", str(questions), "--corpus", str(PROJECT / "corpus")],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "q.jsonl:1: field 'question' must be a str" in result.stderr
