"""Nothing in the package deserialises with pickle (an index folder must never be able to run code)."""

from __future__ import annotations

import re

from conftest import PROJECT


def test_no_pickle_anywhere_in_the_package():
    pattern = re.compile(r"^\s*(import (pickle|dill|joblib|cloudpickle)|from (pickle|dill|joblib|cloudpickle)\b)"
                         r"|allow_pickle\s*=\s*True|torch\.load\(|yaml\.load\((?!.*Loader=_YAML_LOADER)", re.MULTILINE)
    offenders = [f"{path.relative_to(PROJECT)}: {match.group(0).strip()}"
                 for path in sorted((PROJECT / "rag").rglob("*.py")) + [PROJECT / "app.py"]
                 for match in pattern.finditer(path.read_text())]
    assert offenders == []
