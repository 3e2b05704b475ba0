"""Plumbing, not a paper section: export an r1mini checkpoint as a Hugging Face `LlamaForCausalLM` folder.

The paper open-sources its models, the distilled ones among them Llama checkpoints (abstract, section 1);
this does the same for ours, so that any tool that reads Llama weights (transformers, vLLM, llama.cpp
converters) can run them.
The folder holds two plain files, written without importing transformers (it is not a dependency):

    config.json        LlamaForCausalLM's fields: sizes, rms_norm_eps, rope_theta, tie_word_embeddings, ...
    pytorch_model.bin  torch.save of {HF parameter name: tensor}, every tensor its own contiguous copy

The mapping is one-to-one because r1mini/engine/model.py names its modules as transformers does: our
`layers.3.self_attn.q_proj.weight` is HF's `model.layers.3.self_attn.q_proj.weight` (only `lm_head.weight`
has no `model.` prefix). No weight is permuted: our rotary embedding already uses HF's rotate-half
convention (pair i of a head is (x[i], x[i + head_dim/2])), not Meta's interleaved one, so q_proj and
k_proj are copied as they are. Grouped-query attention maps too: query head h reads kv head
h // (n_head / n_kv_head) in both. The tokenizer stays r1mini's (r1mini/engine/tokenizer.py): encode with it
and feed the ids; its <|endoftext|> is written as bos/eos and <|pad|> as pad.

Run it:
    python -m r1mini.tools.export runs/zero/model.pt exported/           # write the folder
    python -m r1mini.tools.export runs/zero/model.pt exported/ --check   # ...and compare logits with transformers
                                                                   #    (only where transformers is installed)

    >>> from r1mini.engine.model import ModelConfig
    >>> c = hf_config(ModelConfig.preset("small"))
    >>> c["architectures"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    (['LlamaForCausalLM'], 6, 2, 32)
    >>> hf_name("layers.0.mlp.gate_proj.weight"), hf_name("lm_head.weight")
    ('model.layers.0.mlp.gate_proj.weight', 'lm_head.weight')
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from r1mini.engine.common import ConfigError, atomic_save, cli_main, write_json
from r1mini.engine.model import ModelConfig, Transformer, load_model

CONFIG_FILE, WEIGHTS_FILE = "config.json", "pytorch_model.bin"


def special_token_ids(vocab_size: int) -> dict[str, int]:
    """bos/eos = <|endoftext|> (documents are joined by it, as in GPT-2) and pad = <|pad|>, taken from
    r1mini.engine.tokenizer; {} if it cannot be loaded or its ids do not fit this model's vocabulary."""
    try:
        from r1mini.engine.tokenizer import get_tokenizer

        tok = get_tokenizer()
    except Exception:  # the tokenizer is optional here: the weights do not need it
        return {}
    if tok.vocab_size > vocab_size:
        return {}
    return {"bos_token_id": tok.eot_id, "eos_token_id": tok.eot_id, "pad_token_id": tok.pad_id}


def hf_config(cfg: ModelConfig, dtype: torch.dtype = torch.float32) -> dict:
    """The config.json of a LlamaForCausalLM with the same shape and math as r1mini's Transformer(cfg)."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.n_embd,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_kv_head,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "tie_word_embeddings": cfg.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "torch_dtype": str(dtype).removeprefix("torch."),
        **special_token_ids(cfg.vocab_size),
    }


def hf_name(name: str) -> str:
    """r1mini state-dict name -> transformers' LlamaForCausalLM name."""
    return name if name == "lm_head.weight" else "model." + name


def hf_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    """{HF name: tensor}, each a contiguous clone: tied embeddings become two separate tensors, so the
    file loads with torch.load(weights_only=True) and nothing shares storage."""
    return {
        hf_name(k): v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in model.state_dict().items()
    }


def export(ckpt_path: str | Path, outdir: str | Path) -> tuple[Transformer, Path]:
    """Write config.json and pytorch_model.bin for the checkpoint into outdir. Returns (model, outdir)."""
    model, _ = load_model(ckpt_path)  # ConfigError for a missing or foreign file
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"output {str(outdir)!r} exists and is not a folder")
    state = hf_state_dict(model)
    write_json(hf_config(model.cfg, next(iter(state.values())).dtype), outdir / CONFIG_FILE)
    atomic_save(state, outdir / WEIGHTS_FILE)
    return model, outdir


@torch.no_grad()
def max_logit_diff(model: Transformer, hf_model, n_seqs: int = 4, seq_len: int = 64, seed: int = 0) -> float:
    """Largest |r1mini logit - transformers logit| over a few random sequences [n_seqs, seq_len]."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(model.cfg.vocab_size, (n_seqs, min(seq_len, model.cfg.max_seq_len)), generator=g)
    return (model.eval()(ids) - hf_model.eval()(ids).logits).abs().max().item()


def main() -> None:
    p = argparse.ArgumentParser(description="Export an r1mini checkpoint as a transformers LlamaForCausalLM folder.")
    p.add_argument("ckpt", help="an r1mini checkpoint (e.g. runs/zero/model.pt)")
    p.add_argument("outdir", help="folder to write config.json and pytorch_model.bin into")
    p.add_argument("--check", action="store_true", help="if transformers is installed, compare logits with it")
    p.add_argument("--tol", type=float, default=1e-3, help="--check fails above this max abs logit difference")
    args = p.parse_args()
    model, outdir = export(args.ckpt, args.outdir)
    print(f"wrote {outdir / CONFIG_FILE} and {outdir / WEIGHTS_FILE} ({model.num_params() / 1e6:.2f}M parameters)")
    if not args.check:
        return
    try:
        from transformers import LlamaForCausalLM  # optional: only this check uses it
    except ImportError:
        print("--check skipped: transformers is not installed (pip install transformers to run it)", file=sys.stderr)
        sys.exit(1)
    hf_model = LlamaForCausalLM.from_pretrained(outdir).float()
    diff = max_logit_diff(model, hf_model)
    print(f"max abs logit difference r1mini vs transformers: {diff:.3g} ({'ok' if diff <= args.tol else 'FAIL'})")
    sys.exit(0 if diff <= args.tol else 1)


if __name__ == "__main__":
    cli_main(main)
