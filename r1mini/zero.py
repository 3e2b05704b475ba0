"""Section 2.2: the R1-Zero recipe, RL on the base model with rule-based rewards only (train_zero.py runs it).

ZeroConfig holds the recipe (the base, the task mix RL samples questions from, the reward weights, the evaluation)
and a GRPOConfig (r1mini/grpo.py); ZERO_PRESETS names the ones this repository runs: `smoke` (CI, seconds), `quick`
(the workbench's variants, r1mini/tools/ablate.py: about 2 minutes on 2 CPU cores), `cpu` (the default on a CPU),
`gpu`, and `aha` with its controls (Table 3's attempt, docs/r1_zero.md). reward_fn is 2.2.2's weighted sum of the
accuracy and format rewards; problems_for_step is the question stream, a function of (seed, step) alone, so that a
resumed run replays it and two variants with one seed see the same questions.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

import torch

from r1mini.engine.common import ConfigError
from r1mini.grpo import GRPOConfig, GRPOTrainer
from r1mini.ppo import PPOConfig, PPOTrainer
from r1mini.rewards import total_reward
from r1mini.toy.tasks import TASK_MIXES


@dataclass
class ZeroConfig:
    base: str = "cpu"  # pretrain preset of the base model (cached under base_root)
    base_root: str = "runs/base"  # folder of the cached base models
    mix: str = "cpu"  # task mix (r1mini/toy/tasks.py) RL samples questions from
    reward_accuracy: float = 1.0  # 2.2.2: weight of the accuracy reward (right answer: 1, else 0)
    reward_format: float = 0.5  # 2.2.2: weight of the format reward (think/answer shape: 1, else 0)
    eval_every: int = 25  # held-out curve point every N steps (Fig. 2 / Fig. 3); 0 = only before/after
    curve_n: int = 64  # held-out problems per curve point
    curve_k: int = 4  # samples per problem per curve point
    final_n: int = 128  # held-out problems for the before/after table
    final_k: int = 8  # k of pass@1 over k samples (section 3)
    benchmarks: str = "medium,hard"  # fixed benchmark sets also evaluated before/after ("" = none)
    ckpt_every: int = 25  # write the resumable ckpt.pt every N steps
    sample_every: int = 25  # write a few sampled responses to samples.jsonl every N steps
    device: str = "auto"  # cuda, mps or cpu; auto = the first there
    reflection_eval: bool = False  # sample the held-out set before/after RL for the reflection figures (aha presets)
    algo: str = "grpo"  # the RL algorithm: grpo (2.2.1, r1mini/grpo.py) or ppo (a critic and GAE, r1mini/ppo.py)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # no flag of its own: its fields are flags (PPO's too)
    ppo: PPOConfig = field(default_factory=PPOConfig)  # PPO's own fields (flags), read only with algo = ppo

    def validate(self) -> None:
        if self.mix not in TASK_MIXES:
            raise ConfigError(f"unknown task mix {self.mix!r}; choose one of: {', '.join(TASK_MIXES)}")
        if self.ckpt_every < 1 or self.eval_every < 0 or self.final_k < 1 or self.curve_k < 1:
            raise ConfigError("ckpt_every, final_k, curve_k must be >= 1 and eval_every >= 0")
        if self.algo not in ("grpo", "ppo"):
            raise ConfigError(f"algo must be grpo or ppo, got {self.algo!r}")
        self.grpo.validate()
        self.ppo.validate()


ZERO_PRESETS = {
    # a 0.06M-parameter base that writes the template's format about half the time and is never right:
    # what RL can raise in a minute is the format reward (weighted 1 here so that the rise shows)
    "smoke": ZeroConfig(
        base="smoke",
        mix="smoke",
        reward_format=1.0,
        eval_every=0,
        final_n=32,
        final_k=4,
        benchmarks="",
        ckpt_every=10,
        grpo=GRPOConfig(steps=60, questions=8, G=8, lr=3e-4, max_new_tokens=48, beta=0.0),
    ),
    # the workbench's variants (r1mini/tools/ablate.py): the cpu preset's RL, shorter, with a smaller evaluation
    "quick": ZeroConfig(
        eval_every=10,
        curve_n=32,
        curve_k=2,
        final_n=64,
        final_k=4,
        benchmarks="",
        ckpt_every=10,
        sample_every=10,
        grpo=GRPOConfig(steps=30, lr=1e-4, beta=0.0, precision="bf16"),
    ),  # fmt: skip
    # the default on a CPU: beta = 0 (no pi_ref forward, and groups of equal rewards skip the update: r1mini/grpo.py),
    # and a bf16 update where the CPU multiplies bf16 natively
    "cpu": ZeroConfig(grpo=GRPOConfig(steps=100, lr=1e-4, beta=0.0, precision="bf16")),
    "gpu": ZeroConfig(
        base="gpu",
        mix="gpu",
        eval_every=50,
        curve_n=128,
        curve_k=8,
        final_n=256,
        final_k=16,
        grpo=GRPOConfig(
            steps=300, questions=64, G=16, lr=5e-5, max_new_tokens=256
        ),  # <= 30 min on one H100 with the base (docs/gpu.md)
    ),
    # the "aha" of Table 3 (docs/r1_zero.md): countdown, a base whose corpus holds verification, backtracking and
    # corrections at a low rate (pretrain preset `aha`); room for 4-5 tries; the reflection share is logged
    "aha": ZeroConfig(
        base="aha",
        mix="aha",
        eval_every=20,
        final_k=4,
        benchmarks="",
        reflection_eval=True,
        grpo=GRPOConfig(steps=150, questions=8, lr=1e-4, beta=0.0, max_new_tokens=160),
    ),
}
# the controls: a base without the behaviours (Gandhi's Llama), one whose behaviours end wrong, Dr. GRPO's
# unbiased aggregation (constant normaliser, no std scaling) against eq. (1)'s per-sequence mean
ZERO_PRESETS["aha_plain"] = dataclasses.replace(ZERO_PRESETS["aha"], base="aha_plain")
ZERO_PRESETS["aha_wrong"] = dataclasses.replace(ZERO_PRESETS["aha"], base="aha_wrong")
ZERO_PRESETS["aha_drgrpo"] = dataclasses.replace(
    ZERO_PRESETS["aha"], grpo=dataclasses.replace(ZERO_PRESETS["aha"].grpo, loss_agg="constant", scale_std=False)
)


def make_trainer(cfg: ZeroConfig, policy, tok, prompt_fn):
    """The RL trainer of the recipe: GRPO (the paper's) or PPO with a critic (the one it forgoes, r1mini/ppo.py)."""
    if cfg.algo == "ppo":
        return PPOTrainer(policy, tok, prompt_fn, reward_fn(cfg), cfg.grpo, cfg.ppo)
    return GRPOTrainer(policy, tok, prompt_fn, reward_fn(cfg), cfg.grpo)


def footprint(trainer) -> dict:
    """What training holds beside the activations: trainable parameters (the policy's, and the critic's with PPO)
    and the optimizers' state in bytes (AdamW: two float32 moments per parameter)."""
    models = [trainer.policy] + ([trainer.critic] if isinstance(trainer, PPOTrainer) else [])
    opts = [trainer.opt] + ([trainer.critic_opt] if isinstance(trainer, PPOTrainer) else [])
    params = {id(p): p for m in models for p in m.parameters() if p.requires_grad}  # tied weights once
    state = [t for o in opts for st in o.state.values() for t in st.values() if torch.is_tensor(t)]
    return {"trainable_params": sum(p.numel() for p in params.values()),
            "optimizer_state_bytes": sum(t.numel() * t.element_size() for t in state)}  # fmt: skip


def reward_fn(cfg: ZeroConfig):
    weights = {"accuracy": cfg.reward_accuracy, "format": cfg.reward_format}
    return lambda completion, problem: total_reward(completion, problem, weights)


def problems_for_step(cfg: ZeroConfig, step: int):
    """The B questions of a step: a pure function of (seed, step), so that a resumed run replays them."""
    return TASK_MIXES[cfg.mix].sample(random.Random(cfg.grpo.seed * 7919 + step), cfg.grpo.questions, split="train")
