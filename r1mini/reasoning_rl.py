"""Section 2.3.2: reasoning-oriented RL, GRPO from the cold-start model with a language-consistency reward.

"We apply the same large-scale reinforcement learning training process as employed in DeepSeek-R1-Zero" to the
cold-start model, on reasoning prompts, and add a language-consistency reward ("the proportion of target language
words in the CoT"), summed with the accuracy reward. The paper's ablation, the same stage without it, is the
stage `no_language_reward`: slightly lower accuracy with the reward, more readable output.

On the toy world: GRPO (r1mini/grpo.py) from the 2.3.1 model on English and Chinese questions (R1Config.zh of them
Chinese), reward = accuracy + language_weight x rewards.language_consistency_reward. docs/r1.md has the figures.
"""

from __future__ import annotations

import random
import time

from r1mini.engine.common import (
    set_seed,
)
from r1mini.pipeline import Run, finish_stage, reasoning_mix, run_grpo
from r1mini.rewards import total_reward


def reasoning_reward(language_weight: float):
    """2.3.2: accuracy + language consistency, summed (a weight of 0 is the ablation)."""
    weights = {"accuracy": 1.0, "language": language_weight}
    return lambda completion, problem: total_reward(completion, problem, weights)


def stage(run: Run, stage: str = "reasoning_rl") -> dict:
    """2.3.2: GRPO from the cold-start model on English and Chinese questions (stage "no_language_reward": the
    ablation, language weight 0)."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    weight = cfg.language_weight if stage == "reasoning_rl" else 0.0
    policy = run.load("cold_start")
    B = cfg.rl.questions
    mix = reasoning_mix(cfg)
    problems = lambda step: mix.sample(random.Random(f"{cfg.seed}/reasoning/{step}"), B, split="train")  # noqa: E731
    policy, rl_s = run_grpo(
        run, stage, policy, reasoning_reward(weight), problems, cfg.reasoning_steps, f"2.3.2 {stage}"
    )
    return finish_stage(run, stage, policy, {"language_weight": weight, "rl_seconds": rl_s}, time.time() - t0)


def ablation(run: Run) -> dict:
    """2.3.2's ablation: the same stage without the language-consistency reward."""
    return stage(run, "no_language_reward")
