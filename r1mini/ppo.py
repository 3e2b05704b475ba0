"""Section 2.2.1's road not taken: PPO with a critic (DeepSeekMath, arXiv 2402.03300, section 4.1), beside GRPO.

R1 adopts GRPO "to save the training costs of RL": it "foregoes the critic model that is typically the same size as
the policy model, and estimates the baseline from group scores instead". This is the PPO it forgoes, as DeepSeekMath
writes it for a language model: the same sampler, rewards, template and evaluation as r1mini/grpo.py, plus a value
model V (the critic: the policy's architecture started from the same base, with a scalar head) and per-token
advantages by generalised advantage estimation (GAE). For an output o of a question q, with s_t = (q, o_<t):

    J(theta) = E 1/|o| sum_t min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t),  rho_t = pi_theta/pi_old(o_t|s_t)  (P1)
    r_t = [t = |o|] r(q, o) - beta log(pi_old(o_t|s_t) / pi_ref(o_t|s_t))                                  (P2)
    delta_t = r_t + gamma V(s_t+1) - V(s_t),  A_t = sum_l (gamma lambda)^l delta_t+l,  V(s_|o|+1) = 0       (P3)
    L_V = 1/2 max((V(s_t) - R_t)^2, (clip(V(s_t), V_old - eps_v, V_old + eps_v) - R_t)^2),  R_t = A_t + V_old(s_t) (P4)

The reward r(q, o) is R1-Zero's rule reward (r1mini/rewards.py), paid at the last token; the KL to pi_ref is a
per-token penalty in the reward (P2), not a term of the loss as in GRPO's eq. (1). The advantages are whitened over
the step's tokens (a switch), as common PPO implementations do. One step (`PPOTrainer.step`):
    1. pi_old <- pi_theta; sample G outputs per question and score them (as GRPO does; no group is formed)
    2. V_old(s_t) from the critic; per-token rewards r_t by (P2)
    3. advantages A_t and returns R_t by GAE (P3)
    4. mu epochs over the same rollout: an optimizer step of the policy on (P1), one of the critic on (P4)

Run it: `python train_zero.py --algo ppo` (every preset; the PPOConfig fields are flags); side by side with GRPO,
from the same base on the same questions and seeds: `python -m r1mini.tools.ppo_vs_grpo` (docs/ppo.md).
Tests: `pytest -k ppo` (GAE, both losses and their gradients against float64 write-outs, where the critic reads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from r1mini.engine import dist
from r1mini.engine.common import ConfigError, autocast
from r1mini.engine.update import UpdateLog, UpdatePlan
from r1mini.grpo import GRPOConfig, completion_logprobs, frozen_copy, sample_rollout, token_weights
from r1mini.reward_model import RewardModel


@dataclass
class PPOConfig:
    """PPO's own settings; the rest (steps, questions, G, mu, epsilon, beta, lr, ...) are GRPOConfig's, shared."""

    gamma: float = 1.0  # GAE discount per token, (P3); 1.0: the final reward counts fully at every token
    lam: float = 0.95  # GAE lambda, (P3); 1.0: Monte Carlo returns, 0.0: one-step TD
    value_clip: float = 0.2  # eps_v of (P4): the critic's new values stay within this of V_old; 0 = no clip
    critic_lr: float = 2e-4  # AdamW learning rate of the critic (same warmup as the policy)
    whiten: bool = True  # normalise A_t to mean 0, std 1 over the step's tokens before (P1)

    def validate(self) -> None:
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1) or self.value_clip < 0 or self.critic_lr <= 0:
            raise ConfigError("PPO needs 0 <= gamma <= 1, 0 <= lam <= 1, value_clip >= 0 and critic_lr > 0")


# ----------------------------------------------------------------------------- the equations


def token_rewards(r: torch.Tensor, old_logp, ref_logp, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """(P2): r [N] outcome rewards, old_logp / ref_logp [N, T] (None when beta = 0), mask [N, T] -> r_t [N, T]:
    -beta log(pi_old / pi_ref) on every real token, and r(q, o) added at the last real token."""
    m = mask.float()
    rt = torch.zeros_like(m) if ref_logp is None else -beta * (old_logp - ref_logp) * m  # (P2), the KL penalty
    last = (m.sum(1).long() - 1).clamp(min=0)  # the index of each output's last token
    rt[torch.arange(len(r)), last] += r.to(rt.dtype) * (m.sum(1) > 0)  # (P2), the outcome reward at the end
    return rt


def gae(rt: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """(P3): rewards r_t and values V(s_t) [N, T] -> (advantages A_t, returns R_t = A_t + V(s_t)), zero past each
    output's end. The state after the last token is terminal: its value is 0."""
    m = mask.to(values.dtype)
    v = values * m
    A = torch.zeros_like(v)
    running = torch.zeros_like(v[:, 0])
    for t in reversed(range(v.shape[1])):
        v_next = v[:, t + 1] if t + 1 < v.shape[1] else torch.zeros_like(running)  # 0 at a padding column: the end
        delta = rt[:, t] + gamma * v_next - v[:, t]  # (P3)
        running = (delta + gamma * lam * running) * m[:, t]  # (P3), reset to 0 past the end
        A[:, t] = running
    return A, (A + v) * m


