"""The transformer against an independent float64 Llama written out plainly here, plus the
padding / KV-cache / shared-prefix equivalences the sampler and GRPO rely on."""

import math

import pytest
import torch

from r1mini.engine.common import ConfigError
from r1mini.engine.model import KVCache, ModelConfig, SharedPromptCache, Transformer


def small_model(**kw) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=61, n_layer=2, n_head=4, n_kv_head=2, n_embd=32, max_seq_len=64, **kw)
    m = Transformer(cfg)
    with torch.no_grad():  # larger weights than the init, so that every part matters in the comparisons
        for p in m.parameters():
            p.normal_(0, 0.3) if p.dim() > 1 else p.uniform_(0.5, 1.5)
    return m.eval()


def llama_reference(m: Transformer, ids: list[int]) -> torch.Tensor:
    """Standard Llama math in float64, one position and one head at a time; RoPE via complex numbers
    (pair i of a head is (x[i], x[i + hd/2]) rotated by angle pos * theta^(-2i/hd))."""
    c = m.cfg
    sd = {k: v.double() for k, v in m.state_dict().items()}
    hd, rep = c.head_dim, c.n_head // c.n_kv_head

    def rms(x, w):
        return x / torch.sqrt((x * x).mean() + c.norm_eps) * w

    def rope(x, pos):
        half = hd // 2
        out = x.clone()
        for i in range(half):
            ang = pos * c.rope_theta ** (-2 * i / hd)
            z = complex(x[i], x[i + half]) * complex(math.cos(ang), math.sin(ang))
            out[i], out[i + half] = z.real, z.imag
        return out

    xs = [sd["embed_tokens.weight"][t] for t in ids]
    for L in range(c.n_layer):
        p = f"layers.{L}."
        normed = [rms(x, sd[p + "input_layernorm.weight"]) for x in xs]
        q = [sd[p + "self_attn.q_proj.weight"] @ x for x in normed]
        k = [sd[p + "self_attn.k_proj.weight"] @ x for x in normed]
        v = [sd[p + "self_attn.v_proj.weight"] @ x for x in normed]
        new = []
        for t in range(len(xs)):
            heads = []
            for h in range(c.n_head):
                kvh = h // rep
                qh = rope(q[t][h * hd : (h + 1) * hd], t)
                scores = [qh @ rope(k[s][kvh * hd : (kvh + 1) * hd], s) / math.sqrt(hd) for s in range(t + 1)]
                w = torch.softmax(torch.stack(scores), 0)
                heads.append(sum(w[s] * v[s][kvh * hd : (kvh + 1) * hd] for s in range(t + 1)))
            new.append(xs[t] + sd[p + "self_attn.o_proj.weight"] @ torch.cat(heads))
        xs = new
        for t in range(len(xs)):
            y = rms(xs[t], sd[p + "post_attention_layernorm.weight"])
            g, u = sd[p + "mlp.gate_proj.weight"] @ y, sd[p + "mlp.up_proj.weight"] @ y
            xs[t] = xs[t] + sd[p + "mlp.down_proj.weight"] @ (g * torch.sigmoid(g) * u)
    head = sd["lm_head.weight"]
    return torch.stack([head @ rms(x, sd["norm.weight"]) for x in xs])


@pytest.mark.parametrize("tie", [True, False])
def test_matches_float64_llama_reference(tie):
    m = small_model(tie_embeddings=tie)
    ids = [3, 17, 5, 60, 0, 42, 9]
    ref = llama_reference(m, ids)
    got = m(torch.tensor([ids])).double()[0]
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4), (got - ref).abs().max()
    assert (m.lm_head.weight is m.embed_tokens.weight) == tie


