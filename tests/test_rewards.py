"""Rule-based rewards (r1mini/rewards.py): hand-worked cases, and a property test that every reward
returns a float in [0, 1], quickly, for any string (random, adversarial, huge). At the end: countdown
expressions where float64 would round to the other verdict, answers that need normalising, and eq. (3)'s
exact zero for a group of equal rewards whose float64 mean is not exact (what a reward feeds GRPO)."""

import ast
import operator
import random
import time
from fractions import Fraction

import pytest
import torch

from r1mini.engine.common import ConfigError
from r1mini.grpo import group_advantages
from r1mini.rewards import (
    REWARDS,
    accuracy_reward,
    count_words,
    countdown_reward,
    extract_answer,
    format_reward,
    format_reward_partial,
    language_consistency_reward,
    normalize_answer,
    total_reward,
)
from r1mini.toy.tasks import Problem

ADD = Problem("add", "What is 47 + 38?", "85")
NEG = Problem("add", "What is 12 - 15?", "-3")
FRAC = Problem("expr", "What is 3 / 2?", "3/2")
CD = Problem("countdown", "Use 2, 4, 6 to make 26.", "26", numbers=(2, 4, 6), target=26)
CD24 = Problem("countdown", "Use 1, 5, 5, 5 to make 24.", "24", numbers=(1, 5, 5, 5), target=24)
ZH = Problem("add", "47 加 38 等于多少？", "85", lang="zh")


def ans(a: str) -> str:
    return f" <think> working </think> <answer>{a}</answer>"


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    "text, problem, expected",
    [
        (ans(" 85 "), ADD, 1.0),
        (ans("84"), ADD, 0.0),
        (ans("+85"), ADD, 1.0),
        (ans("085"), ADD, 1.0),
        (ans("85."), ADD, 1.0),
        (ans("85.0"), ADD, 1.0),
        (ans("170/2"), ADD, 1.0),
        (ans("8 5"), ADD, 1.0),  # spaces are dropped
        (ans("-85"), ADD, 0.0),
        (ans("-3"), NEG, 1.0),
        (ans("- 3"), NEG, 1.0),
        (ans("3"), NEG, 0.0),
        (ans("-6/2"), NEG, 1.0),
        (ans("6/4"), FRAC, 1.0),
        (ans("1.5"), FRAC, 1.0),
        (ans("3 / 2"), FRAC, 1.0),
        (ans("1.50"), FRAC, 1.0),
        (ans("2/3"), FRAC, 0.0),
        (ans("3/2/1"), FRAC, 0.0),
        ("<answer> 85 </answer> <answer> 85 </answer>", ADD, 0.0),  # two answer blocks
        ("<answer> 85 <answer> 85 </answer>", ADD, 0.0),
        ("<answer>   </answer>", ADD, 0.0),  # empty
        ("<think> 47 + 38 = 85 </think> 85", ADD, 0.0),  # none
        ("</answer> 85 <answer>", ADD, 0.0),  # tags the wrong way round
        ("<answer> 85", ADD, 0.0),  # not closed
        ("<think> 84? no </think> <answer> 85 </answer> trailing chatter", ADD, 1.0),  # format is not accuracy
        (ans(r"\boxed{85}"), ADD, 0.0),  # boxed answers only where configured
    ],
)
def test_sec2_2_2_accuracy_hand_cases(text, problem, expected):
    assert accuracy_reward(text, problem) == expected


def test_sec2_2_2_accuracy_boxed():
    assert accuracy_reward(ans(r" \boxed{85} "), ADD, boxed=True) == 1.0
    assert accuracy_reward(r"so it is \boxed{ 6/4 }.", FRAC, boxed=True) == 1.0
    assert accuracy_reward(r"\boxed{85} or \boxed{84}", ADD, boxed=True) == 0.0
    assert accuracy_reward(r"\boxed{85", ADD, boxed=True) == 0.0
    assert accuracy_reward(r"\boxed{85}", ADD) == 0.0
    assert extract_answer(r"<answer> \boxed{\frac{3}{2}} </answer>", boxed=True) == r"\frac{3}{2}"
    assert REWARDS["accuracy_boxed"](r"\boxed{85}", ADD) == 1.0


