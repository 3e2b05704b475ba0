"""Plumbing for section 2.2.1 (Algorithm 1's two costly halves): how fast and how lean our RL engine is.

GRPO spends its time sampling G outputs per question and then computing log pi_theta(o_t | q, o_<t)
with gradients (eq. 1). This measures, side by side in one run, on one machine:

- sampler_kv_speedup: r1mini.engine.sampler.generate with the KV cache vs recomputing the whole prefix at
  every step (use_cache=False); same model, seed and prompts (~100 tokens, like an R1-Zero prompt),
  no stop tokens, so both run every step. sampler_tok_s = new tokens per second with the cache.
- sampler_shared_prompt_speedup: the same cached sampling with the G rows of a prompt reading its
  keys/values from one copy (model.SharedPromptCache) vs a copy per row (share_prompt=False).
- logprob_peak_mem_ratio_{chunked,fused}, logprob_time_ratio_{chunked,fused}: forward + backward of
  a masked mean of log-probs, starting from hidden states h [1, N, D] and the lm_head weight W [V, D]
  (the naive and chunked kernels compute logits = h @ W^T themselves), each kernel against the naive
  log_softmax + gather. Ratios < 1 are better.
- prefix_cache_speedup: a GRPO-like forward + backward of G completions per prompt, running each
  prompt once (Transformer.prefix_cache) vs G times (prompt + completion as full sequences).
- compile_speedup (only with --compile true): a pretraining step eager vs under torch.compile
  (PretrainConfig.compile), the compiling itself timed apart.

Peak memory on CUDA: torch.cuda.max_memory_allocated during the call minus what was allocated before.
On the CPU torch keeps no allocator statistics, so each kernel runs in a FRESH process (multiprocessing
spawn): build the inputs, warm up at 8 tokens, then peak RSS (getrusage ru_maxrss, Linux) during the
measured call minus the RSS just before it, i.e. what the OS had to hand the process for that call
(it includes allocator slack, a few MB). Times are the best of `repeats` runs after a warm-up.
On CUDA everything runs under bf16 autocast (r1mini.engine.common.autocast); on the CPU in float32.

Run it (the table marks each goal PASS or FAIL; any size can be changed by a flag, see --help):
    python -m r1mini.tools.bench --quick                  # under a minute on 2 CPU cores
    python -m r1mini.tools.bench --json bench.json        # bigger; on a GPU, bigger still
    python -m r1mini.tools.bench --estimate gpu           # the cost model instead: minutes per phase of every script
                                                    # at a preset, on an H100 and on this CPU (docs/gpu.md)
    python -m r1mini.tools.bench --check runs/zero/RUN    # its CPU prediction against a finished train_zero run

    >>> from r1mini.tools.bench import check_goal
    >>> check_goal(25.0, ">=", 20), check_goal(0.3, "<=", 0.25)
    ('PASS', 'FAIL')
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import datetime
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    autocast,
    cli_main,
    config_from_args,
    get_device,
    write_json,
)
from r1mini.engine.logprobs import fused_token_logprobs, naive_token_logprobs, token_logprobs
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import SamplingConfig, generate, left_pad

KERNELS = ("naive", "chunked", "fused")
GOALS = (  # (figure, comparison, target)
    ("sampler_kv_speedup", ">=", 20.0),
    ("logprob_peak_mem_ratio_fused", "<=", 0.25),
    ("logprob_time_ratio_fused", "<=", 1.3),
)


@dataclass
class BenchConfig:
    model: str = dataclasses.field(default="tiny", metadata={"help": "model preset (r1mini.engine.model)"})
    prompts: int = dataclasses.field(default=16, metadata={"help": "questions per batch (B)"})
    G: int = dataclasses.field(default=8, metadata={"help": "samples per question"})
    prompt_len: int = dataclasses.field(default=100, metadata={"help": "mean prompt length (R1-Zero: 91-114)"})
    new_tokens: int = dataclasses.field(default=112, metadata={"help": "tokens sampled per row"})
    lp_tokens: int = dataclasses.field(default=8192, metadata={"help": "N = B*T rows for the log-prob kernels"})
    vocab: int = dataclasses.field(default=32768, metadata={"help": "V for the log-prob kernels"})
    chunk: int = dataclasses.field(default=0, metadata={"help": "kernels' rows per chunk (0 = their default)"})
    repeats: int = dataclasses.field(default=3, metadata={"help": "timings are the best of this many"})
    compile: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "also time a pretraining step under torch.compile against eager (compiling takes minutes on a CPU)"
        },
    )
    seed: int = 0  # seeds the weights, prompts and samples

    def validate(self) -> None:
        mcfg = ModelConfig.preset(self.model)  # ConfigError for an unknown preset
        for name in ("prompts", "G", "prompt_len", "new_tokens", "lp_tokens", "vocab", "repeats"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"bench {name} must be positive, got {getattr(self, name)}")
        if self.chunk < 0:
            raise ConfigError(f"bench chunk must be >= 0, got {self.chunk}")
        longest = max_prompt_len(self.prompt_len) + self.new_tokens
        if longest > mcfg.max_seq_len:
            raise ConfigError(
                f"prompts up to {max_prompt_len(self.prompt_len)} tokens + new_tokens={self.new_tokens} exceed "
                f"the {self.model!r} model's max_seq_len={mcfg.max_seq_len}"
            )


PRESETS = {  # (device type, quick)
    ("cpu", True): BenchConfig(prompts=6, lp_tokens=2048, repeats=2),
    ("cpu", False): BenchConfig(),
    ("cuda", True): BenchConfig(model="gpu", prompts=16, lp_tokens=16384),
    ("cuda", False): BenchConfig(model="gpu", prompts=64, lp_tokens=32768, repeats=5),
}

# ----------------------------------------------------------------------------- measuring


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_seconds(fn, device: torch.device, repeats: int) -> tuple[float, object]:
    """(best wall time of `repeats` calls of fn(), what the last call returned)."""
    best, result = math.inf, None
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, result


def proc_status_bytes(field: str) -> int:
    """A memory field of this process from Linux's /proc/self/status: "VmRSS" (resident now) or
    "VmHWM" (resident high-water mark). Not getrusage's ru_maxrss: a spawned child inherits its
    parent's high-water mark there."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024  # kB


