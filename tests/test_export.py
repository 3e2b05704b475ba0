"""The exported folder is self-sufficient: names and shapes follow from config.json alone, and a float64
Llama written here from config.json + the HF-named weights (never r1mini's code) gives r1mini's logits."""

import json
import math
import subprocess
import sys

import pytest
import torch

from r1mini.engine.common import atomic_save
from r1mini.engine.model import ModelConfig, Transformer, model_state

VARIANTS = {  # (n_head, n_kv_head, tied): GQA with 1 and with 2 kv heads, tied and untied embeddings
    "gqa1-tied": (2, 1, True),
    "gqa2-untied": (4, 2, False),
}


def make_checkpoint(path, n_head: int, n_kv_head: int, tied: bool) -> Transformer:
    torch.manual_seed(0)
    m = Transformer(ModelConfig.preset("nano", n_head=n_head, n_kv_head=n_kv_head, tie_embeddings=tied))
    with torch.no_grad():  # larger than the init, and norm weights != 1, so that every tensor matters
        for name, p in m.named_parameters():
            p.normal_(0, 0.2) if p.dim() > 1 else p.uniform_(0.5, 1.5)
    atomic_save(model_state(m), path)
    return m.eval()


def run_export(ckpt, out, *flags):
    return subprocess.run(
        [sys.executable, "-m", "r1mini.tools.export", str(ckpt), str(out), *flags], capture_output=True, text=True
    )


@pytest.fixture(scope="module", params=list(VARIANTS))
def exported(request, tmp_path_factory):
    """(r1mini model, config.json as a dict, the HF state dict) for one variant, exported via the CLI."""
    d = tmp_path_factory.mktemp(request.param)
    model = make_checkpoint(d / "model.pt", *VARIANTS[request.param])
    r = run_export(d / "model.pt", d / "hf")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((d / "hf" / "config.json").read_text())
    state = torch.load(d / "hf" / "pytorch_model.bin", weights_only=True)
    return model, cfg, state


def expected_shapes(c: dict) -> dict[str, tuple[int, ...]]:
    """Every LlamaForCausalLM parameter and its shape, from config.json fields only."""
    H, Dh, V, I = c["hidden_size"], c["head_dim"], c["vocab_size"], c["intermediate_size"]
    q, kv = c["num_attention_heads"] * Dh, c["num_key_value_heads"] * Dh
    shapes = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,), "lm_head.weight": (V, H)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (q, H),
            p + "self_attn.k_proj.weight": (kv, H),
            p + "self_attn.v_proj.weight": (kv, H),
            p + "self_attn.o_proj.weight": (H, q),
            p + "mlp.gate_proj.weight": (I, H),
            p + "mlp.up_proj.weight": (I, H),
            p + "mlp.down_proj.weight": (H, I),
            p + "input_layernorm.weight": (H,),
            p + "post_attention_layernorm.weight": (H,),
        }
    return shapes


def test_config_fields(exported):
    model, c, _ = exported
    mc = model.cfg
    assert c["architectures"] == ["LlamaForCausalLM"] and c["model_type"] == "llama"
    assert (c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]) == (mc.n_embd, mc.n_layer, mc.vocab_size)
    assert (c["num_attention_heads"], c["num_key_value_heads"]) == (mc.n_head, mc.n_kv_head)
    assert c["head_dim"] * c["num_attention_heads"] == c["hidden_size"]
    assert c["max_position_embeddings"] == mc.max_seq_len and c["tie_word_embeddings"] == mc.tie_embeddings
    assert c["hidden_act"] == "silu" and c["attention_bias"] is False and c["mlp_bias"] is False
    assert c["torch_dtype"] == "float32"
    assert 0 <= c["eos_token_id"] < c["vocab_size"] and 0 <= c["pad_token_id"] < c["vocab_size"]


