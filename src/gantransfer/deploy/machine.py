"""What this machine can do: its measured float32 matmul peak, and the peak resident memory of a piece of work."""
from __future__ import annotations

import os
import platform
import time
from typing import Callable

import torch


def matmul_peak_gflops(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Best float32 GFLOP/s of a ``size``-square torch matmul on ``threads`` threads (the machine's practical
    peak for dense arithmetic)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        for _ in range(2):
            a @ b
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return 2 * size ** 3 / best / 1e9


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Return freed heap memory to the system (glibc), so that memory a call reuses is counted again."""
    import gc
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_extra_mib(work: Callable[[], object]) -> float | None:
    """Peak resident memory ``work()`` adds to this process, in MiB (Linux: freed heap memory is returned to the
    system and the high-water mark reset through /proc/self/clear_refs first); None where that is not
    available."""
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    base = _status_kib("VmRSS")
    work()
    peak = _status_kib("VmHWM")
    return None if base is None or peak is None else max(0.0, (peak - base) / 1024)


def describe() -> dict[str, object]:
    """CPU model, core count, torch and onnxruntime versions."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
    except OSError:
        pass
    info: dict[str, object] = {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__}
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info
