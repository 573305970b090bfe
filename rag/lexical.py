"""The lexical side of the index: BM25 (bm25s) over chunks and over whole articles, saved in
bm25s's own files (no pickle).

BM25 nails names, numbers and rare words, which factoid questions about news are full of.
Indonesian text is lower-cased (but for initials such as "AS" that lower-cased would be English
stopwords), stripped of Indonesian and English stopwords and stemmed with Snowball's Indonesian
stemmer, so "mengungsi" and "pengungsi" meet. A phrase in quotes is found as written instead
(`phrase_pattern`): a researcher counting an exact name wants no stemmed cousins.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer

from rag.language import ENGLISH_STOPWORDS, INDONESIAN_STOPWORDS, case_folded

logging.getLogger("bm25s").setLevel(logging.WARNING)  # its per-build debug lines are noise


def _stopwords() -> list[str]:
    return sorted(INDONESIAN_STOPWORDS | ENGLISH_STOPWORDS)


_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default splitter


def split_words(text: str) -> list[str]:
    """Words of two characters or more, `case_folded` (so "AS", Amerika Serikat, is not dropped
    as the stopword "as").

    Example::

        split_words("Presiden AS, as usual")   # ['presiden', 'AS', 'as', 'usual']
    """
    return [case_folded(w) for w in _WORD.findall(text)]


# scripts that write words without spaces between them: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=256)
def phrase_pattern(phrase: str) -> re.Pattern:
    """The phrase as whole words in that order, any case, any spaces between them (a line break
    too): "joko widodo" finds "Joko  Widodo" but not "Joko Widodonya". Scripts written without
    spaces between words (Chinese, Japanese, Thai, ...) have no word ends to hold to: "北京" is
    found in "在北京，洪水".

    Example::

        bool(phrase_pattern("banjir rob").search("Banjir\nrob melanda"))   # True
    """
    words = phrase.split()
    if not words:
        raise ValueError("a phrase to find needs a word")
    start = "" if _UNSPACED.match(words[0][0]) else r"(?<!\w)"
    end = "" if _UNSPACED.match(words[-1][-1]) else r"(?!\w)"
    return re.compile(start + r"\s+".join(map(re.escape, words)) + end, re.IGNORECASE)


def holds_phrase(title: str | None, text: str | None, phrase: str) -> bool:
    """Whether an article's title or text holds `phrase` (`phrase_pattern`). A search tests
    every article, so the pattern runs only where the phrase's longest word stands (a plain
    literal test first: over the 4,140 news-qa articles a search with a phrase took a median of
    555 ms with the pattern alone, 90 ms with the test first and the articles tested once a
    search, against 14 ms without a phrase; AVX2 AMD, one run)."""
    needle = _longest_word(phrase)
    return any(needle.search(part) and phrase_pattern(phrase).search(part) for part in (text or "", title or ""))


@functools.lru_cache(maxsize=256)
def _longest_word(phrase: str) -> re.Pattern:
    """The phrase's longest word, any case as `phrase_pattern` reads it ("İstanbul" for "istanbul"),
    with no look-around: a literal the regex engine scans for fast."""
    return re.compile(re.escape(max(phrase.split(), key=len)), re.IGNORECASE)


def make_bm25_tokenizer() -> bm25s.tokenization.Tokenizer:
    """Split and lower-case (`split_words`), drop Indonesian and English stopwords, stem with Snowball's
    Indonesian stemmer."""
    return bm25s.tokenization.Tokenizer(lower=False, splitter=split_words, stopwords=_stopwords(),
                                        stemmer=Stemmer.Stemmer("indonesian"))


class LexicalIndex:
    """BM25 over texts keyed by ids (chunk ids or article ids), saved in bm25s's own files."""

    def __init__(self, bm25: bm25s.BM25, tokenizer: bm25s.tokenization.Tokenizer, keys: np.ndarray):
        self.bm25, self.tokenizer, self.keys = bm25, tokenizer, keys

    @classmethod
    def build(cls, texts: Sequence[str], keys: np.ndarray) -> "LexicalIndex":
        """BM25 over `texts` (`make_bm25_tokenizer`: stopwords out, Indonesian stems), row i answering for `keys[i]`."""
        tokenizer = make_bm25_tokenizer()
        tokens = tokenizer.tokenize(list(texts) or [""], return_as="tuple", show_progress=False)
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25, tokenizer, keys)

    def save(self, folder: Path) -> None:
        """Write the BM25 index, its vocabulary and keys into `folder` (read back by `load`)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(folder), show_progress=False)
        self.tokenizer.save_vocab(str(folder))
        np.save(folder / "keys.npy", self.keys, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        """A saved index, its score matrix memory-mapped: at a million chunks it is hundreds of MB
        that every server process would otherwise copy (benchmarks/bench_scale.py)."""
        tokenizer = make_bm25_tokenizer()
        tokenizer.load_vocab(str(folder))
        return cls(bm25s.BM25.load(str(folder), mmap=True), tokenizer, np.load(folder / "keys.npy", allow_pickle=False))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[Any, float]]:
        """(key, score) pairs, best first; only keys in `allowed` when given."""
        tokens = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        k = min(k, len(self.keys))
        if not tokens or not tokens[0] or k <= 0:
            return []
        mask = np.isin(self.keys, allowed).astype(np.float32) if allowed is not None else None
        documents, scores = self.bm25.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.keys[d].item(), float(score)) for d, score in zip(documents[0], scores[0]) if score > 0]
