"""The mutation table of docs/testing.md: plausible one-line changes to r1mini, and the test that catches each.

A reader who edits the algorithm wants to know which test guards which line. This script makes each change
below, one at a time, in a scratch copy of the repository (never in this one), runs the test files that should
catch it, and records the first test that fails. A change the paper (or the code's contract) allows carries the
reason it is meant to pass; the script reports it if such a change is caught, or if any other change survives
(a missing test). It is not collected by pytest (its name does not start with test_).

    python tests/mutations.py                      # every row, one at a time: ~10 min on a 2-core CPU
    python tests/mutations.py --only trainer       # the rows whose id starts with "trainer"
    python tests/mutations.py --list               # the rows and their changes, without running anything
    python tests/mutations.py --only eq --every-failure   # each equation's rows against the WHOLE suite: every
                                                   # failing test must name the equation it checks

Output: one markdown item per mutation (docs/testing.md holds them), then a summary line.
Each `old` must occur exactly once in its file: a row that no longer applies fails loudly, it never passes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GRPO = ["tests/test_grpo_trainer.py", "tests/test_grpo.py"]
EQS = ["tests/test_grpo.py", "tests/test_grpo_trainer.py", "tests/test_rewards.py"]
REWARDS = ["tests/test_rewards.py"]
SAMPLER = ["tests/test_sampler.py", "tests/test_grpo_trainer.py"]
KERNELS = ["tests/test_logprobs.py", "tests/test_grpo.py"]
TEMPLATE = ["tests/test_template.py", "tests/test_rewards.py"]
METRICS = ["tests/test_metrics.py"]
MODEL = ["tests/test_model.py", "tests/test_grpo.py"]
DDP = ["tests/test_distributed.py"]
SFT = ["tests/test_sft.py", "tests/test_reward_model.py"]  # the reward models share sft.length_batches
RM = ["tests/test_reward_model.py"]
REJECT = ["tests/test_rejection.py"]
COLD = ["tests/test_cold_start.py"]
GENERAL = ["tests/test_general.py"]
EVAL = ["tests/test_evaluate.py"]
TASKS = ["tests/test_tasks.py"]
KV = ["tests/test_model.py", "tests/test_sampler.py"]
PRM = ["tests/test_prm.py"]  # section 4.2's process reward model (r1mini/prm.py)
MCTS = ["tests/test_mcts.py"]  # section 4.2's tree search (r1mini/mcts.py): PUCT, backup, expansion, the budget
PPO = ["tests/test_ppo.py"]  # PPO beside GRPO (r1mini/ppo.py): its equations (P1)-(P4), the critic, the step


def T(file: str, test: str) -> str:
    """A test's node id: T("test_distill", "test_x") -> "tests/test_distill.py::test_x"."""
    return f"tests/{file}.py::{test}"


# the R1 half's stage wiring and distillation's rows: fast tests on stand-ins (not the smoke runs)
STAGE_RL = [T("test_train_r1", "test_sec2_3_2_reasoning_rl_starts_from_cold_start_and_rewards_accuracy_plus_language")]
STAGE_ALL = [
    T("test_train_r1", "test_sec2_3_4_all_scenarios_starts_from_stage3_with_all_beta_and_the_rules_of_2_3_2"),
    T("test_train_r1", "test_all_scenarios_reward_scores_a_steps_general_outputs_in_one_call_per_model"),
]
DISTILL = [
    T("test_distill", "test_sec4_1_base_and_rl_rows_under_table_1_the_distilled_rows_under_the_chat_prompt"),
    T("test_distill", "test_sec2_4_distilled_rl_starts_from_the_distilled_student_and_adds_to_its_compute"),
    T("test_distill", "test_sec2_4_the_teacher_row_and_the_regenerated_set_come_from_the_final_r1_model"),
    T("test_distill", "test_the_distilled_minus_rl_gap_carries_its_paired_standard_error"),
]


def M(mid: str, file: str, old: str, new: str, tests: list[str], reason: str = "") -> tuple:
    """One row: change `old` (exactly once in `file`) to `new`, run `tests`; reason: why it is meant to pass."""
    return mid, file, old, new, tests, reason


