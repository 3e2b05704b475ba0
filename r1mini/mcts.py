"""Section 4.2 (unsuccessful attempts): Monte Carlo tree search (MCTS) over the steps of a chain of thought.

The paper tried AlphaGo-style search at test time: answers broken into steps, a search over the steps guided by a
pretrained value model, and the question-answer pairs it found used to train both the actor and the value model,
iterated. It names two obstacles: (1) the token space is exponentially larger than a board's, so the children of a
node must be capped, and then the search gets stuck in local optima; (2) the value model, which steers every step
of the search, is hard to train, so the iteration does not take off.

Here a node is a prefix of the response o that ends at a step boundary (r1mini/steps.py:split_steps). One simulation:
    1. select   from the root, the child of highest PUCT score, until a node not yet expanded (or terminal)
    2. expand   sample k next steps from pi_theta (one sampler call, the prefix's KV cache shared by the k rows);
                equal steps merge; a child's prior P is its step's probability, normalised over the siblings
    3. evaluate each new child: a terminal one (its answer step given, or a step that never ended) by the rule
                accuracy reward (2.2.2); another by the value model V (the reward-model body with a scalar head,
                trained on rollouts' outcomes) or by one rollout to the end: a switch
    4. backup   each value is added to every node on the path (N += 1, W += v)
The budget is counted in generated tokens (steps and rollouts), so the search is compared with best-of-N sampling
(checked by the same rule) and majority vote at equal tokens; the loop of 4.2 (search, SFT on what it found,
retrain V, search again) runs beside GRPO from the same start at the same number of generated tokens.

    python -m r1mini.mcts --json runs/mcts/cpu.json     # cpu preset: the cached cpu and aha_plain bases (or made)
    python -m r1mini.mcts --preset smoke                 # seconds; CI runs it
Docs: docs/mcts.md. Tests: pytest -k mcts (tests/test_mcts.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    cli_main,
    command_line,
    config_from_args,
    get_device,
    pick_preset,
    set_seed,
    write_json,
)
from r1mini.engine.model import load_model
from r1mini.engine.sampler import SamplingConfig, generate
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import EvalConfig, complete, zero_prompt
from r1mini.grpo import GRPOConfig, GRPOTrainer
from r1mini.prm import ProcessRewardModel, agreement, rerank_figures, step_probs, train_prm
from r1mini.reward_model import RMConfig
from r1mini.rewards import accuracy_reward
from r1mini.sft import SFTConfig, train_sft
from r1mini.steps import Step, gold_signatures, rule_step_ok, split_steps
from r1mini.template import TAGS, Example
from r1mini.toy.pretrain import ensure_base
from r1mini.toy.tasks import BENCHMARKS, Problem, TaskMix, apply_op, benchmark, heldout, solve_countdown
from r1mini.zero import ZeroConfig, reward_fn

# ----------------------------------------------------------------------------- the tree


@dataclass(eq=False)
class Node:
    """A prefix of the response that ends at a step boundary; the root is the empty response."""

    text: str  # the response so far: o up to the end of this node's step ("" at the root)
    prior: float = 1.0  # P: this step's probability under pi_theta, normalised over its siblings
    terminal: bool = False  # the response ends here: its answer step, or a step that never ended
    reward: float = 0.0  # a terminal node's rule accuracy reward (2.2.2)
    tokens: int = 0  # generated tokens from the root to the end of this step (the response's length so far)
    children: list[Node] = field(default_factory=list)
    N: int = 0  # visits: values backed up through this node
    W: float = 0.0  # their sum

    @property
    def Q(self) -> float:
        return self.W / self.N if self.N else 0.0


def puct(child: Node, parent_N: int, c_puct: float) -> float:
    """AlphaGo Zero's selection score: Q(s, a) + c_puct * P(s, a) * sqrt(N(s)) / (1 + N(s, a))."""
    return child.Q + c_puct * child.prior * math.sqrt(parent_N) / (1 + child.N)  # PUCT


def select(root: Node, c_puct: float) -> list[Node]:
    """The path from the root to a leaf (a node with no children, or a terminal one), taking at each node the
    child of highest PUCT score (the first of equals)."""
    path = [root]
    while path[-1].children and not path[-1].terminal:
        node = path[-1]
        path.append(max(node.children, key=lambda c: puct(c, node.N, c_puct)))
    return path


def backup(path: list[Node], value: float) -> None:
    """Every node on the path saw one more value: N += 1, W += value."""
    for node in path:
        node.N += 1
        node.W += value


