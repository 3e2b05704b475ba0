"""Batched sampling with a KV cache: how GRPO draws its G outputs o_1..o_G per question q (section 2.2.1).

Algorithm 1's "sample G outputs {o_i} ~ pi_old(. | q) for each question q" is the expensive half of
RL. This file does it the way serious engines do (nanochat's engine, vLLM), in plain torch:

1. left-pad the prompts of different lengths into one batch [B, P] and run it ONCE (prefill);
2. share each prompt's KV cache with its G rows (batch B -> B * G), no recomputation and no copy:
   a row attends to its prompt's keys, read once per prompt, and to its own generated keys
   (model.SharedPromptCache);
3. decode one token per step for all live rows, appending keys/values to the cache;
4. a row stops on a stop token (end of text, `</answer>`) or a stop sequence, or at max_new_tokens;
   finished rows are dropped from the running batch (the cache is compacted) so they stop costing compute.

Temperature, top-k and top-p are applied per step; the returned log-probs are those of the distribution
actually sampled from (with top_k=0 and top_p=1 they equal log_softmax(logits / temperature), which is
what the trainer recomputes: the gap between the two is logged by GRPO). A seeded torch.Generator
reproduces the samples exactly; temperature=0 is greedy decoding.

    >>> from r1mini.engine.model import ModelConfig, Transformer
    >>> _ = torch.manual_seed(0); model = Transformer(ModelConfig.preset("nano", vocab_size=64))
    >>> samples = generate(model, [[5, 6, 7], [8, 9]], SamplingConfig(max_new_tokens=16), n_samples=4, seed=0)
    >>> samples.tokens.shape[0], samples.tokens.shape[1] <= 16   # B * G rows, at most max_new_tokens columns
    (8, True)

`use_cache=False` recomputes the whole prefix at every step: the slow reference the tests and
`python -m r1mini.tools.bench` compare against.

Host-device synchronisation. On a GPU the host queues kernels ahead of the device until it needs a value
back; every such read (`.item()`, `bool(t)`, `.tolist()`, indexing by a boolean mask, `nonzero`) stalls that
queue. The decode loop needs none per token: tokens, log-probs and masks are written by row index and
`torch.where`, the stop test runs on the device, and the model checks positions on the host from the cache's
length. What remains, and why:
- one sync every `check_every` decode steps (default 1 on a CPU, where a sync costs nothing and every
  step is checked; CHECK_EVERY_GPU = 8 on a GPU): the host must learn whether every row is done (to stop)
  and how many are (to compact). Between checks finished rows ride along, their tokens not written, so the
  outputs are the same; at most check_every - 1 steps are wasted at the end;
- `nonzero` when the batch is compacted (the kept rows' count sizes the new batch): a few times per call;
- none in the forward (model.Transformer checks max_seq_len from the cache's length on the host; the exact
  check, a sync, runs only when a position could overflow, which generate() rules out before it starts).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from r1mini.engine.common import ConfigError, autocast
from r1mini.engine.model import KVCache, SharedPromptCache, Transformer

CHECK_EVERY_GPU = 8  # decode steps between the host's reads of the stop condition on a GPU (one sync each)


@dataclass
class SamplingConfig:
    max_new_tokens: int = 128
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    stop_ids: tuple[int, ...] = ()  # a row stops after emitting any of these tokens
    stop_sequences: tuple[tuple[int, ...], ...] = ()  # ... or after emitting one of these token runs

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {self.top_k}")


@dataclass
class Samples:
    tokens: torch.Tensor  # [N, T_new] long, pad_id after a row stopped
    logprobs: torch.Tensor  # [N, T_new] float32, log-prob of each token under the sampling distribution
    mask: torch.Tensor  # [N, T_new] bool, True for generated tokens (the stop token included)
    prompt_index: torch.Tensor  # [N] which prompt each row continues (row i*G+g continues prompt i)
    truncated: torch.Tensor  # [N] bool, True if the row hit max_new_tokens without stopping

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)


def left_pad(seqs: list[list[int]], pad_id: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """[[5, 6, 7], [8, 9]] -> ids [[5, 6, 7], [pad, 8, 9]], mask [[1, 1, 1], [0, 1, 1]]."""
    if not seqs or any(len(s) == 0 for s in seqs):
        raise ValueError("every prompt needs at least one token")
    P = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), P), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), P, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, P - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[i, P - len(s) :] = True
    return ids.to(device), mask.to(device)


def sample_next(logits: torch.Tensor, cfg: SamplingConfig, gen: torch.Generator | None, u: torch.Tensor | None = None):
    """logits [n, V] -> (tokens [n], log-probs [n] under the distribution sampled from); u [n, 1]: the
    uniforms to draw with (default: fresh ones from gen)."""
    logits = logits.float()
    if cfg.temperature == 0:
        logp = torch.log_softmax(logits, dim=-1)
        tok = logp.argmax(-1)
        return tok, logp.gather(-1, tok[:, None])[:, 0]
    logits = logits / cfg.temperature
    if cfg.top_k and cfg.top_k < logits.shape[-1]:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[:, -1:]  # [n, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token if the tokens ranked above it already cover top_p (the top one always stays)
        drop_sorted = probs.cumsum(-1) - probs > cfg.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    logp = torch.log_softmax(logits, dim=-1)
    tok = draw(logp.exp(), gen, u)
    return tok, logp.gather(-1, tok[:, None])[:, 0]


def draw(probs: torch.Tensor, gen: torch.Generator | None, u: torch.Tensor | None = None) -> torch.Tensor:
    """One token per row of probs [n, V] by inverting the CDF: the first token whose cumulative probability
    exceeds u ~ U[0, total). Exact, and on a CPU ~20x cheaper than torch.multinomial (which draws V
    exponentials per row). A token of probability 0 is never drawn: its CDF step is flat."""
    cdf = probs.cumsum(dim=-1)  # [n, V]
    u = torch.rand(probs.shape[0], 1, generator=gen, device=probs.device) if u is None else u  # [n, 1] in [0, 1)
    u = u * cdf[:, -1:]  # [n, 1]
    # u can round up to the total in float32; the clamp keeps that one-in-2**24 case a valid token
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp(max=probs.shape[-1] - 1)


@torch.no_grad()
def generate(
    model: Transformer,
    prompts: list[list[int]],
    cfg: SamplingConfig,
    n_samples: int = 1,
    seed: int | None = None,
    pad_id: int = 0,
    use_cache: bool = True,
    compact_at: float = 0.25,
    share_prompt: bool = True,
    first: int = 0,
    total: int | None = None,
    check_every: int = 0,
) -> Samples:
    """Sample n_samples (G) completions for each prompt. See the module docstring.

    compact_at: drop finished rows from the running batch once they are this share of it (0 = at once).
    share_prompt: the G rows of a prompt read its keys/values from one copy (SharedPromptCache); False
    copies them to every row, the usual way (what `python -m r1mini.tools.bench` compares against).
    check_every: decode steps between the host's reads of the stop condition (0 = 1 on a CPU,
    CHECK_EVERY_GPU elsewhere; see the module docstring). The outputs do not depend on it.
    first, total: these prompts are prompts [first, first + B) of a batch of `total` (default B). The uniforms
    of the draws are taken for the whole batch at once, one per output row and step, and each row uses its
    own: a row's sample depends on the seed and its place in the batch only, not on which rows run beside
    it, so ranks that split a batch (r1mini/engine/dist.py) sample what one process sampling all of it would.
    """
    cfg.validate()
    device = next(model.parameters()).device
    gen = None
    if seed is not None:
        gen = torch.Generator(device=device)
        gen.manual_seed(seed)
    B, G, T_new = len(prompts), n_samples, cfg.max_new_tokens
    ids, mask = left_pad(prompts, pad_id, device)  # [B, P]
    if ids.shape[1] + T_new > model.cfg.max_seq_len:
        raise ConfigError(
            f"prompt ({ids.shape[1]} tokens) + max_new_tokens ({T_new}) exceeds the model's "
            f"max_seq_len={model.cfg.max_seq_len}"
        )
    rows = torch.arange(B, device=device).repeat_interleave(G)  # [N]: prompt of each output row
    N = B * G
    out_tok = torch.full((N, T_new), pad_id, dtype=torch.long, device=device)
    out_lp = torch.zeros(N, T_new, dtype=torch.float32, device=device)
    out_mask = torch.zeros(N, T_new, dtype=torch.bool, device=device)
    done = torch.zeros(N, dtype=torch.bool, device=device)
    stop_ids = torch.tensor(cfg.stop_ids, dtype=torch.long, device=device)
    tails = [
        torch.tensor(s, dtype=torch.long, device=device) for s in cfg.stop_sequences
    ]  # on the device once, not per step
    check_every = check_every or (1 if device.type == "cpu" else CHECK_EVERY_GPU)
    u = None  # [N, T_new]: row i's uniform at step t; this call's rows of the whole batch's table
    if cfg.temperature > 0:
        u = torch.rand(((B if total is None else total) * G, T_new), generator=gen, device=device)[
            first * G : (first + B) * G
        ]

    with autocast(device):
        # the caches in the dtype the forward computes in: bf16 under a GPU's autocast (half the bytes each decode
        # step reads), else the weights' (float32 on a CPU, exactly as before)
        dtype = (
            torch.get_autocast_dtype(device.type)
            if torch.is_autocast_enabled(device.type)
            else next(model.parameters()).dtype
        )
        if use_cache and share_prompt:  # prefill each prompt once; its G rows share its keys/values
            prompt_cache = KVCache(model.cfg, B, ids.shape[1], device, dtype)
            logits = model(ids, mask, cache=prompt_cache)[:, -1]  # [B, V]
            cache = SharedPromptCache(prompt_cache, G, T_new)
            logits = logits[rows]  # [N, V]
        elif use_cache:  # prefill each prompt once, then copy its keys/values to its G rows
            cache = KVCache(model.cfg, B, ids.shape[1] + T_new, device, dtype)
            logits = model(ids, mask, cache=cache)[:, -1][rows]  # [N, V]
            cache.select(rows)
        else:  # reference: recompute the whole prefix every step
            seq, seq_mask = ids[rows], mask[rows]
            logits = model(seq, seq_mask)[:, -1]
        live = torch.arange(N, device=device)  # output row of each row in the running batch

        for t in range(T_new):
            tok, lp = sample_next(logits, cfg, gen, None if u is None else u[live, t, None])  # [n]
            running = ~done[live]  # [n]: rows still generating (written by index and mask: no sync)
            out_tok[live, t] = torch.where(running, tok, pad_id)
            out_lp[live, t] = torch.where(running, lp, 0.0)
            out_mask[live, t] = running
            stopped = torch.isin(tok, stop_ids) if len(cfg.stop_ids) else torch.zeros_like(running)
            for s, tail in zip(cfg.stop_sequences, tails):  # the last len(s) tokens of the row equal s
                if t + 1 >= len(s):
                    stopped |= (out_tok[live, t + 1 - len(s) : t + 1] == tail).all(1)
            done[live] = done[live] | stopped
            if t == T_new - 1:
                break
            compact = False
            if (t + 1) % check_every == 0:  # a check step, its one sync: are all rows done? enough of them to compact?
                dead = done[live]
                all_done, compact = torch.stack([dead.all(), dead.any() & (dead.float().mean() >= compact_at)]).tolist()
                if all_done:
                    break
            if compact:  # drop finished rows (between check steps they run on; their tokens are not written)
                keep = (~dead).nonzero()[:, 0]
                live, tok = live[keep], tok[keep]
                if use_cache:
                    cache.select(keep)
                else:
                    seq, seq_mask = seq[keep], seq_mask[keep]
            if use_cache:
                logits = model(tok[:, None], cache=cache)[:, -1]
            else:
                seq = torch.cat([seq, tok[:, None]], dim=1)
                seq_mask = torch.cat([seq_mask, torch.ones_like(tok[:, None], dtype=torch.bool)], dim=1)
                logits = model(seq, seq_mask)[:, -1]

    return Samples(out_tok, out_lp, out_mask, rows, ~done)
