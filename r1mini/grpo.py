"""Section 2.2.1: Group Relative Policy Optimization (GRPO), eq. (1)-(3), as in DeepSeekMath's Algorithm 1.

For each question q, sample a group of G outputs {o_1..o_G} from pi_old, score them with rule-based
rewards r_i, and push pi_theta towards the outputs that beat their own group:

    A_i = (r_i - mean(r_1..r_G)) / std(r_1..r_G)                                          eq. (3)
    J(theta) = 1/G sum_i 1/|o_i| sum_t [ min(rho_it A_i, clip(rho_it, 1-eps_low, 1+eps_high) A_i)
                                         - beta D_KL(pi_theta || pi_ref) ]                eq. (1)
    rho_it = pi_theta(o_it | q, o_i<t) / pi_old(o_it | q, o_i<t)
    D_KL = pi_ref / pi_theta - log(pi_ref / pi_theta) - 1     (per token, always >= 0)    eq. (2)

eps_low = epsilon, eps_high = epsilon_high, where epsilon_high = 0 (the default) means "= epsilon": the
paper's symmetric [1 - epsilon, 1 + epsilon].

Per-token, not per-sequence. The R1 paper writes eq. (1) with one ratio per output,
pi_theta(o_i|q) / pi_old(o_i|q), which is the product of the token ratios, clipped as a whole, and the KL
of whole outputs. We use one ratio and one KL term per token, averaged over the |o_i| tokens of each output,
as DeepSeekMath's own GRPO objective does (arXiv 2402.03300, section 4.1) and the open implementations do.
It is a different objective, not the same one rewritten: clipping each token's ratio is not clipping
their product (an output can move far from pi_old in total while every token stays inside the clip range,
and a clipped token stops only its own gradient, not the whole output's). It is used because the log of
the sequence ratio is a sum of |o_i| per-token log-ratios: its spread grows with the length, so on long
outputs small per-token changes already push the product far outside [1 - epsilon, 1 + epsilon] (then the
clip stops the whole output) or make it huge (then one output dominates the batch): a high-variance,
length-dependent estimate. docs/walkthrough.md shows both ratios for one real group.

No value network: the group mean is the baseline. A group whose G rewards are all equal teaches nothing
about the reward: its advantages are exactly 0 (not a division by a tiny std). std is the sample std
(unbiased, divide by G - 1), as torch.std computes it; the paper does not say which.

Algorithm 1, with the switches readers will want to flip (GRPOConfig's defaults are the paper's shape,
beta = 0.02 > 0 and a kept pi_ref, but mu = 1; train_zero.py's presets override some of them, below):
    for iteration: pi_ref <- pi_theta                     (ref_reset_every steps; 0 = keep the base)
        for step: sample B questions; pi_old <- pi_theta; sample G outputs each (r1mini/engine/sampler.py);
                  rewards (r1mini/rewards.py); A by eq. (3)
            for mu inner updates: maximise eq. (1) by one optimizer step
  (Algorithm 1's line 12, updating the reward model by replay, is left out: our rewards are rules.)
- loss_agg: "seq_mean" (eq. 1: token mean per output, then mean over outputs), "token_mean" (DAPO:
  one mean over all tokens in the batch), "constant" (Dr. GRPO: sum / (N * max_new_tokens)).
- scale_std: divide by the group std in eq. (3) (Dr. GRPO turns it off).
- epsilon_high > epsilon: DAPO's clip-higher. beta = 0: no KL term and no reference model at all; then a
  group whose G rewards are all equal has a gradient of exactly 0, and its rows skip the update (as in DAPO).
- mu = 1: pi_old = pi_theta, so rho = 1 at every token, its gradient is that of log pi_theta, and the clip
  never acts (the clip only bites from the second inner update on). mu > 1: the pi_old log-probs are the
  ones the sampler stored at sampling time (same temperature). The logged kl and clip_frac are token means
  over all mu inner updates (clip_frac is 0 at the first, where rho = 1); entropy and logp_gap are taken at the
  first (pi_theta = pi_old).
- Several processes (`torchrun --nproc_per_node=N train_zero.py`, r1mini/engine/dist.py): each rank samples and
  trains a contiguous share of the B questions, DistributedDataParallel all-reduces the gradients, and every
  denominator of token_weights is the whole step's (output and token counts summed over ranks), so N ranks
  make the update one process makes on all B (tests/test_distributed.py). The bookkeeping (shares, sums over
  ranks, micro-batches under DDP's no_sync) is r1mini/engine/dist.py's; in one process every helper is a no-op.

What the cpu preset of train_zero.py runs (the headline figures in README.md) is beta = 0 and mu = 1:
no KL term, no pi_ref, ratio always 1, clip never active. That is a group-baseline policy gradient
(REINFORCE with the group mean as baseline and std scaling), not the full eq. (1); the run with the
paper's shape (beta > 0, mu = 2, pi_ref kept) is reported beside it in docs/results.md. One step of the
full objective, with real numbers, is docs/walkthrough.md (`python -m r1mini.tools.walkthrough`); every
departure from the paper, with its switch, is listed in docs/paper_map.md. Checks: tests/test_grpo.py.

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

LOSS_AGGS = ("seq_mean", "token_mean", "constant")


@dataclass
class GRPOConfig:
    steps: int = 200  # RL steps (one batch of B questions each)
    questions: int = 16  # B: questions per step
    G: int = 8  # outputs sampled per question
    mu: int = 1  # inner updates per batch
    epsilon: float = 0.2  # clip range of rho, eq. (1): [1 - epsilon, 1 + epsilon]
    epsilon_high: float = (
        0.0  # upper clip 1 + epsilon_high; 0 means "= epsilon" (symmetric); > epsilon = DAPO's clip-higher
    )
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
    """Rewards r [B, G] -> advantages A [B, G] by eq. (3); a group with equal rewards gets exactly 0."""
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


def token_weights(
    mask: torch.Tensor, loss_agg: str, max_new_tokens: int, dtype=torch.float32, n_rows=None, n_tokens=None
) -> torch.Tensor:
    """[N, T] weights w so that the loss is sum_{i,t} w_it * (per-token term). Computed on the whole
    batch, so that micro-batches just add up. n_rows, n_tokens: the batch's output and token counts when
    mask holds only part of it (one rank's share under torchrun; default: mask's own), so that the shares'
    losses add up to the whole batch's."""
    m = mask.to(dtype)
    n_rows = m.shape[0] if n_rows is None else n_rows
    if loss_agg == "seq_mean":  # eq. (1): 1/G sum_i 1/|o_i| sum_t (averaged over all questions too)
        return m / m.sum(1, keepdim=True).clamp(min=1) / n_rows
    if loss_agg == "token_mean":  # DAPO
        return m / (m.sum().clamp(min=1) if n_tokens is None else max(n_tokens, 1))
    return m / (n_rows * max_new_tokens)  # Dr. GRPO: a constant normaliser