def whiten(A: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A_t normalised to mean 0 and std 1 over the real tokens (population std); 0 on padding."""
    m = mask.bool()
    mean, std = A[m].mean(), A[m].std(unbiased=False)
    return torch.where(m, (A - mean) / (std + 1e-8), 0.0)


def policy_loss(logp, old_logp, A, weights, epsilon: float):
    """The negative of (P1) for one (micro-)batch: logp [N, T] log pi_theta (with grad), old_logp [N, T] log pi_old,
    A [N, T] per-token advantages, weights [N, T] (grpo.token_weights). Returns (loss, clip fraction)."""
    ratio = torch.exp(logp - old_logp)  # rho_t
    surrogate = torch.min(ratio * A, ratio.clamp(1 - epsilon, 1 + epsilon) * A)  # (P1)
    with torch.no_grad():
        clipped = ((ratio < 1 - epsilon) & (A < 0)) | ((ratio > 1 + epsilon) & (A > 0))
        m = weights > 0
        frac = clipped[m].float().mean().item() if m.any() else 0.0
    return -(surrogate * weights).sum(), frac


def value_loss(values, old_values, returns, weights, value_clip: float):
    """(P4) for one (micro-)batch: values [N, T] V(s_t) (with grad), old_values V_old, returns R_t, weights [N, T]."""
    loss = (values - returns) ** 2
    if value_clip > 0:
        v_clip = old_values + (values - old_values).clamp(-value_clip, value_clip)
        loss = torch.max(loss, (v_clip - returns) ** 2)  # (P4)
    return 0.5 * (loss * weights).sum()


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(R - V) / Var(R) over the real tokens: 1 for a perfect critic, 0 for one that predicts the mean."""
    m = mask.bool()
    var_r = returns[m].var(unbiased=False)
    return float(1 - (returns[m] - values[m]).var(unbiased=False) / var_r) if var_r > 0 else 0.0


# ----------------------------------------------------------------------------- the critic


class ValueModel(RewardModel):
    """The critic: the reward model's body and scalar head, read at every state s_t = (q, o_<t) instead of once at
    the end. Started from the policy's weights (the same base) with a fresh head."""

    @classmethod
    def like(cls, policy) -> "ValueModel":
        critic = cls(policy.cfg)
        critic.body.load_state_dict(policy.state_dict())
        return critic.to(next(policy.parameters()).device)

    def token_values(self, prompt_ids, prompt_mask, tokens, mask, G: int) -> torch.Tensor:
        """V(s_t) [N, T]: the head on the hidden state BEFORE each output token (the prompt's last state for t = 1),
        as completion_logprobs reads the state that predicts o_t."""
        cache, h_last = self.body.prefix_cache(prompt_ids, prompt_mask, G)  # [N, D]
        h = self.body(tokens, mask, cache=cache, return_hidden=True)  # [N, T, D]
        h = torch.cat([h_last[:, None], h[:, :-1]], dim=1)  # the state before each token
        return self.head(h.float()).squeeze(-1)


# ----------------------------------------------------------------------------- the trainer


class PPOTrainer:
    """Holds pi_theta, the critic V, pi_ref and two optimizers; `step(problems)` is one PPO step. Same interface and
    logged figures as GRPOTrainer, plus the critic's (value_loss, explained_var, critic_s) and adv_var."""

    def __init__(self, policy, tok, prompt_fn, reward_fn, cfg: GRPOConfig, ppo: PPOConfig):
        cfg.validate()
        ppo.validate()
        if dist.world_size() > 1:
            raise ConfigError("PPO runs in one process here (torchrun data parallelism is GRPO's)")
        self.policy, self.tok, self.prompt_fn, self.reward_fn = policy, tok, prompt_fn, reward_fn
        self.cfg, self.ppo = cfg, ppo
        self.device = next(policy.parameters()).device
        self.critic = ValueModel.like(policy)
        self.ref = frozen_copy(policy) if cfg.beta > 0 else None
        adamw = dict(betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        self.opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, **adamw)
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=ppo.critic_lr, **adamw)
        self.step_idx = 0

    def step(self, problems) -> dict:
        """One PPO step on a batch of questions. Returns the step's logged figures."""
        cfg, ppo, t0 = self.cfg, self.ppo, time.time()
        # 1. pi_old <- pi_theta: G outputs o per question, and their rule rewards r(q, o)
        self.policy.eval()
        seed = cfg.seed * 1_000_003 + self.step_idx  # the draws GRPO's step would make
        ro = sample_rollout(self.policy, self.tok, problems, self.prompt_fn, self.reward_fn, cfg, seed)
        t_sample = time.time() - t0
        # 2. V_old(s_t) from the critic, and the per-token rewards of (P2)
        old_values = self.values(ro, grad=False)
        t_critic = time.time() - t0 - t_sample
        old_logp, ref_logp = self.old_and_ref_logprobs(ro)
        rt = token_rewards(ro.rewards.view(-1).to(self.device), old_logp, ref_logp, ro.mask, cfg.beta)  # (P2)
        kl = None if ref_logp is None else old_logp - ref_logp  # per token, for the log
        # 3. GAE (P3): per-token advantages A_t and returns R_t
        A, R = gae(rt, old_values, ro.mask, ppo.gamma, ppo.lam)
        raw_var = A[ro.mask].var(unbiased=False).item()
        if ppo.whiten:
            A = whiten(A, ro.mask)
        # 4. mu epochs over the same rollout: the policy on (P1), the critic on (P4)
        plan = UpdatePlan.of(ro.rewards, ro.mask, cfg.micro_batch, run_all=True)
        weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens, n_rows=plan.n_rows, n_tokens=plan.n_tokens)
        for opt in (self.opt, self.critic_opt):
            for g in opt.param_groups:
                g["lr"] = self.lr_at(self.step_idx, cfg.lr if opt is self.opt else ppo.critic_lr)
        log, v_loss = UpdateLog(cfg.mu, plan.run_tokens), 0.0
        for inner in range(cfg.mu):
            t1 = time.time()
            v_loss += self.update_critic(ro, old_values, R, weights, plan) / cfg.mu
            t_critic += time.time() - t1
            self.update_policy(ro, A, weights, kl, plan, log, inner)
        self.step_idx += 1
        t_train = time.time() - t0 - t_sample - t_critic
        lr = self.lr_at(self.step_idx - 1, cfg.lr)
        figures = log.figures(ro, plan, cfg.G, self.step_idx, lr, t_sample, t_train, A)
        return {**figures, "critic_s": t_critic, "value_loss": v_loss, "adv_var_raw": raw_var,
                "explained_var": explained_variance(old_values, R, ro.mask)}  # fmt: skip

    def values(self, ro, grad: bool, rows=slice(None), qs=slice(None), T=None) -> torch.Tensor:
        """V(s_t) of the rollout's rows (all, or one micro-batch's questions qs and their rows), float32."""
        T = T or ro.tokens.shape[1]
        batch = (ro.prompt_ids[qs], ro.prompt_mask[qs], ro.tokens[rows, :T], ro.mask[rows, :T], self.cfg.G)
        with torch.set_grad_enabled(grad), autocast(self.device, self.cfg.precision):
            return self.critic.token_values(*batch).float()

    def old_and_ref_logprobs(self, ro):
        """(log pi_old, log pi_ref) [N, T] for the KL penalty of (P2), both in the update's precision; (None, None)
        when beta = 0."""
        if self.ref is None:
            return None, None
        batch = (ro.prompt_ids, ro.prompt_mask, ro.tokens, ro.mask, self.cfg.G, self.cfg.temperature)
        with torch.no_grad(), autocast(self.device, self.cfg.precision):
            return tuple(completion_logprobs(m, *batch)[0].float() for m in (self.policy, self.ref))

    def update_critic(self, ro, old_values, R, weights, plan: UpdatePlan) -> float:
        """One optimizer step of the critic on (P4); returns its loss."""
        self.critic_opt.zero_grad(set_to_none=True)
        total = 0.0
        for qs, rs, T in plan.micro_batches(self.critic, ro.mask, self.cfg.G, (), autocast_of(self)):
            V = self.values(ro, grad=True, rows=rs, qs=qs, T=T)
            loss = value_loss(V, old_values[rs, :T], R[rs, :T], weights[rs, :T], self.ppo.value_clip)  # (P4)
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(self.critic.parameters(), self.cfg.grad_clip)
        self.critic_opt.step()
        return total

    def update_policy(self, ro, A, weights, kl_tok, plan: UpdatePlan, log: UpdateLog, inner: int) -> None:
        """One optimizer step of the policy on (P1), over micro-batches whose losses add up to the batch's."""
        cfg = self.cfg
        self.opt.zero_grad(set_to_none=True)
        for qs, rs, T in plan.micro_batches(self.policy, ro.mask, cfg.G, (), autocast_of(self)):
            m = ro.mask[rs, :T]
            batch = (ro.prompt_ids[qs], ro.prompt_mask[qs], ro.tokens[rs, :T], m, cfg.G, cfg.temperature)
            with autocast(self.device, cfg.precision):
                logp, ent = completion_logprobs(self.policy, *batch)  # log pi_theta, with gradients
            # pi_old: with mu = 1 it is pi_theta itself (rho = 1); else the sampler's log-probs, as in GRPO
            old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]
            loss, clip_frac = policy_loss(logp, old_logp, A[rs, :T], weights[rs, :T], cfg.epsilon)  # (P1)
            loss.backward()
            kl = 0.0 if kl_tok is None else kl_tok[rs, :T][m].mean().item()  # log(pi_old / pi_ref), as in (P2)
            log.add(inner, loss.item(), {"kl": kl, "clip_frac": clip_frac}, logp, ent, ro.sampler_logp[rs, :T], m)
        log.grad_norm += torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip).item() / cfg.mu
        self.opt.step()

    def lr_at(self, step: int, lr: float) -> float:
        return lr * min(1.0, (step + 1) / max(1, self.cfg.warmup))

    def state_dict(self) -> dict:
        ref = None if self.ref is None else self.ref.state_dict()
        return {"policy": self.policy.state_dict(), "ref": ref, "opt": self.opt.state_dict(), "step_idx": self.step_idx,
                "critic": self.critic.state_dict(), "critic_opt": self.critic_opt.state_dict()}  # fmt: skip

    def load_state_dict(self, sd: dict) -> None:
        if "critic" not in sd:
            raise ConfigError("this checkpoint holds no critic: it is a GRPO run's, not a PPO run's")
        self.policy.load_state_dict(sd["policy"])
        if self.ref is not None and sd["ref"] is not None:
            self.ref.load_state_dict(sd["ref"])
        self.opt.load_state_dict(sd["opt"])
        self.critic.load_state_dict(sd["critic"])
        self.critic_opt.load_state_dict(sd["critic_opt"])
        self.step_idx = sd["step_idx"]


def autocast_of(trainer):
    return lambda: autocast(trainer.device, trainer.cfg.precision)
