"""Sections 2.3.1, 2.3.3 and 2.4: supervised fine-tuning on curated (prompt, response) pairs; the loss
counts only the response tokens.

DeepSeek-R1 fine-tunes DeepSeek-V3-Base three times on curated data: on the few thousand cold-start long
CoTs (2.3.1), on the ~800k rejection-sampled + non-reasoning samples for two epochs (2.3.3), and the
distilled students on those same 800k (2.4). All three are the same operation, this file: next-token
cross-entropy on `prompt + response + <|endoftext|>`, where only the response and the closing end-of-text
token are targets (the prompt is given, not learned). The data lives in JSONL, one Example per line:

    {"prompt": "User: What is 47 + 38?\\nAssistant:", "response": " |special_token|...|special_token|...",
     "source": "generator", "language": "en"}

The shift, exactly. A sequence is ids = prompt ids + response ids + [eot], and loss_mask[t] says whether
TOKEN ids[t] is a target. The logits at position t predict ids[t + 1], so sft_loss compares
logits[:, :-1] with ids[:, 1:] and counts position t when loss_mask[:, 1:][t] (= loss_mask[t + 1]):

    prompt "Q: 2+3?\\nA:", response " 5":
    t          0    1    2    3    4    5      6    7    8     9
    ids[t]     Q    :    ␣2   +    3    ?\\n    A    :    ␣5    <eot>
    loss_mask  0    0    0    0    0    0      0    0    1     1
    counted:   the predictions made at t = 7 (of " 5") and t = 8 (of <eot>); none from the prompt

Examples longer than max_len (prompt + response + eot) are SKIPPED, not truncated: a right-truncated
response would teach the model to stop before its answer block. train_sft counts them ("skipped").

    python -m pytest tests/test_sft.py          # the masking, the loss vs a float64 write-out, training

    >>> ex = Example("User: What is 2 + 3?\\nAssistant:", " 5", "demo", "en")
    >>> ids, loss_mask = encode_example(get_tokenizer(), ex, max_len=64)
    >>> loss_mask.tolist()[-3:]                     # ..., ":" (prompt), " 5" (response), <eot>
    [False, True, True]
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from tqdm import tqdm

from r1mini.engine.common import ConfigError, atomic_write_bytes, autocast, check_precision
from r1mini.template import Example
from r1mini.toy.pretrain import lr_at, make_optimizer
from r1mini.toy.tasks import LANGS as LANGUAGES
from r1mini.engine.tokenizer import get_tokenizer  # noqa: F401 (the docstring's example)

KEYS = ("prompt", "response", "source", "language")


@dataclass
class SFTConfig:
    epochs: int = 2  # passes over the examples (2.3.3 fine-tunes for two epochs)
    batch_size: int = 32  # examples per optimizer step
    lr: float = 1e-3  # peak learning rate (AdamW)
    min_lr_ratio: float = 0.1  # the cosine decays to min_lr_ratio * lr at the last step
    warmup: int = 20  # steps of linear warmup (capped at the number of steps)
    weight_decay: float = 0.1  # AdamW weight decay on matrices (not on norms)
    grad_clip: float = 1.0  # clip the global gradient norm to this
    max_len: int = 320  # longest sequence (prompt + response + eot) in tokens; longer examples are skipped
    precision: str = "auto"  # autocast: "auto" (bf16 on a GPU, fp32 on a CPU), "bf16", "fp32"; see common.autocast
    seed: int = 0  # shuffling of the examples

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "max_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sft {name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr < 1:
            raise ConfigError(f"sft lr must be in (0, 1), got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"sft min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.warmup < 0 or self.weight_decay < 0 or self.grad_clip <= 0:
            raise ConfigError("sft warmup and weight_decay must be >= 0 and grad_clip > 0")
        check_precision(self.precision)


SFT_PRESETS = {
    "smoke": SFTConfig(epochs=1, batch_size=8, lr=1e-3, warmup=2, max_len=256),
    # the cpu base (~0.94M parameters) on a few thousand examples: ~200 steps, ~30-60 s on 2 cores
    "cpu": SFTConfig(epochs=2, batch_size=32, lr=1e-3, warmup=20, max_len=320),
    "gpu": SFTConfig(epochs=2, batch_size=64, lr=3e-4, warmup=50, max_len=1024),
}


# ----------------------------------------------------------------------------- JSONL


def read_jsonl(path: str | Path) -> list[Example]:
    """The examples of a JSONL file (one {"prompt", "response", "source", "language"} object per line;
    empty lines skipped, other keys ignored). A ConfigError names the file and the line of the first problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"SFT data file {str(path)!r} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise ConfigError(
                f"{path}:{n}: expected a JSON object with keys {', '.join(KEYS)}, got {type(obj).__name__}"
            )
        for key in KEYS:
            if key not in obj:
                raise ConfigError(f"{path}:{n}: missing key {key!r} (each line needs {', '.join(KEYS)})")
            if not isinstance(obj[key], str):
                raise ConfigError(f"{path}:{n}: {key!r} must be a string, got {type(obj[key]).__name__}")
        if obj["language"] not in LANGUAGES:
            raise ConfigError(
                f"{path}:{n}: unknown language {obj['language']!r}; choose one of: {', '.join(LANGUAGES)}"
            )
        out.append(Example(**{k: obj[k] for k in KEYS}))
    return out


def write_jsonl(examples: list[Example], path: str | Path) -> None:
    """One JSON object per line (UTF-8, Chinese unescaped), written atomically."""
    lines = [json.dumps({k: getattr(ex, k) for k in KEYS}, ensure_ascii=False) + "\n" for ex in examples]
    atomic_write_bytes(path, "".join(lines).encode("utf-8"))


