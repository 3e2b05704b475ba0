"""Batched per-token log-probs log pi_theta(o_t | q, o_<t): the quantity eq. (1) is built from (section 2.2.1).

Every GRPO update needs, for each sampled token o_{i,t}, log pi_theta (with gradients), log pi_old and
log pi_ref (without). The naive way

    torch.log_softmax(logits.float() / T, -1).gather(-1, o[..., None])

materialises a float32 [B, T, V] tensor, keeps it for backward, and builds another of the same size
for the gradient: at V = 32k, B*T = 16k tokens that is 2 GiB each. Here, in plain torch:

- `token_logprobs(logits, o, T)`: works through the B*T rows in chunks and saves only the logsumexp
  per row for backward (a torch.autograd.Function whose backward rebuilds softmax chunk by chunk).
- `fused_token_logprobs(hidden, W, o, T)`: takes the last hidden states and the lm_head weight instead
  of logits, so that at most ONE chunk of logits [chunk, V] exists at a time, in forward and in backward
  (backward recomputes each chunk's logits). This is the one GRPO uses.
- both also return the per-token entropy of pi_theta(. | q, o_<t) (no gradient), for logging.

    d log softmax(z / T)_o / dz = (onehot(o) - softmax(z / T)) / T          (the backward below)
    entropy = logsumexp(z / T) - sum_v softmax(z / T)_v * z_v / T

    >>> z = torch.randn(2, 5, 11); o = torch.randint(11, (2, 5))
    >>> lp, ent = token_logprobs(z, o, temperature=1.0)
    >>> torch.allclose(lp, torch.log_softmax(z, -1).gather(-1, o[..., None])[..., 0], atol=1e-6)
    True
"""

from __future__ import annotations

import torch


CHUNK_ELEMENTS = 2**22  # 16 MiB of float32 logits per chunk
MAX_CHUNK_ROWS = 1024


