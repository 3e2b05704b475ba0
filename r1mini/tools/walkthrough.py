"""Section 2.2.1, eq. (1)-(3), worked once with real numbers: one GRPO step on one group of G = 4 outputs.

    python -m r1mini.tools.walkthrough                          # print the page (~20 s on a CPU)
    python -m r1mini.tools.walkthrough --out docs/walkthrough.md  # and write it

It samples G = 4 outputs o_1..o_4 for one question q from the policy, scores them with R1-Zero's rule-based
rewards (accuracy + 0.5 x format, 2.2.2), computes A by eq. (3), and runs mu = 2 inner updates of eq. (1)
with beta > 0 and pi_ref = the model before the step. The first inner update has pi_theta = pi_old, so
rho = 1 at every token; the second is where rho != 1 and the clip can stop a token, so it is the one shown
token by token: log pi_old, log pi_theta, rho, clipped or not, the k3 KL term of eq. (2) against pi_ref,
each token's weight 1/(G |o_i|), the loss, and d loss / d log pi_theta(o_it) (its sign says which way the
optimizer step pushes that token). Everything is computed by the library functions the trainer uses
(grpo.sample_rollout, group_advantages, token_weights, completion_logprobs, grpo_loss, kl_k3).

The model is the cached base of --base (cpu: the one `python -m r1mini.toy.pretrain --preset cpu` writes, and
train_zero.py starts from); without it the command says in one line how to make it. The question is the first of
a fixed sequence whose 4 rewards are not all equal (an equal group has A = 0).
tests/test_walkthrough.py runs `walkthrough` on a seeded nano model and checks every figure against an
independent float64 computation (statistics for A, math.exp for rho, the k3 formula and the loss by hand).

    >>> import torch; from r1mini.engine.model import ModelConfig, Transformer
    >>> from r1mini.engine.tokenizer import get_tokenizer
    >>> tok = get_tokenizer(); _ = torch.manual_seed(0)
    >>> w = walkthrough(Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size)), tok, "a seeded nano model")
    >>> len(w["A"]), w["updates"][0]["kl_mean"]                  # G = 4; pi_theta = pi_ref at the first update
    (4, 0.0)
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import random
import sys
import textwrap
from pathlib import Path

import torch

from r1mini.engine.common import atomic_write_bytes, cli_main, get_device, set_seed
from r1mini.evaluate import zero_prompt
from r1mini.toy.pretrain import cached_base
from r1mini.grpo import (
    GRPOConfig,
    completion_logprobs,
    group_advantages,
    grpo_loss,
    kl_k3,
    sample_rollout,
    token_weights,
)
from r1mini.rewards import total_reward
from r1mini.toy.tasks import TASK_MIXES

# the paper's shape (beta > 0, mu = 2, pi_ref kept) with the cpu preset's lr 1e-4 (its 5-step warmup left out:
# this is one step); float32 everywhere so that the page's figures are the exact ones
WALK_CFG = GRPOConfig(
    steps=1,
    questions=1,
    G=4,
    mu=2,
    beta=0.04,
    epsilon=0.2,
    lr=1e-4,
    warmup=1,
    max_new_tokens=96,
    temperature=1.0,
    precision="fp32",
    seed=0,
)
REWARD_WEIGHTS = {"accuracy": 1.0, "format": 0.5}  # train_zero.py's cpu preset (2.2.2)
TRIES = 32  # questions tried, in order, for a group whose rewards are not all equal
SHOW_TOKENS = 4  # unclipped tokens shown per output; also the first 2 and every clipped one


def zero_reward(completion: str, problem) -> tuple[float, dict]:
    """R1-Zero's reward as train_zero.py's cpu preset weights it: accuracy + 0.5 x format."""
    return total_reward(completion, problem, REWARD_WEIGHTS)


def pick_model(device, preset: str = "cpu") -> tuple[torch.nn.Module, str]:
    """The cached base of a pretrain preset, and a line saying which it is (ConfigError when it is not there)."""
    from r1mini.engine.model import load_model

    path = cached_base(
        preset
    )  # ConfigError: "no cached 'cpu' base model at ...: run `python -m r1mini.toy.pretrain ...`"
    return load_model(path, device)[0], f"the cached `{preset}` base model (`{path}`)"


def find_group(model, tok, cfg: GRPOConfig, reward_fn, mix: str = "cpu"):
    """(problem, rollout, try index) of the first of TRIES questions whose G rewards are not all equal (else the
    last)."""
    for i in range(TRIES):
        problem = TASK_MIXES[mix].sample(random.Random(i), 1, split="train")[0]
        ro = sample_rollout(model, tok, [problem], zero_prompt, reward_fn, cfg, seed=i)
        if ro.rewards.max() > ro.rewards.min():
            break
    return problem, ro, i


def inner_updates(policy, ro, A, cfg: GRPOConfig) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
    """The mu inner updates of one GRPO step, as GRPOTrainer.step runs them, keeping every intermediate.
    Returns (one dict per update, ref_logp [G, T], weights [G, T])."""
    ref = copy.deepcopy(policy).eval()  # pi_ref: the model before the step (ref_reset_every = 0 keeps the base)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens)  # [G, T]
    with torch.no_grad():
        ref_logp = completion_logprobs(ref, ro.prompt_ids, ro.prompt_mask, ro.tokens, ro.mask, cfg.G, cfg.temperature)[
            0
        ]  # [G, T]
    old_logp = ro.sampler_logp  # [G, T] log pi_old: stored by the sampler (mu > 1)
    updates = []
    policy.train()
    for _ in range(cfg.mu):
        opt.zero_grad(set_to_none=True)
        logp = completion_logprobs(policy, ro.prompt_ids, ro.prompt_mask, ro.tokens, ro.mask, cfg.G, cfg.temperature)[
            0
        ]  # [G, T]
        logp.retain_grad()  # d loss / d log pi_theta(o_it), for the page
        loss, stats = grpo_loss(logp, old_logp, ref_logp, A, weights, cfg)  # -eq. (1)
        loss.backward()
        ratio = torch.exp(logp.detach() - old_logp)  # rho_it
        eps_high = cfg.epsilon_high or cfg.epsilon
        clipped = ((ratio < 1 - cfg.epsilon) & (A[:, None] < 0)) | ((ratio > 1 + eps_high) & (A[:, None] > 0))
        updates.append(
            {
                "logp": logp.detach().clone(),
                "grad": logp.grad.clone(),
                "ratio": ratio,
                "clipped": clipped & ro.mask,
                "kl": kl_k3(logp.detach(), ref_logp, cfg.kl_clamp),
                "loss": loss.item(),
                "kl_mean": stats["kl"],
                "clip_frac": stats["clip_frac"],
                "grad_norm": torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip).item(),
            }
        )
        opt.step()
    policy.eval()
    return updates, ref_logp, weights


def walkthrough(model, tok, model_note: str, cfg: GRPOConfig = WALK_CFG, reward_fn=zero_reward) -> dict:
    """One GRPO step on one group, every intermediate as plain Python lists, plus the page ("markdown").
    `model` is updated in place (mu optimizer steps)."""
    cfg.validate()
    set_seed(cfg.seed)
    model.eval()
    problem, ro, tries = find_group(model, tok, cfg, reward_fn)
    A = group_advantages(ro.rewards, cfg.scale_std).view(-1)  # eq. (3), [G]
    updates, ref_logp, weights = inner_updates(model, ro, A, cfg)
    lists = lambda t: t.double().tolist()  # noqa: E731
    out = {
        "model": model_note,
        "question": problem.question,
        "answer": problem.answer,
        "tries": tries + 1,
        "cfg": dataclasses.asdict(cfg),
        "texts": ro.texts,
        "rewards": lists(ro.rewards[0]),
        "parts": {k: lists(v[0]) for k, v in ro.parts.items()},
        "A": lists(A),
        "tokens": ro.tokens.tolist(),
        "mask": ro.mask.tolist(),
        "weights": lists(weights),
        "old_logp": lists(ro.sampler_logp),
        "ref_logp": lists(ref_logp),
        "updates": [
            {
                k: (v if isinstance(v, float) else v.tolist() if v.dtype == torch.bool else lists(v))
                for k, v in u.items()
            }
            for u in updates
        ],
    }
    out["markdown"] = render(out, tok)
    return out


# ----------------------------------------------------------------------------- the page


def _token_text(tok, t: int) -> str:
    return "`" + tok.decode([t]).replace("`", "'").replace("|", "\\|").replace("\n", "\\n") + "`"


def shown_positions(w: dict, i: int) -> list[int]:
    """Which tokens of output i the page shows: its first 2 (the template's near-certain start), the
    SHOW_TOKENS unclipped ones whose rho moved most at the second update, and every clipped one."""
    u, n = w["updates"][-1], sum(w["mask"][i])
    clipped = [t for t in range(n) if u["clipped"][i][t]]
    moved = sorted((t for t in range(n) if not u["clipped"][i][t]), key=lambda t: -abs(math.log(u["ratio"][i][t])))
    return sorted(set(range(min(2, n))) | set(moved[:SHOW_TOKENS]) | set(clipped))


def render(w: dict, tok) -> str:
    c, A, u1, u2 = w["cfg"], w["A"], w["updates"][0], w["updates"][-1]
    G = c["G"]
    r = [f"{x:g}" for x in w["rewards"]]
    L = [
        "# One GRPO step, worked with real numbers",
        "",
        "Made by `python -m r1mini.tools.walkthrough --out docs/walkthrough.md` (r1mini/tools/walkthrough.py), which",
        "computes everything below with the library functions the trainer uses; `tests/test_walkthrough.py` runs the",
        "same function on a small seeded model and checks every figure it reports against an independent float64",
        "computation. Section 2.2.1 of the paper, eq. (1)-(3); the code is r1mini/grpo.py.",
        "",
        f"Model: {w['model']}.",
        f"Settings (GRPOConfig): G = {G}, mu = {c['mu']}, epsilon = {c['epsilon']} (epsilon_high = "
        f"{c['epsilon_high']}, i.e. = epsilon), beta = {c['beta']}, temperature {c['temperature']},",
        f"lr {c['lr']:g}, loss_agg `{c['loss_agg']}`, float32. pi_ref and pi_old are the model before the step.",
        "This is the paper's shape (beta > 0, mu = 2, pi_ref kept), not the cpu preset's beta = 0, mu = 1; the",
        "learning rate is the cpu preset's (without its 5-step warmup).",
        "",
        "## 1. The question q and the G = 4 sampled outputs o_i",
        "",
        f'q: "{w["question"]}" (reference answer {w["answer"]}; question {w["tries"]} of a fixed sequence, the first',
        "whose 4 rewards are not all equal), put into the R1-Zero template (Table 1). Outputs, sampled at",
        "temperature 1 by the KV-cache sampler (r1mini/engine/sampler.py) from pi_old:",
        "",
    ]
    parts = w["parts"]
    for i, text in enumerate(w["texts"]):
        acc, fmt = parts.get("accuracy", [float("nan")] * G)[i], parts.get("format", [float("nan")] * G)[i]
        L.append(f"o_{i + 1}: {sum(w['mask'][i])} tokens, accuracy {acc:g}, format {fmt:g}, r_{i + 1} = {r[i]}")
        L += ["", "```", *textwrap.wrap(text.strip().replace("\n", " "), 116), "```", ""]
    mean = sum(w["rewards"]) / G
    std = (sum((x - mean) ** 2 for x in w["rewards"]) / (G - 1)) ** 0.5
    L += [
        "",
        "## 2. Advantages, eq. (3): `group_advantages(r)`",
        "",
        f"A_i = (r_i - mean(r)) / std(r) with mean(r) = {mean:.4f} and the sample std (divide by G - 1, as",
        f"torch.std) std(r) = {std:.4f}:",
        "",
        "| i | r_i | A_i |",
        "|---|---|---|",
        *[f"| {i + 1} | {r[i]} | {A[i]:+.4f} |" for i in range(G)],
        "",
        "The A_i sum to 0: outputs better than their group get A > 0 (their tokens are pushed up), worse ones",
        "A < 0. A group whose rewards are all equal gets A = 0 exactly and teaches nothing.",
        "",
        "## 3. Inner update 1 of mu = 2: rho = 1",
        "",
        "pi_old is the model that sampled, and nothing has changed yet: rho_it = pi_theta/pi_old = 1 up to the",
        f"gap between the sampler's and the trainer's float32 log-probs (here max |rho - 1| = "
        f"{max(abs(x - 1) for row, m in zip(u1['ratio'], w['mask']) for x, k in zip(row, m) if k):.1e}), so the clip",
        f"cannot act (clip fraction {u1['clip_frac']:.3f}), and pi_theta = pi_ref, so the KL term is exactly",
        f"{u1['kl_mean']:.1f}. Loss (the negative of eq. 1) = {u1['loss']:+.6f}: about 0, because at rho = 1 it is",
        "-1/G sum_i A_i and the A_i sum to 0; its gradient is not 0 (each token's log-prob gets -w_it A_i).",
        f"Gradient norm {u1['grad_norm']:.4f} before clipping to grad_clip; one AdamW step. (With mu = 1, the cpu",
        "preset's setting, this is the whole step, and with beta = 0 it is a policy gradient with the group",
        "mean as baseline: the gradient of -sum_it w_it A_i log pi_theta(o_it).)",
        "",
        "## 4. Inner update 2: rho != 1, the clip, the KL term",
        "",
        "Now pi_theta has moved one step from pi_old = pi_ref. Adam's first step moves every weight by about lr",
        "in the direction of its gradient, whatever the gradient's size (m / sqrt(v) = +-1 at step 1), so one",
        "step at lr 1e-4 already moves some tokens' probabilities a lot. Per token (w_it = 1/(G |o_i|) under",
        "`seq_mean`; k3 = pi_ref/pi_theta - log(pi_ref/pi_theta) - 1, eq. (2); the last column is d loss / d log",
        "pi_theta(o_it): negative means the optimizer step raises that token's probability). Shown: each output's",
        "first 2 tokens, the 4 unclipped ones whose rho moved most, and every clipped one:",
        "",
    ]
    for i in range(G):
        L += [
            f"Output {i + 1} (A = {A[i]:+.4f}):",
            "",
            "| t | o_it | log pi_old | log pi_theta | rho | clipped | log pi_ref | k3 | w_it | d loss/d log pi_theta |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in shown_positions(w, i):
            L.append(
                f"| {t} | {_token_text(tok, w['tokens'][i][t])} | {w['old_logp'][i][t]:.4f} | "
                f"{u2['logp'][i][t]:.4f} | "
                f"{u2['ratio'][i][t]:.4f} | {'yes' if u2['clipped'][i][t] else ''} | {w['ref_logp'][i][t]:.4f} | "
                f"{u2['kl'][i][t]:.2e} | {w['weights'][i][t]:.5f} | {u2['grad'][i][t]:+.2e} |"
            )
        L.append("")
    n_tok = sum(sum(m) for m in w["mask"])
    n_clip = sum(sum(row) for row in u2["clipped"])
    seq = [sum(l2 - lo for l2, lo, m in zip(u2["logp"][i], w["old_logp"][i], w["mask"][i]) if m) for i in range(G)]
    seq_ratio = [math.exp(s) for s in seq]
    rho_all = [u2["ratio"][i][t] for i in range(G) for t in range(len(w["mask"][i])) if w["mask"][i][t]]
    rho_lo, rho_hi = min(rho_all), max(rho_all)
    free = [
        (i, t)
        for i in range(G)
        for t in range(len(w["mask"][i]))
        if w["mask"][i][t] and A[i] != 0 and not u2["clipped"][i][t]
    ]
    n_free, agree = len(free), sum(1 for i, t in free if u2["grad"][i][t] * A[i] < 0)
    eps = c["epsilon"]
    L += [
        f"Over all {n_tok} tokens: {n_clip} clipped (clip fraction {u2['clip_frac']:.3f}); mean KL",
        f"{u2['kl_mean']:.2e}; loss = {u2['loss']:+.6f}; gradient norm {u2['grad_norm']:.4f}. Then the second AdamW",
        "step ends the GRPO step.",
        "",
        "How to read a row. For a token the clip did not stop, d loss / d log pi_theta = -w_it (A_i rho_it -",
        f"beta (1 - pi_ref/pi_theta)); its sign is minus the sign of A_i for {agree} of the {n_free} such tokens of",
        "outputs with A != 0 (the KL part is small), so tokens of better-than-average outputs go up and those of",
        "worse ones go down. A clipped token (rho > 1 + epsilon",
        "with A > 0, or rho < 1 - epsilon with A < 0) has already moved as far as eq. (1) allows: min() picks",
        "the clipped, constant term, and only the KL part of its gradient is left (it pulls back towards pi_ref).",
        f"The clip does not bound how far one update moves a token (rho ranges over [{rho_lo:.3f}, {rho_hi:.3f}]",
        "after the single AdamW step above); it removes the push in the same direction from then on.",
        "",
        "Per-token against per-sequence ratio. The paper's eq. (1) has one ratio per output, pi_theta(o_i|q) /",
        "pi_old(o_i|q) = the product of the rho_it. Here that product is "
        + ", ".join(f"{x:.3g}" for x in seq_ratio)
        + " for o_1..o_4;",
        f"{sum(1 for x in seq_ratio if not 1 - eps <= x <= 1 + eps)} of 4 lie outside",
        f"[{1 - eps:g}, {1 + eps:g}], against {n_clip} of {n_tok} tokens clipped. The log of the product is a sum over",
        "the output's tokens, so it drifts with the length; the code (like DeepSeekMath's GRPO) clips each token's",
        "ratio instead: a different objective, chosen because the sequence ratio's variance grows with the length.",
        "",
        "## Glossary: the paper's symbols in the code",
        "",
        "| paper | code (r1mini/grpo.py unless said) | shape |",
        "|---|---|---|",
        "| q | `problem.question` in Table 1's template (`evaluate.zero_prompt`): `Rollout.prompt_ids` | [B, P] |",
        "| o_i | row i of `Rollout.tokens` (decoded: `Rollout.texts[i]`) | [N, T] |",
        "| o_it | `Rollout.tokens[i, t]`, real where `Rollout.mask[i, t]` | scalar |",
        "| G | `GRPOConfig.G`; a question's outputs are rows q*G .. q*G + G - 1 | int |",
        "| B | `GRPOConfig.questions` (questions per step) | int |",
        "| N | B * G, the rows of every per-token tensor | int |",
        "| T | the longest output in the batch (the rest is padding, mask 0), <= `max_new_tokens` | int |",
        "| r_i | `Rollout.rewards` (`rewards.total_reward`) | [B, G] |",
        "| A_i | `A = group_advantages(r).view(-1)`, shared by the output's tokens | [N] |",
        "| pi_theta | `GRPOTrainer.policy`; `logp = completion_logprobs(policy, ...)` | [N, T] |",
        "| pi_old | the policy that sampled: `Rollout.sampler_logp` (mu > 1), `logp.detach()` (mu = 1) | [N, T] |",
        "| pi_ref | `GRPOTrainer.ref` (None when beta = 0); `ref_logp` | [N, T] |",
        "| rho_it | `ratio = exp(logp - old_logp)` in `grpo_loss` | [N, T] |",
        "| D_KL (eq. 2) | `kl_k3(logp, ref_logp)` | [N, T] |",
        "| 1/G, 1/\\|o_i\\| of eq. (1) | `token_weights(mask, loss_agg, ...)`, seq_mean: 1/(G \\|o_i\\|) | [N, T] |",
        "| epsilon | `GRPOConfig.epsilon` (lower clip), `epsilon_high` (upper; 0 = epsilon) | float |",
        "| beta | `GRPOConfig.beta` | float |",
        "| mu | `GRPOConfig.mu` (inner updates per batch) | int |",
        "",
    ]
    return "\n".join(L)


def main() -> None:
    p = argparse.ArgumentParser(description="One GRPO step (eq. 1-3) on one group of G = 4, with real numbers.")
    p.add_argument("--out", default=None, help="also write the page (markdown) here, e.g. docs/walkthrough.md")
    p.add_argument("--base", default="cpu", help="pretrain preset whose cached base model takes the step")
    p.add_argument("--device", default="cpu", help="cpu (the page's figures are float32 on a CPU) or cuda")
    args = p.parse_args()
    from r1mini.engine.tokenizer import get_tokenizer

    model, note = pick_model(get_device(args.device), args.base)
    w = walkthrough(model, get_tokenizer(), note)
    print(w["markdown"])
    if args.out:
        atomic_write_bytes(Path(args.out), w["markdown"].encode())
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    cli_main(main)