def test_sec2_2_2_normalize_answer():
    assert normalize_answer("6/4") == normalize_answer("3/2") == normalize_answer("1.5") == "3/2"
    assert normalize_answer("-0") == normalize_answer("+0") == normalize_answer("0.000") == "0"
    assert normalize_answer("1/0") == "1/0"  # not a number: compared as text
    huge = "1" * 100_000
    t0 = time.perf_counter()
    assert normalize_answer(huge) == huge  # not parsed as a number
    assert time.perf_counter() - t0 < 0.05
    for a in ["7", "-3/2", " 12 . ", "x = 3", "abc..", "1.5"]:  # idempotent
        assert normalize_answer(normalize_answer(a)) == normalize_answer(a)


# ----------------------------------------------------------------------------- format


@pytest.mark.parametrize(
    "text, strict, partial",
    [
        (" <think> 2 + 2 = 4 </think> <answer> 4 </answer>", 1.0, 1.0),
        ("<think>\n2 + 2 = 4\n</think>\n<answer>4</answer>\n", 1.0, 1.0),
        ("Sure! <think> 2 + 2 = 4 </think> <answer> 4 </answer>", 0.0, 1.0),
        ("<think> 2 + 2 = 4 </think> <answer> 4 </answer> Bye.", 0.0, 1.0),
        ("<answer> 4 </answer> <think> 2 + 2 = 4 </think>", 0.0, 1.0),
        ("<think> 2 + 2 = 4 </think> 4", 0.0, 0.5),
        ("<think> 2 + 2 </think> <think> = 4 </think> <answer> 4 </answer>", 0.0, 0.5),
        ("<think> 2 + 2 = 4 <answer> 4 </answer>", 0.0, 0.75),
        ("4", 0.0, 0.0),
        ("", 0.0, 0.0),
    ],
)
def test_sec2_2_2_format_rewards(text, strict, partial):
    assert format_reward(text, ADD) == strict
    assert format_reward_partial(text, ADD) == partial


# ----------------------------------------------------------------------------- countdown


@pytest.mark.parametrize(
    "answer, problem, expected",
    [
        ("6 * 4 + 2", CD, 1.0),
        ("(4 * 6) + 2", CD, 1.0),
        ("2 + 6 * 4", CD, 1.0),
        ("6 × 4 + 2", CD, 1.0),
        ("6 * 4 + 2 = 26", CD, 1.0),
        ("6 * 4 + 2 = 27", CD, 0.0),
        ("6 * 4 + 2 = 26 = 26", CD, 0.0),
        ("6 * 4 - 2", CD, 0.0),  # wrong value
        ("6 * 4 + 2 + 0", CD, 0.0),  # extra number
        ("6 * 4 + 2 * 1", CD, 0.0),  # extra number
        ("6 * 4", CD, 0.0),  # missing number
        ("6 * 4 + 2 + 2 - 2", CD, 0.0),  # reused number
        ("26", CD, 0.0),
        ("5 * (5 - 1 / 5)", CD24, 1.0),  # exact fractions: 5 * 24/5
        ("(5 - 1 / 5) * 5", CD24, 1.0),
        ("5 * 5 - 1", CD24, 0.0),  # the right value, but a 5 is missing
        ("5 * (5 - 1 / 5) + 5 * 0", CD24, 0.0),
        ("5 * 5 - 5 / (1 - 1)", Problem("countdown", "", "0", numbers=(1, 1, 5, 5, 5), target=0), 0.0),  # div by 0
        ("(5 - 5) / 5 * 1", Problem("countdown", "", "0", numbers=(1, 5, 5, 5), target=0), 1.0),
        ("6 / (4 / 2)", Problem("countdown", "", "3", numbers=(2, 4, 6), target=3), 1.0),
        ("6 // 4 * 2", CD, 0.0),
        ("6.0 * 4 + 2", CD, 0.0),  # floats
        ("6 * 4 + -(-2)", CD, 0.0),  # unary signs are not allowed
        ("-2 + 6 * 4 + 2 + 2", CD, 0.0),
        ("True * 6 * 4 + 2", CD, 0.0),
        ("0x6 * 4 + 2", CD, 0.0),
        ("6 * 4 + 2 ** 1", CD, 0.0),
        ("9**9**9", CD, 0.0),
        ("__import__('os').system('echo hi')", CD, 0.0),
        ("(lambda: 26)()", CD, 0.0),
        ("", CD, 0.0),
    ],
)
def test_sec2_2_2_countdown_hand_cases(answer, problem, expected):
    assert countdown_reward(ans(answer), problem) == expected
    assert accuracy_reward(ans(answer), problem) == expected  # accuracy delegates for countdown


