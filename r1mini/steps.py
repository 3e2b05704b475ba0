"""Section 4.2: what a reasoning step is, and when one is right: by rule, or by rollouts.

Both of 4.2's unsuccessful attempts work on steps: the process reward model (r1mini/prm.py) scores each step, and the
tree search (r1mini/mcts.py) searches over them. On the toy world a step is a sentence of the chain of thought
("ones: 6 * 4 = 24, write 4 carry 2."), then one answer step holding the <answer> block; it is labelled
    by rule      the step is one the column algorithm writes for this problem (the same numbers, operators and
                 column, in English or Chinese) and its arithmetic is true: the gold analog of human labels
                 (PRM800K); a step is "good" when it and every step before it are right
    by rollouts  k completions by the policy from the prefix that ends with the step; good when one of them
                 reaches the right answer (Math-Shepherd's hard estimate, arXiv 2312.08935)

    >>> [s.text for s in split_steps(" <think> ones: 6 * 4 = 24, write 4 carry 2. So 6 * 4 = 24. </think> 24")]
    [' <think> ones: 6 * 4 = 24, write 4 carry 2.', ' So 6 * 4 = 24.']

A library module; its checks: pytest -k sec4_2 (tests/test_prm.py) and -k mcts (tests/test_mcts.py).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch
from tqdm import tqdm

from r1mini.engine.sampler import SamplingConfig, generate
from r1mini.evaluate import zero_prompt
from r1mini.metrics import has_reflection
from r1mini.rewards import accuracy_reward
from r1mini.template import ANSWER, ANSWER_END, TAGS, THINK, THINK_END
from r1mini.toy.corpus import worked_solution
from r1mini.toy.tasks import Problem, evaluate, parse_expr

# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One step of a response: text = response[start:end] (what the step adds, leading space included)."""

    text: str  # the step's characters, e.g. " tens: 4 * 7 = 28, 28 + 2 = 30, write 0 carry 3."
    start: int  # its first character in the response
    end: int  # one past its last character: the PRM reads the step's score at the token that ends here
    answer: bool = False  # the final step: the rest of the response, holding the <answer> block


_SENTENCE_END = re.compile(r"\.(?=\s|$)|。")  # "." before a space or the end ("1.5" is not one), or "。"
MAX_STEP_CHARS = 4000  # split_steps reads this much of a response (bounded time on any string)


def split_steps(response: str) -> list[Step]:
    """The steps of a response: each sentence of the chain of thought (the text after <think>, up to </think>
    or <answer>; all the text before <answer> without a <think>), a sentence ending at "." (before a space or
    the end) or "。", the last one possibly unended; then, if an <answer> block follows, one answer step that
    runs to the end of the response. Whitespace-only pieces are not steps. [] for a response with neither."""
    text = response[:MAX_STEP_CHARS]
    lo = text.index(THINK) + len(THINK) if THINK in text else 0
    ends = [i for i in (text.find(THINK_END, lo), text.find(ANSWER, lo)) if i >= 0]
    hi = min(ends) if ends else len(text)
    steps, start = [], 0  # a step's text runs from the end of the previous one (tags and spaces included)
    for m in _SENTENCE_END.finditer(text, lo, hi):
        if text[max(start, lo) : m.end()].strip():
            steps.append(Step(text[start : m.end()], start, m.end()))
            start = m.end()
    if text[max(start, lo) : hi].strip():  # an unended last sentence ("41 * 3 = 123" of a direct answer)
        steps.append(Step(text[start:hi], start, hi))
        start = hi
    a = text.find(ANSWER, lo)
    if a >= 0 and text.find(ANSWER_END, a) >= 0:
        steps.append(Step(text[start:], start, len(text), answer=True))
    return steps


# ----------------------------------------------------------------------------- labels by rule

_ZH_WORDS = (  # Chinese step words -> the English ones (toy/corpus.py WORDS), so a step is judged in either language
    ("十万位", "hundred thousands"),
    ("万位", "ten thousands"),
    ("千位", "thousands"),
    ("百位", "hundreds"),
    ("十位", "tens"),
    ("个位", "ones"),
    ("两边减去", "Subtract"),
    ("两边加上", "Add"),
    ("两边除以", "Divide by"),
    ("写", "write"),
    ("进", "carry"),
    ("借", "borrow"),
    ("所以", "So"),
    ("变成", "now"),
)
_SIGNATURE = re.compile(r"\d+|[-+*/=<()x]|ones|tens|hundreds|thousands|write|carry|borrow")
_NUM = r"\(?-?\d+\)?"  # an integer, maybe negative, maybe in parentheses: "7", "-21", "(-5)"
_EQUATION = re.compile(rf"(?<![\d)])({_NUM}(?:\s*[-+*/]\s*{_NUM})+)\s*=\s*(-?\d+)(?!\d|\s*[-+*/]\s*\(?-?\d)")
_LESS = re.compile(r"(?<![\d)])(\d+)\s*<\s*(\d+)(?!\s*[-+*/])")


