"""Where the models run (CPU or a CUDA GPU) and in which number format, chosen at run time.

Why: the fast path differs from machine to machine, and CPU flags do not predict it. On one of
our AVX-512 BF16 Xeons bf16 autocast embedded passages 2.7x faster than fp32; on another with
the same flags it was 1.5x slower, and int8 won there. So `auto` times the candidates on a small
probe the first time a model loads on a machine (about a second) and keeps the fastest; the
choice is remembered for that machine (`RAG_PRECISION_CACHE`, default
~/.cache/rag/fastest.json), so every later process, the CLI's build as the server's queries,
takes the same one without timing again (timed per process, a loaded machine could pick int8 in
one and fp32 in the other, whose vectors do not mix). Delete the file to measure again. A CPU
without native bf16 never tries bf16 (it would be emulated, always slower). A GPU, when torch
sees one and `RAG_DEVICE` allows it, runs fp16.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> str:
    """'cpu' or 'cuda' for a `RAG_DEVICE` value: `auto` is CUDA when torch sees a GPU, else the CPU.

    Args:
        requested: 'auto', 'cpu' or 'cuda'.

    Returns:
        'cpu' or 'cuda'.

    Example::

        resolve_device("auto")   # 'cpu' on a machine without a GPU
    """
    if requested not in DEVICES:
        raise ValueError(f"RAG_DEVICE={requested!r}: use auto, cpu or cuda")
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise RuntimeError(f"RAG_DEVICE=cuda, but torch {torch.__version__} sees no CUDA GPU; use RAG_DEVICE=auto or cpu")
    if requested == "auto":
        return "cuda" if available else "cpu"
    return requested


def native_bf16() -> bool:
    """Does this CPU compute in bf16 itself (AVX-512 BF16 or AMX)? Without it bf16 is emulated."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_flags() -> str:
    """The CPU features that decide the fast paths, for benchmark tables: e.g. 'AVX512, bf16, vnni'."""
    import torch

    flags = [torch.backends.cpu.get_cpu_capability()]
    flags += [name for name, present in (("bf16", native_bf16()), ("vnni", torch.cpu._is_vnni_supported()),
                                         ("amx", torch.cpu._is_amx_tile_supported())) if present]
    return ", ".join(flags)


def fastest(runs: dict[str, Callable[[], object]], rounds: int = 2, remember: str | None = None) -> str:
    """The name of the fastest of `runs`, timed in interleaved rounds, each by its best round.

    Args:
        runs: name -> a function that does the work once (e.g. embeds a probe batch).
        rounds: how often each runs; the first round also warms caches up.
        remember: a name for the work (e.g. 'embedder intfloat/multilingual-e5-small'): the
            winner is stored for this machine (CPU model and flags, torch version, threads) and
            returned without timing by every later call with the same name and candidates.

    Returns:
        The name whose best time is the lowest.

    Example::

        fastest({"sum": lambda: sum(range(1000)), "loop": lambda: [i for i in range(10**6)]})   # 'sum'
    """
    key = f"{remember}|{','.join(sorted(runs))}|{_machine()}" if remember else None
    known = _remembered().get(key) if key else None
    if known in runs:
        return known
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    winner = min(best, key=best.__getitem__)
    if key:
        _remember(key, winner)
    return winner


def _cache_file() -> Path:
    return Path(os.environ.get("RAG_PRECISION_CACHE", Path.home() / ".cache" / "rag" / "fastest.json"))


def _machine() -> str:
    """What the winner depends on: the CPU model and flags, torch's version and thread count, and a
    limit set on oneDNN's instruction set (`ONEDNN_MAX_CPU_ISA=AVX2` runs an AVX-512 CPU as an
    AVX2 one does, bf16 emulated: its winner must not stand for the CPU's own)."""
    import torch

    model = platform.processor()
    with contextlib.suppress(OSError):
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), model)
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"{model}|{cpu_flags()}|torch {torch.__version__}|{torch.get_num_threads()} threads" + (f"|oneDNN {limit}" if limit else "")


def _remembered() -> dict[str, str]:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: measure


def _remember(key: str, winner: str) -> None:
    """Add one result, written atomically (two processes may measure at once; the last one stays)."""
    path = _cache_file()
    with contextlib.suppress(OSError):  # a read-only home only costs a measurement per process
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(json.dumps({**_remembered(), key: winner}, indent=1), encoding="utf-8")
        os.replace(staging, path)