@dataclass
class Proposal:
    """One next step as the policy wrote it."""

    text: str  # the response through the step (the prefix + the step)
    logp: float  # log pi_theta of the step's tokens
    terminal: bool  # the response ends with this step
    tokens: int  # tokens the step took (the path's length grows by this)


def expand(node: Node, proposals: list[Proposal], problem: Problem) -> list[Node]:
    """The node's children, one per distinct step (equal texts merge, keeping the first's log-prob); priors
    P = softmax of the steps' log-probs; a terminal child gets its rule accuracy reward."""
    distinct: dict[str, Proposal] = {}
    for p in proposals:
        distinct.setdefault(p.text, p)
    top = max(p.logp for p in distinct.values())
    weights = {t: math.exp(p.logp - top) for t, p in distinct.items()}
    total = sum(weights.values())
    node.children = [
        Node(t, weights[t] / total, p.terminal, accuracy_reward(t, problem) if p.terminal else 0.0,
             node.tokens + p.tokens)
        for t, p in distinct.items()
    ]  # fmt: skip
    return node.children


# ----------------------------------------------------------------------------- the policy, step by step

SENTENCE_END = (".", "。")  # split_steps ends a sentence at "." before a space or the end, or at "。"


def next_step(prefix: str, piece: str, max_tokens_left: int) -> tuple[str, bool]:
    """What a sampled piece adds to a prefix (which ends at a step boundary): (the response through its first
    step, whether the response ends there). The answer step ends it; so does a piece with no step that ends
    (a sentence cut by the token limit, a stop token before any sentence ended), which keeps the whole piece."""
    text = prefix + piece
    new = [s for s in split_steps(text) if s.end > len(prefix)]
    if not new or new[0].start < len(prefix):  # nothing new, or the piece re-opened the prefix's last sentence
        return text, True
    step = new[0]
    ended = step.answer or step.text.rstrip().endswith(SENTENCE_END)
    if not ended:
        return text, True
    return text[: step.end], step.answer or max_tokens_left <= 0


class StepPolicy:
    """pi_theta as the search sees it: k next steps of each prefix, or one rollout to the end of each."""

    def __init__(self, model, tok, temperature: float = 1.0, step_tokens: int = 48, max_new_tokens: int = 128):
        self.model, self.tok, self.temperature = model, tok, temperature
        self.step_tokens, self.max_new_tokens = step_tokens, max_new_tokens
        ends = [i for i in range(tok.vocab_size) if any(e in tok.decode([i]) for e in SENTENCE_END)]
        self.step_stop = (tok.eot_id, tok.answer_end_id, *ends)  # a step stops at its sentence end (or the end)

    def _sample(self, problems, texts, n: int, max_new: int, stop_ids, seed: int):
        room = self.model.cfg.max_seq_len - max_new
        prompts = [self.tok.encode(zero_prompt(p) + t, allow_special=True)[-room:] for p, t in zip(problems, texts)]
        s = generate(self.model, prompts, SamplingConfig(max_new, self.temperature, stop_ids=stop_ids), n, seed,
                     pad_id=self.tok.pad_id)  # fmt: skip
        rows = [[t for t, m in zip(r, mr) if m and t != self.tok.eot_id] for r, mr in zip(s.tokens.tolist(),
                                                                                            s.mask.tolist())]
        return [self.tok.decode(r) for r in rows], s.mask.sum(1).tolist(), (s.logprobs * s.mask).sum(1).tolist()

    @torch.no_grad()
    def steps(self, problems, nodes: list[Node], k: int, seed: int) -> tuple[list[list[Proposal]], list[int]]:
        """k sampled next steps of each node, and the tokens each node's k rows generated."""
        self.model.eval()
        pieces, lengths, logps = self._sample(problems, [n.text for n in nodes], k, self.step_tokens,
                                              self.step_stop, seed)  # fmt: skip
        out, spent = [], []
        for i, node in enumerate(nodes):
            rows = range(i * k, (i + 1) * k)
            props = []
            for r in rows:
                left = self.max_new_tokens - node.tokens - lengths[r]
                text, terminal = next_step(node.text, pieces[r], left)
                props.append(Proposal(text, logps[r], terminal, lengths[r]))
            out.append(props)
            spent.append(sum(lengths[r] for r in rows))
        return out, spent

    @torch.no_grad()
    def rollouts(self, problems, nodes: list[Node], seed: int) -> tuple[list[str], list[int]]:
        """One completion of each node's response to its end (the stop tokens or max_new_tokens in all), and the
        tokens each took."""
        self.model.eval()
        max_new = max(1, self.max_new_tokens - min(n.tokens for n in nodes))
        stop = (self.tok.eot_id, self.tok.answer_end_id)
        pieces, lengths, _ = self._sample(problems, [n.text for n in nodes], 1, max_new, stop, seed)
        return [n.text + p for n, p in zip(nodes, pieces)], lengths


