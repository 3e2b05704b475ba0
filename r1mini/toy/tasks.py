"""Sections 2.2.2 (answers a rule can check) and 3 (benchmarks): the toy tasks R1-Zero is trained and tested on.

R1-Zero learns from prompts whose answers a rule can check (2.2.2: math with a final answer "in a specified
format", code checked by a compiler) and is tested on MATH-500 and AIME 2024 (section 3). Ours are five
families of synthetic arithmetic, each with a difficulty dial `level` (1 = easiest):

    family      level 1             level 2             level 3                  level 4
    add         7 + 8, 9 - 3        47 + 38, 85 - 38    347 + 938, 345 - 678     4 digits (may go negative)
    mul         7 * 8               36 * 7              362 * 7                  47 * 36
    expr        3 + 4 * 5           2 + 3 * 4 - 5       (2 + 9) * 3 - 11         five numbers
    linear      x + 5 = 12          3x + 5 = 20         3x - 5 = -26             5x + 3 = 2x + 18
    countdown   three numbers       four numbers        five numbers             six numbers

- add: a + b or a - b, both operands with `level` digits. Subtraction stays >= 0 at levels 1-2 (the larger
  number comes first) and may go negative at levels 3-4.
- mul: level 1: 1-digit x 1-digit, 2: 2-digit x 1-digit, 3: 3-digit x 1-digit, 4: 2-digit x 2-digit.
  Multiplication is written "*" everywhere (questions, worked steps, answers).
- expr: 3, 4, 4, 5 integers (levels 1-4; 2..9, 2..12 at levels 3-4) joined by + - *; levels 3-4 have
  parentheses and may go negative; every intermediate value stays within +-100. (Two numbers at level 1
  would make it a single operation, i.e. add or mul again.) The answer is computed by `evaluate` on our own
  tree (never Python's eval).
- linear: a*x + b = c with an integer solution; level 1: a in 1..5; 2: a up to 9; 3: a up to 12, b and x may
  be negative; 4: x on both sides.
- countdown: reach `target` from `numbers` (level + 2 of them) with + - * /, each number used exactly once;
  the target is the value of a random expression over the numbers with positive integer intermediate
  results, so a solution exists. answer = str(target); the reward checks the expression itself
  (r1mini/rewards.py), the stand-in for the paper's compiler-checked code.

Train/test split. Every problem has a canonical key (family and the math, e.g. "add:47 + 38"; the same in
English and Chinese). It is in the test split when a stable hash (blake2b) of the key is 0 mod 10, else in
the train split; generators draw until they get a problem of the split asked for, so the two splits can
never overlap. Exception: level 1 of add and mul is the single-digit table; all of it is in the
pretraining corpus (as bare facts and as steps of every bigger problem), so it is all "train" and asking
for its test split is an error. Steps of a worked solution may compute a test problem's value (a level-4
product holds 2-digit x 1-digit partial products), as a real web holds pieces of MATH problems; what the
corpus never holds is a test problem posed (its question or its answer to it).

Benchmarks (section 3 analogs), drawn from the test split, fixed by code: `benchmark("medium")` (~MATH-500:
100 problems, mostly the families and levels of the "cpu" task mix) and `benchmark("hard")` (~AIME: 50
problems, higher levels, expr, countdown). `heldout(mix, n, seed)` draws any number from a mix's test split.

    >>> p = generate("add", 2, n=1, seed=0)[0]
    >>> p.question, p.answer, split_of(p)
    ('What is 92 - 67?', '25', 'train')
    >>> evaluate(parse_expr("2 * (3 + 4) - 5"))
    9
    >>> [(p.question, p.answer) for p in generate("linear", 4, n=1, seed=0, lang="zh")]
    [('解方程 8x + 18 = 3x + 63，求 x。', '9')]
    >>> TASK_MIXES["cpu"].sample(random.Random(0), 2)[1].question
    'What is 75 - 72?'
    >>> len(benchmark("medium")), len(benchmark("hard"))
    (100, 50)

A library module; its checks: `python -m pytest tests/test_tasks.py`.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass, field
from typing import Callable, Union

from r1mini.engine.common import ConfigError

FAMILIES = ("add", "mul", "expr", "linear", "countdown")
LEVELS = (1, 2, 3, 4)
LANGS = ("en", "zh")
SPLITS = ("train", "test")
TEST_EVERY = 10  # a problem is in the test split when hash(key) % TEST_EVERY == 0
TABLES = {("add", 1), ("mul", 1)}  # the single-digit tables: all train (see the module docstring)


@dataclass(frozen=True)
class Problem:
    family: str  # "add" (addition/subtraction), "mul", "expr", "linear", "countdown"
    question: str  # the prompt text substituted into the template, e.g. "What is 47 + 38?"
    answer: str  # canonical answer: "85", "-3"; for countdown the target, e.g. "26"
    level: int = 1  # difficulty dial
    numbers: tuple[int, ...] = ()  # countdown: the numbers to use, each exactly once
    target: int | None = None  # countdown: the value to reach
    lang: str = "en"  # language of the question ("en" or "zh")


# ----------------------------------------------------------------------------- expression trees

# A tree is an int (a leaf) or (op, left, right) with op in "+-*/".
Tree = Union[int, tuple]
PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def apply_op(op: str, x: int, y: int) -> int:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0 or x % y:
        raise ValueError(f"{x} / {y} is not an integer")
    return x // y


def evaluate(t: Tree) -> int:
    """The exact value of a tree (divisions must come out whole)."""
    return t if isinstance(t, int) else apply_op(t[0], evaluate(t[1]), evaluate(t[2]))


def intermediates(t: Tree) -> list[int]:
    """The value of every operation in the tree (children before parents)."""
    if isinstance(t, int):
        return []
    return intermediates(t[1]) + intermediates(t[2]) + [evaluate(t)]


def render(t: Tree) -> str:
    """Infix text with the fewest parentheses that parse back to the same tree (see parse_expr).
    A negative leaf (a computed value inside a worked solution) is written in parentheses: "4 - (-5)"."""
    if isinstance(t, int):
        return str(t) if t >= 0 else f"({t})"
    op, left, right = t
    ls, rs = render(left), render(right)
    if not isinstance(left, int) and PREC[left[0]] < PREC[op]:
        ls = f"({ls})"
    if not isinstance(right, int) and PREC[right[0]] <= PREC[op]:  # a - (b + c), a * (b * c): keep the tree
        rs = f"({rs})"
    return f"{ls} {op} {rs}"


def parse_expr(text: str) -> Tree:
    """Parse non-negative integers, + - * / and parentheses (left-associative, * / before + -).
    For our own generated questions; raises ValueError on anything else."""
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"unexpected end of {text!r}")
        pos += 1
        return tokens[pos - 1]

    def primary() -> Tree:
        tok = take()
        if tok == "(":
            t = expr()
            if take() != ")":
                raise ValueError(f"missing ')' in {text!r}")
            return t
        if not tok.isdigit():
            raise ValueError(f"unexpected {tok!r} in {text!r}")
        return int(tok)

    def binary(sub: Callable[[], Tree], ops: str) -> Tree:
        t = sub()
        while peek() in tuple(ops):
            t = (take(), t, sub())
        return t

    def expr() -> Tree:
        return binary(lambda: binary(primary, "*/"), "+-")

    t = expr()
    if pos != len(tokens):
        raise ValueError(f"trailing {tokens[pos]!r} in {text!r}")
    return t


# ----------------------------------------------------------------------------- questions

_QUESTION = {
    ("en", "arith"): "What is {}?",
    ("zh", "arith"): "计算 {}。",
    ("en", "linear"): "Solve for x: {}.",
    ("zh", "linear"): "解方程 {}，求 x。",
    ("en", "countdown"): "Using the numbers {}, make {}. Use + - * / and each number exactly once.",
    ("zh", "countdown"): "用数字 {} 凑出 {}，可以用 + - * /，每个数字恰好用一次。",
}


def _shape(family: str) -> str:
    return family if family in ("linear", "countdown") else "arith"


def math_text(p: Problem) -> str:
    """The math inside the question: "47 + 38", "3x + 5 = 20"; for countdown "3, 5, 7 -> 26"."""
    if p.family == "countdown":
        return f"{', '.join(map(str, p.numbers))} -> {p.target}"
    prefix, suffix = _QUESTION[p.lang, _shape(p.family)].split("{}")
    return p.question[len(prefix) : len(p.question) - len(suffix)]


def problem_key(p: Problem) -> str:
    """The canonical key the split is decided on: family and math, independent of the language."""
    if p.family == "countdown":
        return f"countdown:{','.join(map(str, sorted(p.numbers)))}->{p.target}"
    return f"{p.family}:{math_text(p)}"


def split_of(p: Problem) -> str:
    """ "test" for about 1 problem in TEST_EVERY (by a stable hash of its key), else "train"."""
    if (p.family, p.level) in TABLES:
        return "train"
    h = int.from_bytes(hashlib.blake2b(problem_key(p).encode(), digest_size=8).digest(), "big")
    return "test" if h % TEST_EVERY == 0 else "train"


def _arith(family: str, level: int, math: str, value: int, lang: str) -> Problem:
    return Problem(family, _QUESTION[lang, _shape(family)].format(math), str(value), level, lang=lang)


# ----------------------------------------------------------------------------- the five families


def _add(rng: random.Random, level: int, lang: str) -> Problem:
    lo, hi = (1, 9) if level == 1 else (10 ** (level - 1), 10**level - 1)
    a, b, op = rng.randint(lo, hi), rng.randint(lo, hi), rng.choice("+-")
    if op == "-" and level <= 2 and a < b:  # levels 1-2 stay >= 0
        a, b = b, a
    return _arith("add", level, f"{a} {op} {b}", a + b if op == "+" else a - b, lang)


def _mul(rng: random.Random, level: int, lang: str) -> Problem:
    if level == 4:  # 2-digit x 2-digit, the second not a multiple of 10
        a, b = rng.randint(10, 99), 10 * rng.randint(1, 9) + rng.randint(1, 9)
    else:
        a, b = rng.randint(*((2, 9), (10, 99), (100, 999))[level - 1]), rng.randint(2, 9)
    return _arith("mul", level, f"{a} * {b}", a * b, lang)


EXPR_LEVELS = {1: (3, 9, False), 2: (4, 9, False), 3: (4, 12, True), 4: (5, 12, True)}  # numbers, max, nested
EXPR_MAX = 100  # |every intermediate value| <= EXPR_MAX


def _flat_tree(nums: list[int], ops: list[str]) -> Tree:
    """The tree of `n0 op0 n1 op1 n2 ...` without parentheses: * first, then + - left to right."""
    terms, signs = [nums[0]], []
    for op, x in zip(ops, nums[1:]):
        if op == "*":
            terms[-1] = ("*", terms[-1], x)
        else:
            signs.append(op)
            terms.append(x)
    t = terms[0]
    for op, term in zip(signs, terms[1:]):
        t = (op, t, term)
    return t


def _random_tree(nums: list[int], ops: list[str], rng: random.Random) -> Tree:
    """A random tree shape over the numbers in order; ops[i] sits between nums[i] and nums[i + 1]."""
    if len(nums) == 1:
        return nums[0]
    i = rng.randrange(1, len(nums))
    return (ops[i - 1], _random_tree(nums[:i], ops[: i - 1], rng), _random_tree(nums[i:], ops[i:], rng))


def _expr(rng: random.Random, level: int, lang: str) -> Problem:
    k, hi, nested = EXPR_LEVELS[level]
    while True:
        nums = [rng.randint(2, hi) for _ in range(k)]
        ops = [rng.choice("+-*") for _ in range(k - 1)]
        t = _random_tree(nums, ops, rng) if nested else _flat_tree(nums, ops)
        values, text = intermediates(t), render(t)
        if max(map(abs, values)) <= EXPR_MAX and (min(values) >= 0 or nested) and (("(" in text) == nested):
            return _arith("expr", level, text, values[-1], lang)


def linear_side(a: int, b: int) -> str:
    """ "3x + 5", "x - 2", "2x" (b == 0)."""
    ax = "x" if a == 1 else f"{a}x"
    return ax if b == 0 else f"{ax} {'+' if b > 0 else '-'} {abs(b)}"


def _nonzero(rng: random.Random, lo: int, hi: int) -> int:
    return rng.choice([v for v in range(lo, hi + 1) if v])


def _linear(rng: random.Random, level: int, lang: str) -> Problem:
    if level == 4:  # ax + b = dx + e with a > d
        while True:
            a = rng.randint(3, 12)
            d, x, b = rng.randint(1, a - 1), _nonzero(rng, -10, 10), _nonzero(rng, -20, 20)
            e = (a - d) * x + b
            if e:
                return _arith("linear", 4, f"{linear_side(a, b)} = {linear_side(d, e)}", x, lang)
    if level == 1:
        a, b, x = rng.randint(1, 5), rng.randint(1, 20), rng.randint(1, 10)
    elif level == 2:
        a, b, x = rng.randint(2, 9), rng.randint(1, 30), rng.randint(1, 12)
    else:
        a, b, x = rng.randint(2, 12), _nonzero(rng, -30, 30), _nonzero(rng, -12, 12)
    return _arith("linear", level, f"{linear_side(a, b)} = {a * x + b}", x, lang)


COUNTDOWN_LEVELS = {1: (9, 50), 2: (9, 100), 3: (12, 200), 4: (13, 300)}  # max number, max target
COUNTDOWN_MAX = 1000  # every intermediate value stays <= COUNTDOWN_MAX


def countdown_moves(x: int, y: int) -> list[tuple[str, int]]:
    """Every way to combine x >= y into a positive integer within COUNTDOWN_MAX: (op, value)."""
    moves = [("+", x + y), ("*", x * y)]
    if x > y:
        moves.append(("-", x - y))
    if y > 1 and x % y == 0:
        moves.append(("/", x // y))
    return [m for m in moves if m[1] <= COUNTDOWN_MAX]


def random_countdown_tree(numbers: tuple[int, ...], rng: random.Random) -> Tree:
    """Combine two random numbers of the pool with a random valid operation until one is left."""
    pool = [(n, n) for n in numbers]  # (value, tree)
    while len(pool) > 1:
        i, j = rng.sample(range(len(pool)), 2)
        (x, tx), (y, ty) = sorted((pool[i], pool[j]), key=lambda vt: -vt[0])
        op, v = rng.choice(countdown_moves(x, y))
        pool = [p for k, p in enumerate(pool) if k not in (i, j)] + [(v, (op, tx, ty))]
    return pool[0][1]


def solve_countdown(numbers: tuple[int, ...], target: int) -> Tree | None:
    """A tree over the numbers (each once) worth `target`, or None: a depth-first search over sorted pools
    of values, with the same moves as the generator (positive integers up to COUNTDOWN_MAX). Pools already
    explored, and pairs already tried in a pool, are skipped."""
    seen: set[tuple[int, ...]] = set()

    def last_move(x: int, y: int) -> str | None:  # the operation that turns x >= y into the target
        if x + y == target:
            return "+"
        if x * y == target:
            return "*"
        if x - y == target:  # target > 0, so x > y
            return "-"
        return "/" if y > 1 and x == target * y else None

    def search(pool: tuple[int, ...]) -> list[tuple[int, str, int]] | None:  # pool sorted; a list of moves
        if len(pool) == 2:
            op = last_move(pool[1], pool[0])
            return [(pool[1], op, pool[0])] if op else None
        if pool in seen:
            return None
        seen.add(pool)
        tried = set()
        for i in range(len(pool)):
            for j in range(i + 1, len(pool)):
                y, x = pool[i], pool[j]
                if (x, y) in tried:
                    continue
                tried.add((x, y))
                rest = pool[:i] + pool[i + 1 : j] + pool[j + 1 :]
                for op, v in countdown_moves(x, y):
                    k = bisect.bisect(rest, v)
                    if (moves := search(rest[:k] + (v,) + rest[k:])) is not None:
                        return [(x, op, y)] + moves
        return None

    if len(numbers) == 1:
        return numbers[0] if numbers[0] == target else None
    moves = search(tuple(sorted(numbers)))
    if moves is None:
        return None
    trees = [(n, n) for n in numbers]  # replay the moves, building the tree
    for x, op, y in moves:
        tx = trees.pop(next(i for i, (v, _) in enumerate(trees) if v == x))[1]
        ty = trees.pop(next(i for i, (v, _) in enumerate(trees) if v == y))[1]
        trees.append((apply_op(op, x, y), (op, tx, ty)))
    return trees[0][1]


def _countdown(rng: random.Random, level: int, lang: str) -> Problem:
    hi, max_target = COUNTDOWN_LEVELS[level]
    while True:
        numbers = tuple(sorted(rng.randint(1, hi) for _ in range(level + 2)))
        target = evaluate(random_countdown_tree(numbers, rng))
        if target <= max_target and target not in numbers:
            q = _QUESTION[lang, "countdown"].format(", ".join(map(str, numbers)), target)
            return Problem("countdown", q, str(target), level, numbers, target, lang)


_GENERATORS = {"add": _add, "mul": _mul, "expr": _expr, "linear": _linear, "countdown": _countdown}


# ----------------------------------------------------------------------------- drawing problems


def check_task(family: str, level: int, split: str = "train", lang: str = "en") -> None:
    """ConfigError, with the valid choices, for an unknown family, level, split or language."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown task family {family!r}; choose one of: {', '.join(FAMILIES)}")
    if level not in LEVELS or isinstance(level, bool):
        raise ConfigError(
            f"level {level!r} of {family!r} is out of range; choose one of: {', '.join(map(str, LEVELS))}"
        )
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if lang not in LANGS:
        raise ConfigError(f"unknown language {lang!r}; choose one of: {', '.join(LANGS)}")
    if split == "test" and (family, level) in TABLES:
        raise ConfigError(
            f"{family} level {level} is the single-digit table, all of it in the corpus: it has no test split; "
            "use level >= 2"
        )