def default_chunk(vocab_size: int) -> int:
    """Rows per chunk: at most 1024, and at most CHUNK_ELEMENTS logits, so that a chunk's few float32
    temporaries stay small at a large vocabulary (V = 32k: 128 rows = 16 MiB each)."""
    return max(1, min(MAX_CHUNK_ROWS, CHUNK_ELEMENTS // vocab_size))


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(s + size, n))


def _acc(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float32, or float64 for float64 inputs (the tests' exact reference)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _logp_and_entropy(z: torch.Tensor, o: torch.Tensor, temperature: float):
    """One chunk: z [n, V] logits, o [n] -> (log p(o) [n], entropy [n], logsumexp [n]), float32 or up."""
    z = z.to(_acc(z.dtype)) / temperature
    lse = torch.logsumexp(z, dim=-1)
    logp = z.gather(-1, o[:, None])[:, 0] - lse
    p = torch.exp(z - lse[:, None])
    entropy = lse - (p * z).sum(-1)
    return logp, entropy, lse


def _grad_logits(z: torch.Tensor, o: torch.Tensor, lse: torch.Tensor, g: torch.Tensor, temperature: float):
    """d(sum g * logp)/dz for one chunk: (onehot(o) - softmax(z / T)) * g / T, float32 (or up) [n, V]."""
    p = torch.exp(z.to(lse.dtype) / temperature - lse[:, None])
    grad = -p * (g / temperature)[:, None]
    grad.scatter_add_(-1, o[:, None], (g / temperature)[:, None])
    return grad


class ChunkedLogProbs(torch.autograd.Function):
    """logits [N, V], o [N] -> log-probs [N], entropy [N] (entropy carries no gradient)."""

    @staticmethod
    def forward(ctx, logits, o, temperature: float, chunk: int):
        N = logits.shape[0]
        logp = torch.empty(N, dtype=_acc(logits.dtype), device=logits.device)
        ent, lse = torch.empty_like(logp), torch.empty_like(logp)
        for s in _chunks(N, chunk):
            logp[s], ent[s], lse[s] = _logp_and_entropy(logits[s], o[s], temperature)
        ctx.save_for_backward(logits, o, lse)
        ctx.temperature, ctx.chunk = temperature, chunk
        ctx.mark_non_differentiable(ent)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, g_ent):
        logits, o, lse = ctx.saved_tensors
        grad = torch.empty_like(logits)
        for s in _chunks(logits.shape[0], ctx.chunk):
            grad[s] = _grad_logits(logits[s], o[s], lse[s], g_logp[s].to(lse.dtype), ctx.temperature).to(grad.dtype)
        return grad, None, None, None


class FusedLinearLogProbs(torch.autograd.Function):
    """hidden [N, D], lm_head weight [V, D], o [N] -> log-probs [N], entropy [N].

    Never holds more than one [chunk, V] block of logits: backward recomputes each block and
    accumulates dL/dhidden = dz @ W and dL/dW = dz^T @ hidden chunk by chunk.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, hidden, weight, o, temperature: float, chunk: int):
        N = hidden.shape[0]
        logp = torch.empty(N, dtype=_acc(hidden.dtype), device=hidden.device)
        ent, lse = torch.empty_like(logp), torch.empty_like(logp)
        for s in _chunks(N, chunk):
            z = hidden[s] @ weight.t()  # [n, V], only this chunk
            logp[s], ent[s], lse[s] = _logp_and_entropy(z, o[s], temperature)
        ctx.save_for_backward(hidden, weight, o, lse)
        ctx.temperature, ctx.chunk = temperature, chunk
        ctx.mark_non_differentiable(ent)
        return logp, ent

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, g_logp, g_ent):
        hidden, weight, o, lse = ctx.saved_tensors
        grad_h = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        acc = lse.dtype
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if ctx.needs_input_grad[1] else None
        for s in _chunks(hidden.shape[0], ctx.chunk):
            z = hidden[s] @ weight.t()
            dz = _grad_logits(z, o[s], lse[s], g_logp[s].to(acc), ctx.temperature)  # [n, V]
            if grad_h is not None:
                grad_h[s] = (dz @ weight.to(acc)).to(hidden.dtype)
            if grad_w is not None:
                grad_w += dz.t() @ hidden[s].to(acc)
        return grad_h, None if grad_w is None else grad_w.to(weight.dtype), None, None, None


def _flat(x: torch.Tensor, o: torch.Tensor):
    """[B, T, X] and [B, T] -> [B*T, X] and [B*T] (the kernels work on rows)."""
    return x.reshape(-1, x.shape[-1]), o.reshape(-1)


def token_logprobs(logits, o, temperature: float = 1.0, chunk: int = 0):
    """logits [B, T, V], o [B, T] -> (log pi(o_t), entropy), each [B, T] float32; chunked over B*T
    (chunk rows at a time; 0 = default_chunk(V))."""
    z, t = _flat(logits, o)
    logp, ent = ChunkedLogProbs.apply(z, t, float(temperature), chunk or default_chunk(z.shape[-1]))
    return logp.view(o.shape), ent.view(o.shape)


def fused_token_logprobs(hidden, weight, o, temperature: float = 1.0, chunk: int = 0):
    """hidden [B, T, D] (final normed states), weight [V, D] (lm_head), o [B, T] -> (log-probs, entropy) [B, T]."""
    h, t = _flat(hidden, o)
    logp, ent = FusedLinearLogProbs.apply(h, weight, t, float(temperature), chunk or default_chunk(weight.shape[0]))
    return logp.view(o.shape), ent.view(o.shape)


def naive_token_logprobs(logits, o, temperature: float = 1.0):
    """The reference: full float32 log_softmax, then gather. [B, T, V], [B, T] -> [B, T]."""
    z = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return torch.log_softmax(z / temperature, dim=-1).gather(-1, o[..., None])[..., 0]