def _random_expression(rng: random.Random, numbers: list[int]) -> tuple[str, Fraction | None]:
    """A random fully parenthesised expression using each number once, and its exact value (None: division by 0)."""
    if len(numbers) == 1:
        return str(numbers[0]), Fraction(numbers[0])
    cut = rng.randrange(1, len(numbers))
    (a, va), (b, vb) = _random_expression(rng, numbers[:cut]), _random_expression(rng, numbers[cut:])
    op = rng.choice("+-*/")
    text = f"({a}{' ' * rng.randint(0, 1)}{op} {b})"
    if va is None or vb is None or (op == "/" and vb == 0):
        return text, None
    return text, va + vb if op == "+" else va - vb if op == "-" else va * vb if op == "*" else va / vb


def test_sec2_2_2_countdown_random_expressions():
    rng, hits = random.Random(0), 0
    for _ in range(300):
        numbers = [rng.randint(1, 12) for _ in range(rng.randint(2, 5))]
        rng.shuffle(numbers)
        expr, value = _random_expression(rng, numbers)
        target = int(value) if value is not None and value.denominator == 1 else 7
        p = Problem("countdown", "", str(target), numbers=tuple(sorted(numbers)), target=target)
        assert countdown_reward(ans(expr), p) == float(value == target), expr
        hits += value == target
        if value == target:
            assert countdown_reward(ans(f"{expr} + {numbers[0]}"), p) == 0.0  # a number used twice
            assert countdown_reward(ans(f"{expr} * 1"), p) == 0.0  # an extra number
    assert hits > 200  # most expressions have an integer value: the positive case is well exercised


# ----------------------------------------------------------------------------- language consistency


@pytest.mark.parametrize(
    "text, lang, expected",
    [
        ("<think> seven plus eight is fifteen </think> <answer> 15 </answer>", "en", 1.0),
        ("<think> seven plus eight is fifteen </think> <answer> 15 </answer>", "zh", 0.0),
        ("<think> 七加八等于十五 </think>", "zh", 1.0),
        ("<think> 个位 7 + 8 = 15, carry one </think>", "zh", 0.5),  # 2 ideographs, 2 English words
        ("<think> 个位 7 + 8 = 15, carry one </think>", "en", 0.5),
        ("<think> 进位 so x = 1 </think>", "zh", 2 / 3),  # "x" is not a word
        ("<think> 47 + 38 = 85 </think> <answer> 85 </answer>", "zh", 1.0),  # no words: no mixing
        ("<think></think> <answer> eighty five 八十五 </answer>", "en", 1.0),  # the answer is not the CoT
        ("so 七 + 八 is 十五 <answer> 15 </answer>", "en", 1 / 3),  # no think block: text before <answer>
        ("|special_token| 七加八 is fifteen |special_token| 15", "zh", 3 / 5),  # R1 format
    ],
)
def test_sec2_3_2_language_consistency(text, lang, expected):
    p = Problem("add", "q", "15", lang=lang)
    assert language_consistency_reward(text, p) == pytest.approx(expected)


def test_sec2_3_2_count_words_ignores_tags():
    assert count_words("<think></think><answer></answer>|special_token|") == {"en": 0, "zh": 0}
    assert count_words("a b c 1 2 3 + - xy 中文") == {"en": 1, "zh": 2}


# ----------------------------------------------------------------------------- total


def test_sec2_2_2_total_reward():
    o = " <think> 七 plus eight </think> <answer> 85 </answer>"
    total, parts = total_reward(o, ZH, {"accuracy": 1.0, "format": 0.5, "language": 2.0})
    assert parts == {"accuracy": 1.0, "format": 1.0, "language": pytest.approx(1 / 3)}
    assert total == pytest.approx(1.0 + 0.5 + 2.0 / 3)
    with pytest.raises(ConfigError, match="unknown reward"):
        total_reward(o, ZH, {"acuracy": 1.0})


# ----------------------------------------------------------------------------- property: total and fast