# ----------------------------------------------------------------------------- the search


@dataclass
class SearchConfig:
    k: int = 4  # children per expansion: next steps sampled from pi_theta (equal ones merge)
    leaf: str = "value"  # how a new child is valued: "value" (the value model) or "rollout" (one rollout, tokens)
    budget: int = 240  # generated tokens per question (steps and rollouts); the last expansion may pass it
    max_sims: int = 64  # simulations per question at most (re-selecting a terminal node spends no tokens)
    c_puct: float = 1.0  # PUCT's exploration weight

    def validate(self) -> None:
        if self.leaf not in ("value", "rollout"):
            raise ConfigError(f"leaf must be 'value' or 'rollout', got {self.leaf!r}")
        if min(self.k, self.budget, self.max_sims) < 1 or self.c_puct < 0:
            raise ConfigError("k, budget and max_sims must be >= 1 and c_puct >= 0")


@dataclass
class SearchResult:
    root: Node  # the tree
    solved: bool  # a response with the right answer was reached (a terminal node or a rollout)
    solution: str  # the first such response ("" if none)
    tokens: int  # generated tokens spent: every sampled step and rollout
    simulations: int
    rollouts: list[tuple[str, float]] = field(default_factory=list)  # (response, reward) of every rollout


def search(problems: list[Problem], policy, cfg: SearchConfig, values=None, seed: int = 0) -> list[SearchResult]:
    """MCTS for each question, the questions in lockstep: one simulation each per round, their expansions in one
    sampler call. policy: a StepPolicy (or a stand-in with .steps and .rollouts); values(problems, texts) ->
    V of each text in [0, 1], needed when cfg.leaf == "value"."""
    cfg.validate()
    if cfg.leaf == "value" and values is None:
        raise ConfigError("leaf='value' needs a value model")
    res = [SearchResult(Node(""), False, "", 0, 0) for _ in problems]
    for rnd in range(cfg.max_sims):
        live = [i for i, r in enumerate(res) if r.tokens < cfg.budget]
        if not live:
            break
        paths = {i: select(res[i].root, cfg.c_puct) for i in live}  # 1. select
        for i in live:
            res[i].simulations += 1
        for i in [i for i in live if paths[i][-1].terminal]:  # a terminal leaf: its reward again, no tokens
            backup(paths[i], paths[i][-1].reward)
        grow = [i for i in live if not paths[i][-1].terminal]
        if not grow:
            continue
        proposals, spent = policy.steps([problems[i] for i in grow], [paths[i][-1] for i in grow], cfg.k, seed + rnd)
        new = []  # (question, child)
        for i, props, t in zip(grow, proposals, spent):  # 2. expand
            res[i].tokens += t
            new += [(i, c) for c in expand(paths[i][-1], props, problems[i])]
        open_ = [(i, c) for i, c in new if not c.terminal]
        v = {id(c): c.reward for _, c in new if c.terminal}  # 3. evaluate: the rule on a terminal child
        if open_ and cfg.leaf == "value":
            for (_, c), x in zip(open_, values([problems[i] for i, _ in open_], [c.text for _, c in open_])):
                v[id(c)] = x
        elif open_:
            texts, lengths = policy.rollouts([problems[i] for i, _ in open_], [c for _, c in open_], seed + 7919 * rnd)
            for (i, c), text, n in zip(open_, texts, lengths):
                v[id(c)] = accuracy_reward(text, problems[i])
                res[i].tokens += n
                res[i].rollouts.append((text, v[id(c)]))
                if v[id(c)] == 1.0 and not res[i].solved:
                    res[i].solved, res[i].solution = True, text
        for i, c in new:  # 4. backup
            backup(paths[i] + [c], v[id(c)])
            if c.terminal and c.reward == 1.0 and not res[i].solved:
                res[i].solved, res[i].solution = True, c.text
    return res


def value_fn(vm: ProcessRewardModel, tok, max_len: int = 256):
    """values(problems, texts) for the search: V(prefix) = the value model's probability at the prefix's last step."""

    def values(problems, texts) -> list[float]:
        return [(p[-1] if p else 0.0) for p in step_probs(vm, tok, problems, texts, max_len)]

    return values


def nodes(root: Node):
    """Every node of a tree, parents before children."""
    stack = [root]
    while stack:
        n = stack.pop()
        yield n
        stack += reversed(n.children)


# ----------------------------------------------------------------------------- the first step: a local optimum?

_MOVE = re.compile(r"\s*(?:Try\s+)?(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(\d+)\s*")