def signature(step_text: str) -> tuple[str, ...]:
    """What a step says, in either language: its numbers, operators and column words, in order.

    >>> signature(" 个位：6 * 4 = 24，写 4 进 2。") == signature("ones: 6 * 4 = 24, write 4 carry 2.")
    True
    """
    for tag in TAGS:
        step_text = step_text.replace(tag, " ")
    for zh, en in _ZH_WORDS:
        step_text = step_text.replace(zh, f" {en} ")
    return tuple(_SIGNATURE.findall(step_text))


def arithmetic_true(step_text: str) -> bool:
    """Every equation "a op b ... = c" (integers, + - * /, parentheses) and comparison "a < b" in the text holds,
    computed exactly (tasks.parse_expr / evaluate: our own tree, never Python's eval). An equation it cannot
    parse, or a division that does not come out whole, counts as false."""
    for m in _EQUATION.finditer(step_text[:MAX_STEP_CHARS]):
        try:
            lhs = re.sub(r"(^|\()-", r"\g<1>0 - ", m.group(1))  # parse_expr reads no unary minus: -a is 0 - a
            if evaluate(parse_expr(lhs)) != int(m.group(2)):
                return False
        except (ValueError, RecursionError):
            return False
    return all(int(a) < int(b) for a, b in _LESS.findall(step_text[:MAX_STEP_CHARS]))


def gold_signatures(problem: Problem) -> set[tuple[str, ...]] | None:
    """The signatures of the steps the corpus's column algorithm writes for this problem (toy/corpus.py, no
    slips); None for countdown (a search, whose tries may miss by design: only arithmetic is checked there)."""
    if problem.family == "countdown":
        return None
    text, _ = worked_solution(problem, "en", random.Random(0))
    return {signature(s.text) for s in split_steps(f"<think> {text} </think>")}


def rule_step_ok(step: Step, problem: Problem, gold: set | None) -> bool:
    """One step, judged alone: the answer step by the accuracy reward; a recheck ("Wait, ...") or a countdown
    step by its arithmetic; any other step must be a step of the column algorithm for this problem (gold) and
    hold true arithmetic."""
    if step.answer:
        return accuracy_reward(step.text, problem) == 1.0
    if gold is None or has_reflection(step.text):
        return arithmetic_true(step.text)
    return signature(step.text) in gold and arithmetic_true(step.text)


def rule_labels(response: str, problem: Problem, gold: set | None = None) -> list[int]:
    """Per step, 1 if it and every step before it are right (rule_step_ok), else 0: the first error and every
    step after it are bad (PRM800K stops at the first error; Math-Shepherd's prefixes reach no right answer)."""
    gold = gold_signatures(problem) if gold is None else gold
    out, ok = [], True
    for s in split_steps(response):
        ok = ok and rule_step_ok(s, problem, gold)
        out.append(int(ok))
    return out


# ----------------------------------------------------------------------------- labels by rollouts


@torch.no_grad()
def rollout_labels(
    policy,
    tok,
    items: list[tuple[Problem, str]],
    k: int,
    max_new_tokens: int,
    seed: int = 0,
    batch: int = 32,
    quiet: bool = True,
) -> list[list[int]]:
    """Math-Shepherd's hard estimate: per step of each (problem, response), 1 if one of k completions by `policy`
    (T = 1) from the Table 1 prompt + the response up to the end of that step reaches the right answer (the
    accuracy reward of the prefix + the completion), else 0. The answer step is the response's own accuracy
    (nothing is left to complete). Rows are grouped in batches of `batch` prefixes of k samples each."""
    jobs, labels = [], []  # (item, step) whose prefix must be rolled out
    for i, (p, o) in enumerate(items):
        steps = split_steps(o)
        labels.append([int(accuracy_reward(o, p)) if s.answer else 0 for s in steps])
        jobs += [(i, j, o[: s.end]) for j, s in enumerate(steps) if not s.answer]
    scfg = SamplingConfig(max_new_tokens, 1.0, stop_ids=(tok.eot_id, tok.answer_end_id))
    for b in tqdm(range(0, len(jobs), batch), desc="rollout labels", disable=quiet):
        chunk = jobs[b : b + batch]
        prompts = [tok.encode(zero_prompt(items[i][0]) + prefix, allow_special=True) for i, _, prefix in chunk]
        room = policy.cfg.max_seq_len - max_new_tokens
        prompts = [ids[-room:] for ids in prompts]
        s = generate(policy, prompts, scfg, n_samples=k, seed=seed + b, pad_id=tok.pad_id)
        for r, (i, j, prefix) in enumerate(chunk):
            outs = [
                tok.decode([t for t, m in zip(row, mr) if m and t != tok.eot_id])
                for row, mr in zip(s.tokens[r * k : (r + 1) * k].tolist(), s.mask[r * k : (r + 1) * k].tolist())
            ]
            labels[i][j] = int(any(accuracy_reward(prefix + o, items[i][0]) == 1.0 for o in outs))
    return labels
