"""Data parallelism under torchrun: one process per GPU, gradients all-reduced by DistributedDataParallel.

Not a section of the paper: it is how the same single-GPU code uses more GPUs. The engine is PyTorch's own
(torchrun starts the processes, DistributedDataParallel all-reduces the gradients during backward); this file
holds the few helpers the trainers need around it. docs/gpu.md ("Several GPUs and nodes: torchrun") has the
commands; tests/test_distributed.py checks, on the CPU with gloo and 2 processes, that 2 ranks make the same
updates as 1 process (GRPO and pretraining, to 1e-5), that sharded evaluation gives the same figures, and that
rank 0 alone writes files.

    torchrun --nproc_per_node=8 train_zero.py --preset gpu           # 8 GPUs of one machine
    torchrun --nproc_per_node=2 -m r1mini.toy.pretrain --preset smoke    # 2 processes (gloo on a CPU)

torchrun gives each process RANK, WORLD_SIZE and LOCAL_RANK. `init()` joins them into one process group:
NCCL on cuda:LOCAL_RANK when CUDA is there, else gloo on the CPU. Without those variables (or with
WORLD_SIZE=1) nothing starts, world_size() is 1 and every helper is a no-op: a plain `python train_zero.py`
runs what it ran before.

How the trainers use it:
- each rank takes a contiguous share of a step's questions (GRPO) or rows (pretraining): shard_range;
- every loss is divided by GLOBAL token and sequence counts (gather), and GRPO's is multiplied by
  world_size(): DDP averages the ranks' gradients, so the average is the gradient of the whole batch's loss
  and N ranks x B/N questions make the update 1 rank x B makes;
- the random numbers of sampling are drawn for the whole batch on every rank, each rank using its rows
  (r1mini/engine/sampler.generate's `first`, `total`), so the samples do not depend on the split;
- logged figures are reduced over ranks (sum_max); files, bars and checkpoints come from rank 0 only (is_main);
- GRPO's update: my_share of the questions, the step's counts by sum_max, its micro-batches by micro_batches
  (no_sync, and a zero backward for a rank that has fewer), its forward through ddp(Forward(...)).

    >>> shard_range(10)                                   # one process: everything
    (0, 10)
    >>> [shard_range(10, r, 4) for r in range(4)]         # 4 ranks: contiguous, sizes differ by at most 1
    [(0, 2), (2, 5), (5, 7), (7, 10)]
"""

from __future__ import annotations

import contextlib
import datetime
import os

import torch
import torch.distributed as td

from r1mini.engine.common import ConfigError, get_device


def launched() -> bool:
    """Whether torchrun started this process as one of several (WORLD_SIZE > 1 in the environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(timeout_s: float = 1800.0) -> None:
    """Join torchrun's process group, once: NCCL with cuda:LOCAL_RANK when CUDA is there, else gloo."""
    if not launched() or active():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())  # before the group: NCCL and all_gather_object use the current device
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    td.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))


def close() -> None:
    if active():
        td.destroy_process_group()


def active() -> bool:
    return td.is_available() and td.is_initialized()


def rank() -> int:
    return td.get_rank() if active() else 0


def world_size() -> int:
    return td.get_world_size() if active() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Rank 0: the one process that writes files, shows bars and prints."""
    return rank() == 0


def device(name: str = "auto") -> torch.device:
    """common.get_device(name); under torchrun with CUDA each rank gets its own GPU, cuda:LOCAL_RANK."""
    d = get_device(name)
    if active() and d.type == "cuda" and d.index is None:
        return torch.device("cuda", local_rank())
    return d


def _wire() -> torch.device:
    """Where tensors for a collective live: the rank's GPU for NCCL, the CPU for gloo."""
    return (
        torch.device("cuda", torch.cuda.current_device())
        if active() and td.get_backend() == "nccl"
        else torch.device("cpu")
    )


def shard_range(n: int, r: int | None = None, w: int | None = None) -> tuple[int, int]:
    """This rank's contiguous share [lo, hi) of n items (rank r of w; default: this process)."""
    r, w = rank() if r is None else r, world_size() if w is None else w
    return n * r // w, n * (r + 1) // w