def countdown_step_ok(problem: Problem, text: str) -> bool:
    """A countdown step is right when each of its comma-separated pieces is a move "a op b = c" that takes a and b
    from the pool (the numbers, then the values made), computes c exactly and puts it back, and the target can
    still be made from the pool (tasks.solve_countdown, exhaustive). A piece that is not a move is wrong."""
    for tag in TAGS:
        text = text.replace(tag, " ")
    pool = list(problem.numbers)
    for piece in re.split(r"[,.]", text.strip().rstrip(".")):
        m = _MOVE.fullmatch(piece)
        if not m:
            return False
        a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
        for x in (a, b):
            if x not in pool:
                return False
            pool.remove(x)
        try:
            if apply_op(op, a, b) != c:
                return False
        except ValueError:
            return False
        pool.append(c)
    return problem.target in pool if len(pool) == 1 else solve_countdown(tuple(pool), problem.target) is not None


def first_step_ok(problem: Problem, text: str) -> bool:
    """Whether the first step of a response can still lead to the right answer: countdown by countdown_step_ok;
    another family by the rule of r1mini/steps.py (a step of the column algorithm, its arithmetic true); an answer
    step by the accuracy reward. False for a response with no step."""
    steps = split_steps(text)
    if not steps:
        return False
    s = steps[0]
    if problem.family == "countdown" and not s.answer:
        return countdown_step_ok(problem, s.text)
    return rule_step_ok(Step(s.text, 0, s.end, s.answer), problem, gold_signatures(problem))


def first_steps(problem: Problem, r: SearchResult) -> dict:
    """The local optimum 4.2 names: the root's most visited child is the first step the search committed to;
    whether it is wrong, and whether a right first step was among the root's children all the same."""
    kids = r.root.children
    if not kids:
        return {"committed_wrong": False, "right_offered": False, "children": 0}
    committed = max(kids, key=lambda c: c.N)
    return {
        "committed_wrong": not first_step_ok(problem, committed.text),
        "right_offered": any(first_step_ok(problem, c.text) for c in kids),
        "children": len(kids),
    }


def tree_figures(results: list[SearchResult]) -> dict:
    """Means over the questions' trees: distinct children per expanded node (k caps them; equal steps merge) and
    the deepest node's depth in steps."""

    def depth(n: Node) -> int:
        return 1 + max((depth(c) for c in n.children), default=-1)

    widths = [len(n.children) for r in results for n in nodes(r.root) if n.children]
    return {"children": _mean(widths), "depth": _mean(depth(r.root) for r in results)}


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


# ----------------------------------------------------------------------------- the value model


def outcome_labels(items: list[tuple[Problem, str]]) -> list[tuple[Problem, str, list[int]]]:
    """(problem, response) -> every step labelled with the response's outcome (1 = the right answer): AlphaGo's
    value target, the return of the game through the position."""
    return [(p, o, [int(accuracy_reward(o, p) == 1.0)] * len(split_steps(o))) for p, o in items]


def auc(scores: list[float], labels: list[int]) -> float:
    """The chance that a step leading to a right answer scores above one that does not (ties count half): the
    Mann-Whitney U over ranks, ties given their mean rank. What steers a search is this ordering, not V > 0.5.
    nan when either kind is missing."""
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return float("nan")
    pairs, rank_sum, i = sorted(zip(scores, labels)), 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + 1 + j) / 2 * sum(y for _, y in pairs[i:j])  # ranks i+1..j share their mean
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def value_accuracy(vm: ProcessRewardModel, tok, data, max_len: int = 256) -> dict:
    """V against the outcome labels of every step: prm.agreement of V > 0.5 (acc, balanced, share_good) and the
    AUC of V itself."""
    probs = step_probs(vm, tok, [p for p, _, _ in data], [o for _, o, _ in data], max_len)
    pairs = [(x, y) for ps, (_, _, ys) in zip(probs, data) for x, y in zip(ps, ys)]
    return agreement([(int(x > 0.5), y) for x, y in pairs]) | {"auc": auc([x for x, _ in pairs], [y for _, y in pairs])}


# ----------------------------------------------------------------------------- the config