# ----------------------------------------------------------------------------- one example, one batch


def encode_example(tok, ex: Example, max_len: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(ids [L], loss_mask [L]) with ids = prompt ids + response ids + [eot] and loss_mask[t] True iff
    ids[t] is a response token or the final eot (a target; see the module docstring for the shift).
    Prompt and response are encoded apart, as at sampling time (the model continues the prompt's ids).
    None if L > max_len (the example is skipped, never truncated)."""
    p = tok.encode(ex.prompt, allow_special=True)
    r = tok.encode(ex.response, allow_special=True) + [tok.eot_id]
    if len(p) + len(r) > max_len:
        return None
    ids = torch.tensor(p + r, dtype=torch.long)  # [L]
    loss_mask = torch.tensor([False] * len(p) + [True] * len(r))  # [L]
    return ids, loss_mask


def right_pad(
    seqs: list[tuple[torch.Tensor, torch.Tensor]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[(ids, loss_mask), ...] -> ids [B, T], attn_mask [B, T] (True = real token), loss_mask [B, T]."""
    T = max(len(ids) for ids, _ in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    attn = torch.zeros(len(seqs), T, dtype=torch.bool)
    loss = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, (x, m) in enumerate(seqs):
        ids[i, : len(x)], attn[i, : len(x)], loss[i, : len(x)] = x, True, m
    return ids, attn, loss


def sft_loss(model, ids: torch.Tensor, attn_mask: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy -log pi_theta(ids[t+1] | ids[<=t]) over the target tokens (loss_mask, real) of a
    RIGHT-padded batch ids [B, T]. Right padding comes after every real token, so plain causal attention
    already keeps real tokens from seeing it: the model runs without a padding mask (the fused causal
    kernel), and the lm_head runs only on the positions whose next token is a target."""
    if (attn_mask[:, 1:] & ~attn_mask[:, :-1]).any():
        raise ValueError("sft_loss needs right padding: a real token follows a pad")
    target = (loss_mask & attn_mask)[:, 1:]  # [B, T-1]: is ids[:, t+1] a target?
    h = model(ids, return_hidden=True)[:, :-1]  # [B, T-1, D]: position t predicts ids[:, t+1]
    logits = model.lm_head(h[target])  # [N, V], N = number of targets
    return F.cross_entropy(logits.float(), ids[:, 1:][target])


# ----------------------------------------------------------------------------- training


def length_batches(lengths: list[int], batch_size: int, rng: random.Random, bucket: int = 16) -> list[list[int]]:
    """Shuffled batches of example indices with similar lengths (little padding): shuffle, sort each run of
    bucket * batch_size indices by length, cut it into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for s in range(0, len(order), bucket * batch_size):
        run = sorted(order[s : s + bucket * batch_size], key=lengths.__getitem__)
        batches += [run[i : i + batch_size] for i in range(0, len(run), batch_size)]
    rng.shuffle(batches)
    return batches


def train_sft(model, tok, examples: list[Example], cfg: SFTConfig, quiet: bool = False, desc: str = "SFT") -> dict:
    """Fine-tune `model` in place on the examples (AdamW, warmup + cosine, grad clip, autocast).

    Returns {"steps", "tokens" (real tokens run through the model, prompts included), "seconds",
    "tokens_per_s", "loss_first" (first step), "loss_last" (mean of the last max(1, steps // 10) steps),
    "losses" (every step's), "examples" (trained on), "skipped" (longer than max_len)}."""
    cfg.validate()
    device = next(model.parameters()).device
    max_len = min(cfg.max_len, model.cfg.max_seq_len)
    encoded = [e for e in (encode_example(tok, ex, max_len) for ex in examples) if e is not None]
    skipped = len(examples) - len(encoded)
    if not encoded:
        raise ConfigError(f"no SFT example fits max_len={max_len} tokens ({len(examples)} given)")
    lengths = [len(ids) for ids, _ in encoded]
    rng = random.Random(cfg.seed)
    plan = [b for _ in range(cfg.epochs) for b in length_batches(lengths, cfg.batch_size, rng)]
    sched = SimpleNamespace(
        lr=cfg.lr, warmup=min(cfg.warmup, len(plan)), steps=len(plan), min_lr_ratio=cfg.min_lr_ratio
    )
    opt = make_optimizer(model, cfg.lr, cfg.weight_decay, device)
    model.train()

    losses, tokens, ema = [], 0, None
    t0 = time.time()
    bar = tqdm(plan, desc=desc, disable=quiet, leave=False)
    for step, batch in enumerate(bar):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, sched)  # pretrain's schedule: linear warmup, then cosine
        ids, attn, loss_mask = (x.to(device) for x in right_pad([encoded[i] for i in batch], tok.pad_id))
        with autocast(device, cfg.precision):
            loss = sft_loss(model, ids, attn, loss_mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
        tokens += sum(lengths[i] for i in batch)
        ema = losses[-1] if ema is None else 0.9 * ema + 0.1 * losses[-1]
        bar.set_postfix(loss=f"{ema:.3f}", tok_s=f"{tokens / (time.time() - t0):,.0f}")
    model.eval()
    seconds = time.time() - t0
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "steps": len(plan),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / max(seconds, 1e-9)),
        "loss_first": losses[0],
        "loss_last": sum(tail) / len(tail),
        "losses": [round(x, 4) for x in losses],
        "examples": len(encoded),
        "skipped": skipped,
    }