def my_share(items: list, what: str = "items", fix: str = "") -> tuple[int, int, list]:
    """This rank's contiguous share of items (shard_range) as (first, total, share): share = items[first:first +
    len(share)] of all `total`; in one process (0, len(items), items). ConfigError if fewer items than ranks."""
    if len(items) < world_size():
        raise ConfigError(
            f"{len(items)} {what} cannot be shared by {world_size()} processes" + (f": {fix}" if fix else "")
        )
    lo, hi = shard_range(len(items))
    return lo, len(items), items[lo:hi]


def gather(values) -> torch.Tensor:
    """Every rank's k numbers, [world, k] float64 on the CPU (one all_gather); sum(0) or max(0) reduces them.
    In one process: [1, k]."""
    t = torch.tensor(values, dtype=torch.float64).reshape(-1)  # [k]
    if not active():
        return t[None]
    t = t.to(_wire())
    out = [torch.empty_like(t) for _ in range(world_size())]
    td.all_gather(out, t)
    return torch.stack(out).cpu()  # [world, k]


def sum_max(sums, maxes=()) -> list[float]:
    """Over all ranks, in one all_gather: the total of each number of `sums`, then the largest of each of
    `maxes`, as one list of floats (float64 arithmetic). In one process: the numbers themselves."""
    g = gather([float(x) for x in sums] + [float(x) for x in maxes])  # [world, k]
    return g[:, : len(sums)].sum(0).tolist() + g[:, len(sums) :].max(0).values.tolist()


def all_gather_lists(items: list) -> list:
    """Every rank's list, concatenated in rank order (picklable items): with shard_range, the unsharded list."""
    if not active():
        return list(items)
    parts: list = [None] * world_size()
    td.all_gather_object(parts, list(items))
    return [x for part in parts for x in part]


def broadcast(obj):
    """Rank 0's value of obj, on every rank (picklable)."""
    if not active():
        return obj
    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if active():
        td.barrier()


def ddp(module: torch.nn.Module) -> torch.nn.Module:
    """module wrapped in DistributedDataParallel under torchrun (rank 0's weights are broadcast to all), else
    module itself. Only what runs through the wrapper's forward has its gradients all-reduced."""
    if not active():
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    dev = next(module.parameters()).device
    # buffers (the rotary tables) are the same constants on every rank: no broadcast at each forward
    no_buffer_sync = (
        "forward_sync_buffers"
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        else "broadcast_buffers"
    )
    return DistributedDataParallel(
        module, device_ids=[dev.index] if dev.type == "cuda" else None, **{no_buffer_sync: False}
    )


def no_sync(module: torch.nn.Module, sync: bool):
    """The context of one micro-batch's backward: DDP all-reduces only when sync (the last micro-batch);
    the others accumulate their gradients locally (DDP's no_sync)."""
    if sync or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


def micro_batches(module: torch.nn.Module, n_mine: int, n_all: int, idle_args: tuple, context=contextlib.nullcontext):
    """Gradient accumulation over ranks, as a loop: `for j in micro_batches(...)` gives this rank's micro-batches
    j = 0..n_mine-1 (the loop body runs the forward and backward), each inside no_sync but the last of the n_all
    that every rank runs (the most over the ranks, so that their all-reduces pair up). A rank with fewer then
    runs, for each one it lacks, a zero loss through module(*idle_args) (under context()): it adds a gradient
    of 0 and joins the others' all-reduce. In one process n_all = n_mine and this is range(n_mine)."""
    for j in range(n_all):
        with no_sync(module, sync=j == n_all - 1):  # DDP all-reduces after the last micro-batch only
            if j < n_mine:
                yield j
                continue
            with context():
                out = module(*idle_args)
            ((out[0] if isinstance(out, tuple) else out).sum() * 0.0).backward()


class Forward(torch.nn.Module):
    """fn(model, *args) as the forward of a module holding model: what ddp() wraps when a trainer's forward is
    not the model's plain one (DDP all-reduces the gradients of what runs through its wrapper's forward), e.g.
    GRPO's completion_logprobs, which runs model.prefix_cache first."""

    def __init__(self, model: torch.nn.Module, fn):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *args):
        return self.fn(self.model, *args)


def refuse(script: str) -> None:
    """For a script not made data-parallel yet: one clear line under torchrun instead of N copies racing."""
    if launched():
        raise ConfigError(
            f"{script} does not run under torchrun (WORLD_SIZE={os.environ['WORLD_SIZE']}); "
            f"run it as one process: python {script}"
        )
