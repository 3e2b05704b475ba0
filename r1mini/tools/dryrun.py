"""Plumbing for sections 2.2-2.4 as run here: a dry run, i.e. every phase of a run for a few steps at full size.

`python train_zero.py --dry-run` (and train_r1.py, distill.py) builds each phase of the chosen preset at its
FULL model size on the device at hand (pretraining, the sampler at max_new_tokens, GRPO steps of Algorithm 1
with eq. (1)'s update, SFT), runs a warm-up step and `steps` timed ones, and prints the measured seconds per
step, the projected total (x the steps the real run does) and the cost model's figure for the same work
beside it (r1mini/tools/cost.py). What would fail late fails here, early, in one line (a ConfigError):

- a prompt + max_new_tokens or a pretraining window over the model's max_seq_len (`check_lengths`, before
  anything runs);
- out of memory: which phase, at which batch (`dry_run` catches torch.cuda.OutOfMemoryError and the CPU
  allocator's error).

The weights are random (a cached base may not exist yet), so the sampler rarely meets a stop token: its
rows run to max_new_tokens or near it, and the projection is an upper bound for the sampling phases. The
cost-model column is priced at the lengths the dry run actually sampled, so that the two columns count the
same work. GRPO steps score with random rewards, so that every group is updated. Nothing is written.

    >>> ph = DryPhase("count", lambda: (lambda: None), steps=10, batch="nothing")
    >>> rows = dry_run([ph], torch.device("cpu"), steps=1, out=lambda s: None)
    >>> rows[0]["phase"], rows[0]["steps"]
    ('count', 10)

A script hands its phases over (r1mini/tools/plans.py builds them for train_zero.py and train_r1.py);
tests/test_dryrun.py checks the projection arithmetic, the early failures and a smoke-preset dry run.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Callable

import torch

from r1mini.engine.common import ConfigError
from r1mini.tools.cost import Assumptions, Device, Phase


@dataclass
class DryPhase:
    name: str  # the phase, as the table calls it
    make_step: Callable[
        [], Callable[[], dict | None]
    ]  # builds the phase's state (model, data, optimizer), returns one step
    steps: int  # how many such steps the real run does
    batch: str  # what one step is, for the table and the messages ("64 questions x 16 outputs")
    estimate: Callable[[Assumptions], list[Phase]] | None = (
        None  # the cost model's phases of the whole run's share (None: none)
    )
    note: str = ""  # said under the table (e.g. "cached: the real run skips it")


def check_lengths(what: str, longest_prompt: int, new_tokens: int, max_seq_len: int) -> None:
    """ConfigError if the longest prompt + new_tokens does not fit the model (what the sampler would raise mid-run).

    >>> check_lengths("eval", 100, 28, 128)
    >>> check_lengths("GRPO", 100, 29, 128)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    r1mini.engine.common.ConfigError: GRPO: the longest prompt (100 tokens) + max_new_tokens 29 = 129 exceeds the
     model's max_seq_len=128; lower max_new_tokens or use a model with a longer max_seq_len
    """
    if longest_prompt + new_tokens > max_seq_len:
        raise ConfigError(
            f"{what}: the longest prompt ({longest_prompt} tokens) + max_new_tokens {new_tokens} = "
            f"{longest_prompt + new_tokens} exceeds the model's max_seq_len={max_seq_len}; "
            "lower max_new_tokens or use a model with a longer max_seq_len"
        )


def is_oom(e: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, or a RuntimeError saying the allocator (CUDA's, the CPU's) ran out."""
    if isinstance(e, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    msg = str(e).lower()
    return isinstance(e, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_phase(ph: DryPhase, device: torch.device, steps: int) -> tuple[float, dict]:
    """(median seconds of `steps` timed steps after a warm-up step, what the last step reported); steps = 0: the
    one step run is timed itself (first-call costs included). Out of memory -> ConfigError."""
    try:
        step, seen, times = ph.make_step(), {}, []
        for i in range(steps + 1):  # with steps > 0 the first is a warm-up: first-call allocations, lazy init
            _sync(device)
            t0 = time.perf_counter()
            seen = step() or seen
            _sync(device)
            if i or not steps:
                times.append(time.perf_counter() - t0)
    except (RuntimeError, MemoryError) as e:
        if not is_oom(e):
            raise
        step = None
        _free(device)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ConfigError(
            f"dry run: phase {ph.name!r} ran out of memory on {device} at {ph.batch} ({first}); "
            "lower the batch (questions, G, micro_batch, batch_size) or max_new_tokens"
        ) from None
    del step
    _free(device)
    times.sort()
    return times[len(times) // 2], seen


def dry_run(
    phases: list[DryPhase], device: torch.device, cost_device: Device | None = None, steps: int = 1, out=print
) -> list[dict]:
    """Run every phase (a warm-up + `steps` timed steps; steps = 0: one step, timed), print the table, return its rows.

    cost_device prices the cost model's column (the device at hand: cost.H100 on a GPU, cost.calibrate_cpu
    on a CPU); None leaves the column out. A step may return {"mean": .., "longest": ..} (sampled lengths
    as shares of max_new_tokens): the cost model is then priced at those lengths."""
    rows = []
    for ph in phases:
        out(f"dry run: {ph.name} ({ph.batch}) ...")
        seconds, seen = run_phase(ph, device, steps)
        row = {
            "phase": ph.name,
            "batch": ph.batch,
            "steps": ph.steps,
            "s_per_step": seconds,
            "projected_s": seconds * ph.steps,
        }
        if cost_device is not None and ph.estimate is not None:
            a = Assumptions(mean=seen.get("mean", 1.0), longest=seen.get("longest", 1.0))
            est = sum(cost_device.seconds(p) for p in ph.estimate(a))
            row.update(model_s_per_step=est / max(ph.steps, 1), model_s=est)
        rows.append(row)
    out(format_rows(rows, cost_device, device))
    out("\n".join(f"- {ph.name}: {ph.note}" for ph in phases if ph.note))
    return rows


def format_rows(rows: list[dict], cost_device: Device | None, device: torch.device) -> str:
    model = f"cost model ({cost_device.name})" if cost_device is not None else "cost model"
    lines = [
        f"| phase | one step | steps in the run | measured s/step | projected min | {model} s/step | {model} min |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        m = (f"{r['model_s_per_step']:.3f}", f"{r['model_s'] / 60:.2f}") if "model_s" in r else ("", "")
        lines.append(
            f"| {r['phase']} | {r['batch']} | {r['steps']:,} | {r['s_per_step']:.3f} | {r['projected_s'] / 60:.2f} "
            f"| {m[0]} | {m[1]} |"
        )
    total = sum(r["projected_s"] for r in rows) / 60
    model_total = sum(r.get("model_s", 0.0) for r in rows) / 60
    lines.append(f"| **total** | | | | **{total:.1f}** | | **{model_total:.1f}** |")
    lines.append(
        f"(on {device}; sampling phases ran at the lengths a random-weight model samples, mostly max_new_tokens: "
        "an upper bound)"
    )
    return "\n".join(lines)
