"""Near-duplicate articles: the same wire story republished by several outlets.

Why: an archive fed by many outlets holds the same Antara or Reuters story five times, lightly
edited. Listed five times, it crowds other articles out of the top results, and quoting a
later copy credits the wrong outlet. So at index time each article gets a MinHash signature
over its word 5-gram shingles (datasketch); locality-sensitive hashing (16 bands of 4 values,
kept in SQLite beside the article rows, so an incremental build compares a new article with
the whole archive without loading it) finds candidates, and a pair whose estimated Jaccard
similarity is at least `SIMILAR` joins one group. All copies stay in the index; the retriever
shows a group once, as its earliest published copy, with the others listed as "also in".
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

PERMUTATIONS = 64
BANDS = 16  # 16 bands of 4 rows: pairs with Jaccard above ~0.5 become candidates
SHINGLE_WORDS = 5
SIMILAR = 0.7  # estimated Jaccard of word 5-grams: lightly edited copies score 0.8-1, related stories < 0.2

SCHEMA = """
CREATE TABLE IF NOT EXISTS minhash (article_id TEXT PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS minhash_bands (band INTEGER NOT NULL, bucket INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS minhash_bands_by_bucket ON minhash_bands(band, bucket);
CREATE INDEX IF NOT EXISTS minhash_bands_by_article ON minhash_bands(article_id);
CREATE TABLE IF NOT EXISTS near_duplicates (article_id TEXT PRIMARY KEY, group_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS near_duplicates_by_group ON near_duplicates(group_id);
"""
_WORD = re.compile(r"\w+", re.UNICODE)


def signature(text: str) -> np.ndarray:
    """The MinHash signature (PERMUTATIONS uint64 values) of a text's word 5-gram shingles.

    Example::

        a, b = signature(story), signature(story.replace("Senin", "Selasa"))
        estimated_jaccard(a, b)   # ~0.9
    """
    from datasketch import MinHash

    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
    minhash = MinHash(num_perm=PERMUTATIONS)
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype(np.uint64)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal signature values: an unbiased estimate of the shingle sets' Jaccard similarity."""
    return float(np.mean(a == b))


def add(db: sqlite3.Connection, article_id: str, text: str) -> list[str]:
    """Store an article's signature and put it in a group with the near-duplicates already stored
    (merging groups it bridges). Returns the ids it was found similar to."""
    mine = signature(text)
    buckets = _buckets(mine)
    candidates = {row[0] for band, bucket in buckets for row in db.execute(
        "SELECT article_id FROM minhash_bands WHERE band = ? AND bucket = ?", (band, bucket))} - {article_id}
    similar = []
    for other in sorted(candidates):
        (blob,) = db.execute("SELECT signature FROM minhash WHERE article_id = ?", (other,)).fetchone()
        if estimated_jaccard(mine, np.frombuffer(blob, dtype=np.uint64)) >= SIMILAR:
            similar.append(other)
    db.execute("INSERT OR REPLACE INTO minhash VALUES (?, ?)", (article_id, mine.tobytes()))
    db.executemany("INSERT INTO minhash_bands VALUES (?, ?, ?)", [(band, bucket, article_id) for band, bucket in buckets])
    if similar:
        _join(db, [article_id, *similar])
    return similar


def remove(db: sqlite3.Connection, article_ids: Sequence[str]) -> None:
    """Forget the articles; a group left with one member is dissolved."""
    for start in range(0, len(article_ids), 500):
        batch = list(article_ids[start : start + 500])
        marks = ",".join("?" * len(batch))
        groups = [g for (g,) in db.execute(f"SELECT DISTINCT group_id FROM near_duplicates WHERE article_id IN ({marks})", batch)]
        for table in ("minhash", "minhash_bands", "near_duplicates"):
            db.execute(f"DELETE FROM {table} WHERE article_id IN ({marks})", batch)
        for group in groups:
            db.execute("DELETE FROM near_duplicates WHERE group_id = ? AND (SELECT count(*) FROM near_duplicates WHERE group_id = ?) < 2",
                       (group, group))


def groups_of(db: sqlite3.Connection, article_ids: Iterable[str]) -> list[list[str]]:
    """The groups (member ids, sorted) that any of the given articles belongs to, each once."""
    ids = list(dict.fromkeys(article_ids))
    groups: dict[str, dict[str, None]] = {}  # members as ordered sets: a group can come back in several batches
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        marks = ",".join("?" * len(batch))
        rows = db.execute(f"SELECT group_id, article_id FROM near_duplicates WHERE group_id IN "
                          f"(SELECT group_id FROM near_duplicates WHERE article_id IN ({marks})) ORDER BY article_id", batch)
        for group, member in rows:
            groups.setdefault(group, {})[member] = None
    return [list(members) for members in groups.values()]


def _buckets(values: np.ndarray) -> list[tuple[int, int]]:
    """(band, bucket) for each band: a 63-bit hash of the band's values (SQLite integers are signed)."""
    rows = PERMUTATIONS // BANDS
    return [(band, int.from_bytes(hashlib.blake2b(values[band * rows : (band + 1) * rows].tobytes(), digest_size=8).digest(), "big") >> 1)
            for band in range(BANDS)]


def _join(db: sqlite3.Connection, article_ids: list[str]) -> None:
    """Put the articles, and every group any of them is in, into one group (named by its smallest id)."""
    marks = ",".join("?" * len(article_ids))
    groups = [g for (g,) in db.execute(f"SELECT DISTINCT group_id FROM near_duplicates WHERE article_id IN ({marks})", article_ids)]
    members = set(article_ids)
    for group in groups:
        members |= {a for (a,) in db.execute("SELECT article_id FROM near_duplicates WHERE group_id = ?", (group,))}
    name = min(members)
    db.executemany("INSERT OR REPLACE INTO near_duplicates VALUES (?, ?)", [(member, name) for member in members])