PIECES = ["<think>", "</think>", "<answer>", "</answer>", "|special_token|", "\\boxed{", "{", "}", "(", ")", "+", "-",
          "*", "/", "**", "//", "=", ".", " ", "\n", "0", "2", "4", "6", "85", "-3", "3/2", "1e9", "x", "七", "加",
          "lambda", "__import__", "'os'", ".system", "True", "wait,", "\x00", "\udcff", "\U0001F600"]  # fmt: skip

ADVERSARIAL = [
    "", "<answer>", "</answer>", "<answer></answer>", "<answer>9**9**9</answer>", "<answer>9 ** 9 ** 9 ** 9</answer>",
    "<answer>__import__('os').system('x')</answer>", "<answer>(lambda: 1)()</answer>", "<answer>().__class__</answer>",
    "<answer>" + "(" * 100_000 + "1" + ")" * 100_000 + "</answer>",
    "<answer>" + "(" * 99 + "2" + ")" * 99 + "</answer>", "<answer>" + "-" * 150 + "2</answer>",
    "<answer>" + "1" * 100_000 + "</answer>", "<answer>" + "9" * 199 + "</answer>",
    "<answer>" + "9" * 5000 + "/" + "7" * 5000 + "</answer>", "<answer>1e999999999</answer>", "<answer>1_000</answer>",
    "<answer>" + "+".join(["2"] * 100) + "</answer>", "<answer>" + "{" * 100_000 + "</answer>", "\\boxed{" * 30_000,
    "x" * 100_000, "<think>" + "中a " * 33_000 + "</think>", "<answer>" * 20_000, "<think></think>" * 7000,
    "|special_token|" * 7000, "<answer>\x00</answer>", "<answer>2 +\n 4</answer>", "<answer>6 × 4 ÷ 2 = 12</answer>",
]  # fmt: skip

PROBLEMS = [ADD, NEG, FRAC, CD, CD24, ZH]


def random_strings(n: int, seed: int = 0):
    rng = random.Random(seed)
    for i in range(n):
        kind = i % 4
        if kind == 0:  # random unicode (including surrogates and control characters)
            yield "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(60)))
        elif kind == 1:  # random mixes of tags, digits, operators and code
            yield "".join(rng.choice(PIECES) for _ in range(rng.randrange(40)))
        elif kind == 2:  # the same, inside the answer block of a well-formed response
            body = "".join(rng.choice(PIECES[5:]) for _ in range(rng.randrange(30)))
            yield f" <think> {body} </think> <answer> {body} </answer>"
        else:  # arithmetic that gets past the character filter, so that it is parsed
            body = "".join(rng.choice("2460()+-*/ ") for _ in range(rng.randrange(1, 30)))
            yield f"<answer>{body}</answer>"


def test_sec2_2_2_every_reward_is_total_and_fast():
    slowest = (0.0, "", "")
    for text in ADVERSARIAL + list(random_strings(8000)):
        for name, fn in REWARDS.items():
            for p in PROBLEMS:
                t0 = time.perf_counter()
                v = fn(text, p)
                dt = time.perf_counter() - t0
                assert type(v) is float and 0.0 <= v <= 1.0, (name, text[:80], v)
                if dt > slowest[0]:
                    dt = min(dt, *(_timed(fn, text, p) for _ in range(2)))  # ignore a scheduler hiccup
                    slowest = max(slowest, (dt, name, text[:40]))
    assert slowest[0] < 0.05, f"slowest reward call: {slowest}"


def _timed(fn, text, p) -> float:
    t0 = time.perf_counter()
    fn(text, p)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- exact arithmetic, normalising, eq. (3)


def _float_eval(text: str) -> float:
    """The same expression in float64 (the tests' own walker, over our trusted literals): what a checker that
    used float instead of Fraction would compute."""
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def walk(node):
        if isinstance(node, ast.Constant):
            return float(node.value)
        return ops[type(node.op)](walk(node.left), walk(node.right))

    return walk(ast.parse(text, mode="eval").body)