@dataclass
class MCTSConfig:
    sets: str = "hard,countdown"  # which sets to search: hard (the benchmark), countdown (held out, levels 1-2)
    hard_base: str = "cpu"  # pretrain preset of the hard set's policy (cached under base_root; pretrained if missing)
    countdown_base: str = "aha_plain"  # the countdown policy's preset (the cpu corpus holds no countdown)
    base_root: str = "runs/base"  # folder of the cached bases
    hard_n: int = 50  # questions of benchmark("hard") (evenly spread over its 50)
    countdown_mix: str = "countdown:1:1,countdown:2:1"  # countdown's task mix: held-out questions, the loop's
    countdown_n: int = 96  # held-out countdown questions
    sample_n: int = 16  # samples per question for best-of-N and majority vote (T = temperature)
    Ns: str = "4,8,16"  # N of best-of-N and majority vote; each <= sample_n
    budget_n: int = 8  # the search's budget per question: budget_n samples' worth of tokens (the set's mean)
    ks: str = "2,4,8"  # children per expansion to compare
    leaves: str = "value,rollout"  # leaf evaluations to compare
    c_puct: float = 1.0  # PUCT's exploration weight
    max_sims: int = 64  # simulations per question at most
    step_tokens: int = 48  # longest step, tokens (a step that does not end by then is a dead end)
    max_new_tokens: int = 128  # longest response, tokens (sampling, search paths, rollouts)
    temperature: float = 1.0  # of every sample: the search's steps and rollouts, best-of-N's and the vote's
    value_questions: int = 256  # train questions whose samples (value_k each) train the value model first
    value_k: int = 4  # samples per question for the value model's first training
    value: RMConfig = field(default_factory=lambda: RMConfig(epochs=3, lr=1e-3, batch=32, max_len=256))  # V's fit
    iterations: int = 8  # rounds of 4.2's loop (search, SFT the policy, retrain V) on countdown
    loop_questions: int = 96  # train questions searched per round
    loop_k: int = 4  # the loop's children per expansion (value-model leaves)
    eval_n: int = 96  # held-out countdown questions per curve point
    eval_k: int = 4  # samples per question per curve point (T = 0.6, top-p 0.95: section 3)
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(epochs=2, batch_size=16, lr=3e-4, warmup=5))  # actor fit
    grpo: GRPOConfig = field(default_factory=lambda: GRPOConfig(questions=8, G=8, lr=1e-4, beta=0.0))  # the rival
    device: str = "auto"  # cuda, mps or cpu; auto = the first there
    seed: int = 0  # seeds the draws of questions and samples

    def validate(self) -> None:
        bad = [s for s in self.sets.split(",") if s not in ("hard", "countdown")]
        if bad or not self.sets:
            raise ConfigError(f"unknown set(s) {bad}; choose from: hard, countdown")
        if any(leaf not in ("value", "rollout") for leaf in self.leaves.split(",")):
            raise ConfigError(f"leaves must be value and/or rollout, got {self.leaves!r}")
        for name in ("Ns", "ks"):
            if not re.fullmatch(r"\d+(,\d+)*", getattr(self, name)):
                raise ConfigError(f"{name} must be whole numbers joined by commas, got {getattr(self, name)!r}")
        if any(not 1 <= int(n) <= self.sample_n for n in self.Ns.split(",")):
            raise ConfigError(f"every N of Ns must be in 1..sample_n ({self.sample_n})")
        if min(self.hard_n, self.countdown_n, self.budget_n, self.value_questions, self.value_k, self.eval_n,
               self.eval_k, self.loop_questions, self.loop_k, self.step_tokens, self.max_new_tokens) < 1:
            raise ConfigError("sizes, counts and token limits must be >= 1")  # fmt: skip
        for k in self.ks.split(","):
            SearchConfig(int(k), "value", 1, self.max_sims, self.c_puct).validate()
        self.value.validate()
        self.sft.validate()
        self.grpo.validate()


MCTS_PRESETS = {
    # CI: the smoke base plays both policies; a few questions, one round of the loop; seconds
    "smoke": MCTSConfig(
        hard_base="smoke", countdown_base="smoke", hard_n=3, countdown_n=3, sample_n=4, Ns="2,4", budget_n=2,
        ks="2", max_sims=6, step_tokens=24, max_new_tokens=48, value_questions=4, value_k=2,
        value=RMConfig(epochs=1, lr=1e-3, batch=8, max_len=128, warmup=1), iterations=1, loop_questions=3,
        loop_k=2, eval_n=3, eval_k=1, sft=SFTConfig(epochs=1, batch_size=4, warmup=1, max_len=128),
        grpo=GRPOConfig(questions=2, G=2, lr=1e-4, beta=0.0, max_new_tokens=48),
    ),
    # 2 CPU cores, the cpu and aha_plain bases cached: under 25 minutes (docs/mcts.md)
    "cpu": MCTSConfig(),
}  # fmt: skip


# ----------------------------------------------------------------------------- the run


