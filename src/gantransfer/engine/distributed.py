"""Data-parallel training on PyTorch's own launcher (``torchrun --nproc-per-node N -m gantransfer ...``).

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; the engine then joins a process
group (gloo on CPU, NCCL on CUDA). Every process draws the same global batch from the shared generator and
keeps its slice of it (``--batch-size`` is the global batch); each phase's gradients and logged values are
averaged across processes; only rank 0 touches the run directory: it reads the checkpoint and broadcasts it, and
it writes checkpoints, exports, grids, logs, evaluations and run.json. Without torchrun (``WORLD_SIZE`` unset or
1) nothing here does anything.

Nothing is pickled: states travel as safetensors bytes and JSON text.
"""
from __future__ import annotations

import datetime
import json
import os
from typing import TYPE_CHECKING, Any

from gantransfer.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where it is used: the command line reads the rank without it
    import torch


def env_rank() -> int:
    """This process's rank as torchrun set it (0 without torchrun)."""
    return _env_int("RANK", 0)


def env_world_size() -> int:
    """The number of processes torchrun started (1 without torchrun)."""
    return _env_int("WORLD_SIZE", 1)


def check_global_batch(batch_size: int | None, world_size: int) -> None:
    """ConfigError unless the global ``batch_size`` splits evenly across ``world_size`` processes."""
    if world_size > 1 and batch_size is not None and batch_size % world_size:
        raise ConfigError(f"--batch-size {batch_size} is the global batch, split across the {world_size} "
                          f"processes: make it a multiple of {world_size}")


def is_main_process() -> bool:
    """True for rank 0, the only process that writes into the run directory."""
    return env_rank() == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer; launch with torchrun, which "
                          "sets it") from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={value} is negative; launch with torchrun, which sets it")
    return value


class ProcessGroup:
    """This process's place in a data-parallel run: rank, world size and the collectives the engine needs.

    With one process every collective is the identity and nothing is initialised."""

    def __init__(self, rank: int = 0, world_size: int = 1, device: torch.device | None = None,
                 owns_group: bool = False) -> None:
        import torch
        self.rank, self.world_size = rank, world_size
        self.device = device or torch.device("cpu")
        self.owns_group = owns_group

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---- collectives -----------------------------------------------------------------------------
    def mean_(self, flat: torch.Tensor) -> torch.Tensor:
        """Average ``flat`` over the processes, in place (one all-reduce)."""
        if self.active:
            import torch.distributed as dist
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.div_(self.world_size)
        return flat

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """Rank 0's ``data`` on every process."""
        if not self.active:
            return data or b""
        import torch
        import torch.distributed as dist
        size = torch.tensor([len(data) if self.is_main and data is not None else 0], dtype=torch.int64,
                            device=self.device)
        dist.broadcast(size, 0)
        buf = torch.empty(int(size.item()), dtype=torch.uint8, device=self.device)
        if self.is_main and data:
            buf.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
        if buf.numel():
            dist.broadcast(buf, 0)
        return buf.cpu().numpy().tobytes()

    def broadcast_json(self, value: Any) -> Any:
        """Rank 0's JSON-able ``value`` on every process."""
        if not self.active:
            return value
        text = json.dumps(value).encode() if self.is_main else None
        return json.loads(self.broadcast_bytes(text).decode())

    def broadcast_tensors(self, tensors: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """Rank 0's named tensors on every process (as safetensors bytes: no pickle)."""
        if not self.active:
            return tensors or {}
        from safetensors.torch import load, save
        data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}) if self.is_main else None
        return load(self.broadcast_bytes(data))

    def broadcast_modules_(self, modules: dict[str, torch.nn.Module]) -> None:
        """Make every process hold rank 0's parameters and buffers."""
        if not self.active:
            return
        import torch.distributed as dist
        for module in modules.values():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, 0)

    def gather_rng_states(self) -> list[torch.Tensor]:
        """Every process's CPU generator state (for the checkpoint), rank 0's first."""
        import torch
        state = torch.get_rng_state()
        if not self.active:
            return [state]
        import torch.distributed as dist
        local = state.to(self.device)
        out = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(out, local)
        return [t.cpu() for t in out]

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist
            dist.barrier()

    def close(self) -> None:
        """Leave the process group when this object joined it."""
        if self.active and self.owns_group:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False


def join(device: torch.device, timeout_minutes: float = 30.0) -> ProcessGroup:
    """The process group torchrun asked for (one process: a trivial group): gloo for CPU, NCCL for CUDA."""
    world_size, rank = env_world_size(), env_rank()
    if world_size <= 1:
        return ProcessGroup(0, 1, device)
    if rank >= world_size:
        raise ConfigError(f"RANK={rank} is not below WORLD_SIZE={world_size}; launch with torchrun")
    import torch.distributed as dist
    if dist.is_initialized():
        return ProcessGroup(dist.get_rank(), dist.get_world_size(), device)
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise ConfigError(f"WORLD_SIZE={world_size} but no MASTER_ADDR/MASTER_PORT: start several processes with "
                          "torchrun --nproc-per-node N -m gantransfer ... (docs/distributed.md)")
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {}
    if device.type == "cuda":
        kwargs["device_id"] = device
    dist.init_process_group(backend, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(minutes=timeout_minutes), **kwargs)
    return ProcessGroup(rank, world_size, device, owns_group=True)


def local_device(name: str) -> str:
    """Under torchrun with several processes, ``auto``/``cuda`` mean this process's GPU (``cuda:LOCAL_RANK``);
    one named GPU for every process is refused."""
    world_size = env_world_size()
    if world_size <= 1:
        return name
    import torch
    local_rank = _env_int("LOCAL_RANK", 0)
    if name in ("auto", "cuda"):
        if torch.cuda.is_available():
            return f"cuda:{local_rank}"
        return "cpu" if name == "auto" else name
    if name.startswith("cuda:"):
        raise ConfigError(f"--device {name} under torchrun with {world_size} processes: each process uses its own "
                          "GPU (cuda:LOCAL_RANK); pass --device cuda or auto")
    return name


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """[lo, hi) of process ``rank``'s share of a global batch of ``n`` (contiguous, sizes differing by <= 1)."""
    return rank * n // world_size, (rank + 1) * n // world_size


def mean_across_processes(value: "torch.Tensor") -> "torch.Tensor":
    """``value`` averaged over the processes of the current run (itself in a single process); for statistics a
    loss keeps across steps, such as the path-length mean, so that every process holds the same one."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()