# Found by brute force over every expression of the numbers (Fraction vs float): the exact value is the target,
# the float64 one is 1 ulp or more off (so a float checker says 0), or the other way round.
FLOAT_TRAPS = [
    ("3 * (3 / (9 / 7))", (3, 3, 7, 9), 7, 1.0),  # float: 6.999999999999999
    ("(1 - 3 / 9) * 9", (1, 3, 9, 9), 6, 1.0),  # float: 6.000000000000001
    ("3 / (1 - 7 / 10)", (1, 3, 7, 10), 10, 1.0),  # float: 9.999999999999998
    ("10 * (1 / 10 * 3)", (1, 3, 10, 10), 3, 1.0),  # float: 3.0000000000000004
    ("7 * (10 / 3) * 9", (3, 7, 9, 10), 210, 1.0),  # float: 210.00000000000003
    ("(1 / 3 + 9 - 9) * 3", (1, 3, 3, 9, 9), 1, 1.0),  # cancellation; float: 1.0000000000000018
    ("9007199254740993 - 9007199254740992", (9007199254740992, 9007199254740993), 1, 1.0),  # 2**53 + 1: float 0
    ("9007199254740993 - 9007199254740992", (9007199254740992, 9007199254740993), 0, 0.0),  # float says 0 == 0
    ("1 + 1 / 100000000000000000", (1, 1, 10**17), 1, 0.0),  # float: 1.0 exactly; exact: 1 + 1e-17
]


@pytest.mark.parametrize("expr, numbers, target, expected", FLOAT_TRAPS)
def test_sec2_2_2_countdown_is_exact_where_float_rounds_the_other_way(expr, numbers, target, expected):
    assert (_float_eval(expr) == target) != bool(expected)  # the premise: float64 gives the other verdict
    p = Problem("countdown", "", str(target), numbers=numbers, target=target)
    assert countdown_reward(ans(expr), p) == expected
    assert countdown_reward(ans(f"{expr} = {target}"), p) == expected


@pytest.mark.parametrize(
    "answer, truth, expected",
    [
        ("085", "85", 1.0),
        ("85.", "85", 1.0),
        ("85。", "85", 1.0),  # Chinese full stop
        ("85 。", "85", 1.0),
        ("8 5 .", "85", 1.0),
        ("0085.000", "85", 1.0),
        ("1.50", "3/2", 1.0),
        ("3/2", "1.50", 1.0),  # the reference answer is normalised too
        ("-1.50", "-3/2", 1.0),
        ("0.5", "2/4", 1.0),
        (" -0 ", "0", 1.0),
        ("+0.0", "-0", 1.0),
        ("0/7", "0", 1.0),
        ("-0.5", "1/2", 0.0),  # the sign is kept
        ("85,", "85", 0.0),  # only periods are dropped
        ("8.5", "85", 0.0),
        ("1.5e0", "3/2", 0.0),  # exponents are text, not numbers
        ("0x55", "85", 0.0),
    ],
)
def test_sec2_2_2_accuracy_normalises_numbers_on_both_sides(answer, truth, expected):
    assert accuracy_reward(ans(answer), Problem("add", "q", truth)) == expected
    assert (normalize_answer(answer) == normalize_answer(truth)) == bool(expected)


def test_eq3_equal_rewards_give_exactly_zero_where_the_float64_mean_leaves_a_residue():
    """Eq. (3) on G equal rewards: A = 0 exactly. For these values the float64 mean of the group is not the value
    itself, so a naive (r - mean) / (std + eps) gives small non-zero advantages, and a check on std > 0 (std is
    ~1e-17, not 0) gives advantages of order 1: the update would push on pure rounding noise."""
    groups = [[0.1] * 3, [0.7] * 6, [1 / 3] * 9, [0.3] * 13, [1.1] * 7]
    for row in groups:
        r = torch.tensor([row], dtype=torch.float64)
        assert r.mean().item() != row[0] and r.std().item() > 0  # the premise: a residue, a non-zero std
        naive = (r - r.mean()) / (r.std() + 1e-8)
        assert (naive != 0).any()
        assert ((r - r.mean()) / r.std()).abs().max() > 0.5  # std > 0 taken as "the group has spread"
        assert torch.equal(group_advantages(r), torch.zeros(1, len(row))), "eq. (3): equal rewards give exactly 0"
        assert torch.equal(group_advantages(r, scale_std=False), torch.zeros(1, len(row))), "eq. (3), centred only"
    mixed = torch.tensor([[0.1, 0.1, 0.1, 0.2]], dtype=torch.float64)  # spread: one differs, A is not 0
    assert group_advantages(mixed).tolist()[0] == pytest.approx([-0.5, -0.5, -0.5, 1.5]), "eq. (3) by hand"