def _sets(cfg: MCTSConfig) -> dict:
    """name -> (held-out questions, the base's preset, the task mix whose train split trains V)."""
    out = {}
    for name in cfg.sets.split(","):
        if name == "hard":
            qs = benchmark("hard")
            qs = qs[:: max(1, len(qs) // cfg.hard_n)][: cfg.hard_n]
            mix = TaskMix.parse(",".join(f"{f}:{lv}:{n}" for f, lv, n in BENCHMARKS["hard"]))
            out[name] = (qs, cfg.hard_base, mix)
        else:
            mix = TaskMix.parse(cfg.countdown_mix)
            out[name] = (heldout(mix, cfg.countdown_n, seed=31), cfg.countdown_base, mix)
    return out


def _samples(model, tok, problems, n: int, cfg: MCTSConfig, seed: int, temperature=None, top_p=1.0):
    ecfg = EvalConfig(k=n, max_new_tokens=cfg.max_new_tokens, seed=seed, batch=32, top_p=top_p)
    return complete(model, tok, problems, n, ecfg, temperature=cfg.temperature if temperature is None else temperature)


def train_value(base_path, model, tok, mix: TaskMix, cfg: MCTSConfig, device, quiet: bool):
    """V from the base's body, trained on the outcomes of the policy's own samples on train questions."""
    qs = mix.sample(random.Random(f"mcts-value/{cfg.seed}"), cfg.value_questions, "train")
    items = [(p, t) for p, outs in zip(qs, _samples(model, tok, qs, cfg.value_k, cfg, cfg.seed + 3)) for t, _ in outs]
    data = outcome_labels(items)
    vm = ProcessRewardModel.from_checkpoint(base_path, device)
    fit = train_prm(vm, tok, data, cfg.value, quiet=quiet)
    return vm, data, fit


def compare(name, problems, model, vm, tok, cfg: MCTSConfig, quiet: bool) -> dict:
    """Search against best-of-N and majority vote on one set, at equal generated tokens per question."""
    t0 = time.time()
    samples = _samples(model, tok, problems, cfg.sample_n, cfg, cfg.seed)
    texts = [[t for t, _ in s] for s in samples]
    per_sample = _mean(n for s in samples for _, n in s)
    Ns = [int(n) for n in cfg.Ns.split(",")]
    sampling = rerank_figures(problems, texts, {}, Ns)
    for N in Ns:
        sampling[N]["tokens"] = N * per_sample
    flat = [(p, t) for p, ts in zip(problems, texts) for t in ts]
    out = {
        "questions": len(problems),
        "tokens_per_sample": per_sample,
        "sampling": sampling,
        "sampling_first_wrong": _mean(not first_step_ok(p, t) for p, t in flat),
        "value_heldout": value_accuracy(vm, tok, outcome_labels(flat), cfg.value.max_len),
        "budget": round(cfg.budget_n * per_sample),
        "seconds_sampling": time.time() - t0,
        "search": {},
    }
    policy = StepPolicy(model, tok, cfg.temperature, cfg.step_tokens, cfg.max_new_tokens)
    runs = [(leaf, int(k)) for leaf in cfg.leaves.split(",") for k in cfg.ks.split(",")]
    for leaf, k in tqdm(runs, desc=f"MCTS {name}", disable=quiet):
        t = time.time()
        scfg = SearchConfig(k, leaf, out["budget"], cfg.max_sims, cfg.c_puct)
        rs = search(problems, policy, scfg, value_fn(vm, tok, cfg.value.max_len), seed=cfg.seed)
        fs = [first_steps(p, r) for p, r in zip(problems, rs)]
        unsolved = [f for f, r in zip(fs, rs) if not r.solved]
        out["search"][f"{leaf} k={k}"] = {
            "leaf": leaf,
            "k": k,
            "solved": _mean(r.solved for r in rs),
            "tokens": _mean(r.tokens for r in rs),
            "simulations": _mean(r.simulations for r in rs),
            "stuck": _mean(r.tokens < out["budget"] for r in rs),  # the tree ran out of leaves to grow
            "committed_wrong": _mean(f["committed_wrong"] for f in fs),
            "committed_wrong_unsolved": _mean(f["committed_wrong"] for f in unsolved),
            "wrong_over_right": _mean(f["committed_wrong"] and f["right_offered"] for f in fs),
            **tree_figures(rs),
            "seconds": time.time() - t,
        }
    return out


def curve_point(policy, vm, tok, evalq, cfg: MCTSConfig, tokens: int, seconds: float) -> dict:
    """Held-out countdown: pass@1 of eval_k samples (T = 0.6, top-p 0.95) and, with a value model, its accuracy
    on the steps of those samples (labelled by their outcomes)."""
    samples = _samples(policy, tok, evalq, cfg.eval_k, cfg, cfg.seed + 11, temperature=0.6, top_p=0.95)
    flat = [(p, t) for p, s in zip(evalq, samples) for t, _ in s]
    point = {"tokens": tokens, "seconds": seconds, "accuracy": _mean(accuracy_reward(t, p) for p, t in flat)}
    if vm is not None:
        acc = value_accuracy(vm, tok, outcome_labels(flat), cfg.value.max_len)
        point |= {"value_acc": acc["acc"], "value_auc": acc["auc"], "share_good": acc["share_good"]}
    return point


def mcts_loop(base_path, vm_state, data, tok, mix, evalq, budget: int, cfg: MCTSConfig, device, quiet) -> dict:
    """4.2's iteration: search train questions with pi_theta and V; SFT pi_theta on the right responses found;
    retrain V on every response reached (terminal paths and rollouts, their steps labelled by outcome); again."""
    policy, _ = load_model(base_path, device)
    vm = ProcessRewardModel(vm_state["cfg"]).to(device)
    vm.load_state_dict(vm_state["weights"])
    data, tokens, seconds = list(data), 0, 0.0
    curve, rounds = [curve_point(policy, vm, tok, evalq, cfg, 0, 0.0)], []
    for it in tqdm(range(cfg.iterations), desc="MCTS loop", disable=quiet):
        t = time.time()
        qs = mix.sample(random.Random(f"mcts-loop/{cfg.seed}/{it}"), cfg.loop_questions, "train")
        scfg = SearchConfig(cfg.loop_k, "value", budget, cfg.max_sims, cfg.c_puct)
        step_policy = StepPolicy(policy, tok, cfg.temperature, cfg.step_tokens, cfg.max_new_tokens)
        rs = search(qs, step_policy, scfg, value_fn(vm, tok, cfg.value.max_len), seed=cfg.seed + 101 * it)
        tokens += sum(r.tokens for r in rs)
        found = [Example(zero_prompt(p), r.solution, "mcts") for p, r in zip(qs, rs) if r.solved]
        if found:
            train_sft(policy, tok, found, cfg.sft, quiet=True)
        reached = [(p, n.text) for p, r in zip(qs, rs) for n in nodes(r.root) if n.terminal]
        data += outcome_labels(reached + [(p, o) for p, r in zip(qs, rs) for o, _ in r.rollouts])
        train_prm(vm, tok, data, cfg.value, quiet=True)
        seconds += time.time() - t
        rounds.append({"solved": _mean(r.solved for r in rs), "sft_examples": len(found), "value_rows": len(data)})
        curve.append(curve_point(policy, vm, tok, evalq, cfg, tokens, seconds))
    return {"curve": curve, "rounds": rounds}


def grpo_arm(base_path, tok, mix, evalq, marks: list[int], cfg: MCTSConfig, device, quiet) -> dict:
    """GRPO from the same base, its curve read each time its generated tokens pass the loop's at a round's end."""
    policy, _ = load_model(base_path, device)
    gcfg = dataclasses.replace(cfg.grpo, max_new_tokens=cfg.max_new_tokens)
    trainer = GRPOTrainer(policy, tok, zero_prompt, reward_fn(ZeroConfig()), gcfg)
    tokens, seconds, step = 0, 0.0, 0
    curve = [curve_point(policy, None, tok, evalq, cfg, 0, 0.0)]
    for mark in tqdm(marks, desc="GRPO", disable=quiet):
        while tokens < mark:
            t = time.time()
            qs = mix.sample(random.Random(f"mcts-grpo/{cfg.seed}/{step}"), gcfg.questions, "train")
            stats = trainer.step(qs)
            tokens += round(stats["response_len"] * gcfg.questions * gcfg.G)
            seconds += time.time() - t
            step += 1
        curve.append(curve_point(policy, None, tok, evalq, cfg, tokens, seconds) | {"steps": step})
    return {"curve": curve}


def run(cfg: MCTSConfig, quiet: bool = False) -> dict:
    """Search against sampling on each set, then (with countdown) the loop beside GRPO."""
    cfg.validate()
    set_seed(cfg.seed)
    device, tok, T0 = get_device(cfg.device), get_tokenizer(), time.time()
    res = {"config": dataclasses.asdict(cfg), "command": command_line(), "sets": {}}
    if res["command"].startswith("python mcts.py"):  # run as python -m r1mini.mcts
        res["command"] = res["command"].replace("python mcts.py", "python -m r1mini.mcts", 1)
    for name, (problems, preset, mix) in _sets(cfg).items():
        base_path = ensure_base(preset, quiet=quiet, out_root=cfg.base_root)
        model, _ = load_model(base_path, device)
        vm, data, fit = train_value(base_path, model, tok, mix, cfg, device, quiet)
        res["sets"][name] = compare(name, problems, model, vm, tok, cfg, quiet) | {"base": preset, "value_fit": fit}
        if name == "countdown":
            evalq = heldout(mix, cfg.eval_n, seed=32)
            state = {"cfg": vm.cfg, "weights": {k: v.detach().clone() for k, v in vm.state_dict().items()}}
            budget = res["sets"][name]["budget"]
            loop = mcts_loop(base_path, state, data, tok, mix, evalq, budget, cfg, device, quiet)
            marks = [p["tokens"] for p in loop["curve"][1:]]
            res["loop"] = {"mcts": loop, "grpo": grpo_arm(base_path, tok, mix, evalq, marks, cfg, device, quiet)}
    res["seconds"] = time.time() - T0
    return res


# ----------------------------------------------------------------------------- the report


def _f(x, d=3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def report(res: dict) -> str:
    lines = ["# Section 4.2: Monte Carlo tree search", "", f"`{res['command']}` ({res['seconds'] / 60:.1f} min)", ""]
    for name, s in res["sets"].items():
        lines += [f"## {name}: {s['questions']} questions, base `{s['base']}`, budget {s['budget']} tokens "
                  f"({res['config']['budget_n']} samples' worth)", "",
                  "| method | solved | tokens / question | children / node | depth | stuck "
                  "| committed to a wrong first step (a right one offered) |", "|---" * 7 + "|"]  # fmt: skip
        for N, row in s["sampling"].items():
            lines.append(f"| best-of-{N} (rule-checked) | {_f(row['oracle'])} | {row['tokens']:.0f} | | | | |")
            lines.append(f"| majority of {N} | {_f(row['majority'])} | {row['tokens']:.0f} | | | | |")
        for key, r in s["search"].items():
            lines.append(f"| MCTS {key} | {_f(r['solved'])} | {r['tokens']:.0f} | {_f(r['children'], 2)} | "
                         f"{_f(r['depth'], 1)} | {_f(r['stuck'])} | "
                         f"{_f(r['committed_wrong'])} ({_f(r['wrong_over_right'])}) |")  # fmt: skip
        va = s["value_heldout"]
        lines += ["", f"Samples whose first step is wrong: {_f(s['sampling_first_wrong'])}. Value model on these "
                  f"samples' steps: accuracy {_f(va['acc'])} (V > 0.5), AUC {_f(va['auc'])} "
                  f"({_f(va['share_good'])} of the steps lead to a right answer).", ""]  # fmt: skip
    if "loop" in res:
        lines += ["## The loop (countdown): search, SFT, retrain V; beside it GRPO at the same tokens", "",
                  "| round | MCTS tokens | MCTS s | solved in search | held-out acc | V acc | V AUC "
                  "| GRPO tokens | GRPO s | GRPO held-out acc |", "|---" * 10 + "|"]  # fmt: skip
        m, g = res["loop"]["mcts"], res["loop"]["grpo"]["curve"]
        for i, (a, b) in enumerate(zip(m["curve"], g)):
            solved = _f(m["rounds"][i - 1]["solved"]) if i else ""
            lines.append(f"| {i} | {a['tokens']} | {a['seconds']:.0f} | {solved} | {_f(a['accuracy'])} | "
                         f"{_f(a.get('value_acc'))} | {_f(a.get('value_auc'))} | {b['tokens']} | "
                         f"{b['seconds']:.0f} | {_f(b['accuracy'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description="Section 4.2: MCTS over reasoning steps against sampling, and its loop.")
    p.add_argument("--preset", default="cpu", help=f"one of: {', '.join(MCTS_PRESETS)}")
    p.add_argument("--out", default=None, help="also write the report (markdown) here")
    p.add_argument("--json", default=None, help="also write every figure here")
    add_config_args(p, MCTSConfig)
    add_config_args(p, RMConfig, prefix="value_")
    add_config_args(p, SFTConfig, prefix="sft_")
    add_config_args(p, GRPOConfig, prefix="rl_")
    args = p.parse_args()
    base = pick_preset(MCTS_PRESETS, args.preset)
    cfg = dataclasses.replace(
        config_from_args(base, args),
        value=config_from_args(base.value, args, "value_"),
        sft=config_from_args(base.sft, args, "sft_"),
        grpo=config_from_args(base.grpo, args, "rl_"),
    )
    res = run(cfg)
    text = report(res)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    if args.json:
        write_json(res, args.json)


if __name__ == "__main__":
    cli_main(main)
