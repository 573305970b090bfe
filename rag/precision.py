"""Where the models run (CPU or a CUDA GPU) and in which number format, chosen at run time.

Why: the fast path differs from machine to machine, and CPU flags do not predict it. On one of
our AVX-512 BF16 Xeons bf16 autocast embedded passages 2.7x faster than fp32; on another with
the same flags it was 1.5x slower, and int8 won there. So `auto` times the candidates on a small
probe when a model loads (about a second) and keeps the fastest; a CPU without native bf16 never
tries bf16 (it would be emulated, always slower). A GPU, when torch sees one and `RAG_DEVICE`
allows it, runs fp16.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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


def fastest(runs: dict[str, Callable[[], object]], rounds: int = 2) -> str:
    """The name of the fastest of `runs`, timed in interleaved rounds, each by its best round.

    Args:
        runs: name -> a function that does the work once (e.g. embeds a probe batch).
        rounds: how often each runs; the first round also warms caches up.

    Returns:
        The name whose best time is the lowest.

    Example::

        fastest({"sum": lambda: sum(range(1000)), "loop": lambda: [i for i in range(10**6)]})   # 'sum'
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return min(best, key=best.__getitem__)
