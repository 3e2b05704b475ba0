"""The KV-cache sampler: greedy equals recomputing the prefix, seeds reproduce, filters are right."""

import math

import pytest
import torch

from r1mini.engine.common import ConfigError
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import SamplingConfig, generate, left_pad, sample_next

PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16, 17]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = Transformer(ModelConfig(vocab_size=40, n_layer=2, n_head=2, n_kv_head=1, n_embd=32, max_seq_len=128))
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.4)  # peaky, varied next-token choices
    return m.eval()


def test_left_pad():
    ids, mask = left_pad([[5, 6, 7], [8, 9]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 8, 9]]
    assert mask.tolist() == [[True, True, True], [False, True, True]]


def greedy_by_hand(model, prompt, n, stop):
    """The slowest possible reference: one prompt alone, full recompute, argmax, no batching."""
    seq = list(prompt)
    out = []
    for _ in range(n):
        t = int(model(torch.tensor([seq]))[0, -1].argmax())
        out.append(t)
        seq.append(t)
        if t in stop:
            break
    return out


@pytest.mark.parametrize(
    "compact_at, share_prompt", [(0.0, True), (0.5, True), (1.0, True), (0.0, False), (0.5, False)]
)
def test_greedy_cached_equals_recompute_on_left_padded_batch(model, compact_at, share_prompt):
    stop = (3, 7)
    cfg = SamplingConfig(max_new_tokens=20, temperature=0, stop_ids=stop)
    cached = generate(model, PROMPTS, cfg, n_samples=2, compact_at=compact_at, share_prompt=share_prompt)
    recomputed = generate(model, PROMPTS, cfg, n_samples=2, use_cache=False)
    assert torch.equal(cached.tokens, recomputed.tokens)
    assert torch.equal(cached.mask, recomputed.mask)
    assert torch.allclose(cached.logprobs, recomputed.logprobs, atol=1e-5)
    for row in range(6):
        want = greedy_by_hand(model, PROMPTS[row // 2], 20, stop)
        n = int(cached.mask[row].sum())
        assert cached.tokens[row, :n].tolist() == want
        assert bool(cached.truncated[row]) == (want[-1] not in stop)


def test_seed_reproduces_and_rows_are_independent(model):
    cfg = SamplingConfig(max_new_tokens=15, temperature=1.0, stop_ids=(3,))
    a = generate(model, PROMPTS, cfg, n_samples=4, seed=7)
    b = generate(model, PROMPTS, cfg, n_samples=4, seed=7)
    c = generate(model, PROMPTS, cfg, n_samples=4, seed=8)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.logprobs, b.logprobs)
    assert not torch.equal(a.tokens, c.tokens)
    assert a.prompt_index.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert len({tuple(r) for r in a.tokens.tolist()}) > 3  # the G copies diverge


def test_sampled_logprobs_equal_full_recompute(model):
    """At top_k=0, top_p=1 the sampler's log-probs are log_softmax(logits / T) of the full sequence."""
    T = 0.7
    s = generate(model, PROMPTS, SamplingConfig(max_new_tokens=10, temperature=T), n_samples=2, seed=1)
    for row in range(6):
        p = PROMPTS[row // 2]
        n = int(s.mask[row].sum())
        seq = torch.tensor([p + s.tokens[row, :n].tolist()])
        logits = model(seq)[0, len(p) - 1 : -1].double() / T
        ref = torch.log_softmax(logits, -1).gather(-1, s.tokens[row, :n, None])[:, 0]
        assert torch.allclose(s.logprobs[row, :n].double(), ref, atol=1e-5)
        assert not s.mask[row, n:].any()


def test_top_p_and_top_k_against_brute_force():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    g = torch.Generator().manual_seed(0)
    # top_p = 0.7: the nucleus is {0, 1} (0.5 < 0.7 <= 0.8); renormalised probs 5/8, 3/8
    seen = set()
    for _ in range(300):
        tok, lp = sample_next(logits, SamplingConfig(temperature=1.0, top_p=0.7), g)
        seen.add(int(tok))
        assert lp.item() == pytest.approx(math.log([5 / 8, 3 / 8][int(tok)]), abs=1e-6)
    assert seen == {0, 1}
    # top_k = 3 at temperature 0.5: p ~ [0.5, 0.3, 0.15]^2 renormalised
    w = [0.25, 0.09, 0.0225]
    for _ in range(100):
        tok, lp = sample_next(logits, SamplingConfig(temperature=0.5, top_k=3), g)
        assert int(tok) in (0, 1, 2)
        assert lp.item() == pytest.approx(math.log(w[int(tok)] / sum(w)), abs=1e-6)
    tok, _ = sample_next(logits, SamplingConfig(temperature=1.0, top_k=1), g)
    assert int(tok) == 0


def test_stop_sequences_and_truncation(model):
    cfg = SamplingConfig(max_new_tokens=12, temperature=0)
    free = generate(model, PROMPTS[:1], cfg)
    toks = free.tokens[0].tolist()
    seq = tuple(toks[3:5])  # stop after the first time this pair appears
    first = next(i for i in range(1, 12) if tuple(toks[i - 1 : i + 1]) == seq)
    s = generate(model, PROMPTS[:1], SamplingConfig(max_new_tokens=12, temperature=0, stop_sequences=(seq,)))
    assert int(s.mask[0].sum()) == first + 1 and not bool(s.truncated[0])
    assert bool(free.truncated[0]) or int(free.mask[0].sum()) < 12


def test_bad_configs(model):
    with pytest.raises(ConfigError, match="top_p"):
        generate(model, PROMPTS, SamplingConfig(top_p=0.0))
    with pytest.raises(ConfigError, match="max_seq_len"):
        generate(model, PROMPTS, SamplingConfig(max_new_tokens=500))


def test_draw_follows_the_probabilities_and_never_draws_a_zero():
    from r1mini.engine.sampler import draw

    p = torch.tensor([0.5, 0.0, 0.3, 0.0, 0.2])
    g = torch.Generator().manual_seed(0)
    n = 200_000
    toks = draw(p.expand(n, -1), g)
    freq = torch.bincount(toks, minlength=5).double() / n
    assert freq[1] == 0 and freq[3] == 0  # flat CDF steps are never hit
    # binomial standard error sqrt(p(1-p)/n) <= 0.0012: 5 of them is a generous bound
    assert torch.allclose(freq, p.double(), atol=0.006), freq
    assert draw(torch.tensor([[0.0, 0.0, 1.0]]), g).item() == 2


def test_draw_on_the_edges_of_the_cdf(monkeypatch):
    """u = 0 and u exactly on a CDF step (each about a 2**-24 event per float32 draw, so they do happen in a long
    run): the token drawn is the one whose interval [cdf_(k-1), cdf_k) holds u, never one of probability 0."""
    from r1mini.engine.sampler import draw

    probs = torch.tensor([[0.0, 0.25, 0.0, 0.75]] * 2)  # cdf [0, 0.25, 0.25, 1]
    monkeypatch.setattr(torch, "rand", lambda *args, **kwargs: torch.tensor([[0.0], [0.25]]))
    assert draw(probs, None).tolist() == [1, 3]


def _host_reads(fn) -> int:
    """Ops in fn() that hand a device value to the host (a sync on a GPU): .item() / bool() / .tolist()
    (aten._local_scalar_dense), nonzero, and indexing by a boolean mask (nonzero inside)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            idx = args[1] if name in ("index", "index_put", "index_put_") and len(args) > 1 else ()
            if name in ("_local_scalar_dense", "nonzero", "item") or any(
                t is not None and t.dtype == torch.bool for t in idx
            ):
                Count.n += 1
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return Count.n


@pytest.mark.parametrize("stop_sequences", [(), ((4, 5),)])
def test_check_every_changes_no_output(model, stop_sequences):
    """What a GPU runs (the stop condition read every k steps, finished rows riding along) samples what the
    every-step schedule does: the same tokens, masks and truncation, greedy and sampled, with compaction; the
    log-probs to float rounding (a row's logits can move in the last bit with the batch it runs in: the CPU
    default k = 1 is the every-step schedule itself, bit for bit)."""
    for temperature in (0.0, 1.0):
        cfg = SamplingConfig(max_new_tokens=16, temperature=temperature, stop_ids=(3, 7), stop_sequences=stop_sequences)
        ref = generate(model, PROMPTS, cfg, n_samples=3, seed=5, check_every=1)
        assert (ref.mask.sum(1) < 16).sum() >= 3  # rows stop early: they ride along, then are compacted
        for k in (2, 5, 16):
            for compact_at in (0.0, 0.25):
                s = generate(model, PROMPTS, cfg, n_samples=3, seed=5, check_every=k, compact_at=compact_at)
                assert torch.equal(s.tokens, ref.tokens) and torch.equal(s.mask, ref.mask), (k, compact_at)
                assert torch.equal(s.truncated, ref.truncated) and torch.allclose(
                    s.logprobs, ref.logprobs, atol=1e-5, rtol=0
                )


def test_decode_loop_reads_the_device_once_per_check():
    """No host read per decoded token: a call of T steps reads the device about T / check_every times (plus
    setup and the compactions), not several times per step. No stop tokens: every row runs every step."""
    torch.manual_seed(0)
    m = Transformer(ModelConfig(vocab_size=40, n_layer=2, n_head=2, n_kv_head=1, n_embd=16, max_seq_len=128)).eval()
    cfg = SamplingConfig(max_new_tokens=40, temperature=1.0)
    base = _host_reads(
        lambda: generate(m, PROMPTS, SamplingConfig(max_new_tokens=1), n_samples=2, seed=0)
    )  # setup + prefill
    for k in (1, 8):
        reads = _host_reads(lambda: generate(m, PROMPTS, cfg, n_samples=2, seed=0, check_every=k)) - base  # noqa: B023
        assert reads <= 39 // k, (k, reads)  # one per check step (steps 1..39 are followed by another)


def test_caches_take_the_autocast_dtype(model, monkeypatch):
    """Under a GPU's bf16 autocast the KV caches are bf16 (half the bytes a decode step reads); without autocast
    (a CPU) they stay float32. The CPU's own bf16 autocast stands in for the GPU's here."""
    import r1mini.engine.sampler as sampler
    from r1mini.engine.model import SharedPromptCache

    seen = []

    class Spy(SharedPromptCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append((self.pk.dtype, self.sk.dtype))

    monkeypatch.setattr(sampler, "SharedPromptCache", Spy)
    generate(model, PROMPTS, SamplingConfig(max_new_tokens=4), n_samples=2, seed=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s = generate(model, PROMPTS, SamplingConfig(max_new_tokens=4), n_samples=2, seed=0)
    assert seen == [(torch.float32, torch.float32), (torch.bfloat16, torch.bfloat16)]
    assert s.mask.all() and torch.isfinite(s.logprobs).all()
