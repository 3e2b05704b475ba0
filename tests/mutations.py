"""The mutation table of docs/testing.md: plausible one-line changes to r1mini, and the test that catches each.

A reader who edits the algorithm wants to know which test guards which line. This script makes each change
below, one at a time, in a scratch copy of the repository (never in this one), runs the test files that should
catch it, and records the first test that fails. A change the paper (or the code's contract) allows carries the
reason it is meant to pass; the script reports it if such a change is caught, or if any other change survives
(a missing test). It is not collected by pytest (its name does not start with test_).

    python tests/mutations.py                 # every row, one at a time: ~30 min on a 2-core CPU
    python tests/mutations.py --only trainer  # the rows whose id starts with "trainer"
    python tests/mutations.py --list          # the rows, without running anything

Output: one markdown table row per mutation (paste into docs/testing.md), then a summary line.
Each `old` must occur exactly once in its file: a row that no longer applies fails loudly, it never passes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
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

# (id, file, old, new, test files, reason it is meant to pass or "")
MUTATIONS = [
    # ------------------------------------------------------------------ eq. (3): group_advantages
    (
        "eq3-population-std",
        "r1mini/grpo.py",
        "r.std(dim=1, keepdim=True)",
        "r.std(dim=1, keepdim=True, unbiased=False)",
        EQS,
        "",
    ),
    ("eq3-no-centring", "r1mini/grpo.py", "centred = r - r.mean(dim=1, keepdim=True)", "centred = r", EQS, ""),
    (
        "eq3-std-plus-eps",
        "r1mini/grpo.py",
        "torch.where(spread, r.std(dim=1, keepdim=True), 1.0)",
        "torch.where(spread, r.std(dim=1, keepdim=True) + 1e-4, 1.0)",
        EQS,
        "",
    ),
    (
        "eq3-no-zero-for-equal-groups",
        "r1mini/grpo.py",
        "return torch.where(spread, centred, 0.0).float()",
        "return centred.float()",
        EQS,
        "",
    ),
    (
        "eq3-spread-as-std>0",
        "r1mini/grpo.py",
        "spread = (r.max(dim=1).values > r.min(dim=1).values)[:, None]",
        "spread = (r.std(dim=1) > 0)[:, None]",
        EQS,
        "",
    ),
    # ------------------------------------------------------------------ eq. (2): kl_k3
    ("eq2-k1-estimator", "r1mini/grpo.py", "return torch.exp(log_ratio) - log_ratio - 1", "return -log_ratio", EQS, ""),
    (
        "eq2-reversed-kl",
        "r1mini/grpo.py",
        "log_ratio = (ref_logp - logp).clamp(-clamp, clamp)",
        "log_ratio = (logp - ref_logp).clamp(-clamp, clamp)",
        EQS,
        "",
    ),
    (
        "eq2-no-clamp",
        "r1mini/grpo.py",
        "log_ratio = (ref_logp - logp).clamp(-clamp, clamp)",
        "log_ratio = ref_logp - logp",
        EQS,
        "",
    ),
    # ------------------------------------------------------------------ eq. (1): grpo_loss, token_weights
    (
        "eq1-ratio-inverted",
        "r1mini/grpo.py",
        "ratio = torch.exp(logp - old_logp)",
        "ratio = torch.exp(old_logp - logp)",
        EQS,
        "",
    ),
    (
        "eq1-max-not-min",
        "r1mini/grpo.py",
        "surrogate = torch.min(ratio * A,",
        "surrogate = torch.max(ratio * A,",
        EQS,
        "",
    ),
    (
        "eq1-clip-only",
        "r1mini/grpo.py",
        "surrogate = torch.min(ratio * A, ratio.clamp(1 - eps_low, 1 + eps_high) * A)",
        "surrogate = ratio.clamp(1 - eps_low, 1 + eps_high) * A",
        EQS,
        "",
    ),
    (
        "eq1-ignore-epsilon-high",
        "r1mini/grpo.py",
        "eps_low, eps_high = cfg.epsilon, cfg.epsilon_high or cfg.epsilon",
        "eps_low, eps_high = cfg.epsilon, cfg.epsilon",
        EQS,
        "",
    ),
    (
        "eq1-kl-sign",
        "r1mini/grpo.py",
        "objective = surrogate - cfg.beta * kl",
        "objective = surrogate + cfg.beta * kl",
        EQS,
        "",
    ),
    (
        "eq1-loss-sign",
        "r1mini/grpo.py",
        "loss = -(objective * weights).sum()",
        "loss = (objective * weights).sum()",
        EQS,
        "",
    ),
    (
        "eq1-clip-frac-any-side",
        "r1mini/grpo.py",
        "clipped = ((ratio < 1 - eps_low) & (A < 0)) | ((ratio > 1 + eps_high) & (A > 0))",
        "clipped = (ratio < 1 - eps_low) | (ratio > 1 + eps_high)",
        EQS,
        "",
    ),
    (
        "eq1-seq-mean-no-1/N",
        "r1mini/grpo.py",
        "return m / m.sum(1, keepdim=True).clamp(min=1) / n_rows",
        "return m / m.sum(1, keepdim=True).clamp(min=1)",
        EQS,
        "",
    ),
    (
        "eq1-token-mean-per-row",
        "r1mini/grpo.py",
        "return m / (m.sum().clamp(min=1) if n_tokens is None else max(n_tokens, 1))",
        "return m / m.sum(1, keepdim=True).clamp(min=1)",
        EQS,
        "",
    ),
    (
        "eq1-constant-uses-T",
        "r1mini/grpo.py",
        "return m / (n_rows * max_new_tokens)",
        "return m / (m.shape[0] * m.shape[1])",
        EQS,
        "",
    ),
    # ------------------------------------------------------------------ the trainer: GRPOTrainer.step and helpers
    (
        "trainer-policy-logp-at-T=1",
        "r1mini/grpo.py",
        "ro.tokens[rs, :T], m, G, cfg.temperature)",
        "ro.tokens[rs, :T], m, G, 1.0)",
        GRPO,
        "",
    ),
    (
        "trainer-ref-logp-at-T=1",
        "r1mini/grpo.py",
        "ro.tokens, ro.mask, cfg.G, cfg.temperature)[0]",
        "ro.tokens, ro.mask, cfg.G, 1.0)[0]",
        GRPO,
        "",
    ),
    (
        "trainer-kl-against-policy",
        "r1mini/grpo.py",
        "ref_logp = completion_logprobs(self.ref,",
        "ref_logp = completion_logprobs(self.policy,",
        GRPO,
        "",
    ),
    (
        "trainer-ignore-loss-agg",
        "r1mini/grpo.py",
        "weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens,",
        'weights = token_weights(ro.mask, "seq_mean", cfg.max_new_tokens,',
        GRPO,
        "",
    ),
    (
        "trainer-constant-over-longest",
        "r1mini/grpo.py",
        "weights = token_weights(ro.mask, cfg.loss_agg, cfg.max_new_tokens,",
        "weights = token_weights(ro.mask, cfg.loss_agg, ro.mask.shape[1],",
        GRPO,
        "",
    ),
    (
        "trainer-ignore-kl-clamp",
        "r1mini/grpo.py",
        "kl = kl_k3(logp, ref_logp, cfg.kl_clamp)",
        "kl = kl_k3(logp, ref_logp)",
        GRPO,
        "",
    ),
    (
        "trainer-ignore-micro-batch",
        "r1mini/grpo.py",
        "run_q.split(cfg.micro_batch or B)",
        "run_q.split(B)",
        GRPO,
        "",
    ),  # the gradient is the same by design; the micro-batches are not
    (
        "trainer-micro-batches-in-given-order",
        "r1mini/grpo.py",
        "return questions[torch.argsort(longest, descending=True, stable=True)]",
        "return questions",
        GRPO,
        "",
    ),
    (
        "trainer-micro-batches-shortest-first",
        "r1mini/grpo.py",
        "torch.argsort(longest, descending=True, stable=True)",
        "torch.argsort(longest, stable=True)",
        GRPO,
        "",
    ),
    ("trainer-ignore-weight-decay", "r1mini/grpo.py", "weight_decay=cfg.weight_decay)", "weight_decay=0.0)", GRPO, ""),
    (
        "trainer-adam-betas",
        "r1mini/grpo.py",
        "betas=(0.9, 0.99)",
        "betas=(0.9, 0.999)",
        GRPO,
        "an optimizer setting, not part of eq. (1)-(3); any AdamW betas run the same algorithm",
    ),
    (
        "trainer-ignore-scale-std",
        "r1mini/grpo.py",
        "A = group_advantages(ro.rewards, cfg.scale_std)",
        "A = group_advantages(ro.rewards)",
        GRPO,
        "",
    ),
    (
        "trainer-weights-per-micro-batch",
        "r1mini/grpo.py",
        "A[rs], weights[rs, :T], cfg)",
        "A[rs], token_weights(m, cfg.loss_agg, cfg.max_new_tokens), cfg)",
        GRPO,
        "",
    ),
    (
        "trainer-advantages-wrong-rows",
        "r1mini/grpo.py",
        "A[rs], weights[rs, :T], cfg)",
        "A[: len(rs)], weights[rs, :T], cfg)",
        GRPO,
        "",
    ),
    (
        "trainer-pi-old-retaken-each-inner",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else",
        "old_logp = logp.detach() if cfg.mu == 1 or inner > 0 else",
        GRPO,
        "",
    ),
    (
        "trainer-pi-old-always-pi-theta",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]",
        "old_logp = logp.detach()",
        GRPO,
        "",
    ),
    (
        "trainer-mu1-uses-sampler-logp",
        "r1mini/grpo.py",
        "old_logp = logp.detach() if cfg.mu == 1 else ro.sampler_logp[rs, :T]",
        "old_logp = ro.sampler_logp[rs, :T]",
        GRPO,
        "",
    ),
    ("trainer-no-zero-grad", "r1mini/grpo.py", "self.opt.zero_grad(set_to_none=True)", "pass", GRPO, ""),
    (
        "trainer-no-grad-clip",
        "r1mini/grpo.py",
        "clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)",
        "clip_grad_norm_(self.policy.parameters(), 1e9)",
        GRPO,
        "",
    ),
    (
        "trainer-beta0-runs-every-group",
        "r1mini/grpo.py",
        "(torch.arange(B) if self.ref is not None else spread.nonzero()[:, 0])",
        "torch.arange(B)",
        GRPO,
        "",
    ),
    (
        "trainer-figures-from-last-inner",
        "r1mini/grpo.py",
        "                if inner == 0:",
        "                if inner == cfg.mu - 1:",
        GRPO,
        "",
    ),
    (
        "trainer-figures-row-weighted",
        "r1mini/grpo.py",
        "share = int(m.sum()) / run_tok_all",
        "share = len(rs) / n_run_all",
        GRPO,
        "",
    ),
    (
        "trainer-warmup-off-by-one",
        "r1mini/grpo.py",
        "min(1.0, (step + 1) / max(1, self.cfg.warmup))",
        "min(1.0, step / max(1, self.cfg.warmup))",
        GRPO,
        "",
    ),
    (
        "trainer-lr-of-next-step",
        "r1mini/grpo.py",
        'g["lr"] = self.lr_at(self.step_idx)',
        'g["lr"] = self.lr_at(self.step_idx + 1)',
        GRPO,
        "",
    ),
    (
        "trainer-ref-reset-off-by-one",
        "r1mini/grpo.py",
        "self.step_idx % cfg.ref_reset_every == 0",
        "(self.step_idx + 1) % cfg.ref_reset_every == 0",
        GRPO,
        "",
    ),
    (
        "trainer-ref-never-reset",
        "r1mini/grpo.py",
        "self.ref.load_state_dict(self.policy.state_dict())  # Algorithm 1",
        "pass  # Algorithm 1",
        GRPO,
        "",
    ),
    (
        "trainer-seed-collides",
        "r1mini/grpo.py",
        "seed=cfg.seed * 1_000_003 + self.step_idx",
        "seed=cfg.seed + self.step_idx",
        GRPO,
        "",
    ),
    (
        "trainer-seed-from-global-rng",
        "r1mini/grpo.py",
        "seed=cfg.seed * 1_000_003 + self.step_idx",
        "seed=None",
        GRPO,
        "",
    ),
    ("trainer-resume-no-optimizer", "r1mini/grpo.py", 'self.opt.load_state_dict(sd["opt"])', "pass", GRPO, ""),
    ("trainer-resume-no-ref", "r1mini/grpo.py", 'self.ref.load_state_dict(sd["ref"])', "pass", GRPO, ""),
    ("trainer-resume-no-step", "r1mini/grpo.py", 'self.step_idx = sd["step_idx"]', "pass", GRPO, ""),
    (
        "pretrain-resume-no-optimizer",
        "r1mini/toy/pretrain.py",
        'opt.load_state_dict(ckpt["opt"])',
        "pass",
        ["tests/test_pretrain.py"],
        "",
    ),
    (
        "pretrain-resume-no-batch-order",
        "r1mini/toy/pretrain.py",
        'rng.bit_generator.state = ckpt["rng"]',
        "pass",
        ["tests/test_pretrain.py"],
        "",
    ),
    (
        "trainer-logp-not-shifted",
        "r1mini/grpo.py",
        "h = torch.cat([h_last[:, None], h[:, :-1]], dim=1)",
        "h = h",
        GRPO,
        "",
    ),
    (
        "trainer-kl-from-first-inner",
        "r1mini/grpo.py",
        'agg["kl"] += st["kl"] * share / cfg.mu',
        'agg["kl"] += st["kl"] * share * (inner == 0)',
        GRPO,
        "",
    ),
    # ------------------------------------------------------------------ torchrun data parallelism (engine/dist.py)
    (
        "ddp-local-denominators",
        "r1mini/grpo.py",
        "cfg.max_new_tokens, n_rows=n_rows, n_tokens=n_tok)",
        "cfg.max_new_tokens)",
        DDP,
        "",
    ),
    ("ddp-loss-not-times-world", "r1mini/grpo.py", "(loss * W).backward()", "loss.backward()", DDP, ""),
    ("ddp-sampler-draws-per-rank", "r1mini/grpo.py", "first=first, total=n_all)", ")", DDP, ""),
    (
        "ddp-logged-reward-of-rank-0",
        "r1mini/grpo.py",
        '"reward": reward / n_rows,',
        '"reward": ro.rewards.mean().item(),',
        DDP,
        "",
    ),
    (
        "ddp-pretrain-windows-per-rank",
        "r1mini/toy/pretrain.py",
        "rng = np.random.default_rng(cfg.seed)",
        "rng = np.random.default_rng(cfg.seed + dist.rank())",
        DDP,
        "",
    ),
    (
        "ddp-eval-draws-per-rank",
        "r1mini/evaluate.py",
        "pad_id=tok.pad_id, first=lo, total=len(chunk))",
        "pad_id=tok.pad_id)",
        DDP,
        "",
    ),
    (
        "ddp-every-rank-writes-metrics",
        "train_zero.py",
        '        if main:\n            with open(run / "metrics.jsonl", "a")',
        '        if True:\n            with open(run / "metrics.jsonl", "a")',
        DDP,
        "",
    ),
    # ------------------------------------------------------------------ sample_rollout and the sampler
    (
        "rollout-sampler-at-T=1",
        "r1mini/grpo.py",
        "SamplingConfig(cfg.max_new_tokens, cfg.temperature,",
        "SamplingConfig(cfg.max_new_tokens, 1.0,",
        SAMPLER,
        "",
    ),
    (
        "rollout-no-answer-stop",
        "r1mini/grpo.py",
        "stop_ids=(tok.eot_id, tok.answer_end_id)",
        "stop_ids=(tok.eot_id,)",
        SAMPLER,
        "",
    ),
    ("rollout-text-keeps-eot", "r1mini/grpo.py", "if m and t != tok.eot_id]", "if m]", SAMPLER, ""),
    (
        "rollout-rewards-wrong-problem",
        "r1mini/grpo.py",
        "items = [problems[i // cfg.G] for i in range(len(texts))]",
        "items = [problems[i % len(problems)] for i in range(len(texts))]",
        SAMPLER,
        "",
    ),
    (
        "rollout-keeps-padding-columns",
        "r1mini/grpo.py",
        "T = max(1, int(s.lengths.max()))",
        "T = cfg.max_new_tokens",
        SAMPLER,
        "only columns of padding are kept: they carry no weight in eq. (1), so the update is the same, just slower",
    ),
    (
        "sampler-logp-before-temperature",
        "r1mini/engine/sampler.py",
        "logits = logits / cfg.temperature",
        "logits = logits * 1.0",
        SAMPLER,
        "",
    ),
    (
        "sampler-draw-right-false",
        "r1mini/engine/sampler.py",
        "torch.searchsorted(cdf, u, right=True)",
        "torch.searchsorted(cdf, u, right=False)",
        SAMPLER,
        "",
    ),
    (
        "sampler-truncated-inverted",
        "r1mini/engine/sampler.py",
        "return Samples(out_tok, out_lp, out_mask, rows, ~done)",
        "return Samples(out_tok, out_lp, out_mask, rows, done)",
        SAMPLER,
        "",
    ),
    (
        "sampler-compact-at-once",
        "r1mini/engine/sampler.py",
        "compact_at: float = 0.25,",
        "compact_at: float = 0.0,",
        SAMPLER,
        "when finished rows leave the running batch is a speed knob: the samples are the same",
    ),
    # ------------------------------------------------------------------ the log-prob kernels
    (
        "kernel-backward-no-1/T",
        "r1mini/engine/logprobs.py",
        "grad = -p * (g / temperature)[:, None]",
        "grad = -p * g[:, None]",
        KERNELS,
        "",
    ),
    (
        "kernel-entropy-no-lse",
        "r1mini/engine/logprobs.py",
        "entropy = lse - (p * z).sum(-1)",
        "entropy = -(p * z).sum(-1)",
        KERNELS,
        "",
    ),
    (
        "kernel-logsumexp-before-temperature",
        "r1mini/engine/logprobs.py",
        "z = z.to(_acc(z.dtype)) / temperature",
        "z = z.to(_acc(z.dtype))",
        KERNELS,
        "",
    ),
    (
        "kernel-tiny-chunks",
        "r1mini/engine/logprobs.py",
        "chunk or default_chunk(weight.shape[0]))",
        "chunk or 7)",
        KERNELS,
        "the chunk size is a memory knob: the same log-probs and gradients, chunk by chunk",
    ),
    # ------------------------------------------------------------------ the model
    (
        "model-prefix-rows-tiled",
        "r1mini/engine/model.py",
        "rows = torch.arange(idx.shape[0], device=idx.device).repeat_interleave(repeats)",
        "rows = torch.arange(idx.shape[0], device=idx.device).repeat(repeats)",
        MODEL,
        "",
    ),
    (
        "model-rope-sign",
        "r1mini/engine/model.py",
        "return torch.cat([-x2, x1], dim=-1)",
        "return torch.cat([x2, -x1], dim=-1)",
        MODEL,
        "",
    ),
    (
        "model-rmsnorm-no-eps",
        "r1mini/engine/model.py",
        "x.pow(2).mean(-1, keepdim=True) + self.eps)",
        "x.pow(2).mean(-1, keepdim=True))",
        MODEL,
        "",
    ),
    # ------------------------------------------------------------------ rewards (2.2.2)
    (
        "reward-countdown-float",
        "r1mini/rewards.py",
        "        return Fraction(node.value)",
        "        return float(node.value)",
        REWARDS,
        "",
    ),
    (
        "reward-countdown-compare-float",
        "r1mini/rewards.py",
        "value is not None and value == problem.target",
        "value is not None and float(value) == problem.target",
        REWARDS,
        "",
    ),
    (
        "reward-countdown-numbers-as-set",
        "r1mini/rewards.py",
        "sorted(leaves) != sorted(numbers)",
        "set(leaves) != set(numbers)",
        REWARDS,
        "",
    ),
    ("reward-normalise-no-chinese-stop", "r1mini/rewards.py", '.rstrip(".。")', '.rstrip(".")', REWARDS, ""),
    (
        "reward-normalise-no-fractions",
        "r1mini/rewards.py",
        "            return str(Fraction(s))",
        "            return s",
        REWARDS,
        "",
    ),
    (
        "reward-first-answer-block",
        "r1mini/rewards.py",
        "if n_open == n_close == 1 and",
        "if n_open >= 1 and n_close >= 1 and",
        REWARDS,
        "",
    ),
    (
        "reward-language-no-words-scores-0",
        "r1mini/rewards.py",
        "return 1.0 if total == 0 else",
        "return 0.0 if total == 0 else",
        REWARDS,
        "",
    ),
    (
        "reward-language-of-english",
        "r1mini/rewards.py",
        "return language_share(completion, problem.lang)",
        'return language_share(completion, "en")',
        REWARDS,
        "",
    ),
    # ------------------------------------------------------------------ the template (2.2.3, Table 1)
    (
        "template-table1-wording",
        "r1mini/template.py",
        "reasoning process in the mind and",
        "reasoning process in mind and",
        TEMPLATE,
        "",
    ),
    (
        "template-text-outside-blocks",
        "r1mini/template.py",
        "    if outside.strip():\n        return None",
        "    if False:\n        return None",
        TEMPLATE,
        "",
    ),
    # ------------------------------------------------------------------ metrics (section 3)
    (
        "metrics-pass@k-off-by-one",
        "r1mini/metrics.py",
        "for i in range(n - c + 1, n + 1):",
        "for i in range(n - c, n + 1):",
        METRICS,
        "",
    ),
    (
        "metrics-pass@1-pooled",
        "r1mini/metrics.py",
        "return sum(sum(row) / len(row) for row in correct) / len(correct)",
        "return sum(map(sum, correct)) / sum(map(len, correct))",
        METRICS,
        "",
    ),
    (
        "metrics-paired-unpaired-sd",
        "r1mini/metrics.py",
        "var = sum((x - mean) ** 2 for x in d) / (len(d) - 1)",
        "var = sum((x - mean) ** 2 for x in d) / len(d)",
        METRICS,
        "",
    ),
    (
        "metrics-paired-se-without-sqrt-n",
        "r1mini/metrics.py",
        "return mean, (var / len(d)) ** 0.5",
        "return mean, var**0.5",
        METRICS,
        "",
    ),
    (
        "eval-per-question-pooled",
        "r1mini/evaluate.py",
        'result["per_question"] = [sum(r["correct"]) / len(r["correct"]) for r in rows]',
        'result["per_question"] = [sum(r["correct"]) / cfg.k / 2 for r in rows]',
        ["tests/test_evaluate.py"],
        "",
    ),
    (
        "eval-paired-ignores-questions",
        "r1mini/evaluate.py",
        'or a["questions"] != b["questions"]:',
        ":",
        ["tests/test_evaluate.py"],
        "",
    ),
    (
        "r1-paired-reversed",
        "train_r1.py",
        "(pair := paired(ea[name], eb[name]))",
        "(pair := paired(eb[name], ea[name]))",
        [
            "tests/test_train_r1.py::test_paired_comparisons_take_a_minus_b_for_each_pair_on_hand_made_eval_files",
            "tests/test_train_r1.py::test_paired_differences_are_taken_over_the_same_questions",
        ],
        "",
    ),
    (
        "r1-reasoning-prompts-from-eval-mix",
        "train_r1.py",
        "return TaskMix(get_mix(cfg.train_mix).parts, cfg.zh)",
        "return TaskMix(get_mix(cfg.mix).parts, cfg.zh)",
        ["tests/test_train_r1.py::test_the_r1_stages_draw_reasoning_prompts_from_train_mix_and_evaluate_on_mix"],
        "",
    ),
    (
        "r1-old-run-config-takes-default-train-mix",
        "train_r1.py",
        'saved.setdefault("train_mix", saved["mix"])',
        "pass",
        ["tests/test_train_r1.py::test_a_run_folder_from_before_train_mix_keeps_the_mix_it_ran_with"],
        "",
    ),
    (
        "distill-gap-se-of-wrong-rows",
        "distill.py",
        'for row in ("distilled", "rl")))',
        'for row in ("distilled", "base")))',
        ["tests/test_distill.py::test_the_distilled_minus_rl_gap_carries_its_paired_standard_error"],
        "",
    ),
    (
        "metrics-off-language-is-mixing",
        "r1mini/metrics.py",
        "return language_share(text, lang) < 1.0",
        "return mixes_languages(text)",
        METRICS,
        "",
    ),
    (
        "eval-off-language-against-english",
        "r1mini/evaluate.py",
        '"off_lang": [off_language(text, p.lang) for text, _ in outs],',
        '"off_lang": [off_language(text, "en") for text, _ in outs],',
        ["tests/test_evaluate.py"],
        "",
    ),
    (
        "metrics-cons-unnormalised",
        "r1mini/metrics.py",
        "return voted == normalize_answer(reference)",
        "return voted == reference",
        METRICS,
        "",
    ),
    # ------------------------------------------------------------------ defaults: the paper's GRPO (variants are flags)
    ("default-scale-std-off", "r1mini/grpo.py", "scale_std: bool = True  #", "scale_std: bool = False  #", GRPO, ""),
    ("default-token-mean", "r1mini/grpo.py", 'loss_agg: str = "seq_mean"', 'loss_agg: str = "token_mean"', GRPO, ""),
    ("default-clip-higher", "r1mini/grpo.py", "epsilon_high: float = 0.0", "epsilon_high: float = 0.28", GRPO, ""),
    ("default-mu-2", "r1mini/grpo.py", "mu: int = 1", "mu: int = 2", GRPO, ""),
    (
        "default-micro-batch-1",
        "r1mini/grpo.py",
        "micro_batch: int = 0",
        "micro_batch: int = 1",
        GRPO,
        "gradient accumulation: the same gradient and figures, less memory",
    ),
    (
        "default-epsilon-0.1",
        "r1mini/grpo.py",
        "epsilon: float = 0.2",
        "epsilon: float = 0.1",
        GRPO,
        "a coefficient, not a form of eq. (1): the tests set epsilon where it matters",
    ),
    (
        "default-beta-0.04",
        "r1mini/grpo.py",
        "beta: float = 0.02",
        "beta: float = 0.04",
        GRPO,
        "a coefficient, not a form: the tests set beta where it matters",
    ),
    # ------------------------------------------------------------------ train_r1.py's wiring (section 2.3)
    (
        "r1-zero-row-keeps-curve",
        "train_r1.py",
        'device=cfg.device, eval_every=0, benchmarks="",',
        'device=cfg.device, benchmarks="",',
        [
            "tests/test_train_r1.py::test_the_r1_zero_row_runs_train_zeros_rl_unchanged_without_its_own_curve_and_benchmarks"
        ],
        "",
    ),
    (
        "r1-harmless-rm-helpful-preset",
        "train_r1.py",
        '("whole", "harmless", cfg.rm_harmless)',
        '("whole", "harmless", cfg.rm)',
        ["tests/test_train_r1.py"],
        "",
    ),
    (
        "r1-adversarial-from-every-kind",
        "train_r1.py",
        'f"{seed}/adversarial", kinds=ADVERSARIAL_KINDS)',
        'f"{seed}/adversarial")',
        ["tests/test_train_r1.py::test_all_scenarios_questions_hold_the_configured_general_and_adversarial_shares"],
        "",
    ),
    (
        "r1-one-stream-for-both-general-draws",
        "train_r1.py",
        '"train", f"{seed}/adversarial",',
        '"train", f"{seed}/helpful",',
        [
            "tests/test_train_r1.py::test_all_scenarios_helpful_and_adversarial_requests_come_from_separate_random_streams"
        ],
        "",
    ),
    (
        "r1-harmless-rm-from-rm-prompts",
        "train_r1.py",
        'cfg.rm_prompts if what == "helpful" else cfg.rm_harmless_prompts',
        "cfg.rm_prompts",
        ["tests/test_train_r1.py::test_reward_model_pairs_draw_each_models_own_number_of_prompts"],
        "",
    ),
    (
        "r1-zero-cache-never-reused",
        "train_r1.py",
        'if cache is not None and (cache / "model.pt").is_file():',
        "if False:",
        ["tests/test_train_r1.py::test_r1_zero_is_cached_beside_the_base_and_reused_by_the_next_run"],
        "",
    ),
    (
        "r1-zero-cache-key-without-code",
        "train_r1.py",
        '"device": run.device.type, "code": code}',
        '"device": run.device.type}',
        ["tests/test_train_r1.py::test_r1_zero_cache_key_follows_the_recipe_the_base_the_device_and_the_code"],
        "",
    ),
    (
        "r1-zero-cache-key-without-config",
        "train_r1.py",
        'key = {"zero": dataclasses.asdict(zero_config(run.cfg)), ',
        "key = {",
        ["tests/test_train_r1.py::test_r1_zero_cache_key_follows_the_recipe_the_base_the_device_and_the_code"],
        "",
    ),
    (
        "r1-report-hides-zero-source",
        "train_r1.py",
        '"reward_models", "source")}',
        '"reward_models")}',
        ["tests/test_train_r1.py::test_r1_zero_is_cached_beside_the_base_and_reused_by_the_next_run"],
        "",
    ),
    (
        "r1-gold-harmless-over-every-general-row",
        "train_r1.py",
        '[x["gold_harmless"] for x in log if x["adversarial"]]',
        '[x["gold_harmless"] for x in log]',
        ["tests/test_train_r1.py::test_step_gold_figures_judge_each_figure_on_the_requests_the_evaluation_uses"],
        "",
    ),
    (
        "r1-gold-helpful-over-every-general-row",
        "train_r1.py",
        '[x["gold_helpful"] for x in log if not x["adversarial"]]',
        '[x["gold_helpful"] for x in log]',
        ["tests/test_train_r1.py::test_step_gold_figures_judge_each_figure_on_the_requests_the_evaluation_uses"],
        "",
    ),
    (
        "general-rude-key-per-form",
        "r1mini/toy/general.py",
        '_Content(f"{i}/{j}", {"en": (en.format(t=ten),)',
        '_Content(f"{i}", {"en": (en.format(t=ten),)',
        ["tests/test_general.py::test_a_held_out_adversarial_request_is_a_new_pairing_of_parts_training_shows"],
        "",
    ),
    (
        "general-kind-order-ties-last",
        "r1mini/toy/general.py",
        "key=lambda j: (current[j], -j))",
        "key=lambda j: (current[j], j))",
        ["tests/test_general.py::test_kind_order_on_a_hand_worked_case_and_against_exact_shares"],
        "",
    ),
    (
        "general-power-ignored",
        "r1mini/toy/general.py",
        "for i in kind_order(n, [r**power for r in requests]):",
        "for i in kind_order(n, [1.0 for r in requests]):",
        ["tests/test_general.py"],
        "",
    ),
    (
        "r1-general-sft-power-not-passed",
        "train_r1.py",
        '"train", cfg.seed, power=cfg.general_power)',
        '"train", cfg.seed)',
        ["tests/test_train_r1.py::test_rejection_set_keeps_only_correct_clean_responses_and_adds_general_data"],
        "",
    ),
    (
        "r1-rm-init-ignored",
        "train_r1.py",
        "RewardModel.from_checkpoint(run.model_path(cfg.rm_init))",
        "RewardModel.from_checkpoint(run.base_path)",
        ["tests/test_train_r1.py::test_both_reward_models_start_from_the_checkpoint_rm_init_names[rejection_sft]"],
        "",
    ),
    (
        "r1-reeval-r1-prompt-for-r1-zero",
        "train_r1.py",
        'zero=stage == "r1_zero", general=False',
        'zero=stage == "r1", general=False',
        ["tests/test_train_r1.py::test_reeval_evaluates_each_finished_stage_on_another_draw_and_pairs_it_with_r1_zero"],
        "",
    ),
    (
        "r1-reeval-paired-reversed",
        "train_r1.py",
        "list(paired(ev[name], zero[name]))",
        "list(paired(zero[name], ev[name]))",
        ["tests/test_train_r1.py::test_reeval_evaluates_each_finished_stage_on_another_draw_and_pairs_it_with_r1_zero"],
        "",
    ),
    (
        "r1-translation-cot-tens-twice",
        "r1mini/toy/general.py",
        "for d in (tens, ones))",
        "for d in (tens, tens))",
        ["tests/test_general.py"],
        "",
    ),
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


def run_one(scratch: Path, mutation, timeout: int) -> tuple[str, float]:
    mid, file, old, new, tests, _ = mutation
    path = scratch / file
    original = path.read_text()
    if original.count(old) != 1:
        return f"NOT APPLIED: the old text occurs {original.count(old)} times in {file}", 0.0
    path.write_text(original.replace(old, new))
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
        path.write_text(original)


def table_row(mutation, result: str) -> tuple[str, bool]:
    """(markdown row, ok) where ok means: caught, or passes with a reason."""
    mid, file, old, new, _, reason = mutation
    show = lambda s: "`" + " ".join(s.split()).replace("|", "\\|") + "`"  # noqa: E731
    if result == "passes":
        verdict = f"passes: meant to ({reason})" if reason else "**SURVIVES: missing test**"
        ok = bool(reason)
    else:
        verdict = result + (f" (listed as meant to pass: {reason})" if reason else "")
        ok = not reason and not result.startswith("NOT APPLIED")
    return f"| {mid} | `{file}` | {show(old)} -> {show(new)} | {verdict} |", ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="run only the rows whose id starts with this")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per row")
    args = ap.parse_args()
    rows = [m for m in MUTATIONS if m[0].startswith(args.only)]
    if args.list:
        for m in rows:
            print(f"{m[0]:40s} {m[1]:22s} {' '.join(m[4])}")
        return
    with tempfile.TemporaryDirectory(prefix="r1mini-mut-") as tmp:
        scratch = Path(tmp) / "repo"
        shutil.copytree(
            ROOT, scratch, ignore=shutil.ignore_patterns(".git", "runs", "__pycache__", ".pytest_cache", "*.egg-info")
        )
        print("| id | file | change | result |\n| --- | --- | --- | --- |", flush=True)
        bad = 0
        for m in rows:
            result, secs = run_one(scratch, m, args.timeout)
            row, ok = table_row(m, result)
            bad += not ok
            print(row, flush=True)
            print(f"  ({secs:.0f} s)", file=sys.stderr, flush=True)
        print(f"\n{len(rows)} mutations: {len(rows) - bad} as expected, {bad} not", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