def make_problem(family: str, level: int, rng: random.Random, split: str = "train", lang: str = "en") -> Problem:
    """One problem of the split asked for (others are drawn and thrown away). Arguments are not checked
    here (it is the inner loop of the corpus): call check_task first."""
    while True:
        p = _GENERATORS[family](rng, level, lang)
        if split_of(p) == split:
            return p


def generate(family: str, level: int, n: int, seed: int, split: str = "train", lang: str = "en") -> list[Problem]:
    """n problems (possibly repeating in small spaces), the same for the same arguments."""
    check_task(family, level, split, lang)
    rng = random.Random(f"{family}/{level}/{split}/{lang}/{seed}")
    return [make_problem(family, level, rng, split, lang) for _ in range(n)]


def _unique(draw: Callable[[], Problem], n: int) -> list[Problem]:
    """n problems with distinct keys."""
    out, seen = [], set()
    for _ in range(100 * n + 1000):
        if len(out) == n:
            return out
        p = draw()
        if (key := problem_key(p)) not in seen:
            seen.add(key)
            out.append(p)
    raise ConfigError(f"could only find {len(out)} distinct problems, not {n}; ask for fewer")


@dataclass(frozen=True)
class TaskMix:
    """A weighted mix of (family, level) pairs to sample problems from, e.g. the RL prompts."""

    parts: tuple[tuple[str, int, float], ...]  # (family, level, weight)
    zh: float = 0.0  # share of questions phrased in Chinese
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError("a task mix needs at least one (family, level, weight) part")
        for family, level, weight in self.parts:
            check_task(family, level)
            if not weight > 0:
                raise ConfigError(f"weight of {family}:{level} must be > 0, got {weight}")
        if not 0 <= self.zh <= 1:
            raise ConfigError(f"zh is a share in [0, 1], got {self.zh}")
        cum, total = [], 0.0
        for *_, weight in self.parts:
            total += weight
            cum.append(total)
        object.__setattr__(self, "_cum", tuple(cum))

    @classmethod
    def parse(cls, spec: str, zh: float = 0.0) -> TaskMix:
        """From "family:level:weight,...", where level may be a range: "add:2:4,mul:2:4,linear:1-2:1"."""
        parts = []
        for item in spec.split(","):
            try:
                family, levels, weight = item.strip().split(":")
                lo, _, hi = levels.partition("-")
                parts += [(family, level, float(weight)) for level in range(int(lo), int(hi or lo) + 1)]
            except ValueError:
                raise ConfigError(
                    f"bad task mix part {item!r}: write family:level:weight, e.g. add:2:1 or expr:1-3:0.5"
                ) from None
        return cls(tuple(parts), zh)

    def draw(self, rng: random.Random, split: str = "train") -> Problem:
        family, level, _ = rng.choices(self.parts, cum_weights=self._cum)[0]
        lang = "zh" if self.zh and rng.random() < self.zh else "en"
        if split == "test" and (family, level) in TABLES:
            check_task(family, level, split)  # raises
        return make_problem(family, level, rng, split, lang)

    def sample(self, rng: random.Random, n: int, split: str = "train") -> list[Problem]:
        """n problems of the split (RL prompts: split="train")."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        return [self.draw(rng, split) for _ in range(n)]


TASK_MIXES = {
    "smoke": TaskMix.parse("add:2:1,mul:2:1"),
    # the 2-core CPU R1-Zero run: problems a ~1M-parameter base solves some of the time
    "cpu": TaskMix.parse("add:2:0.45,mul:2:0.45,linear:1:0.1"),
    # train_r1.py's reasoning prompts on the CPU: the cpu mix and a few 3-digit operands. Fine-tuned on 2-digit
    # operands alone, a small model learns to cut every number to two digits ("911 * 5" -> "91 * 5"; docs/r1.md)
    "cpu_wide": TaskMix.parse("add:2:0.4,mul:2:0.4,linear:1:0.1,add:3:0.05,mul:3:0.05"),
    # a bigger model on a GPU: harder levels, multi-step expressions, equations, countdown
    "gpu": TaskMix.parse("add:3:1,add:4:0.5,mul:3:1,mul:4:1,expr:1-3:1,linear:2-4:1,countdown:1-2:1,countdown:3:0.5"),
    # the "aha" (2.2.4, Table 3): mostly countdown, a search where checking a try and backing off pays, and short
    # expressions
    "aha": TaskMix.parse("countdown:1:0.8,expr:1:0.1,expr:2:0.1"),
}


def get_mix(name_or_spec: str) -> TaskMix:
    """A TASK_MIXES preset by name, or a spec for TaskMix.parse."""
    if name_or_spec in TASK_MIXES:
        return TASK_MIXES[name_or_spec]
    if ":" not in name_or_spec:
        raise ConfigError(
            f"unknown task mix {name_or_spec!r}; choose one of: {', '.join(TASK_MIXES)}, "
            "or write family:level:weight,..."
        )
    return TaskMix.parse(name_or_spec)


def heldout(mix: TaskMix, n: int, seed: int = 0) -> list[Problem]:
    """n distinct problems from the test split of a mix: what its training could have seen but never did."""
    rng = random.Random(f"heldout/{seed}")
    return _unique(lambda: mix.draw(rng, "test"), n)


# Section 3 analogs: (family, level, count); fixed by the code, drawn from the test split.
BENCHMARKS = {
    "medium": (("add", 2, 35), ("mul", 2, 35), ("linear", 1, 15), ("add", 3, 5), ("mul", 3, 5), ("expr", 1, 5)),
    "hard": (
        ("add", 4, 5), ("mul", 3, 5), ("mul", 4, 10), ("expr", 2, 5), ("expr", 3, 5),
        ("linear", 3, 5), ("linear", 4, 5), ("countdown", 1, 5), ("countdown", 2, 5),
    ),
}  # fmt: skip


def benchmark(name: str) -> list[Problem]:
    """A fixed held-out set: "medium" (~MATH-500, 100 problems) or "hard" (~AIME, 50 problems)."""
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS)}")
    problems = []
    for family, level, n in BENCHMARKS[name]:
        rng = random.Random(f"benchmark/{name}/{family}/{level}")
        problems += _unique(lambda: make_problem(family, level, rng, "test"), n)  # noqa: B023 (used at once)
    return problems