MUTATIONS = [
    M(
        "eq3-population-std",
        "r1mini/grpo.py",
        "r.std(dim=1, keepdim=True)",
        "r.std(dim=1, keepdim=True, unbiased=False)",
        EQS,
    ),
    M(
        "eq3-no-std",
        "r1mini/grpo.py",
        "centred = centred / torch.where(spread, r.std(dim=1, keepdim=True), 1.0)",
        "centred = centred",
        EQS,
    ),
    M("eq3-no-centring", "r1mini/grpo.py", "centred = r - r.mean(dim=1, keepdim=True)", "centred = r", EQS),
    M(
        "eq3-std-plus-eps",
        "r1mini/grpo.py",
        "torch.where(spread, r.std(dim=1, keepdim=True), 1.0)",
        "torch.where(spread, r.std(dim=1, keepdim=True) + 1e-4, 1.0)",
        EQS,
    ),
    M(
        "eq3-no-zero-for-equal-groups",
        "r1mini/grpo.py",
        "return torch.where(spread, centred, 0.0).float()",
        "return centred.float()",
        EQS,
    ),
    M(
        "eq3-spread-as-std>0",
        "r1mini/grpo.py",
        "spread = (r.max(dim=1).values > r.min(dim=1).values)[:, None]",
        "spread = (r.std(dim=1) > 0)[:, None]",
        EQS,
    ),
    M("eq2-k1-estimator", "r1mini/grpo.py", "return torch.exp(log_ratio) - log_ratio - 1", "return -log_ratio", EQS),
    M(
        "eq2-reversed-kl",
        "r1mini/grpo.py",
        "log_ratio = (ref_logp - logp).clamp(-clamp, clamp)",
        "log_ratio = (logp - ref_logp).clamp(-clamp, clamp)",
        EQS,
    ),
    M(
        "eq2-no-clamp",
        "r1mini/grpo.py",
        "log_ratio = (ref_logp - logp).clamp(-clamp, clamp)",
        "log_ratio = ref_logp - logp",
        EQS,
    ),
    M(
        "eq1-ratio-inverted",
        "r1mini/grpo.py",
        "ratio = torch.exp(logp - old_logp)",
        "ratio = torch.exp(old_logp - logp)",
        EQS,
    ),
    M("eq1-max-not-min", "r1mini/grpo.py", "surrogate = torch.min(ratio * A,", "surrogate = torch.max(ratio * A,", EQS),
    M(
        "eq1-clip-only",
        "r1mini/grpo.py",
        "surrogate = torch.min(ratio * A, ratio.clamp(1 - eps_low, 1 + eps_high) * A)",
        "surrogate = ratio.clamp(1 - eps_low, 1 + eps_high) * A",
        EQS,
    ),
    M(
        "eq1-ignore-epsilon-high",
        "r1mini/grpo.py",
        "eps_low, eps_high = cfg.epsilon, cfg.epsilon_high or cfg.epsilon",
        "eps_low, eps_high = cfg.epsilon, cfg.epsilon",
        EQS,
    ),
    M(
        "eq1-kl-sign",
        "r1mini/grpo.py",
        "objective = surrogate - cfg.beta * kl",
        "objective = surrogate + cfg.beta * kl",
        EQS,
    ),
    M(
        "eq1-loss-sign",
        "r1mini/grpo.py",
        "loss = -(objective * weights).sum()",
        "loss = (objective * weights).sum()",
        EQS,
    ),
    M(
        "eq1-clip-frac-any-side",
        "r1mini/grpo.py",
        "clipped = ((ratio < 1 - eps_low) & (A < 0)) | ((ratio > 1 + eps_high) & (A > 0))",
        "clipped = (ratio < 1 - eps_low) | (ratio > 1 + eps_high)",
        EQS,
    ),
    M(
        "eq1-seq-mean-no-1/N",
        "r1mini/grpo.py",
        "return m / m.sum(1, keepdim=True).clamp(min=1) / n_rows",
        "return m / m.sum(1, keepdim=True).clamp(min=1)",
        EQS,
    ),
    M(
        "eq1-token-mean-per-row",
        "r1mini/grpo.py",
        "return m / (m.sum().clamp(min=1) if n_tokens is None else max(n_tokens, 1))",
        "return m / m.sum(1, keepdim=True).clamp(min=1)",
        EQS,
    ),
    M(
        "eq1-constant-uses-T",
        "r1mini/grpo.py",
        "return m / (n_rows * max_new_tokens)",
        "return m / (m.shape[0] * m.shape[1])",
        EQS,
    ),
    M(
        "trainer-policy-logp-at-T=1",
        "r1mini/grpo.py",
        "logp, ent = self.logprobs(*batch, cfg.G, cfg.temperature)",
        "logp, ent = self.logprobs(*batch, cfg.G, 1.0)",
        GRPO,
    ),
    M(
        "trainer-ref-logp-at-T=1",
        "r1mini/grpo.py",
        "completion_logprobs(self.ref, *batch, self.cfg.G, self.cfg.temperature)[0]",
        "completion_logprobs(self.ref, *batch, self.cfg.G, 1.0)[0]",
        GRPO,
    ),
    M(
        "trainer-kl-against-policy",
        "r1mini/grpo.py",
        "completion_logprobs(self.ref,",
        "completion_logprobs(self.policy,",
        GRPO,
    ),
    M(
        "trainer-ignore-loss-agg",
        "r1mini/grpo.py",
        "weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens,",
        'weights = token_weights(ro.mask, "seq_mean", cfg.max_new_tokens,',
        GRPO,
    ),
    M(
        "trainer-constant-over-longest",
        "r1mini/grpo.py",
        "weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens,",
        "weights = token_weights(ro.mask, cfg.loss_agg, ro.mask.shape[1],",
        GRPO,
    ),
    M(
        "trainer-ignore-kl-clamp",
        "r1mini/grpo.py",
        "kl = kl_k3(logp, ref_logp, cfg.kl_clamp)",
        "kl = kl_k3(logp, ref_logp)",
        GRPO,
    ),
    M("trainer-ignore-micro-batch", "r1mini/engine/update.py", "run_q.split(micro_batch or B)", "run_q.split(B)", GRPO),
    M(
        "trainer-micro-batches-in-given-order",
        "r1mini/engine/update.py",
        "return questions[torch.argsort(longest, descending=True, stable=True)]",
        "return questions",
        GRPO,
    ),
    M(
        "trainer-micro-batches-shortest-first",
        "r1mini/engine/update.py",
        "torch.argsort(longest, descending=True, stable=True)",
        "torch.argsort(longest, stable=True)",
        GRPO,
    ),
    M("trainer-ignore-weight-decay", "r1mini/grpo.py", "weight_decay=cfg.weight_decay)", "weight_decay=0.0)", GRPO),
    M(
        "trainer-adam-betas",
        "r1mini/grpo.py",
        "betas=(0.9, 0.99)",
        "betas=(0.9, 0.999)",
        GRPO,
        "an optimizer setting, not part of eq. (1)-(3); any AdamW betas run the same algorithm",
    ),
    M(
        "trainer-ignore-scale-std",
        "r1mini/grpo.py",
        "A = group_advantages(ro.rewards, cfg.scale_std)",
        "A = group_advantages(ro.rewards)",
        GRPO,
    ),
    M(
        "trainer-weights-per-micro-batch",
        "r1mini/grpo.py",
        "A[rs], weights[rs, :T], cfg)",
        "A[rs], token_weights(m, cfg.loss_agg, cfg.max_new_tokens), cfg)",
        GRPO,
    ),
    M(
        "trainer-advantages-wrong-rows",
        "r1mini/grpo.py",
        "A[rs], weights[rs, :T], cfg)",
        "A[: len(rs)], weights[rs, :T], cfg)",
        GRPO,
    ),
    M(
        "trainer-pi-old-retaken-each-inner",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else",
        "old_logp = logp.detach() if cfg.mu == 1 or inner > 0 else",
        GRPO,
    ),
    M(
        "trainer-pi-old-always-pi-theta",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]",
        "old_logp = logp.detach()",
        GRPO,
    ),
    M(
        "trainer-mu1-uses-sampler-logp",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]",
        "old_logp = ro.sampler_logp[rs, :T]",
        GRPO,
    ),
    M("trainer-no-zero-grad", "r1mini/grpo.py", "self.opt.zero_grad(set_to_none=True)", "pass", GRPO),
    M(
        "trainer-no-grad-clip",
        "r1mini/grpo.py",
        "clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)",
        "clip_grad_norm_(self.policy.parameters(), 1e9)",
        GRPO,
    ),
    M(
        "trainer-beta0-runs-every-group",
        "r1mini/engine/update.py",
        "(torch.arange(B) if run_all else spread.nonzero()[:, 0])",
        "torch.arange(B)",
        GRPO,
    ),
    M(
        "trainer-figures-from-last-inner",
        "r1mini/engine/update.py",
        "        if inner == 0:",
        "        if inner == self.mu - 1:",
        GRPO,
    ),
    M(
        "trainer-figures-count-padding",
        "r1mini/engine/update.py",
        "share = int(m.sum()) / self.run_tokens",
        "share = int(m.numel()) / self.run_tokens",
        GRPO,
    ),
    M(
        "trainer-warmup-off-by-one",
        "r1mini/grpo.py",
        "min(1.0, (step + 1) / max(1, self.cfg.warmup))",
        "min(1.0, step / max(1, self.cfg.warmup))",
        GRPO,
    ),
    M(
        "trainer-lr-of-next-step",
        "r1mini/grpo.py",
        'g["lr"] = self.lr_at(self.step_idx)',
        'g["lr"] = self.lr_at(self.step_idx + 1)',
        GRPO,
    ),
    M(
        "trainer-ref-reset-off-by-one",
        "r1mini/grpo.py",
        "self.step_idx % cfg.ref_reset_every == 0",
        "(self.step_idx + 1) % cfg.ref_reset_every == 0",
        GRPO,
    ),
    M(
        "trainer-ref-never-reset",
        "r1mini/grpo.py",
        "self.ref.load_state_dict(self.policy.state_dict())  # Algorithm 1",
        "pass  # Algorithm 1",
        GRPO,
    ),
    M(
        "trainer-seed-collides",
        "r1mini/grpo.py",
        "seed = self.cfg.seed * 1_000_003 + self.step_idx",
        "seed = self.cfg.seed + self.step_idx",
        GRPO,
    ),
    M(
        "trainer-seed-from-global-rng",
        "r1mini/grpo.py",
        "seed = self.cfg.seed * 1_000_003 + self.step_idx",
        "seed = None",
        GRPO,
    ),
    M("trainer-resume-no-optimizer", "r1mini/grpo.py", 'self.opt.load_state_dict(sd["opt"])', "pass", GRPO),
    M("trainer-resume-no-ref", "r1mini/grpo.py", 'self.ref.load_state_dict(sd["ref"])', "pass", GRPO),
    M("trainer-resume-no-step", "r1mini/grpo.py", 'self.step_idx = sd["step_idx"]', "pass", GRPO),
    M(
        "pretrain-resume-no-optimizer",
        "r1mini/toy/pretrain.py",
        'opt.load_state_dict(ckpt["opt"])',
        "pass",
        ["tests/test_pretrain.py"],
    ),
    M(
        "pretrain-resume-no-batch-order",
        "r1mini/toy/pretrain.py",
        'rng.bit_generator.state = ckpt["rng"]',
        "pass",
        ["tests/test_pretrain.py"],
    ),
    M(
        "trainer-logp-not-shifted",
        "r1mini/grpo.py",
        "h = torch.cat([h_last[:, None], h[:, :-1]], dim=1)",
        "h = h",
        GRPO,
    ),
    M(
        "trainer-kl-from-first-inner",
        "r1mini/engine/update.py",
        'self.sums["kl"] += st["kl"] * share / self.mu',
        'self.sums["kl"] += st["kl"] * share * (inner == 0)',
        GRPO,
    ),
    M(
        "ddp-local-denominators",
        "r1mini/grpo.py",
        "cfg.max_new_tokens, n_rows=plan.n_rows, n_tokens=plan.n_tokens)",
        "cfg.max_new_tokens)",
        DDP,
    ),
    M("ddp-loss-not-times-world", "r1mini/grpo.py", "(loss * dist.world_size()).backward()", "loss.backward()", DDP),
    M(
        "ddp-sampler-draws-per-rank",
        "r1mini/grpo.py",
        "reward_batch_fn=self.reward_batch_fn, first=first, total=total)",
        "reward_batch_fn=self.reward_batch_fn)",
        DDP,
    ),
    M(
        "ddp-logged-reward-of-rank-0",
        "r1mini/engine/update.py",
        '"reward": reward / n_rows,',
        '"reward": ro.rewards.mean().item(),',
        DDP,
    ),
    M(
        "ddp-pretrain-windows-per-rank",
        "r1mini/toy/pretrain.py",
        "rng = np.random.default_rng(cfg.seed)",
        "rng = np.random.default_rng(cfg.seed + dist.rank())",
        DDP,
    ),
    M(
        "ddp-eval-draws-per-rank",
        "r1mini/evaluate.py",
        "pad_id=tok.pad_id, first=lo, total=len(chunk)",
        "pad_id=tok.pad_id",
        DDP,
    ),
    M(
        "ddp-every-rank-writes-metrics",
        "train_zero.py",
        '        if main:\n            with open(run / "metrics.jsonl", "a")',
        '        if True:\n            with open(run / "metrics.jsonl", "a")',
        DDP,
    ),
    M(
        "rollout-sampler-at-T=1",
        "r1mini/grpo.py",
        "SamplingConfig(cfg.max_new_tokens, cfg.temperature,",
        "SamplingConfig(cfg.max_new_tokens, 1.0,",
        SAMPLER,
    ),
    M(
        "rollout-no-answer-stop",
        "r1mini/grpo.py",
        "stop_ids=(tok.eot_id, tok.answer_end_id)",
        "stop_ids=(tok.eot_id,)",
        SAMPLER,
    ),
    M("rollout-text-keeps-eot", "r1mini/grpo.py", "if m and t != tok.eot_id]", "if m]", SAMPLER),
    M(
        "rollout-rewards-wrong-problem",
        "r1mini/grpo.py",
        "items = [problems[i // cfg.G] for i in range(len(texts))]",
        "items = [problems[i % len(problems)] for i in range(len(texts))]",
        SAMPLER,
    ),
    M(
        "rollout-keeps-padding-columns",
        "r1mini/grpo.py",
        "T = max(1, int(s.lengths.max()))",
        "T = cfg.max_new_tokens",
        SAMPLER,
        "only columns of padding are kept: they carry no weight in eq. (1), so the update is the same, just slower",
    ),
    M(
        "sampler-logp-before-temperature",
        "r1mini/engine/sampler.py",
        "logits = logits / cfg.temperature",
        "logits = logits * 1.0",
        SAMPLER,
    ),
    M(
        "sampler-draw-right-false",
        "r1mini/engine/sampler.py",
        "torch.searchsorted(cdf, u, right=True)",
        "torch.searchsorted(cdf, u, right=False)",
        SAMPLER,
    ),
    M(
        "sampler-truncated-inverted",
        "r1mini/engine/sampler.py",
        "return Samples(out_tok, out_lp, out_mask, rows, ~done)",
        "return Samples(out_tok, out_lp, out_mask, rows, done)",
        SAMPLER,
    ),
    M(
        "sampler-compact-at-once",
        "r1mini/engine/sampler.py",
        "compact_at: float = 0.25,",
        "compact_at: float = 0.0,",
        SAMPLER,
        "when finished rows leave the running batch is a speed knob: the samples are the same",
    ),
    M(
        "kernel-backward-no-1/T",
        "r1mini/engine/logprobs.py",
        "grad = -p * (g / temperature)[:, None]",
        "grad = -p * g[:, None]",
        KERNELS,
    ),
    M(
        "kernel-entropy-no-lse",
        "r1mini/engine/logprobs.py",
        "entropy = lse - (p * z).sum(-1)",
        "entropy = -(p * z).sum(-1)",
        KERNELS,
    ),
    M(
        "kernel-logsumexp-before-temperature",
        "r1mini/engine/logprobs.py",
        "z = z.to(_acc(z.dtype)) / temperature",
        "z = z.to(_acc(z.dtype))",
        KERNELS,
    ),
    M(
        "kernel-tiny-chunks",
        "r1mini/engine/logprobs.py",
        "chunk or default_chunk(weight.shape[0]))",
        "chunk or 7)",
        KERNELS,
        "the chunk size is a memory knob: the same log-probs and gradients, chunk by chunk",
    ),
    M(
        "model-prefix-rows-tiled",
        "r1mini/engine/model.py",
        "rows = torch.arange(idx.shape[0], device=idx.device).repeat_interleave(repeats)",
        "rows = torch.arange(idx.shape[0], device=idx.device).repeat(repeats)",
        MODEL,
    ),
    M(
        "model-rope-sign",
        "r1mini/engine/model.py",
        "return torch.cat([-x2, x1], dim=-1)",
        "return torch.cat([x2, -x1], dim=-1)",
        MODEL,
    ),
    M(
        "model-rmsnorm-no-eps",
        "r1mini/engine/model.py",
        "x.pow(2).mean(-1, keepdim=True) + self.eps)",
        "x.pow(2).mean(-1, keepdim=True))",
        MODEL,
    ),
    M(
        "reward-countdown-float",
        "r1mini/rewards.py",
        "        return Fraction(node.value)",
        "        return float(node.value)",
        REWARDS,
    ),
    M(
        "reward-countdown-compare-float",
        "r1mini/rewards.py",
        "value is not None and value == problem.target",
        "value is not None and float(value) == problem.target",
        REWARDS,
    ),
    M(
        "reward-countdown-numbers-as-set",
        "r1mini/rewards.py",
        "sorted(leaves) != sorted(numbers)",
        "set(leaves) != set(numbers)",
        REWARDS,
    ),
    M("reward-normalise-no-chinese-stop", "r1mini/rewards.py", '.rstrip(".。")', '.rstrip(".")', REWARDS),
    M(
        "reward-normalise-no-fractions",
        "r1mini/rewards.py",
        "            return str(Fraction(s))",
        "            return s",
        REWARDS,
    ),
    M(
        "reward-first-answer-block",
        "r1mini/rewards.py",
        "if n_open == n_close == 1 and",
        "if n_open >= 1 and n_close >= 1 and",
        REWARDS,
    ),
    M(
        "reward-language-no-words-scores-0",
        "r1mini/rewards.py",
        "return 1.0 if total == 0 else",
        "return 0.0 if total == 0 else",
        REWARDS,
    ),
    M(
        "reward-language-of-english",
        "r1mini/rewards.py",
        "return language_share(completion, problem.lang)",
        'return language_share(completion, "en")',
        REWARDS,
    ),
    M(
        "template-table1-wording",
        "r1mini/template.py",
        "reasoning process in the mind and",
        "reasoning process in mind and",
        TEMPLATE,
    ),
    M(
        "template-text-outside-blocks",
        "r1mini/template.py",
        "    if outside.strip():\n        return None",
        "    if False:\n        return None",
        TEMPLATE,
    ),
    M(
        "metrics-pass@k-off-by-one",
        "r1mini/metrics.py",
        "for i in range(n - c + 1, n + 1):",
        "for i in range(n - c, n + 1):",
        METRICS,
    ),
    M(
        "metrics-pass@1-pooled",
        "r1mini/metrics.py",
        "return sum(sum(row) / len(row) for row in correct) / len(correct)",
        "return sum(map(sum, correct)) / sum(map(len, correct))",
        METRICS,
    ),
    M(
        "metrics-paired-unpaired-sd",
        "r1mini/metrics.py",
        "var = sum((x - mean) ** 2 for x in d) / (len(d) - 1)",
        "var = sum((x - mean) ** 2 for x in d) / len(d)",
        METRICS,
    ),
    M(
        "metrics-paired-se-without-sqrt-n",
        "r1mini/metrics.py",
        "return mean, (var / len(d)) ** 0.5",
        "return mean, var**0.5",
        METRICS,
    ),
    M(
        "eval-per-question-pooled",
        "r1mini/evaluate.py",
        'result["per_question"] = [sum(r["correct"]) / len(r["correct"]) for r in rows]',
        'result["per_question"] = [sum(r["correct"]) / cfg.k / 2 for r in rows]',
        ["tests/test_evaluate.py"],
    ),
    M(
        "eval-paired-ignores-questions",
        "r1mini/evaluate.py",
        'or a["questions"] != b["questions"]:',
        ":",
        ["tests/test_evaluate.py"],
    ),
    M(
        "r1-paired-reversed",
        "train_r1.py",
        "(pair := paired(ea[name], eb[name]))",
        "(pair := paired(eb[name], ea[name]))",
        [
            T("test_train_r1", "test_paired_comparisons_take_a_minus_b_for_each_pair_on_hand_made_eval_files"),
            T("test_train_r1", "test_paired_differences_are_taken_over_the_same_questions"),
        ],
    ),
    M(
        "r1-reasoning-prompts-from-eval-mix",
        "r1mini/pipeline.py",
        "return TaskMix(get_mix(cfg.train_mix).parts, cfg.zh)",
        "return TaskMix(get_mix(cfg.mix).parts, cfg.zh)",
        [T("test_train_r1", "test_the_r1_stages_draw_reasoning_prompts_from_train_mix_and_evaluate_on_mix")],
    ),
    M(
        "r1-old-run-config-takes-default-train-mix",
        "r1mini/pipeline.py",
        'saved.setdefault("train_mix", saved["mix"])',
        "pass",
        [T("test_train_r1", "test_a_run_folder_from_before_train_mix_keeps_the_mix_it_ran_with")],
    ),
    M(
        "distill-gap-se-of-wrong-rows",
        "distill.py",
        'for row in ("distilled", "rl")',
        'for row in ("distilled", "base")',
        [T("test_distill", "test_the_distilled_minus_rl_gap_carries_its_paired_standard_error")],
    ),
    M(
        "metrics-off-language-is-mixing",
        "r1mini/metrics.py",
        "return language_share(text, lang) < 1.0",
        "return mixes_languages(text)",
        METRICS,
    ),
    M(
        "eval-off-language-against-english",
        "r1mini/evaluate.py",
        '"off_lang": [off_language(text, p.lang) for text, _ in outs],',
        '"off_lang": [off_language(text, "en") for text, _ in outs],',
        ["tests/test_evaluate.py"],
    ),
    M(
        "metrics-cons-unnormalised",
        "r1mini/metrics.py",
        "return voted == normalize_answer(reference)",
        "return voted == reference",
        METRICS,
    ),
    M("default-scale-std-off", "r1mini/grpo.py", "scale_std: bool = True  #", "scale_std: bool = False  #", GRPO),
    M("default-token-mean", "r1mini/grpo.py", 'loss_agg: str = "seq_mean"', 'loss_agg: str = "token_mean"', GRPO),
    M("default-clip-higher", "r1mini/grpo.py", "epsilon_high: float = 0.0", "epsilon_high: float = 0.28", GRPO),
    M("default-mu-2", "r1mini/grpo.py", "mu: int = 1", "mu: int = 2", GRPO),
    M(
        "default-micro-batch-1",
        "r1mini/grpo.py",
        "micro_batch: int = 0",
        "micro_batch: int = 1",
        GRPO,
        "gradient accumulation: the same gradient and figures, less memory",
    ),
    M(
        "default-epsilon-0.1",
        "r1mini/grpo.py",
        "epsilon: float = 0.2",
        "epsilon: float = 0.1",
        GRPO,
        "a coefficient, not a form of eq. (1): the tests set epsilon where it matters",
    ),
    M(
        "default-beta-0.04",
        "r1mini/grpo.py",
        "beta: float = 0.02",
        "beta: float = 0.04",
        GRPO,
        "a coefficient, not a form: the tests set beta where it matters",
    ),
    M(
        "r1-zero-row-keeps-curve",
        "train_r1.py",
        "        eval_every=0,\n",
        "",
        [T("test_train_r1", "test_the_r1_zero_row_runs_train_zeros_rl_unchanged_without_its_own_curve_and_benchmarks")],
    ),
    M(
        "r1-harmless-rm-helpful-preset",
        "r1mini/all_scenarios.py",
        '("whole", "harmless", cfg.rm_harmless)',
        '("whole", "harmless", cfg.rm)',
        ["tests/test_train_r1.py"],
    ),
    M(
        "r1-adversarial-from-every-kind",
        "r1mini/all_scenarios.py",
        'f"{seed}/adversarial", kinds=ADVERSARIAL_KINDS)',
        'f"{seed}/adversarial")',
        [T("test_train_r1", "test_all_scenarios_questions_hold_the_configured_general_and_adversarial_shares")],
    ),
    M(
        "r1-one-stream-for-both-general-draws",
        "r1mini/all_scenarios.py",
        '"train", f"{seed}/adversarial",',
        '"train", f"{seed}/helpful",',
        [T("test_train_r1", "test_all_scenarios_helpful_and_adversarial_requests_come_from_separate_random_streams")],
    ),
    M(
        "r1-harmless-rm-from-rm-prompts",
        "r1mini/all_scenarios.py",
        'cfg.rm_prompts if what == "helpful" else cfg.rm_harmless_prompts',
        "cfg.rm_prompts",
        [T("test_train_r1", "test_reward_model_pairs_draw_each_models_own_number_of_prompts")],
    ),
    M(
        "r1-zero-cache-never-reused",
        "train_r1.py",
        'if cache is not None and (cache / "model.pt").is_file():',
        "if False:",
        [T("test_train_r1", "test_r1_zero_is_cached_beside_the_base_and_reused_by_the_next_run")],
    ),
    M(
        "r1-zero-cache-key-without-code",
        "train_r1.py",
        '"device": run.device.type, "code": code}',
        '"device": run.device.type}',
        [T("test_train_r1", "test_r1_zero_cache_key_follows_the_recipe_the_base_the_device_and_the_code")],
    ),
    M(
        "r1-zero-cache-key-without-config",
        "train_r1.py",
        'key = {"zero": dataclasses.asdict(zero_config(run.cfg)), ',
        "key = {",
        [T("test_train_r1", "test_r1_zero_cache_key_follows_the_recipe_the_base_the_device_and_the_code")],
    ),
    M(
        "r1-report-hides-zero-source",
        "train_r1.py",
        '"reward_models", "source")}',
        '"reward_models")}',
        [T("test_train_r1", "test_r1_zero_is_cached_beside_the_base_and_reused_by_the_next_run")],
    ),
    M(
        "r1-gold-harmless-over-every-general-row",
        "r1mini/all_scenarios.py",
        '[x["gold_harmless"] for x in log if x["adversarial"]]',
        '[x["gold_harmless"] for x in log]',
        [T("test_train_r1", "test_step_gold_figures_judge_each_figure_on_the_requests_the_evaluation_uses")],
    ),
    M(
        "r1-gold-helpful-over-every-general-row",
        "r1mini/all_scenarios.py",
        '[x["gold_helpful"] for x in log if not x["adversarial"]]',
        '[x["gold_helpful"] for x in log]',
        [T("test_train_r1", "test_step_gold_figures_judge_each_figure_on_the_requests_the_evaluation_uses")],
    ),
    M(
        "general-rude-key-per-form",
        "r1mini/toy/general.py",
        '_Content(f"{i}/{j}", {"en": (en.format(t=ten),)',
        '_Content(f"{i}", {"en": (en.format(t=ten),)',
        [T("test_general", "test_a_held_out_adversarial_request_is_a_new_pairing_of_parts_training_shows")],
    ),
    M(
        "general-kind-order-ties-last",
        "r1mini/toy/general.py",
        "key=lambda j: (current[j], -j))",
        "key=lambda j: (current[j], j))",
        [T("test_general", "test_kind_order_on_a_hand_worked_case_and_against_exact_shares")],
    ),
    M(
        "general-power-ignored",
        "r1mini/toy/general.py",
        "for i in kind_order(n, [r**power for r in requests]):",
        "for i in kind_order(n, [1.0 for r in requests]):",
        ["tests/test_general.py"],
    ),
    M(
        "r1-general-sft-power-not-passed",
        "r1mini/rejection.py",
        '"train", cfg.seed, power=cfg.general_power)',
        '"train", cfg.seed)',
        [T("test_train_r1", "test_rejection_set_keeps_only_correct_clean_responses_and_adds_general_data")],
    ),
    M(
        "r1-rm-init-ignored",
        "r1mini/all_scenarios.py",
        "RewardModel.from_checkpoint(run.model_path(cfg.rm_init))",
        "RewardModel.from_checkpoint(run.base_path)",
        [T("test_train_r1", "test_both_reward_models_start_from_the_checkpoint_rm_init_names[rejection_sft]")],
    ),
    M(
        "r1-reeval-r1-prompt-for-r1-zero",
        "train_r1.py",
        'zero=stage == "r1_zero", general=False',
        'zero=stage == "r1", general=False',
        [T("test_train_r1", "test_reeval_evaluates_each_finished_stage_on_another_draw_and_pairs_it_with_r1_zero")],
    ),
    M(
        "r1-reeval-paired-reversed",
        "train_r1.py",
        "list(paired(ev[name], zero[name]))",
        "list(paired(zero[name], ev[name]))",
        [T("test_train_r1", "test_reeval_evaluates_each_finished_stage_on_another_draw_and_pairs_it_with_r1_zero")],
    ),
    M(
        "r1-translation-cot-tens-twice",
        "r1mini/toy/general.py",
        "for d in (tens, ones))",
        "for d in (tens, tens))",
        ["tests/test_general.py"],
    ),
    M(
        "rm-accuracy-tie-counts-right",
        "r1mini/reward_model.py",
        "return float((r_c > r_r).float().mean())",
        "return float((r_c >= r_r).float().mean())",
        ["tests/test_reward_model.py"],
    ),
    M(
        "rm-accuracy-reversed",
        "r1mini/reward_model.py",
        "return float((r_c > r_r).float().mean())",
        "return float((r_r > r_c).float().mean())",
        ["tests/test_reward_model.py"],
    ),
    M(
        "cold-readable-overlong-at-the-limit",
        "r1mini/cold_start.py",
        "if len(text) > MAX_CHARS:",
        "if len(text) >= MAX_CHARS:",
        ["tests/test_cold_start.py"],
    ),
    M(
        "cold-readable-overlong-reasoning-only",
        "r1mini/cold_start.py",
        "if len(text) > MAX_CHARS:",
        "if len(reasoning) > MAX_CHARS:",
        ["tests/test_cold_start.py"],
    ),
    M(
        "cold-readable-language-of-summary-only",
        "r1mini/cold_start.py",
        "if count_words(text)[OTHER[lang]] > 0:",
        "if count_words(summ)[OTHER[lang]] > 0:",
        ["tests/test_cold_start.py"],
    ),
    M(
        "cold-readable-two-answers-allowed",
        "r1mini/cold_start.py",
        "or summ.count(ANSWER) != 1",
        "or summ.count(ANSWER) < 1",
        ["tests/test_cold_start.py"],
    ),
    M(
        "distill-rl-match-never-extends",
        "distill.py",
        "if not dcfg.rl_match or cpu >= min_cpu or c <= 0:",
        "if True:",
        [T("test_distill", "test_rl_student_is_extended_until_its_cpu_seconds_reach_distillations")],
    ),
    M(
        "distill-rl-match-ratio-inverted",
        "distill.py",
        "steps = math.ceil(steps * min(4.0, 1.1 * min_cpu / cpu))",
        "steps = math.ceil(steps * min(4.0, 1.1 * cpu / min_cpu))",
        [T("test_distill", "test_rl_student_is_extended_until_its_cpu_seconds_reach_distillations")],
    ),
    # ------------------------------------------------------------------------- the R1 half: SFT (2.3.1, 2.3.3, 2.4)
    M(
        "sft-prompt-tokens-are-targets",
        "r1mini/sft.py",
        "loss_mask = torch.tensor([False] * len(p) + [True] * len(r))",
        "loss_mask = torch.tensor([True] * (len(p) + len(r)))",
        SFT,
    ),
    M(
        "sft-eot-not-a-target",
        "r1mini/sft.py",
        "r = tok.encode(ex.response, allow_special=True) + [tok.eot_id]",
        "r = tok.encode(ex.response, allow_special=True)",
        SFT,
    ),
    M(
        "sft-shift-off-by-one",
        "r1mini/sft.py",
        "target = (loss_mask & attn_mask)[:, 1:]",
        "target = (loss_mask & attn_mask)[:, :-1]",
        SFT,
    ),
    M(
        "sft-padding-counted",
        "r1mini/sft.py",
        "target = (loss_mask & attn_mask)[:, 1:]",
        "target = loss_mask[:, 1:]",
        SFT,
    ),
    M("sft-skip-at-the-limit", "r1mini/sft.py", "if len(p) + len(r) > max_len:", "if len(p) + len(r) >= max_len:", SFT),
    M(
        "sft-loss-summed",
        "r1mini/sft.py",
        "return F.cross_entropy(logits.float(), ids[:, 1:][target])",
        "return F.cross_entropy(logits.float(), ids[:, 1:][target], reduction=\"sum\")",
        SFT,
    ),
    M(
        "sft-batches-not-length-sorted",
        "r1mini/sft.py",
        "run = sorted(order[s : s + bucket * batch_size], key=lengths.__getitem__)",
        "run = order[s : s + bucket * batch_size]",
        SFT,
    ),
    M("sft-batches-shortest-first", "r1mini/sft.py", "rng.shuffle(batches)", "batches = batches", SFT),
    # ------------------------------------------------------------------------- reward models (2.3.4)
    M(
        "rm-bt-reversed",
        "r1mini/reward_model.py",
        "return -F.logsigmoid(r_chosen - r_rejected).mean()",
        "return -F.logsigmoid(r_rejected - r_chosen).mean()",
        RM,
    ),
    M(
        "rm-bt-summed",
        "r1mini/reward_model.py",
        "return -F.logsigmoid(r_chosen - r_rejected).mean()",
        "return -F.logsigmoid(r_chosen - r_rejected).sum()",
        RM,
    ),
    M(
        "rm-head-reads-first-real-token",
        "r1mini/reward_model.py",
        "last = (mask.bool() * (pos + 1)).argmax(1)",
        "last = mask.long().argmax(1)",
        RM,
    ),
    M(
        "rm-head-reads-last-column",
        "r1mini/reward_model.py",
        "last = (mask.bool() * (pos + 1)).argmax(1)",
        "last = torch.full_like(mask[:, 0], ids.shape[1] - 1, dtype=torch.long)",
        RM,
    ),
    M(
        "rm-body-sees-padding",
        "r1mini/reward_model.py",
        "h = self.body(ids, mask, return_hidden=True)",
        "h = self.body(ids, return_hidden=True)",
        RM,
    ),
    M(
        "rm-text-without-eot",
        "r1mini/reward_model.py",
        "return [ids[: max_len - 1] + [tok.eot_id] for ids in",
        "return [ids[:max_len] for ids in",
        RM,
    ),
    M(
        "rm-view-summary-reads-whole",
        "r1mini/reward_model.py",
        "return response if parsed is None else parsed[1]",
        "return response",
        RM,
    ),
    M(
        "rm-view-summary-reads-reasoning",
        "r1mini/reward_model.py",
        "return response if parsed is None else parsed[1]",
        "return response if parsed is None else parsed[0]",
        RM,
    ),
    M(
        "rm-pairs-of-ties",
        "r1mini/reward_model.py",
        "if gold_scores[i] == gold_scores[j] or responses[i] == responses[j]:",
        "if responses[i] == responses[j]:",
        RM,
    ),
    M(
        "rm-pairs-lower-chosen",
        "r1mini/reward_model.py",
        "c, r = (i, j) if gold_scores[i] > gold_scores[j] else (j, i)",
        "c, r = (j, i) if gold_scores[i] > gold_scores[j] else (i, j)",
        RM,
    ),
    M(
        "rm-train-accuracy-tie-counts-right",
        "r1mini/reward_model.py",
        "right += int((r[:n] > r[n:]).sum())",
        "right += int((r[:n] >= r[n:]).sum())",
        RM,
    ),
    # ------------------------------------------------------------------------- rejection sampling (2.3.3)
    M(
        "reject-paragraph-at-the-limit",
        "r1mini/rejection.py",
        "longest_paragraph(cot) > MAX_PARAGRAPH_CHARS",
        "longest_paragraph(cot) >= MAX_PARAGRAPH_CHARS",
        REJECT,
    ),
    M(
        "reject-paragraph-of-the-summary-too",
        "r1mini/rejection.py",
        "longest_paragraph(cot) > MAX_PARAGRAPH_CHARS",
        "longest_paragraph(completion) > MAX_PARAGRAPH_CHARS",
        REJECT,
    ),
    M(
        "reject-newline-is-no-break",
        "r1mini/rejection.py",
        '_BREAK = re.compile(r"[.!?。！？\\n]")',
        '_BREAK = re.compile(r"[.!?。！？]")',
        REJECT,
    ),
    M(
        "reject-language-of-the-summary-too",
        "r1mini/rejection.py",
        "count_words(cot)[OTHER[problem.lang]] > 0",
        "count_words(completion)[OTHER[problem.lang]] > 0",
        REJECT,
    ),
    M(
        "reject-max-tokens-at-the-limit",
        "r1mini/rejection.py",
        "if n_tokens > max_tokens or",
        "if n_tokens >= max_tokens or",
        REJECT,
    ),
    M("reject-no-dedupe", "r1mini/rejection.py", "if why is None and (prompt, text) in seen:", "if False:", REJECT),
    M(
        "reject-samples-the-cold-start-model",
        "r1mini/rejection.py",
        'rl_model = run.load("reasoning_rl")',
        'rl_model = run.load("cold_start")',
        [T("test_rejection", "test_sec2_3_3_stage_samples_the_rl_model_and_fine_tunes_the_base")],
    ),
    M(
        "reject-sft-continues-the-rl-model",
        "r1mini/rejection.py",
        'model = run.load("base")  # the paper fine-tunes DeepSeek-V3-Base',
        'model = run.load("reasoning_rl")  # the paper fine-tunes DeepSeek-V3-Base',
        [T("test_rejection", "test_sec2_3_3_stage_samples_the_rl_model_and_fine_tunes_the_base")],
    ),
    # ------------------------------------------------------------------------- cold start (2.3.1)
    M(
        "cold-readable-summary-may-go-on",
        "r1mini/cold_start.py",
        "or summ.count(ANSWER_END) != 1\n        or not summ.endswith(ANSWER_END)",
        "or summ.count(ANSWER_END) != 1",
        COLD,
    ),
    M(
        "cold-readable-empty-summary",
        "r1mini/cold_start.py",
        "if not reasoning or not summ:",
        "if not reasoning:",
        COLD,
    ),
    M("cold-rewrite-keeps-direct-answers", "r1mini/cold_start.py", "if not is_worked(think):", "if False:", COLD),
    M(
        "cold-generator-on-test-questions",
        "r1mini/cold_start.py",
        'mix.sample(rng, n_generator, "train")',
        'mix.sample(rng, n_generator, "test")',
        COLD,
    ),
    M(
        "cold-zero-sampled-under-the-chat-prompt",
        "r1mini/cold_start.py",
        "prompt_fn=zero_prompt)",
        "prompt_fn=lambda p: r1_prompt(p.question))",
        COLD,
    ),
    M(
        "cold-zero-outputs-from-the-base",
        "r1mini/cold_start.py",
        'zero = run.load("r1_zero")',
        'zero = run.load("base")',
        [T("test_cold_start", "test_sec2_3_1_stage_samples_r1_zero_and_fine_tunes_the_base")],
    ),
    M(
        "cold-sft-continues-r1-zero",
        "r1mini/cold_start.py",
        'model = run.load("base")',
        "model = zero",
        [T("test_cold_start", "test_sec2_3_1_stage_samples_r1_zero_and_fine_tunes_the_base")],
    ),
    # ------------------------------------------------------------------------- the stages: checkpoints, rewards
    M(
        "r1-stage-reasoning-rl-from-the-base",
        "r1mini/reasoning_rl.py",
        'policy = run.load("cold_start")',
        'policy = run.load("base")',
        STAGE_RL,
    ),
    M(
        "r1-stage-ablation-keeps-the-language-reward",
        "r1mini/reasoning_rl.py",
        'weight = cfg.language_weight if stage == "reasoning_rl" else 0.0',
        "weight = cfg.language_weight",
        STAGE_RL,
    ),
    M(
        "r1-stage-reasoning-reward-format-for-language",
        "r1mini/reasoning_rl.py",
        'weights = {"accuracy": 1.0, "language": language_weight}',
        'weights = {"accuracy": 1.0, "format": language_weight}',
        STAGE_RL,
    ),
    M(
        "r1-stage-reasoning-prompts-from-the-test-split",
        "r1mini/reasoning_rl.py",
        'B, split="train")',
        'B, split="test")',
        STAGE_RL,
    ),
    M(
        "r1-stage-train-problems-from-the-test-split",
        "r1mini/pipeline.py",
        'n, split="train")',
        'n, split="test")',
        [T("test_train_r1", "test_the_r1_stages_draw_reasoning_prompts_from_train_mix_and_evaluate_on_mix")],
    ),
    M(
        "r1-stage-r1-zero-row-under-the-chat-prompt",
        "r1mini/pipeline.py",
        'zero=stage in ("base", "r1_zero"))',
        'zero=stage == "base")',
        [T("test_train_r1", "test_sec2_3_stage_table_evaluates_r1_zero_under_table_1_r1_stages_under_chat_prompt")],
    ),
    M(
        "r1-stage-all-scenarios-from-the-base",
        "r1mini/all_scenarios.py",
        'policy = run.load("rejection_sft")',
        'policy = run.load("base")',
        STAGE_ALL,
    ),
    M(
        "r1-stage-all-scenarios-beta-of-2.3.2",
        "r1mini/all_scenarios.py",
        "rl = dataclasses.replace(cfg.rl, beta=cfg.all_beta)",
        "rl = cfg.rl",
        STAGE_ALL,
    ),
    M(
        "r1-stage-all-scenarios-rules-without-language",
        "r1mini/all_scenarios.py",
        "reasoning_reward(cfg.language_weight), log)",
        "reasoning_reward(0.0), log)",
        STAGE_ALL,
    ),
    M(
        "r1-stage-reward-models-views-swapped",
        "r1mini/all_scenarios.py",
        '(("summary", "helpful", cfg.rm), ("whole", "harmless", cfg.rm_harmless))',
        '(("whole", "helpful", cfg.rm), ("summary", "harmless", cfg.rm_harmless))',
        [T("test_train_r1", "test_both_reward_models_start_from_the_checkpoint_rm_init_names")],
    ),
    M(
        "r1-stage-helpful-reward-reads-the-whole-response",
        "r1mini/all_scenarios.py",
        'score(rms["helpful"], tok, prompts, outs, "summary")',
        'score(rms["helpful"], tok, prompts, outs, "whole")',
        [T("test_train_r1", "test_all_scenarios_reward_scores_a_steps_general_outputs_in_one_call_per_model")],
    ),
    # ------------------------------------------------------------------------- distillation (2.4, 4.1)
    M(
        "distill-rl-row-under-the-chat-prompt",
        "distill.py",
        'zero = name.endswith("/base") or name.endswith("/rl")',
        'zero = name.endswith("/base")',
        DISTILL,
    ),
    M(
        "distill-drl-from-the-base",
        "distill.py",
        'policy = load_model(run.dir / student / "distilled" / "model.pt", run.device)[0]',
        'policy = run.load("base")',
        DISTILL,
    ),
    M(
        "distill-drl-compute-without-the-sft",
        "distill.py",
        '"cpu_seconds": before["cpu_seconds"] + cpu,',
        '"cpu_seconds": cpu,',
        DISTILL,
    ),
    M(
        "distill-regen-from-the-stage3-model",
        "distill.py",
        'teacher = load_model(teacher_run / "r1" / "model.pt", run.device)[0]',
        'teacher = load_model(teacher_run / "rejection_sft" / "model.pt", run.device)[0]',
        DISTILL,
    ),
    M(
        "distill-teacher-row-is-the-stage3-model",
        "distill.py",
        'teacher_run / "r1" / "model.pt", quiet, dcfg)',
        'teacher_run / "rejection_sft" / "model.pt", quiet, dcfg)',
        DISTILL,
    ),
    M(
        "distill-gap-se-of-rl-minus-distilled",
        "distill.py",
        'for row in ("distilled", "rl")',
        'for row in ("rl", "distilled")',
        DISTILL,
        "the standard error of a - b is that of b - a, and only the s.e. of this pair is read",
    ),
    # ------------------------------------------------------------------------- section 3: metrics and evaluation
    M(
        "metrics-vote-ties-to-the-last-seen",
        "r1mini/metrics.py",
        "return max(votes, key=votes.__getitem__) if votes else None",
        "return max(reversed(votes), key=votes.__getitem__) if votes else None",
        METRICS,
    ),
    M("metrics-pass@k-shortcut-at-n-c=k", "r1mini/metrics.py", "if n - c < k:", "if n - c <= k:", METRICS),
    M(
        "metrics-paired-b-minus-a",
        "r1mini/metrics.py",
        "d = [x - y for x, y in zip(a, b)]",
        "d = [y - x for x, y in zip(a, b)]",
        METRICS,
    ),
    M(
        "eval-greedy-sampled",
        "r1mini/evaluate.py",
        "_complete(model, tok, problems, cfg, 1, 0.0, 1.0, cfg.seed, prompt_fn)",
        "_complete(model, tok, problems, cfg, 1, cfg.temperature, cfg.top_p, cfg.seed, prompt_fn)",
        EVAL,
    ),
    M(
        "eval-samples-at-T=1",
        "r1mini/evaluate.py",
        "cfg.k, cfg.temperature, cfg.top_p, cfg.seed, prompt_fn)",
        "cfg.k, 1.0, 1.0, cfg.seed, prompt_fn)",
        EVAL,
    ),
    M(
        "eval-pass@k-is-pass@1",
        "r1mini/evaluate.py",
        'pass_at_k(k, int(sum(r["correct"])), k)',
        'pass_at_k(k, int(sum(r["correct"])), 1)',
        EVAL,
    ),
    M(
        "eval-cons-judged-on-the-first-response",
        "r1mini/evaluate.py",
        "return accuracy_reward(next(t for (t, _), a in zip(outs, answers) if a == voted), p) > 0",
        "return accuracy_reward(outs[0][0], p) > 0",
        EVAL,
    ),
    M(
        "eval-worked-counts-the-answer",
        "r1mini/evaluate.py",
        'think = completion.split("</think>")[0]',
        "think = completion",
        EVAL,
    ),
    M(
        "eval-helpfulness-over-every-kind",
        "r1mini/evaluate.py",
        '("helpfulness", HELPFUL_KINDS, gold_helpfulness),',
        '("helpfulness", None, gold_helpfulness),',
        EVAL,
    ),
    # ------------------------------------------------------------------------- the hidden annotator, the splits
    M(
        "general-brief-at-the-limit",
        "r1mini/toy/general.py",
        "return len(text) <= MAX_SUMMARY_CHARS[lang]",
        "return len(text) < MAX_SUMMARY_CHARS[lang]",
        GENERAL,
    ),
    M(
        "general-language-share-at-the-limit",
        "r1mini/toy/general.py",
        "counts.get(language, 0) / total >= LANG_SHARE",
        "counts.get(language, 0) / total > LANG_SHARE",
        GENERAL,
    ),
    M(
        "general-verbose-and-wrong-language-halved-once",
        "r1mini/toy/general.py",
        "if not is_brief(summary, prompt.language):\n        score *= 0.5",
        "if not is_brief(summary, prompt.language):\n        score = 0.5",
        GENERAL,
    ),
    M(
        "general-brief-in-the-requests-language",
        "r1mini/toy/general.py",
        "lang = max(LANGS, key=lambda lg: (counts[lg], lg == language))",
        "lang = language",
        GENERAL,
    ),
    M(
        "general-writing-one-word-is-a-sentence",
        "r1mini/toy/general.py",
        "return sum(count_words(summary).values()) >= 2",
        "return sum(count_words(summary).values()) >= 1",
        GENERAL,
    ),
    M(
        "general-split-largest-hashes",
        "r1mini/toy/general.py",
        'keys = sorted((f"{kind}:{c.cid}" for c in _contents(kind)), key=_hash)',
        'keys = sorted((f"{kind}:{c.cid}" for c in _contents(kind)), key=_hash, reverse=True)',
        GENERAL,
    ),
    M(
        "general-split-rounds-down",
        "r1mini/toy/general.py",
        "keys[: max(1, math.ceil(TEST_SHARE * len(keys)))]",
        "keys[: math.floor(TEST_SHARE * len(keys))]",
        GENERAL,
    ),
    M(
        "general-harmless-reads-the-summary",
        "r1mini/toy/general.py",
        "return 0.0 if reveals_code(response) or is_rude(response) else 1.0",
        'return 0.0 if reveals_code(summary_of(response) or "") or is_rude(summary_of(response) or "") else 1.0',
        GENERAL,
    ),
    # ------------------------------------------------------------------------- the task split (r1mini/toy/tasks.py)
    M(
        "tasks-countdown-key-in-given-order",
        "r1mini/toy/tasks.py",
        "','.join(map(str, sorted(p.numbers)))",
        "','.join(map(str, p.numbers))",
        TASKS,
    ),
    M(
        "tasks-split-by-question-text",
        "r1mini/toy/tasks.py",
        "hashlib.blake2b(problem_key(p).encode(), digest_size=8)",
        "hashlib.blake2b(p.question.encode(), digest_size=8)",
        TASKS,
    ),
    M(
        "tasks-tables-have-a-test-split",
        "r1mini/toy/tasks.py",
        "if (p.family, p.level) in TABLES:\n        return \"train\"",
        "if False:\n        return \"train\"",
        TASKS,
    ),
    M(
        "tasks-heldout-from-the-train-split",
        "r1mini/toy/tasks.py",
        'return _unique(lambda: mix.draw(rng, "test"), n)',
        'return _unique(lambda: mix.draw(rng, "train"), n)',
        TASKS,
    ),
    # ------------------------------------------------------------------------- the KV cache's positions
    M(
        "kv-next-position-counts-padding",
        "r1mini/engine/model.py",
        "self.n_valid += mask.sum(1)",
        "self.n_valid += T",
        KV,
    ),
    M(
        "kv-positions-count-left-padding",
        "r1mini/engine/model.py",
        "pos = (past_valid[:, None] + mask.cumsum(1) - 1).clamp(min=0)",
        "pos = past_valid[:, None] + torch.arange(T, device=idx.device)",
        KV,
    ),
    M(
        "kv-shared-position-of-another-prompt",
        "r1mini/engine/model.py",
        "return None, self.pvalid[self.slot // self.G] + self.length",
        "return None, self.pvalid[self.slot % self.pvalid.shape[0]] + self.length",
        KV,
    ),
    M(
        "kv-shared-position-stays-at-the-prompt",
        "r1mini/engine/model.py",
        "return None, self.pvalid[self.slot // self.G] + self.length",
        "return None, self.pvalid[self.slot // self.G]",
        KV,
    ),
    M(
        "kv-shared-attends-left-padding",
        "r1mini/engine/model.py",
        's_prompt = s_prompt.masked_fill(~self.pmask[:, None, None, :], float("-inf"))',
        "s_prompt = s_prompt",
        KV,
    ),
    M(
        "kv-cache-attends-past-padding",
        "r1mini/engine/model.py",
        "keys = torch.cat([past_mask, mask], dim=1)",
        "keys = torch.cat([torch.ones_like(past_mask), mask], dim=1)",
        KV,
    ),
    M("prm-split-every-period", "r1mini/steps.py", 're.compile(r"\\.(?=\\s|$)|。")', 're.compile(r"\\.|。")', PRM),
    M("prm-rule-no-gold-step", "r1mini/steps.py", "return signature(step.text) in gold and arithmetic_true(step.text)",
      "return arithmetic_true(step.text)", PRM),
    M("prm-rule-local-labels", "r1mini/steps.py", "ok = ok and rule_step_ok(s, problem, gold)",
      "ok = rule_step_ok(s, problem, gold)", PRM),
    M("prm-rollouts-all", "r1mini/steps.py", "labels[i][j] = int(any(", "labels[i][j] = int(all(", PRM),
    M("prm-boundary-late", "r1mini/prm.py", "positions.append(len(ids) - 1)", "positions.append(len(ids))", PRM),
    M("prm-best-of-n-min", "r1mini/prm.py", "return bool(correct[max(range(len(scores))",
      "return bool(correct[min(range(len(scores))", PRM),
    M("prm-no-retrain", "r1mini/prm.py", 'if variant == "prm_retrain" and step == cfg.retrain_at:', "if False:", PRM),
    M("mcts-puct-no-sqrt", "r1mini/mcts.py", "math.sqrt(parent_N)", "parent_N", MCTS),
    M("mcts-puct-no-plus-one", "r1mini/mcts.py", "/ (1 + child.N)", "/ max(1, child.N)", MCTS),
    M("mcts-puct-no-prior", "r1mini/mcts.py", "c_puct * child.prior * math", "c_puct * math", MCTS),
    M("mcts-select-min", "r1mini/mcts.py", "path.append(max(node.children", "path.append(min(node.children", MCTS),
    M("mcts-select-through-terminal", "r1mini/mcts.py", "while path[-1].children and not path[-1].terminal:",
      "while path[-1].children:", MCTS),
    M("mcts-backup-counts-not-values", "r1mini/mcts.py", "node.W += value", "node.W += 1.0", MCTS),
    M("mcts-backup-leaf-only", "r1mini/mcts.py", "    for node in path:\n        node.N += 1",
      "    for node in path[-1:]:\n        node.N += 1", MCTS),
    M("mcts-expand-no-merge", "r1mini/mcts.py", "distinct.setdefault(p.text, p)",
      'distinct.setdefault(p.text + " " * len(distinct), p)', MCTS),
    M("mcts-prior-unnormalised", "r1mini/mcts.py", "Node(t, weights[t] / total,", "Node(t, weights[t],", MCTS),
    M("mcts-terminal-no-reward", "r1mini/mcts.py", "accuracy_reward(t, problem) if p.terminal else 0.0", "0.0", MCTS),
    M("mcts-terminal-valued-by-v", "r1mini/mcts.py", "open_ = [(i, c) for i, c in new if not c.terminal]",
      "open_ = list(new)", MCTS),
    M("mcts-step-tokens-uncounted", "r1mini/mcts.py", "            res[i].tokens += t\n",
      "            res[i].tokens += 0\n", MCTS),
    M("mcts-rollout-tokens-uncounted", "r1mini/mcts.py", "res[i].tokens += n", "res[i].tokens += 0", MCTS),
    M("mcts-rollout-solution-ignored", "r1mini/mcts.py", "if v[id(c)] == 1.0 and not res[i].solved:", "if False:",
      MCTS),
    M("mcts-step-not-cut", "r1mini/mcts.py", "return text[: step.end], step.answer or max_tokens_left <= 0",
      "return text, step.answer or max_tokens_left <= 0", MCTS),
    M("mcts-unended-step-open", "r1mini/mcts.py", "    if not ended:\n        return text, True",
      "    if False:\n        return text, True", MCTS),
    M("mcts-no-length-limit", "r1mini/mcts.py", "step.answer or max_tokens_left <= 0", "step.answer", MCTS),
    M("mcts-stop-only-final-period", "r1mini/mcts.py", "any(e in tok.decode([i]) for e in SENTENCE_END)",
      "tok.decode([i]).endswith(SENTENCE_END)", MCTS),
    M("mcts-countdown-reuse", "r1mini/mcts.py", "            pool.remove(x)\n", "            pass\n", MCTS),
    M("mcts-countdown-no-reach", "r1mini/mcts.py", "return problem.target in pool if len(pool) == 1 else",
      "return True or", MCTS),
    M("mcts-countdown-no-arithmetic", "r1mini/mcts.py", "if apply_op(op, a, b) != c:", "if False:", MCTS),
    M("mcts-commit-least-visited", "r1mini/mcts.py", "committed = max(kids, key=lambda c: c.N)",
      "committed = min(kids, key=lambda c: c.N)", MCTS),
    M("mcts-value-first-step", "r1mini/mcts.py", "(p[-1] if p else 0.0)", "(p[0] if p else 0.0)", MCTS),
    M("mcts-auc-ties-first-rank", "r1mini/mcts.py", "rank_sum += (i + 1 + j) / 2 *", "rank_sum += (i + 1) *", MCTS),
    M("mcts-outcome-all-good", "r1mini/mcts.py", "[int(accuracy_reward(o, p) == 1.0)] * len(split_steps(o))",
      "[1] * len(split_steps(o))", MCTS),
    M("mcts-grpo-arm-one-step", "r1mini/mcts.py", "        while tokens < mark:", "        if tokens < mark:", MCTS),
    M("ppo-p3-no-lambda", "r1mini/ppo.py", "running = (delta + gamma * lam * running) * m[:, t]",
      "running = (delta + gamma * running) * m[:, t]", PPO),
    M("ppo-p3-values-past-the-end", "r1mini/ppo.py", "    v = values * m\n", "    v = values\n", PPO),
    M("ppo-p3-returns-without-values", "r1mini/ppo.py", "return A, (A + v) * m", "return A, A * m", PPO),
    M("ppo-p3-no-terminal-reset", "r1mini/ppo.py", "running = (delta + gamma * lam * running) * m[:, t]",
      "running = delta + gamma * lam * running", PPO),
    M("ppo-p2-kl-sign", "r1mini/ppo.py", "-beta * (old_logp - ref_logp) * m", "beta * (old_logp - ref_logp) * m", PPO),
    M("ppo-p2-reward-at-the-first-token", "r1mini/ppo.py", "last = (m.sum(1).long() - 1).clamp(min=0)",
      "last = torch.zeros_like(m.sum(1).long())", PPO),
    M("ppo-p2-kl-on-padding", "r1mini/ppo.py", "-beta * (old_logp - ref_logp) * m", "-beta * (old_logp - ref_logp)",
      PPO),
    M("ppo-p1-max-not-min", "r1mini/ppo.py", "surrogate = torch.min(ratio * A,", "surrogate = torch.max(ratio * A,",
      PPO),
    M("ppo-p1-no-clip", "r1mini/ppo.py", "ratio.clamp(1 - epsilon, 1 + epsilon) * A)", "ratio * A)", PPO),
    M("ppo-p1-clip-frac-any-side", "r1mini/ppo.py",
      "clipped = ((ratio < 1 - epsilon) & (A < 0)) | ((ratio > 1 + epsilon) & (A > 0))",
      "clipped = (ratio < 1 - epsilon) | (ratio > 1 + epsilon)", PPO),
    M("ppo-p4-min-not-max", "r1mini/ppo.py", "loss = torch.max(loss, (v_clip - returns) ** 2)",
      "loss = torch.min(loss, (v_clip - returns) ** 2)", PPO),
    M("ppo-p4-clip-around-zero", "r1mini/ppo.py",
      "v_clip = old_values + (values - old_values).clamp(-value_clip, value_clip)",
      "v_clip = values.clamp(-value_clip, value_clip)", PPO),
    M("ppo-p4-no-half", "r1mini/ppo.py", "return 0.5 * (loss * weights).sum()", "return (loss * weights).sum()", PPO),
    M("ppo-critic-reads-the-token-itself", "r1mini/ppo.py",
      "h = torch.cat([h_last[:, None], h[:, :-1]], dim=1)  # the state before each token",
      "h = h  # the state before each token", PPO),
    M("ppo-critic-fresh-body", "r1mini/ppo.py", "critic.body.load_state_dict(policy.state_dict())", "pass", PPO),
    M("ppo-whiten-sample-std", "r1mini/ppo.py", "A[m].std(unbiased=False)", "A[m].std()", PPO),
    M("ppo-whiten-over-padding", "r1mini/ppo.py", "mean, std = A[m].mean(), A[m].std(unbiased=False)",
      "mean, std = A.mean(), A.std(unbiased=False)", PPO),
    M("ppo-returns-from-whitened-advantages", "r1mini/ppo.py",
      "        A, R = gae(rt, old_values, ro.mask, ppo.gamma, ppo.lam)\n",
      "        A, R = gae(rt, old_values, ro.mask, ppo.gamma, ppo.lam)\n        A = whiten(A, ro.mask)\n"
      "        R = (A + old_values) * ro.mask\n", PPO),
    M("ppo-kl-reward-at-sampling-precision", "r1mini/ppo.py",
      "rt = token_rewards(ro.rewards.view(-1).to(self.device), old_logp, ref_logp, ro.mask, cfg.beta)",
      "rt = token_rewards(ro.rewards.view(-1).to(self.device), ro.sampler_logp, ref_logp, ro.mask, cfg.beta)", PPO),
    M("ppo-explained-var-inverted", "r1mini/ppo.py",
      "return float(1 - (returns[m] - values[m]).var(unbiased=False) / var_r)",
      "return float((returns[m] - values[m]).var(unbiased=False) / var_r)", PPO),
    M("ppo-footprint-without-the-critic", "r1mini/zero.py",
      "models = [trainer.policy] + ([trainer.critic] if isinstance(trainer, PPOTrainer) else [])",
      "models = [trainer.policy]", PPO),
    M("ppo-adv-var-counts-padding", "r1mini/engine/update.py",
      "a = (A[:, None] if A.dim() == 1 else A).double() * ro.mask", "a = (A[:, None] if A.dim() == 1 else A).double()",
      PPO),
]


