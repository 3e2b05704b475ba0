"""Plumbing for sections 2.2-2.4 as this repository runs them: what every phase of a run costs, before running it.

A run of train_zero.py (2.2), train_r1.py (2.3) or distill.py (2.4) is a few phases: pretraining the base,
sampling (Algorithm 1's G outputs per question; section 3's k samples per problem), the GRPO update of eq. (1)
(pi_theta forward + backward, pi_ref forward; pi_old costs nothing: with mu = 1 it is pi_theta detached, with
mu > 1 the sampler's stored log-probs), SFT. Each phase is a `Phase` of counts, and each count has a textbook
cost. N = the matmul weights, n_layer x (q, k, v, o + SwiGLU's three) + the lm_head's V x D (the embedding
lookup is free); L = n_layer, D = n_embd; c = the keys a token's attention computes scores for (a causal kernel
skips the future, c = (T + 1) / 2 on average; a kernel given a padding mask computes them all):

    forward, per token               2 N +  4 L D c         (PaLM's accounting: QK^T and AV, 2 FLOPs a MAC)
    forward + backward, per token    6 N + 12 L D c
    fused log-prob kernel            + 2 V D per trained token (its backward recomputes the logits)
    sampled token (one decode row)   2 N +  4 L D c
    bytes of one decode step         every weight once + the keys/values of the live rows (a prompt's read
                                     once for its G rows, model.SharedPromptCache); 2 bytes each in bf16
    host ops                         every torch op dispatched from Python, counted (count_ops) on a narrow
                                     copy of the model: on a GPU each is a kernel launch or a view, and a small
                                     model's decode step is bound by them, not by FLOPs or bytes

Seconds of a phase on a device = FLOPs / achieved FLOP/s + max(decode FLOPs / achieved FLOP/s, decode
bytes / achieved bandwidth) + top-p's sorts (V log2 V per row and step) / sort rate + host ops x seconds per
op + host work outside torch (generating the corpus). Host and device time are ADDED (no overlap assumed),
so the GPU figure is an upper bound in that respect. The devices:

- H100 SXM (`H100`), from its datasheet: 989 TFLOP/s dense bf16, 3.35 TB/s HBM3. Assumed: 30% of peak
  FLOP/s for every matmul (MFU 30%; small models get less than the 40-50% large ones do), 60% of peak
  bandwidth, 8 us of host time per torch op (eager PyTorch: Python, dispatcher, kernel launch), top-p's
  batched sort at 5e10 V log2 V units a second.
- this CPU (`calibrate_cpu`): a ~10 s timed run of the preset's model at full size on this machine: the
  host time per op (decode steps of a narrow copy: the same ops, next to no FLOPs), the decode FLOP/s (decode
  steps mid-response, less their ops), a pretraining step (the causal kernel), a GRPO micro-batch (prefix
  cache, padding masks, fused log-probs) and top-p's sort. Float32, as the CPU samples; its bandwidth is
  inside the measured rates.

What the counts cannot know is how long the sampled responses will be: `Assumptions` says (default: the
mean response is half of max_new_tokens and every sampler call runs max_new_tokens steps, its longest row).
Not counted: the rewards, decoding text, the optimizer's arithmetic (its ops are).
`python -m r1mini.tools.bench --estimate gpu` prints every script's table (docs/gpu.md); tests/test_cost.py
checks the counts against a hand-worked tiny model.

    >>> m = ModelConfig(vocab_size=64, n_layer=1, n_head=1, n_kv_head=1, n_embd=8, intermediate_size=16)
    >>> matmul_params(m)                    # q, k, v, o: 4 * 8 * 8; SwiGLU: 3 * 8 * 16; lm_head: 64 * 8
    1152
    >>> flops(Phase("one token, fwd+bwd", m, trained_tokens=1, trained_keys=1))   # 6 * 1152 + 12 * 1 * 8 * 1
    7008.0
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field

import torch

from r1mini.engine.model import ModelConfig, Transformer

# ----------------------------------------------------------------------------- counts


def matmul_params(m: ModelConfig) -> int:
    """N: the weights every token multiplies by (per layer: q, k, v, o and SwiGLU's three; plus the lm_head)."""
    attn = m.n_embd * m.n_head * m.head_dim * 2 + m.n_embd * m.n_kv_head * m.head_dim * 2  # q, o; k, v
    mlp = 3 * m.n_embd * m.intermediate_size
    return m.n_layer * (attn + mlp) + m.vocab_size * m.n_embd


def kv_elements(m: ModelConfig) -> int:
    """Key/value elements one cached token holds (all layers): 2 x n_layer x n_kv_head x head_dim."""
    return 2 * m.n_layer * m.n_kv_head * m.head_dim


@dataclass
class Phase:
    """The work of one phase of a run, as counts. Phases add up (`+`) when they share a model and a kind."""

    name: str  # what the table calls it
    model: ModelConfig  # the model the tokens go through
    trained_tokens: float = 0.0  # tokens through forward + backward
    trained_keys: float = 0.0  # keys their attention computes, summed over those tokens
    forward_tokens: float = 0.0  # tokens through a batched forward without gradients (sampler prefill, pi_ref)
    forward_keys: float = 0.0  # keys their attention computes, summed
    sampled_tokens: float = 0.0  # tokens decoded one step at a time (one per live row per step)
    sampled_keys: float = 0.0  # keys their attention computes, summed
    decode_steps: float = 0.0  # sequential decode steps (each reads every weight once)
    kv_read: float = 0.0  # key/value elements the decode steps read, summed
    fused_tokens: float = 0.0  # trained tokens whose log-probs go through the fused kernel (+2 V D each)
    sorted_rows: float = 0.0  # sampled tokens drawn under top-p < 1: a sort of the V logits each
    host_ops: float = 0.0  # torch ops dispatched from Python
    steps: float = 0.0  # what the run counts as a step of this phase (optimizer steps, sampler calls)
    kind: str = "causal"  # the achieved FLOP/s its trained and forward tokens run at: "causal" or "masked"
    host_seconds: float = 0.0  # host work outside torch (generating the corpus, ...)

    def _counts(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.name not in ("name", "model", "kind")]

    def __add__(self, other: "Phase") -> "Phase":
        if other.model != self.model or other.kind != self.kind:
            raise ValueError(f"cannot add phase {other.name!r} to {self.name!r}: different model or kind")
        return dataclasses.replace(self, **{k: float(getattr(self, k) + getattr(other, k)) for k in self._counts()})

    def __mul__(self, times: float) -> "Phase":
        """The phase repeated `times` times."""
        return dataclasses.replace(self, **{k: float(getattr(self, k) * times) for k in self._counts()})


def flop_parts(ph: Phase) -> dict[str, float]:
    """FLOPs of a phase by the rate they run at: {"causal" or "masked": batched tokens, "decode": sampled tokens}."""
    m = ph.model
    N, LD = matmul_params(m), m.n_layer * m.n_head * m.head_dim
    batched = 6 * N * ph.trained_tokens + 12 * LD * ph.trained_keys  # forward + backward
    batched += 2 * N * ph.forward_tokens + 4 * LD * ph.forward_keys  # forward only
    batched += 2 * m.vocab_size * m.n_embd * ph.fused_tokens  # the fused kernel's recomputed logits
    return {ph.kind: batched, "decode": 2 * N * ph.sampled_tokens + 4 * LD * ph.sampled_keys}


def flops(ph: Phase) -> float:
    return sum(flop_parts(ph).values())


def decode_bytes(ph: Phase, bytes_per_element: int) -> float:
    """Bytes the decode steps read: every weight once per step, plus the cached keys/values."""
    return (ph.decode_steps * matmul_params(ph.model) + ph.kv_read) * bytes_per_element


# ----------------------------------------------------------------------------- phases of a run


@dataclass(frozen=True)
class Assumptions:
    mean: float = 0.5  # mean sampled response, as a share of max_new_tokens
    longest: float = (
        1.0  # longest row: a sampler call's decode steps and the GRPO update's padded length (share of max_new_tokens)
    )
    trained: float = (
        1.0  # share of GRPO groups run through the update (beta = 0 skips groups whose G rewards are equal)
    )


@dataclass(frozen=True)
class OpCounts:
    """Torch ops dispatched from Python by each unit of work, for one model config (count_ops)."""

    decode_step: float  # one decode step of generate(): a one-token forward, draw a token, bookkeeping
    top_p: float  # the ops top-p < 1 adds to a decode step (sort, cumsum, scatter)
    sampler_call: float  # a generate() call of ONE step: padding, caches, prefill, the first draw
    causal_step: float  # one pretraining / SFT step: forward, loss, backward, clip, AdamW
    masked_microbatch: float  # one GRPO micro-batch: prefix + completion forward, fused log-probs, loss, backward
    masked_forward: float  # one pi_ref forward of a micro-batch (no gradient)
    optimizer: float  # clip_grad_norm_ + one AdamW step


def pretrain_phase(m: ModelConfig, steps: int, batch: int, seq_len: int, ops: OpCounts, name: str = "base pretraining",
                   host_seconds: float = 0.0) -> Phase:  # fmt: skip
    """steps x [batch, seq_len] next-token steps; the causal kernel: a token attends (T + 1) / 2 keys on average."""
    tokens = float(steps * batch * seq_len)
    return Phase(name, m, trained_tokens=tokens, trained_keys=tokens * (seq_len + 1) / 2,
                 host_ops=float(steps * ops.causal_step), steps=float(steps), kind="causal",
                 host_seconds=host_seconds)  # fmt: skip


def sft_phase(name: str, m: ModelConfig, steps: int, batch: int, mean_len: float, ops: OpCounts) -> Phase:
    """SFT (r1mini/sft.py): steps x batch sequences of ~mean_len tokens (length-bucketed batches: little padding),
    the causal kernel."""
    tokens = float(steps * batch * mean_len)
    return Phase(name, m, trained_tokens=tokens, trained_keys=tokens * (mean_len + 1) / 2,
                 host_ops=float(steps * ops.causal_step), steps=float(steps), kind="causal")  # fmt: skip


def sampling_phase(name: str, m: ModelConfig, prompts: int, k: int, prompt_len: float, max_new_tokens: int, batch: int,
                   ops: OpCounts, a: Assumptions = Assumptions(), top_p: bool = False) -> Phase:  # fmt: skip
    """generate() over `prompts` prompts of (padded) length prompt_len, k rows each, `batch` prompts per call.

    A call prefills its prompts (a padding mask: every key computed), then decodes `longest` steps; the
    rows' sampled tokens attend their prompt and their own earlier tokens. top_p: the draws are filtered by
    top-p (evaluation's 0.95): every row's logits are sorted at every step."""
    calls = math.ceil(prompts / batch)
    steps = a.longest * max_new_tokens
    own = a.mean * max_new_tokens  # mean response length
    sampled = prompts * k * own
    return Phase(
        name, m, forward_tokens=prompts * prompt_len, forward_keys=prompts * prompt_len * prompt_len,
        sampled_tokens=sampled, sampled_keys=sampled * (prompt_len + own / 2), decode_steps=calls * steps,
        # kv_read: the prompt once per question per step
        kv_read=(steps * prompts * prompt_len + sampled * own / 2) * kv_elements(m),
        host_ops=calls * (ops.sampler_call + (steps - 1) * (ops.decode_step + top_p * ops.top_p)),
        steps=float(calls), kind="masked", sorted_rows=sampled if top_p else 0.0,
    )  # fmt: skip


def grpo_update_phase(m: ModelConfig, steps: int, B: int, G: int, prompt_len: float, max_new_tokens: int, ops: OpCounts,
                      mu: int = 1, beta: float = 0.0, micro_batch: int = 0, a: Assumptions = Assumptions(),
                      name: str = "GRPO update") -> Phase:  # fmt: skip
    """eq. (1)'s update, as GRPOTrainer.step runs it: per step, pi_ref's forward (beta > 0, every group) and mu
    inner updates of pi_theta (forward + backward). The prompt runs once per question (prefix cache), each
    completion padded to the longest row, attending prompt + completion (a padding mask: all keys computed)."""
    T, P = a.longest * max_new_tokens, prompt_len
    q = B * (1.0 if beta > 0 else a.trained)  # questions run through the update
    micro = math.ceil(B / micro_batch) if micro_batch else 1
    per_pass = {"tokens": q * P + q * G * T, "keys": q * P * P + q * G * T * (P + T)}
    ph = Phase(name, m, trained_tokens=steps * mu * per_pass["tokens"], trained_keys=steps * mu * per_pass["keys"],
               fused_tokens=steps * mu * q * G * T,
               host_ops=steps * mu * (micro * ops.masked_microbatch + ops.optimizer),
               steps=float(steps), kind="masked")  # fmt: skip
    if beta > 0:  # pi_ref: one forward of every group per step
        ph.forward_tokens = steps * (B * P + B * G * T)
        ph.forward_keys = steps * (B * P * P + B * G * T * (P + T))
        ph.host_ops += steps * micro * ops.masked_forward
    return ph


def grpo_phases(m: ModelConfig, steps: int, B: int, G: int, prompt_len: float, max_new_tokens: int, ops: OpCounts,
                mu: int = 1, beta: float = 0.0, micro_batch: int = 0, a: Assumptions = Assumptions(),
                prefix: str = "GRPO") -> list[Phase]:  # fmt: skip
    """A GRPO run's two phases: sampling G outputs per question (Algorithm 1) and the update (eq. 1)."""
    sampling = sampling_phase(f"{prefix} sampling", m, steps * B, G, prompt_len, max_new_tokens, B, ops, a)
    return [
        sampling,
        grpo_update_phase(
            m, steps, B, G, prompt_len, max_new_tokens, ops, mu, beta, micro_batch, a, f"{prefix} update"
        ),
    ]


# ----------------------------------------------------------------------------- counting host ops


def _narrow(m: ModelConfig) -> ModelConfig:
    """The same layers and heads at head_dim 2: the same ops as the full model, at a fraction of the FLOPs."""
    return dataclasses.replace(m, n_embd=2 * m.n_head, intermediate_size=8)


def _ops_of(fn) -> int:
    """Torch ops that fn() dispatches (aten level: after autograd, including the backward's)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return Count.n


def count_ops(m: ModelConfig) -> OpCounts:
    """OpCounts of a model config, by running each unit of work once on a narrow copy of it (a second or so)."""
    from r1mini.grpo import completion_logprobs
    from r1mini.toy.pretrain import make_optimizer
    from r1mini.engine.sampler import SamplingConfig, generate, left_pad

    torch.manual_seed(0)
    model = Transformer(_narrow(m))
    prompts = [[1] * 8, [2] * 6]
    gen = lambda n: _ops_of(
        lambda: generate(model.eval(), prompts, SamplingConfig(max_new_tokens=n), n_samples=2, seed=0)
    )  # noqa: E731
    one = gen(1)
    step = (gen(5) - one) / 4
    top_p = (
        _ops_of(
            lambda: generate(model.eval(), prompts, SamplingConfig(max_new_tokens=5, top_p=0.9), n_samples=2, seed=0)
        )
        - gen(5)
    ) / 4
    opt = make_optimizer(model, 1e-3, 0.1, torch.device("cpu"))
    x = torch.randint(1, m.vocab_size, (2, 9))

    def causal():
        loss = torch.nn.functional.cross_entropy(
            model.train()(x[:, :-1]).float().reshape(-1, m.vocab_size), x[:, 1:].reshape(-1)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        optimizer()

    def optimizer():
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    ids, pmask = left_pad(prompts, 0)
    o = torch.randint(1, m.vocab_size, (4, 5))

    def masked(grad: bool):
        with torch.set_grad_enabled(grad):
            logp = completion_logprobs(model.train(), ids, pmask, o, torch.ones_like(o, dtype=torch.bool), 2, 1.0)[0]
        if grad:
            (-logp.mean()).backward()

    causal()  # AdamW creates its state at the first step
    return OpCounts(
        decode_step=step, top_p=top_p, sampler_call=float(one), causal_step=float(_ops_of(causal)),
        masked_microbatch=float(_ops_of(lambda: masked(True))), masked_forward=float(_ops_of(lambda: masked(False))),
        optimizer=float(_ops_of(optimizer)),
    )  # fmt: skip


# ----------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class Device:
    name: str  # the table's column
    flops: dict  # achieved FLOP/s: "causal" (pretraining, SFT), "masked" (GRPO update, prefill), "decode"
    bandwidth: float  # achieved bytes/s of decode reads; math.inf: already inside the measured decode rate
    op_seconds: float  # host time per dispatched torch op
    bytes_per_element: int  # of the weights and caches the decode steps read (bf16: 2)
    sort_rate: float = math.inf  # top-p's sort: V log2 V per row, so many per second
    note: str = ""  # where the figures come from

    def seconds(self, ph: Phase) -> float:
        parts = flop_parts(ph)
        batched = parts[ph.kind] / self.flops[ph.kind]
        decode = max(parts["decode"] / self.flops["decode"], decode_bytes(ph, self.bytes_per_element) / self.bandwidth)
        sort = ph.sorted_rows * ph.model.vocab_size * math.log2(ph.model.vocab_size) / self.sort_rate
        return batched + decode + sort + ph.host_ops * self.op_seconds + ph.host_seconds


H100_PEAK_FLOPS = 989e12  # dense bf16 tensor-core FLOP/s, H100 SXM datasheet
H100_BANDWIDTH = 3.35e12  # HBM3 bytes/s, H100 SXM datasheet
MFU = 0.30  # assumed share of peak FLOP/s every matmul reaches
BANDWIDTH_EFFICIENCY = 0.60  # assumed share of peak bandwidth the decode reads reach
GPU_OP_SECONDS = 8e-6  # assumed host time per torch op in eager PyTorch (Python + dispatcher + launch)
GPU_SORT_RATE = 5e10  # assumed V log2 V units per second of a batched top-p sort (a segmented radix sort)

H100 = Device(
    "H100", {k: H100_PEAK_FLOPS * MFU for k in ("causal", "masked", "decode")}, H100_BANDWIDTH * BANDWIDTH_EFFICIENCY,
    GPU_OP_SECONDS, 2, GPU_SORT_RATE,
    f"H100 SXM: 989 TFLOP/s bf16 dense x MFU {MFU:.0%}, 3.35 TB/s x {BANDWIDTH_EFFICIENCY:.0%}, "
    f"{GPU_OP_SECONDS * 1e6:.0f} us per host op",
)  # fmt: skip


def _median_seconds(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _interleaved_medians(fns: dict, repeats: int = 3) -> dict:
    """{key: median seconds of fns[key]()} over `repeats` rounds in which every fn runs once, after a warm-up round."""
    times = {k: [] for k in fns}
    for r in range(repeats + 1):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r:
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def calibrate_cpu(m: ModelConfig, prompt_len: int = 100, G: int = 8, new_tokens: int = 96, seq_len: int = 256,
                  flop_budget: float = 2e9, ops: OpCounts | None = None) -> Device:  # fmt: skip
    """This CPU as a Device, measured now at the model's full size (float32, as the CPU samples): ~10 s for the
    cpu preset's model, longer for bigger ones.

    Host time per op: decode steps of a narrow copy of the model (the same ops, next to no FLOPs). decode:
    steps 32 tokens into a response (nearer to where a row's own keys cost what they typically do; they cost more per
    FLOP than the matmuls), less their ops' host time; each timed as the difference of two calls, so that the
    prefill cancels, the calls taking turns. causal: a pretraining step (forward, backward, AdamW) at
    [b, seq_len]; masked: a GRPO micro-batch (prefix cache, padding masks, fused log-probs, backward, AdamW);
    top-p: a draw with top-p 0.95 against one without, from the same [rows, V] logits. Rows are cut so that a
    measurement is ~flop_budget FLOPs (decode and training ~4-5x that: a batch of one row runs far below the
    rate of a real batch), at least one row. Medians of 2 or 5 after a warm-up: under load from other
    processes the rates are those of the loaded machine."""
    from r1mini.grpo import completion_logprobs
    from r1mini.toy.pretrain import make_optimizer
    from r1mini.engine.sampler import SamplingConfig, generate, left_pad, sample_next

    ops = ops or count_ops(m)
    torch.manual_seed(0)
    model, cpu = Transformer(m), torch.device("cpu")
    tok = lambda n: torch.randint(1, m.vocab_size, n)  # noqa: E731
    # rows the budget allows
    fit = lambda per_row, most, budget=flop_budget: max(1, min(most, int(budget / per_row)))  # noqa: E731
    P, s = min(prompt_len, m.max_seq_len - 24), 16  # prompt length, decode steps timed
    a = Assumptions(1.0, 1.0)

    # host time per op, and the decode rate
    mid = max(2, min(new_tokens // 2, 32, m.max_seq_len - P - s))
    one = lambda n, q, g: flops(sampling_phase("", m, q, g, P, n, q, ops, a))  # noqa: E731  q prompts x g rows, n steps
    rows = fit(
        (one(mid + s, 1, 1) - one(mid, 1, 1)), 16 * G, 4 * flop_budget
    )  # by the decode FLOPs of s steps of one row
    q, g = (rows // G, G) if rows >= G else (1, rows)
    narrow, prompts = Transformer(_narrow(m)).eval(), [tok((P,)).tolist() for _ in range(q)]
    runs = {
        (name, n): lambda n=n, net=net, k=k, r=r: generate(net.eval(), prompts[:k], SamplingConfig(max_new_tokens=n),
                                                           n_samples=r, seed=0)
        for name, net, k, r, start in (("ops", narrow, 1, G, 2), ("decode", model, q, g, mid))
        for n in (start, start + s)
    }  # fmt: skip
    t = _interleaved_medians(runs, 2)
    (_, a0), (_, a1), (_, b0), (_, b1) = runs
    op_s = max((t["ops", a1] - t["ops", a0]) / s, 1e-9) / ops.decode_step
    t_decode = (
        t["decode", b1] - t["decode", b0]
    )  # s steps; their ops' host time off, but at most 3/4 of it (timing noise)
    decode_rate = (one(b1, q, g) - one(b0, q, g)) / max(t_decode - s * ops.decode_step * op_s, t_decode / 4, 1e-9)

    # causal: a pretraining step of b sequences
    opt = make_optimizer(model, 1e-4, 0.0, cpu)
    L = min(seq_len, 256)
    b = fit(
        flops(pretrain_phase(m, 1, 1, L, ops)), 32, 5 * flop_budget
    )  # a batch big enough to run as the real one does
    x = tok((b, L + 1))

    def causal():
        loss = torch.nn.functional.cross_entropy(
            model.train()(x[:, :-1]).float().reshape(-1, m.vocab_size), x[:, 1:].reshape(-1)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    causal_rate = flops(pretrain_phase(m, 1, b, L, ops)) / max(
        _median_seconds(causal, 2) - ops.causal_step * op_s, 1e-9
    )

    # masked: a GRPO micro-batch of one question's r rows of T tokens, then the optimizer
    T = min(new_tokens, m.max_seq_len - P)
    r = fit(flops(grpo_update_phase(m, 1, 1, 1, P, T, ops, a=a)), 16 * G, 5 * flop_budget)
    ids, pmask = left_pad([tok((P,)).tolist()], 0)
    o = tok((r, T))

    def masked():
        logp = completion_logprobs(model.train(), ids, pmask, o, torch.ones_like(o, dtype=torch.bool), r, 1.0)[0]
        opt.zero_grad(set_to_none=True)
        (-logp.mean()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    ph = grpo_update_phase(m, 1, 1, r, P, T, ops, a=a)
    masked_rate = flops(ph) / max(_median_seconds(masked, 2) - ph.host_ops * op_s, 1e-9)

    # top-p: one draw from [n, V] logits filtered by top-p 0.95 against one unfiltered, less the ops it adds
    n = 16 * G
    logits = torch.randn(n, m.vocab_size)
    t = _interleaved_medians(
        {p: lambda p=p: sample_next(logits, SamplingConfig(temperature=0.6, top_p=p), None) for p in (1.0, 0.95)}, 5
    )
    sort_rate = n * m.vocab_size * math.log2(m.vocab_size) / max(t[0.95] - t[1.0] - ops.top_p * op_s, 1e-9)

    rates = {"causal": causal_rate, "masked": masked_rate, "decode": decode_rate}
    note = ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items()) + f", {op_s * 1e6:.1f} us per host op"
    note += f", top-p sort {sort_rate / 1e9:.2f}e9 V log V units/s"
    return Device(
        "this CPU", rates, math.inf, op_s, 4, sort_rate, f"measured {time.strftime('%Y-%m-%d %H:%M')}: {note}"
    )


# ----------------------------------------------------------------------------- the table


@dataclass
class Estimate:
    """A run's phases and the devices to price them on; `rows()` are the table, `total(device)` the sum."""

    phases: list[Phase]
    devices: list[Device] = field(default_factory=lambda: [H100])

    def total(self, device: Device) -> float:
        return sum(device.seconds(ph) for ph in self.phases)

    def rows(self) -> list[dict]:
        out = []
        for ph in self.phases:
            row = {
                "phase": ph.name,
                "steps": ph.steps,
                "flops": flops(ph),
                "decode_bytes": decode_bytes(ph, 2),
                "host_ops": ph.host_ops,
            }
            row.update({f"{d.name} min": d.seconds(ph) / 60 for d in self.devices})
            out.append(row)
        return out

    def table(self) -> str:
        """A markdown table: one row per phase, FLOPs, decode bytes (bf16), host ops, minutes per device, and the
        total."""
        head = ["phase", "steps", "FLOPs", "decode bytes", "host ops"] + [f"{d.name} min" for d in self.devices]
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for r in self.rows():
            cells = [
                r["phase"],
                f"{r['steps']:,.0f}",
                f"{r['flops']:.2e}",
                f"{r['decode_bytes']:.2e}",
                f"{r['host_ops']:.2e}",
            ]
            lines.append("| " + " | ".join(cells + [f"{r[f'{d.name} min']:.2f}" for d in self.devices]) + " |")
        total = ["**total**", "", f"{sum(flops(p) for p in self.phases):.2e}", "", ""] + [
            f"**{self.total(d) / 60:.1f}**" for d in self.devices
        ]
        lines.append("| " + " | ".join(total) + " |")
        lines += [f"- {d.name}: {d.note}" for d in self.devices]
        return "\n".join(lines)
