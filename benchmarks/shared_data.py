"""Where benchmarks find the project's evaluation data, and one clear line when it is not there.

The data (`../shared/data/`, beside the project) is not part of the repository: a clone has
only the small fixtures under `tests/fixtures/`. Benchmarks that need the full data stop with
a message saying what is missing and where it comes from, never with a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS_QA = ROOT.parent / "shared" / "data" / "news-qa"
ENGLISH = ROOT / "benchmarks" / "data" / "news-qa-english.jsonl"  # news-qa questions translated by hand (data/README.md)


def require(*paths: Path) -> None:
    """Exit with one line (status 2) naming the first missing path and where the data comes from."""
    for path in paths:
        if not path.exists():
            print(f"error: {path} is missing. This benchmark reads the project's evaluation data (news-qa: "
                  f"corpus/ and questions-dev.jsonl, see ../shared/data/README.md), which lives beside the project "
                  f"in ../shared/data and is not part of the repository.", file=sys.stderr)
            sys.exit(2)
