"""The policy model: one small Llama-style decoder-only transformer (our stand-in for DeepSeek-V3-Base).

Not a section of the R1 paper itself: R1 and R1-Zero start from a pretrained base model, and this is ours.
The math is exactly the standard Llama architecture, so weights map one-to-one onto
`transformers.LlamaForCausalLM` (see r1mini/tools/export.py):

    x -> embed -> [ x + attn(rmsnorm(x)) ; x + swiglu(rmsnorm(x)) ] * n_layer -> rmsnorm -> lm_head

- RMSNorm (computed in float32), rotary position embeddings in the rotate-half convention,
  SwiGLU MLP, no biases anywhere, optional grouped-query attention (n_kv_head < n_head),
  optional tied input/output embeddings, F.scaled_dot_product_attention.
- forward() takes token ids plus a padding mask and an optional KV cache. Positions are computed per
  row from the mask, so a left-padded batch of prompts of different lengths gives each row the same
  logits as that prompt alone (tests/test_model.py checks it).

    >>> from r1mini.engine.model import ModelConfig, Transformer
    >>> m = Transformer(ModelConfig.preset("tiny"))
    >>> m(torch.tensor([[1, 2, 3]])).shape            # logits [B, T, V]
    torch.Size([1, 3, 1024])

Run `python -m r1mini.engine.model --preset tiny` to print a preset's shape and parameter count.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from r1mini.engine.common import ConfigError, cli_main, load_checkpoint

# ----------------------------------------------------------------------------- config


@dataclass
class ModelConfig:
    vocab_size: int = 1024
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int = 4  # < n_head: grouped-query attention
    n_embd: int = 128
    intermediate_size: int = 0  # 0: derived, ~8/3 * n_embd rounded up to a multiple of 32
    max_seq_len: int = 512
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True

    def __post_init__(self):
        if self.intermediate_size == 0:
            self.intermediate_size = 32 * math.ceil(8 * self.n_embd / 3 / 32)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def validate(self) -> None:
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if self.n_head % self.n_kv_head:
            raise ConfigError(f"n_head={self.n_head} must be a multiple of n_kv_head={self.n_kv_head}")
        if self.head_dim % 2:
            raise ConfigError(f"head_dim={self.head_dim} must be even for rotary embeddings")
        for name in ("vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model {name} must be positive, got {getattr(self, name)}")

    @staticmethod
    def preset(name: str, **overrides) -> "ModelConfig":
        if name not in MODEL_PRESETS:
            raise ConfigError(f"unknown model preset {name!r}; choose one of: {', '.join(MODEL_PRESETS)}")
        cfg = dataclasses.replace(MODEL_PRESETS[name], **overrides)
        cfg.validate()
        return cfg


MODEL_PRESETS = {
    "nano": ModelConfig(n_layer=2, n_head=2, n_kv_head=1, n_embd=32, max_seq_len=256),  # tests: ~0.05M
    "micro": ModelConfig(n_layer=2, n_head=2, n_kv_head=2, n_embd=64),  # ~0.17M: distill.py's smaller student
    "mini": ModelConfig(n_layer=3, n_head=4, n_kv_head=4, n_embd=96),  # ~0.43M: distill.py's larger student
    "tiny": ModelConfig(n_layer=4, n_head=4, n_kv_head=4, n_embd=128),  # ~0.9M, the CPU default (and the teacher)
    "small": ModelConfig(n_layer=6, n_head=6, n_kv_head=2, n_embd=192),  # ~2.6M
    "medium": ModelConfig(n_layer=8, n_head=8, n_kv_head=4, n_embd=384, max_seq_len=1024),  # ~13M
    # ~24M, the GPU base: 8 layers (a decode step's host time grows with the layers, not the width: docs/gpu.md)
    "gpu": ModelConfig(n_layer=8, n_head=8, n_kv_head=4, n_embd=512, max_seq_len=1024),
}

# ----------------------------------------------------------------------------- building blocks


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_tables(cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [max_seq_len, head_dim] for the rotate-half convention."""
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
    freqs = torch.outer(torch.arange(cfg.max_seq_len, dtype=torch.float32), inv_freq)  # [T, hd/2]
    emb = torch.cat([freqs, freqs], dim=-1)  # [T, hd]
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, T, hd]; cos, sin [B, T, hd] (per-row positions)."""
    cos, sin = cos[:, None].to(x.dtype), sin[:, None].to(x.dtype)
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, cfg.n_head * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.n_embd, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.n_embd, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_head * cfg.head_dim, cfg.n_embd, bias=False)

    def forward(self, x, cos, sin, attn_mask, cache=None, layer: int = 0):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # [B, Hkv, T, hd]
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if isinstance(cache, SharedPromptCache):  # sampling G outputs per prompt: the prompt's keys are read once
            return self.o_proj(cache.attend(layer, q, k, v).transpose(1, 2).reshape(B, T, -1))
        if cache is not None:
            k, v = cache.update(layer, k, v)  # all keys so far: [B, Hkv, S, hd]
        if self.n_kv_head != self.n_head:  # grouped-query attention: share each kv head
            rep = self.n_head // self.n_kv_head
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if attn_mask is None:  # no padding, no cache (pretraining): the fused causal kernel
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [B, H, T, hd]
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, H, T, hd]
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.n_embd, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.n_embd, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.n_embd, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # SwiGLU


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, attn_mask, cache=None, layer: int = 0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, attn_mask, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


# ----------------------------------------------------------------------------- KV caches


class KVCache:
    """A preallocated key/value cache for sampling: keys [n_layer, B, Hkv, S_max, hd].

    `mask[b, s]` says whether slot s of row b holds a real token (left padding does not);
    `n_valid[b]` counts them, which is the position the next token of row b gets.
    """

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, device, dtype=torch.float32):
        shape = (cfg.n_layer, batch, cfg.n_kv_head, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.mask = torch.zeros(batch, max_len, dtype=torch.bool, device=device)
        self.n_valid = torch.zeros(batch, dtype=torch.long, device=device)
        self.length = 0  # slots filled so far (the same for every row)

    @property
    def max_len(self) -> int:
        return self.k.shape[3]

    def past(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(key mask [B, length], per-row count of real tokens [B]) before this forward."""
        return self.mask[:, : self.length], self.n_valid

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        t0, T = self.length, k.shape[2]
        self.k[layer, :, :, t0 : t0 + T] = k
        self.v[layer, :, :, t0 : t0 + T] = v
        return self.k[layer, :, :, : t0 + T], self.v[layer, :, :, : t0 + T]

    def advance(self, mask: torch.Tensor) -> None:
        """Called once per forward after all layers: record the new tokens' padding mask [B, T]."""
        T = mask.shape[1]
        if self.length + T > self.max_len:
            raise ValueError(f"KV cache full: {self.length} + {T} > {self.max_len}")
        self.mask[:, self.length : self.length + T] = mask
        self.n_valid += mask.sum(1)
        self.length += T

    def select(self, rows: torch.Tensor) -> "KVCache":
        """Keep (or repeat) rows in place: `rows` indexes the batch. Used to copy one prompt's cache to
        G samples (rows = [0,0,..,1,1,..]) and to drop finished rows so they stop costing compute."""
        self.k, self.v = self.k[:, rows], self.v[:, rows]
        self.mask, self.n_valid = self.mask[rows], self.n_valid[rows]
        return self


