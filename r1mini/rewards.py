"""Sections 2.2.2 and 2.3.2: the rule-based rewards (accuracy, format, language consistency).

R1-Zero is trained with two rules and no neural reward model (2.2.2): an accuracy reward (is the final
answer, given "in a specified format", right?) and a format reward (is the thinking put between
<think> and </think>?). R1 adds a language-consistency reward (2.3.2): the proportion of target-language
words in the chain of thought. Countdown (reach a target with given numbers) stands in for the paper's
compiler-checked code: the answer is a small program we check by walking its syntax tree.

Each reward is a plain function (completion, problem) -> float in [0, 1]. Completions are untrusted
model output: every reward is total on any string (never raises, never evals) and takes a few ms at
most on a 100 kB input. `total_reward` sums them with weights, as GRPO (r1mini/grpo.py) wants.

A library module (no CLI); its checks: `python -m pytest tests/test_rewards.py`.

    >>> from r1mini.toy.tasks import Problem
    >>> p = Problem("add", "What is 47 + 38?", "85")
    >>> o = " <think> 7 + 8 = 15, carry 1. 4 + 3 + 1 = 8. </think> <answer> 85 </answer>"
    >>> accuracy_reward(o, p), format_reward(o, p)
    (1.0, 1.0)
    >>> total_reward("<answer> 85.0 </answer>", p, {"accuracy": 1.0, "format": 0.5})
    (1.0, {'accuracy': 1.0, 'format': 0.0})
    >>> cd = Problem("countdown", "Use 2, 4, 6 to make 26.", "26", numbers=(2, 4, 6), target=26)
    >>> countdown_reward("<answer> 6 * 4 + 2 </answer>", cd), countdown_reward("<answer> 9**9**9 </answer>", cd)
    (1.0, 0.0)
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

from r1mini.engine.common import ConfigError
from r1mini.template import ANSWER, ANSWER_END, TAGS, chain_of_thought, parse_zero_completion

if TYPE_CHECKING:
    from r1mini.toy.tasks import Problem

MAX_ANSWER_CHARS = 1000  # a longer answer block is not an answer (and is never parsed)
MAX_EXPR_CHARS = 200  # countdown: rejected before ast.parse
MAX_EXPR_NODES = 100  # countdown: syntax-tree nodes
BOXED = "\\boxed{"

# ----------------------------------------------------------------------------- answers


def _unbox(text: str) -> str | None:
    """The content of the one `\\boxed{...}` in text (braces may nest), else None."""
    if text.count(BOXED) != 1:
        return None
    start = text.index(BOXED) + len(BOXED)
    depth = 1
    for i, ch in enumerate(text[start : start + MAX_ANSWER_CHARS + 1]):
        depth += (ch == "{") - (ch == "}")
        if depth == 0:
            return text[start : start + i]
    return None


def extract_answer(text: str, boxed: bool = False) -> str | None:
    """The final answer: the stripped content of exactly one <answer> ... </answer> block. None when
    there is no block, more than one, an empty one, or one longer than MAX_ANSWER_CHARS.
    With boxed=True a `\\boxed{...}` inside the block is unwrapped, and a text with no answer tags at
    all may give its answer as exactly one `\\boxed{...}` instead (2.2.2: "within a box").

    >>> extract_answer("<think> 2 + 2 </think> <answer> 4 </answer>")
    '4'
    >>> extract_answer("<answer> 4 </answer> <answer> 5 </answer>") is None
    True
    >>> extract_answer("so the answer is \\\\boxed{\\\\frac{3}{2}}", boxed=True)
    '\\\\frac{3}{2}'
    """
    n_open, n_close = text.count(ANSWER), text.count(ANSWER_END)
    if n_open == n_close == 1 and text.index(ANSWER) < text.index(ANSWER_END):
        ans = text.split(ANSWER, 1)[1].split(ANSWER_END, 1)[0]
        if boxed and BOXED in ans:
            ans = _unbox(ans)
    elif boxed and n_open == n_close == 0:
        ans = _unbox(text)
    else:
        return None
    if ans is None or len(ans) > MAX_ANSWER_CHARS:
        return None
    return ans.strip() or None


_NUMBER = re.compile(r"[+-]?[0-9]{1,30}(/[0-9]{1,30}|\.[0-9]{1,30})?")


def normalize_answer(ans: str) -> str:
    """A canonical form, so that equal answers compare equal as strings: whitespace removed, trailing
    periods dropped, and numbers (integers, decimals, fractions) written as a reduced fraction.
    Idempotent. Only short digit strings are parsed (Python's int() is slow on huge ones).

    >>> [normalize_answer(a) for a in ["+007", " -3 .", "6/4", "3 / 2", "1.50", "-0", "x = 3"]]
    ['7', '-3', '3/2', '3/2', '3/2', '0', 'x=3']
    """
    s = "".join(ans.split()).rstrip(".。")
    if _NUMBER.fullmatch(s):
        try:
            return str(Fraction(s))
        except ZeroDivisionError:  # "1/0"
            pass
    return s


# ----------------------------------------------------------------------------- 2.2.2: accuracy and format


def accuracy_reward(completion: str, problem: Problem, boxed: bool = False) -> float:
    """2.2.2: 1.0 if the extracted answer equals problem.answer after normalize_answer, else 0.0.
    For the countdown family the answer is checked as a program by countdown_reward."""
    if problem.family == "countdown":
        return countdown_reward(completion, problem)
    ans = extract_answer(completion, boxed)
    return float(ans is not None and normalize_answer(ans) == normalize_answer(problem.answer))


def format_reward(completion: str, problem: Problem | None = None) -> float:
    """2.2.2, strict: 1.0 iff the response is `<think> ... </think> <answer> ... </answer>`, each tag
    exactly once, in this order, with only whitespace before, between and after the blocks."""
    return float(parse_zero_completion(completion) is not None)


def format_reward_partial(completion: str, problem: Problem | None = None) -> float:
    """A denser format signal: 0.25 for each of the four tags that appears exactly once (order unchecked).

    >>> format_reward_partial("<think> 2 + 2 = 4 </think> 4")
    0.5
    """
    return 0.25 * sum(completion.count(tag) == 1 for tag in TAGS[:4])


# ----------------------------------------------------------------------------- countdown: a checked program

_EXPR_CHARS = re.compile(r"[0-9+\-*/()\s]*")
_ALLOWED = (ast.Expression, ast.BinOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant):
        return Fraction(node.value)
    return _OPS[type(node.op)](_value(node.left), _value(node.right))


def eval_countdown(expr: str, numbers: tuple[int, ...]) -> Fraction | None:
    """The exact value of `expr` if it is a countdown expression over `numbers`, else None.

    Allowed: decimal integer literals, binary + - * /, parentheses; no unary sign (the numbers are
    positive, so b - a does what -(a - b) would). Each number is used exactly once (multiset equality).
    Division by zero gives None. The text is length-checked and character-whitelisted BEFORE it is
    parsed, and the syntax tree is only walked, never compiled or run.

    >>> eval_countdown("(7 - 3) * 6 / 8", (3, 6, 7, 8))
    Fraction(3, 1)
    >>> [eval_countdown(e, (2, 3)) for e in ["2 ** 3", "2 + 2", "-2 + 3", "2 / (3 - 3)", "__import__('os')"]]
    [None, None, None, None, None]
    """
    if len(expr) > MAX_EXPR_CHARS or not _EXPR_CHARS.fullmatch(expr):
        return None
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except Exception:  # SyntaxError, "too many nested parentheses", MemoryError, RecursionError, ...
        return None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_EXPR_NODES or not all(isinstance(n, _ALLOWED) for n in nodes):
        return None
    leaves = [n.value for n in nodes if isinstance(n, ast.Constant)]
    if any(type(v) is not int for v in leaves) or sorted(leaves) != sorted(numbers):
        return None
    try:
        return _value(tree.body)
    except ZeroDivisionError:
        return None


def countdown_reward(completion: str, problem: Problem) -> float:
    """1.0 if the answer is an expression that uses each of problem.numbers exactly once and equals
    problem.target exactly (see eval_countdown). "×" and "÷" may stand for * and /, and a trailing
    "= target" is allowed: "<answer> 6 × 4 + 2 = 26 </answer>"."""
    ans = extract_answer(completion)
    if ans is None or len(ans) > MAX_EXPR_CHARS:
        return 0.0
    expr, eq, rhs = ans.translate({ord("×"): "*", ord("÷"): "/"}).partition("=")
    if eq and normalize_answer(rhs) != str(problem.target):
        return 0.0
    value = eval_countdown(expr, problem.numbers)
    return float(value is not None and value == problem.target)


# ----------------------------------------------------------------------------- 2.3.2: language consistency

_EN_WORD = re.compile(r"[A-Za-z]{2,}")
_ZH_WORD = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def count_words(text: str) -> dict[str, int]:
    """Words per language, tag strings removed first. English: runs of >= 2 ASCII letters (so the
    variable "x" is not a word); Chinese: each CJK ideograph (Chinese is not written with spaces).

    >>> count_words("<think> 3 加 4 等于 7, so x = 7 </think>")
    {'en': 1, 'zh': 3}
    """
    for tag in TAGS:
        text = text.replace(tag, " ")
    return {"en": len(_EN_WORD.findall(text)), "zh": len(_ZH_WORD.findall(text))}


def language_share(completion: str, lang: str) -> float:
    """The proportion of `lang` words in the chain of thought (the <think> content; without one, the text
    before <answer>: see template.chain_of_thought); 1.0 for a chain with no words at all (only digits and
    symbols). Below 1.0 exactly when the chain holds a word of another language (metrics.off_language)."""
    counts = count_words(chain_of_thought(completion))
    total = sum(counts.values())
    return 1.0 if total == 0 else counts.get(lang, 0) / total


def language_consistency_reward(completion: str, problem: Problem) -> float:
    """2.3.2: the proportion of target-language (problem.lang) words in the chain of thought (language_share).

    A CoT with no words at all (only digits and symbols) scores 1.0: it does not mix languages, and
    scoring it 0 would push the model to add words for their own sake.

    >>> from r1mini.toy.tasks import Problem
    >>> zh_question = Problem("add", "?", "85", lang="zh")
    >>> language_consistency_reward("<think> 个位 7 + 8 = 15, carry one </think>", zh_question)
    0.5
    """
    return language_share(completion, problem.lang)


# ----------------------------------------------------------------------------- registry

REWARDS = {
    "accuracy": accuracy_reward,
    "accuracy_boxed": partial(accuracy_reward, boxed=True),
    "format": format_reward,
    "format_partial": format_reward_partial,
    "countdown": countdown_reward,
    "language": language_consistency_reward,
}


def total_reward(completion: str, problem: Problem, weights: dict[str, float]) -> tuple[float, dict[str, float]]:
    """The weighted sum of the named rewards (2.3.2 sums accuracy and language consistency), and each
    component's value, for logging."""
    unknown = sorted(set(weights) - set(REWARDS))
    if unknown:
        raise ConfigError(f"unknown reward(s) {unknown}; choose from: {', '.join(REWARDS)}")
    parts = {name: REWARDS[name](completion, problem) for name in weights}
    return float(sum(w * parts[name] for name, w in weights.items())), parts
