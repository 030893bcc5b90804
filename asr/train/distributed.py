"""Process-group set-up for DDP training launched with torchrun, and the device choice.

``torchrun --nproc_per_node N -m asr train ...`` starts N copies of the program with RANK,
WORLD_SIZE, LOCAL_RANK (and the rendezvous address) in the environment. ``session()`` reads them:
with WORLD_SIZE > 1 it joins the process group (NCCL when training on CUDA, gloo on CPU) and
leaves it on the way out, even after an error; without them it is a single process and nothing
is initialised. Only rank 0 writes (logs, TensorBoard, checkpoints); every rank computes.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job. A single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``cpu`` | ``cuda`` | ``cuda:N`` | ``auto`` (CUDA when available) -> a torch.device.

    Under torchrun each process takes the GPU of its LOCAL_RANK when given a bare ``cuda``.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"train.device={name!r} but CUDA is not available (torch {torch.__version__}); "
                             "use train.device=cpu or auto")
        index = int(name[5:]) if name.startswith("cuda:") else local_rank
        if index >= torch.cuda.device_count():
            raise ValueError(f"device cuda:{index} requested (local rank {local_rank}) but only "
                             f"{torch.cuda.device_count()} GPU(s) are visible")
        return torch.device("cuda", index)
    raise ValueError(f"device must be one of {DEVICES} or cuda:N, got {name!r}")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


@contextlib.contextmanager
def session(device: str = "cpu", timeout_minutes: float = 60.0) -> Iterator[DistEnv]:
    """Join the torchrun process group if there is one; always leave it cleanly.

    ``timeout_minutes`` bounds how long a rank waits in a collective (e.g. for rank 0's dev
    evaluation at an epoch's end) before the job fails instead of hanging.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    dev = resolve_device(device, local_rank)
    if world <= 1:
        yield DistEnv(device=dev)
        return
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed; cannot run under torchrun")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "timeout": datetime.timedelta(minutes=timeout_minutes)}
    if dev.type == "cuda":
        kwargs["device_id"] = dev  # binds NCCL to this GPU at once (no guessing in barriers)
    dist.init_process_group(**kwargs)
    log.info("rank %d/%d (local %d) on %s, backend %s", rank, world, local_rank, dev, backend)
    try:
        yield DistEnv(rank=rank, world_size=world, local_rank=local_rank, device=dev)
        dist.barrier()  # leave together: tearing gloo down while a peer still talks can abort at exit
    finally:
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def all_reduce_sum(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum ``x`` over ranks, in place (a no-op in a single process)."""
    if env.distributed:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def broadcast_tensors(tensors: list[torch.Tensor], env: DistEnv) -> None:
    """Overwrite ``tensors`` on every rank with rank 0's values, in place."""
    if env.distributed:
        for x in tensors:
            dist.broadcast(x, src=0)


def broadcast_object(obj: Any, env: DistEnv) -> Any:
    """Rank 0's ``obj`` on every rank (small picklable values: decisions, counters)."""
    if not env.distributed:
        return obj
    box = [obj if env.is_main else None]
    dist.broadcast_object_list(box, src=0, device=env.device if env.device.type == "cuda" else None)
    return box[0]


class NullWriter:
    """Stands in for TensorBoard's SummaryWriter on ranks other than 0."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
