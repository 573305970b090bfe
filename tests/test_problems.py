"""Every refusal of an article file can be said in each language the page speaks."""

from __future__ import annotations

import re

import pytest
from server import PROJECT

from rag.problems import MESSAGES, ArticleError, Problem, fields_of, message


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_each_message_has_both_languages_with_the_same_fields(key):
    assert set(MESSAGES[key]) == {"en", "id"}
    fields = fields_of(key)
    assert fields["en"] == fields["id"], fields
    reason, hint = message(key, dict.fromkeys(fields["en"], "x"), "id")
    assert reason and hint.endswith(".") and hint[0].isupper()


def test_every_key_the_code_raises_is_in_the_table():
    """A key missing from the table would turn a bad file into a crash (KeyError) instead of a refusal."""
    used = set()
    for path in (PROJECT / "rag").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'ArticleError\("(\w+)"', source))
        used |= set(re.findall(r'Problem\(relative, "(\w+)"', source))
        used |= set(re.findall(r'return \(?"(\w+)", \{', source))
    assert len(used) >= 30 and used <= set(MESSAGES), used - set(MESSAGES)


def test_an_error_reads_in_english_for_the_api_and_in_indonesian_for_the_page():
    error = ArticleError("exists", name="gempa.md")
    assert str(error) == "gempa.md already exists in the corpus" and error.hint.startswith("Rename")
    assert error.text("id")[0] == "gempa.md sudah ada di korpus"
    problem = Problem.of("berita.jsonl", ArticleError("bad_json", message="Expecting value"), 3)
    assert str(problem) == "berita.jsonl:3: not valid JSON (Expecting value). Fix or remove the line."
    assert problem.text("id") == "berita.jsonl:3: bukan JSON yang sah (Expecting value). Perbaiki atau hapus baris ini."
    # the page's edit box says the date as the page names it ("published ... Tulis sebagai YYYY-MM-DD" was half English)
    assert ArticleError("bad_date", value="19-08-2016").text("id") == (
        "tanggal terbit (published) '19-08-2016' bukan tanggal ISO", "Tulis sebagai TTTT-BB-HH, misalnya 2023-07-11.")
