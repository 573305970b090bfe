"""Every vector computed for the live index, by (model fingerprint, passage text hash): a
rebuild, a resumed build or a changed article's unchanged chunks never pay for the model twice.

The passages of deleted and edited articles are dropped once they are more than a quarter of what
the cache holds for the model (`keep_only`): an archive updated every half hour for years keeps a
cache the size of its index, not of everything it ever held."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """Vectors by (model fingerprint, passage text): a rebuild or a resumed build reuses them."""

    def __init__(self, path: Path, fingerprint: str):
        self.fingerprint = fingerprint
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, text_hash TEXT, vector BLOB, PRIMARY KEY (model, text_hash))")

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those passage hashes this model computed before (the others are missing from the result)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            batch = list(hashes[start : start + 500])
            rows = self.db.execute(
                f"SELECT text_hash, vector FROM vectors WHERE model = ? AND text_hash IN ({','.join('?' * len(batch))})",
                [self.fingerprint, *batch],
            )
            found.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return found

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch; committed at once, so a kill loses at most the batch in flight."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.fingerprint, h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors)],
            )

    def count(self) -> int:
        """How many vectors the cache holds for this model."""
        return self.db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", [self.fingerprint]).fetchone()[0]

    def keep_only(self, hashes: Iterable[str]) -> int:
        """Drop this model's vectors of every passage but `hashes` (those of the live index); returns
        how many went. SQLite reuses the freed pages: the file stops growing (it does not shrink).

        Example::

            cache.keep_only({passage_key(title, chunk.text) for chunk in live_chunks})   # 120
        """
        with self.db:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS kept (text_hash TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM kept")
            self.db.executemany("INSERT OR IGNORE INTO kept VALUES (?)", ((h,) for h in hashes))
            gone = self.db.execute("DELETE FROM vectors WHERE model = ? AND text_hash NOT IN (SELECT text_hash FROM kept)",
                                   [self.fingerprint]).rowcount
            self.db.execute("DELETE FROM kept")
        return gone

    def close(self) -> None:
        """Close the cache's database."""
        self.db.close()