def max_prompt_len(mean_len: int) -> int:
    return mean_len + max(1, mean_len // 10)


def random_prompts(n: int, mean_len: int, vocab_size: int, seed: int) -> list[list[int]]:
    """n prompts of random ids, lengths uniform in mean_len +- 10% (so the batch is left-padded)."""
    g = torch.Generator().manual_seed(seed)
    spread = max(1, mean_len // 10)
    lengths = torch.randint(max(1, mean_len - spread), max_prompt_len(mean_len) + 1, (n,), generator=g)
    return [torch.randint(1, vocab_size, (int(L),), generator=g).tolist() for L in lengths]


# ----------------------------------------------------------------------------- the sampler


def bench_sampler(model: Transformer, prompts: list[list[int]], G: int, new_tokens: int, repeats: int, seed: int):
    """New tokens/s of generate() with and without the KV cache, same prompts and seed. The cached run
    (about a second) is the best of 3 * `repeats`; the recomputing one (20-30x longer) runs once and so
    averages out any busy moment of the machine by itself."""
    device = next(model.parameters()).device
    cfg = SamplingConfig(max_new_tokens=new_tokens)  # no stop tokens: every row runs every step
    generate(model, prompts[:1], SamplingConfig(max_new_tokens=2), seed=seed)  # warm-up
    out = {"rows": len(prompts) * G, "new_tokens": new_tokens}
    for name, use_cache, share, n in (
        ("cached", True, True, 3 * repeats),
        ("copied", True, False, 3 * repeats),
        ("recomputed", False, True, 1),
    ):
        run = lambda: generate(  # noqa: E731
            model, prompts, cfg, n_samples=G, seed=seed, use_cache=use_cache, share_prompt=share
        )
        out[f"{name}_s"], samples = best_seconds(run, device, n)
        out["tokens_total"] = int(samples.mask.sum())
        out[f"{name}_tok_s"] = out["tokens_total"] / out[f"{name}_s"]
    return out


# ----------------------------------------------------------------------------- log-prob kernels


def logprob_inputs(n: int, vocab: int, dim: int, device, seed: int):
    """h [1, n, D] and W [V, D] (leaves with gradients, logits ~ N(0, 1)), targets o [1, n], mask [1, n]."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(1, n, dim, generator=g).to(device).requires_grad_()
    W = (torch.randn(vocab, dim, generator=g) / dim**0.5).to(device).requires_grad_()
    o = torch.randint(vocab, (1, n), generator=g).to(device)
    mask = (torch.rand(1, n, generator=g) < 0.9).float().to(device)
    return h, W, o, mask


def logprob_step(kernel: str, h, W, o, mask, chunk: int = 0) -> None:
    """Forward + backward of the masked mean of -log pi(o_t), from hidden states h and lm_head W."""
    kw = {"chunk": chunk} if chunk else {}
    h.grad = W.grad = None  # every call allocates its own gradients
    with autocast(h.device):
        if kernel == "fused":
            logp = fused_token_logprobs(h, W, o, **kw)[0]
        elif kernel == "chunked":
            logp = token_logprobs(h @ W.t(), o, **kw)[0]  # logits [1, N, V], what an lm_head hands over
        else:  # no name holds the logits, so they are freed as soon as the kernel is done with them
            logp = naive_token_logprobs(h @ W.t(), o)
        loss = -(logp * mask).sum() / mask.sum()
    loss.backward()


def exact_rss_allocator() -> bool:
    """glibc only: serve every block >= 128 KiB with its own mmap, unmapped when freed (a fixed
    M_MMAP_THRESHOLD), so that RSS follows the bytes tensors hold, not what malloc keeps cached.
    Without it the same fused call read 98 or 193 MiB depending on what ran before. False if not glibc."""
    try:
        return ctypes.CDLL(None).mallopt(-3, 128 * 1024) == 1  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def logprob_peak_bytes(kernel: str, n: int, vocab: int, dim: int, device: str, chunk: int, seed: int) -> int:
    """Peak memory of one logprob_step above its inputs. On the CPU call it in a fresh process."""
    device = torch.device(device)
    if device.type == "cpu":
        exact_rss_allocator()
    logprob_step(kernel, *logprob_inputs(8, vocab, dim, device, seed), chunk)  # warm-up at 8 tokens
    inputs = logprob_inputs(n, vocab, dim, device, seed)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        logprob_step(kernel, *inputs, chunk)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    high_before, before = proc_status_bytes("VmHWM"), proc_status_bytes("VmRSS")
    logprob_step(kernel, *inputs, chunk)
    high = proc_status_bytes("VmHWM")
    if high <= high_before:
        raise RuntimeError(
            f"the {kernel} call stayed under the process's earlier memory high-water mark, so it "
            "cannot show its peak: use more lp_tokens"
        )
    return high - before


def bench_logprobs(n: int, vocab: int, dim: int, device: torch.device, chunk: int, repeats: int, seed: int) -> dict:
    """Peak memory (on the CPU each kernel in its own fresh process) and best time of each kernel; the
    timed calls take turns (naive, chunked, fused, naive, ...) so that a busy moment hits all of them."""
    out = {"N": n, "V": vocab, "D": dim, "chunk": chunk or "default"}
    for kernel in KERNELS:
        args = (kernel, n, vocab, dim, str(device), chunk, seed)
        if device.type == "cuda":
            out[kernel] = {"peak_bytes": logprob_peak_bytes(*args)}
        else:
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                out[kernel] = {"peak_bytes": pool.apply(logprob_peak_bytes, args)}
    inputs = logprob_inputs(n, vocab, dim, device, seed)
    for kernel in KERNELS:
        logprob_step(kernel, *inputs, chunk)  # warm-up at full size
        out[kernel]["seconds"] = math.inf
    for _ in range(repeats):
        for kernel in KERNELS:
            t, _ = best_seconds(lambda: logprob_step(kernel, *inputs, chunk), device, 1)
            out[kernel]["seconds"] = min(out[kernel]["seconds"], t)
    out["memory_method"] = (
        "torch.cuda.max_memory_allocated above the inputs"
        if device.type == "cuda"
        else "fresh process per kernel, fixed glibc mmap threshold: peak RSS (VmHWM) minus RSS before the call"
    )
    return out


# ----------------------------------------------------------------------------- GRPO-like training step


def bench_prefix_cache(model: Transformer, prompts: list[list[int]], G: int, new_tokens: int, repeats: int, seed: int):
    """Forward + backward of the fused log-prob loss of G completions per prompt: the prompt run once
    and shared (model.prefix_cache, as GRPO does) vs prompt + completion as N = B*G full sequences."""
    device = next(model.parameters()).device
    ids, pmask = left_pad(prompts, 0, device)  # [B, P]
    B, P, N, T = ids.shape[0], ids.shape[1], len(prompts) * G, new_tokens
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, model.cfg.vocab_size, (N, T), generator=g).to(device)  # completions o
    lengths = torch.randint(T // 2, T + 1, (N,), generator=g).to(device)
    mask = torch.arange(T, device=device)[None] < lengths[:, None]  # [N, T], right-padded
    rows = torch.arange(B, device=device).repeat_interleave(G)

    def hidden_full():  # [N, T, D]: the state before each completion token predicts it
        seq, smask = torch.cat([ids[rows], tokens], 1), torch.cat([pmask[rows], mask], 1)
        return model(seq, smask, return_hidden=True)[:, P - 1 : -1]

    def hidden_shared():
        cache, h_last = model.prefix_cache(ids, pmask, G)  # h_last [N, D]
        h = model(tokens, mask, cache=cache, return_hidden=True)
        return torch.cat([h_last[:, None], h[:, :-1]], 1)

    def step(hidden_fn) -> float:
        model.zero_grad(set_to_none=True)
        with autocast(device):
            logp = fused_token_logprobs(hidden_fn(), model.lm_head.weight, tokens)[0]
            loss = -(logp * mask).sum() / mask.sum()
        loss.backward()
        return loss.item()

    losses = {name: step(fn) for name, fn in (("full", hidden_full), ("shared", hidden_shared))}  # warm-up
    out = {"rows": N, "prompt_len": P, "new_tokens": T, "loss_abs_diff": abs(losses["full"] - losses["shared"])}
    for name, fn in (("full", hidden_full), ("shared", hidden_shared)):
        out[f"{name}_s"], _ = best_seconds(lambda: step(fn), device, repeats)
    model.zero_grad(set_to_none=True)
    return out


# ----------------------------------------------------------------------------- torch.compile


def bench_compile(model: Transformer, batch: int, seq_len: int, repeats: int, seed: int) -> dict:
    """A pretraining step (forward, loss, backward, AdamW: PretrainConfig.compile's case) eager and under
    torch.compile, the same weights and batch; the first compiled call (the compiling) is timed apart.
    The two take turns, so that a busy moment of the machine hits both."""
    from r1mini.toy.pretrain import make_optimizer

    device = next(model.parameters()).device
    opt = make_optimizer(model, 1e-4, 0.0, device)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, model.cfg.vocab_size, (batch, seq_len + 1), generator=g).to(device)

    def step(fwd) -> None:
        with autocast(device):
            logits = fwd(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    compiled = torch.compile(model)
    step(model)  # warm-up
    out = {"batch": batch, "seq_len": seq_len}
    out["compile_s"], _ = best_seconds(lambda: step(compiled), device, 1)
    out["eager_s"] = out["compiled_s"] = math.inf
    for _ in range(repeats):
        for name, fwd in (("eager", model), ("compiled", compiled)):
            out[f"{name}_s"] = min(out[f"{name}_s"], best_seconds(lambda: step(fwd), device, 1)[0])  # noqa: B023
    return out


# ----------------------------------------------------------------------------- the report


def machine_info(device: torch.device) -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def check_goal(value: float, op: str, target: float) -> str:
    return "PASS" if (value >= target if op == ">=" else value <= target) else "FAIL"


def run(cfg: BenchConfig, device: torch.device) -> dict:
    """Every benchmark at cfg's sizes; returns the report (figures, goals, raw numbers, machine)."""
    cfg.validate()
    torch.manual_seed(cfg.seed)
    model = Transformer(ModelConfig.preset(cfg.model)).to(device)
    prompts = random_prompts(cfg.prompts, cfg.prompt_len, model.cfg.vocab_size, cfg.seed)
    raw = {
        "sampler": bench_sampler(model.eval(), prompts, cfg.G, cfg.new_tokens, cfg.repeats, cfg.seed),
        "prefix_cache": bench_prefix_cache(model.train(), prompts, cfg.G, cfg.new_tokens, cfg.repeats, cfg.seed),
        "logprobs": bench_logprobs(
            cfg.lp_tokens, cfg.vocab, model.cfg.n_embd, device, cfg.chunk, cfg.repeats, cfg.seed
        ),
    }
    if cfg.compile:
        raw["compile"] = bench_compile(model.train(), cfg.prompts, 2 * cfg.prompt_len, cfg.repeats, cfg.seed)
    s, lp, pc = raw["sampler"], raw["logprobs"], raw["prefix_cache"]
    figures = {
        "sampler_kv_speedup": s["cached_tok_s"] / s["recomputed_tok_s"],
        "sampler_tok_s": s["cached_tok_s"],
        "sampler_shared_prompt_speedup": s["cached_tok_s"] / s["copied_tok_s"],
        "prefix_cache_speedup": pc["full_s"] / pc["shared_s"],
    }
    if cfg.compile:
        figures["compile_speedup"] = raw["compile"]["eager_s"] / raw["compile"]["compiled_s"]
    for k in ("chunked", "fused"):
        figures[f"logprob_peak_mem_ratio_{k}"] = lp[k]["peak_bytes"] / lp["naive"]["peak_bytes"]
        figures[f"logprob_time_ratio_{k}"] = lp[k]["seconds"] / lp["naive"]["seconds"]
    goals = {f"{name} {op} {target:g}": check_goal(figures[name], op, target) for name, op, target in GOALS}
    return {
        "figures": figures,
        "goals": goals,
        "raw": raw,
        "config": dataclasses.asdict(cfg),
        "machine": machine_info(device),
    }


def format_table(report: dict) -> str:
    f, raw, m = report["figures"], report["raw"], report["machine"]
    s, lp, pc = raw["sampler"], raw["logprobs"], raw["prefix_cache"]
    goal = {name: f"{op} {target:g}  {report['goals'][f'{name} {op} {target:g}']}" for name, op, target in GOALS}
    mib = lambda k: lp[k]["peak_bytes"] / 2**20  # noqa: E731
    rows = [
        (
            "sampler_kv_speedup",
            f"{f['sampler_kv_speedup']:.1f}x",
            f"{s['rows']} rows x {s['new_tokens']} tokens: "
            f"{s['cached_tok_s']:.0f} vs {s['recomputed_tok_s']:.0f} tok/s",
        ),
        ("sampler_tok_s", f"{f['sampler_tok_s']:.0f}", "new tokens/s with the KV cache"),
        (
            "sampler_shared_prompt_speedup",
            f"{f['sampler_shared_prompt_speedup']:.2f}x",
            f"{s['cached_tok_s']:.0f} tok/s shared prompt cache vs {s['copied_tok_s']:.0f} copied to the G rows",
        ),
        (
            "prefix_cache_speedup",
            f"{f['prefix_cache_speedup']:.2f}x",
            f"fwd+bwd {pc['rows']} rows: {pc['full_s']:.3f} s full vs {pc['shared_s']:.3f} s shared prompt",
        ),
    ]
    for k in ("chunked", "fused"):
        rows.append(
            (
                f"logprob_peak_mem_ratio_{k}",
                f"{f[f'logprob_peak_mem_ratio_{k}']:.3f}",
                f"{mib(k):.0f} vs {mib('naive'):.0f} MiB naive",
            )
        )
        rows.append(
            (
                f"logprob_time_ratio_{k}",
                f"{f[f'logprob_time_ratio_{k}']:.2f}",
                f"{lp[k]['seconds']:.3f} vs {lp['naive']['seconds']:.3f} s naive",
            )
        )
    if "compile" in raw:
        c = raw["compile"]
        rows.append(
            (
                "compile_speedup",
                f"{f['compile_speedup']:.2f}x",
                f"pretraining step {c['batch']} x {c['seq_len']}: "
                f"{c['eager_s']:.3f} s eager vs {c['compiled_s']:.3f} s compiled (compiling: {c['compile_s']:.0f} s)",
            )
        )
    lines = [f"{'figure':<30} {'value':>8}  {'goal':<12}  detail"]
    lines += [f"{n:<30} {v:>8}  {goal.get(n, ''):<12}  {d}" for n, v, d in rows]
    lines.append(
        f"(log-probs: N={lp['N']}, V={lp['V']}, D={lp['D']}, chunk={lp['chunk']}; model {report['config']['model']}; "
        f"{m['device']}, {m['cpu_count']} CPUs, torch {m['torch']})"
    )
    return "\n".join(lines)


SCRIPTS = ("train_zero.py", "train_r1.py", "distill.py")  # the scripts whose phases --estimate prices


def estimate(preset: str, out=print) -> int:
    """The cost model's table (r1mini/tools/cost.py) of every script at `preset`: minutes per phase on an H100
    and on this CPU. The presets live in the scripts and library code never imports a script, so each script
    prints its own (`python SCRIPT --preset PRESET --estimate`); a script without that preset or flag says so
    in one line. Returns how many scripts printed a table."""
    root = Path(__file__).resolve().parents[2]
    done = 0
    for script in SCRIPTS:
        r = subprocess.run(
            [sys.executable, str(root / script), "--preset", preset, "--estimate"],
            capture_output=True,
            text=True,
            cwd=root,
        )
        if r.returncode == 0:
            out(r.stdout.strip() + "\n")
            done += 1
        else:
            out(
                f"## {script} --preset {preset}: no estimate "
                f"({(r.stderr.strip().splitlines() or ['exit code ' + str(r.returncode)])[-1]})\n"
            )
    return done


def main() -> None:
    p = argparse.ArgumentParser(
        description="Benchmark the sampler, the log-prob kernels and the shared prefix; or price a preset."
    )
    p.add_argument(
        "--estimate",
        default=None,
        metavar="PRESET",
        help="instead: print the cost model's minutes per phase of "
        "train_zero.py, train_r1.py and distill.py at this preset, on an H100 and on this CPU (r1mini/tools/cost.py)",
    )
    p.add_argument(
        "--check",
        default=None,
        metavar="RUN_DIR",
        help="instead: the cost model's CPU prediction for a finished "
        "train_zero.py run folder against its measured phase times (calibrates this CPU 3 times)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: under a minute on 2 CPU cores")
    p.add_argument("--json", default=None, help="also write the report (figures, raw numbers, machine) here")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda if torch sees a GPU, else cpu"
    )
    add_config_args(p, BenchConfig)
    args = p.parse_args()
    if args.check:
        from r1mini.tools.plans import check_zero_run

        check_zero_run(args.check)
        return
    if args.estimate:
        if not estimate(args.estimate):
            raise ConfigError(f"no script has a preset {args.estimate!r}")
        return
    if args.device == "auto":  # not mps: the memory figures need CUDA's allocator or the CPU's RSS
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = get_device(args.device)
    cfg = config_from_args(PRESETS[(device.type, args.quick)], args)
    report = run(cfg, device)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)


if __name__ == "__main__":
    cli_main(main)