def grpo_loss(logp, old_logp, ref_logp, A, weights, cfg: GRPOConfig):
    """The negative of eq. (1) for one (micro-)batch.

    logp [N, T] log pi_theta (with grad); old_logp [N, T] log pi_old; ref_logp [N, T] log pi_ref
    (ignored when beta = 0); A [N] advantages; weights [N, T] from token_weights. Returns (loss, stats).
    """
    ratio = torch.exp(logp - old_logp)  # rho_it
    eps_low, eps_high = cfg.epsilon, cfg.epsilon_high or cfg.epsilon
    A = A[:, None]
    surrogate = torch.min(ratio * A, ratio.clamp(1 - eps_low, 1 + eps_high) * A)  # eq. (1)
    objective = surrogate
    kl = torch.zeros_like(logp)
    if cfg.beta > 0:
        kl = kl_k3(logp, ref_logp, cfg.kl_clamp)  # eq. (2)
        objective = surrogate - cfg.beta * kl  # eq. (1)
    loss = -(objective * weights).sum()
    with torch.no_grad():
        m = weights > 0
        clipped = ((ratio < 1 - eps_low) & (A < 0)) | ((ratio > 1 + eps_high) & (A > 0))
        stats = {
            "kl": kl[m].mean().item() if m.any() else 0.0,
            "clip_frac": clipped[m].float().mean().item() if m.any() else 0.0,
        }
    return loss, stats


# ----------------------------------------------------------------------------- rollouts


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


