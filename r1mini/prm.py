"""Section 4.2 (unsuccessful attempts): a process reward model (PRM), reproduced on the toy world.

The paper tried a PRM, a reward for each reasoning step, as the reward of large-scale RL, and gave it up for three
reasons: (1) a fine-grained step is hard to define in general reasoning; (2) whether an intermediate step is right
is hard to judge (automated annotation by a model is unreliable, manual annotation does not scale); (3) a
model-based PRM invites reward hacking, and retraining it needs more resources and complicates the pipeline. A PRM
is good for reranking the top-N responses or guiding search, the paper concludes, not as the RL reward.

On the toy world a step is a sentence of the chain of thought ("ones: 6 * 4 = 24, write 4 carry 2."), labelled by
rule (the gold analog of human labels) or by rollouts (Math-Shepherd's estimate): r1mini/steps.py. The PRM is the
reward-model body (r1mini/reward_model.py) with a scalar head read at the last token of each step, trained with a
binary cross-entropy per step. The outcome reward model (ORM) is the same model trained on the
answer's label alone, read at the end. Three uses, each against the rule accuracy reward of R1-Zero (2.2.2):
    1. RL (GRPO, r1mini/grpo.py) with the PRM as the reward: min over steps of sigmoid(score) as the sequence
       reward, the PRM reward and the rule accuracy on held-out questions logged side by side; again with the
       PRM retrained mid-run on the policy's own samples, the cost logged
    2. reranking: best-of-N by the PRM, by the ORM, and majority vote (cons@N), N in {4, 8, 16}
    3. the gold: the rule step labels themselves as the RL reward (a perfect PRM)

    python -m r1mini.prm --json runs/prm/cpu.json       # cpu preset: the cached cpu base and R1-Zero run (or made)
    python -m r1mini.prm --preset smoke                  # seconds; CI runs it
Docs: docs/unsuccessful.md. Tests: pytest -k sec4_2 (tests/test_prm.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    atomic_save,
    atomic_write_bytes,
    autocast,
    cli_main,
    command_line,
    config_from_args,
    get_device,
    pick_preset,
    set_seed,
    write_json,
)
from r1mini.engine.model import load_model
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import EvalConfig, complete, eval_sets, zero_prompt
from r1mini.grpo import GRPOConfig, GRPOTrainer
from r1mini.metrics import majority_vote
from r1mini.reward_model import RewardModel, RMConfig, lr_at, pad_rows, rm_state
from r1mini.rewards import accuracy_reward, extract_answer, format_reward, normalize_answer
from r1mini.sft import length_batches
from r1mini.steps import rollout_labels, rule_labels, split_steps
from r1mini.template import chat_prompt
from r1mini.toy.pretrain import ensure_base
from r1mini.toy.tasks import TASK_MIXES, Problem, heldout
from r1mini.zero import ZeroConfig, problems_for_step

# ----------------------------------------------------------------------------- the model


class ProcessRewardModel(RewardModel):
    """The reward-model body and head (r1mini/reward_model.py), read at each step boundary: one score per step."""

    def step_scores(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """ids, mask [B, T] (right-padded); positions [B, S] (the index of each step's last token; -1 = none)
        -> logits [B, S] (0 where positions is -1)."""
        h = self.body(ids, mask, return_hidden=True)  # [B, T, D]
        at = positions.clamp(min=0)  # [B, S]
        picked = h.gather(1, at[..., None].expand(-1, -1, h.shape[-1]))  # [B, S, D]: the state after each step
        return self.head(picked.float()).squeeze(-1) * (positions >= 0)


def prm_prompt(problem: Problem) -> str:
    """What the PRM reads before the response: the question in the chat format (shorter than Table 1's prompt)."""
    return chat_prompt(problem.question)


def encode_steps(tok, problem: Problem, response: str, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of prm_prompt + the response, encoded step by step, and the index of the last token of each step
    (steps past max_len are cut). The text after the last step (if any) is left out."""
    ids = tok.encode(prm_prompt(problem), allow_special=True)
    positions = []
    for s in split_steps(response):
        piece = tok.encode(s.text, allow_special=True)
        if not piece:
            continue
        if len(ids) + len(piece) > max_len:
            break
        ids += piece
        positions.append(len(ids) - 1)  # the step's last token: its state has read the whole step
    return ids, positions


def _batch(rows: list[tuple[list[int], list[int]]], pad_id: int, device) -> tuple[torch.Tensor, ...]:
    ids, mask = pad_rows([r[0] for r in rows], pad_id)
    S = max(1, max(len(r[1]) for r in rows))
    pos = torch.full((len(rows), S), -1, dtype=torch.long)
    for i, (_, p) in enumerate(rows):
        pos[i, : len(p)] = torch.tensor(p, dtype=torch.long)
    return ids.to(device), mask.to(device), pos.to(device)


@torch.no_grad()
def step_probs(
    prm: ProcessRewardModel, tok, problems: list[Problem], responses: list[str], max_len: int = 256, batch: int = 64
) -> list[list[float]]:
    """sigmoid(score) at each step of each response, in eval mode, batched by length."""
    device = next(prm.parameters()).device
    rows = [encode_steps(tok, p, o, max_len) for p, o in zip(problems, responses)]
    out: list[list[float]] = [[] for _ in rows]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    was = prm.training
    prm.eval()
    for b in range(0, len(order), batch):
        idx = order[b : b + batch]
        ids, mask, pos = _batch([rows[i] for i in idx], tok.pad_id, device)
        with autocast(device, prm.precision):
            probs = torch.sigmoid(prm.step_scores(ids, mask, pos).float()).cpu()
        for r, i in enumerate(idx):
            out[i] = probs[r, : len(rows[i][1])].tolist()
    prm.train(was)
    return out


def sequence_reward(probs: list[float]) -> float:
    """The PRM's reward of a whole response: the minimum over its steps (0 for a response with no step)."""
    return min(probs) if probs else 0.0


def train_prm(
    prm: ProcessRewardModel,
    tok,
    data: list[tuple[Problem, str, list[int]]],
    cfg: RMConfig,
    outcome: bool = False,
    quiet: bool = False,
) -> dict:
    """Fit the PRM to per-step labels with a binary cross-entropy at each step boundary (AdamW, warmup then
    cosine to lr / 10: reward_model.lr_at). outcome=True fits only the last step's label (the
    answer's): an outcome reward model of the same body. data: (problem, response, labels). Returns figures."""
    cfg.validate()
    device = next(prm.parameters()).device
    prm.precision = cfg.precision
    rows, targets = [], []
    for p, o, y in data:
        ids, pos = encode_steps(tok, p, o, cfg.max_len)
        y = y[: len(pos)]
        if outcome:
            pos, y = pos[-1:], y[-1:]
        if pos:
            rows.append((ids, pos))
            targets.append(y)
    if not rows:
        raise ConfigError("train_prm needs at least one response with a step")
    opt = torch.optim.AdamW(prm.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    per_epoch = math.ceil(len(rows) / cfg.batch)
    total, rng, step, t0 = cfg.epochs * per_epoch, random.Random(cfg.seed), 0, time.time()
    prm.train()
    losses = []
    bar = tqdm(total=total, desc="ORM" if outcome else "PRM", disable=quiet)
    for _ in range(cfg.epochs):
        for idx in length_batches([len(r[0]) for r in rows], cfg.batch, rng, bucket=8):
            ids, mask, pos = _batch([rows[i] for i in idx], tok.pad_id, device)
            y = torch.zeros(pos.shape, device=device)
            for r, i in enumerate(idx):
                y[r, : len(targets[i])] = torch.tensor(targets[i], dtype=torch.float32)
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step, total)  # reward_model's schedule: warmup, then cosine to lr / 10
            with autocast(device, cfg.precision):
                logits = prm.step_scores(ids, mask, pos).float()
            valid = (pos >= 0).float()
            loss = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * valid).sum() / valid.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(prm.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    prm.eval()
    return {
        "steps": step,
        "responses": len(rows),
        "seconds": time.time() - t0,
        "loss_first": losses[0],
        "loss_last": sum(losses[-per_epoch:]) / len(losses[-per_epoch:]),
    }


def step_accuracy(probs: list[list[float]], labels: list[list[int]]) -> dict:
    """Agreement of PRM probabilities (> 0.5 = good) with labels, over every step: accuracy, accuracy on the
    good steps and on the bad ones, and their mean (balanced accuracy); also the answer step alone."""
    pairs = [(int(p > 0.5), y) for ps, ys in zip(probs, labels) for p, y in zip(ps, ys)]
    last = [(int(ps[-1] > 0.5), ys[len(ps) - 1]) for ps, ys in zip(probs, labels) if ps]
    return agreement(pairs) | {"answer_step_acc": _mean(a == b for a, b in last)}


def agreement(pairs: list[tuple[int, int]]) -> dict:
    """(prediction, label) pairs -> accuracy, accuracy on label 1, on label 0, their mean; nan where empty."""
    good = [a == b for a, b in pairs if b == 1]
    bad = [a == b for a, b in pairs if b == 0]
    g, b = _mean(good), _mean(bad)
    return {
        "n": len(pairs),
        "acc": _mean(a == b for a, b in pairs),
        "acc_good": g,
        "acc_bad": b,
        "balanced": (g + b) / 2,
        "share_good": len(good) / max(1, len(pairs)),
    }


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


# ----------------------------------------------------------------------------- reranking


def best_of_n(scores: list[float], correct: list[bool]) -> bool:
    """Whether the highest-scored candidate is right (a tie goes to the first)."""
    return bool(correct[max(range(len(scores)), key=scores.__getitem__)])


def rerank_figures(problems, texts: list[list[str]], scorers: dict[str, list[list[float]]], Ns) -> dict:
    """For each N: best-of-N by each scorer, majority vote (cons@N: metrics.majority_vote, judged by the
    accuracy reward of a response that gave the voted answer), pass@1 and the oracle pass@N, averaged over the
    disjoint groups of N of each problem's candidates (16 candidates: four groups of 4, two of 8, one of 16)."""
    out = {}
    for N in Ns:
        rows = {name: [] for name in ["pass@1", "majority", *scorers, "oracle"]}
        for i, p in enumerate(problems):
            for g0 in range(0, len(texts[i]) - N + 1, N):
                cand = texts[i][g0 : g0 + N]
                ok = [accuracy_reward(t, p) == 1.0 for t in cand]
                rows["pass@1"].append(_mean(ok))
                rows["oracle"].append(float(any(ok)))
                answers = [normalize_answer(a) if (a := extract_answer(t)) is not None else None for t in cand]
                voted = majority_vote(answers)
                rows["majority"].append(float(voted is not None and ok[answers.index(voted)]))
                for name, sc in scorers.items():
                    rows[name].append(float(best_of_n(sc[i][g0 : g0 + N], ok)))
        out[N] = {name: _mean(v) for name, v in rows.items()}
    return out


# ----------------------------------------------------------------------------- the config

RL_VARIANTS = ("outcome", "prm", "prm_retrain", "gold_steps")


@dataclass
class PRMConfig:
    base: str = "cpu"  # pretrain preset of the base (cached under base_root; pretrained if missing)
    base_root: str = "runs/base"  # folder of the cached bases
    zero_ckpt: str = "runs/zero/cpu-ref/model.pt"  # the R1-Zero policy (train_zero.py's model.pt); "" = the base
    mix: str = "cpu"  # task mix: train questions for labels and RL, its test split held out
    label_questions: int = 96  # train questions whose samples are labelled (each policy samples label_k of each)
    label_k: int = 2  # samples per question per policy (the base and R1-Zero), T = 1
    mc_k: int = 4  # rollouts per step for the rollout labels (Math-Shepherd's N)
    test_questions: int = 64  # held-out questions whose samples (label_k per policy) measure step accuracy
    rerank_n: int = 128  # held-out questions for best-of-N (and the hard benchmark, 50)
    rerank_sets: str = "heldout,hard"  # sets to rerank on
    rerank_max: int = 16  # candidates sampled per question (T = 0.6, top-p 0.95) by the R1-Zero policy
    rerank_Ns: str = "4,8,16"  # N of best-of-N; each <= rerank_max
    max_new_tokens: int = 128  # longest sampled response (rerank and labels), tokens
    variants: str = "outcome,prm,prm_retrain,gold_steps"  # RL runs: outcome (the 2.2.2 rule), prm, prm_retrain, gold
    rl_eval_every: int = 6  # held-out curve point every N RL steps
    rl_eval_n: int = 40  # held-out questions per curve point
    rl_eval_k: int = 2  # samples per question per curve point (T = 0.6)
    retrain_at: int = 12  # prm_retrain: the RL step before which the PRM is retrained on the policy's samples
    retrain_questions: int = 48  # train questions x label_k policy samples, rule-labelled, for the retraining
    device: str = "auto"  # cuda, mps or cpu; auto = the first there
    seed: int = 0  # seeds the draws of questions and samples
    train: RMConfig = field(default_factory=lambda: RMConfig(epochs=4, lr=1e-3, batch=32, max_len=256))  # PRM fit
    grpo: GRPOConfig = field(default_factory=lambda: GRPOConfig(steps=24, lr=1e-4, beta=0.0, precision="bf16"))

    def validate(self) -> None:
        if self.mix not in TASK_MIXES:
            raise ConfigError(f"unknown task mix {self.mix!r}; choose one of: {', '.join(TASK_MIXES)}")
        bad = [v for v in self.variants.split(",") if v and v not in RL_VARIANTS]
        if bad:
            raise ConfigError(f"unknown RL variant(s) {bad}; choose from: {', '.join(RL_VARIANTS)}")
        if any(int(n) > self.rerank_max or int(n) < 1 for n in self.rerank_Ns.split(",")):
            raise ConfigError(f"every N of rerank_Ns must be in 1..rerank_max ({self.rerank_max})")
        if min(self.label_questions, self.label_k, self.mc_k, self.test_questions, self.rl_eval_n) < 1:
            raise ConfigError("label_questions, label_k, mc_k, test_questions, rl_eval_n must be >= 1")
        self.train.validate()
        self.grpo.validate()


PRM_PRESETS = {
    # CI: the smoke base stands in for both policies; a few questions, a few steps; seconds
    "smoke": PRMConfig(
        base="smoke",
        zero_ckpt="",
        mix="smoke",
        label_questions=6,
        label_k=2,
        mc_k=2,
        test_questions=4,
        rerank_n=4,
        rerank_sets="heldout",
        rerank_max=4,
        rerank_Ns="2,4",
        max_new_tokens=40,
        rl_eval_every=2,
        rl_eval_n=4,
        rl_eval_k=1,
        retrain_at=2,
        retrain_questions=4,
        train=RMConfig(epochs=1, lr=1e-3, batch=8, max_len=128, warmup=1),
        grpo=GRPOConfig(steps=3, questions=3, G=4, lr=3e-4, beta=0.0, max_new_tokens=40),
    ),
    # 2 CPU cores, the cpu base and R1-Zero cached: under 20 minutes (docs/unsuccessful.md)
    "cpu": PRMConfig(),
}


# ----------------------------------------------------------------------------- the run


def _samples(model, tok, problems, k: int, cfg: PRMConfig, temperature: float, seed: int) -> list[list[str]]:
    ecfg = EvalConfig(k=k, max_new_tokens=cfg.max_new_tokens, seed=seed, batch=32)
    return [[t for t, _ in outs] for outs in complete(model, tok, problems, k, ecfg, temperature=temperature)]


def labelled_samples(policies: dict, tok, problems, cfg: PRMConfig, seed: int) -> list[tuple[Problem, str, str]]:
    """(problem, response, policy name): label_k samples at T = 1 of each problem by each policy."""
    out = []
    for name, model in policies.items():
        for p, outs in zip(problems, _samples(model, tok, problems, cfg.label_k, cfg, 1.0, seed)):
            out += [(p, o, name) for o in outs]
    return out


class PRMReward:
    """reward_batch_fn for GRPOTrainer (r1mini/grpo.py): r = main + 0.5 x format, main the rule accuracy
    ("outcome"), the PRM's min over steps ("prm"), or the rule step labels' min ("gold_steps", 1 only when every
    step and the answer are right). Every component is logged (reward_accuracy, reward_prm, reward_gold_steps);
    with main "outcome" or "gold_steps" the PRM is only logged."""

    def __init__(self, main: str, prm: ProcessRewardModel, tok, max_len: int):
        self.main, self.prm, self.tok, self.max_len = main, prm, tok, max_len

    def __call__(self, texts: list[str], problems: list[Problem]) -> list[tuple[float, dict]]:
        probs = step_probs(self.prm, self.tok, problems, texts, self.max_len)
        out = []
        for i, (o, p) in enumerate(zip(texts, problems)):
            labels = rule_labels(o, p)
            parts = {
                "accuracy": accuracy_reward(o, p),
                "format": format_reward(o),
                "gold_steps": float(bool(labels) and min(labels) == 1),
                "prm": sequence_reward(probs[i]),
            }
            main = {"outcome": parts["accuracy"], "gold_steps": parts["gold_steps"]}.get(self.main, parts["prm"])
            out.append((main + 0.5 * parts["format"], parts))
        return out


def heldout_point(policy, tok, prm, problems, cfg: PRMConfig, step: int) -> dict:
    """Held-out curve point: rule accuracy (pass@1) and the PRM's mean reward of the same samples (T = 0.6); the
    share the PRM passes (reward > 0.5) with a wrong answer ("fooled"), and up to 3 of them, with the steps' PRM
    probabilities and rule labels."""
    texts = _samples(policy, tok, problems, cfg.rl_eval_k, cfg, 0.6, cfg.seed)
    flat_p = [p for p, outs in zip(problems, texts) for _ in outs]
    flat_o = [o for outs in texts for o in outs]
    probs = step_probs(prm, tok, flat_p, flat_o, cfg.train.max_len)
    acc = [accuracy_reward(o, p) for p, o in zip(flat_p, flat_o)]
    rule = [rule_labels(o, p) for p, o in zip(flat_p, flat_o)]
    fooled = [i for i, x in enumerate(probs) if sequence_reward(x) > 0.5 and acc[i] == 0]
    return {
        "step": step,
        "accuracy": _mean(acc),
        "prm_reward": _mean(sequence_reward(x) for x in probs),
        "gold_steps": _mean(min(y or [0]) for y in rule),
        "fooled": len(fooled) / max(1, len(flat_o)),
        "length": _mean(len(tok.encode(o, allow_special=True)) for o in flat_o),
        "fooled_examples": [
            {"question": flat_p[i].question, "answer": flat_p[i].answer, "response": flat_o[i],
             "prm": [round(x, 3) for x in probs[i]], "rule": rule[i]}
            for i in fooled[:3]
        ],
    }  # fmt: skip


def run_rl(variant: str, base_path, tok, prm_state, prm_data, cfg: PRMConfig, device, quiet: bool) -> dict:
    """One GRPO run from the base (use 1 and 3): the reward of `variant`, 2.2.2's question stream; held-out curve
    points judged by the rule and by the PRM (the one frozen at the start, so the curves share a yardstick)."""
    policy, _ = load_model(base_path, device)
    judge = _prm_from(prm_state, device)  # the yardstick of the held-out curve: the PRM as trained before RL
    prm = _prm_from(prm_state, device) if variant in ("prm", "prm_retrain") else judge  # judge: logged only
    reward = PRMReward(
        "outcome" if variant == "outcome" else "gold_steps" if variant == "gold_steps" else "prm",
        prm,
        tok,
        cfg.train.max_len,
    )
    trainer = GRPOTrainer(policy, tok, zero_prompt, None, cfg.grpo, reward_batch_fn=reward)
    zcfg = ZeroConfig(mix=cfg.mix, grpo=cfg.grpo)
    evalq = heldout(TASK_MIXES[cfg.mix], cfg.rl_eval_n, seed=77)
    curve, log, retrain, t0 = [heldout_point(policy, tok, judge, evalq, cfg, 0)], [], None, time.time()
    for step in tqdm(range(cfg.grpo.steps), desc=f"RL ({variant})", disable=quiet):
        if variant == "prm_retrain" and step == cfg.retrain_at:  # the paper's "retraining ... complicates"
            t1 = time.time()
            qs = TASK_MIXES[cfg.mix].sample(random.Random(f"retrain/{cfg.seed}"), cfg.retrain_questions, "train")
            new = labelled_samples({"policy": policy}, tok, qs, cfg, cfg.seed + 5)
            t_sample = time.time() - t1
            new_data = [(p, o, rule_labels(o, p)) for p, o, _ in new]
            fit = train_prm(prm, tok, prm_data + new_data, cfg.train, quiet=True)
            retrain = {
                "at_step": step,
                "responses": len(new_data),
                "step_labels": sum(len(y) for _, _, y in new_data),
                "seconds_sampling": t_sample,
                "seconds_training": fit["seconds"],
                "seconds": time.time() - t1,
            }
        stats = trainer.step(problems_for_step(zcfg, step))
        stats.pop("_texts")
        log.append(
            {
                k: stats[k]
                for k in (
                    "step",
                    "reward",
                    "reward_accuracy",
                    "reward_prm",
                    "reward_gold_steps",
                    "reward_format",
                    "response_len",
                )
            }
        )
        at_point = cfg.rl_eval_every and (step + 1) % cfg.rl_eval_every == 0 or step + 1 == cfg.grpo.steps
        if at_point:
            curve.append(heldout_point(policy, tok, judge, evalq, cfg, step + 1))
    return {"variant": variant, "seconds": time.time() - t0, "curve": curve, "metrics": log, "retrain": retrain}


def _prm_from(state: dict, device) -> ProcessRewardModel:
    prm = ProcessRewardModel(state["cfg"])
    prm.load_state_dict(state["weights"])
    prm.precision = state["precision"]
    return prm.to(device).eval()


def _state(prm: ProcessRewardModel) -> dict:
    return {
        "cfg": prm.cfg,
        "weights": {k: v.detach().clone() for k, v in prm.state_dict().items()},
        "precision": prm.precision,
    }


def run(cfg: PRMConfig, out: Path, quiet: bool = False) -> dict:
    """Everything: samples, both labellings and their agreement, the PRMs and the ORM, reranking, the RL runs."""
    cfg.validate()
    set_seed(cfg.seed)
    device = get_device(cfg.device)
    tok = get_tokenizer()
    out.mkdir(parents=True, exist_ok=True)
    T0, times, res = time.time(), {}, {"config": dataclasses.asdict(cfg), "command": command_line()}
    if res["command"].startswith("python prm.py"):  # run as python -m r1mini.prm
        res["command"] = res["command"].replace("python prm.py", "python -m r1mini.prm", 1)
    base_path = ensure_base(cfg.base, quiet=quiet, out_root=cfg.base_root)
    base, _ = load_model(base_path, device)
    zero = load_model(cfg.zero_ckpt, device)[0] if cfg.zero_ckpt else base
    policies = {"base": base, "r1_zero": zero}

    # 1. samples on train questions (labelled) and held-out questions (measured), both policies
    t = time.time()
    mix = TASK_MIXES[cfg.mix]
    train_q = mix.sample(random.Random(f"prm-label/{cfg.seed}"), cfg.label_questions, "train")
    test_q = heldout(mix, cfg.test_questions, seed=4242)
    train_s = labelled_samples(policies, tok, train_q, cfg, cfg.seed)
    test_s = labelled_samples(policies, tok, test_q, cfg, cfg.seed + 1)
    times["sampling"] = time.time() - t

    # 2. labels: by rule (the gold) and by rollouts (Math-Shepherd), with their costs and agreement
    t = time.time()
    rule_train = [rule_labels(o, p) for p, o, _ in train_s]
    rule_test = [rule_labels(o, p) for p, o, _ in test_s]
    times["labels_rule"] = time.time() - t
    t = time.time()
    mc_train = []
    for name, model in policies.items():  # each response is rolled out by the policy that wrote it
        items = [(p, o) for p, o, n in train_s if n == name]
        mc_train += rollout_labels(model, tok, items, cfg.mc_k, cfg.max_new_tokens, cfg.seed, quiet=quiet)
    times["labels_rollouts"] = time.time() - t
    n_steps = sum(len(y) for y in rule_train)
    n_rollouts = cfg.mc_k * sum(not s.answer for _, o, _ in train_s for s in split_steps(o))
    pairs = [(m, r) for ms, rs in zip(mc_train, rule_train) for m, r in zip(ms, rs)]
    res["labels"] = {
        "responses": len(train_s),
        "steps": n_steps,
        "rollouts": n_rollouts,
        "steps_per_response": n_steps / max(1, len(train_s)),
        "seconds_rule": times["labels_rule"],
        "seconds_rollouts": times["labels_rollouts"],
        "agreement": agreement(pairs),  # rollout label as prediction, rule label as truth
        "responses_with_steps": sum(bool(y) for y in rule_train),
    }

    # 3. the PRMs (rule labels, rollout labels) and the ORM, from the base's body; step accuracy held out
    t = time.time()
    models, fits = {}, {}
    for name, labels, outcome in (
        ("prm_rule", rule_train, False),
        ("prm_rollouts", mc_train, False),
        ("orm", rule_train, True),
    ):
        m = ProcessRewardModel.from_checkpoint(base_path, device)
        data = [(p, o, y) for (p, o, _), y in zip(train_s, labels)]
        fits[name] = train_prm(m, tok, data, cfg.train, outcome=outcome, quiet=quiet)
        models[name] = m
    times["prm_training"] = time.time() - t
    tp, to = [p for p, _, _ in test_s], [o for _, o, _ in test_s]
    res["prm"] = {}
    for name, m in models.items():
        probs = step_probs(m, tok, tp, to, cfg.train.max_len)
        res["prm"][name] = {"fit": fits[name], "heldout": step_accuracy(probs, rule_test)}
    res["prm"]["heldout_responses"] = len(test_s)
    res["prm"]["share_good_steps"] = agreement([(1, y) for ys in rule_test for y in ys])["acc"]

    # 4. reranking: best-of-N by PRM (min over steps), by ORM (the last step), majority vote
    t = time.time()
    res["rerank"] = {}
    Ns = [int(n) for n in cfg.rerank_Ns.split(",")]
    for set_name, problems in eval_sets(cfg.rerank_sets.split(","), cfg.mix, cfg.rerank_n).items():
        texts = _samples(zero, tok, problems, cfg.rerank_max, cfg, 0.6, cfg.seed + 2)
        flat_p = [p for p, outs in zip(problems, texts) for _ in outs]
        flat_o = [o for outs in texts for o in outs]
        scorers = {}
        for name in ("prm_rule", "prm_rollouts", "orm"):
            probs = step_probs(models[name], tok, flat_p, flat_o, cfg.train.max_len)
            flat = [sequence_reward(x) if name != "orm" else (x[-1] if x else 0.0) for x in probs]
            scorers[name] = [flat[i * cfg.rerank_max : (i + 1) * cfg.rerank_max] for i in range(len(problems))]
        res["rerank"][set_name] = {"questions": len(problems), "by_N": rerank_figures(problems, texts, scorers, Ns)}
    times["rerank"] = time.time() - t

    # 5. RL: outcome reward, the PRM (rule labels), retrained mid-run, the gold step labels
    t = time.time()
    prm_data = [(p, o, y) for (p, o, _), y in zip(train_s, rule_train)]
    state = _state(models["prm_rule"])
    res["rl"] = {}
    for v in [v for v in cfg.variants.split(",") if v]:
        r = run_rl(v, base_path, tok, state, prm_data, cfg, device, quiet)
        res["rl"][v] = r
        with open(out / f"rl_{v}.jsonl", "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in r["metrics"]))
    times["rl"] = time.time() - t
    times["total"] = time.time() - T0
    res["seconds"] = times
    res["device"] = str(device)
    atomic_save(rm_state(models["prm_rule"], labels="rule", read="every step"), out / "prm_rule.pt")
    write_json(res, out / "summary.json")
    atomic_write_bytes(out / "report.md", report(res).encode())
    write_curves(out, res)
    return res


# ----------------------------------------------------------------------------- the report


def _f(x, d=3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def report(res: dict) -> str:
    """report.md: the tables of the run (labels, PRM accuracy, reranking, RL curves)."""
    L, lab = [], res["labels"]
    L += [
        "# Section 4.2: a process reward model on the toy world",
        "",
        f"Command: `{res['command']}`  ",
        (
            f"Device: {res['device']}; wall time {res['seconds']['total']:.0f} s "
            f"({', '.join(f'{k} {v:.0f} s' for k, v in res['seconds'].items() if k != 'total')})"
        ),
        "",
        "## Step labels (train questions; base and R1-Zero samples)",
        "",
        (
            f"{lab['responses']} responses, {lab['steps']} steps ({lab['steps_per_response']:.1f} a response). "
            f"Rule labels: {lab['seconds_rule']:.2f} s. Rollout labels: {lab['rollouts']} rollouts, "
            f"{lab['seconds_rollouts']:.0f} s."
        ),
        "",
        "| rollout label vs rule label | agreement | on rule-good steps | on rule-bad steps | rule-good share |",
        "|---|---|---|---|---|",
    ]
    a = lab["agreement"]
    L += [f"| all steps | {_f(a['acc'])} | {_f(a['acc_good'])} | {_f(a['acc_bad'])} | {_f(a['share_good'])} |", ""]
    L += [
        "## The PRMs' held-out step accuracy (against the rule labels)",
        "",
        (
            f"{res['prm']['heldout_responses']} responses to held-out questions; "
            f"{_f(res['prm']['share_good_steps'])} of their steps are good by rule."
        ),
        "",
        "| model | trained on | step acc | good steps | bad steps | balanced | answer step | fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    what = {"prm_rule": "rule labels", "prm_rollouts": "rollout labels", "orm": "answer label only"}
    for name in ("prm_rule", "prm_rollouts", "orm"):
        h, fit = res["prm"][name]["heldout"], res["prm"][name]["fit"]
        L.append(
            f"| {name} | {what[name]} | {_f(h['acc'])} | {_f(h['acc_good'])} | {_f(h['acc_bad'])} | "
            f"{_f(h['balanced'])} | {_f(h['answer_step_acc'])} | {fit['seconds']:.0f} |"
        )
    L += ["", "## Reranking the R1-Zero policy's samples (T = 0.6): share of questions right", ""]
    for set_name, rr in res["rerank"].items():
        L += [
            f"{set_name} ({rr['questions']} questions):",
            "",
            (
                "| N | pass@1 | majority (cons@N) | best-of-N ORM | best-of-N PRM (rule) | best-of-N PRM (rollouts) "
                "| oracle pass@N |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for N, r in rr["by_N"].items():
            L.append(
                f"| {N} | {_f(r['pass@1'])} | {_f(r['majority'])} | {_f(r['orm'])} | {_f(r['prm_rule'])} | "
                f"{_f(r['prm_rollouts'])} | {_f(r['oracle'])} |"
            )
        L.append("")
    L += [
        "## RL from the base: held-out rule accuracy beside the PRM's reward",
        "",
        "| variant | step | held-out accuracy | held-out PRM reward | all steps right | PRM passes, wrong | length |",
        "|---|---|---|---|---|---|---|",
    ]
    for v, r in res["rl"].items():
        for c in r["curve"]:
            L.append(
                f"| {v} | {c['step']} | {_f(c['accuracy'])} | {_f(c['prm_reward'])} | {_f(c['gold_steps'])} "
                f"| {_f(c['fooled'])} | {c['length']:.1f} |"
            )
    L += [
        "",
        "| variant | RL s | first 5 steps: batch accuracy / PRM | last 5 steps: batch accuracy / PRM |",
        "|---|---|---|---|",
    ]
    for v, r in res["rl"].items():
        m = r["metrics"]
        fa, la = (_mean(x["reward_accuracy"] for x in part) for part in (m[:5], m[-5:]))
        fp, lp = (_mean(x["reward_prm"] for x in part) for part in (m[:5], m[-5:]))
        L.append(f"| {v} | {r['seconds']:.0f} | {_f(fa)} / {_f(fp)} | {_f(la)} / {_f(lp)} |")
        if r["retrain"]:
            rt = r["retrain"]
            L.append(
                f"| (retrain at step {rt['at_step']}) | {rt['seconds']:.0f} | {rt['responses']} responses, "
                f"{rt['step_labels']} step labels | sampling {rt['seconds_sampling']:.0f} s, "
                f"training {rt['seconds_training']:.0f} s |"
            )
    L += ["", "Held-out responses the PRM passes (reward > 0.5) with a wrong answer, at the last curve point:", ""]
    for v, r in res["rl"].items():
        for ex in r["curve"][-1]["fooled_examples"][:2]:
            L.append(f"- {v}: {ex['question']} ({ex['answer']}) `{ex['response'].strip()}` PRM {ex['prm']}, "
                     f"rule {ex['rule']}")  # fmt: skip
    return "\n".join(L) + "\n"


def write_curves(out: Path, res: dict) -> None:
    """curves.csv (variant, step, held-out accuracy, PRM reward); curves.png with matplotlib, if installed."""
    rows = ["variant,step,accuracy,prm_reward,gold_steps,length"]
    rows += [
        f"{v},{c['step']},{c['accuracy']:.4f},{c['prm_reward']:.4f},{c['gold_steps']:.4f},{c['length']:.1f}"
        for v, r in res["rl"].items()
        for c in r["curve"]
    ]
    atomic_write_bytes(out / "curves.csv", ("\n".join(rows) + "\n").encode())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for v, r in res["rl"].items():
        steps = [c["step"] for c in r["curve"]]
        ax[0].plot(steps, [c["accuracy"] for c in r["curve"]], marker="o", label=v)
        ax[1].plot(steps, [c["prm_reward"] for c in r["curve"]], marker="o", label=v)
    ax[0].set(xlabel="RL step", ylabel="held-out rule accuracy", title="the rule (gold)")
    ax[1].set(xlabel="RL step", ylabel="held-out PRM reward", title="the PRM (as trained before RL)")
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description="Section 4.2: a process reward model as reward, reranker; the gold.")
    p.add_argument("--preset", default="cpu", help=f"one of: {', '.join(PRM_PRESETS)}")
    p.add_argument("--out", default=None, help="run folder (default runs/prm/<preset>-<time>)")
    p.add_argument("--json", default=None, help="also write the summary (every table's figures) here")
    add_config_args(p, PRMConfig)
    add_config_args(p, RMConfig, prefix="prm_")
    add_config_args(p, GRPOConfig, prefix="rl_")
    args = p.parse_args()
    base = pick_preset(PRM_PRESETS, args.preset)
    cfg = dataclasses.replace(
        config_from_args(base, args),
        train=config_from_args(base.train, args, "prm_"),
        grpo=config_from_args(base.grpo, args, "rl_"),
    )
    out = Path(args.out) if args.out else Path("runs/prm") / f"{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    res = run(cfg, out)
    print(report(res))
    if args.json:
        write_json(res, args.json)


if __name__ == "__main__":
    cli_main(main)
