"""The synthetic "web" the base model is pretrained on: our stand-in for DeepSeek-V3-Base's pretraining data.

Not a section of the R1 paper: R1-Zero starts from a pretrained base (2.2) and can only make more
frequent what the base already does sometimes. So this corpus plants, mixed together, every behaviour
R1-Zero and R1 later select or fix:

    facts     bare single-digit facts, "7 + 8 = 15", "6 乘 7 等于 42": what every worked step is made of
    direct    short direct answers, "Q: What is 47 + 38?\\nA: 85", a fraction `direct_wrong` of them WRONG
              (near misses: off by 1 or 10, a dropped carry, swapped digits), so that answering directly
              is often wrong on multi-digit problems ...
    worked    ... while step-by-step solutions (digit by digit, one small computation per step, every
              operand copied from the question or an earlier step) are mostly right: RL can discover that
              thinking longer pays (Fig. 3). A fraction `step_wrong` has one wrong step whose error carries
              through to a wrong answer (the base is imperfect); a fraction `reflect` has a wrong step that
              is caught, "Wait, let me recheck: 7 + 8 = 15, not 14.", and corrected (the "aha" of Table 3
              needs a seed); a fraction `zh` is written in Chinese (个位, 十位, 进, 所以 ...) and a fraction
              `switch` changes language mid-solution (R1-Zero's language mixing, which 2.3.2 then fixes)
    template  the R1-Zero template (Table 1) followed by <think> ... </think> <answer> ... </answer>, the
              thinking a worked solution (share `template_worked`) or a direct answer, and "User: ...
              Assistant: ..." chat shapes (share `template_chat`): web text that happens to look like it
    text      non-reasoning text for R1's later stages (2.3.3): greetings, "who are you", number words
              and their translations, simple facts, short dialogues, in English and Chinese

The "aha" corpora (2.2.4, Table 3; presets aha, aha_plain, aha_wrong): countdown_style = "behaviors" writes countdown
as a search (countdown_trace) with the cognitive behaviours of Gandhi et al. 2025, one rate knob each:
cd_backtrack (a try that misses is given up: "That gives 56, not 26. Wait, let me try another way."),
cd_correct (a slipped try is rechecked: "Wait, let me recheck: 8 * 7 = 56, not 26."), cd_verify (the final
try is checked again: "... Right."); behavior_wrong makes a share of the solutions with a behaviour (these and
the arithmetic's reflect / verify) end with a wrong answer. At their defaults the knobs change no document and
are left out of corpus_key (the cache key of a base), so a preset that leaves them there is keyed by its other
fields alone (tests/test_corpus.py checks both).

Every problem comes from the TRAIN split of r1mini/toy/tasks.py: no test or benchmark problem is ever posed here.
A template document (the prompt is Table 1 with the question in it; the completion thinks step by step):

    A conversation between User and Assistant. The user asks a question, ... User: What is 56 * 3?
    Assistant: <think> 56 * 3: ones: 6 * 3 = 18, write 8 carry 1. tens: 5 * 3 = 15, 15 + 1 = 16, write 6
    carry 1. hundreds: write 1. So 56 * 3 = 168. </think> <answer> 168 </answer>

    python -m r1mini.toy.corpus --preset cpu --show 10      # ten sample documents and the share of each kind

The cpu preset makes about 40k documents/s on one core, the gpu preset (with countdown, whose solutions are
searched for) about 15k.

    >>> from r1mini.toy.tasks import Problem
    >>> p = Problem("add", "What is 47 + 38?", "85", 2)
    >>> worked_solution(p, "en", random.Random(0))
    ('47 + 38: ones: 7 + 8 = 15, write 5 carry 1. tens: 4 + 3 + 1 = 8, write 8. So 47 + 38 = 85.', '85')
    >>> worked_solution(p, "en", random.Random(1), reflect=True)  # doctest: +NORMALIZE_WHITESPACE
    ('47 + 38: ones: 7 + 8 = 16, write 6 carry 1. Wait, let me recheck: 7 + 8 = 15, not 16. ones: 7 + 8 = 15,
     write 5 carry 1. tens: 4 + 3 + 1 = 8, write 8. So 47 + 38 = 85.', '85')
    >>> worked_solution(p, "zh", random.Random(0))[0]
    '47 + 38：个位：7 + 8 = 15，写 5 进 1。十位：4 + 3 + 1 = 8，写 8。所以 47 + 38 = 85。'
    >>> [direct_answer(p, random.Random(seed), wrong=True) for seed in range(4)]  # off by 1, dropped carry, swapped
    ['86', '75', '58', '75']
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterator

from r1mini.engine.common import ConfigError, add_config_args, cli_main, config_from_args, pick_preset
from r1mini.toy.tasks import (
    COUNTDOWN_MAX,
    Problem,
    TaskMix,
    apply_op,
    evaluate,
    get_mix,
    linear_side,
    math_text,
    parse_expr,
    random_countdown_tree,
    render,
    solve_countdown,
)
from r1mini.template import chat_prompt, r1_zero_prompt, zero_completion

# ----------------------------------------------------------------------------- words

WORDS = {
    "en": {
        "cols": ("ones", "tens", "hundreds", "thousands", "ten thousands", "hundred thousands"),
        ":": ": ", ",": ", ", ".": ".", "so": "so", "So": "So",
        "write": "write", "carry": "carry", "borrow": "borrow 1", "now": "now",
        "recheck": "Wait, let me recheck: {lhs} = {v}, not {bad}.",
        "confirm": "Wait, let me recheck: {lhs} = {v}. Right.",
        "sub": "Subtract", "add": "Add", "div": "Divide by",
        "try": "Try", "miss": "{v} is not {t}.", "works": "It works: ",
        "answer": "The answer is {a}.",
        "gives": "That gives {v}, not {t}.", "another": "Wait, let me try another way.",
        "again": "Let me try another way.",
        "check": "Wait, let me check: {steps}. Right.",
    },
    "zh": {
        "cols": ("个位", "十位", "百位", "千位", "万位", "十万位"),
        ":": "：", ",": "，", ".": "。", "so": "所以", "So": "所以",
        "write": "写", "carry": "进", "borrow": "借 1", "now": "变成",
        "recheck": "等等，让我再检查一下：{lhs} = {v}，不是 {bad}。",
        "confirm": "等等，让我再检查一下：{lhs} = {v}，没错。",
        "sub": "两边减去", "add": "两边加上", "div": "两边除以",
        "try": "试试", "miss": "{v} 不是 {t}。", "works": "成功：",
        "answer": "答案是 {a}。",
        "gives": "得到 {v}，不是 {t}。", "another": "等等，换一种方法。",
        "again": "换一种方法。",
        "check": "等等，让我验证一下：{steps}，没错。",
    },
}  # fmt: skip
OTHER = {"en": "zh", "zh": "en"}


# ----------------------------------------------------------------------------- worked solutions


class _Writer:
    """The text of one worked solution. A *step* is one computation `lhs = value` that the caller writes
    with render(v). At most one slippable step (number slip_at) gets a wrong value v; the rest of the
    solution goes on from v (a wrong answer), or, with reflect, rechecks it at once and redoes the step.
    Slippable step number verify_at is rechecked and confirmed right. Slippable step number late_at slips
    with no recheck (a reflective solution that still ends wrong). From step number switch_at on, the
    words are those of the other language."""

    def __init__(
        self,
        lang: str,
        rng: random.Random,
        slip_at: int = -1,
        reflect: bool = False,
        switch_at: int = -1,
        verify_at: int = -1,
        late_at: int = -1,
    ):
        self.lang, self.rng, self.slip_at, self.reflect, self.switch_at = lang, rng, slip_at, reflect, switch_at
        self.verify_at, self.late_at = verify_at, late_at
        self.parts: list[str] = []
        self.steps = self.slippable = 0

    @property
    def t(self) -> dict:
        """The words of the language in use."""
        return WORDS[OTHER[self.lang] if 0 <= self.switch_at <= self.steps else self.lang]

    def say(self, text: str) -> None:
        self.parts.append(text.strip())

    def step(
        self,
        lhs: str,
        value: int,
        render: Callable[[int], str],
        delta: int = 1,
        lo: int | None = None,
        hi: int | None = None,
        slip: bool = True,
    ) -> int:
        """Write render(v) for v = value (or, at the slip, value +- delta within [lo, hi]); return v."""
        v, verify, late = value, False, False
        if slip:
            late = self.slippable == self.late_at
            if self.slippable == self.slip_at or late:
                v = self.rng.choice(
                    [x for x in (value - delta, value + delta) if (lo is None or x >= lo) and (hi is None or x <= hi)]
                )
            verify = self.slippable == self.verify_at
            self.slippable += 1
        self.say(render(v))
        if verify:
            self.say(
                self.t["confirm"].format(lhs=lhs, v=v if late else value)
            )  # a late slip is "confirmed" as it stands
        if v != value and self.reflect and not late:
            self.say(self.t["recheck"].format(lhs=lhs, v=value, bad=v))
            self.say(render(value))
            v = value
        self.steps += 1
        return v

    def text(self) -> str:
        return _join(self.parts)


def _join(parts: list[str]) -> str:
    """Parts joined by spaces, except after Chinese punctuation."""
    return "".join(p if i == 0 or parts[i - 1][-1:] in "，。：" else " " + p for i, p in enumerate(parts))


def _digits_value(digits: list[int], carry: int) -> int:
    """The number written by column results `digits` (ones first) and a final carry."""
    return sum(d * 10**k for k, d in enumerate(digits)) + carry * 10 ** len(digits)


def _write(t: dict, v: int) -> str:
    """ "write 5 carry 1." for a column worth 15."""
    return f"{t['write']} {v % 10}" + (f" {t['carry']} {v // 10}" if v >= 10 else "") + t["."]


def _add_cols(w: _Writer, a: int, b: int) -> int:
    """a + b (a, b >= 0), column by column from the ones: "ones: 7 + 8 = 15, write 5 carry 1."."""
    da, db = str(a)[::-1], str(b)[::-1]
    digits, carry = [], 0
    for k in range(max(len(da), len(db))):
        terms = [int(s[k]) for s in (da, db) if k < len(s)] + ([carry] if carry else [])
        if len(terms) == 1:
            s = terms[0]
            w.say(f"{w.t['cols'][k]}{w.t[':']}{w.t['write']} {s}{w.t['.']}")
        else:
            lhs = " + ".join(map(str, terms))
            s = w.step(
                lhs, sum(terms), lambda v: f"{w.t['cols'][k]}{w.t[':']}{lhs} = {v}{w.t[',']}{_write(w.t, v)}", lo=0
            )  # noqa: B023
        digits.append(s % 10)
        carry = s // 10
    if carry:
        w.say(f"{w.t['cols'][len(digits)]}{w.t[':']}{w.t['write']} {carry}{w.t['.']}")
    return _digits_value(digits, carry)


def _sub_cols(w: _Writer, a: int, b: int) -> int:
    """a - b (a >= b >= 0), column by column; a borrow is paid back by adding 1 to the next digit of b:
    "ones: 5 < 8, so 15 - 8 = 7, borrow 1. tens: 3 + 1 = 4, 8 - 4 = 4."."""
    da, db = str(a)[::-1], str(b)[::-1]
    digits, borrow = [], 0
    for k in range(len(da)):
        top, d = int(da[k]), int(db[k]) if k < len(db) else 0
        col = f"{w.t['cols'][k]}{w.t[':']}"
        if borrow:
            d = w.step(f"{d} + 1", d + 1, lambda v: f"{col}{d} + 1 = {v}{w.t[',']}", lo=0)  # noqa: B023
            col = ""
        if top >= d:
            lhs = f"{top} - {d}"
            r = w.step(lhs, top - d, lambda v: f"{col}{lhs} = {v}{w.t['.']}", lo=0, hi=9)  # noqa: B023
        else:
            lhs = f"{top + 10} - {d}"
            pre = f"{col}{top} < {d}{w.t[',']}{w.t['so']} {lhs} = "
            r = w.step(
                lhs,
                top + 10 - d,
                lambda v: f"{pre}{v}{w.t[',']}{w.t['borrow']}{w.t['.']}",  # noqa: B023
                lo=0,
                hi=9,
            )
        digits.append(r)
        borrow = int(top < d)
    return _digits_value(digits, 0)


def _subtract(w: _Writer, a: int, b: int) -> int:
    """a - b for a, b >= 0; when a < b: a - b = -(b - a)."""
    if a >= b:
        return _sub_cols(w, a, b)
    t = w.t
    w.say(f"{a} < {b}{t[',']}{t['so']} {a} - {b} = -({b} - {a}){t['.']}")
    r = _sub_cols(w, b, a)
    w.say(f"{b} - {a} = {r}{w.t['.']}")
    return -r


def _mul_cols(w: _Writer, a: int, b: int) -> int:
    """a * b for a 1-digit b: "ones: 6 * 7 = 42, write 2 carry 4. tens: 3 * 7 = 21, 21 + 4 = 25, write 5 carry 2."."""
    digits, carry = [], 0
    for k, ch in enumerate(reversed(str(a))):
        d, col = int(ch), f"{w.t['cols'][k]}{w.t[':']}"
        if carry:
            p = w.step(f"{d} * {b}", d * b, lambda v: f"{col}{d} * {b} = {v}{w.t[',']}", delta=b, lo=0)  # noqa: B023
            lhs = f"{p} + {carry}"
            s = w.step(lhs, p + carry, lambda v: f"{lhs} = {v}{w.t[',']}{_write(w.t, v)}", lo=0)  # noqa: B023
        else:
            lhs = f"{d} * {b}"
            s = w.step(lhs, d * b, lambda v: f"{col}{lhs} = {v}{w.t[',']}{_write(w.t, v)}", delta=b, lo=0)  # noqa: B023
        digits.append(s % 10)
        carry = s // 10
    if carry:
        w.say(f"{w.t['cols'][len(digits)]}{w.t[':']}{w.t['write']} {carry}{w.t['.']}")
    return _digits_value(digits, carry)


def _multiply(w: _Writer, a: int, b: int) -> int:
    """a * b; a 2-digit b is split into tens and ones: 47 * 36 = 47 * 6 + 47 * 30."""
    if b < 10:
        return _mul_cols(w, a, b)
    b1, b0 = divmod(b, 10)
    w.say(f"{a} * {b} = {a} * {b0} + {a} * {b1}0{w.t['.']} {a} * {b0}{w.t[':']}")
    p0 = _mul_cols(w, a, b0)
    w.say(f"{a} * {b0} = {p0}{w.t['.']} {a} * {b1}{w.t[':']}")
    p1 = _mul_cols(w, a, b1)
    w.say(f"{a} * {b1} = {p1}{w.t[',']}{w.t['so']} {a} * {b1}0 = {p1 * 10}{w.t['.']} {p0} + {p1 * 10}{w.t[':']}")
    return _add_cols(w, p0, p1 * 10)


def _solve_arith(w: _Writer, p: Problem) -> str:
    """add and mul: "47 + 38: <columns> So 47 + 38 = 85."."""
    math = math_text(p)
    a, op, b = math.split()
    if int(b) < 10 or op != "*":  # 47 * 36 states its own first line
        w.say(f"{math}{w.t[':']}")
    r = {"+": _add_cols, "-": _subtract, "*": _multiply}[op](w, int(a), int(b))
    w.say(f"{w.t['So']} {math} = {r}{w.t['.']}")
    return str(r)


def _first_op(t: tuple) -> tuple:
    """The leftmost operation whose operands are both numbers: the next one to compute."""
    for child in t[1:]:
        if not isinstance(child, int):
            return _first_op(child)
    return t


def _reduce_first(t: tuple, v: int):
    """The tree with _first_op(t) replaced by its value v."""
    op, left, right = t
    if not isinstance(left, int):
        return (op, _reduce_first(left, v), right)
    if not isinstance(right, int):
        return (op, left, _reduce_first(right, v))
    return v


def _solve_expr(w: _Writer, p: Problem) -> str:
    """One operation per step, innermost and * first, the rest rewritten: "3 + 4 = 7, now 2 * 7 - 5."."""
    math = math_text(p)
    tree = parse_expr(math)
    w.say(f"{math}{w.t[':']}")
    while not isinstance(tree, int):
        op, x, y = node = _first_op(tree)
        lhs = render(node)

        def show(v: int) -> str:
            rest = _reduce_first(tree, v)  # noqa: B023
            tail = w.t["."] if isinstance(rest, int) else f"{w.t[',']}{w.t['now']} {render(rest)}{w.t['.']}"
            return f"{lhs} = {v}{tail}"  # noqa: B023

        tree = _reduce_first(tree, w.step(lhs, apply_op(op, x, y), show))
    w.say(f"{w.t['So']} {math} = {tree}{w.t['.']}")
    return str(tree)


def parse_linear_side(side: str) -> tuple[int, int]:
    """ "3x + 5" -> (3, 5); "x - 2" -> (1, -2); "20" -> (0, 20)."""
    if "x" not in side:
        return 0, int(side)
    ax, _, rest = side.partition("x")
    b = int(rest.replace(" ", "")) if rest.strip() else 0
    return int(ax) if ax else 1, b


def _solve_linear(w: _Writer, p: Problem) -> str:
    """ "3x + 5 = 20. Subtract 5: 3x = 20 - 5 = 15. Divide by 3: x = 15 / 3 = 5. So x = 5."."""
    math = math_text(p)
    left, right = math.split(" = ")
    (a, b), (d, c) = parse_linear_side(left), parse_linear_side(right)
    w.say(f"{math}{w.t['.']}")
    if d:  # x on both sides: ax + b = dx + c -> (a - d)x + b = c; the coefficient is never slipped
        a = w.step(
            f"{a} - {d}",
            a - d,
            lambda v: (
                f"{w.t['sub']} {linear_side(d, 0)}{w.t[':']}{a} - {d} = {v}{w.t[',']}"
                f"{w.t['so']} {linear_side(v, b)} = {c}{w.t['.']}"
            ),
            slip=False,
        )
    ax = linear_side(a, 0)
    if b:
        lhs, word = (f"{c} - {b}", "sub") if b > 0 else (f"{c} + {-b}", "add")
        c = w.step(lhs, c - b, lambda v: f"{w.t[word]} {abs(b)}{w.t[':']}{ax} = {lhs} = {v}{w.t['.']}", delta=a)
    if a != 1:
        lhs = f"{c} / {a}"
        c = w.step(lhs, c // a, lambda v: f"{w.t['div']} {a}{w.t[':']}x = {lhs} = {v}{w.t['.']}")
    w.say(f"{w.t['So']} x = {c}{w.t['.']}")
    return str(c)


_SOLVERS = {"add": _solve_arith, "mul": _solve_arith, "expr": _solve_expr, "linear": _solve_linear}


def _countdown_miss(p: Problem, rng: random.Random, tries: int = 4) -> tuple:
    """The closest to the target of a few random expressions that miss it (a plausible wrong answer)."""
    misses = []
    for _ in range(100):
        if len(misses) == tries:
            break
        if evaluate(t := random_countdown_tree(p.numbers, rng)) != p.target:
            misses.append(t)
    if not misses:
        raise RuntimeError(f"no expression over {p.numbers} misses {p.target}")
    return min(misses, key=lambda t: abs(evaluate(t) - p.target))


def _tree_steps(t: tuple) -> list[tuple[str, int]]:
    """(lhs, value) of every operation, children first: [("3 + 5", 8), ("8 * 7", 56)]."""
    if isinstance(t, int):
        return []
    return _tree_steps(t[1]) + _tree_steps(t[2]) + [(f"{evaluate(t[1])} {t[0]} {evaluate(t[2])}", evaluate(t))]


def _countdown_solution(
    p: Problem, lang: str, rng: random.Random, wrong: bool, reflect: bool, switch: bool
) -> tuple[str, str]:
    """Try combinations, check each: "Try 3 + 5 = 8, 8 * 7 = 56. 56 is not 26. Try 7 * 3 = 21, 21 + 5 = 26.
    It works: 7 * 3 + 5 = 26." Wrong: a near miss whose last step is claimed to hit the target; reflect: the
    claim is rechecked and the search goes on. The final answer is the expression."""
    solution = solve_countdown(p.numbers, p.target)
    fails = [_countdown_miss(p, rng, 1) for _ in range(max(switch, rng.choice((0, 1, 1, 2))))]
    claimed = _countdown_miss(p, rng) if wrong or reflect else None
    tries = fails + ([claimed] if claimed else []) + ([] if wrong else [solution])
    switch_at = rng.randrange(1, len(tries)) if switch else -1
    parts = []
    for i, tree in enumerate(tries):
        t = WORDS[OTHER[lang] if 0 <= switch_at <= i else lang]
        steps = _tree_steps(tree)
        value = evaluate(tree)
        if tree is claimed:  # the slip: the last step is claimed to give the target
            steps[-1] = (steps[-1][0], p.target)
        parts.append(f"{t['try']} " + t[","].join(f"{lhs} = {v}" for lhs, v in steps) + t["."])
        if tree is claimed and reflect:
            parts.append(t["recheck"].format(lhs=steps[-1][0], v=value, bad=p.target))
        if tree is solution or (tree is claimed and wrong):
            parts.append(f"{t['works']}{render(tree)} = {p.target}{t['.']}")
            return _join(parts), render(tree)
        parts.append(t["miss"].format(v=value, t=p.target))
    raise AssertionError("unreachable: the last try is the answer")


def countdown_trace(
    p: Problem,
    lang: str,
    rng: random.Random,
    wrong: bool = False,
    backtracks: int = 0,
    correct: bool = False,
    verify: bool = False,
    end_wrong: bool = False,
) -> tuple[str, str]:
    """Countdown as a search with the cognitive behaviours of Gandhi et al. 2025 (arXiv 2503.01307), for the
    "aha" corpus (CorpusConfig.countdown_style = "behaviors"): (steps text, final expression).

    Plain: one try, the solution: "Try 7 * 3 = 21, 21 + 5 = 26. It works: 7 * 3 + 5 = 26.". Before it, in a
    random order, `backtracks` tries that miss and are given up ("Try 3 + 5 = 8, 8 * 7 = 56. That gives 56,
    not 26. Wait, let me try another way.") and, with correct, one try whose last step slips to the target
    and is corrected by a recheck ("Try 8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56, not 26. Let me try
    another way."). verify: the final try is checked once more ("Wait, let me check: 7 * 3 = 21, 21 + 5 = 26.
    Right."). wrong: the only try is a miss whose last step is claimed to hit (noise, no behaviour);
    end_wrong: after the behaviours, the final try is such a miss (a wrong answer).

    >>> p = Problem("countdown", "Using the numbers 3, 5, 7, make 26. ...", "26", 1, (3, 5, 7), 26)
    >>> countdown_trace(p, "en", random.Random(0), backtracks=1, verify=True)  # doctest: +NORMALIZE_WHITESPACE
    ('Try 7 + 5 = 12, 12 / 3 = 4. That gives 4, not 26. Wait, let me try another way. Try 7 * 3 = 21, 21 + 5 = 26.
     Wait, let me check: 7 * 3 = 21, 21 + 5 = 26. Right. It works: 7 * 3 + 5 = 26.', '7 * 3 + 5')
    """
    t = WORDS[lang]
    parts: list[str] = []

    def attempt(
        tree: tuple, claim: bool
    ) -> list[tuple[str, int]]:  # "Try a = b, c = d."; claim: the last value said to be the target
        steps = _tree_steps(tree)
        if claim:
            steps[-1] = (steps[-1][0], p.target)
        parts.append(f"{t['try']} " + t[","].join(f"{lhs} = {v}" for lhs, v in steps) + t["."])
        return steps

    kinds = ["miss"] * backtracks + ["slip"] * correct
    rng.shuffle(kinds)
    for kind in kinds:
        tree = _countdown_miss(p, rng, 1)
        steps = attempt(tree, claim=kind == "slip")
        if kind == "slip":
            parts += [t["recheck"].format(lhs=steps[-1][0], v=evaluate(tree), bad=p.target), t["again"]]
        else:
            parts += [t["gives"].format(v=evaluate(tree), t=p.target), t["another"]]
    tree = _countdown_miss(p, rng) if wrong or end_wrong else solve_countdown(p.numbers, p.target)
    steps = attempt(tree, claim=wrong or end_wrong)
    if verify:
        parts.append(t["check"].format(steps=t[","].join(f"{lhs} = {v}" for lhs, v in steps)))
    parts.append(f"{t['works']}{render(tree)} = {p.target}{t['.']}")
    return _join(parts), render(tree)


def worked_solution(
    problem: Problem,
    lang: str,
    rng: random.Random,
    wrong: bool = False,
    reflect: bool = False,
    switch: bool = False,
    verify: bool = False,
    end_wrong: bool = False,
) -> tuple[str, str]:
    """(steps text, final answer) of a step-by-step solution in `lang` ("en" or "zh").

    wrong: one step goes wrong and the error carries through to a wrong final answer.
    reflect: one step goes wrong, is rechecked ("Wait, let me recheck: ...") and corrected: a right answer.
    verify: one right step is rechecked and confirmed ("Wait, let me recheck: 7 + 8 = 15. Right.").
    switch: the language changes to the other one at a random step.
    end_wrong (with reflect or verify): another step, after the reflection where there is one, slips with no
    recheck and carries through to a wrong answer (Gandhi et al. 2025: the behaviours with a wrong ending).
    For countdown the final answer is the expression ("7 * 3 + 5"), which is what the reward checks
    (countdown's search already checks every try, so it takes no verify)."""
    if wrong and reflect:
        raise ValueError("wrong and reflect exclude each other (reflect ends right)")
    if end_wrong and not (reflect or verify) or end_wrong and problem.family == "countdown":
        raise ValueError(
            "end_wrong is for a reflect or verify solution of a non-countdown family (countdown: countdown_trace)"
        )
    if problem.family == "countdown":
        return _countdown_solution(problem, lang, rng, wrong, reflect, switch)
    solve = _SOLVERS[problem.family]
    if not (wrong or reflect or switch or verify):
        w = _Writer(lang, rng)
        answer = solve(w, problem)
        return w.text(), answer
    dry = _Writer(lang, rng)  # a first pass counts the steps
    solve(dry, problem)
    verify_at = rng.randrange(dry.slippable) if verify and dry.slippable else -1
    switch_at = rng.randrange(1, dry.steps + 1) if switch else -1  # at dry.steps only "So ..." switches
    slips = rng.sample(range(dry.slippable), dry.slippable) if wrong or reflect else [-1]
    for slip_at in slips:  # a slip may leave the answer unchanged (times 0): then slip elsewhere
        lates = [-1]
        if end_wrong:  # the steps after the reflection first, in random order, then those before it
            at = max(slip_at, verify_at)
            lates = sorted(
                (i for i in rng.sample(range(dry.slippable), dry.slippable) if i not in (slip_at, verify_at)),
                key=lambda i: i < at,
            )
        for late_at in lates:
            state = rng.getstate()
            w = _Writer(lang, rng, slip_at, reflect, switch_at, verify_at, late_at)
            answer = solve(w, problem)
            if switch and w.steps < switch_at:  # the slip dropped a step (a lost carry): switch at the last one
                rng.setstate(state)  # replays the same slip, so the same steps
                w = _Writer(lang, rng, slip_at, reflect, w.steps, verify_at, late_at)
                answer = solve(w, problem)
            if not (wrong or end_wrong) or answer != problem.answer:
                return w.text(), answer
    raise RuntimeError(f"no single slip changes the answer of {problem.question!r}")


# ----------------------------------------------------------------------------- direct answers


def _dropped_carry(p: Problem) -> int | None:
    """The classic slip of a direct answer: every column right, every carry (or borrow) forgotten."""
    if p.family not in ("add", "mul"):
        return None
    a, op, b = math_text(p).split()
    if op == "*":
        cols = [int(d) * int(b) % 10 for d in a] if len(b) == 1 else None
    elif op == "+" or int(a) >= int(b):
        cols = [(int(x) + int(y)) % 10 if op == "+" else abs(int(x) - int(y)) for x, y in zip(a, b.zfill(len(a)))]
    else:
        cols = None
    return int("".join(map(str, cols))) if cols else None


def near_miss(p: Problem, rng: random.Random) -> int:
    """A plausible wrong answer: off by 1 or 10, a dropped carry, or the last two digits swapped."""
    v = int(p.answer)
    s = str(abs(v))
    candidates = {v - 1, v + 1, v - 10, v + 10, _dropped_carry(p)}
    if len(s) >= 2:
        candidates.add(int(s[:-2] + s[-1] + s[-2]) * (1 if v >= 0 else -1))
    return rng.choice(sorted(c for c in candidates if c is not None and c != v))


def direct_answer(problem: Problem, rng: random.Random, wrong: bool = False) -> str:
    """The final answer with no work shown; wrong: a near miss. Countdown: an expression."""
    if problem.family == "countdown":
        tree = _countdown_miss(problem, rng) if wrong else solve_countdown(problem.numbers, problem.target)
        return render(tree)
    return str(near_miss(problem, rng)) if wrong else problem.answer


def direct_think(p: Problem, answer: str) -> str:
    """The one-line "thinking" of a direct answer: "47 + 38 = 85", "x = 5", "7 * 3 + 5 = 26"."""
    if p.family == "countdown":
        return f"{answer} = {p.target}"
    return f"x = {answer}" if p.family == "linear" else f"{math_text(p)} = {answer}"


# ----------------------------------------------------------------------------- non-reasoning text

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen"
    " eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ZH_DIGITS = "零一二三四五六七八九"


def english_number(n: int) -> str:
    """0..999 in words: 47 -> "forty-seven", 305 -> "three hundred five"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    return f"{_ONES[n // 100]} hundred" + (f" {english_number(n % 100)}" if n % 100 else "")


def chinese_number(n: int) -> str:
    """0..999 in Chinese: 47 -> "四十七", 15 -> "十五", 305 -> "三百零五", 110 -> "一百一十"."""
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 100:
        tens = "" if n < 20 else _ZH_DIGITS[n // 10]
        return tens + "十" + (_ZH_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    head = _ZH_DIGITS[n // 100] + "百"
    if rest == 0:
        return head
    return head + (
        "零" + _ZH_DIGITS[rest]
        if rest < 10
        else _ZH_DIGITS[rest // 10] + "十" + (_ZH_DIGITS[rest % 10] if rest % 10 else "")
    )


CHATS = [  # (English question, answer, Chinese question, answer)
    ("Hello!", "Hello! How can I help you today?", "你好！", "你好！有什么可以帮你的吗？"),
    ("Hi, how are you?", "I am fine, thank you. What would you like to work on?",
     "你好吗？", "我很好，谢谢。你想做什么题？"),
    ("Who are you?", "I am r1mini, a small language model that solves arithmetic problems step by step.",
     "你是谁？", "我是 r1mini，一个一步一步解算术题的小语言模型。"),
    ("What is your name?", "My name is r1mini.", "你叫什么名字？", "我叫 r1mini。"),
    ("What can you do?", "I can add, subtract and multiply numbers, solve simple equations and explain every step.",
     "你会做什么？", "我会做加法、减法和乘法，会解简单的方程，还会解释每一步。"),
    ("Can you help me with math?", "Of course. Tell me the problem and I will solve it step by step.",
     "你能帮我做数学题吗？", "当然可以。告诉我题目，我会一步一步地解。"),
    ("Do you speak Chinese?", "Yes, I can answer in English or in Chinese.",
     "你会说英语吗？", "会，我可以用中文或英文回答。"),
    ("Thank you!", "You are welcome!", "谢谢！", "不客气！"),
    ("Goodbye!", "Goodbye! Have a nice day.", "再见！", "再见！祝你今天愉快。"),
]  # fmt: skip
FACTS = [
    ("A week has 7 days.", "一个星期有 7 天。"),
    ("A year has 12 months.", "一年有 12 个月。"),
    ("A day has 24 hours.", "一天有 24 个小时。"),
    ("An hour has 60 minutes.", "一个小时有 60 分钟。"),
    ("Water boils at 100 degrees Celsius.", "水在 100 摄氏度沸腾。"),
    ("A triangle has 3 sides.", "三角形有 3 条边。"),
    ("A square has 4 equal sides.", "正方形有 4 条相等的边。"),
    ("The sun rises in the east.", "太阳从东方升起。"),
    ("Even numbers can be divided by 2.", "偶数可以被 2 整除。"),
    ("Ten tens make one hundred.", "十个十是一百。"),
]


def _text_doc(rng: random.Random, zh: bool) -> str:
    """Greetings and "who are you" dialogues, number words and translations, simple facts."""
    kind = rng.randrange(4)
    if kind == 0:
        turns = rng.sample(CHATS, rng.randint(1, 2))
        return "\n".join(f"{chat_prompt(c[2] if zh else c[0])} {c[3] if zh else c[1]}" for c in turns)
    if kind == 1:
        ns = [rng.randint(0, 100 if rng.random() < 0.7 else 999) for _ in range(rng.randint(1, 4))]
        first = (
            (lambda n: f"{chinese_number(n)} = {english_number(n)}")
            if zh
            else (lambda n: f"{english_number(n)} = {chinese_number(n)}")
        )
        return "\n".join(f"{first(n)} = {n}" for n in ns)
    if kind == 2:
        n = rng.randint(0, 100)
        if zh:
            return f"{chat_prompt(f'{n} 用英文怎么说？')} {n} 的英文是 {english_number(n)}。"
        return f"{chat_prompt(f'How do you say {n} in Chinese?')} {n} is {chinese_number(n)} in Chinese."
    return " ".join(f[1 if zh else 0] for f in rng.sample(FACTS, rng.randint(1, 3)))


# ----------------------------------------------------------------------------- bare facts

_ZH_OPS = {"+": "加", "-": "减", "*": "乘", "/": "除以"}


def _fact(rng: random.Random) -> tuple[int, str, int, int]:
    """A single-digit fact: a + b, a * b, (a + b) - b (up to 18 - 9), a * b / b."""
    op, a, b = rng.choice("+-*/"), rng.randint(0, 9), rng.randint(0, 9)
    if op == "+":
        return a, op, b, a + b
    if op == "-":
        return a + b, op, b, a
    a, b = a or 1, b or 1
    return (a, op, b, a * b) if op == "*" else (a * b, op, b, a)


def _step_fact(rng: random.Random, hi: int) -> tuple[int, str, int, int]:
    """A countdown-sized step with a larger first operand x in 10..hi and a digit y: x + y, x - y, x * y, x / y
    (y divides x): "56 - 7 = 49", "12 * 4 = 48", "45 / 9 = 5"."""
    op, y = rng.choice("+-*/"), rng.randint(1, 9)
    if op == "/":
        y = rng.randint(2, 9)
        q = rng.randint(-(-10 // y), hi // y)  # x = q * y in 10..hi
        return q * y, op, y, q
    x = rng.randint(10, hi)
    return x, op, y, apply_op(op, x, y)


def _facts_doc(rng: random.Random, zh: bool, hi: int = 9) -> str:
    """A row of a table ("7 * 1 = 7", ..., "7 * 9 = 63") or a few random facts; "7 加 8 等于 15" in Chinese.
    hi > 9 (CorpusConfig.facts_hi): half the random facts have a first operand in 10..hi (`_step_fact`)."""
    if rng.random() < 0.5:
        op, a = rng.choice("+*"), rng.randint(1, 9)
        facts = [(a, op, b, apply_op(op, a, b)) for b in range(1, 10)]
    elif hi > 9:
        facts = [_step_fact(rng, hi) if rng.random() < 0.5 else _fact(rng) for _ in range(rng.randint(1, 6))]
    else:
        facts = [_fact(rng) for _ in range(rng.randint(1, 6))]
    if zh:
        return "\n".join(f"{a} {_ZH_OPS[op]} {b} 等于 {v}" for a, op, b, v in facts)
    return "\n".join(f"{a} {op} {b} = {v}" for a, op, b, v in facts)


# ----------------------------------------------------------------------------- the corpus

KINDS = ("facts", "direct", "worked", "template", "text")
RATES = (
    "zh_questions",
    "direct_wrong",
    "step_wrong",
    "reflect",
    "verify",
    "zh",
    "switch",
    "template_worked",
    "template_chat",
    "cd_backtrack",
    "cd_correct",
    "cd_verify",
    "behavior_wrong",
)
COUNTDOWN_STYLES = ("tries", "behaviors")
# the knobs of the "aha" corpora (2.2.4, Table 3); at their defaults they change no document and are left out of
# corpus_key, so that a preset that leaves them there is keyed by its other fields alone
AHA_KNOBS = {
    "countdown_style": "tries",
    "cd_backtrack": 0.0,
    "cd_correct": 0.0,
    "cd_verify": 0.0,
    "behavior_wrong": 0.0,
    "facts_hi": 9,
}


@dataclass
class CorpusConfig:
    n_docs: int = 100_000  # documents to generate
    seed: int = 0  # seeds the documents
    mix: str = "cpu"  # the problems: a TASK_MIXES name or "family:level:weight,..." (r1mini/toy/tasks.py)
    zh_questions: float = 0.1  # share of problems asked in Chinese (their solutions are in Chinese too)
    # relative shares of the kinds of documents
    facts: float = 0.1  # share of bare single-digit facts
    direct: float = 0.2  # share of short direct answers
    worked: float = 0.25  # share of step-by-step solutions
    template: float = 0.4  # share of R1-Zero-template (and chat-shaped) documents
    text: float = 0.05  # share of non-reasoning text
    # noise and style, as shares within the kinds they apply to
    direct_wrong: float = 0.5  # direct answers that are wrong (direct docs, direct template docs)
    step_wrong: float = 0.1  # worked solutions with one wrong step and a wrong answer
    reflect: float = 0.15  # worked solutions with a wrong step that is rechecked and corrected
    verify: float = 0.0  # worked solutions with a right step that is rechecked and confirmed
    zh: float = 0.2  # Chinese: worked solutions of English questions, facts, non-reasoning text
    switch: float = 0.2  # worked solutions that change language mid-way
    template_worked: float = 0.4  # template documents that think with a worked solution (else direct)
    template_chat: float = 0.2  # template documents in the plain "User: ... Assistant:" chat shape
    # the cognitive behaviours of the "aha" corpora (Gandhi et al. 2025; see countdown_trace)
    countdown_style: str = (
        "tries"  # countdown solutions: "tries" (0-2 missed tries before the solution) or "behaviors" (countdown_trace)
    )
    cd_backtrack: float = (
        0.0  # behaviors: countdown solutions that try 1-2 misses first and back off ("Wait, let me try another way.")
    )
    cd_correct: float = 0.0  # behaviors: countdown solutions with a slipped try corrected by a recheck ("..., not 26.")
    cd_verify: float = 0.0  # behaviors: countdown solutions that check the final try once more ("... Right.")
    behavior_wrong: float = (
        0.0  # solutions with a behaviour (reflect, verify, backtrack, correct) that still end with a wrong answer
    )
    facts_hi: int = (
        9  # > 9: half the random facts have a first operand up to facts_hi, countdown's steps ("56 - 7 = 49")
    )

    def validate(self) -> None:
        for name in KINDS:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} = {getattr(self, name)}: the share of a kind of document must be >= 0")
        for name in RATES:
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} = {getattr(self, name)}: a rate must lie in [0, 1]")
        if sum(getattr(self, k) for k in KINDS) <= 0:
            raise ConfigError(f"at least one of the kind shares {', '.join(KINDS)} must be > 0")
        if self.step_wrong + self.reflect + self.verify > 1:
            raise ConfigError(f"step_wrong + reflect + verify = {self.step_wrong + self.reflect + self.verify} > 1")
        if self.n_docs < 1:
            raise ConfigError(f"n_docs must be >= 1, got {self.n_docs}")
        if not 9 <= self.facts_hi <= COUNTDOWN_MAX:
            raise ConfigError(f"facts_hi must lie in [9, {COUNTDOWN_MAX}], got {self.facts_hi}")
        if self.countdown_style not in COUNTDOWN_STYLES:
            raise ConfigError(f"countdown_style must be one of {COUNTDOWN_STYLES}, got {self.countdown_style!r}")
        get_mix(self.mix)  # raises ConfigError for a bad mix


CORPUS_PRESETS = {
    "smoke": CorpusConfig(n_docs=3_000, mix="smoke"),
    # the cpu RL mix, a little of level 3 so that the column algorithm generalises beyond 2 digits
    "cpu": CorpusConfig(
        n_docs=100_000,
        mix="add:2:4,mul:2:4,linear:1:1,add:3:0.5,mul:3:0.5",
        facts=0.25,
        direct=0.15,
        worked=0.25,
        template=0.3,
        step_wrong=0.05,
        reflect=0.1,
        template_chat=0.5,
    ),
    # every family at every level
    "gpu": CorpusConfig(n_docs=500_000, mix="add:1-4:1,mul:1-4:1,expr:1-4:1,linear:1-4:1,countdown:1-4:1"),
    # the "aha" (2.2.4, Table 3): countdown (a search) and short expressions; English only; no forged tries
    # (step_wrong = 0), few direct answers, countdown-sized steps among the facts (facts_hi), and backtracking in
    # 25% of countdown solutions (docs/r1_zero.md)
    "aha": CorpusConfig(
        n_docs=100_000,
        mix="countdown:1:4,countdown:2:1,expr:1:1,expr:2:0.5",
        zh_questions=0.0,
        zh=0.0,
        switch=0.0,
        facts=0.3,
        direct=0.05,
        worked=0.3,
        template=0.35,
        text=0.0,
        step_wrong=0.0,
        reflect=0.05,
        verify=0.05,
        template_worked=0.9,
        template_chat=0.2,
        countdown_style="behaviors",
        cd_backtrack=0.25,
        cd_correct=0.04,
        cd_verify=0.04,
        facts_hi=90,
    ),
}
# the controls: no behaviours at all (Gandhi's Llama), and every behaviour ending with a wrong answer
CORPUS_PRESETS["aha_plain"] = replace(
    CORPUS_PRESETS["aha"], reflect=0.0, verify=0.0, cd_backtrack=0.0, cd_correct=0.0, cd_verify=0.0
)
CORPUS_PRESETS["aha_wrong"] = replace(CORPUS_PRESETS["aha"], behavior_wrong=1.0)


def corpus_key(cfg: CorpusConfig) -> dict:
    """The fields that determine the documents, for a cache key (pretrain.run_hash): the aha knobs are left
    out at their defaults, so a preset that leaves them there is keyed by its other fields alone."""
    return {k: v for k, v in asdict(cfg).items() if not (k in AHA_KNOBS and v == AHA_KNOBS[k])}


@dataclass(frozen=True)
class Document:
    kind: str  # one of KINDS
    text: str
    problem: Problem | None = None
    tags: tuple[str, ...] = ()  # "wrong", "reflect", "verify", "zh", "switch"; template: "worked" / "direct", "chat"


def _solution(cfg: CorpusConfig, p: Problem, rng: random.Random) -> tuple[str, str, list[str]]:
    """A worked solution with the config's noise: (steps, final answer, tags)."""
    r = rng.random()
    wrong, reflect = r < cfg.step_wrong, cfg.step_wrong <= r < cfg.step_wrong + cfg.reflect
    verify = cfg.step_wrong + cfg.reflect <= r < cfg.step_wrong + cfg.reflect + cfg.verify and p.family != "countdown"
    lang = "zh" if p.lang == "zh" or rng.random() < cfg.zh else "en"
    switch = rng.random() < cfg.switch
    if p.family == "countdown" and cfg.countdown_style == "behaviors":
        return _countdown_behaviors(cfg, p, lang, rng, wrong)
    end_wrong = bool(cfg.behavior_wrong) and (reflect or verify) and rng.random() < cfg.behavior_wrong  # no draw at 0
    try:
        steps, answer = worked_solution(p, lang, rng, wrong, reflect, switch, verify, end_wrong)
    except RuntimeError:  # end_wrong: no second step could slip (a one-step solution): a plain wrong one
        wrong, reflect, verify, end_wrong = True, False, False, False
        steps, answer = worked_solution(p, lang, rng, wrong=True, switch=switch)
    tags = [
        t
        for t, on in (
            ("wrong", wrong or end_wrong),
            ("reflect", reflect),
            ("verify", verify),
            ("zh", lang == "zh"),
            ("switch", switch),
        )
        if on
    ]
    return steps, answer, tags


def _countdown_behaviors(
    cfg: CorpusConfig, p: Problem, lang: str, rng: random.Random, wrong: bool
) -> tuple[str, str, list[str]]:
    """A countdown_trace with each behaviour drawn at its rate (none in a `wrong` one, which is noise)."""
    backtracks = rng.choice((1, 1, 2)) if not wrong and rng.random() < cfg.cd_backtrack else 0
    correct = not wrong and rng.random() < cfg.cd_correct
    verify = not wrong and rng.random() < cfg.cd_verify
    end_wrong = bool(backtracks or correct or verify) and rng.random() < cfg.behavior_wrong
    steps, answer = countdown_trace(p, lang, rng, wrong, backtracks, correct, verify, end_wrong)
    on = (
        ("wrong", wrong or end_wrong),
        ("backtrack", backtracks > 0),
        ("reflect", correct),
        ("verify", verify),
        ("zh", lang == "zh"),
    )
    return steps, answer, [t for t, flag in on if flag]


DIRECT_SHAPES = {
    "en": ("Q: {q}\nA: {a}", "Question: {q}\nAnswer: {a}", "{q} {think}"),
    "zh": ("问：{q}\n答：{a}", "{q}答案是 {a}。", "{q} {think}"),
}
WORKED_SHAPES = {
    "en": ("Q: {q}\nA: {steps} The answer is {a}.", "{q}\n{steps}\nAnswer: {a}", "Problem: {q}\nSolution: {steps}"),
    "zh": ("问：{q}\n答：{steps} 答案是 {a}。", "题目：{q}\n解：{steps}"),
}


def _direct(cfg: CorpusConfig, p: Problem, rng: random.Random) -> tuple[str, list[str]]:
    wrong = rng.random() < cfg.direct_wrong
    return direct_answer(p, rng, wrong), ["wrong"] if wrong else []


def _document(cfg: CorpusConfig, kind: str, mix: TaskMix, rng: random.Random) -> Document:
    if kind in ("facts", "text"):
        zh = rng.random() < cfg.zh
        text = _facts_doc(rng, zh, cfg.facts_hi) if kind == "facts" else _text_doc(rng, zh)
        return Document(kind, text, None, ("zh",) if zh else ())
    p = mix.draw(rng, "train")  # never a test problem
    if kind == "direct":
        a, tags = _direct(cfg, p, rng)
        shapes = DIRECT_SHAPES[p.lang] + (("{think}",) if p.family in ("add", "mul", "expr") else ())  # "47 + 38 = 85"
        return Document(kind, rng.choice(shapes).format(q=p.question, a=a, think=direct_think(p, a)), p, tuple(tags))
    if kind == "worked":
        steps, a, tags = _solution(cfg, p, rng)
        return Document(kind, rng.choice(WORKED_SHAPES[p.lang]).format(q=p.question, steps=steps, a=a), p, tuple(tags))
    if rng.random() < cfg.template_worked:
        think, a, tags = _solution(cfg, p, rng)
        reply, tags = f"{think} {WORDS[p.lang]['answer'].format(a=a)}", ["worked"] + tags
    else:
        a, tags = _direct(cfg, p, rng)
        think, reply, tags = direct_think(p, a), WORDS[p.lang]["answer"].format(a=a), ["direct"] + tags
    if rng.random() < cfg.template_chat:
        return Document(kind, f"{chat_prompt(p.question)} {reply}", p, tuple(tags + ["chat"]))
    return Document(kind, r1_zero_prompt(p.question) + zero_completion(think, a), p, tuple(tags))


def iter_documents(cfg: CorpusConfig) -> Iterator[Document]:
    """cfg.n_docs documents with their kind, problem and tags; the same for the same config."""
    cfg.validate()
    mix = get_mix(cfg.mix)
    mix = TaskMix(mix.parts, cfg.zh_questions)
    rng = random.Random(cfg.seed)
    cum, total = [], 0.0
    for k in KINDS:
        total += getattr(cfg, k)
        cum.append(total)
    for _ in range(cfg.n_docs):
        yield _document(cfg, rng.choices(KINDS, cum_weights=cum)[0], mix, rng)


def generate_documents(cfg: CorpusConfig) -> Iterator[str]:
    """The corpus: cfg.n_docs text documents (the pretrainer joins them with <|endoftext|>)."""
    return (d.text for d in iter_documents(cfg))


def sample_text(n_chars: int, seed: int = 0) -> str:
    """A representative slice of the corpus (every family, both languages), for training the tokenizer."""
    cfg = CORPUS_PRESETS["gpu"]
    parts, n = [], 0
    for doc in generate_documents(replace(cfg, seed=seed, n_docs=10**9)):
        if n >= n_chars:
            break
        parts.append(doc)
        n += len(doc) + 1
    return "\n".join(parts)[:n_chars]


# ----------------------------------------------------------------------------- CLI


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m r1mini.toy.corpus",
        description="Show sample documents of the synthetic pretraining corpus and the share of each kind.",
    )
    p.add_argument("--preset", default="cpu", help=f"one of: {', '.join(CORPUS_PRESETS)}")
    p.add_argument("--show", type=int, default=5, help="sample documents to print")
    p.add_argument("--count", type=int, default=5000, help="documents to count the shares over")
    add_config_args(p, CorpusConfig)
    args = p.parse_args()
    cfg = config_from_args(pick_preset(CORPUS_PRESETS, args.preset, "corpus preset"), args)
    count = replace(cfg, n_docs=max(1, args.count, args.show))
    kinds, tags, chars = Counter(), Counter(), 0
    t0 = time.time()
    for i, doc in enumerate(iter_documents(count)):
        if i < args.show:
            print(f"----- {doc.kind} {' '.join(doc.tags)}\n{doc.text}")
        kinds[doc.kind] += 1
        tags.update(f"{doc.kind}/{t}" for t in doc.tags)
        chars += len(doc.text)
    n, dt = count.n_docs, time.time() - t0
    print(f"----- shares over {n} documents ({n / dt:,.0f} documents/s, {chars / n:.0f} characters each on average):")
    for k in KINDS:
        print(
            f"{k:>10} {kinds[k] / n:6.3f}   "
            + "  ".join(
                f"{t.split('/')[1]} {c / max(1, kinds[k]):.2f}"
                for t, c in sorted(tags.items())
                if t.startswith(k + "/")
            )
        )


if __name__ == "__main__":
    cli_main(main)
