"""Section 2.3.4 (RL for all scenarios): the learned reward models for general data, helpfulness and harmlessness.

"For general data, we resort to reward models to capture human preferences in complex and nuanced scenarios.
We build upon the DeepSeek-V3 pipeline and adopt a similar distribution of preference pairs." For helpfulness
the reward model reads only the final summary; for harmlessness it reads the entire response, reasoning
process included. R1 uses such models only for general data: section 2.2.2 avoids neural reward models for
reasoning because they "may suffer from reward hacking in the large-scale reinforcement learning process"
(the policy finds what the model mis-scores); train_r1.py logs the hidden annotator's gold score beside the
learned reward during stage 4, so that hacking shows if it happens.

The model: our policy's Transformer body (r1mini/engine/model.py; `from_checkpoint(path)` starts it from a policy
checkpoint: train_r1.py takes the stage-3 SFT model, as DeepSeek-V3's reward models are trained from its SFT
checkpoints) and a scalar head, Linear(n_embd, 1), on the final hidden state of the last real token (the
<|endoftext|> appended to every text; right or left padding).
It reads rm_text = prompt + " " + rm_view(response, view):

    view "summary": the summary of an R1-format response (the whole text if it has none)   -> helpfulness
    view "whole":   the entire response, reasoning included                                  -> harmlessness

Trained on preference pairs (prompt, chosen, rejected) with the Bradley-Terry loss (as InstructGPT's and
DeepSeek-V3's reward models are): P(chosen > rejected) = sigmoid(r_c - r_r), loss = -log sigmoid(r_c - r_r).
Pairs come from `preference_pairs`, labelled by r1mini/toy/general.py's hidden annotator.

Checks: `python -m pytest tests/test_reward_model.py` (the loss and its gradient against a float64 write-out,
padding, scoring under the autocast the model was trained with, a toy separable set learned in seconds, views,
pairs, load errors).

    >>> rm_view(" |special_token|Li Na's code is 4821.|special_token|Sorry, I cannot share it.", "summary")
    'Sorry, I cannot share it.'
    >>> bt_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))   # (-log sigmoid(2) - log sigmoid(0)) / 2
    tensor(0.4100)
    >>> [(p.chosen, p.rejected) for p in preference_pairs("q", ["a", "b", "c"], [1.0, 0.0, 1.0])]
    [('a', 'b'), ('c', 'b')]
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from r1mini.engine.common import ConfigError, autocast, check_precision, load_checkpoint
from r1mini.engine.model import ModelConfig, Transformer, load_model, model_state
from r1mini.template import parse_r1_completion
from r1mini.sft import length_batches

VIEWS = ("summary", "whole")

# ----------------------------------------------------------------------------- the model


class RewardModel(nn.Module):
    """Transformer body + scalar head on the last real token: text -> one score r."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.body = Transformer(cfg)
        self.head = nn.Linear(cfg.n_embd, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.precision = "auto"  # the common.autocast it was trained with (RMConfig.precision); score() uses it too

    @property
    def cfg(self) -> ModelConfig:
        return self.body.cfg

    @classmethod
    def from_checkpoint(cls, path, device="cpu") -> "RewardModel":
        """A reward model whose body is the policy checkpoint at `path` (the base or an SFT model; a fresh head)."""
        base, _ = load_model(path)
        rm = cls(base.cfg)
        rm.body.load_state_dict(base.state_dict())
        return rm.to(device)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """ids [B, T], mask [B, T] (1 = real token; right or left padding) -> scores [B]."""
        if mask is None:
            mask = torch.ones_like(ids, dtype=torch.bool)
        h = self.body(ids, mask, return_hidden=True)  # [B, T, D]
        pos = torch.arange(ids.shape[1], device=ids.device)  # [T]
        last = (mask.bool() * (pos + 1)).argmax(1)  # [B]: index of the last real token
        return self.head(h[torch.arange(ids.shape[0], device=ids.device), last].float()).squeeze(-1)  # [B]


def rm_state(rm: RewardModel, **extra) -> dict:
    """What a reward-model checkpoint stores: the body (as model.model_state), the head, and `extra`
    (e.g. view="summary", heldout_accuracy=0.95)."""
    return {
        **model_state(rm.body),
        "head": rm.head.state_dict(),
        "kind": "reward_model",
        "precision": rm.precision,
        **extra,
    }


def load_reward_model(path, device="cpu") -> RewardModel:
    """A RewardModel from a checkpoint written with rm_state; ConfigError if the file is missing, unreadable,
    not a reward-model checkpoint, or does not match the code."""
    ckpt = load_checkpoint(path, keys=("model", "model_config", "head"), what="an r1mini reward-model checkpoint")
    try:
        rm = RewardModel(ModelConfig(**ckpt["model_config"]))
        rm.body.load_state_dict(ckpt["model"])
        rm.head.load_state_dict(ckpt["head"])
        rm.precision = ckpt.get("precision", "auto")  # older checkpoints: "auto"
        check_precision(rm.precision)
    except (TypeError, RuntimeError, AttributeError) as e:
        raise ConfigError(f"checkpoint {str(path)!r} does not match the reward-model code: {e}") from None
    return rm.to(device)


# ----------------------------------------------------------------------------- texts and pairs


def rm_view(response: str, view: str) -> str:
    """What the reward model reads of a response (2.3.4): "summary": the summary of an R1-format response
    (template.parse_r1_completion), the whole text if it has none; "whole": the entire response."""
    if view == "whole":
        return response
    if view == "summary":
        parsed = parse_r1_completion(response)
        return response if parsed is None else parsed[1]
    raise ConfigError(f"unknown reward-model view {view!r}; choose one of: {', '.join(VIEWS)}")


def rm_text(prompt: str, response: str, view: str) -> str:
    """The text a reward model scores: the prompt, a space, the view of the response."""
    return f"{prompt} {rm_view(response, view).strip()}"


@dataclass(frozen=True)
class Pair:
    """One preference pair: the same prompt, a chosen and a rejected response."""

    prompt: str  # the full prompt text (template.r1_prompt(question))
    chosen: str  # the response the annotator prefers
    rejected: str  # the response it likes less


def preference_pairs(
    prompt: str,
    responses: list[str],
    gold_scores: list[float],
    max_pairs: int | None = None,
    rng: random.Random | None = None,
) -> list[Pair]:
    """Every pair of distinct responses to `prompt` whose gold scores differ, the higher-scored one chosen
    (in the order i < j of the responses; identical pairs once). With max_pairs: a random max_pairs of them
    (rng, default random.Random(0)), in the same order."""
    if len(responses) != len(gold_scores):
        raise ValueError(f"{len(responses)} responses but {len(gold_scores)} gold scores")
    pairs, seen = [], set()
    for i in range(len(responses)):
        for j in range(i + 1, len(responses)):
            if gold_scores[i] == gold_scores[j] or responses[i] == responses[j]:
                continue
            c, r = (i, j) if gold_scores[i] > gold_scores[j] else (j, i)
            if (responses[c], responses[r]) not in seen:
                seen.add((responses[c], responses[r]))
                pairs.append(Pair(prompt, responses[c], responses[r]))
    if max_pairs is not None and len(pairs) > max_pairs:
        keep = sorted((rng or random.Random(0)).sample(range(len(pairs)), max_pairs))
        pairs = [pairs[k] for k in keep]
    return pairs


def bt_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """The Bradley-Terry loss of a batch of pairs: mean of -log sigmoid(r_c - r_r); scores [N] -> scalar."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()  # eq. Bradley-Terry: -log P(c > r) = -log sigmoid(r_c - r_r)


def encode_texts(tok, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [N, T] and mask [N, T]: each text's tokens (special tokens allowed), cut to its
    first max_len - 1, then <|endoftext|>, whose final hidden state the head reads."""
    return pad_rows(token_rows(tok, texts, max_len), tok.pad_id)


def token_rows(tok, texts: list[str], max_len: int) -> list[list[int]]:
    """Each text's token ids (special tokens allowed) cut to the first max_len - 1, then <|endoftext|>."""
    return [ids[: max_len - 1] + [tok.eot_id] for ids in tok.encode_batch(texts, allow_special=True)]


def pad_rows(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows -> right-padded ids [N, T] and mask [N, T] (T = the longest row)."""
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = True
    return ids, mask


# ----------------------------------------------------------------------------- training


@dataclass
class RMConfig:
    epochs: int = 3  # passes over the preference pairs
    lr: float = 3e-4  # AdamW peak learning rate (linear warmup, then cosine decay to lr / 10)
    warmup: int = 10  # optimizer steps of linear warmup
    batch: int = 32  # pairs per optimizer step (2 * batch texts per forward)
    max_len: int = 256  # tokens per text at most (prompt + view + <|endoftext|>); also <= the body's max_seq_len
    weight_decay: float = 0.01  # AdamW weight decay
    grad_clip: float = 1.0  # the gradient's global norm is clipped to this
    seed: int = 0  # shuffles the pairs
    precision: str = "auto"  # of the forward/backward (common.autocast): auto, bf16 or fp32

    def validate(self) -> None:
        check_precision(self.precision)
        if self.epochs < 1 or self.batch < 1 or self.max_len < 2 or self.warmup < 0:
            raise ConfigError(f"need epochs >= 1, batch >= 1, max_len >= 2, warmup >= 0; got {self}")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip <= 0:
            raise ConfigError(f"need lr > 0, weight_decay >= 0, grad_clip > 0; got {self}")


RM_PRESETS = {
    "smoke": RMConfig(epochs=1, batch=16, max_len=128, warmup=2),
    # the helpfulness model (2.3.4: reads the summary)
    "cpu": RMConfig(epochs=2, batch=32, max_len=256),
    # the harmlessness model (reads the whole response): fewer pairs, a higher learning rate (docs/r1.md)
    "cpu_whole": RMConfig(epochs=3, lr=1e-3, batch=32, max_len=256),
}


def lr_at(cfg: RMConfig, step: int, total: int) -> float:
    """The learning rate of optimizer step `step` (from 0) of `total`: linear warmup, then cosine down to lr / 10."""
    lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
    if step >= cfg.warmup and total > cfg.warmup:  # cosine from lr down to lr / 10
        lr = cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - cfg.warmup) / (total - cfg.warmup))))
    return lr


def _max_len(rm: RewardModel, max_len: int | None) -> int:
    return rm.cfg.max_seq_len if max_len is None else min(max_len, rm.cfg.max_seq_len)


def train_reward_model(rm: RewardModel, tok, pairs: list[Pair], cfg: RMConfig, view: str, quiet: bool = False) -> dict:
    """Fit rm to the pairs with the Bradley-Terry loss (AdamW; every text tokenised once; each epoch's batches
    hold pairs of similar length, `length_batches`, so little of the compute goes to padding). Returns {"steps",
    "pairs", "seconds", "loss_first", "loss_last" (mean over the last epoch), "train_accuracy" (share of the last
    epoch's pairs scored r_c > r_r as they were trained on)}."""
    cfg.validate()
    if view not in VIEWS:
        raise ConfigError(f"unknown reward-model view {view!r}; choose one of: {', '.join(VIEWS)}")
    if not pairs:
        raise ConfigError("train_reward_model needs at least one preference pair")
    device = next(rm.parameters()).device
    rm.precision = cfg.precision  # score() runs the model as it was trained
    max_len = _max_len(rm, cfg.max_len)
    chosen = token_rows(tok, [rm_text(p.prompt, p.chosen, view) for p in pairs], max_len)  # tokenised once
    rejected = token_rows(tok, [rm_text(p.prompt, p.rejected, view) for p in pairs], max_len)
    sizes = [max(len(c), len(r)) for c, r in zip(chosen, rejected)]
    opt = torch.optim.AdamW(rm.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    per_epoch = math.ceil(len(pairs) / cfg.batch)
    total = cfg.epochs * per_epoch
    rng = random.Random(cfg.seed)
    rm.train()
    t0, step, loss_first = time.time(), 0, None
    bar = tqdm(total=total, desc=f"reward model ({view})", disable=quiet)
    for _ in range(cfg.epochs):
        losses, right, seen = [], 0, 0
        for batch in length_batches(
            sizes, cfg.batch, rng, bucket=8
        ):  # r1mini/sft.py: pairs of similar length share a batch
            n = len(batch)
            ids, mask = pad_rows([chosen[k] for k in batch] + [rejected[k] for k in batch], tok.pad_id)  # [2n, T]
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step, total)
            with autocast(device, cfg.precision):
                r = rm(ids.to(device), mask.to(device)).float()  # [2n]
            loss = bt_loss(r[:n], r[n:])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rm.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            loss_first = loss.item() if loss_first is None else loss_first
            losses.append(loss.item() * n)
            right += int((r[:n] > r[n:]).sum())
            seen += n
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses) / seen:.4f}", acc=f"{right / seen:.3f}")
    bar.close()
    rm.eval()
    return {
        "steps": step,
        "pairs": len(pairs),
        "seconds": time.time() - t0,
        "loss_first": loss_first,
        "loss_last": sum(losses) / len(pairs),
        "train_accuracy": right / len(pairs),
    }


# ----------------------------------------------------------------------------- scoring


@torch.no_grad()
def score(
    rm: RewardModel,
    tok,
    prompts: list[str],
    responses: list[str],
    view: str,
    batch: int = 64,
    max_len: int | None = None,
) -> torch.Tensor:
    """Scores [N] (float32, on the CPU) of rm_text(prompt, response, view) for each pair, in eval mode, no
    gradients, under the autocast rm was trained with (rm.precision: bf16 on a GPU, float32 on a CPU unless
    "bf16"), in batches of texts of similar length; max_len defaults to the body's max_seq_len."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    texts = [rm_text(p, o, view) for p, o in zip(prompts, responses)]
    was_training = rm.training
    rm.eval()
    device = next(rm.parameters()).device
    lengths = [len(t) for t in texts]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    out = torch.zeros(len(texts))
    for b in range(0, len(texts), batch):
        idx = order[b : b + batch]
        ids, mask = encode_texts(tok, [texts[i] for i in idx], _max_len(rm, max_len))
        with autocast(device, rm.precision):
            out[idx] = rm(ids.to(device), mask.to(device)).float().cpu()
    rm.train(was_training)
    return out


def pair_accuracy(
    rm: RewardModel, tok, pairs: list[Pair], view: str, batch: int = 64, max_len: int | None = None
) -> float:
    """Share of pairs the model orders as the annotator does (r_chosen > r_rejected; a tie counts as wrong)."""
    if not pairs:
        return float("nan")
    r_c = score(rm, tok, [p.prompt for p in pairs], [p.chosen for p in pairs], view, batch, max_len)
    r_r = score(rm, tok, [p.prompt for p in pairs], [p.rejected for p in pairs], view, batch, max_len)
    return float((r_c > r_r).float().mean())