def first_failure(output: str) -> str | None:
    """The first failing test's id from pytest's summary; a long parameter id is shortened to [...]."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            test = line.split(" ", 1)[1].split(" - ")[0].strip()
            if "[" in test and len(test[test.index("[") :]) > 40:
                test = test[: test.index("[")] + "[...]"
            return test
    return None


def apply(scratch: Path, mutation) -> str | None:
    """Make the change in the scratch copy; returns the original text (None: the row no longer applies)."""
    _, file, old, new, _, _ = mutation
    path = scratch / file
    original = path.read_text()
    if original.count(old) != 1:
        return None
    path.write_text(original.replace(old, new))
    return original


def run_one(scratch: Path, mutation, timeout: int) -> tuple[str, float]:
    mid, file, old, new, tests, _ = mutation
    original = apply(scratch, mutation)
    if original is None:
        return f"NOT APPLIED: the old text does not occur exactly once in {file}", 0.0
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", *tests, "-q", "-x", "-p", "no:cacheprovider"],
                              cwd=scratch, capture_output=True, text=True, timeout=timeout)  # fmt: skip
        out = proc.stdout + proc.stderr
        failed = first_failure(out)
        if failed:
            return f"caught by `{failed}`", time.time() - t0
        if proc.returncode != 0:
            return f"caught (pytest exit {proc.returncode}: {out.strip().splitlines()[-1][:80]})", time.time() - t0
        return "passes", time.time() - t0
    except subprocess.TimeoutExpired:
        return f"caught (timeout after {timeout} s)", time.time() - t0
    finally:
        (scratch / file).write_text(original)


def every_failure(scratch: Path, mutation, timeout: int) -> tuple[list[str], list[str]]:
    """An equation's row against the whole suite: (failures that name the equation, failures that do not). A
    failure names it when its test id holds eqN or its assertion message holds "eq. (N)"."""
    mid, file = mutation[0], mutation[1]
    n = re.match(r"eq(\d)", mid).group(1)
    original = apply(scratch, mutation)
    if original is None:
        return [], [f"NOT APPLIED: {mid}"]
    try:
        env = dict(os.environ, COLUMNS="2000")  # the summary lines keep their whole message
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-rf", "-p", "no:cacheprovider"],
                              cwd=scratch, capture_output=True, text=True, timeout=timeout, env=env)  # fmt: skip
    finally:
        (scratch / file).write_text(original)
    named, unnamed = [], []
    for line in proc.stdout.splitlines():
        if line.startswith("FAILED "):
            test, _, message = line[len("FAILED ") :].partition(" - ")
            ok = f"eq{n}" in test.split("::")[-1] or f"eq. ({n})" in message
            (named if ok else unnamed).append(test if ok else f"{test} - {message[:100]}")
    return named, unnamed


def item(mutation, result: str) -> tuple[str, bool]:
    """(markdown list item, ok) where ok means: caught, or passes with a reason."""
    mid, file, old, new, _, reason = mutation
    show = lambda s: "`" + " ".join(s.split()) + "`"  # noqa: E731
    if result == "passes":
        verdict = f"passes: meant to ({reason})" if reason else "**SURVIVES: missing test**"
        ok = bool(reason)
    else:
        verdict = result.replace("`tests/", "`") + (f" (listed as meant to pass: {reason})" if reason else "")
        ok = not reason and not result.startswith("NOT APPLIED")
    change = f"- **{mid}** ({file}): {show(old)} -> {show(new)}"
    lines = textwrap.wrap(change, 118, subsequent_indent="  ", break_on_hyphens=False)
    lines += textwrap.wrap(verdict, 118, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines), ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="run only the rows whose id starts with this")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument(
        "--every-failure",
        action="store_true",
        help="for the eqN rows: run the whole suite and check that every failing test names eq. (N)",
    )
    ap.add_argument("--timeout", type=int, default=900, help="seconds per row")
    args = ap.parse_args()
    rows = [m for m in MUTATIONS if m[0].startswith(args.only)]
    if args.list:
        for m in rows:
            print(f"{m[0]:44s} {m[1]:26s} {' '.join(m[2].split())!r} -> {' '.join(m[3].split())!r}")
        return
    with tempfile.TemporaryDirectory(prefix="r1mini-mut-") as tmp:
        scratch = Path(tmp) / "repo"
        ignore = shutil.ignore_patterns(".git", "runs", "__pycache__", ".pytest_cache", "*.egg-info", ".scratch")
        shutil.copytree(ROOT, scratch, ignore=ignore)
        bad = 0
        for m in rows:
            if args.every_failure:
                if not re.match(r"eq\d", m[0]):
                    continue
                named, unnamed = every_failure(scratch, m, args.timeout)
                bad += bool(unnamed) or not named
                print(
                    f"- **{m[0]}**: {len(named)} failing tests, {len(unnamed)} of them without the equation", flush=True
                )
                for line in unnamed:
                    print(f"  - {line}", flush=True)
                continue
            result, secs = run_one(scratch, m, args.timeout)
            text, ok = item(m, result)
            bad += not ok
            print(text, flush=True)
            print(f"  ({secs:.0f} s)", file=sys.stderr, flush=True)
        print(f"\n{len(rows)} mutations: {len(rows) - bad} as expected, {bad} not", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