class SharedPromptCache:
    """The sampler's decode cache when every prompt has G outputs: each prompt's keys/values are kept ONCE
    (prompt part [n_layer, B, Hkv, P, hd]) and only the generated tokens are cached per output row
    (suffix part [n_layer, n, Hkv, T_max, hd]). Decoding is bound by reading the cache, and the prompt
    (the Table 1 template, ~90 tokens) is most of it: reading it once per question instead of G times
    cuts the prompt's share of that traffic by G (the "shared prefix" trick of cascade/Hydragen attention;
    docs/engine.md measures it against copying the prompt's cache to every row).

    A row's attention is one softmax over [its prompt's keys | its own generated keys]; the prompt
    part is computed per question for its G rows at once. `slot[r]` = b * G + g places running row r
    in the full B x G grid (rows leave when they finish: `select`).
    """

    def __init__(self, prompt: KVCache, G: int, max_new: int):
        P = prompt.length
        self.pk, self.pv = prompt.k[:, :, :, :P], prompt.v[:, :, :, :P]  # [L, B, Hkv, P, hd]
        self.pmask, self.pvalid = prompt.mask[:, :P], prompt.n_valid  # [B, P], [B]
        L, B, Hkv, _, hd = self.pk.shape
        self.G = G
        self.slot = torch.arange(B * G, device=self.pk.device)  # [n]
        self.sk = self.pk.new_zeros(L, B * G, Hkv, max_new, hd)
        self.sv = torch.zeros_like(self.sk)
        self.length = 0  # generated tokens cached so far (the same for every row)

    def past(self):
        """(None: attend() applies the prompt mask itself, per-row count of real tokens before this step [n])."""
        return None, self.pvalid[self.slot // self.G] + self.length

    def advance(self, mask: torch.Tensor) -> None:
        if self.length + mask.shape[1] > self.sk.shape[3]:
            raise ValueError(f"KV cache full: {self.length} + {mask.shape[1]} > {self.sk.shape[3]}")
        self.length += mask.shape[1]

    def select(self, rows: torch.Tensor) -> "SharedPromptCache":
        """Keep only these running rows (finished rows stop costing compute)."""
        self.slot, self.sk, self.sv = self.slot[rows], self.sk[:, rows], self.sv[:, rows]
        return self

    def _grid(self, x: torch.Tensor) -> torch.Tensor:
        """Rows [n, Hkv, rep, X] -> [B, Hkv, G * rep, X] (zeros for finished rows): a question's rows side by side."""
        B, (n, Hkv, rep, X) = self.pk.shape[1], x.shape
        full = x.new_zeros(B * self.G, Hkv, rep, X)
        full[self.slot] = x
        return full.view(B, self.G, Hkv, rep, X).transpose(1, 2).reshape(B, Hkv, self.G * rep, X)

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of _grid: [B, Hkv, G * rep, X] -> [n, Hkv, rep, X]."""
        B, Hkv, _, X = x.shape
        return x.view(B, Hkv, self.G, -1, X).transpose(1, 2).reshape(B * self.G, Hkv, -1, X)[self.slot]

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """One decode step: q [n, H, 1, hd], new k/v [n, Hkv, 1, hd] -> attention output [n, H, 1, hd]."""
        n, H, _, hd = q.shape
        Hkv, t = k.shape[1], self.length
        self.sk[layer, :, :, t], self.sv[layer, :, :, t] = k[:, :, 0], v[:, :, 0]
        ks, vs = self.sk[layer, :, :, : t + 1], self.sv[layer, :, :, : t + 1]  # [n, Hkv, t+1, hd]
        qg = q.view(n, Hkv, H // Hkv, hd) / math.sqrt(hd)  # query heads grouped by the kv head they share
        s_prompt = self._grid(qg) @ self.pk[layer].transpose(-1, -2)  # [B, Hkv, G*rep, P]: per question
        s_prompt = s_prompt.masked_fill(~self.pmask[:, None, None, :], float("-inf"))  # left padding
        s = torch.cat([self._rows(s_prompt), qg @ ks.transpose(-1, -2)], dim=-1)  # [n, Hkv, rep, P + t+1]
        p = torch.softmax(s.float(), dim=-1).to(q.dtype)
        P = s_prompt.shape[-1]
        y = self._rows(self._grid(p[..., :P]) @ self.pv[layer]) + p[..., P:] @ vs  # [n, Hkv, rep, hd]
        return y.reshape(n, H, 1, hd)


class PrefixCache:
    """A read-only shared prefix for training: the prompt's keys/values computed once per question
    (with gradients) and expanded to the G completions, so that the prompt is run once, not G times.

    Same `update/past/advance` interface as KVCache; new keys are concatenated, not stored.
    """

    def __init__(self, k: list[torch.Tensor], v: list[torch.Tensor], mask: torch.Tensor):
        self.k, self.v, self.mask = k, v, mask  # per layer [B, Hkv, P, hd]; mask [B, P]
        self.n_valid = mask.sum(1)
        self.length = mask.shape[1]

    def past(self):
        return self.mask, self.n_valid

    def update(self, layer, k, v):
        return torch.cat([self.k[layer], k], dim=2), torch.cat([self.v[layer], v], dim=2)

    def advance(self, mask):
        pass


class _Recorder:
    """Cache stand-in that records each layer's keys/values (to build a PrefixCache)."""

    def __init__(self, batch: int, device):
        self.k, self.v = [], []
        self.length, self.mask = 0, torch.zeros(batch, 0, dtype=torch.bool, device=device)
        self.n_valid = torch.zeros(batch, dtype=torch.long, device=device)

    def past(self):
        return self.mask, self.n_valid

    def update(self, layer, k, v):
        self.k.append(k)
        self.v.append(v)
        return k, v

    def advance(self, mask):
        pass


# ----------------------------------------------------------------------------- the model


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2 style: scale the residual projections
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, mask=None, cache=None, return_hidden: bool = False):
        """idx [B, T] token ids; mask [B, T] (1 = real token, 0 = padding; default all real).

        With a cache, idx holds only the new tokens and their keys/values are appended to it.
        Returns logits [B, T, V], or the final normed hidden states [B, T, D] if return_hidden.
        """
        B, T = idx.shape
        plain = mask is None and cache is None  # every token real, nothing cached: plain causal attention
        mask = torch.ones_like(idx, dtype=torch.bool) if mask is None else mask.bool()
        if cache is not None:
            past_mask, past_valid = cache.past()  # [B, S_past], [B]
        else:
            past_mask, past_valid = mask.new_zeros(B, 0), idx.new_zeros(B)
        # per-row positions: count only real tokens, so left padding does not shift them
        pos = (past_valid[:, None] + mask.cumsum(1) - 1).clamp(min=0)  # [B, T]
        # a position is < the slots before + T: that bound is on the host; the exact check (a device sync) runs
        # only when the bound could overflow (never while the sampler decodes: it checks the lengths first)
        slots = cache.pmask.shape[1] + cache.length if isinstance(cache, SharedPromptCache) else past_mask.shape[1]
        if slots + T > self.cfg.max_seq_len and int(pos.max()) >= self.cfg.max_seq_len:
            raise ValueError(f"position {int(pos.max())} exceeds max_seq_len={self.cfg.max_seq_len}")
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]  # [B, T, hd]
        attn_mask = None if plain or isinstance(cache, SharedPromptCache) else self._attn_mask(past_mask, mask)
        x = self.embed_tokens(idx)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, attn_mask, cache, i)
        if cache is not None:
            cache.advance(mask)
        x = self.norm(x)
        return x if return_hidden else self.lm_head(x)

    @staticmethod
    def _attn_mask(past_mask, mask):
        """[B, 1, T, S+T] bool: real keys, causal; a query always sees itself (so no row is all False)."""
        S, T = past_mask.shape[1], mask.shape[1]
        keys = torch.cat([past_mask, mask], dim=1)  # [B, S+T]
        causal = torch.ones(T, S + T, dtype=torch.bool, device=mask.device).tril(diagonal=S)
        diag = torch.zeros_like(causal)
        diag[:, S:] = torch.eye(T, dtype=torch.bool, device=mask.device)
        return ((keys[:, None, :] & causal) | diag)[:, None]

    def prefix_cache(self, idx, mask, repeats: int) -> tuple[PrefixCache, torch.Tensor]:
        """Run left-padded prompts idx [B, P] once (with gradients) and expand each one's keys/values
        to `repeats` rows (row b*repeats + g). Returns the PrefixCache and the final hidden state of
        each prompt's last token [B*repeats, D], which predicts the first completion token."""
        rec = _Recorder(idx.shape[0], idx.device)
        h = self.forward(idx, mask, cache=rec, return_hidden=True)  # [B, P, D]
        rows = torch.arange(idx.shape[0], device=idx.device).repeat_interleave(repeats)
        cache = PrefixCache([k[rows] for k in rec.k], [v[rows] for v in rec.v], mask.bool()[rows])
        return cache, h[rows, -1]


def model_state(model: Transformer) -> dict:
    """What a checkpoint stores for the model: {"model": state_dict, "model_config": fields}."""
    return {"model": model.state_dict(), "model_config": dataclasses.asdict(model.cfg)}


def load_model(path, device="cpu") -> tuple[Transformer, dict]:
    """(model, the whole checkpoint dict) from an r1mini checkpoint file; clear errors if it is not one."""
    ckpt = load_checkpoint(path)
    try:
        model = Transformer(ModelConfig(**ckpt["model_config"]))
        model.load_state_dict(ckpt["model"])
    except (TypeError, RuntimeError) as e:
        raise ConfigError(f"checkpoint {str(path)!r} does not match the model code: {e}") from None
    return model.to(device), ckpt


def main() -> None:
    p = argparse.ArgumentParser(description="Print a model preset's shape and parameter count.")
    p.add_argument("--preset", default="tiny", choices=list(MODEL_PRESETS), help="model preset to describe")
    args = p.parse_args()
    cfg = ModelConfig.preset(args.preset)
    m = Transformer(cfg)
    print(cfg)
    print(f"parameters: {m.num_params():,} ({m.num_params() / 1e6:.2f}M)")


if __name__ == "__main__":
    cli_main(main)
