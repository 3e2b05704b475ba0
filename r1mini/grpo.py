"""Section 2.2.1: Group Relative Policy Optimization (GRPO), eq. (1)-(3); DeepSeekMath's Algorithm 1.

No value model: each question q gets a group of G outputs o_1..o_G from pi_old, and the group is the baseline.
R1's equations as printed (arXiv 2501.12948 v1), with rho_i = pi_theta(o_i|q) / pi_old(o_i|q):

    J(theta) = E 1/G sum_i ( min(rho_i A_i, clip(rho_i, 1 - eps, 1 + eps) A_i) - beta D_KL(pi_theta || pi_ref) )  (1)
    D_KL(pi_theta || pi_ref) = pi_ref(o_i|q) / pi_theta(o_i|q) - log(pi_ref(o_i|q) / pi_theta(o_i|q)) - 1        (2)
    A_i = (r_i - mean(r_1..r_G)) / std(r_1..r_G)                                                            (3)

The code uses eq. (1) and (2) in DeepSeekMath's per-token form (arXiv 2402.03300, 4.1), as the open implementations
do: one ratio rho_it and one KL term per token o_it, averaged over the |o_i| tokens of each output. It is another
objective, not the same one rewritten (docs/r1_zero.md says why it is used and what differs).

GRPOTrainer.step is one batch of DeepSeekMath's Algorithm 1 (its outer loop, pi_ref <- pi_theta, is ref_reset_every):
    1. pi_old <- pi_theta; sample G outputs per question (r1mini/engine/sampler.py, with a KV cache)
    2. rewards r_i from the reward function it was given (r1mini/rewards.py for R1-Zero)
    3. advantages A_i by eq. (3)
    4. mu optimizer steps, each on eq. (1)
Switches (GRPOConfig): loss_agg (seq_mean is eq. (1); DAPO's token_mean; Dr. GRPO's constant), scale_std (Dr. GRPO
drops the std), epsilon_high (DAPO's clip-higher), beta = 0 (no KL term, no pi_ref), mu (the clip acts only from the
second update on). Micro-batches, ranks and logged figures: r1mini/engine/update.py, beside the algorithm.
One step with real numbers: python -m r1mini.tools.walkthrough. Tests: pytest -k "eq1 or eq2 or eq3".

    >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]]))
    tensor([[ 0.8660, -0.8660, -0.8660,  0.8660],
            [ 0.0000,  0.0000,  0.0000,  0.0000]])
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from r1mini.engine import dist
from r1mini.engine.common import ConfigError, autocast, check_precision
from r1mini.engine.logprobs import fused_token_logprobs
from r1mini.engine.sampler import SamplingConfig, generate, left_pad
from r1mini.engine.update import UpdateLog, UpdatePlan

LOSS_AGGS = ("seq_mean", "token_mean", "constant")


@dataclass
class GRPOConfig:
    steps: int = 200  # RL steps (one batch of B questions each)
    questions: int = 16  # B: questions per step
    G: int = 8  # outputs sampled per question
    mu: int = 1  # inner updates per batch
    epsilon: float = 0.2  # clip range of rho, eq. (1): [1 - epsilon, 1 + epsilon]
    epsilon_high: float = 0.0  # upper clip 1 + epsilon_high; 0 means "= epsilon"; > epsilon is DAPO's clip-higher
    beta: float = 0.02  # KL coefficient, eq. (1); 0 drops pi_ref
    ref_reset_every: int = 0  # Algorithm 1's outer iteration: pi_ref <- pi_theta every N steps; 0 = never
    lr: float = 2e-4  # AdamW learning rate (constant after the warmup)
    warmup: int = 5  # steps of linear learning-rate warmup
    weight_decay: float = 0.0  # AdamW weight decay
    grad_clip: float = 1.0  # the gradient's global norm is clipped to this
    loss_agg: str = "seq_mean"  # seq_mean (eq. 1), token_mean (DAPO) or constant (Dr. GRPO): see token_weights
    scale_std: bool = True  # eq. (3) divides by the group std
    temperature: float = 1.0  # sampling temperature, also used for the trainer's log-probs
    max_new_tokens: int = 96  # longest sampled output o_i, in tokens
    micro_batch: int = 0  # questions per forward/backward (gradient accumulation); 0 = all
    kl_clamp: float = 20.0  # |log pi_ref - log pi_theta| is clamped here so eq. (2) stays finite
    precision: str = "auto"  # of the update's forward/backward (common.autocast); sampling stays float32 on a CPU
    seed: int = 0  # seeds the sampler (with the step index) and the run's question draws

    def validate(self) -> None:
        if self.loss_agg not in LOSS_AGGS:
            raise ConfigError(f"loss_agg must be one of {LOSS_AGGS}, got {self.loss_agg!r}")
        if self.G < 2:
            raise ConfigError(f"G must be >= 2 (a group of one has no baseline), got {self.G}")
        if self.mu < 1 or self.questions < 1 or self.steps < 0:
            raise ConfigError("mu and questions must be >= 1 and steps >= 0")
        if not 0 < self.epsilon < 1 or self.beta < 0 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("need 0 < epsilon < 1, beta >= 0, lr > 0, temperature > 0")
        check_precision(self.precision)


# ----------------------------------------------------------------------------- the equations


def group_advantages(r: torch.Tensor, scale_std: bool = True) -> torch.Tensor:
    """Rewards r [B, G] -> advantages A [B, G] by eq. (3); a group with equal rewards gets exactly 0.
    std is the sample std (divide by G - 1), as torch.std; the paper does not say which."""
    r = r.double()
    centred = r - r.mean(dim=1, keepdim=True)  # eq. (3), numerator
    spread = (r.max(dim=1).values > r.min(dim=1).values)[:, None]  # [B, 1]
    if scale_std:
        centred = centred / torch.where(spread, r.std(dim=1, keepdim=True), 1.0)  # eq. (3), sample std
    return torch.where(spread, centred, 0.0).float()


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor, clamp: float = 20.0) -> torch.Tensor:
    """Per-token D_KL(pi_theta || pi_ref) estimator of eq. (2): pi_ref/pi_theta - log(pi_ref/pi_theta) - 1."""
    log_ratio = (ref_logp - logp).clamp(-clamp, clamp)  # log(pi_ref / pi_theta), kept finite
    return torch.exp(log_ratio) - log_ratio - 1  # eq. (2)


def token_weights(mask, loss_agg: str, max_new_tokens: int, dtype=torch.float32, n_rows=None, n_tokens=None):
    """[N, T] weights w so that the loss is sum_{i,t} w_it * (per-token term): eq. (1)'s aggregation over the batch.
    n_rows, n_tokens: the whole batch's output and token counts when mask holds only a part of it (one rank's
    share under torchrun), so that the parts' losses add up to the whole batch's."""
    m = mask.to(dtype)
    n_rows = m.shape[0] if n_rows is None else n_rows
    if loss_agg == "seq_mean":  # eq. (1): 1/G sum_i 1/|o_i| sum_t (averaged over all questions too)
        return m / m.sum(1, keepdim=True).clamp(min=1) / n_rows
    if loss_agg == "token_mean":  # DAPO
        return m / (m.sum().clamp(min=1) if n_tokens is None else max(n_tokens, 1))
    return m / (n_rows * max_new_tokens)  # Dr. GRPO: a constant normaliser


def grpo_loss(logp, old_logp, ref_logp, A, weights, cfg: GRPOConfig):
    """The negative of eq. (1), per-token form, for one (micro-)batch.

    logp [N, T] log pi_theta (with grad); old_logp [N, T] log pi_old; ref_logp [N, T] log pi_ref
    (ignored when beta = 0); A [N] advantages; weights [N, T] from token_weights. Returns (loss, stats).
    """
    ratio = torch.exp(logp - old_logp)  # rho_it
    eps_low, eps_high = cfg.epsilon, cfg.epsilon_high or cfg.epsilon
    A = A[:, None]
    surrogate = torch.min(ratio * A, ratio.clamp(1 - eps_low, 1 + eps_high) * A)  # eq. (1), per token
    objective = surrogate
    kl = torch.zeros_like(logp)
    if cfg.beta > 0:
        kl = kl_k3(logp, ref_logp, cfg.kl_clamp)  # eq. (2), per token
        objective = surrogate - cfg.beta * kl  # eq. (1)
    loss = -(objective * weights).sum()
    with torch.no_grad():
        m = weights > 0
        clipped = ((ratio < 1 - eps_low) & (A < 0)) | ((ratio > 1 + eps_high) & (A > 0))
        kl_mean = kl[m].mean().item() if m.any() else 0.0
        stats = {"kl": kl_mean, "clip_frac": clipped[m].float().mean().item() if m.any() else 0.0}
    return loss, stats


# ----------------------------------------------------------------------------- sampling and log-probs


@dataclass
class Rollout:
    prompt_ids: torch.Tensor  # [B, P] left-padded
    prompt_mask: torch.Tensor  # [B, P]
    tokens: torch.Tensor  # [N, T] completions o_i, N = B * G
    mask: torch.Tensor  # [N, T]
    sampler_logp: torch.Tensor  # [N, T] log pi_old at sampling time
    rewards: torch.Tensor  # [B, G]
    parts: dict  # reward component -> [B, G]
    texts: list  # N decoded completions
    truncated: torch.Tensor  # [N]


def sample_rollout(policy, tok, problems, prompt_fn, reward_fn, cfg, seed, reward_batch_fn=None, first=0, total=None):
    """Sample G outputs for each problem with the KV-cache sampler and score them: reward_fn(text, problem) per
    output, or reward_batch_fn(texts, problems) -> [(total, parts)] once for all N (one problem per text).
    first, total: problems are questions [first, first + B) of a step of `total` (one rank's share; the
    sampler then draws what it would for those rows of the whole step, see sampler.generate)."""
    device = next(policy.parameters()).device
    prompts = [tok.encode(prompt_fn(p), allow_special=True) for p in problems]
    scfg = SamplingConfig(cfg.max_new_tokens, cfg.temperature, stop_ids=(tok.eot_id, tok.answer_end_id))
    s = generate(policy, prompts, scfg, n_samples=cfg.G, seed=seed, pad_id=tok.pad_id, first=first, total=total)
    T = max(1, int(s.lengths.max()))  # drop the columns past the longest output: padding only
    tokens, mask, logp = s.tokens[:, :T], s.mask[:, :T], s.logprobs[:, :T]
    rows = zip(tokens.tolist(), mask.tolist())
    texts = [tok.decode([t for t, m in zip(row, mrow) if m and t != tok.eot_id]) for row, mrow in rows]
    items = [problems[i // cfg.G] for i in range(len(texts))]  # the problem of each output
    if reward_batch_fn is not None:
        scored = reward_batch_fn(texts, items)
    else:
        scored = [reward_fn(text, item) for text, item in zip(texts, items)]
    B = len(problems)
    rewards = torch.tensor([total for total, _ in scored]).view(B, cfg.G)
    parts = {k: torch.tensor([p[k] for _, p in scored]).view(B, cfg.G) for k in scored[0][1]}
    ids, pmask = left_pad(prompts, tok.pad_id, device)
    return Rollout(ids, pmask, tokens, mask, logp, rewards, parts, texts, s.truncated)


def completion_logprobs(model, prompt_ids, prompt_mask, tokens, mask, G: int, temperature: float):
    """log pi(o_it | q, o_i<t) and entropy, [N, T] each. The prompt runs once per question and its
    keys/values are shared by its G outputs (model.prefix_cache); the fused kernel never builds [N, T, V]."""
    cache, h_last = model.prefix_cache(prompt_ids, prompt_mask, G)  # h_last [N, D]
    h = model(tokens, mask, cache=cache, return_hidden=True)  # [N, T, D]
    h = torch.cat([h_last[:, None], h[:, :-1]], dim=1)  # the state before each token predicts it
    return fused_token_logprobs(h, model.lm_head.weight, tokens, temperature)


# ----------------------------------------------------------------------------- the trainer


class GRPOTrainer:
    """Holds pi_theta, pi_ref and the optimizer; `step(problems)` is one batch of Algorithm 1."""

    def __init__(self, policy, tok, prompt_fn, reward_fn, cfg: GRPOConfig, reward_batch_fn=None):
        cfg.validate()
        self.policy, self.tok, self.prompt_fn, self.reward_fn, self.cfg = policy, tok, prompt_fn, reward_fn, cfg
        self.reward_batch_fn = reward_batch_fn  # optional: scores a step's N outputs in one call (see sample_rollout)
        self.device = next(policy.parameters()).device
        self.ref = frozen_copy(policy) if cfg.beta > 0 else None  # beta = 0: no pi_ref at all
        self.opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        # under torchrun a DDP wrapper, whose backward all-reduces the gradients; else the function itself
        self.logprobs = dist.ddp(dist.Forward(policy, completion_logprobs))
        self.step_idx = 0

    def step(self, problems) -> dict:
        """Algorithm 1 for one batch of questions. Returns the step's logged figures."""
        cfg, t0 = self.cfg, time.time()
        if self.ref is not None and cfg.ref_reset_every and self.step_idx > 0:
            if self.step_idx % cfg.ref_reset_every == 0:
                self.ref.load_state_dict(self.policy.state_dict())  # Algorithm 1: pi_ref <- pi_theta
        first, total, mine = dist.my_share(problems, "questions per step", "raise --questions")  # 1 process: all
        # 1-2. pi_old <- pi_theta: G outputs o_i per question, and their rewards r_i
        ro = self.sample(mine, first, total)
        t_sample = time.time() - t0
        # 3. eq. (3): each output's advantage over its own group
        A = group_advantages(ro.rewards, cfg.scale_std).view(-1).to(self.device)
        # 4. mu optimizer steps on eq. (1), against the same pi_old and pi_ref
        plan = UpdatePlan.of(ro.rewards, ro.mask, cfg.micro_batch, run_all=self.ref is not None)
        weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens, n_rows=plan.n_rows, n_tokens=plan.n_tokens)
        ref_logp = self.reference_logprobs(ro)
        for g in self.opt.param_groups:
            g["lr"] = self.lr_at(self.step_idx)
        log = UpdateLog(cfg.mu, plan.run_tokens)
        for inner in range(cfg.mu):
            self.update(ro, A, weights, ref_logp, plan, log, inner)
        self.step_idx += 1
        t_train = time.time() - t0 - t_sample
        return log.figures(ro, plan, cfg.G, self.step_idx, self.lr_at(self.step_idx - 1), t_sample, t_train, A)

    def sample(self, problems, first: int, total: int) -> Rollout:
        self.policy.eval()
        seed = self.cfg.seed * 1_000_003 + self.step_idx  # a new draw each step, replayed by a resumed run
        fns = (self.policy, self.tok, problems, self.prompt_fn, self.reward_fn, self.cfg)
        return sample_rollout(*fns, seed=seed, reward_batch_fn=self.reward_batch_fn, first=first, total=total)

    def reference_logprobs(self, ro: Rollout):
        """log pi_ref of every sampled token [N, T], or None when beta = 0 (no KL term)."""
        if self.ref is None:
            return None
        batch = (ro.prompt_ids, ro.prompt_mask, ro.tokens, ro.mask)
        with torch.no_grad(), autocast(self.device, self.cfg.precision):
            return completion_logprobs(self.ref, *batch, self.cfg.G, self.cfg.temperature)[0]

    def update(self, ro: Rollout, A, weights, ref_logp, plan: UpdatePlan, log: UpdateLog, inner: int) -> None:
        """One optimizer step on eq. (1); the micro-batches' losses add up to the whole batch's."""
        cfg, G = self.cfg, self.cfg.G
        self.opt.zero_grad(set_to_none=True)
        idle = (ro.prompt_ids[:1], ro.prompt_mask[:1], ro.tokens[:G, :1], ro.mask[:G, :1], G, cfg.temperature)
        precision = lambda: autocast(self.device, cfg.precision)  # noqa: E731
        for qs, rs, T in plan.micro_batches(self.logprobs, ro.mask, G, idle, precision):  # questions, their G rows
            m = ro.mask[rs, :T]
            batch = (ro.prompt_ids[qs], ro.prompt_mask[qs], ro.tokens[rs, :T], m)
            with autocast(self.device, cfg.precision):
                logp, ent = self.logprobs(*batch, cfg.G, cfg.temperature)  # log pi_theta, with gradients
            # pi_old: with mu = 1 it is pi_theta itself (rho = 1, the gradient of log pi_theta); else the sampler's
            old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]
            ref = None if ref_logp is None else ref_logp[rs, :T]
            loss, st = grpo_loss(logp, old_logp, ref, A[rs], weights[rs, :T], cfg)  # eq. (1)
            (loss * dist.world_size()).backward()  # DDP averages the ranks' gradients: x W gives their sum
            log.add(inner, loss.item(), st, logp, ent, ro.sampler_logp[rs, :T], m)
        if plan.n_run == 0:  # nothing to learn from: still the AdamW step that a zero gradient gives
            for p in self.policy.parameters():
                p.grad = torch.zeros_like(p)
        log.grad_norm += torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip).item() / cfg.mu
        self.opt.step()

    def lr_at(self, step: int) -> float:
        return self.cfg.lr * min(1.0, (step + 1) / max(1, self.cfg.warmup))

    def state_dict(self) -> dict:
        ref = None if self.ref is None else self.ref.state_dict()
        return {"policy": self.policy.state_dict(), "ref": ref, "opt": self.opt.state_dict(), "step_idx": self.step_idx}

    def load_state_dict(self, sd: dict) -> None:
        self.policy.load_state_dict(sd["policy"])
        if self.ref is not None and sd["ref"] is not None:
            self.ref.load_state_dict(sd["ref"])
        self.opt.load_state_dict(sd["opt"])
        self.step_idx = sd["step_idx"]


def frozen_copy(model):
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
