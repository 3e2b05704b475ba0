"""Section 2.3.4: reinforcement learning for all scenarios, the last stage of DeepSeek-R1.

"We implement a secondary reinforcement learning stage aimed at improving the model's helpfulness and harmlessness
while simultaneously refining its reasoning capabilities": rule-based rewards for reasoning data (as in R1-Zero),
learned reward models for general data. Helpfulness is judged on the final summary only; harmlessness on the whole
response, reasoning included.

On the toy world: two Bradley-Terry reward models (r1mini/reward_model.py), started from the stage-3 model and
trained on pairs of its own sampled responses (and written ones) labelled by the toy's hidden annotator
(r1mini/toy/general.py); a GRPO stage whose steps mix reasoning questions (rules: accuracy + language) with general
and adversarial requests (reward models); the annotator's gold scores logged beside the learned reward, never used
as one, so that reward hacking would show. docs/r1.md has the figures.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time

import torch

from r1mini.engine.common import (
    atomic_save,
    pick_preset,
    set_seed,
)
from r1mini.evaluate import (
    EvalConfig,
    complete,
    r1_prompt_of,
)
from r1mini.pipeline import R1Config, Run, finish_stage, reasoning_mix, run_grpo
from r1mini.reasoning_rl import reasoning_reward


def _sample_general(
    model, tok, prompts, k: int, max_new_tokens: int, seed: int, temperature: float = 1.0
) -> list[list[str]]:
    """k responses per general prompt (temperature >= 1: the spread the preference pairs need)."""
    ecfg = EvalConfig(k=k, max_new_tokens=max_new_tokens, seed=seed, greedy=False)
    return [
        [text for text, _ in outs]
        for outs in complete(model, tok, prompts, k, ecfg, temperature=temperature, prompt_fn=r1_prompt_of)
    ]


def reward_model_pairs(run: Run, policy, what: str, split: str) -> list[tuple[str, object]]:
    """(kind, Pair) for one reward model ("helpful": every kind, "harmless": the adversarial ones) and split: the
    annotator's preferences between rm_k responses sampled from the stage-3 model per prompt; for "train" also
    between written responses per prompt (general.written_responses: noisy, and for helpfulness off-topic and
    repeated), at most rm_written_pairs of them per prompt. Held-out ("test") pairs are sampled responses to test
    prompts only."""
    from r1mini.reward_model import preference_pairs
    from r1mini.toy.general import (
        ADVERSARIAL_KINDS,
        general_prompts,
        gold_harmless,
        gold_helpfulness,
        written_responses,
    )

    cfg = run.cfg
    gold = gold_helpfulness if what == "helpful" else gold_harmless
    kinds = ADVERSARIAL_KINDS if what == "harmless" else None  # other prompts are (nearly) always harmless: no pairs
    n_train = cfg.rm_prompts if what == "helpful" else cfg.rm_harmless_prompts
    prompts = general_prompts(n_train if split == "train" else cfg.rm_test_prompts, split, cfg.seed, kinds=kinds)
    sampled = _sample_general(
        policy, run.tok, prompts, cfg.rm_k, cfg.max_new_tokens, cfg.seed + (split == "test"), cfg.rm_temperature
    )
    rng = random.Random(f"{cfg.seed}/{what}/{split}")
    groups = [(p, rs, None) for p, rs in zip(prompts, sampled)]
    if split == "train":  # plus written responses of varied quality (as demonstrations and red-teaming give)
        # off-topic and repeated answers only for helpfulness: to harmlessness they are safe declines like the rest
        offtopic, repeat = (cfg.rm_offtopic, cfg.rm_repeat) if what == "helpful" else (0, False)
        groups += [
            (p, written_responses(p, rng, cfg.rm_written, prompts, offtopic, repeat), cfg.rm_written_pairs or None)
            for p in prompts
        ]
    return [
        (p.kind, pair)
        for p, rs, cap in groups
        for pair in preference_pairs(r1_prompt_of(p), rs, [gold(p, r) for r in rs], cap, rng)
    ]


def train_reward_models(run: Run, policy) -> tuple[dict, dict]:
    """2.3.4: preference pairs from the stage-3 model's responses (and written ones), labelled by the hidden
    annotator; one Bradley-Terry reward model for helpfulness (reads the summary) and one for harmlessness (reads
    all), each initialised from the checkpoint rm_init names (the stage-3 SFT model by default). Held-out pair
    accuracy overall and per kind of request."""
    from r1mini.reward_model import RM_PRESETS, RewardModel, pair_accuracy, rm_state, train_reward_model

    cfg = run.cfg
    rms, info = {}, {}
    for view, what, preset in (("summary", "helpful", cfg.rm), ("whole", "harmless", cfg.rm_harmless)):
        rmcfg = dataclasses.replace(pick_preset(RM_PRESETS, preset, f"{what} reward-model preset"), seed=cfg.seed)
        train, test = (reward_model_pairs(run, policy, what, split) for split in ("train", "test"))
        rm = RewardModel.from_checkpoint(run.model_path(cfg.rm_init)).to(run.device)
        stats = train_reward_model(rm, run.tok, [pair for _, pair in train], rmcfg, view, quiet=run.quiet)
        acc = pair_accuracy(rm, run.tok, [pair for _, pair in test], view)  # nan without held-out pairs
        by_kind = {
            k: pair_accuracy(rm, run.tok, [pair for kind, pair in test if kind == k], view)
            for k in sorted({kind for kind, _ in test})
        }
        atomic_save(rm_state(rm, view=view, heldout_accuracy=acc), run.stage_dir("r1") / f"rm_{what}.pt")
        rms[what] = rm
        info[what] = {
            "view": view,
            "preset": preset,
            "init": cfg.rm_init,
            "epochs": rmcfg.epochs,
            "lr": rmcfg.lr,
            "train_pairs": len(train),
            "test_pairs": len(test),
            "heldout_pair_accuracy": acc,
            "heldout_pair_accuracy_by_kind": by_kind,
            "test_pairs_by_kind": {k: sum(kind == k for kind, _ in test) for k in by_kind},
            **stats,
        }
        run.log(
            f"[r1] reward model '{what}' ({view}): {len(train)} pairs, "
            f"held-out pair accuracy {acc:.3f} on {len(test)} pairs"
        )
    return rms, info


def all_scenarios_reward(rms: dict, tok, rules, log: list):
    """2.3.4's reward for a step's N outputs at once (GRPOTrainer's reward_batch_fn): texts, items ->
    [(total, {"rule", "rm"})]. A reasoning question gets the rules (accuracy + language); a general request
    sigmoid(helpfulness RM on the summary) + sigmoid(harmlessness RM on the whole response), each model scoring
    all of the step's general outputs in one batched reward_model.score call. The hidden annotator's gold
    scores of those outputs go to `log`, to be logged beside the learned reward (never a reward)."""
    from r1mini.reward_model import score
    from r1mini.toy.general import GeneralPrompt, gold_harmless, gold_helpfulness

    def reward(texts: list[str], items: list) -> list[tuple[float, dict]]:
        general = [i for i, item in enumerate(items) if isinstance(item, GeneralPrompt)]
        prompts, outs = [r1_prompt_of(items[i]) for i in general], [texts[i] for i in general]
        rm = torch.zeros(len(general))  # [n]
        if general:
            rm = torch.sigmoid(score(rms["helpful"], tok, prompts, outs, "summary")) + torch.sigmoid(
                score(rms["harmless"], tok, prompts, outs, "whole")
            )  # [n]
        learned = dict(zip(general, rm.tolist()))
        out = []
        for i, (text, item) in enumerate(zip(texts, items)):
            if i in learned:
                log.append(
                    {
                        "rm": learned[i],
                        "gold_helpful": gold_helpfulness(item, text),
                        "gold_harmless": gold_harmless(item, text),
                        "adversarial": item.adversarial,
                    }
                )
                out.append((learned[i], {"rule": 0.0, "rm": learned[i]}))
            else:
                total, _ = rules(text, item)
                out.append((total, {"rule": total, "rm": 0.0}))
        return out

    return reward


def step_gold_figures(log: list[dict]) -> dict:
    """One 2.3.4 step's general rows (all_scenarios_reward's log) -> the figures logged beside the learned
    reward, each over the requests the held-out evaluation judges it on (evaluate.evaluate_general):
    rm_general = mean learned reward over all general rows, gold_helpful = mean gold helpfulness over the
    helpfulness requests, gold_harmless = share of safe responses to the adversarial requests (nan: no such row).

    >>> step_gold_figures([{"rm": 1.0, "gold_helpful": 0.5, "gold_harmless": 1.0, "adversarial": False},
    ...                    {"rm": 0.0, "gold_helpful": 1.0, "gold_harmless": 0.0, "adversarial": True}])
    {'rm_general': 0.5, 'gold_helpful': 0.5, 'gold_harmless': 0.0}
    """
    nan = float("nan")
    mean = lambda xs: sum(xs) / len(xs) if xs else nan  # noqa: E731
    return {
        "rm_general": mean([x["rm"] for x in log]),
        "gold_helpful": mean([x["gold_helpful"] for x in log if not x["adversarial"]]),
        "gold_harmless": mean([x["gold_harmless"] for x in log if x["adversarial"]]),
    }


def all_scenarios_questions(cfg: R1Config, step: int) -> list:
    """The questions of one 2.3.4 GRPO step: general_share of cfg.rl.questions are general train requests
    (adversarial_share of them adversarial, the rest helpfulness requests, kinds in turn), the rest reasoning
    train problems of the mix. Reproducible from (seed, step)."""
    from r1mini.toy.general import ADVERSARIAL_KINDS, HELPFUL_KINDS, general_prompts

    B = cfg.rl.questions
    n_general = round(B * cfg.general_share)
    n_adversarial = round(n_general * cfg.adversarial_share)
    # one random stream per draw: the i-th adversarial request is not tied to the i-th helpful one
    seed = f"{cfg.seed}/all/{step}"
    general = general_prompts(n_general - n_adversarial, "train", f"{seed}/helpful", kinds=HELPFUL_KINDS)
    general += general_prompts(n_adversarial, "train", f"{seed}/adversarial", kinds=ADVERSARIAL_KINDS)
    return general + reasoning_mix(cfg).sample(random.Random(seed), B - n_general, split="train")


def stage(run: Run) -> dict:
    """2.3.4: RL for all scenarios: rules for reasoning questions, learned reward models for general ones."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    policy = run.load("rejection_sft")
    rms, rm_info = train_reward_models(run, policy)
    log: list[dict] = []  # the general rows of the current step: learned reward and gold scores
    batch_reward = all_scenarios_reward(rms, run.tok, reasoning_reward(cfg.language_weight), log)
    reward = lambda completion, item: batch_reward([completion], [item])[0]  # noqa: E731 (one output: the same reward)

    def after_step() -> dict:
        out = step_gold_figures(log)
        log.clear()
        return out

    rl = dataclasses.replace(cfg.rl, beta=cfg.all_beta)
    problems = functools.partial(all_scenarios_questions, cfg)  # step -> the step's questions
    policy, rl_s = run_grpo(
        run,
        "r1",
        policy,
        reward,
        problems,
        cfg.all_steps,
        "2.3.4 RL all scenarios",
        after_step,
        reward_batch_fn=batch_reward,
        rl=rl,
    )
    return finish_stage(run, "r1", policy, {"reward_models": rm_info, "rl_seconds": rl_s}, time.time() - t0)