def sample_rollout(
    policy,
    tok,
    problems,
    prompt_fn,
    reward_fn,
    cfg: GRPOConfig,
    seed: int,
    reward_batch_fn=None,
    first: int = 0,
    total=None,
) -> Rollout:
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
    texts = [
        tok.decode([t for t, m in zip(row, mrow) if m and t != tok.eot_id])
        for row, mrow in zip(tokens.tolist(), mask.tolist())
    ]
    items = [problems[i // cfg.G] for i in range(len(texts))]  # the problem of each output
    scored = (
        reward_batch_fn(texts, items)
        if reward_batch_fn is not None
        else [reward_fn(text, item) for text, item in zip(texts, items)]
    )
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


def longest_first(questions: torch.Tensor, longest: torch.Tensor) -> torch.Tensor:
    """The update's questions ordered by the length of their longest output, longest first (ties keep their order),
    so that consecutive micro-batches hold outputs of similar length and pad little. The loss is normalised by the
    whole step's counts, so the order changes the update only by float rounding.

    >>> longest_first(torch.tensor([0, 1, 2, 3]), torch.tensor([12, 80, 15, 75])).tolist()   # micro_batch 2: [1, 3], [2, 0]
    [1, 3, 2, 0]
    """
    return questions[torch.argsort(longest, descending=True, stable=True)]


class GRPOTrainer:
    """Holds pi_theta, pi_ref and the optimizer; `step(problems)` is one pass of Algorithm 1's inner loop."""

    def __init__(self, policy, tok, prompt_fn, reward_fn, cfg: GRPOConfig, reward_batch_fn=None):
        cfg.validate()
        self.reward_batch_fn = reward_batch_fn  # optional: scores a step's N outputs in one call (see sample_rollout)
        self.policy, self.tok, self.prompt_fn, self.reward_fn, self.cfg = policy, tok, prompt_fn, reward_fn, cfg
        self.device = next(policy.parameters()).device
        self.ref = self._frozen_copy(policy) if cfg.beta > 0 else None  # beta = 0: no pi_ref at all
        self.opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        self.logprobs = dist.ddp(
            dist.Forward(policy, completion_logprobs)
        )  # under torchrun: DDP, whose backward all-reduces the gradients
        self.step_idx = 0

    @staticmethod
    def _frozen_copy(model):
        ref = copy.deepcopy(model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def lr_at(self, step: int) -> float:
        return self.cfg.lr * min(1.0, (step + 1) / max(1, self.cfg.warmup))

    def step(self, problems) -> dict:
        """One step on the step's B questions. Under torchrun every rank is given all B and takes its share
        (dist.my_share); the counts that normalise the loss and the logged figures are the whole step's (dist.sum_max)."""
        cfg, dev, W = self.cfg, self.device, dist.world_size()
        if (
            self.ref is not None
            and cfg.ref_reset_every
            and self.step_idx > 0
            and self.step_idx % cfg.ref_reset_every == 0
        ):
            self.ref.load_state_dict(self.policy.state_dict())  # Algorithm 1: pi_ref <- pi_theta
        first, n_all, problems = dist.my_share(
            problems, "questions per step", "raise --questions"
        )  # all of them in one process
        t0 = time.time()
        self.policy.eval()
        ro = sample_rollout(
            self.policy,
            self.tok,
            problems,
            self.prompt_fn,
            self.reward_fn,
            cfg,
            seed=cfg.seed * 1_000_003 + self.step_idx,
            reward_batch_fn=self.reward_batch_fn,
            first=first,
            total=n_all,
        )
        t_sample = time.time() - t0

        B, G = len(problems), cfg.G
        spread = ro.rewards.max(1).values > ro.rewards.min(1).values  # [B]
        # beta = 0: a group of equal rewards has A = 0 and no KL term, so its gradient is exactly 0 and its
        # rows are not run at all (DAPO drops such groups too). With beta > 0 their KL term still counts.
        run_q = (torch.arange(B) if self.ref is not None else spread.nonzero()[:, 0]).to(dev)
        n_run = len(run_q) * G
        if cfg.micro_batch and n_run:  # longest first: each micro-batch is padded to its own longest output only
            run_q = longest_first(run_q, ro.mask.sum(1).view(B, G).max(1).values[run_q])
        micro = (
            list(run_q.split(cfg.micro_batch or B)) if n_run else []
        )  # micro-batches of questions (none: every group had equal rewards)
        # the whole step's counts (summed over ranks): outputs, tokens, rows and tokens the update runs; most micro-batches of a rank
        counts = dist.sum_max(
            [B * G, int(ro.mask.sum()), n_run, int(ro.mask.reshape(B, -1)[run_q].sum())], [len(micro)]
        )
        n_rows, n_tok, n_run_all, run_tok_all, n_micro = (int(c) for c in counts)

        A = group_advantages(ro.rewards, cfg.scale_std).view(-1).to(dev)  # eq. (3), [N]
        weights = token_weights(
            ro.mask, cfg.loss_agg, cfg.max_new_tokens, n_rows=n_rows, n_tokens=n_tok
        )  # the whole step's denominators
        ref_logp = None
        if self.ref is not None:
            with torch.no_grad(), autocast(dev, cfg.precision):
                ref_logp = completion_logprobs(
                    self.ref, ro.prompt_ids, ro.prompt_mask, ro.tokens, ro.mask, cfg.G, cfg.temperature
                )[0]

        self.policy.train()
        for g in self.opt.param_groups:
            g["lr"] = self.lr_at(self.step_idx)
        agg = {"kl": 0.0, "clip_frac": 0.0, "entropy": 0.0, "logp_gap": 0.0}
        grad_norm = 0.0
        idle = (
            ro.prompt_ids[:1],
            ro.prompt_mask[:1],
            ro.tokens[:G, :1],
            ro.mask[:G, :1],
            G,
            cfg.temperature,
        )  # one question, one column
        for inner in range(cfg.mu):
            self.opt.zero_grad(set_to_none=True)
            # this rank's micro-batches; with fewer than another rank, zero backwards through `idle` join the all-reduces
            for j in dist.micro_batches(self.logprobs, len(micro), n_micro, idle, lambda: autocast(dev, cfg.precision)):
                qs = micro[j]
                rs = (qs[:, None] * G + torch.arange(G, device=dev)).view(-1)  # their G rows each
                T = int(ro.mask[rs].sum(1).max())  # columns past the longest of these rows carry no weight
                m = ro.mask[rs, :T]
                with autocast(dev, cfg.precision):
                    logp, ent = self.logprobs(
                        ro.prompt_ids[qs], ro.prompt_mask[qs], ro.tokens[rs, :T], m, G, cfg.temperature
                    )
                # pi_old: with mu = 1 pi_old = pi_theta (ratio 1, gradient of the ratio); with mu > 1 the sampler's log-probs
                old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]
                loss, st = grpo_loss(
                    logp, old_logp, None if ref_logp is None else ref_logp[rs, :T], A[rs], weights[rs, :T], cfg
                )
                (
                    loss * W
                ).backward()  # DDP averages over the W ranks: times W, the sum of their shares = the whole step's loss
                share = int(m.sum()) / run_tok_all  # token share: figures are per-token means
                agg["kl"] += st["kl"] * share / cfg.mu  # KL and clip fraction: over all mu inner updates
                agg["clip_frac"] += st["clip_frac"] * share / cfg.mu
                if inner == 0:
                    agg["entropy"] += ent[m].mean().item() * share
                    agg["logp_gap"] += (logp.detach() - ro.sampler_logp[rs, :T])[m].abs().mean().item() * share
            if n_run_all == 0:  # nothing to learn from: still the AdamW step that a zero gradient gives
                for p in self.policy.parameters():
                    p.grad = torch.zeros_like(p)
            gn = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
            grad_norm += gn.item() / cfg.mu
            self.opt.step()
        self.step_idx += 1
        t_train = time.time() - t0 - t_sample
        return self._figures(ro, spread, agg, grad_norm, n_rows, n_run_all, t_sample, t_train)

    def _figures(self, ro, spread, agg, grad_norm, n_rows, n_run_all, t_sample, t_train) -> dict:
        """The step's logged figures, over the whole step (summed over ranks)."""
        lengths = ro.mask.sum(1).float()
        n_tokens = int(lengths.sum()) + int(ro.prompt_mask.sum())
        sums = [
            ro.rewards.sum(),
            *(v.sum() for v in ro.parts.values()),
            lengths.sum(),
            ro.truncated.sum(),
            spread.sum(),
            n_tokens,
            *agg.values(),
        ]
        *tot, longest = dist.sum_max(sums, [lengths.max()])
        reward, parts, (length, truncated, n_spread, tokens, *means) = (
            tot[0],
            tot[1 : 1 + len(ro.parts)],
            tot[1 + len(ro.parts) :],
        )
        n_questions = n_rows // self.cfg.G
        return {
            "step": self.step_idx,
            "reward": reward / n_rows,
            **{f"reward_{k}": v / n_rows for k, v in zip(ro.parts, parts)},
            "response_len": length / n_rows,
            "response_len_max": longest,
            "truncated": truncated / n_rows,
            "zero_spread": 1 - n_spread / n_questions,
            "trained_rows": n_run_all / n_rows,  # share of the N outputs run through the update
            **dict(zip(agg, means)),
            "grad_norm": grad_norm,
            "lr": self.lr_at(self.step_idx - 1),
            "tokens_per_s": tokens / (t_sample + t_train),
            "sample_s": t_sample,
            "train_s": t_train,
            "_texts": dist.all_gather_lists(ro.texts),  # for the run's sample log, not for the metrics file
        }

    def state_dict(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "ref": None if self.ref is None else self.ref.state_dict(),
            "opt": self.opt.state_dict(),
            "step_idx": self.step_idx,
        }

    def load_state_dict(self, sd: dict) -> None:
        self.policy.load_state_dict(sd["policy"])
        if self.ref is not None and sd["ref"] is not None:
            self.ref.load_state_dict(sd["ref"])
        self.opt.load_state_dict(sd["opt"])
        self.step_idx = sd["step_idx"]
