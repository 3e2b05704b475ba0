"""Log-prob kernels against a float64 reference written out by hand (log-sum-exp loops)."""

import math

import pytest
import torch

from r1mini.engine.logprobs import fused_token_logprobs, naive_token_logprobs, token_logprobs


def reference(logits64: torch.Tensor, o: torch.Tensor, temperature: float):
    """float64, row by row, with Python's math: log p(o) and entropy of softmax(z / T)."""
    B, T, V = logits64.shape
    logp = torch.zeros(B, T, dtype=torch.float64)
    ent = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            z = [float(x) / temperature for x in logits64[b, t]]
            m = max(z)
            lse = m + math.log(sum(math.exp(x - m) for x in z))
            logp[b, t] = z[int(o[b, t])] - lse
            ent[b, t] = -sum(math.exp(x - lse) * (x - lse) for x in z)
    return logp, ent


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_match_float64_loop(seed):
    g = torch.Generator().manual_seed(seed)
    B, T, V, D = 2, 5, 37, 8
    temp = [1.0, 0.7, 1.3][seed]
    h = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    W = torch.randn(V, D, generator=g, dtype=torch.float64)
    o = torch.randint(V, (B, T), generator=g)
    ref_lp, ref_ent = reference(h @ W.T, o, temp)
    for lp, ent in (token_logprobs(h @ W.T, o, temp, chunk=3), fused_token_logprobs(h, W, o, temp, chunk=4)):
        assert torch.allclose(lp, ref_lp, rtol=1e-10, atol=1e-12)
        assert torch.allclose(ent, ref_ent, rtol=1e-10, atol=1e-12)


def _grads(fn, h, W, o, mask, w):
    h, W = h.clone().requires_grad_(), W.clone().requires_grad_()
    lp = fn(h, W, o)
    (lp * mask * w).sum().backward()  # a ragged, weighted loss like GRPO's
    return lp.detach(), h.grad, W.grad


@pytest.mark.parametrize("seed", range(4))
def test_gradients_match_float64_autograd(seed):
    """Random shapes, ragged masks: chunked and fused kernels vs autograd through a float64 naive
    log_softmax. float64 inputs isolate the kernel math (rel 1e-9); float32 inputs show the
    precision a real run gets (rel 1e-5 on values and gradients)."""
    g = torch.Generator().manual_seed(100 + seed)
    B, T = int(torch.randint(1, 4, (1,), generator=g)), int(torch.randint(1, 9, (1,), generator=g))
    V, D, chunk = int(torch.randint(5, 300, (1,), generator=g)), 16, int(torch.randint(1, 7, (1,), generator=g))
    h = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    W = torch.randn(V, D, generator=g, dtype=torch.float64) * 0.5
    o = torch.randint(V, (B, T), generator=g)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None] < lengths[:, None]).double()
    w = torch.randn(B, T, generator=g, dtype=torch.float64)
    temp = 0.8

    def naive(h, W, o):  # autograd's own log_softmax backward, float64
        return torch.log_softmax((h @ W.T) / temp, -1).gather(-1, o[..., None])[..., 0]

    def chunked(h, W, o):
        return token_logprobs(h @ W.T, o, temp, chunk=chunk)[0]

    def fused(h, W, o):
        return fused_token_logprobs(h, W, o, temp, chunk=chunk)[0]

    ref = _grads(naive, h, W, o, mask, w)
    for fn in (chunked, fused):
        out = _grads(fn, h, W, o, mask, w)
        for a, b in zip(out, ref):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-11)
        out32 = _grads(fn, h.float(), W.float(), o, mask.float(), w.float())
        for a, b in zip(out32, ref):
            rel = ((a.double() - b).norm() / b.norm()).item()
            assert rel < 1e-5, rel
    # the masked-out positions get exactly zero gradient
    _, gh, _ = _grads(fused, h, W, o, mask, w)
    assert torch.all(gh[mask == 0] == 0)


def test_naive_reference_and_entropy_bounds():
    z = torch.tensor([[[0.0, 0.0, 0.0, 0.0]]])  # uniform over 4: log p = -log 4, entropy = log 4
    lp, ent = token_logprobs(z, torch.tensor([[2]]))
    assert lp.item() == pytest.approx(-math.log(4))
    assert ent.item() == pytest.approx(math.log(4))
    assert naive_token_logprobs(z, torch.tensor([[2]])).item() == pytest.approx(-math.log(4))


def test_entropy_has_no_gradient_and_temperature_is_applied():
    z = torch.tensor([[[2.0, 0.0]]], requires_grad=True)
    lp, ent = token_logprobs(z, torch.tensor([[0]]), temperature=2.0)
    assert not ent.requires_grad
    assert lp.item() == pytest.approx(1.0 - math.log(math.exp(1.0) + 1.0))  # softmax([1, 0])[0]


def test_default_chunk_bounds_rows_and_elements():
    from r1mini.engine.logprobs import default_chunk

    assert default_chunk(1024) == 1024  # small vocabulary: 1024 rows (4M logits)
    assert default_chunk(32768) == 128  # 128 * 32768 = 2**22 logits = 16 MiB of float32
    assert default_chunk(50000) == 83  # floor(2**22 / 50000)
    assert default_chunk(2**30) == 1