def test_left_padded_batch_equals_each_prompt_alone():
    m = small_model()
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16]]
    P = max(map(len, prompts))
    ids = torch.tensor([[0] * (P - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in prompts])
    batched = m(ids, mask)
    for i, p in enumerate(prompts):
        alone = m(torch.tensor([p]))[0]
        assert torch.allclose(batched[i, P - len(p) :], alone, atol=1e-5)
    assert torch.isfinite(batched).all()  # padded queries are finite too (they see themselves)


def test_kv_cache_incremental_equals_full_forward():
    m = small_model()
    ids = torch.tensor([[0, 0, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1] * 8])
    full = m(ids, mask)
    cache = KVCache(m.cfg, 2, 16, "cpu")
    parts = [m(ids[:, :4], mask[:, :4], cache=cache)]
    for t in range(4, 8):
        parts.append(m(ids[:, t : t + 1], mask[:, t : t + 1], cache=cache))
    inc = torch.cat(parts, 1)
    real = mask.bool()
    assert torch.allclose(inc[real], full[real], atol=1e-5)
    assert cache.n_valid.tolist() == [6, 8] and cache.length == 8


def test_shared_prompt_cache_equals_each_sequence_run_alone():
    """G = 3 different continuations per left-padded prompt, decoded one token at a time through the
    shared-prompt cache (rows dropped half way), against each prompt + continuation run alone."""
    m = small_model()
    prompts = [[4, 5, 6, 7, 8], [9, 10]]
    G, T = 3, 6
    ids = torch.tensor([prompts[0], [0, 0, 0] + prompts[1]])
    mask = torch.tensor([[1] * 5, [0, 0, 0, 1, 1]])
    cont = torch.randint(1, 61, (2 * G, T), generator=torch.Generator().manual_seed(0))
    prompt = KVCache(m.cfg, 2, 5, "cpu")
    m(ids, mask, cache=prompt)
    cache = SharedPromptCache(prompt, G, T)
    live = torch.arange(2 * G)
    for t in range(T):
        if t == 3:  # rows 1 and 4 finish: the cache keeps the others
            keep = torch.tensor([0, 2, 3, 5])
            live, _ = live[keep], cache.select(keep)
        logits = m(cont[live, t : t + 1], cache=cache)[:, 0]  # [n, V]
        for r, row in enumerate(live.tolist()):
            alone = m(torch.tensor([prompts[row // G] + cont[row, : t + 1].tolist()]))[0, -1]
            assert torch.allclose(logits[r], alone, atol=1e-5), (t, row)
    assert cache.length == T


def test_prefix_cache_matches_full_sequence_values_and_gradients():
    """Running the prompt once and sharing its keys/values with G completions is exact, gradients too."""
    m = small_model()
    G = 3
    prompts = torch.tensor([[0, 7, 8, 9], [1, 2, 3, 4]])
    pmask = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])
    comp = torch.randint(1, 61, (2 * G, 5), generator=torch.Generator().manual_seed(3))
    cmask = torch.ones_like(comp)
    cmask[1, 3:] = 0  # ragged completions
    w = torch.randn(2 * G, 5, generator=torch.Generator().manual_seed(4))

    m.zero_grad()
    full_ids = torch.cat([prompts.repeat_interleave(G, 0), comp], 1)
    full_mask = torch.cat([pmask.repeat_interleave(G, 0), cmask], 1)
    h_full = m(full_ids, full_mask, return_hidden=True)[:, 3:-1]  # states that predict the completion
    (h_full.sum(-1) * w * cmask).sum().backward()
    g_full = {n: p.grad.clone() for n, p in m.named_parameters()}

    m.zero_grad()
    cache, h_last = m.prefix_cache(prompts, pmask, G)
    h_comp = m(comp, cmask, cache=cache, return_hidden=True)
    h_pre = torch.cat([h_last[:, None], h_comp[:, :-1]], 1)
    (h_pre.sum(-1) * w * cmask).sum().backward()

    assert torch.allclose(h_pre, h_full, atol=1e-5)
    for n, p in m.named_parameters():
        assert torch.allclose(p.grad, g_full[n], atol=1e-4, rtol=1e-4), n


def test_presets_and_bad_configs():
    n = Transformer(ModelConfig.preset("tiny")).num_params()
    assert 0.5e6 < n < 2e6
    n_gpu = sum(p.numel() for p in Transformer(ModelConfig.preset("gpu")).parameters())
    assert 15e6 < n_gpu < 40e6  # ~24M (sized for <= 30 min of train_zero.py on one H100)
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(n_embd=30, n_head=4).validate()
    with pytest.raises(ConfigError, match="unknown model preset"):
        ModelConfig.preset("huge")