def test_names_and_shapes_follow_from_config(exported):
    _, c, state = exported
    want = expected_shapes(c)
    assert set(state) == set(want)  # every expected name, nothing else
    for name, shape in want.items():
        assert tuple(state[name].shape) == shape, name
        assert state[name].dtype == torch.float32 and state[name].is_contiguous()
    ptrs = [t.untyped_storage().data_ptr() for t in state.values()]
    assert len(set(ptrs)) == len(ptrs)  # no shared storage, tied weights included
    if c["tie_word_embeddings"]:
        assert torch.equal(state["lm_head.weight"], state["model.embed_tokens.weight"])


def llama_from_files(c: dict, sd: dict, ids: list[int]) -> torch.Tensor:
    """Llama in float64 from config.json + HF names only: RMSNorm, RoPE as an explicit rotation of the
    pairs (x[j], x[j + hd/2]) by pos * theta^(-2j/hd), causal softmax attention with query head h
    reading kv head h // (n_heads / n_kv_heads), SwiGLU. Returns logits [T, V]."""
    w = {k: v.double() for k, v in sd.items()}
    H, hd, T = c["num_attention_heads"], c["head_dim"], len(ids)
    group = H // c["num_key_value_heads"]

    def rms(x, weight):
        return weight * x / torch.sqrt((x * x).mean(-1, keepdim=True) + c["rms_norm_eps"])

    def rope(x):  # x [T, hd]
        half = hd // 2
        out = x.clone()
        for t in range(T):
            for j in range(half):
                a = t * c["rope_theta"] ** (-2 * j / hd)
                x1, x2 = x[t, j], x[t, j + half]
                out[t, j], out[t, j + half] = x1 * math.cos(a) - x2 * math.sin(a), x2 * math.cos(a) + x1 * math.sin(a)
        return out

    x = w["model.embed_tokens.weight"][ids]  # [T, hidden]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms(x, w[p + "input_layernorm.weight"])
        q = (a @ w[p + "self_attn.q_proj.weight"].T).view(T, H, hd)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).view(T, -1, hd)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).view(T, -1, hd)
        heads = []
        for h in range(H):
            qh, kh, vh = rope(q[:, h]), rope(k[:, h // group]), v[:, h // group]
            scores = qh @ kh.T / math.sqrt(hd) + torch.full((T, T), -math.inf, dtype=torch.float64).triu(1)
            heads.append(torch.softmax(scores, -1) @ vh)
        x = x + torch.cat(heads, -1) @ w[p + "self_attn.o_proj.weight"].T
        m = rms(x, w[p + "post_attention_layernorm.weight"])
        gate, up = m @ w[p + "mlp.gate_proj.weight"].T, m @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return rms(x, w["model.norm.weight"]) @ head.T


def test_files_alone_reproduce_r1mini_logits(exported):
    model, c, state = exported
    ids = torch.randint(c["vocab_size"], (12,), generator=torch.Generator().manual_seed(1)).tolist()
    with torch.no_grad():
        ours = model(torch.tensor([ids]))[0].double()
    ref = llama_from_files(c, state, ids)
    assert ours.abs().max() > 1.0  # logits far from uniform: a wrong weight would show
    assert torch.allclose(ours, ref, atol=1e-4, rtol=0)


def test_cli_errors_and_check(tmp_path):
    missing = run_export(tmp_path / "nope.pt", tmp_path / "out")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    junk = run_export(tmp_path / "junk.pt", tmp_path / "out")
    assert junk.returncode == 2 and "could not be read" in junk.stderr and "Traceback" not in junk.stderr
    assert not (tmp_path / "out").exists()

    make_checkpoint(tmp_path / "model.pt", 2, 1, True)
    r = run_export(tmp_path / "model.pt", tmp_path / "out", "--check")
    assert (tmp_path / "out" / "pytorch_model.bin").is_file()  # written before the check runs
    try:
        import transformers  # noqa: F401  (the check's two outcomes: with and without transformers)

        assert r.returncode == 0 and "max abs logit difference" in r.stdout, r.stdout + r.stderr
    except ImportError:
        assert r.returncode == 1 and "transformers is not installed" in r.stderr and "Traceback" not in r.stderr
